//! Zero-lag Pearson correlation of binned counts, from running sums.
//!
//! This is the formulation the device computes in streaming form: per bin it adds the bin's
//! counts into a fixed set of sums, and at the end of the window it turns the sums into
//! correlations. With `x_i(t)` the count of neuron `i` in bin `t` of a window of `n` bins:
//!
//! ```text
//! S_i  = sum_t x_i(t)                 (sum)
//! Q_i  = sum_t x_i(t)^2               (sum of squares)
//! P_ij = sum_t x_i(t) x_j(t), i < j   (cross-product)
//!
//! C_ij = n P_ij - S_i S_j             (n^2 times the covariance)
//! V_i  = n Q_i  - S_i^2               (n^2 times the variance, >= 0)
//! R_ij = C_ij / sqrt(V_i V_j)         (R_ij = 0 when V_i = 0 or V_j = 0)
//! ```
//!
//! The sums, `C` and `V` are kept as **exact integers** (u64 accumulators that spill into
//! u128 before they could overflow; `C`, `V` in i128). Only the final division is done in
//! f64. Exact sums make the device's integer sums comparable bit for bit with these, and they
//! avoid the cancellation of the one-pass formula in floating point, which for large counts
//! makes `V` negative and R NaN. A window may hold at most [`WindowSums::MAX_BINS`] bins, the
//! bound under which `n P_ij` fits in i128.
//!
//! A neuron whose counts are constant in the window (silent, or firing the same count in every
//! bin) has `V_i = 0` and no defined correlation: its R with every other neuron is defined as
//! 0, so it gets no edges, and its diagonal entry is 0 (1 for a neuron with `V_i > 0`).

use super::GraphError;

/// Running sums of one window: `n`, `S_i`, `Q_i` and `P_ij` (see the module documentation).
///
/// `Q_i` and `P_ij` are stored together as the packed upper triangle of the matrix
/// `M_ij = sum_t x_i(t) x_j(t)` (diagonal included: `M_ii = Q_i`), row-major.
#[derive(Debug, Clone)]
pub struct WindowSums {
    n_units: usize,
    n_bins: u64,
    sum: Vec<u64>,
    /// Packed upper triangle of M, accumulated since the last spill.
    products: Vec<u64>,
    /// Packed upper triangle of M, spilled from `products`; empty until the first spill.
    spilled: Vec<u128>,
    /// How much more `products` can take without overflow: u64::MAX minus the sum over the
    /// bins since the last spill of (largest count of the bin)^2.
    headroom: u64,
    /// Scratch: the non-zero counts of the current bin, (unit, count).
    nonzero: Vec<(usize, u64)>,
}

/// A bin whose non-zero counts are at least `1 / DENSE_FRACTION` of the units is added by
/// the dense path (contiguous rows of the triangle), a sparser bin by the sparse path (pairs
/// of non-zero counts only). Both give the same sums; the crossover (about a third of the
/// units non-zero, at N = 64 and 128) was measured on random counts.
const DENSE_FRACTION: usize = 3;

/// Index of `(i, j)`, `i <= j`, in a packed row-major upper triangle of side `n`.
#[inline]
fn packed(n: usize, i: usize, j: usize) -> usize {
    i * (2 * n - i + 1) / 2 + (j - i)
}

impl WindowSums {
    /// Largest number of bins one window may hold: with counts below 2^32, `n P_ij` and
    /// `S_i S_j` stay below 2^126 and their difference fits in i128.
    pub const MAX_BINS: u64 = 1 << 31;

    /// Empty sums for `n_units` neurons.
    pub fn new(n_units: usize) -> WindowSums {
        WindowSums {
            n_units,
            n_bins: 0,
            sum: vec![0; n_units],
            products: vec![0; n_units * (n_units + 1) / 2],
            spilled: Vec::new(),
            headroom: u64::MAX,
            nonzero: Vec::with_capacity(n_units),
        }
    }

