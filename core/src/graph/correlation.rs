//! Pearson correlation of one window in Q1.30, from the running sums.

use super::{isqrt_u64, packed, packed_sym, Shape, StreamingConnectivity};

/// `1.0` in Q1.30: `R_q = round(R · 2^30)`, `|R_q| <= Q30_ONE`.
pub const Q30_ONE: i32 = 1 << 30;

/// The correlation matrix of one window as the packed upper triangle of `R` in Q1.30.
///
/// The diagonal holds [`Q30_ONE`] for a neuron that varied in the window and 0 for one whose
/// counts were constant (`V_i = 0`); such a neuron's correlations are all 0, as in the
/// trainer. Memory: `4 T + 4` bytes, 8.3 KB at N = 64.
#[derive(Debug, Clone)]
pub struct WindowCorrelation<const N: usize, const T: usize> {
    r: [i32; T],
    active: u32,
}

impl<const N: usize, const T: usize> Default for WindowCorrelation<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Per-neuron normalisation of `1 / sqrt(V_i)` as `r_i · 2^(e_i − 62)` (see
/// [`WindowCorrelation::compute`]); `r_i = 0` marks a neuron with `V_i = 0`.
#[derive(Clone, Copy, Default)]
pub(super) struct InvSd {
    r: u32,
    e: u32,
}

/// `V = n Q − S²` (exact: `n Q < 2^48`, `S² < 2^48`, and `V >= 0` by Cauchy–Schwarz) and its
/// inverse square root as `r · 2^(e − 62)`:
/// `m = V · 4^e` in `[2^60, 2^62)`, `s = floor(sqrt(m))` in `[2^30, 2^31)`,
/// `r = floor((2^62 − 1) / s)` in `(2^31, 2^32)`.
pub(super) fn inv_sd(n: u64, q: u32, s: u32) -> InvSd {
    let v = (n * u64::from(q)).saturating_sub(u64::from(s) * u64::from(s));
    if v == 0 {
        return InvSd::default();
    }
    let e = (v.leading_zeros() - 2) / 2; // v < 2^48: leading_zeros >= 16, e in 7..=30
    let m = v << (2 * e);
    let sd = isqrt_u64(m).max(1);
    InvSd {
        r: (((1u64 << 62) - 1) / sd) as u32,
        e,
    }
}

impl<const N: usize, const T: usize> WindowCorrelation<N, T> {
    /// All zeros (no neuron active).
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Shape::<N, T>::OK;
        WindowCorrelation {
            r: [0; T],
            active: 0,
        }
    }

    /// The correlations of the window summed in `sums`, written over `self`.
    ///
    /// With `n` bins, exact integers `V_i = n Q_i − S_i²` and `C_ij = n P_ij − S_i S_j`
    /// (`|C_ij| <= sqrt(V_i V_j)`), and `r_i, e_i` of the per-neuron normalisation
    /// `1 / sqrt(V_i) ≈ r_i 2^(e_i − 62)`, each pair of varying neurons takes
    ///
    /// ```text
    /// C' = C_ij · 2^(e_i + e_j)             |C'| < 2^62, exact
    /// c  = floor(C' / 2^31)                 i32
    /// y  = floor(c · r_i / 2^32)            i64, |y| <= 2^31
    /// R  = floor((y · r_j + 2^30) / 2^31)   round half up, then clamped to ±2^30
    /// ```
    ///
    /// Every step is a floor of an integer (arithmetic shifts), so the result is the same on
    /// every target. `|R − R_exact · 2^30| <= 8` (bound derived in `docs/GRAPH.md`, checked by the
    /// tests). Symmetric by construction (one value per pair). Costs `N` integer square
    /// roots and divisions and 4 multiplies a pair of varying neurons.
    pub fn compute(&mut self, sums: &StreamingConnectivity<N, T>) {
        let n = u64::from(sums.n_bins());
        let (inv, active) = normalisation::<N, T>(sums);
        self.active = active;
        let s = sums.sums();
        let mut start = 0usize;
        for i in 0..N {
            let len = N - i;
            let Some(row) = self.r.get_mut(start..start + len) else {
                break;
            };
            start += len;
            correlate_row(n, i, &inv, s, sums.row_products(i), row);
        }
    }

    /// `R_ij` in Q1.30, either order; 0 outside `N`.
    pub fn get(&self, i: usize, j: usize) -> i32 {
        if i >= N || j >= N {
            return 0;
        }
        self.r.get(packed_sym(N, i, j)).copied().unwrap_or(0)
    }

    /// Whether neuron `i` varied in the window (diagonal [`Q30_ONE`], not 0).
    pub fn is_active(&self, i: usize) -> bool {
        i < N && self.r.get(packed(N, i, i)).copied().unwrap_or(0) != 0
    }

    /// Number of neurons that varied in the window.
    pub fn active(&self) -> u32 {
        self.active
    }

    /// The packed upper triangle, row-major, diagonal included.
    pub fn packed(&self) -> &[i32; T] {
        &self.r
    }

    /// `R_ij` rounded to Q1.14 (`round half up of R_q / 2^16`), `|.| <= 2^14`: the form of the
    /// |R| node features.
    pub fn get_q14(&self, i: usize, j: usize) -> i16 {
        q30_to_q14(self.get(i, j))
    }

    /// Multiplies of [`Self::compute`] for `active` varying neurons: 2 a neuron for `V_i`,
    /// 4 a pair of varying neurons (integer square roots and divisions not included: `N` of
    /// each).
    pub const fn compute_macs(active: usize) -> usize {
        2 * active + 4 * (active * active.saturating_sub(1) / 2)
    }
}

