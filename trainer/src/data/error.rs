//! The one error type of every reader.
//!
//! Each variant names the file (or says that the input came from memory), the field inside it
//! (a dataset, a column, a key) and what was wrong, so that a user can fix the file without
//! reading the source. Variants are typed so that tests and callers can tell the problems apart.

use std::io;
use std::path::PathBuf;

/// What went wrong while reading or binning spike data or labels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file or folder could not be opened or read (missing, permissions, I/O).
    #[error("{}: {field}: cannot read: {source}", .path.display())]
    Io {
        /// File or folder.
        path: PathBuf,
        /// What was being read (the file itself, or a member of a folder).
        field: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The bytes are not a well-formed file of the expected format.
    #[error("{}: {field}: malformed: {problem}", .path.display())]
    Malformed {
        /// File.
        path: PathBuf,
        /// Part of the file (header, dataset, line, key).
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The element type is not one the reader accepts.
    #[error("{}: {field}: wrong dtype {found}, expected {expected}", .path.display())]
    Dtype {
        /// File.
        path: PathBuf,
        /// Array or dataset.
        field: String,
        /// Type found in the file.
        found: String,
        /// Types the reader accepts.
        expected: String,
    },
    /// Array dimensions are wrong or disagree with each other.
    #[error("{}: {field}: wrong shape: {problem}", .path.display())]
    Shape {
        /// File.
        path: PathBuf,
        /// Array or dataset.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// Times that must be non-decreasing are not.
    #[error(
        "{}: {field}: not sorted: element {index} ({value}) is smaller than element {} ({previous})",
        .path.display(), .index - 1
    )]
    Unsorted {
        /// File.
        path: PathBuf,
        /// Array, dataset or unit.
        field: String,
        /// Index of the first element smaller than its predecessor (at least 1).
        index: usize,
        /// That element.
        value: String,
        /// Its predecessor.
        previous: String,
    },
    /// A time or count is negative.
    #[error("{}: {field}: element {index} is negative ({value})", .path.display())]
    Negative {
        /// File.
        path: PathBuf,
        /// Array, dataset, column or unit.
        field: String,
        /// Index of the first negative element.
        index: usize,
        /// Its value.
        value: String,
    },
    /// A value is NaN or infinite.
    #[error("{}: {field}: element {index} is not finite ({value})", .path.display())]
    NotFinite {
        /// File.
        path: PathBuf,
        /// Array, dataset, column or unit.
        field: String,
        /// Index of the first such element.
        index: usize,
        /// Its value.
        value: String,
    },
    /// Nothing to read: no spikes, no units, no bins, a unit without spikes.
    #[error("{}: {field}: empty: {problem}", .path.display())]
    Empty {
        /// File.
        path: PathBuf,
        /// Array, dataset or unit.
        field: String,
        /// What is empty and why that is a problem.
        problem: String,
    },
    /// A value is out of its allowed range or contradicts another one (non-integer count,
    /// overlapping intervals, end before start, unknown unit id, bad sample rate, ...).
    #[error("{}: {field}: {problem}", .path.display())]
    Invalid {
        /// File.
        path: PathBuf,
        /// Field.
        field: String,
        /// What is wrong.
        problem: String,
    },
    /// The file uses a feature of its format that this reader does not implement.
    #[error("{}: {field}: unsupported: {problem}", .path.display())]
    Unsupported {
        /// File.
        path: PathBuf,
        /// Field.
        field: String,
        /// The feature.
        problem: String,
    },
    /// An argument given in memory (an option, a [`crate::data::SpikeTrains`]) is invalid.
    #[error("{field}: {problem}")]
    Argument {
        /// Option or field.
        field: String,
        /// What is wrong.
        problem: String,
    },
}

impl DataError {
    /// Shorthand for [`DataError::Io`].
    pub(crate) fn io(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        source: io::Error,
    ) -> Self {
        DataError::Io {
            path: path.into(),
            field: field.into(),
            source,
        }
    }

    /// Shorthand for [`DataError::Malformed`].
    pub(crate) fn malformed(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Malformed {
            path: path.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`DataError::Shape`].
    pub(crate) fn shape(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Shape {
            path: path.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`DataError::Empty`].
    pub(crate) fn empty(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Empty {
            path: path.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`DataError::Invalid`].
    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Invalid {
            path: path.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`DataError::Unsupported`].
    pub(crate) fn unsupported(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        problem: impl Into<String>,
    ) -> Self {
        DataError::Unsupported {
            path: path.into(),
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Shorthand for [`DataError::Argument`].
    pub(crate) fn argument(field: impl Into<String>, problem: impl Into<String>) -> Self {
        DataError::Argument {
            field: field.into(),
            problem: problem.into(),
        }
    }
}
