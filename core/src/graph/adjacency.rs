//! The normalised adjacency `Â = D^-1/2 (A + I) D^-1/2` and the node features of a window, in
//! Q1.14.

use super::correlation::q30_to_q14;
use super::{isqrt_u32, walk_row, ConnectivityError, WindowCorrelation, WindowGraph};

/// `1.0` in Q1.14, the format of `Â` and of the |R| features (`i16`, `1.0 = 16,384`, so that
/// the largest entry, 1, fits).
pub const Q14_ONE: i16 = 1 << 14;

/// `round(2^14 / sqrt(d_i d_j))`, round half up, exact: the largest `v` with
/// `(2v − 1)² d_i d_j <= 2^30`, i.e. `v = (isqrt(floor(2^30 / (d_i d_j))) + 1) / 2`.
/// One entry of `Â` in Q1.14 where `A + I` is 1; `d` are the degrees with the self loop
/// (>= 1; a 0 is read as 1).
pub fn normalized_entry(d_i: u32, d_j: u32) -> i16 {
    let p = d_i.max(1).saturating_mul(d_j.max(1));
    // (isqrt + 1) / 2, written as the ceiling of a half.
    isqrt_u32((1u32 << 30) / p).div_ceil(2) as i16
}

impl<const N: usize, const T: usize> WindowGraph<N, T> {
    /// `Â_ij` in Q1.14 ([`normalized_entry`] of the node degrees where `A + I` is 1, else 0);
    /// 0 for nodes that do not exist. Symmetric, exact, `0 < Â_ij <= Q14_ONE` on `A + I`.
    /// Error against the real value: at most half an LSB, `2^-15`.
    pub fn normalized(&self, i: usize, j: usize) -> i16 {
        let nodes = self.n_nodes();
        if i >= nodes || j >= nodes || !(i == j || self.linked(i, j)) {
            return 0;
        }
        normalized_entry(self.node_degree(i), self.node_degree(j))
    }

    /// Row `i` of `Â` into `out` (length [`Self::n_nodes`]); the same values as
    /// [`Self::normalized`]. Costs one integer square root (16 steps) per non-zero entry and
    /// a flag test per neuron.
    pub fn normalized_row(&self, i: usize, out: &mut [i16]) -> Result<(), ConnectivityError> {
        self.check_row(i, out.len())?;
        out.fill(0);
        let d_i = self.node_degree(i);
        if i == N {
            // The history node: linked to every neuron, and its self loop.
            for (j, o) in out.iter_mut().enumerate() {
                *o = normalized_entry(d_i, self.node_degree(j));
            }
            return Ok(());
        }
        let flags = self.pair_flags();
        // Entries of row i depend only on d_j: one square root per distinct neuron degree
        // (cache index d_j - 1 < N; 0 = not yet computed, entries are >= 1).
        let mut cache = [0i16; N];
        walk_row(N, i, |j, at| {
            let linked = j == i || flags.get(at).is_some_and(|&f| f & 1 != 0);
            if let (true, Some(o)) = (linked, out.get_mut(j)) {
                let d_j = self.node_degree(j);
                *o = match cache.get_mut(d_j as usize - 1) {
                    Some(c) if *c != 0 => *c,
                    Some(c) => {
                        *c = normalized_entry(d_i, d_j);
                        *c
                    }
                    None => normalized_entry(d_i, d_j),
                };
            }
        });
        if let (true, Some(o)) = (self.has_history_node(), out.get_mut(N)) {
            *o = normalized_entry(d_i, self.node_degree(N));
        }
        Ok(())
    }

    /// Row `i` of the |R| node features in Q1.14 into `out` (length [`Self::n_nodes`]): for a
    /// neuron, `|R_ij|` for the neurons `j` (the diagonal is 1 for a varying neuron, 0 for a
    /// constant one) and 0 in the history column; for the history node, one-hot on its own
    /// column (the trainer's `FeatureKind::AbsCorrelation`). Identity features need no
    /// computation (row `i` is `e_i`).
    pub fn abs_correlation_row(
        &self,
        corr: &WindowCorrelation<N, T>,
        i: usize,
        out: &mut [i16],
    ) -> Result<(), ConnectivityError> {
        self.check_row(i, out.len())?;
        out.fill(0);
        if i == N {
            if let Some(o) = out.get_mut(N) {
                *o = Q14_ONE;
            }
            return Ok(());
        }
        let r = corr.packed();
        walk_row(N, i, |j, at| {
            if let (Some(o), Some(&v)) = (out.get_mut(j), r.get(at)) {
                *o = q30_to_q14(v.saturating_abs());
            }
        });
        Ok(())
    }

    fn check_row(&self, i: usize, len: usize) -> Result<(), ConnectivityError> {
        let nodes = self.n_nodes();
        if i >= nodes {
            return Err(ConnectivityError::Node { index: i, nodes });
        }
        if len != nodes {
            return Err(ConnectivityError::Length {
                what: "output row",
                expected: nodes,
                got: len,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_half_up_exactly() {
        assert_eq!(normalized_entry(1, 1), Q14_ONE);
        assert_eq!(normalized_entry(2, 2), 8192);
        assert_eq!(normalized_entry(4, 1), 8192);
        for di in 1..=130u32 {
            for dj in 1..=130u32 {
                let x = 16384.0 / ((di * dj) as f64).sqrt();
                let v = f64::from(normalized_entry(di, dj));
                assert!(v - 0.5 <= x && x < v + 0.5, "{di} {dj}: {v} vs {x}");
            }
        }
    }
}
