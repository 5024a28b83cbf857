//! Per-bin running sums of one window: `n`, `S_i`, and the packed triangle `M_ij` (`Q_i` on
//! the diagonal, `P_ij` above it).

use super::{packed, triangle, ConnectivityError, Shape, MAX_COUNT, MAX_WINDOW_BINS};

/// A bin whose non-zero counts are at least `1 / DENSE_FRACTION` of the neurons takes the
/// dense path (contiguous rows of the triangle, no index loads), a sparser bin the sparse
/// path (pairs of non-zero counts only). Both compute the same sums; as in the trainer's
/// `WindowSums`, the crossover is about a third of the neurons.
const DENSE_FRACTION: usize = 3;

/// Running sums of one window of binned counts for `N` neurons, `T = triangle(N)`.
///
/// Every sum is a `u32` and is exact: counts saturate at [`MAX_COUNT`] and a window holds at
/// most [`MAX_WINDOW_BINS`] bins, so `M_ij <= 65,535 · 255² < 2^32`. Memory:
/// `4 (N + T) + 8` bytes, 8.6 KB at N = 64.
///
/// Cost per bin: one pass over the `N` counts to collect the `k` non-zero ones, then
/// `k (k + 1) / 2` multiply-accumulates (`S_i` and the triangle entries of the non-zero
/// pairs); a silent neuron costs only its share of the scan. With a third or more of the
/// neurons non-zero, rows of the triangle are updated contiguously instead.
#[derive(Debug, Clone)]
pub struct StreamingConnectivity<const N: usize, const T: usize> {
    n_bins: u32,
    sum: [u32; N],
    products: [u32; T],
    saturated: u32,
}

