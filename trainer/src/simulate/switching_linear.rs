//! `switching-linear`: a switching linear system of [`crate::slds`], its counts and spikes.

use indicatif::ProgressBar;

use super::{Resolved, Session, SimError};

/// Simulates the `switching-linear` scenario.
pub fn simulate(_res: &Resolved, _progress: &ProgressBar) -> Result<Session, SimError> {
    Err(SimError::Scenario {
        scenario: "switching-linear",
        message: "not available in this build: it needs `slds::simulate`, which has not landed"
            .into(),
    })
}
