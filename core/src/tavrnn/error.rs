//! Why a TAVRNN window step was refused.

use core::fmt;

/// Why a window step was refused. The recurrent state is left untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TavrnnError {
    /// The window graph does not have the model's nodes (neurons plus the history node).
    Graph {
        /// Nodes the model expects (`neurons + 1`).
        expected: usize,
        /// Nodes of the graph.
        got: usize,
        /// Whether the graph has the history node (the model needs it).
        history_node: bool,
    },
    /// The scratch buffer is shorter than [`scratch_len`](super::scratch_len) of the model.
    Scratch {
        /// Elements needed.
        needed: usize,
        /// Elements given.
        got: usize,
    },
}

impl fmt::Display for TavrnnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TavrnnError::Graph {
                expected,
                got,
                history_node,
            } => write!(
                f,
                "window graph has {got} nodes (history node: {history_node}), the model needs \
                 {expected} with the history node"
            ),
            TavrnnError::Scratch { needed, got } => {
                write!(
                    f,
                    "scratch buffer has {got} elements, the step needs {needed}"
                )
            }
        }
    }
}

/// Lets hosts carry the error in `Box<dyn Error>` / `anyhow` chains.
impl core::error::Error for TavrnnError {}
