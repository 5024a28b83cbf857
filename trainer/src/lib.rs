//! neuroloop-trainer: everything neuroloop does on the host.
//!
//! * [`data`] reads spike data and behaviour labels and bins them;
//! * [`simulate`] writes simulated sessions with known ground truth;
//! * [`export`] quantises f32 models into the `.nlm` model file read by `neuroloop-core`;
//! * [`cli`] holds one module per `neuroloop` subcommand.

pub mod cli;
pub mod data;
