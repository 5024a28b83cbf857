//! Hardware-independent part of the neuroloop firmware example.
//!
//! Everything here is generic over embedded-hal 1.0 traits and compiles (and is tested) on the
//! host as well as on `thumbv7em-none-eabihf`:
//!
//! * [`rhd2000`]: an RHD2000-style acquisition driver on a `SpiDevice<u16>`, with the chip's
//!   two-command result latency modelled explicitly;
//! * [`spikes`]: threshold-crossing spike detection with a dead time, and binning;
//! * [`source`]: the [`source::CountSource`] trait, the live front-end source and the replay
//!   source that stands in for it under QEMU;
//! * [`app`]: the loop that steps `neuroloop_core::Estimator` once a bin and toggles a trigger
//!   pin when the reported regime changes, and (with a TAVRNN section) feeds the window half;
//! * [`windows`]: the graph encoder every bin and one TAVRNN step every window, sharing one
//!   block of RAM between the window's sums, its correlations and the step's scratch;
//! * [`stats`]: what the firmware prints (run-length regime sequences, step-cost statistics,
//!   multiply-accumulates per estimator step and per TAVRNN window step).
//!
//! The bare-metal binary (`src/main.rs`) adds only the Cortex-M specifics: start-up, SysTick,
//! semihosting, the LED used as trigger pin, and the model and counts embedded at build time.
#![no_std]
#![forbid(unsafe_code)]
// The bare-metal build (Debian's rustc with RUSTC_BOOTSTRAP=1, see scripts/firmware.sh)
// compiles the once-a-window code for size; the host build stays on stable Rust.
#![cfg_attr(target_os = "none", feature(optimize_attribute))]

#[cfg(test)]
extern crate std;

pub mod app;
pub mod rhd2000;
pub mod source;
pub mod spikes;
pub mod stats;
pub mod windows;