    /// Sums over consecutive rows of `rows` (row-major, `n_units` counts a row), e.g. the bins
    /// of one window of [`crate::data::Counts::data`].
    pub fn from_rows(n_units: usize, rows: &[u32]) -> Result<WindowSums, GraphError> {
        let mut sums = WindowSums::new(n_units);
        if n_units == 0 {
            return Ok(sums);
        }
        check_whole_rows(n_units, rows)?;
        for row in rows.chunks_exact(n_units) {
            sums.push(row)?;
        }
        Ok(sums)
    }

    /// Forgets every bin (the device does this at each window start).
    pub fn reset(&mut self) {
        self.n_bins = 0;
        self.sum.fill(0);
        self.products.fill(0);
        self.spilled.clear();
        self.headroom = u64::MAX;
    }

    /// Adds one bin. Costs O(k^2) for k non-zero counts in the bin.
    pub fn push(&mut self, row: &[u32]) -> Result<(), GraphError> {
        let n = self.n_units;
        if row.len() != n {
            return Err(GraphError::RowLength {
                expected: n,
                got: row.len(),
            });
        }
        if self.n_bins >= Self::MAX_BINS {
            return Err(GraphError::WindowTooLong {
                max: Self::MAX_BINS,
            });
        }
        let nonzero_count = row.iter().filter(|&&x| x != 0).count();
        if nonzero_count * DENSE_FRACTION >= n {
            self.push_dense(row);
            return Ok(());
        }
        let mut nonzero = std::mem::take(&mut self.nonzero);
        nonzero.clear();
        nonzero.extend(
            row.iter()
                .enumerate()
                .filter(|&(_, &x)| x != 0)
                .map(|(i, &x)| (i, u64::from(x))),
        );
        self.push_nonzero(&nonzero);
        self.nonzero = nonzero;
        Ok(())
    }

    /// Adds one bin with many non-zero counts: for each non-zero `x_i`, one contiguous,
    /// vectorisable pass over row `i` of the triangle (zeros add nothing).
    fn push_dense(&mut self, row: &[u32]) {
        let n = self.n_units;
        self.n_bins += 1;
        let max = u64::from(row.iter().copied().max().unwrap_or(0));
        let bound = max * max;
        if bound > self.headroom {
            self.spill();
        }
        self.headroom -= bound;
        for (i, &xi) in row.iter().enumerate() {
            if xi == 0 {
                continue;
            }
            let xi = u64::from(xi);
            self.sum[i] += xi;
            let start = packed(n, i, i);
            let products = &mut self.products[start..start + n - i];
            for (p, &xj) in products.iter_mut().zip(&row[i..]) {
                *p += xi * u64::from(xj);
            }
        }
    }

    /// Adds one bin given by its non-zero counts `(unit, count)`, units strictly increasing
    /// and below `n_units`, counts below 2^32; the caller has checked `n_bins < MAX_BINS`.
    pub(crate) fn push_nonzero(&mut self, nonzero: &[(usize, u64)]) {
        let n = self.n_units;
        self.n_bins += 1;
        let mut max = 0u64;
        for &(i, x) in nonzero {
            self.sum[i] += x;
            max = max.max(x);
        }
        // Every product of this bin is at most max^2 < 2^64.
        let bound = max * max;
        if bound > self.headroom {
            self.spill();
        }
        self.headroom -= bound;
        for (a, &(i, xi)) in nonzero.iter().enumerate() {
            let base = packed(n, i, i) - i;
            for &(j, xj) in &nonzero[a..] {
                self.products[base + j] += xi * xj;
            }
        }
    }

    /// Moves `products` into the wide `spilled` accumulators.
    fn spill(&mut self) {
        if self.spilled.is_empty() {
            self.spilled = vec![0; self.products.len()];
        }
        for (wide, narrow) in self.spilled.iter_mut().zip(self.products.iter_mut()) {
            *wide += u128::from(*narrow);
            *narrow = 0;
        }
        self.headroom = u64::MAX;
    }

    /// Number of neurons.
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// Number of bins added, `n`.
    pub fn n_bins(&self) -> u64 {
        self.n_bins
    }

