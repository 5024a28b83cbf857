//! JSLDS: a GRU state estimator co-trained with the parameter-tied switching linear system
//! built from its own Jacobians (DESIGN.md § JSLDS).
//!
//! [`analysis_inputs`] is the interface to the analysis: plain numbers read from a checkpoint.

pub mod analysis_inputs;
mod inputs_for_analysis;

pub use analysis_inputs::{
    AnalysisInputs, EvalPoint, HeldOut, RegimeLinearisation, TrainingCurves,
};
pub use inputs_for_analysis::analysis_inputs;
