//! TAVRNN (DESIGN.md § TAVRNN): a variational graph recurrent network with temporal attention
//! over functional-connectivity graphs, its VGRNN ablation (`attention: false`, one switch),
//! window embeddings, and their evaluation against behaviour next to baselines.
//!
//! Model pieces, one concept a file: [`gcn`], [`encoder`], [`prior`], [`graph_gru`],
//! [`attention`], [`decoder`], [`loss`], assembled in [`model`]. [`input`] turns a
//! [`crate::graph::GraphSequence`] into batched step tensors, [`session`] reads a recording
//! into one, [`train`] trains (with [`clip`]: global-norm clipping) and [`checkpoint`] saves
//! and resumes, [`embed`] reads window embeddings out (posterior mean, node-ordered),
//! [`eval`] scores them with [`baselines`] next to them in a [`report`] with [`plots`], and
//! [`mod@weights`] hands every parameter out as plain f32 with a plain-Rust reference forward
//! for the device implementation.
//!
//! Fixed defects of the reference notebook: every weight is trained (its GRU gate weights
//! were never given to the optimiser), gradients are clipped (global norm), the attention
//! window is applied, and embeddings are the posterior mean, not a sample.

pub mod attention;
pub mod backend;
pub mod baselines;
pub mod checkpoint;
pub mod clip;
pub mod decoder;
pub mod embed;
pub mod encoder;
pub mod eval;
pub mod gcn;
pub mod graph_gru;
pub mod input;
pub mod loss;
pub mod model;
pub mod plots;
pub mod prior;
pub mod report;
pub mod session;
pub mod train;
pub mod weights;

#[cfg(test)]
mod tests;

pub use backend::Backend;
pub use model::{Tavrnn, TavrnnConfig};
pub use train::{TrainConfig, TrainError, Trainer};
pub use weights::{weights, TavrnnWeights};