    /// `S_i`, the sum of the counts of neuron `i`.
    pub fn sum(&self, i: usize) -> u64 {
        self.sum[i]
    }

    /// `M_ij = sum_t x_i(t) x_j(t)` for any order of `i`, `j`: `Q_i` when `i == j`, `P_ij`
    /// otherwise.
    pub fn product(&self, i: usize, j: usize) -> u128 {
        let (i, j) = if i <= j { (i, j) } else { (j, i) };
        let k = packed(self.n_units, i, j);
        let spilled = self.spilled.get(k).copied().unwrap_or(0);
        spilled + u128::from(self.products[k])
    }

    /// `Q_i`, the sum of the squared counts of neuron `i`.
    pub fn sum_sq(&self, i: usize) -> u128 {
        self.product(i, i)
    }

    /// `C_ij = n P_ij - S_i S_j` (`V_i` when `i == j`), exact.
    pub fn centred(&self, i: usize, j: usize) -> i128 {
        let n = i128::from(self.n_bins);
        // n <= 2^31 and M_ij < 2^95 (module documentation): no overflow.
        n * self.product(i, j) as i128 - i128::from(self.sum[i]) * i128::from(self.sum[j])
    }

    /// `V_i = n Q_i - S_i^2`, exact and never negative.
    pub fn variance_numerator(&self, i: usize) -> i128 {
        self.centred(i, i)
    }

    /// The correlation matrix of the window (see the module documentation for the formula
    /// and for neurons with zero variance).
    pub fn correlation(&self) -> Correlation {
        let n = self.n_units;
        let sd = self.scaled_sd();
        let mut r = vec![0.0; n * n];
        for i in 0..n {
            if sd[i] == 0.0 {
                continue;
            }
            r[i * n + i] = 1.0;
            for j in i + 1..n {
                let v = self.pair_correlation(&sd, i, j);
                r[i * n + j] = v;
                r[j * n + i] = v;
            }
        }
        Correlation { n_units: n, r }
    }

    /// `sqrt(V_i)` for every neuron.
    pub(crate) fn scaled_sd(&self) -> Vec<f64> {
        (0..self.n_units)
            .map(|i| (self.variance_numerator(i) as f64).sqrt())
            .collect()
    }

    /// `R_ij`, `i != j`, given `sd = scaled_sd()`: the one place the division is done, so
    /// that surrogates and data are compared on identical arithmetic.
    pub(crate) fn pair_correlation(&self, sd: &[f64], i: usize, j: usize) -> f64 {
        if sd[i] == 0.0 || sd[j] == 0.0 {
            return 0.0;
        }
        (self.centred(i, j) as f64 / (sd[i] * sd[j])).clamp(-1.0, 1.0)
    }
}

/// A symmetric `n_units x n_units` correlation matrix, row-major, f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    n_units: usize,
    r: Vec<f64>,
}

impl Correlation {
    /// Builds a correlation matrix from values, e.g. ones computed by the device, to run
    /// them through the same graph construction. `values` is row-major `n_units^2`; it must be
    /// symmetric with entries in `[-1, 1]`.
    pub fn from_values(n_units: usize, values: Vec<f64>) -> Result<Correlation, GraphError> {
        if values.len() != n_units * n_units {
            return Err(GraphError::Config {
                field: "correlation",
                problem: format!(
                    "holds {} values, {n_units} units need {}",
                    values.len(),
                    n_units * n_units
                ),
            });
        }
        for i in 0..n_units {
            for j in 0..n_units {
                let v = values[i * n_units + j];
                if !(-1.0..=1.0).contains(&v) || v != values[j * n_units + i] {
                    return Err(GraphError::Config {
                        field: "correlation",
                        problem: format!(
                            "entry ({i}, {j}) = {v} is outside [-1, 1] or not symmetric"
                        ),
                    });
                }
            }
        }
        Ok(Correlation { n_units, r: values })
    }

    /// Number of neurons.
    pub fn n_units(&self) -> usize {
        self.n_units
    }

