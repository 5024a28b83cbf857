//! Errors of graph construction.

/// What went wrong while building graphs. The message names the field or the input and the
/// problem, so that a wrong command-line value can be fixed without reading the code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// A configuration value is out of range (`field` is the name in [`super::GraphConfig`]).
    #[error("graph config: `{field}` {problem}")]
    Config {
        /// Name of the configuration field.
        field: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
    /// The counts are malformed (`field` is the name in [`crate::data::Counts`]).
    #[error("counts: `{field}` {problem}")]
    Counts {
        /// Name of the field of the counts.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// The recording holds fewer bins than one window.
    #[error(
        "counts: {n_bins} bins are fewer than one window of {window_bins} bins; \
         shorten the window or bring a longer recording"
    )]
    TooShort {
        /// Bins in the recording.
        n_bins: usize,
        /// Bins in one window.
        window_bins: usize,
    },
    /// A row pushed into [`super::WindowSums`] has the wrong number of units.
    #[error("window sums: a row of {got} counts was pushed into sums of {expected} units")]
    RowLength {
        /// Units the sums were made for.
        expected: usize,
        /// Counts in the row.
        got: usize,
    },
    /// More bins were pushed into one [`super::WindowSums`] than the exact arithmetic allows.
    #[error("window sums: more than {max} bins in one window (exact integer sums would overflow)")]
    WindowTooLong {
        /// The largest number of bins one window may hold.
        max: u64,
    },
}
