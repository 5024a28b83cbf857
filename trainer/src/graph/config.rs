//! The settings of graph construction, with the defaults the TAVRNN trainer uses.

use serde::{Deserialize, Serialize};

use super::GraphError;

/// How a sequence of graphs is built from binned counts.
///
/// The pipeline per window: running sums -> Pearson correlation R -> candidate edges
/// (`|R| >= theta`, `R != 0`, and the surrogate test if enabled) -> top-k per node if enabled
/// -> history node -> normalised adjacency. See the module documentation of [`super`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphConfig {
    /// Window length, seconds (rounded to a whole number of bins, see [`super::Windowing`]).
    pub window_s: f64,
    /// Step between window starts, seconds (rounded likewise).
    pub step_s: f64,
    /// Edge threshold on |R|, in `[0, 1]`. With `0`, every non-zero correlation is a candidate
    /// (use it with `top_k` for a pure top-k graph).
    pub theta: f64,
    /// Keep only the k strongest candidate edges of each node.
    pub top_k: Option<TopK>,
    /// Keep only candidate edges that pass a circular-shift surrogate test.
    pub surrogate: Option<SurrogateTest>,
    /// Add the history node (index `n_units`), linked to every neuron.
    pub history_node: bool,
    /// What the node feature matrix holds.
    pub features: FeatureKind,
}

impl Default for GraphConfig {
    /// Windows of 10 s every 5 s, |R| >= 0.1, no top-k, no surrogate test, history node,
    /// identity features.
    fn default() -> Self {
        GraphConfig {
            window_s: 10.0,
            step_s: 5.0,
            theta: 0.1,
            top_k: None,
            surrogate: None,
            history_node: true,
            features: FeatureKind::Identity,
        }
    }
}

/// Top-k selection per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopK {
    /// Number of strongest candidate edges (by |R|, ties to the lower neuron index) each node
    /// selects.
    pub k: usize,
    /// How the per-node selections become one undirected graph.
    pub symmetrise: Symmetrise,
}

/// How the directed "i selects j" relation of top-k is made symmetric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Symmetrise {
    /// Edge i-j when i selects j **or** j selects i. Every node with at least k candidates
    /// keeps degree >= k (degrees can exceed k). The default: no node is left isolated by
    /// the selection of others.
    Union,
    /// Edge i-j when i selects j **and** j selects i (mutual nearest neighbours). Every
    /// degree is <= k.
    Intersection,
}

/// Circular-shift surrogate significance test.
///
/// For each of `surrogates` surrogates, every neuron's counts are rotated within the window
/// by its own uniform random offset in `0..window_bins`; this keeps each neuron's rate and
/// autocorrelation and destroys the alignment between neurons. An edge is kept when its
/// |R| is strictly above the empirical `(1 - alpha)` quantile of the surrogate |R| of that
/// pair, the quantile being the `m`-th smallest of the `n` surrogate values with
/// `m = ceil((1 - alpha) n)`. Equivalently: at most `n - m` surrogates reach |R|. For
/// independent neurons an edge then survives with probability `(n - m + 1) / (n + 1)`,
/// which is `alpha` when `(n + 1) alpha` is an integer (e.g. `n = 99`, `alpha = 0.05`).
///
/// Cost: `surrogates` times the correlation of one window, and one counter per pair of
/// memory. Offsets are drawn from SplitMix64 seeded by `seed` and the window index: the same
/// seed gives the same graphs on every platform.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SurrogateTest {
    /// Number of surrogates `n`, `1..=MAX_SURROGATES`.
    pub surrogates: usize,
    /// Significance level, in `(0, 1)`.
    pub alpha: f64,
    /// Seed of the offsets.
    pub seed: u64,
}

impl SurrogateTest {
    /// The largest number of surrogates accepted; bounds the cost of the test.
    pub const MAX_SURROGATES: usize = 10_000;
}

impl Default for SurrogateTest {
    /// 99 surrogates at alpha = 0.05 (an exact 5 % false-positive rate), seed 0.
    fn default() -> Self {
        SurrogateTest {
            surrogates: 99,
            alpha: 0.05,
            seed: 0,
        }
    }
}

/// What the node feature matrix holds; both are `n_nodes x n_nodes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureKind {
    /// One-hot identity: row i is e_i. The same for every window, so it is not stored per
    /// window.
    Identity,
    /// Row i (a neuron) holds |R_ij| for the neurons j (|R_ii| = 1 for a neuron active in the
    /// window, 0 for a silent one) and 0 in the history column; the history node's row is
    /// one-hot on its own column.
    AbsCorrelation,
}

fn config_error(field: &'static str, problem: impl Into<String>) -> GraphError {
    GraphError::Config {
        field,
        problem: problem.into(),
    }
}

impl GraphConfig {
    /// Checks every value that does not depend on the data (window lengths in bins are
    /// checked by [`super::Windowing::new`]).
    pub fn validate(&self) -> Result<(), GraphError> {
        if !(self.window_s.is_finite() && self.window_s > 0.0) {
            return Err(config_error(
                "window_s",
                format!(
                    "must be a positive number of seconds, got {}",
                    self.window_s
                ),
            ));
        }
        if !(self.step_s.is_finite() && self.step_s > 0.0) {
            return Err(config_error(
                "step_s",
                format!("must be a positive number of seconds, got {}", self.step_s),
            ));
        }
        if !(0.0..=1.0).contains(&self.theta) {
            return Err(config_error(
                "theta",
                format!("must lie in [0, 1], got {}", self.theta),
            ));
        }
        if let Some(top) = &self.top_k {
            if top.k == 0 {
                return Err(config_error("top_k.k", "must be at least 1, got 0"));
            }
        }
        if let Some(s) = &self.surrogate {
            if s.surrogates == 0 || s.surrogates > SurrogateTest::MAX_SURROGATES {
                return Err(config_error(
                    "surrogate.surrogates",
                    format!(
                        "must lie in 1..={}, got {}",
                        SurrogateTest::MAX_SURROGATES,
                        s.surrogates
                    ),
                ));
            }
            if !(s.alpha > 0.0 && s.alpha < 1.0) {
                return Err(config_error(
                    "surrogate.alpha",
                    format!("must lie in (0, 1), got {}", s.alpha),
                ));
            }
        }
        Ok(())
    }
}
