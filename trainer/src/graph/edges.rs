//! Which pairs of neurons are linked: threshold, surrogate mask, top-k per node.

use super::{Correlation, Symmetrise, TopK};

/// An undirected graph on the neurons of one window (no history node, no self loops), as a
/// symmetric boolean matrix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edges {
    n_units: usize,
    linked: Vec<bool>,
}

impl Edges {
    /// A graph without edges.
    pub fn empty(n_units: usize) -> Edges {
        Edges {
            n_units,
            linked: vec![false; n_units * n_units],
        }
    }

    /// Number of neurons.
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// Whether `i` and `j` are linked.
    pub fn contains(&self, i: usize, j: usize) -> bool {
        self.linked[i * self.n_units + j]
    }

    fn set(&mut self, i: usize, j: usize) {
        self.linked[i * self.n_units + j] = true;
        self.linked[j * self.n_units + i] = true;
    }

    /// Number of neighbours of `i`.
    pub fn degree(&self, i: usize) -> usize {
        let n = self.n_units;
        self.linked[i * n..(i + 1) * n]
            .iter()
            .filter(|&&l| l)
            .count()
    }

    /// Number of undirected edges.
    pub fn count(&self) -> usize {
        self.pairs().count()
    }

    /// The edges as pairs `(i, j)` with `i < j`, in row order.
    pub fn pairs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let n = self.n_units;
        (0..n).flat_map(move |i| {
            (i + 1..n).filter_map(move |j| self.contains(i, j).then_some((i, j)))
        })
    }
}

/// Whether the pair `(i, j)`, `i != j`, is a candidate edge: `R_ij != 0`, `|R_ij| >= theta`,
/// and, when a surrogate mask is given, marked significant in it. `R_ij = 0` is never an edge,
/// so a neuron without defined correlation (see [`super::correlation`]) stays unlinked even
/// with `theta = 0`.
pub fn is_candidate(
    corr: &Correlation,
    theta: f64,
    significant: Option<&[bool]>,
    i: usize,
    j: usize,
) -> bool {
    let r = corr.get(i, j).abs();
    i != j && r != 0.0 && r >= theta && significant.is_none_or(|mask| mask[i * corr.n_units() + j])
}

/// The edges of one window.
///
/// Candidates are the pairs of [`is_candidate`]. Without `top_k` they are the edges. With
/// `top_k`, each neuron selects its `k` candidates of largest |R| (ties go to the lower
/// index; a neuron with fewer than `k` candidates selects all of them), and the selections
/// are made symmetric by union or intersection ([`Symmetrise`]).
///
/// `significant`, when given, is a symmetric row-major `n_units^2` mask (see
/// [`super::surrogate::significant_pairs`]).
pub fn select_edges(
    corr: &Correlation,
    theta: f64,
    top_k: Option<TopK>,
    significant: Option<&[bool]>,
) -> Edges {
    let n = corr.n_units();
    let mut edges = Edges::empty(n);
    let Some(top) = top_k else {
        for i in 0..n {
            for j in i + 1..n {
                if is_candidate(corr, theta, significant, i, j) {
                    edges.set(i, j);
                }
            }
        }
        return edges;
    };
    // selected[i * n + j]: neuron i selected j.
    let mut selected = vec![false; n * n];
    let mut candidates: Vec<(f64, usize)> = Vec::with_capacity(n);
    for i in 0..n {
        candidates.clear();
        candidates.extend(
            (0..n)
                .filter(|&j| is_candidate(corr, theta, significant, i, j))
                .map(|j| (corr.get(i, j).abs(), j)),
        );
        // Largest |R| first; equal |R| by lower index (the sort is stable over j).
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        for &(_, j) in candidates.iter().take(top.k) {
            selected[i * n + j] = true;
        }
    }
    for i in 0..n {
        for j in i + 1..n {
            let (a, b) = (selected[i * n + j], selected[j * n + i]);
            let keep = match top.symmetrise {
                Symmetrise::Union => a || b,
                Symmetrise::Intersection => a && b,
            };
            if keep {
                edges.set(i, j);
            }
        }
    }
    edges
}
