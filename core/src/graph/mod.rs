//! Streaming functional-connectivity graphs on the device: the integer twin of the trainer's
//! `graph` module (`trainer/src/graph/`), bit-exact on every target.
//!
//! Per bin, [`StreamingConnectivity::push`] adds the bin's counts into running sums; at the
//! end of a window, [`WindowCorrelation::compute`] turns them into Pearson correlations in
//! Q1.30 and [`WindowGraph::build`] into a graph (threshold, optional top-k, history node),
//! whose normalised adjacency and node features are read in Q1.14. The arithmetic and its
//! rounding are specified in `docs/GRAPH.md`; in short:
//!
//! ```text
//! per bin:     x_i = min(count_i, MAX_COUNT)
//!              S_i += x_i;  M_ij += x_i x_j  (i <= j, non-zero x only; M_ii = Q_i)
//! window end:  V_i  = n Q_i - S_i^2,  C_ij = n P_ij - S_i S_j     exact (u64 / i64)
//!              R_ij = C_ij / sqrt(V_i V_j)   in Q1.30, |error| <= 8 LSB (2^-27), 0 if V = 0
//!              edge  |R_ij| >= theta, R_ij != 0; optional top-k (union | intersection)
//!              history node N linked to every neuron
//!              Â_ij = round(2^14 / sqrt(d_i d_j))  on A + I, in Q1.14, exact
//! ```
//!
//! Capacities are const generics: `N` neurons and `T = triangle(N) = N (N + 1) / 2` entries of
//! the packed upper triangle (checked at compile time). Nothing allocates, nothing panics:
//! counts above [`MAX_COUNT`] saturate, a window longer than [`MAX_WINDOW_BINS`] bins is
//! refused with a typed error.

mod adjacency;
mod correlation;
mod edges;
mod error;
mod isqrt;
mod sums;

pub(crate) use adjacency::{entry_of, scale, EntryRow};
pub use adjacency::{normalized_entry, Q14_ONE};
pub use correlation::{WindowCorrelation, Q30_ONE};
pub use edges::{GraphSettings, Symmetrise, TopK, WindowGraph};
pub use error::ConnectivityError;
pub use isqrt::{isqrt_u32, isqrt_u64};
pub use sums::StreamingConnectivity;

/// Largest count of one neuron in one bin that is added as it is; larger counts saturate to
/// it. With `MAX_COUNT = 255` and at most [`MAX_WINDOW_BINS`] bins, every running sum fits in
/// `u32`: `65,535 × 255² = 4,261,413,375 < 2^32`. At 10 ms bins, 255 spikes is 25.5 kHz:
/// beyond any single unit, so saturation only ever touches broken input.
pub const MAX_COUNT: u16 = 255;

/// Longest window in bins (a `u16`: 655 s at 10 ms bins). The bound under which the `u32` sums
/// cannot overflow (see [`MAX_COUNT`]); a longer window is refused by
/// [`StreamingConnectivity::push`] with [`ConnectivityError::WindowFull`]. A model file's
/// window length must not exceed it.
pub const MAX_WINDOW_BINS: u32 = 65_535;

/// `n (n + 1) / 2`: the entries of the packed upper triangle (diagonal included) of an
/// `n × n` symmetric matrix, the second const generic of every type here.
pub const fn triangle(n: usize) -> usize {
    n * (n + 1) / 2
}

/// Index of `(i, j)`, `i <= j < n`, in the packed row-major upper triangle of side `n`.
#[inline(always)]
pub(crate) fn packed(n: usize, i: usize, j: usize) -> usize {
    i * (2 * n - i + 1) / 2 + (j - i)
}

/// Index of `(i, j)` in either order.
#[inline(always)]
pub(crate) fn packed_sym(n: usize, i: usize, j: usize) -> usize {
    if i <= j {
        packed(n, i, j)
    } else {
        packed(n, j, i)
    }
}

/// Calls `f(j, packed_sym(n, i, j))` for `j = 0 .. n`, in order, without a multiplication per
/// entry: down column `i` of the triangle for `j < i` (the index grows by `n − j − 1`), then
/// along row `i`.
#[inline(always)]
pub(crate) fn walk_row(n: usize, i: usize, mut f: impl FnMut(usize, usize)) {
    let mut at = i; // packed(n, 0, i)
    for j in 0..i.min(n) {
        f(j, at);
        at += n - j - 1;
    }
    if i < n {
        let start = packed(n, i, i);
        for j in i..n {
            f(j, start + (j - i));
        }
    }
}

/// Compile-time check of the `T = triangle(N)` relation of the const generics.
pub(crate) struct Shape<const N: usize, const T: usize>;

impl<const N: usize, const T: usize> Shape<N, T> {
    /// Evaluated (at compile time) by every constructor.
    pub(crate) const OK: () = assert!(
        T == triangle(N) && N >= 1 && N <= 1024,
        "T must equal triangle(N) = N (N + 1) / 2, with 1 <= N <= 1024"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_row_visits_the_symmetric_indices_in_order() {
        for n in 1..9 {
            for i in 0..n {
                let mut seen = std::vec::Vec::new();
                walk_row(n, i, |j, at| seen.push((j, at)));
                let want: std::vec::Vec<_> = (0..n).map(|j| (j, packed_sym(n, i, j))).collect();
                assert_eq!(seen, want);
            }
        }
    }
}
