//! neuroloop-core: the device half of neuroloop.
//!
//! `no_std`, no allocator, no panics on any input, and no `unsafe` outside the Cortex-M4
//! assembly kernels of [`kernels`] (compiled only for that target, each with a portable twin
//! that gives the same values). It holds
//!
//! * [`format`]: the model file (header + postcard body borrowed zero-copy from flash);
//! * [`estimator`]: the switching-linear state estimator in fixed point, and its f32 reference;
//! * [`graph`]: the streaming functional-connectivity graph encoder (sums, correlation, graph);
//! * [`tavrnn`]: one TAVRNN step per window on that graph (fixed point and f32 reference);
//! * [`kernels`]: the integer kernels of the estimator and the TAVRNN step (dense rows,
//!   propagation), with Cortex-M4 DSP assembly for the step's;
//! * [`fixed`]: requantisation (Q31 multiplier + shift, round half up) and saturation;
//! * [`lut`]: sigmoid, tanh and exp lookup tables with linear interpolation;
//! * [`crc32`]: the checksum of the file format and of state trajectories.
//!
//! The same input gives the same bits on x86 and on a Cortex-M4: the hot path is integer only.
#![no_std]
// No `unsafe` anywhere but in the Cortex-M4 DSP kernels (`core::arch` assembly), which
// exist only on that target, each behind `#[allow(unsafe_code)]` with its safety argument
// and a portable twin giving the same values: `forbid` on every other target, `deny` there.
#![cfg_attr(
    not(all(target_arch = "arm", target_feature = "dsp")),
    forbid(unsafe_code)
)]
#![cfg_attr(all(target_arch = "arm", target_feature = "dsp"), deny(unsafe_code))]
#![warn(missing_docs)]

// Unit tests run on the host with the standard library; the crate itself never links it.
#[cfg(test)]
#[macro_use]
extern crate std;

pub mod blob;
pub mod crc32;
pub mod estimator;
pub mod fixed;
pub mod format;
pub mod graph;
pub mod kernels;
pub mod lut;
pub mod tavrnn;

pub use estimator::{Estimator, ReferenceEstimator, StepError, StepOutput};
pub use fixed::Requant;
pub use format::{
    encode_model, encode_model_with, JsldsReference, JsldsSection, Meta, Model, ModelBody,
    ModelError, QLayer, QMatrix, Selection, TavrnnSection, WeightType,
};
pub use graph::{
    ConnectivityError, GraphSettings, StreamingConnectivity, WindowCorrelation, WindowGraph,
};
