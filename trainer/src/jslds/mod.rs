//! JSLDS: a GRU state estimator co-trained with the parameter-tied switching linear system
//! built from its own Jacobians (DESIGN.md § JSLDS).
//!
//! * [`gru`]: the hand-written GRU cell; [`jacobian`]: its closed-form Jacobians at K points
//!   (Burn's autodiff is first-order only, so J_h and J_u are tensor operations that one
//!   backward pass differentiates); [`model`]: both paths side by side; [`loss`]: the four-part
//!   loss;
//! * [`input`]: the count transform; [`session`]: the prepared data and the streams of
//!   stateful truncated backpropagation; [`train`]: the loop; [`eval`]: held-out rollouts;
//!   [`checkpoint`]: burnpack + JSON sidecar, exact resume, the model selected on the
//!   validation split;
//! * [`fold`]: the trained model as the device's [`crate::slds::SwitchingLinear`];
//! * [`analysis_inputs()`]: the plain numbers the analysis reads from a checkpoint
//!   ([`AnalysisInputs`]).

pub mod analysis;
pub mod analysis_inputs;
pub mod attractors;
pub mod checkpoint;
pub mod config;
pub mod eval;
pub mod fold;
pub mod gru;
pub mod input;
mod inputs_for_analysis;
pub mod jacobian;
pub mod loss;
pub mod model;
pub mod session;
pub mod train;

pub use analysis_inputs::{
    AnalysisInputs, AttractorInput, EvalPoint, GateWeights, HeldOut, RegimeLinearisation,
    TrainingCurves,
};
pub use config::{Anchor, Backend, SelectionKind, TrainConfig};
pub use inputs_for_analysis::{
    analysis_inputs, load_training_data, session_regimes, SessionRegimes,
};

#[cfg(test)]
mod tests;
#[cfg(test)]
mod validation_tests;
