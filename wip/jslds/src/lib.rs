//! JSLDS prototype (would become `trainer/src/jslds/mod.rs`): a GRU state estimator co-trained
//! with the switching linear system made of its own Jacobians at K learned expansion points.

pub mod fold;
pub mod gru;
pub mod input;
pub mod jacobian;
pub mod loss;
pub mod model;
pub mod train;

/// Synthetic 3-bit flip-flop session, for the prototype's own training run only.
pub mod flipflop;

#[cfg(test)]
mod tests;
