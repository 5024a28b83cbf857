//! Which pairs of neurons are linked in a window: threshold, optional top-k per node, history
//! node. The integer twin of the trainer's `graph::edges` (same candidates, same tie rule).

use super::correlation::StoredQ30;
use super::{
    packed, packed_sym, walk_row, ConnectivityError, Shape, StreamingConnectivity,
    WindowCorrelation, Q30_ONE,
};

/// How the per-node top-k selections become one undirected graph (as the trainer's
/// `Symmetrise`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symmetrise {
    /// Edge `i–j` when `i` selects `j` or `j` selects `i`.
    Union,
    /// Edge `i–j` when `i` selects `j` and `j` selects `i`.
    Intersection,
}

/// Keep only the `k` strongest candidate edges of each node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopK {
    /// Candidates each node selects, by `|R|` descending, equal `|R|` to the lower index.
    pub k: u16,
    /// How the selections are made symmetric.
    pub symmetrise: Symmetrise,
}

/// The graph settings of a window (the device's copy of the trainer's `GraphConfig`, less
/// the window lengths and the surrogate test, which the device does not run).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphSettings {
    /// Edge threshold on `|R|` in Q1.30, `0..=2^30`: a pair is a candidate when
    /// `|R_q| >= theta_q30` and `R_q != 0`. From a real threshold use
    /// [`GraphSettings::theta_q30_from`] (`ceil(theta · 2^30)`).
    pub theta_q30: i32,
    /// Optional top-k per node.
    pub top_k: Option<TopK>,
    /// Add the history node (index `N`), linked to every neuron.
    pub history_node: bool,
}

impl GraphSettings {
    /// `ceil(theta · 2^30)`: for an integer `R_q`, `R_q >= theta · 2^30` exactly when
    /// `R_q >= ceil(theta · 2^30)`, so the threshold means what the trainer's `|R| >= theta`
    /// means. `theta` must lie in `[0, 1]`.
    pub fn theta_q30_from(theta: f64) -> Result<i32, ConnectivityError> {
        if !(0.0..=1.0).contains(&theta) {
            return Err(ConnectivityError::Setting {
                field: "theta",
                problem: "must lie in [0, 1]",
            });
        }
        Ok(libm::ceil(theta * f64::from(Q30_ONE)) as i32)
    }

    fn validate(&self) -> Result<(), ConnectivityError> {
        if !(0..=Q30_ONE).contains(&self.theta_q30) {
            return Err(ConnectivityError::Setting {
                field: "theta_q30",
                problem: "must lie in 0..=2^30",
            });
        }
        if matches!(self.top_k, Some(TopK { k: 0, .. })) {
            return Err(ConnectivityError::Setting {
                field: "top_k.k",
                problem: "must be at least 1",
            });
        }
        Ok(())
    }
}

/// Bit of a pair's flags: the pair is an edge.
const EDGE: u8 = 1;
/// Bit of the pair `(i, j)`, `i < j`: `i` selected `j` (top-k).
const LOW_SELECTS: u8 = 2;
/// Bit of the pair `(i, j)`, `i < j`: `j` selected `i` (top-k).
const HIGH_SELECTS: u8 = 4;

/// The graph of one window on `N` neurons (plus the history node when enabled), as a packed
/// triangle of pair flags and the degrees. Memory: `T + 2 N + 8` bytes, 2.2 KB at N = 64.
#[derive(Debug, Clone)]
pub struct WindowGraph<const N: usize, const T: usize> {
    flags: [u8; T],
    degree: [u16; N],
    history: bool,
    edges: u32,
}

