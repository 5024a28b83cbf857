//! neuroloop-trainer: everything neuroloop does on the host.
//!
//! * [`data`] reads spike data and behaviour labels and bins them;
//! * [`graph`] builds functional-connectivity graphs from binned counts;
//! * [`simulate`] writes simulated sessions with known ground truth;
//! * [`slds`] holds switching linear systems in f32, the form the device runs;
//! * [`jslds`] trains and analyses the JSLDS state estimator (Burn);
//! * [`tavrnn`] trains and evaluates the TAVRNN connectivity model (Burn);
//! * [`export`] quantises f32 models into the `.nlm` model file read by `neuroloop-core`;
//! * [`cli`] holds one module per `neuroloop` subcommand.

pub mod burn_rng;
pub mod cli;
pub mod data;
pub mod export;
pub mod graph;
pub mod jslds;
pub mod sidecar;
pub mod simulate;
pub mod slds;
pub mod tavrnn;
