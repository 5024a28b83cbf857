//! A recording made ready for the model: counts read through the trainer's readers, graphs
//! built by [`crate::graph::GraphSequence`], and the per-window tensors' source data.

use std::path::Path;

use anyhow::{Context, Result};

use crate::data::{load_counts, Counts, LoadOptions};
use crate::graph::{GraphConfig, GraphSequence};
use crate::tavrnn::input::WindowData;

/// Counts, graphs and model input of one recording.
pub struct Session {
    /// Binned counts.
    pub counts: Counts,
    /// The graph of every window.
    pub seq: GraphSequence,
    /// The model's input.
    pub data: WindowData,
}

impl Session {
    /// Reads `path` with `opts` and builds the graphs with `graph`.
    pub fn load(path: &Path, opts: &LoadOptions, graph: &GraphConfig) -> Result<Session> {
        let counts = load_counts(path, opts)?;
        Self::from_counts(counts, graph).with_context(|| format!("{}", path.display()))
    }

    /// Builds the graphs of `counts` with `graph`.
    pub fn from_counts(counts: Counts, graph: &GraphConfig) -> Result<Session> {
        let seq = GraphSequence::build(&counts, graph).context("building the graphs")?;
        let data = WindowData::from_sequence(&seq).map_err(anyhow::Error::msg)?;
        Ok(Session { counts, seq, data })
    }

    /// Mean neuron-neuron edges per window.
    pub fn mean_edges(&self) -> f64 {
        self.seq.windows.iter().map(|w| w.edges as f64).sum::<f64>() / self.seq.len().max(1) as f64
    }
}