impl<const N: usize, const T: usize> Default for StreamingConnectivity<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const T: usize> StreamingConnectivity<N, T> {
    /// Empty sums. `T` must be `triangle(N)` (a compile-time error otherwise).
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Shape::<N, T>::OK;
        StreamingConnectivity {
            n_bins: 0,
            sum: [0; N],
            products: [0; T],
            saturated: 0,
        }
    }

    /// Forgets every bin: call at each window start.
    pub fn reset(&mut self) {
        self.n_bins = 0;
        self.sum = [0; N];
        self.products = [0; T];
        self.saturated = 0;
    }

    /// Adds one bin, `counts[i]` spikes of neuron `i`; counts above [`MAX_COUNT`] are added as
    /// [`MAX_COUNT`] (and counted in [`Self::saturated`]). Returns the number `k` of non-zero
    /// counts: the bin cost `k (k + 1) / 2` multiply-accumulates.
    ///
    /// Refused, with nothing added, once the window holds [`MAX_WINDOW_BINS`] bins.
    pub fn push(&mut self, counts: &[u16; N]) -> Result<usize, ConnectivityError> {
        if self.n_bins >= MAX_WINDOW_BINS {
            return Err(ConnectivityError::WindowFull {
                max: MAX_WINDOW_BINS,
            });
        }
        self.n_bins += 1;
        // The non-zero counts, saturated, and their neurons.
        let mut idx = [0u16; N];
        let mut val = [0u16; N];
        let mut k = 0usize;
        for (i, &c) in counts.iter().enumerate() {
            let x = if c > MAX_COUNT {
                self.saturated = self.saturated.saturating_add(1);
                MAX_COUNT
            } else {
                c
            };
            if x != 0 {
                // k <= i < N: the slot always exists.
                if let (Some(si), Some(sv)) = (idx.get_mut(k), val.get_mut(k)) {
                    *si = i as u16;
                    *sv = x;
                }
                k += 1;
            }
        }
        if k * DENSE_FRACTION >= N {
            self.push_dense(counts);
        } else {
            self.push_sparse(&idx[..k.min(N)], &val[..k.min(N)]);
        }
        Ok(k)
    }

    /// Adds the pairs of the non-zero counts `(idx[a], val[a])`, neurons increasing.
    #[inline(always)]
    fn push_sparse(&mut self, idx: &[u16], val: &[u16]) {
        for (a, (&i, &xi)) in idx.iter().zip(val).enumerate() {
            let i = usize::from(i);
            let xi = u32::from(xi);
            if let Some(s) = self.sum.get_mut(i) {
                *s = s.wrapping_add(xi);
            }
            // Row i of the triangle starts at packed(i, i); entry (i, j) is at row + j - i.
            let row_start = packed(N, i, i) - i;
            let row = self.products.get_mut(row_start..).unwrap_or(&mut []);
            for (&j, &xj) in idx[a..].iter().zip(&val[a..]) {
                if let Some(m) = row.get_mut(usize::from(j)) {
                    *m = m.wrapping_add(xi * u32::from(xj));
                }
            }
        }
    }

    /// Adds a bin with many non-zero counts: for each non-zero `x_i`, one contiguous pass over
    /// row `i` of the triangle (zeros add nothing).
    #[inline(never)]
    fn push_dense(&mut self, counts: &[u16; N]) {
        let mut x = [0u32; N];
        for (d, &c) in x.iter_mut().zip(counts) {
            *d = u32::from(c.min(MAX_COUNT));
        }
        let mut start = 0usize;
        for i in 0..N {
            let len = N - i;
            let xi = x[i];
            if xi != 0 {
                self.sum[i] = self.sum[i].wrapping_add(xi);
                if let Some(row) = self.products.get_mut(start..start + len) {
                    for (m, &xj) in row.iter_mut().zip(&x[i..]) {
                        *m = m.wrapping_add(xi * xj);
                    }
                }
            }
            start += len;
        }
    }

    /// Adds the counts of a bin given as a slice (e.g. a row of a count stream); the length
    /// must be `N`.
    pub fn push_slice(&mut self, counts: &[u16]) -> Result<usize, ConnectivityError> {
        let row: &[u16; N] = counts.try_into().map_err(|_| ConnectivityError::Length {
            what: "count vector",
            expected: N,
            got: counts.len(),
        })?;
        self.push(row)
    }

    /// Adds the sums of `other` (bins `other` saw) to these, as if its bins had been pushed
    /// here: how a window made of consecutive blocks is assembled (e.g. windows of `2s` bins
    /// every `s` bins from blocks of `s` bins). Refused if the total exceeds
    /// [`MAX_WINDOW_BINS`].
    pub fn merge(&mut self, other: &Self) -> Result<(), ConnectivityError> {
        let total = self.n_bins + other.n_bins; // both <= 65,535: no overflow
        if total > MAX_WINDOW_BINS {
            return Err(ConnectivityError::WindowFull {
                max: MAX_WINDOW_BINS,
            });
        }
        self.n_bins = total;
        for (a, &b) in self.sum.iter_mut().zip(&other.sum) {
            *a = a.wrapping_add(b);
        }
        for (a, &b) in self.products.iter_mut().zip(&other.products) {
            *a = a.wrapping_add(b);
        }
        self.saturated = self.saturated.saturating_add(other.saturated);
        Ok(())
    }

    /// Bins added since the last reset, `n`.
    pub fn n_bins(&self) -> u32 {
        self.n_bins
    }

    /// Counts that were saturated to [`MAX_COUNT`] since the last reset.
    pub fn saturated(&self) -> u32 {
        self.saturated
    }

    /// `S_i`, the sum of the (saturated) counts of neuron `i`; 0 for `i >= N`.
    pub fn sum(&self, i: usize) -> u32 {
        self.sum.get(i).copied().unwrap_or(0)
    }

    /// `M_ij = Σ_t x_i(t) x_j(t)` in either order (`Q_i` when `i == j`); 0 outside `N`.
    pub fn product(&self, i: usize, j: usize) -> u32 {
        if i >= N || j >= N {
            return 0;
        }
        self.products
            .get(super::packed_sym(N, i, j))
            .copied()
            .unwrap_or(0)
    }

    /// The sums `S_i`.
    pub fn sums(&self) -> &[u32; N] {
        &self.sum
    }

    /// The packed upper triangle of `M`, row-major, diagonal included.
    pub fn products(&self) -> &[u32; T] {
        &self.products
    }

    /// Multiply-accumulates of a bin with `k` non-zero counts: `k (k + 1) / 2`, the products
    /// `x_i x_j` for `i <= j` among them.
    pub const fn bin_macs(k: usize) -> usize {
        triangle(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::triangle;

    type S5 = StreamingConnectivity<5, { triangle(5) }>;

    #[test]
    fn dense_and_sparse_paths_give_the_exact_sums() {
        let rows: [[u16; 5]; 6] = [
            [3, 0, 0, 0, 0],
            [0, 0, 3, 0, 255],
            [1, 2, 3, 4, 5],
            [300, 255, 0, 9, 7],
            [0, 0, 0, 0, 0],
            [0, 9, 0, 0, 0],
        ];
        let mut s = S5::new();
        for r in &rows {
            s.push(r).unwrap();
        }
        let sat = |x: u16| u32::from(x.min(MAX_COUNT));
        for i in 0..5 {
            let want: u32 = rows.iter().map(|r| sat(r[i])).sum();
            assert_eq!(s.sum(i), want);
            for j in 0..5 {
                let want: u32 = rows.iter().map(|r| sat(r[i]) * sat(r[j])).sum();
                assert_eq!(s.product(i, j), want, "({i},{j})");
            }
        }
        assert_eq!(s.saturated(), 1);
        assert_eq!(s.n_bins(), 6);
    }
}
