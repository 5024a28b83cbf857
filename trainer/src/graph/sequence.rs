//! A sequence of per-window graphs, the input of the TAVRNN trainer.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::{
    adjacency, features, select_edges, surrogate, Correlation, FeatureKind, GraphConfig,
    GraphError, WindowSpan, WindowSums, Windowing,
};
use crate::data::labels::Labels;
use crate::data::Counts;

/// The graph of one window.
///
/// Every matrix is dense, row-major f32. Memory per window: `4 N^2` bytes for the
/// correlation and `4 (N+1)^2` for each of the adjacency, the normalised adjacency and (for
/// |R| features) the features: about 200 KB at N = 128 (266 KB with |R| features), so one
/// hour in windows of 10 s every 5 s (719 windows) takes 140-190 MB at N = 128 and a
/// quarter of that at N = 64.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphWindow {
    /// Where the window lies.
    pub span: WindowSpan,
    /// Pearson correlation of the neurons, `n_units x n_units` (0 off the diagonal and on it
    /// for a neuron constant in the window).
    pub correlation: Vec<f32>,
    /// Binary adjacency A, `n_nodes x n_nodes`, symmetric, zero diagonal, history node
    /// included: the reconstruction target of the decoder.
    pub adjacency: Vec<f32>,
    /// `Â = D^-1/2 (A + I) D^-1/2`, `n_nodes x n_nodes`: the message-passing operator.
    pub normalized: Vec<f32>,
    /// Node features, `n_nodes x n_nodes`, for [`FeatureKind::AbsCorrelation`]; empty for
    /// [`FeatureKind::Identity`], which is the same for every window (use
    /// [`GraphSequence::features`]).
    pub features: Vec<f32>,
    /// Neuron-neuron edges (the history node's links are not counted).
    pub edges: usize,
}

impl GraphWindow {
    /// The graph of one window from its correlation, with the config's threshold, top-k,
    /// history node and features. `significant` is the surrogate mask when the test is used
    /// (see [`surrogate::significant_pairs`]). This is the part of the pipeline after the sums,
    /// so a correlation computed elsewhere (e.g. by the device) can be turned into a graph the
    /// same way.
    pub fn from_correlation(
        span: WindowSpan,
        corr: &Correlation,
        significant: Option<&[bool]>,
        config: &GraphConfig,
    ) -> GraphWindow {
        let edges = select_edges(corr, config.theta, config.top_k, significant);
        let n_nodes = corr.n_units() + usize::from(config.history_node);
        let a = adjacency::adjacency(&edges, config.history_node);
        let normalized = adjacency::normalize(&a, n_nodes);
        let features = match config.features {
            FeatureKind::Identity => Vec::new(),
            kind => features::node_features(kind, corr, config.history_node),
        };
        GraphWindow {
            span,
            correlation: corr.to_f32(),
            adjacency: a,
            normalized,
            features,
            edges: edges.count(),
        }
    }
}

/// Per-window graphs of a recording, with what is needed to interpret them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphSequence {
    /// The configuration the graphs were built with.
    pub config: GraphConfig,
    /// Window length and step in bins.
    pub windowing: Windowing,
    /// Bin width of the counts, seconds.
    pub bin_s: f64,
    /// Unit identifiers, one per neuron node (node `i` is unit `unit_ids[i]`).
    pub unit_ids: Vec<u32>,
    /// The graphs, in time order.
    pub windows: Vec<GraphWindow>,
}

impl GraphSequence {
    /// Builds the graphs of every whole window of `counts`.
    ///
    /// Errors name the config field or the counts field that is wrong; a recording shorter
    /// than one window is an error ([`GraphError::TooShort`]), not an empty sequence.
    pub fn build(counts: &Counts, config: &GraphConfig) -> Result<GraphSequence, GraphError> {
        config.validate()?;
        let n = counts.n_units();
        if n == 0 {
            return Err(GraphError::Counts {
                field: "unit_ids",
                problem: "is empty: there are no neurons to connect".into(),
            });
        }
        if counts.data.len() != counts.n_bins * n {
            return Err(GraphError::Counts {
                field: "data",
                problem: format!(
                    "holds {} counts, n_bins x units = {} x {n} needs {}",
                    counts.data.len(),
                    counts.n_bins,
                    counts.n_bins * n
                ),
            });
        }
        let windowing = Windowing::new(counts.bin_s, config.window_s, config.step_s)?;
        if windowing.count(counts.n_bins) == 0 {
            return Err(GraphError::TooShort {
                n_bins: counts.n_bins,
                window_bins: windowing.window_bins,
            });
        }
        let mut sums = WindowSums::new(n);
        let mut windows = Vec::with_capacity(windowing.count(counts.n_bins));
        for span in windowing.spans(counts.n_bins, counts.bin_s, counts.start_s) {
            let rows = &counts.data[span.first_bin * n..(span.first_bin + span.n_bins) * n];
            sums.reset();
            for row in rows.chunks_exact(n) {
                sums.push(row)?;
            }
            let corr = sums.correlation();
            let mask = match &config.surrogate {
                Some(test) => Some(surrogate::significant_pairs(
                    n,
                    rows,
                    &corr,
                    test,
                    span.index as u64,
                )?),
                None => None,
            };
            windows.push(GraphWindow::from_correlation(
                span,
                &corr,
                mask.as_deref(),
                config,
            ));
        }
        Ok(GraphSequence {
            config: config.clone(),
            windowing,
            bin_s: counts.bin_s,
            unit_ids: counts.unit_ids.clone(),
            windows,
        })
    }

    /// Number of neurons.
    pub fn n_units(&self) -> usize {
        self.unit_ids.len()
    }

    /// Number of graph nodes: the neurons, plus the history node if present.
    pub fn n_nodes(&self) -> usize {
        self.n_units() + usize::from(self.config.history_node)
    }

    /// Index of the history node, if present (the last node).
    pub fn history_node(&self) -> Option<usize> {
        self.config.history_node.then(|| self.n_units())
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// Whether there are no windows (never after a successful [`GraphSequence::build`]).
    pub fn is_empty(&self) -> bool {
        self.windows.is_empty()
    }

    /// Width of a node's feature vector (`n_nodes` for both feature kinds).
    pub fn feature_dim(&self) -> usize {
        self.n_nodes()
    }

    /// The `n_nodes x feature_dim` feature matrix of window `w`, row-major: borrowed for
    /// |R| features, the identity (made on each call) for identity features.
    pub fn features(&self, w: usize) -> Cow<'_, [f32]> {
        match self.config.features {
            FeatureKind::Identity => Cow::Owned(features::identity(self.n_nodes())),
            FeatureKind::AbsCorrelation => Cow::Borrowed(&self.windows[w].features),
        }
    }

    /// The behaviour class of each window: the class whose labelled time covers the window's
    /// whole span (`Labels::label_span(start_s, end_s)`), None for a window that is not
    /// inside the time of a single label.
    pub fn labels(&self, labels: &Labels) -> Vec<Option<usize>> {
        self.windows
            .iter()
            .map(|w| labels.label_span(w.span.start_s, w.span.end_s))
            .collect()
    }

    /// Bytes held by the matrices of all windows.
    pub fn matrix_bytes(&self) -> usize {
        self.windows
            .iter()
            .map(|w| {
                4 * (w.correlation.len()
                    + w.adjacency.len()
                    + w.normalized.len()
                    + w.features.len())
            })
            .sum()
    }
}
