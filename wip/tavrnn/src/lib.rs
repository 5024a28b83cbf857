//! TAVRNN prototype (would become `trainer/src/tavrnn/mod.rs`): a variational graph RNN with
//! temporal attention over functional-connectivity graphs (DESIGN.md § TAVRNN), its VGRNN
//! ablation (`attention: false`), window embeddings, and their evaluation against behaviour.
//!
//! Model pieces are separate, swappable modules (lfads-torch style): [`gcn`], [`encoder`],
//! [`prior`], [`graph_gru`], [`attention`], [`decoder`], [`loss`], assembled in [`model`],
//! trained by [`train`], read out by [`embed`], scored by [`eval`] against [`baselines`].

pub mod attention;
pub mod baselines;
pub mod decoder;
pub mod embed;
pub mod encoder;
pub mod eval;
pub mod gcn;
pub mod graph_gru;
pub mod input;
pub mod loss;
pub mod model;
pub mod prior;
pub mod train;

#[cfg(test)]
mod tests;
