//! Per-bin running sums of one window: `n`, `S_i`, and the packed triangle `M_ij` (`Q_i` on
//! the diagonal, `P_ij` above it).

use super::correlation::{correlate_row, normalisation};
use super::{packed, triangle, ConnectivityError, Shape, MAX_COUNT, MAX_WINDOW_BINS};

/// A bin whose non-zero counts are at least `DENSE_NUM / DENSE_DEN` of the neurons takes the
/// dense path (every entry of the triangle, no index loads), a sparser bin the sparse path
/// (pairs of non-zero counts only). Both compute the same sums. The threshold, half the
/// neurons, bounds the worst case on the emulated Cortex-M4 at N = 64
/// (`scripts/firmware-graph-bench.sh`): the dense pass costs a constant ~11,200 instructions,
/// a sparse bin ~10 a pair plus ~90 a non-zero neuron, so the largest sparse bin (31 of 64
/// non-zero) stays below the dense pass.
const DENSE_NUM: usize = 1;
const DENSE_DEN: usize = 2;

/// Where `M_ij`, `i <= j < N`, lies in the sums' storage: the triangle in **row-pair
/// blocks**. Rows `b = 2m` and `b + 1` form one block starting at `packed(N, b, b)` (where
/// the packed row-major triangle has row `b`): first `M_bb, M_b(b+1), M_(b+1)(b+1)`, then
/// for each column `j >= b + 2` the pair `M_bj, M_(b+1)j`. An odd `N` ends with a block of
/// the one entry `M_(N-1)(N-1)`. The dense update then walks two rows in one contiguous pass
/// (one load of `x_j` and one pair of adjacent words per two multiply-accumulates).
#[inline(always)]
pub(crate) fn slot(n: usize, i: usize, j: usize) -> usize {
    let b = i & !1;
    let base = packed(n, b, b);
    if j <= b + 1 {
        // (b, b) -> 0, (b, b + 1) -> 1, (b + 1, b + 1) -> 2.
        base + (i - b) + (j - b)
    } else {
        base + 3 + 2 * (j - b - 2) + (i - b)
    }
}

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
    /// Scratch of one bin, kept here so that no call zeroes stack arrays: the neurons with a
    /// non-zero count and their saturated counts (the first `k` entries are this bin's)...
    idx: [u16; N],
    val: [u16; N],
    /// ... and, for a dense bin, every saturated count.
    dense: [u32; N],
    /// `products` holds the window's correlations (see [`Self::correlate_in_place`]), not
    /// sums; bins are refused until [`Self::reset`].
    correlated: bool,
    /// Neurons that varied, once correlated.
    active: u32,
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
            idx: [0; N],
            val: [0; N],
            dense: [0; N],
            correlated: false,
            active: 0,
        }
    }

    /// Forgets every bin: call at each window start.
    pub fn reset(&mut self) {
        self.n_bins = 0;
        self.sum = [0; N];
        self.products = [0; T];
        self.saturated = 0;
        self.correlated = false;
        self.active = 0;
    }

    /// Adds one bin, `counts[i]` spikes of neuron `i`; counts above [`MAX_COUNT`] are added as
    /// [`MAX_COUNT`] (and counted in [`Self::saturated`]). Returns the number `k` of non-zero
    /// counts: the bin cost `k (k + 1) / 2` multiply-accumulates.
    ///
    /// Refused, with nothing added, once the window holds [`MAX_WINDOW_BINS`] bins.
    pub fn push(&mut self, counts: &[u16; N]) -> Result<usize, ConnectivityError> {
        if self.correlated {
            return Err(ConnectivityError::Correlated);
        }
        if self.n_bins >= MAX_WINDOW_BINS {
            return Err(ConnectivityError::WindowFull {
                max: MAX_WINDOW_BINS,
            });
        }
        self.n_bins += 1;
        // Collect the non-zero counts, two neurons at a time: at 10 ms bins most pairs are
        // both zero and cost one test.
        let mut k = 0usize;
        let (pairs, rest) = counts.as_chunks::<2>();
        for (p, pair) in pairs.iter().enumerate() {
            if pair[0] | pair[1] == 0 {
                continue;
            }
            for (h, &c) in pair.iter().enumerate() {
                k = self.note(2 * p + h, c, k);
            }
        }
        for (h, &c) in rest.iter().enumerate() {
            k = self.note(2 * pairs.len() + h, c, k);
        }
        if k * DENSE_DEN >= DENSE_NUM * N {
            for (d, &c) in self.dense.iter_mut().zip(counts) {
                *d = u32::from(c.min(MAX_COUNT));
            }
            self.push_dense();
        } else {
            self.push_sparse(k);
        }
        Ok(k)
    }

    /// Notes count `c` of neuron `i` (saturated) when it is non-zero; returns the new number
    /// of non-zero counts.
    #[inline(always)]
    fn note(&mut self, i: usize, c: u16, k: usize) -> usize {
        if c == 0 {
            return k;
        }
        let x = if c > MAX_COUNT {
            self.saturated = self.saturated.saturating_add(1);
            MAX_COUNT
        } else {
            c
        };
        // k <= i < N: the slots always exist.
        if let (Some(si), Some(sv)) = (self.idx.get_mut(k), self.val.get_mut(k)) {
            *si = i as u16;
            *sv = x;
        }
        k + 1
    }

    /// Adds the pairs of the first `k` noted non-zero counts (neurons increasing).
    #[inline(always)]
    fn push_sparse(&mut self, k: usize) {
        let idx = self.idx.get(..k).unwrap_or(&[]);
        let val = self.val.get(..k).unwrap_or(&[]);
        for (a, (&i, &xi)) in idx.iter().zip(val).enumerate() {
            let i = usize::from(i);
            let xi = u32::from(xi);
            if let Some(s) = self.sum.get_mut(i) {
                *s = s.wrapping_add(xi);
            }
            // Row i in the block of rows b, b + 1 (see `slot`): the head holds (i, i) and,
            // for an even i, (i, i + 1); the entries (i, j) beyond it lie at `far + 2 j`.
            let b = i & !1;
            let base = packed(N, b, b);
            if let Some(m) = self.products.get_mut(base + 2 * (i - b)) {
                *m = m.wrapping_add(xi * xi);
            }
            let mut from = a + 1;
            if b == i {
                if let (Some(&j), Some(&xj)) = (idx.get(from), val.get(from)) {
                    if usize::from(j) == i + 1 {
                        if let Some(m) = self.products.get_mut(base + 1) {
                            *m = m.wrapping_add(xi * u32::from(xj));
                        }
                        from += 1;
                    }
                }
            }
            let far = (base + 3 + (i - b)).wrapping_sub(2 * (b + 2));
            let (idx, val) = (
                idx.get(from..).unwrap_or(&[]),
                val.get(from..).unwrap_or(&[]),
            );
            for (&j, &xj) in idx.iter().zip(val) {
                let at = far.wrapping_add(2 * usize::from(j));
                if let Some(m) = self.products.get_mut(at) {
                    *m = m.wrapping_add(xi * u32::from(xj));
                }
            }
        }
    }

    /// Adds a bin with many non-zero counts (`self.dense`): one row-pair block (rows `i` and
    /// `i + 1`, see [`slot`]) a pass, so that each `x_j` is loaded once for two adjacent
    /// multiply-accumulates; blocks of a zero pair of counts are skipped.
    #[inline(never)]
    fn push_dense(&mut self) {
        let x = &self.dense;
        let mut start = 0usize;
        let mut i = 0usize;
        while i + 1 < N {
            let (xi, xh) = (x[i], x[i + 1]);
            let len = 2 * (N - i) - 1;
            if xi | xh != 0 {
                self.sum[i] = self.sum[i].wrapping_add(xi);
                self.sum[i + 1] = self.sum[i + 1].wrapping_add(xh);
                let block = self.products.get_mut(start..start + len).unwrap_or(&mut []);
                if let [m_ii, m_ih, m_hh, rest @ ..] = block {
                    *m_ii = m_ii.wrapping_add(xi * xi);
                    *m_ih = m_ih.wrapping_add(xi * xh);
                    *m_hh = m_hh.wrapping_add(xh * xh);
                    let (pairs, _) = rest.as_chunks_mut::<2>();
                    let xs = x.get(i + 2..).unwrap_or(&[]);
                    for (m, &xj) in pairs.iter_mut().zip(xs) {
                        m[0] = m[0].wrapping_add(xi * xj);
                        m[1] = m[1].wrapping_add(xh * xj);
                    }
                }
            }
            start += len;
            i += 2;
        }
        if i < N {
            // Odd N: the last block is the single diagonal entry.
            let xi = x[i];
            self.sum[i] = self.sum[i].wrapping_add(xi);
            if let Some(m) = self.products.get_mut(start) {
                *m = m.wrapping_add(xi * xi);
            }
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
        if self.correlated || other.correlated {
            return Err(ConnectivityError::Correlated);
        }
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

    /// Replaces the sums with the window's Pearson correlations, computed exactly as
    /// [`WindowCorrelation::compute`](super::WindowCorrelation::compute) would (the same
    /// code, the same bits), in the sums' own storage: the firmware's window then needs no
    /// second `T`-entry array (8.3 KB at N = 64). Returns the number of neurons that varied.
    ///
    /// Afterwards [`Self::correlations`] reads `R` and
    /// [`WindowGraph::build_from_sums`](super::WindowGraph::build_from_sums) builds the graph;
    /// bins and merges are refused
    /// ([`ConnectivityError::Correlated`]) until [`Self::reset`]. `S_i` and `n` stay. A
    /// second call changes nothing.
    ///
    /// In place: the row-pair block of rows `b`, `b + 1` (see `slot`) occupies exactly the
    /// entries of rows `b` and `b + 1` of the row-major packed triangle, so each block's
    /// products are read out (two rows of `N` words on the stack) before its correlations
    /// are written over them. Besides those 2 `N` words the call takes `N` normalisations
    /// (`8 N` bytes) of stack.
    pub fn correlate_in_place(&mut self) -> u32 {
        if self.correlated {
            return self.active;
        }
        let n = u64::from(self.n_bins);
        let (inv, active) = normalisation(self);
        let mut rows = [[0u32; N]; 2];
        let mut b = 0usize;
        while b < N {
            let start = packed(N, b, b);
            for (r, row) in rows.iter_mut().enumerate() {
                for (dst, p) in row.iter_mut().zip(self.row_products(b + r)) {
                    *dst = p;
                }
            }
            let mut at = start;
            for (r, right) in rows.iter().enumerate() {
                let i = b + r;
                if i >= N {
                    break;
                }
                let len = N - i;
                let Some(out) = self.products.get_mut(at..at + len) else {
                    break;
                };
                at += len;
                correlate_row(n, i, &inv, &self.sum, right.iter().copied(), out);
            }
            b += 2;
        }
        self.correlated = true;
        self.active = active;
        active
    }

    /// The window's correlations after [`Self::correlate_in_place`]: the packed upper
    /// triangle, row-major, diagonal included (the layout of
    /// [`WindowCorrelation::packed`](super::WindowCorrelation::packed)), each `R_q` (Q1.30)
    /// as the two's-complement bits of an `i32`. `None` while the storage holds sums.
    pub fn correlations(&self) -> Option<&[u32; T]> {
        self.correlated.then_some(&self.products)
    }

    /// `R_ij` in Q1.30 after [`Self::correlate_in_place`], either order; `None` while the
    /// storage holds sums or outside `N`.
    pub fn correlation(&self, i: usize, j: usize) -> Option<i32> {
        if !self.correlated || i >= N || j >= N {
            return None;
        }
        self.products
            .get(super::packed_sym(N, i, j))
            .map(|&v| v as i32)
    }

    /// Bins added since the last reset, `n`.
    pub fn n_bins(&self) -> u32 {
        self.n_bins
    }

    /// Counts that were saturated to [`MAX_COUNT`] since the last reset.
    pub fn saturated(&self) -> u32 {
        self.saturated
    }

    /// Whether the storage holds the window's correlations ([`Self::correlate_in_place`]).
    pub fn is_correlated(&self) -> bool {
        self.correlated
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
        let (i, j) = if i <= j { (i, j) } else { (j, i) };
        self.products.get(slot(N, i, j)).copied().unwrap_or(0)
    }

    /// `M_ij` for `j = i + 1 .. N`, in order (row `i` of the triangle right of the diagonal),
    /// read along the row-pair block of `i` without an index computation per entry.
    pub(crate) fn row_products(&self, i: usize) -> impl Iterator<Item = u32> + '_ {
        let b = i & !1;
        let base = if i < N { packed(N, b, b) } else { T };
        // For an even i, (i, i + 1) is in the block's head; the columns j >= b + 2 follow in
        // steps of two, starting at the entry of row i for column b + 2.
        let head = if i == b {
            self.products.get(base + 1)
        } else {
            None
        };
        let tail = self.products.get(base + 3 + (i - b)..).unwrap_or(&[]);
        head.into_iter()
            .chain(tail.iter().step_by(2))
            .copied()
            .take(N.saturating_sub(i + 1))
    }

    /// The sums `S_i`.
    pub fn sums(&self) -> &[u32; N] {
        &self.sum
    }

    /// The upper triangle of `M`, diagonal included, in row-pair blocks (see [`Self::product`]
    /// for one entry; the layout is internal and may change).
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
    fn slots_cover_the_triangle_once() {
        for n in 1..12 {
            let mut seen = std::vec![false; triangle(n)];
            for i in 0..n {
                for j in i..n {
                    let k = slot(n, i, j);
                    assert!(!seen[k], "n={n} ({i},{j})");
                    seen[k] = true;
                }
            }
            assert!(seen.iter().all(|&s| s));
        }
    }

    #[test]
    fn row_products_walk_each_row() {
        let mut s = S5::new();
        s.push(&[1, 2, 3, 4, 5]).unwrap();
        s.push(&[0, 7, 0, 1, 9]).unwrap();
        for i in 0..5 {
            let got: std::vec::Vec<u32> = s.row_products(i).collect();
            let want: std::vec::Vec<u32> = (i + 1..5).map(|j| s.product(i, j)).collect();
            assert_eq!(got, want, "row {i}");
        }
    }

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
