//! Node features of one window (see [`FeatureKind`]).

use super::{Correlation, FeatureKind};

/// The `n_nodes x n_nodes` feature matrix, row-major, with `n_nodes = n_units + 1` when
/// `history_node` (the history node is the last row and column).
pub fn node_features(kind: FeatureKind, corr: &Correlation, history_node: bool) -> Vec<f32> {
    let n = corr.n_units();
    let nodes = n + usize::from(history_node);
    match kind {
        FeatureKind::Identity => identity(nodes),
        FeatureKind::AbsCorrelation => {
            let mut x = vec![0.0; nodes * nodes];
            for i in 0..n {
                for j in 0..n {
                    x[i * nodes + j] = corr.get(i, j).abs() as f32;
                }
            }
            if history_node {
                x[n * nodes + n] = 1.0;
            }
            x
        }
    }
}

/// The `nodes x nodes` identity matrix, row-major.
pub fn identity(nodes: usize) -> Vec<f32> {
    let mut x = vec![0.0; nodes * nodes];
    for i in 0..nodes {
        x[i * nodes + i] = 1.0;
    }
    x
}