/// `1 / sqrt(V_i)` of every neuron of the window summed in `sums` and the number of neurons
/// that varied (`V_i > 0`).
pub(super) fn normalisation<const N: usize, const T: usize>(
    sums: &StreamingConnectivity<N, T>,
) -> ([InvSd; N], u32) {
    let n = u64::from(sums.n_bins());
    let mut inv = [InvSd::default(); N];
    let mut active = 0u32;
    for (i, slot) in inv.iter_mut().enumerate() {
        *slot = inv_sd(n, sums.product(i, i), sums.sum(i));
        active += u32::from(slot.r != 0);
    }
    (inv, active)
}

/// Row `i` of `R` from the diagonal right (`N − i` entries of the packed triangle) into
/// `out`: the diagonal is [`Q30_ONE`] for a varying neuron, and the whole row 0 for a
/// constant one. `m` yields `P_ij` for `j = i + 1 .. N`. `R` is written as `i32`, or as its
/// two's-complement bits in a `u32` (the sums' storage, [`StreamingConnectivity::correlate_in_place`]).
#[inline(always)]
pub(super) fn correlate_row<const N: usize, E: From<Q30Bits>>(
    n: u64,
    i: usize,
    inv: &[InvSd; N],
    s: &[u32; N],
    m: impl Iterator<Item = u32>,
    out: &mut [E],
) {
    let (Some(&a), Some(&si)) = (inv.get(i), s.get(i)) else {
        return;
    };
    let Some((diag, row)) = out.split_first_mut() else {
        return;
    };
    if a.r == 0 {
        *diag = E::from(Q30Bits(0));
        row.iter_mut().for_each(|o| *o = E::from(Q30Bits(0)));
        return;
    }
    *diag = E::from(Q30Bits(Q30_ONE));
    let others = inv.get(i + 1..).unwrap_or(&[]);
    let sj = s.get(i + 1..).unwrap_or(&[]);
    for (((out, b), &sj), p) in row.iter_mut().zip(others).zip(sj).zip(m) {
        *out = E::from(Q30Bits(pair(n, p, u64::from(si) * u64::from(sj), a, *b)));
    }
}

/// A correlation `R_q` in Q1.30, on its way into `i32` storage or the sums' `u32` words.
#[derive(Clone, Copy)]
pub(super) struct Q30Bits(pub(super) i32);

impl From<Q30Bits> for i32 {
    #[inline(always)]
    fn from(v: Q30Bits) -> i32 {
        v.0
    }
}

impl From<Q30Bits> for u32 {
    #[inline(always)]
    fn from(v: Q30Bits) -> u32 {
        v.0 as u32
    }
}

/// Reads a stored correlation back as `R_q` (`i32` storage, or the bits in a `u32`).
pub(crate) trait StoredQ30: Copy {
    /// `R_q` in Q1.30.
    fn q30(self) -> i32;
}

impl StoredQ30 for i32 {
    #[inline(always)]
    fn q30(self) -> i32 {
        self
    }
}

impl StoredQ30 for u32 {
    #[inline(always)]
    fn q30(self) -> i32 {
        self as i32
    }
}

/// `R_q` of one pair (see [`WindowCorrelation::compute`]).
#[inline(always)]
fn pair(n: u64, p: u32, sisj: u64, a: InvSd, b: InvSd) -> i32 {
    if b.r == 0 {
        return 0;
    }
    // n P < 2^48 and S_i S_j < 2^48: the difference fits i64 exactly.
    let c = (n * u64::from(p)) as i64 - sisj as i64;
    // |C| 4^... : |C'| <= sqrt(m_i m_j) < 2^62; e_i + e_j <= 60.
    let c = c.wrapping_shl(a.e + b.e) >> 31; // in [-2^31, 2^31)
    let c = c as i32;
    let y = (i64::from(c).wrapping_mul(i64::from(a.r))) >> 32;
    let r = (y.wrapping_mul(i64::from(b.r)).wrapping_add(1 << 30)) >> 31;
    r.clamp(-i64::from(Q30_ONE), i64::from(Q30_ONE)) as i32
}

/// Q1.30 to Q1.14, round half up: `floor((x + 2^15) / 2^16)`.
pub(crate) fn q30_to_q14(x: i32) -> i16 {
    ((i64::from(x) + (1 << 15)) >> 16) as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::triangle;

    type S3 = StreamingConnectivity<3, { triangle(3) }>;
    type C3 = WindowCorrelation<3, { triangle(3) }>;

    #[test]
    fn known_correlations() {
        // neuron 1 = 2 x neuron 0 (R = 1), neuron 2 = 3 - neuron 0 (R = -1).
        let mut s = S3::new();
        for x in [0u16, 1, 2, 3, 1, 0] {
            s.push(&[x, 2 * x, 3 - x]).unwrap();
        }
        let mut c = C3::new();
        c.compute(&s);
        assert!((c.get(0, 1) - Q30_ONE).abs() <= 8, "{}", c.get(0, 1));
        assert!((c.get(0, 2) + Q30_ONE).abs() <= 8, "{}", c.get(0, 2));
        assert_eq!(c.get(1, 1), Q30_ONE);
        assert_eq!(c.active(), 3);
        assert_eq!(c.get_q14(0, 1), 1 << 14);
    }

    #[test]
    fn a_constant_neuron_has_no_correlation() {
        let mut s = S3::new();
        for x in [0u16, 1, 2, 3] {
            s.push(&[2, x, 4 - x]).unwrap();
        }
        let mut c = C3::new();
        c.compute(&s);
        assert_eq!(c.get(0, 0), 0);
        assert_eq!(c.get(0, 1), 0);
        assert!(!c.is_active(0));
        assert!(c.is_active(1));
        assert_eq!(c.active(), 2);
    }
}