    /// `R_ij`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.r[i * self.n_units + j]
    }

    /// Whether neuron `i` varied in the window (its diagonal entry is 1, not 0).
    pub fn is_active(&self, i: usize) -> bool {
        self.get(i, i) != 0.0
    }

    /// All entries, row-major.
    pub fn values(&self) -> &[f64] {
        &self.r
    }

    /// All entries as f32, row-major (the form stored in a [`super::GraphWindow`]).
    pub fn to_f32(&self) -> Vec<f32> {
        self.r.iter().map(|&v| v as f32).collect()
    }
}

/// Checks that `rows` (row-major counts, `n_units > 0` a row) holds whole rows, and returns
/// how many: the one shape rule of every function that takes a window's bins as a flat slice.
pub(crate) fn check_whole_rows(n_units: usize, rows: &[u32]) -> Result<usize, GraphError> {
    if !rows.len().is_multiple_of(n_units) {
        return Err(GraphError::Counts {
            field: "data",
            problem: format!(
                "holds {} counts, not a whole number of rows of {n_units} units",
                rows.len()
            ),
        });
    }
    Ok(rows.len() / n_units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_index_walks_the_triangle_in_order() {
        let n = 5;
        let mut k = 0;
        for i in 0..n {
            for j in i..n {
                assert_eq!(packed(n, i, j), k);
                k += 1;
            }
        }
        assert_eq!(k, n * (n + 1) / 2);
    }

    #[test]
    fn spill_keeps_products_exact() {
        // Counts near 2^32 overflow u64 products after one bin: every push spills.
        let big = u32::MAX;
        let rows = [big, big - 1, 3, big, big, 0, 1, 2, big];
        let s = WindowSums::from_rows(3, &rows).unwrap();
        let want = |i: usize, j: usize| -> u128 {
            (0..3)
                .map(|t| u128::from(rows[t * 3 + i]) * u128::from(rows[t * 3 + j]))
                .sum()
        };
        for i in 0..3 {
            for j in 0..3 {
                assert_eq!(s.product(i, j), want(i, j), "({i},{j})");
            }
        }
        assert!(s.variance_numerator(0) >= 0);
    }

    #[test]
    fn dense_and_sparse_paths_agree_and_both_spill() {
        let big = u32::MAX;
        // Rows of every density, with values large enough to spill on either path.
        let rows: [[u32; 5]; 6] = [
            [big, 0, 0, 0, 0],
            [0, 0, 3, 0, big],
            [1, 2, 3, 4, 5],
            [big, big, 0, big, 7],
            [0, 0, 0, 0, 0],
            [0, 9, 0, 0, 0],
        ];
        let mut dense = WindowSums::new(5);
        let mut sparse = WindowSums::new(5);
        for row in &rows {
            dense.push_dense(row);
            let nz: Vec<(usize, u64)> = row
                .iter()
                .enumerate()
                .filter(|&(_, &x)| x != 0)
                .map(|(i, &x)| (i, u64::from(x)))
                .collect();
            sparse.push_nonzero(&nz);
        }
        assert!(!dense.spilled.is_empty() && !sparse.spilled.is_empty());
        for i in 0..5 {
            assert_eq!(dense.sum(i), sparse.sum(i));
            for j in 0..5 {
                let want: u128 = rows
                    .iter()
                    .map(|r| u128::from(r[i]) * u128::from(r[j]))
                    .sum();
                assert_eq!(dense.product(i, j), want);
                assert_eq!(sparse.product(i, j), want);
            }
        }
    }

    #[test]
    fn row_length_is_checked() {
        let mut s = WindowSums::new(3);
        assert_eq!(
            s.push(&[1, 2]),
            Err(GraphError::RowLength {
                expected: 3,
                got: 2
            })
        );
    }

    #[test]
    fn constant_neuron_has_zero_correlation() {
        let rows = [2, 0, 2, 1, 2, 3, 2, 1];
        let c = WindowSums::from_rows(2, &rows).unwrap().correlation();
        assert_eq!(c.get(0, 1), 0.0);
        assert!(!c.is_active(0));
        assert!(c.is_active(1));
    }
}