impl<const N: usize, const T: usize> Default for WindowGraph<N, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const T: usize> WindowGraph<N, T> {
    /// A graph without edges and without history node.
    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Shape::<N, T>::OK;
        WindowGraph {
            flags: [0; T],
            degree: [0; N],
            history: false,
            edges: 0,
        }
    }

    /// Builds the graph of `corr` with `settings`, written over `self` (left unchanged when
    /// the settings are refused).
    ///
    /// Candidates: pairs `i != j` with `R_q != 0` and `|R_q| >= theta_q30`. Without top-k they
    /// are the edges. With top-k, node `i` selects its `k` candidates of largest `|R_q|`,
    /// equal `|R_q|` to the lower index (all of them if it has fewer), and the selections are
    /// combined by union or intersection: the trainer's rule, on the integer `R_q`.
    ///
    /// Cost: one pass over the `T` pairs; with top-k, `k` passes over the `N − 1` others of
    /// each node (`k N²` comparisons).
    pub fn build(
        &mut self,
        corr: &WindowCorrelation<N, T>,
        settings: &GraphSettings,
    ) -> Result<(), ConnectivityError> {
        self.build_packed(corr.packed(), settings)
    }

    /// [`Self::build`] on the correlations that
    /// [`StreamingConnectivity::correlate_in_place`] left in `sums`: the same graph, bit for
    /// bit. Refused with [`ConnectivityError::Correlated`] while `sums` still holds sums.
    pub fn build_from_sums(
        &mut self,
        sums: &StreamingConnectivity<N, T>,
        settings: &GraphSettings,
    ) -> Result<(), ConnectivityError> {
        let r = sums.correlations().ok_or(ConnectivityError::Correlated)?;
        self.build_packed(r, settings)
    }

    /// [`Self::build`] from packed correlations (the tests of other modules).
    #[cfg(test)]
    pub(crate) fn build_for_tests(&mut self, r: &[i32; T], settings: &GraphSettings) {
        self.build_packed(r, settings).unwrap();
    }

    /// The graph of the packed correlation triangle `r` (`i32`, or `i32` bits in `u32`).
    fn build_packed<E: StoredQ30>(
        &mut self,
        r: &[E; T],
        settings: &GraphSettings,
    ) -> Result<(), ConnectivityError> {
        settings.validate()?;
        let theta = settings.theta_q30;
        self.history = settings.history_node;
        self.degree = [0; N];
        self.edges = 0;
        // Candidates as EDGE bits; the diagonal never is one.
        for (f, &v) in self.flags.iter_mut().zip(r) {
            let v = v.q30();
            let a = v.unsigned_abs();
            *f = u8::from(v != 0 && a >= theta as u32);
        }
        for i in 0..N {
            if let Some(f) = self.flags.get_mut(packed(N, i, i)) {
                *f = 0;
            }
        }
        if let Some(top) = settings.top_k {
            for i in 0..N {
                self.select(r, i, top.k);
            }
            for f in self.flags.iter_mut() {
                let (lo, hi) = (*f & LOW_SELECTS != 0, *f & HIGH_SELECTS != 0);
                let keep = match top.symmetrise {
                    Symmetrise::Union => lo || hi,
                    Symmetrise::Intersection => lo && hi,
                };
                *f = u8::from(keep);
            }
        }
        let mut start = 0usize;
        for i in 0..N {
            let len = N - i;
            let row = self.flags.get(start + 1..start + len).unwrap_or(&[]);
            for (j, &f) in (i + 1..N).zip(row) {
                if f & EDGE != 0 {
                    self.degree[i] = self.degree[i].saturating_add(1);
                    self.degree[j] = self.degree[j].saturating_add(1);
                    self.edges += 1;
                }
            }
            start += len;
        }
        Ok(())
    }

    /// Marks node `i`'s top-`k` candidates (candidates are the EDGE bits at this point).
    fn select<E: StoredQ30>(&mut self, r: &[E; T], i: usize, k: u16) {
        // |R_ij| of the candidates of row i, 0 elsewhere (a candidate has R != 0, so |R| >= 1).
        let mut key = [0u32; N];
        let flags = &self.flags;
        walk_row(N, i, |j, at| {
            if let (Some(kj), Some(&f), Some(&v)) = (key.get_mut(j), flags.get(at), r.get(at)) {
                if j != i && f & EDGE != 0 {
                    *kj = v.q30().unsigned_abs();
                }
            }
        });
        // The previous pick, (|R|, j): the next pick is the best key strictly below it in the
        // order "|R| descending, then index ascending".
        let mut prev: Option<(u32, usize)> = None;
        for _ in 0..k {
            let mut best: Option<(u32, usize)> = None;
            for (j, &a) in key.iter().enumerate() {
                if a == 0 {
                    continue;
                }
                if let Some((pa, pj)) = prev {
                    if !(a < pa || (a == pa && j > pj)) {
                        continue;
                    }
                }
                // j ascends, so a strictly larger |R| is needed to replace the best.
                if best.is_none_or(|(ba, _)| a > ba) {
                    best = Some((a, j));
                }
            }
            let Some((a, j)) = best else {
                break;
            };
            let bit = if i < j { LOW_SELECTS } else { HIGH_SELECTS };
            if let Some(f) = self.flags.get_mut(packed_sym(N, i, j)) {
                *f |= bit;
            }
            prev = Some((a, j));
        }
    }

    /// The pair flags (bit 0: edge), packed triangle.
    pub(crate) fn pair_flags(&self) -> &[u8; T] {
        &self.flags
    }

    /// Row `i` of `A + I` among the neurons as a bit set into `rows[i]`, for `i < N` and
    /// `i < rows.len()`: bit `j` set where `j == i` or `i` and `j` are linked (`j < 64`;
    /// the history node is not in it). `rows` must be zero on entry. One pass over the pair
    /// flags (`T` bytes), so that a walk over a row's neighbours visits only them: the TAVRNN
    /// step walks every row four times a window, and scanning the 64 candidate flags of a row
    /// (half of them a column of the packed triangle) cost about 800 instructions each time
    /// on the Cortex-M4. Once a window step.
    pub(crate) fn neuron_masks(&self, rows: &mut [u64]) {
        let mut start = 0usize;
        for i in 0..N.min(rows.len()).min(64) {
            let len = N - i;
            // The flags of (i, j), j = i + 1 .. N, as bits 0, 1, .. of `up`, read four at a
            // time from the end: the EDGE bits of four bytes, `w & 0x01010101`, times
            // 0x10204080 put flag k at bit 28 + k (no two partial products meet, so nothing
            // carries into bits 28..31).
            let flags = self.flags.get(start + 1..start + len).unwrap_or(&[]);
            let chunks = flags.chunks_exact(4);
            let mut up = 0u64;
            for &f in chunks.remainder().iter().rev() {
                up = (up << 1) | u64::from(f & EDGE);
            }
            for c in chunks.rev() {
                let w = u32::from_le_bytes([c[0], c[1], c[2], c[3]]) & 0x0101_0101;
                up = (up << 4) | u64::from(w.wrapping_mul(0x1020_4080) >> 28);
            }
            // `up << (i + 1)` and `1 << i` on the 32-bit halves: as `u64` shifts by a run-time
            // count they were two `__aeabi_llsl` calls a row on the Cortex-M4, and the walk
            // below over a `u64` 20 instructions a link (11 over the halves).
            let (lo, hi) = (up as u32, (up >> 32) as u32);
            let s = i as u32 + 1; // 1 ..= 64
            let (up_lo, up_hi) = if s >= 64 {
                (0, 0)
            } else if s >= 32 {
                (0, lo << (s - 32))
            } else {
                (lo << s, (hi << s) | (lo >> (32 - s)))
            };
            let bi = if i < 32 {
                u64::from(1u32 << i)
            } else {
                u64::from(1u32 << (i & 31)) << 32
            };
            // Bits j < i came from the rows before; the self loop; then j > i, which also
            // set bit i of the rows j.
            if let Some(r) = rows.get_mut(i) {
                *r |= bi | (u64::from(up_hi) << 32) | u64::from(up_lo);
            }
            for (half, at) in [(up_lo, 0usize), (up_hi, 32)] {
                let mut rest = half;
                while rest != 0 {
                    if let Some(r) = rows.get_mut(at + rest.trailing_zeros() as usize) {
                        *r |= bi;
                    }
                    rest &= rest - 1;
                }
            }
            start += len;
        }
    }

    /// Whether neurons `i` and `j` (both `< N`) are linked. The history node's links are
    /// given by [`Self::linked`].
    pub fn contains(&self, i: usize, j: usize) -> bool {
        i != j
            && i < N
            && j < N
            && self.flags.get(packed_sym(N, i, j)).copied().unwrap_or(0) & EDGE != 0
    }

    /// Whether nodes `i` and `j` are linked in the binary adjacency `A` (history node
    /// included; no self loops).
    pub fn linked(&self, i: usize, j: usize) -> bool {
        let h = N;
        if self.history && i != j && ((i == h && j < N) || (j == h && i < N)) {
            return true;
        }
        self.contains(i, j)
    }

    /// Neuron–neuron edges (the history node's links are not counted, as in the trainer).
    pub fn edge_count(&self) -> u32 {
        self.edges
    }

    /// Number of nodes: `N`, plus 1 with the history node.
    pub fn n_nodes(&self) -> usize {
        N + usize::from(self.history)
    }

    /// Whether the history node (index `N`) is present.
    pub fn has_history_node(&self) -> bool {
        self.history
    }

    /// Neighbours of neuron `i` among the neurons; 0 outside `N`.
    pub fn neuron_degree(&self, i: usize) -> u16 {
        self.degree.get(i).copied().unwrap_or(0)
    }

    /// `d_i = 1 + Σ_j A_ij`, the degree of node `i` in `A + I` (self loop counted); 0 for a
    /// node that does not exist.
    pub fn node_degree(&self, i: usize) -> u32 {
        let h = u32::from(self.history);
        if i < N {
            1 + u32::from(self.degree[i]) + h
        } else if i == N && self.history {
            1 + N as u32
        } else {
            0
        }
    }
}
