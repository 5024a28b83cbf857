//! Dense adjacency matrices: the history node and the normalised adjacency of a GCN.
//!
//! Matrices are dense, row-major f32, `n_nodes x n_nodes` with `n_nodes = n_units + 1` when
//! the history node is present (it is the last node, index `n_units`). Dense is the right
//! form for the populations neuroloop targets (N <= 128 on the device): 4 (N+1)^2 bytes a
//! matrix, 66 KB at N = 128.

use super::Edges;

/// The binary adjacency A: 1 for an edge, 0 otherwise, zero diagonal, symmetric. With
/// `history_node`, the last node is linked to every neuron, so it carries information
/// between windows to every node in the TAVRNN encoder.
pub fn adjacency(edges: &Edges, history_node: bool) -> Vec<f32> {
    let n = edges.n_units();
    let nodes = n + usize::from(history_node);
    let mut a = vec![0.0; nodes * nodes];
    for (i, j) in edges.pairs() {
        a[i * nodes + j] = 1.0;
        a[j * nodes + i] = 1.0;
    }
    if history_node {
        for i in 0..n {
            a[i * nodes + n] = 1.0;
            a[n * nodes + i] = 1.0;
        }
    }
    a
}

/// The normalised adjacency `Â = D^-1/2 (A + I) D^-1/2` of Kipf & Welling, with
/// `D_ii = 1 + sum_j A_ij` the degree counting the self loop.
///
/// `Â` is symmetric, its entries lie in `(0, 1]` where `A + I` is non-zero, and its
/// eigenvalues lie in `(-1, 1]`. Its row sums are **not** 1 in general:
/// `sum_j Â_ij = sum_{j in N(i) + i} 1 / sqrt(d_i d_j)`, which is 1 for a node whose
/// neighbours all have its own degree (any node of a regular graph, an isolated node).
/// What holds for every graph is `Â D^1/2 1 = D^1/2 1`, i.e.
/// `sum_j Â_ij sqrt(d_j) = sqrt(d_i)`: the tests check this identity.
///
/// `a` is `n_nodes x n_nodes`, symmetric, zero diagonal (as returned by [`adjacency`]);
/// non-binary weights are used as given.
pub fn normalize(a: &[f32], n_nodes: usize) -> Vec<f32> {
    debug_assert_eq!(a.len(), n_nodes * n_nodes);
    let inv_sqrt_deg: Vec<f64> = (0..n_nodes)
        .map(|i| {
            let d: f64 = 1.0
                + a[i * n_nodes..(i + 1) * n_nodes]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>();
            1.0 / d.sqrt()
        })
        .collect();
    let mut out = vec![0.0; n_nodes * n_nodes];
    for i in 0..n_nodes {
        for j in 0..n_nodes {
            let w = f64::from(a[i * n_nodes + j]) + if i == j { 1.0 } else { 0.0 };
            if w != 0.0 {
                out[i * n_nodes + j] = (inv_sqrt_deg[i] * w * inv_sqrt_deg[j]) as f32;
            }
        }
    }
    out
}
