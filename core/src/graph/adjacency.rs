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

/// Largest degree `d` (self loop counted) of [`SCALE`]: a graph of up to 64 neurons with the
/// history node has degrees up to 65 (the step's fast neighbour walk, `N <= 64`).
pub(crate) const SCALE_MAX_DEGREE: usize = 66;

/// `SCALE[d] = s(d) = ceil(2^23 / sqrt(d))` for `d = 1 ..= SCALE_MAX_DEGREE`: the smallest
/// `s` with `s² d >= 2^46`, computed at compile time (268 B of flash). `SCALE[0]` is not
/// used ([`EntryRow`] leaves a degree 0, which [`normalized_entry`] reads as 1, to it).
pub(crate) const SCALE: [u32; SCALE_MAX_DEGREE + 1] = scale_table();

/// Largest pair of degrees for which [`EntryRow`]'s single product is exact: the first pair
/// where it is not is `(133, 139)` (`scaled_entries_are_exact` checks every pair up to this
/// bound, and that it is the first).
#[cfg(test)]
const EXACT_DEGREE: u32 = 138;

const fn scale_table() -> [u32; SCALE_MAX_DEGREE + 1] {
    let mut t = [0u32; SCALE_MAX_DEGREE + 1];
    let mut d = 1;
    while d <= SCALE_MAX_DEGREE {
        // Binary search of the smallest s in 1 ..= 2^23 with s² d >= 2^46 (2^23 always is).
        let (mut lo, mut hi) = (1u64, 1u64 << 23);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if mid * mid * (d as u64) >= 1 << 46 {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        t[d] = lo as u32;
        d += 1;
    }
    t
}

/// `s(d)` ([`SCALE`]) for `1 <= d <= SCALE_MAX_DEGREE`.
#[inline(always)]
pub(crate) fn scale(d: u32) -> Option<u32> {
    if d == 0 {
        return None;
    }
    SCALE.get(d as usize).copied()
}

/// The entries `Â_ij` = [`normalized_entry`]`(d_i, d_j)` of one row `i`, bit for bit, without
/// a square root per entry where both degrees are in [`SCALE`] (up to [`SCALE_MAX_DEGREE`]:
/// every degree of a graph of up to 64 neurons); [`normalized_entry`] itself otherwise.
///
/// Why: the TAVRNN step needs every non-zero of `Â` four times a window (1,241 at N = 64 on
/// the bench graph); a root each (or a cache of them keyed by `d_i d_j`, 768 B of stack)
/// cost about 46 instructions an entry on the Cortex-M4; the two products and the exact
/// test that this replaced about 12; one 32 × 32 → 64-bit product (`UMULL`/`UMLAL`) is 2-3.
///
/// How, exactly (`docs/GRAPH.md` §4): with `s = ceil(2^23 / sqrt(d))` ([`SCALE`]),
/// `x = 2^14 / sqrt(d_i d_j)` and `x' = s_i s_j / 2^32 >= x`, the entry is
/// `floor(x' + 1/2) = (s_i s_j + 2^31) >> 32`. The excess `x' − x < (s_i + s_j + 1) / 2^32
/// < 2^-8` makes it the exact `v = floor(x + 1/2)` unless `x + 1/2` lies just below an
/// integer, which for degrees up to 138 never happens: `scaled_entries_are_exact` checks every
/// pair of degrees up to that bound (the first failure is at `(133, 139)`). The step's degrees
/// are at most 65.
#[derive(Clone, Copy)]
pub(crate) struct EntryRow {
    /// `s(d_i)`.
    s_i: u32,
}

impl EntryRow {
    /// The row of a node of degree `d_i`; `None` outside [`SCALE`] (0 or above
    /// [`SCALE_MAX_DEGREE`]).
    #[inline(always)]
    pub(crate) fn new(d_i: u32) -> Option<Self> {
        Some(EntryRow { s_i: scale(d_i)? })
    }

    /// The row of a node whose [`SCALE`] value `s_i` is already looked up (`None` for 0,
    /// the walk's mark of a node without one).
    #[inline(always)]
    pub(crate) fn from_scale(s_i: u32) -> Option<Self> {
        (s_i != 0).then_some(EntryRow { s_i })
    }

    /// [`normalized_entry`]`(d_i, d_j)`; `None` outside [`SCALE`] (never taken where the
    /// compiler sees `1 <= d_j <= SCALE_MAX_DEGREE`).
    #[inline(always)]
    pub(crate) fn entry(self, d_j: u32) -> Option<i16> {
        Some(self.entry_scaled(scale(d_j)?))
    }

    /// [`Self::entry`] with `s_j = SCALE[d_j]` already looked up (other values give other
    /// numbers, never a panic).
    #[inline(always)]
    ///
    /// Written as a signed product (the values are below 2^23, so it is the same number):
    /// the Cortex-M4's `SMMULR` is exactly `(a b + 2^31) >> 32` of two `i32`s, one
    /// instruction where the unsigned form took three (`UMLAL` and its two operands).
    pub(crate) fn entry_scaled(self, s_j: u32) -> i16 {
        ((i64::from(self.s_i as i32) * i64::from(s_j as i32) + (1 << 31)) >> 32) as i16
    }
}

/// [`normalized_entry`] through [`EntryRow`] where the degrees are in [`SCALE`], else
/// directly (graphs of more than 64 neurons, on the host).
#[inline(always)]
pub(crate) fn entry_of(row: Option<EntryRow>, d_i: u32, d_j: u32) -> i16 {
    match row.and_then(|r| r.entry(d_j)) {
        Some(v) => v,
        None => entry_beyond_scale(d_i, d_j),
    }
}

/// [`normalized_entry`] out of line.
#[cold]
#[inline(never)]
fn entry_beyond_scale(d_i: u32, d_j: u32) -> i16 {
    normalized_entry(d_i, d_j)
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

    /// [`EntryRow`] is [`normalized_entry`] for every pair of degrees, in its table and
    /// beyond it; the single product is exact for every pair up to [`EXACT_DEGREE`] and not
    /// at `(133, 139)`.
    #[test]
    fn scaled_entries_are_exact() {
        let top = 2 * SCALE_MAX_DEGREE as u32;
        for di in 0..=top {
            let row = EntryRow::new(di);
            assert_eq!(
                row.is_some(),
                (1..=SCALE_MAX_DEGREE).contains(&(di as usize))
            );
            for dj in 0..=top {
                let want = normalized_entry(di, dj);
                assert_eq!(entry_of(row, di, dj), want, "{di} {dj}");
                if let Some(r) = row {
                    let fast = r.entry(dj);
                    let inside = (1..=SCALE_MAX_DEGREE).contains(&(dj as usize));
                    assert_eq!(fast.is_some(), inside);
                    assert!(fast.is_none_or(|v| v == want), "{di} {dj}");
                }
            }
        }
        for (d, &s) in SCALE.iter().enumerate().skip(1) {
            let (s, d) = (u64::from(s), d as u64);
            assert!(
                s * s * d >= 1 << 46 && (s - 1) * (s - 1) * d < 1 << 46,
                "{d}"
            );
        }
        // The same product with the table computed up to the bound and one beyond.
        let s = |d: u64| (1u64..=1 << 23).find(|&s| s * s * d >= 1 << 46);
        let mut table = std::vec::Vec::new();
        let mut lo = 1u64 << 23;
        for d in 1..=u64::from(EXACT_DEGREE) + 1 {
            // s(d) is non-increasing in d: search down from the last one.
            while lo > 1 && (lo - 1) * (lo - 1) * d >= 1 << 46 {
                lo -= 1;
            }
            if d <= 3 {
                assert_eq!(Some(lo), s(d));
            }
            table.push(lo);
        }
        let fast = |a: u32, b: u32| {
            let p = table[a as usize - 1] * table[b as usize - 1];
            ((p + (1 << 31)) >> 32) as i16
        };
        for di in 1..=EXACT_DEGREE {
            for dj in 1..=EXACT_DEGREE {
                assert_eq!(fast(di, dj), normalized_entry(di, dj), "{di} {dj}");
            }
        }
        assert_ne!(fast(133, 139), normalized_entry(133, 139));
    }
}
