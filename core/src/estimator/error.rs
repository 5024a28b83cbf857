//! Per-step results and errors.

use core::fmt;

/// What one estimator step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepOutput {
    /// Regime `k_t` selected from the previous state and used for this bin's update.
    pub regime: u8,
    /// Regime reported after hysteresis.
    pub reported: u8,
    /// `true` when `reported` changed in this bin (the moment to fire a trigger).
    pub changed: bool,
}

/// Why a step (or a readout) was refused. The state is left untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepError {
    /// The count vector does not have one entry per neuron.
    CountLength {
        /// Neurons in the model.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// The output buffer of a readout is shorter than the neuron count.
    OutputLength {
        /// Entries needed.
        expected: usize,
        /// Entries given.
        got: usize,
    },
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            StepError::CountLength { expected, got } => write!(
                f,
                "count vector has {got} entries, the model has {expected} neurons"
            ),
            StepError::OutputLength { expected, got } => write!(
                f,
                "output buffer has {got} entries, the model has {expected} neurons"
            ),
        }
    }
}

/// Lets hosts carry the error in `Box<dyn Error>` / `anyhow` chains; `core::error::Error`
/// needs no allocator, so the device build is unaffected.
impl core::error::Error for StepError {}
