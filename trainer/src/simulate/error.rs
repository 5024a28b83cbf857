//! Errors of the simulator: options a scenario cannot honour, and files that cannot be written.

use std::path::PathBuf;

/// Why a simulation could not run or its session could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An option is out of the range the scenario supports.
    #[error("scenario `{scenario}`: option {option} = {value} is invalid: {reason}")]
    Option {
        /// Scenario name as given on the command line.
        scenario: &'static str,
        /// Option name as given on the command line (`--neurons`, ...).
        option: &'static str,
        /// The rejected value, as text.
        value: String,
        /// What the scenario needs instead.
        reason: String,
    },
    /// A file or folder of the session could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file or folder that failed.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A dependency of a scenario (another module of the trainer) failed.
    #[error("scenario `{scenario}`: {message}")]
    Scenario {
        /// Scenario name.
        scenario: &'static str,
        /// What went wrong.
        message: String,
    },
}
