//! Errors of the streaming graph encoder.

use core::fmt;

/// Why an operation of the graph encoder was refused. The state is left untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectivityError {
    /// The window already holds [`super::MAX_WINDOW_BINS`] bins (or merging would exceed
    /// it): one more could overflow the `u32` sums.
    WindowFull {
        /// The largest number of bins a window may hold.
        max: u32,
    },
    /// A count vector or an output buffer has the wrong length.
    Length {
        /// What the slice is.
        what: &'static str,
        /// Entries needed.
        expected: usize,
        /// Entries given.
        got: usize,
    },
    /// A setting is out of range.
    Setting {
        /// The setting.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The sums hold a window's correlations
    /// ([`StreamingConnectivity::correlate_in_place`](super::StreamingConnectivity::correlate_in_place)),
    /// or (for building a graph from them) do not yet: `reset` starts the next window.
    Correlated,
    /// A node index is not below the graph's node count.
    Node {
        /// The index given.
        index: usize,
        /// Nodes in the graph.
        nodes: usize,
    },
}

impl fmt::Display for ConnectivityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConnectivityError::WindowFull { max } => {
                write!(f, "the window already holds the maximum of {max} bins")
            }
            ConnectivityError::Length {
                what,
                expected,
                got,
            } => write!(f, "{what} has {got} entries, {expected} expected"),
            ConnectivityError::Setting { field, problem } => write!(f, "{field} {problem}"),
            ConnectivityError::Correlated => write!(
                f,
                "the sums hold a window's correlations (reset them for the next window), or a \
                 graph was asked of sums not yet correlated"
            ),
            ConnectivityError::Node { index, nodes } => {
                write!(
                    f,
                    "node {index} does not exist: the graph has {nodes} nodes"
                )
            }
        }
    }
}

/// Lets hosts carry the error in `Box<dyn Error>` / `anyhow` chains; `core::error::Error`
/// needs no allocator.
impl core::error::Error for ConnectivityError {}
