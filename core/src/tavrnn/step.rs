//! The window step, written once over a numeric [`Backend`]: `i16` fixed point
//! ([`super::fixed`]) and `f32` ([`super::reference`]). A disagreement between the two is
//! quantisation (weights, activations, the 4-bit ring), never a difference in the algorithm.

use super::error::TavrnnError;
use crate::format::TavrnnDims;
use crate::graph::{entry_of, packed, scale, EntryRow, WindowGraph};
use crate::kernels::{pack_neighbor, Neighbors};

/// The dense layers of the section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layer {
    EncHidden,
    EncMu,
    PhiZ,
    GruIn,
    GruRu,
    GruC,
    Query,
    Key,
    Value,
    Classifier,
}

/// Widest per-node input vector (`phi + H`, `2 phi`) and gate vector (`3 H`).
const TMP: usize = 128;
const GATES: usize = 3 * crate::format::MAX_TAVRNN_HIDDEN;
/// Propagation accumulators of one node: `Â [phi_x || phi_z]`, `Â h`, `Â (r h)` at once.
const ACCS: usize = 2 * crate::format::MAX_TAVRNN_PHI + 2 * crate::format::MAX_TAVRNN_HIDDEN;

/// The numeric half of the step.
pub(crate) trait Backend {
    /// Activation value.
    type V: Copy + Default + PartialOrd;
    /// Propagation accumulator.
    type Acc: Copy + Default;
    /// Element of the ring of past GRU outputs.
    type Cell: Copy + Default;

    /// Dimensions (validated).
    fn dims(&self) -> &TavrnnDims;
    /// Ring cells one node of one state takes.
    fn ring_row_cells(&self) -> usize;
    /// `acc[c] = Σ_k Â_{i,j_k} · x[j_k][c]` for `c < acc.len()` over the neighbours
    /// `(j_k, Â_{i,j_k})` of `nb` (`acc[c] += …` when `!first`: a row's neighbours come in
    /// batches), `Â` entries in Q1.14, `x` node-major with rows of `width`; each sum in
    /// neighbour order.
    fn prop(
        &self,
        nb: &Neighbors<'_>,
        x: &[Self::V],
        width: usize,
        acc: &mut [Self::Acc],
        first: bool,
    );
    /// [`Backend::prop`] of the identity features `phi_x` (the section's table).
    fn prop_phi_x(&self, nb: &Neighbors<'_>, acc: &mut [Self::Acc], first: bool);
    /// [`Backend::prop`] of a row's only batch followed by [`Backend::finish`] for the
    /// pieces of the row (the matrices propagated over `nb`), in one, where the backend has
    /// a way: returns the pieces done, bit `k` for `pieces[k]` (their `out` written, their
    /// `acc` unused); the caller goes through `prop` and `finish` for the others.
    fn prop_final(&self, nb: &Neighbors<'_>, pieces: &mut [Piece<'_, Self::V>]) -> u32 {
        let _ = (nb, pieces);
        0
    }
    /// `out[i]` = the accumulated propagation `acc[i] = Σ_j Â_ij v_j`, in the format of the
    /// values summed scaled down by the propagation headroom ([`super::propagation_shift`])
    /// in fixed point, over the common length of `acc` and `out`. A slice at a time: one
    /// tight loop instead of one per call site around a per-value conversion.
    fn finish(&self, acc: &[Self::Acc], out: &mut [Self::V]);
    /// `out[i] = (W x + b)[row0 + i]` of `layer`.
    fn dense(&self, layer: Layer, row0: usize, x: &[Self::V], out: &mut [Self::V]);
    /// `max(v, 0)`.
    fn relu(v: Self::V) -> Self::V;
    /// `sigmoid(a + b)` of two gate pre-activations.
    fn sigmoid(a: Self::V, b: Self::V) -> Self::V;
    /// `tanh(a + b)` of two pre-activations.
    fn tanh(a: Self::V, b: Self::V) -> Self::V;
    /// Product of two Q15 (unit-range) values.
    fn mul(a: Self::V, b: Self::V) -> Self::V;
    /// `c + u (h − c)`.
    fn blend(c: Self::V, u: Self::V, h: Self::V) -> Self::V;
    /// GRU pass 1's `r h`: [`Backend::mul`] of `sigmoid(a + b)` and `h`. A backend may
    /// compute the same value another way.
    #[inline(always)]
    fn reset_mul(a: Self::V, b: Self::V, h: Self::V) -> Self::V {
        Self::mul(Self::sigmoid(a, b), h)
    }
    /// GRU pass 2's output: [`Backend::blend`] of `c = tanh(xc + hc)`, `u = sigmoid(xu + hu)`
    /// and `h`. A backend may compute the same value another way.
    #[inline(always)]
    fn update(xu: Self::V, hu: Self::V, xc: Self::V, hc: Self::V, h: Self::V) -> Self::V {
        Self::blend(Self::tanh(xc, hc), Self::sigmoid(xu, hu), h)
    }
    /// `|v|`, as [`Backend::ring_store`]'s `max_abs` sums it up.
    fn magnitude(v: Self::V) -> u32;
    /// GRU pass 1's row: `out[k]` = [`Backend::reset_mul`]`(gx[k], gh[k], h[k])` for
    /// `k < out.len()`. A row at a time: a backend may have a faster way.
    fn reset_row(gx: &[Self::V], gh: &[Self::V], h: &[Self::V], out: &mut [Self::V]) {
        reset_row_by_values::<Self>(gx, gh, h, out);
    }
    /// `v[k] =` [`Backend::relu`]`(v[k])` in place. A row at a time: a backend may have a
    /// faster way.
    fn relu_row(v: &mut [Self::V]) {
        relu_row_by_values::<Self>(v);
    }
    /// `v[k] = tanh(v[k])` ([`Backend::tanh`] of `v[k]` and 0) in place. A row at a time:
    /// a backend may have a faster way.
    fn tanh_row(v: &mut [Self::V]) {
        tanh_row_by_values::<Self>(v);
    }
    /// GRU pass 2's row in place: `gh[k]` = [`Backend::update`]`(gx[k], gh[k], gx[hd + k],
    /// gh[hd + k], h[k])` for `k < hd = h.len()` (`gx`, `gh`: the gates' `u | c` halves);
    /// returns the largest [`Backend::magnitude`] of the values written. A row at a time: a
    /// backend may have a faster way than the per-value loop ([`update_row_by_values`]).
    fn update_row(gx: &[Self::V], gh: &mut [Self::V], h: &[Self::V]) -> u32 {
        update_row_by_values::<Self>(gx, gh, h)
    }
    /// Stores one node's GRU output row into its ring cells of ring slot `slot`; `max_abs`
    /// is the largest [`Backend::magnitude`] of the row (taken in the loop that makes it).
    fn ring_store(&self, slot: usize, cells: &mut [Self::Cell], row: &[Self::V], max_abs: u32);
    /// `out += alpha · row` of one ring row of slot `slot` into accumulators (one per hidden
    /// unit).
    fn ring_mix(&self, slot: usize, cells: &[Self::Cell], alpha: Self::V, acc: &mut [Self::Acc]);
    /// Node `j`'s mixed row: `out[c]` = [`Backend::mix_finish`] of the accumulated
    /// [`Backend::ring_mix`] of its rows in the slots `0 .. alpha.len()` of `ring`
    /// (`slot_cells` cells a slot), `c < out.len()`; `acc` is scratch (at least
    /// `out.len()`). A backend may compute the same values another way.
    fn mix_node(
        &self,
        ring: &[Self::Cell],
        slot_cells: usize,
        j: usize,
        alpha: &[Self::V],
        acc: &mut [Self::Acc],
        out: &mut [Self::V],
    ) {
        mix_node_by_slots(self, ring, slot_cells, j, alpha, acc, out);
    }
    /// The mixed row from the accumulators of [`Backend::ring_mix`].
    fn mix_finish(acc: Self::Acc) -> Self::V;
    /// Attention score of query `q` and key `k` (`q·k / sqrt(H)`).
    fn score(&self, q: &[Self::V], k: &[Self::V]) -> Self::V;
    /// `alpha = softmax(scores)`.
    fn softmax(scores: &[Self::V], alpha: &mut [Self::V]);
}

/// Word-aligned storage: the dense layers' input vectors, which the Cortex-M4 kernel
/// ([`crate::kernels::VecX8`]) reads with `LDM` (other alignments take the general kernels).
#[repr(C, align(4))]
struct Aligned<A>(A);

/// `r h` and where its propagation goes, in GRU pass 2 ([`StepCore::step`]).
type RhOut<'a, V> = Option<(&'a [V], &'a mut [V])>;

/// One of the propagations of a row: `Â x` into `out`, `x` node-major with rows of
/// `out.len()` values, or (`None`) the section's identity features `phi_x`. Two slices, 16
/// bytes: the step's closures hold up to 4 on the stack (with the sums' slice and the width
/// as well it took 32 a piece, 64 B more of stack at the peak).
pub(crate) struct Piece<'a, V> {
    pub(crate) x: Option<&'a [V]>,
    pub(crate) out: &'a mut [V],
}

/// Calls `f(j, Â_ij)` for every `j` with `Â_ij != 0` (the self loop included), in increasing
/// `j`: the plain definition ([`WindowGraph::normalized`]) that the walk is tested against.
#[cfg(test)]
pub(crate) fn for_neighbors<const N: usize, const T: usize>(
    g: &WindowGraph<N, T>,
    i: usize,
    mut f: impl FnMut(usize, i16),
) {
    for j in 0..g.n_nodes() {
        let a = g.normalized(i, j);
        if a != 0 {
            f(j, a);
        }
    }
}

/// Neighbours gathered per call of [`for_neighbor_batches`]' consumer: the history node's
/// row at N = 64 (65 neighbours) in one batch.
const NB_BATCH: usize = 72;

/// Neurons of the bit-set walk ([`masked_row`]): a neuron's neighbours among the neurons in
/// one `u64`. Larger graphs (the host only) take the general walk.
const MASK_NEURONS: usize = 64;

/// The step's neighbour-walk state, made once per step: the batch buffer of
/// [`for_neighbor_batches`] (zeroing it for every row of every pass was a `memclr` of 288
/// bytes each time: 0.21 M instructions a step at N = 64), and, for `N <= 64`, each neuron's
/// neighbours among the neurons as a bit set ([`WindowGraph::neuron_masks`], 512 B of stack;
/// the cache of `Â` entries it replaced took 768 B).
pub(crate) struct Walk {
    /// The batch: packed neighbours ([`pack_neighbor`]).
    nb: [u32; NB_BATCH],
    /// Row `i` of `A + I` among the neurons (bit `j`), for `N <= MASK_NEURONS`.
    rows: [u64; MASK_NEURONS],
    /// Node `j`'s `SCALE[d_j]` ([`EntryRow::entry_scaled`]; 0 for a degree outside the
    /// table), for `N <= MASK_NEURONS` (the history node last): one load per neighbour, and
    /// fewer registers in the walk's loop than the degree, the table and their bounds (260 B
    /// of stack for about 20,000 instructions a step).
    nodes: [u32; MASK_NEURONS + 1],
}

impl Walk {
    fn new() -> Self {
        Walk {
            nb: [0; NB_BATCH],
            rows: [0; MASK_NEURONS],
            nodes: [0; MASK_NEURONS + 1],
        }
    }

    /// Sets the bit sets and the nodes' scales up for graph `g` (nothing to do for
    /// `N > 64`).
    fn load<const N: usize, const T: usize>(&mut self, g: &WindowGraph<N, T>) {
        if N <= MASK_NEURONS {
            self.rows = [0; MASK_NEURONS];
            g.neuron_masks(&mut self.rows);
            for (j, w) in self.nodes.iter_mut().enumerate() {
                // At most N + 1 <= 65 for N <= 64 (inside SCALE), so the 0 is only ever
                // stored for a node that does not exist (never walked).
                let d = g.node_degree(j);
                *w = scale(d).unwrap_or(0);
            }
        }
    }
}

/// Consumer of [`for_neighbor_batches`]: `f(neighbours, first)`.
type BatchFn<'f> = dyn FnMut(&Neighbors<'_>, bool, bool) + 'f;

/// Calls `f(neighbours, first, last)` for the neighbours of row `i` (`for_neighbors`, in
/// order, with the same values) in batches of up to [`NB_BATCH`]; `first` on the first
/// batch, `last` on the last, and one empty first (and last) batch for a row without
/// neighbours, so that the consumer always initialises and finishes its sums. The graph
/// must be the `walk`'s.
///
/// Why batches: the propagation kernels walk the neighbour list once per block of columns
/// and keep the block's sums in registers ([`crate::kernels::propagate_i16`]), which needs
/// the list, not a callback per neighbour; the list is packed and checked
/// ([`Neighbors::new`]) once here for all the row's propagations.
///
/// Out of line, with the consumer behind `dyn`: one copy of the neighbour walk instead of
/// one inlined into each of the step's three propagation sites (2.6 KB of flash); the
/// consumer is called once or twice a row.
#[inline(never)]
fn for_neighbor_batches<const N: usize, const T: usize>(
    g: &WindowGraph<N, T>,
    i: usize,
    walk: &mut Walk,
    f: &mut BatchFn<'_>,
) {
    if N <= MASK_NEURONS {
        masked_row(g, i, walk, f);
    } else {
        for_batches_general(g, i, &mut walk.nb, f);
    }
}

/// [`for_neighbor_batches`] in plain loops over the pair flags, for N > 64 (the host; not
/// compiled for the device): the same neighbours, values and order as `for_neighbors`; the
/// loops only collect the nodes (`Batch::flush` adds the entries).
fn for_batches_general<const N: usize, const T: usize>(
    g: &WindowGraph<N, T>,
    i: usize,
    nb: &mut [u32; NB_BATCH],
    f: &mut BatchFn<'_>,
) {
    let mut b = Batch {
        nb,
        len: 0,
        first: true,
    };
    if i == N && g.has_history_node() {
        for j in 0..=N {
            b.push(g, i, j, f);
        }
    } else if i < N {
        let flags = g.pair_flags();
        // j < i: the flag of (j, i) at `packed(N, j, i)`, which grows by `N - j - 1`.
        let mut at = i;
        for j in 0..i {
            if flags.get(at).is_some_and(|&fl| fl & 1 != 0) {
                b.push(g, i, j, f);
            }
            at += N - j - 1;
        }
        // The self loop, then j > i: the flags of (i, j) follow (i, i) in row i.
        b.push(g, i, i, f);
        let start = packed(N, i, i) + 1;
        let row = flags.get(start..start + (N - 1 - i)).unwrap_or(&[]);
        for (k, &fl) in row.iter().enumerate() {
            if fl & 1 != 0 {
                b.push(g, i, i + 1 + k, f);
            }
        }
        if g.has_history_node() {
            b.push(g, i, N, f);
        }
    }
    if b.len > 0 || b.first {
        b.flush(g, i, f, true);
    }
}

/// [`for_neighbor_batches`] for `N <= 64` (the device), a row in one batch (at most 65
/// neighbours): the neurons from the row's bit set in increasing order (count trailing
/// zeros, then clear the lowest bit), then the history node, each packed with its entry from
/// [`EntryRow`] as it is found.
///
/// Why: scanning the row's 64 flag bytes and then computing the entries through a cache
/// keyed by `d_i d_j` cost about 90 instructions per neighbour (0.45 M a window step on the
/// bench graph); the bit set visits only the neighbours, and [`EntryRow`] takes one
/// 32 × 32 → 64-bit product per entry.
#[inline(always)]
fn masked_row<const N: usize, const T: usize>(
    g: &WindowGraph<N, T>,
    i: usize,
    walk: &mut Walk,
    f: &mut BatchFn<'_>,
) {
    let history = g.has_history_node();
    let Walk { nb, rows, nodes } = walk;
    let node = |j: usize| nodes.get(j).copied().unwrap_or(0);
    let w_i = node(i);
    // Every neuron's degree is at most N + 1 <= 65, inside `SCALE`, so only a node that does
    // not exist (i > N, or i = N without the history node) has no row: no neighbours.
    let Some(row) = EntryRow::from_scale(w_i) else {
        f(&Neighbors::new(&[]), true, true);
        return;
    };
    let entry = |s: u32| row.entry_scaled(s);
    let mut len = 0usize;
    if i == N {
        for (j, (s, &w)) in nb.iter_mut().zip(nodes.iter()).enumerate().take(N) {
            *s = pack_neighbor(j as u16, entry(w));
        }
        len = N;
    } else if let (Some(&m), Some((slots, _))) =
        (rows.get(i), nb.split_first_chunk_mut::<MASK_NEURONS>())
    {
        // The two halves as `u32`: the Cortex-M4 has 32-bit registers. A `u64` has at most
        // 64 bits set, so `len < 64` at every store (`& 63` changes nothing, and spares a
        // bounds check per neighbour).
        for (half, at) in [(m as u32, 0usize), ((m >> 32) as u32, 32)] {
            let mut bits = half;
            while bits != 0 {
                let j = at + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let a = entry(node(j));
                slots[len & (MASK_NEURONS - 1)] = pack_neighbor(j as u16, a);
                len += 1;
            }
        }
    }
    if history {
        if let Some(s) = nb.get_mut(len) {
            *s = pack_neighbor(N as u16, entry(node(N)));
            len += 1;
        }
    }
    f(&Neighbors::new(part(&nb[..], 0, len)), true, true);
}

/// The batch being filled by the general walk of [`for_neighbor_batches`]: nodes `j << 16`
/// until [`Batch::flush`] writes their `Â_ij` in.
struct Batch<'w> {
    nb: &'w mut [u32; NB_BATCH],
    len: usize,
    first: bool,
}

impl Batch<'_> {
    /// Adds node `j` of row `i`, handing a full batch to `f` first.
    #[inline(always)]
    fn push<const N: usize, const T: usize>(
        &mut self,
        g: &WindowGraph<N, T>,
        i: usize,
        j: usize,
        f: &mut BatchFn<'_>,
    ) {
        if self.len == NB_BATCH {
            self.flush(g, i, f, false);
        }
        if let Some(s) = self.nb.get_mut(self.len) {
            *s = (j.min(u16::MAX as usize) as u32) << 16;
            self.len += 1;
        }
    }

    /// The entries `Â_ij` ([`EntryRow`]) of the batch's nodes, and `f` on them
    /// (`last`: the row's last batch).
    #[inline(never)]
    fn flush<const N: usize, const T: usize>(
        &mut self,
        g: &WindowGraph<N, T>,
        i: usize,
        f: &mut BatchFn<'_>,
        last: bool,
    ) {
        let d_i = g.node_degree(i);
        let row = EntryRow::new(d_i);
        let nb = Neighbors::fill(part_mut(&mut self.nb[..], 0, self.len), |j| {
            entry_of(row, d_i, g.node_degree(j))
        });
        f(&nb, self.first, last);
        self.first = false;
        self.len = 0;
    }
}

/// The propagations of a row's batch, the pieces of the row: the sums into `acc`
/// ([`Backend::prop`], [`Backend::prop_phi_x`]; each piece takes the next `out.len()`
/// accumulators), and at the last batch their values into its `out` ([`Backend::finish`]);
/// a row in one batch straight into the `out`s where the backend can
/// ([`Backend::prop_final`], one call for all the pieces).
///
/// Inlined, with the general path out of line ([`pieces_rest`]): the rows of the bench's
/// graphs are all done by `prop_final`; heavy rows (see `kernels::propagate`'s `i32`
/// bound), other widths and unaligned buffers take `pieces_rest` (the walk over the pieces
/// inlined into the three closures took 8,500 instructions a window step, or 470 B of flash
/// with the early return inlined too).
#[inline(always)]
fn pieces<B: Backend>(
    be: &B,
    nb: &Neighbors<'_>,
    ps: &mut [Piece<'_, B::V>],
    acc: &mut [B::Acc],
    first: bool,
    last: bool,
) {
    let done = if first && last {
        be.prop_final(nb, ps)
    } else {
        0
    };
    if ps.len() >= 32 || done != (1 << ps.len()) - 1 {
        pieces_rest(be, nb, ps, acc, done, first, last);
    }
}

/// The pieces of [`pieces`] that `prop_final` did not do (bit `k` of `done` for `ps[k]`).
#[inline(never)]
fn pieces_rest<B: Backend>(
    be: &B,
    nb: &Neighbors<'_>,
    ps: &mut [Piece<'_, B::V>],
    acc: &mut [B::Acc],
    done: u32,
    first: bool,
    last: bool,
) {
    let mut acc = acc;
    for (k, p) in ps.iter_mut().enumerate() {
        let width = p.out.len();
        let take = width.min(acc.len());
        let (a, rest) = core::mem::take(&mut acc).split_at_mut(take);
        acc = rest;
        if k < 32 && done >> k & 1 != 0 {
            continue;
        }
        match p.x {
            None => be.prop_phi_x(nb, a, first),
            Some(x) => be.prop(nb, x, width, a, first),
        }
        if last {
            be.finish(a, p.out);
        }
    }
}

/// [`Backend::mix_node`] slot by slot through [`Backend::ring_mix`].
pub(crate) fn mix_node_by_slots<B: Backend + ?Sized>(
    be: &B,
    ring: &[B::Cell],
    slot_cells: usize,
    j: usize,
    alpha: &[B::V],
    acc: &mut [B::Acc],
    out: &mut [B::V],
) {
    let row = be.ring_row_cells();
    let hd = out.len();
    clear(acc, hd);
    for (slot, &a) in alpha.iter().enumerate() {
        let cells = part(ring, slot * slot_cells + j * row, row);
        be.ring_mix(slot, cells, a, part_mut(acc, 0, hd));
    }
    for (m, &a) in out.iter_mut().zip(acc.iter()) {
        *m = B::mix_finish(a);
    }
}

/// [`Backend::reset_row`] value by value (the default, and a backend's fallback).
pub(crate) fn reset_row_by_values<B: Backend + ?Sized>(
    gx: &[B::V],
    gh: &[B::V],
    h: &[B::V],
    out: &mut [B::V],
) {
    for (((o, &a), &b), &hv) in out.iter_mut().zip(gx).zip(gh).zip(h) {
        *o = B::reset_mul(a, b, hv);
    }
}

/// [`Backend::relu_row`] value by value (the default, and a backend's fallback).
pub(crate) fn relu_row_by_values<B: Backend + ?Sized>(v: &mut [B::V]) {
    v.iter_mut().for_each(|x| *x = B::relu(*x));
}

/// [`Backend::tanh_row`] value by value (the default, and a backend's fallback).
pub(crate) fn tanh_row_by_values<B: Backend + ?Sized>(v: &mut [B::V]) {
    for x in v.iter_mut() {
        *x = B::tanh(*x, B::V::default());
    }
}

/// [`Backend::update_row`] value by value (the default, and a backend's fallback).
pub(crate) fn update_row_by_values<B: Backend + ?Sized>(
    gx: &[B::V],
    gh: &mut [B::V],
    h: &[B::V],
) -> u32 {
    let hd = h.len();
    let (gxu, gxc) = gx.split_at(hd.min(gx.len()));
    let (ghu, ghc) = gh.split_at_mut(hd.min(gh.len()));
    let mut max_abs = 0u32;
    for ((((o, &hv), &xu), &xc), &hc) in ghu.iter_mut().zip(h).zip(gxu).zip(gxc).zip(&*ghc) {
        let v = B::update(xu, *o, xc, hc, hv);
        max_abs = max_abs.max(B::magnitude(v));
        *o = v;
    }
    max_abs
}

/// Sets the first `len` accumulators to zero: only the part a row uses, not the whole
/// capacity (clearing the full-capacity arrays each row cost 0.94 M instructions a step at
/// N = 64, more than the square roots).
#[inline(always)]
fn clear<A: Copy + Default>(acc: &mut [A], len: usize) {
    part_mut(acc, 0, len)
        .iter_mut()
        .for_each(|a| *a = A::default());
}

/// Elements of the scratch buffer one step needs: `mu`, `phi_z`, `h` and a work area of
/// `max(H, d_enc)` per node.
pub fn scratch_len(d: &TavrnnDims) -> usize {
    d.nodes * (d.latent + d.phi + d.hidden + d.hidden.max(d.enc))
}

/// What one window step reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOutput {
    /// Behaviour class: the first highest classifier score.
    pub class: u8,
    /// States the attention mixed to form this window's `h_{t-1}` (0 at the first window).
    pub attended: u8,
}

/// Recurrent state and step logic over a backend. `RING`: ring cells (`w · nodes ·
/// ring_row_cells`), `KEYS`: `(w + 1) · H` (the keys of the ring states, then the query of
/// the newest).
#[derive(Debug, Clone)]
pub(crate) struct StepCore<B: Backend, const RING: usize, const KEYS: usize> {
    pub(crate) backend: B,
    ring: [B::Cell; RING],
    keys: [B::V; KEYS],
    /// States in the ring (`<= w`).
    count: usize,
    /// Slot the next state goes to.
    next: usize,
}

/// `s[from .. from + len]`, or empty (never taken for validated sizes).
#[inline(always)]
fn part<T>(s: &[T], from: usize, len: usize) -> &[T] {
    s.get(from..from.saturating_add(len)).unwrap_or(&[])
}

#[inline(always)]
fn part_mut<T>(s: &mut [T], from: usize, len: usize) -> &mut [T] {
    s.get_mut(from..from.saturating_add(len)).unwrap_or(&mut [])
}

impl<B: Backend, const RING: usize, const KEYS: usize> StepCore<B, RING, KEYS> {
    /// A core at the start of a recording. The caller has checked the capacities.
    pub(crate) fn new(backend: B) -> Self {
        StepCore {
            backend,
            ring: [B::Cell::default(); RING],
            keys: [B::V::default(); KEYS],
            count: 0,
            next: 0,
        }
    }

    /// Back to the start of a recording (empty ring, `h = 0`).
    pub(crate) fn reset(&mut self) {
        self.count = 0;
        self.next = 0;
    }

    /// States in the ring.
    pub(crate) fn attended(&self) -> usize {
        self.count
    }

    /// `h_{t-1}` into `h` (`nodes · H`): zero at the start, otherwise the attention over the
    /// ring, `tanh((Σ_τ α_τ h~_τ) W_v + b_v)` with `α = softmax(q · k_τ / sqrt(H))`.
    fn attend(&self, h: &mut [B::V]) {
        let d = *self.backend.dims();
        let hd = d.hidden;
        if self.count == 0 {
            h.iter_mut().for_each(|v| *v = B::V::default());
            return;
        }
        let w = d.window;
        let q = part(&self.keys, w * hd, hd);
        let mut scores = [B::V::default(); crate::format::MAX_TAVRNN_WINDOW];
        let mut alpha = [B::V::default(); crate::format::MAX_TAVRNN_WINDOW];
        let count = self.count.min(w);
        for (s, slot) in scores.iter_mut().zip(0..count) {
            *s = self.backend.score(q, part(&self.keys, slot * hd, hd));
        }
        B::softmax(part(&scores, 0, count), part_mut(&mut alpha, 0, count));
        let row = self.backend.ring_row_cells();
        let slot_cells = d.nodes * row;
        let mut mixed = Aligned([B::V::default(); TMP]);
        let mixed = &mut mixed.0;
        // At least H (`mix_node`'s scratch): not `TMP`, a 1 KB clear at N = 64.
        let mut acc = [B::Acc::default(); crate::format::MAX_TAVRNN_HIDDEN];
        for (j, hj) in h.chunks_exact_mut(hd).enumerate().take(d.nodes) {
            self.backend.mix_node(
                &self.ring,
                slot_cells,
                j,
                part(&alpha, 0, count),
                &mut acc,
                part_mut(mixed, 0, hd),
            );
            self.backend
                .dense(Layer::Value, 0, part(&*mixed, 0, hd), hj);
            B::tanh_row(hj);
        }
    }

    /// One window: `h_{t-1}` from the ring, encoder, `phi_z`, graph GRU, push of the GRU
    /// output into the ring (the attention for the next window is done at its start), and
    /// the classifier on the embedding (the neurons' `mu`, the first `N · latent` entries of
    /// `scratch` afterwards).
    pub(crate) fn step<const N: usize, const T: usize>(
        &mut self,
        g: &WindowGraph<N, T>,
        scratch: &mut [B::V],
    ) -> Result<WindowOutput, TavrnnError> {
        let d = *self.backend.dims();
        let (n, hd, lat, phi, enc) = (d.nodes, d.hidden, d.latent, d.phi, d.enc);
        if !g.has_history_node() || g.n_nodes() != n {
            return Err(TavrnnError::Graph {
                expected: n,
                got: g.n_nodes(),
                history_node: g.has_history_node(),
            });
        }
        let needed = scratch_len(&d);
        if scratch.len() < needed {
            return Err(TavrnnError::Scratch {
                needed,
                got: scratch.len(),
            });
        }
        let (mu, rest) = scratch.split_at_mut(n * lat);
        let (phiz, rest) = rest.split_at_mut(n * phi);
        let (h, work) = rest.split_at_mut(n * hd);
        let attended = self.count;
        self.attend(h);
        let h: &[B::V] = h;
        let be = &self.backend;
        let mut x = Aligned([B::V::default(); TMP]);
        let x = &mut x.0;
        // One accumulator area for every propagation; each row clears the part it uses.
        let mut acc = [B::Acc::default(); ACCS];
        let mut walk = Walk::new();
        walk.load(g);

        // Encoder: E_i = ReLU((Â [phi_x || h])_i W_e + b_e) into `work`.
        for (i, e) in work.chunks_exact_mut(enc).enumerate().take(n) {
            for_neighbor_batches(g, i, &mut walk, &mut |nb, first, last| {
                let (xx, xh) = x.split_at_mut(phi.min(TMP));
                let ps = &mut [
                    Piece { x: None, out: xx },
                    Piece {
                        x: Some(h),
                        out: part_mut(xh, 0, hd),
                    },
                ];
                pieces(be, nb, ps, &mut acc, first, last);
            });
            be.dense(Layer::EncHidden, 0, part(&*x, 0, phi + hd), e);
            B::relu_row(e);
        }
        // mu_i = (Â E)_i W_mu + b_mu; phi_z_i = ReLU(mu_i W_z + b_z).
        {
            let e: &[B::V] = work;
            for (i, (m, pz)) in mu
                .chunks_exact_mut(lat)
                .zip(phiz.chunks_exact_mut(phi))
                .enumerate()
            {
                for_neighbor_batches(g, i, &mut walk, &mut |nb, first, last| {
                    let ps = &mut [Piece {
                        x: Some(e),
                        out: part_mut(x, 0, enc),
                    }];
                    pieces(be, nb, ps, &mut acc, first, last);
                });
                be.dense(Layer::EncMu, 0, part(&*x, 0, enc), m);
                be.dense(Layer::PhiZ, 0, m, pz);
                B::relu_row(pz);
            }
        }
        let mu: &[B::V] = mu;
        let phiz: &[B::V] = phiz;

        // GRU pass 1: r_i = sigmoid(gx_r + gh_r); r_i * h_i into `work` (E is dead).
        // `acc[.. 2 phi + H]` = `Â [phi_x || phi_z || h]` of row `i`, and with `rh`, also
        // `acc[2 phi + H .. 2 phi + 2 H]` = `Â (r h)` in the same walk over the neighbours.
        // The finished values go to `x[.. 2 phi]`, `z[.. H]` and, with `rh`, `p[.. H]`.
        let propagate_inputs = |i: usize,
                                rh: RhOut<'_, B::V>,
                                acc: &mut [B::Acc; ACCS],
                                walk: &mut Walk,
                                x: &mut [B::V],
                                z: &mut [B::V]| {
            let mut rh = rh;
            for_neighbor_batches(g, i, walk, &mut |nb, first, last| {
                let (xx, xz) = x.split_at_mut(phi.min(x.len()));
                // Without `r h` the fourth piece is left out (empty).
                let (prh, pp, count): (&[B::V], &mut [B::V], usize) = match rh.as_mut() {
                    Some((rh, p)) => (rh, part_mut(p, 0, hd), 4),
                    None => (&[], &mut [], 3),
                };
                let ps = &mut [
                    Piece { x: None, out: xx },
                    Piece {
                        x: Some(phiz),
                        out: part_mut(xz, 0, phi),
                    },
                    Piece {
                        x: Some(h),
                        out: part_mut(z, 0, hd),
                    },
                    Piece {
                        x: Some(prh),
                        out: pp,
                    },
                ];
                pieces(be, nb, part_mut(ps, 0, count), &mut acc[..], first, last);
            });
        };
        let mut gx = [B::V::default(); GATES];
        // Word aligned: GRU pass 2 leaves its output row in `gh[.. H]`
        // ([`Backend::update_row`]), the input of the key and query layers.
        let mut gh = Aligned([B::V::default(); GATES]);
        let gh = &mut gh.0;
        let mut z = Aligned([B::V::default(); TMP]);
        let z = &mut z.0;
        for (i, rh) in work.chunks_exact_mut(hd).enumerate().take(n) {
            propagate_inputs(i, None, &mut acc, &mut walk, x, z);
            be.dense(
                Layer::GruIn,
                0,
                part(&*x, 0, 2 * phi),
                part_mut(&mut gx, 0, hd),
            );
            be.dense(Layer::GruRu, 0, part(&*z, 0, hd), part_mut(gh, 0, hd));
            B::reset_row(&gx, &*gh, part(h, i * hd, hd), rh);
        }
        let rh: &[B::V] = work;

        // GRU pass 2: u, c and h~ = c + u (h − c), stored into the ring slot `next` (its old
        // state was mixed into `h` above and is no longer needed).
        let w = d.window;
        let row_cells = be.ring_row_cells();
        let slot = self.next;
        let mut p = Aligned([B::V::default(); TMP]);
        let p = &mut p.0;
        for i in 0..n {
            propagate_inputs(i, Some((rh, &mut *p)), &mut acc, &mut walk, x, z);
            // gx rows H..3H: u | c; gh rows H..2H: u; the candidate's hidden part.
            be.dense(
                Layer::GruIn,
                hd,
                part(&*x, 0, 2 * phi),
                part_mut(&mut gx, 0, 2 * hd),
            );
            be.dense(Layer::GruRu, hd, part(&*z, 0, hd), part_mut(gh, 0, hd));
            be.dense(Layer::GruC, 0, part(&*p, 0, hd), part_mut(gh, hd, hd));
            // h~ into `gh[.. H]`.
            let max_abs = B::update_row(
                part(&gx, 0, 2 * hd),
                part_mut(gh, 0, 2 * hd),
                part(h, i * hd, hd),
            );
            let ht = part(&*gh, 0, hd);
            let at = (slot * n + i) * row_cells;
            be.ring_store(slot, part_mut(&mut self.ring, at, row_cells), ht, max_abs);
            if i == n - 1 {
                // The history node: this state's key, and the query of the newest state.
                let mut k = [B::V::default(); TMP];
                be.dense(Layer::Key, 0, ht, part_mut(&mut k, 0, hd));
                part_mut(&mut self.keys, slot * hd, hd).copy_from_slice(part(&k, 0, hd));
                be.dense(Layer::Query, 0, ht, part_mut(&mut self.keys, w * hd, hd));
            }
        }
        self.next = (slot + 1) % w.max(1);
        self.count = (self.count + 1).min(w);

        // Classifier on the embedding (the neurons' mu, node-major).
        let mut scores = [B::V::default(); crate::format::MAX_TAVRNN_CLASSES];
        let emb = part(mu, 0, d.neurons * lat);
        let scores = part_mut(&mut scores, 0, d.classes);
        be.dense(Layer::Classifier, 0, emb, scores);
        let mut class = 0usize;
        for (k, s) in scores.iter().enumerate() {
            if let Some(best) = scores.get(class) {
                if s > best {
                    class = k;
                }
            }
        }
        Ok(WindowOutput {
            class: class.min(u8::MAX as usize) as u8,
            attended: attended.min(u8::MAX as usize) as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::GraphSettings;
    use std::vec::Vec;

    /// A graph from pseudo-random correlations (none zero), of a density set by `seed`: no
    /// edge at `theta = 1` (`seed % 9 == 8`), every pair at `theta = 0`; with the history
    /// node except where `seed % 7 == 6`.
    fn graph<const N: usize, const T: usize>(seed: u32) -> WindowGraph<N, T> {
        let mut r = [0i32; T];
        let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
        for v in r.iter_mut() {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            *v = ((x >> 1) as i32 % (1 << 30)) | 1;
        }
        let theta_q30 = match seed % 9 {
            8 => crate::graph::Q30_ONE,
            k => (k << 27) as i32,
        };
        let settings = GraphSettings {
            theta_q30,
            top_k: None,
            history_node: seed % 7 != 6,
        };
        let mut g = WindowGraph::<N, T>::new();
        g.build_for_tests(&r, &settings);
        g
    }

    /// The batches of `for_neighbor_batches` are the neighbours of `for_neighbors` (the plain
    /// definition of `Â`), in the same order, with the same values, `first` on the first and
    /// `last` on the last batch only, for graphs of every density (empty rows at
    /// `theta = 1`, full rows at `theta = 0`), with and without the history node; at N = 9 and 64 through
    /// the bit sets, at N = 80 through the general walk (the history node's row in two
    /// batches).
    fn batches_match<const N: usize, const T: usize>() {
        for seed in 0u32..18 {
            let g = graph::<N, T>(seed);
            let mut walk = Walk::new();
            walk.load(&g);
            for i in 0..=N + 1 {
                let mut want = Vec::new();
                for_neighbors(&g, i, |j, v| want.push(pack_neighbor(j as u16, v)));
                let mut got = Vec::new();
                let mut flags = Vec::new();
                for_neighbor_batches(&g, i, &mut walk, &mut |nb, first, last| {
                    got.extend_from_slice(nb.entries());
                    flags.push((first, last));
                });
                assert_eq!(got, want, "N {N} seed {seed} row {i}");
                let batches = flags.len();
                assert!(batches >= 1);
                for (k, &(first, last)) in flags.iter().enumerate() {
                    assert_eq!((first, last), (k == 0, k + 1 == batches), "N {N} row {i}");
                }
                if i == N && N >= NB_BATCH && g.has_history_node() {
                    assert!(batches > 1);
                }
            }
        }
    }

    /// `WindowGraph::neuron_masks` is row i of `A + I` among the neurons, bit for bit.
    fn masks_match<const N: usize, const T: usize>() {
        for seed in 0u32..18 {
            let g = graph::<N, T>(seed);
            let mut walk = Walk::new();
            walk.load(&g);
            for i in 0..N {
                for j in 0..N {
                    let bit = walk.rows[i] >> j & 1 != 0;
                    assert_eq!(bit, i == j || g.contains(i, j), "N {N} seed {seed} {i} {j}");
                }
            }
        }
    }

    #[test]
    fn neuron_masks_are_the_rows() {
        masks_match::<1, 1>();
        masks_match::<5, 15>();
        masks_match::<9, 45>();
        masks_match::<63, 2016>();
        masks_match::<64, 2080>();
    }

    #[test]
    fn batches_match_for_neighbors() {
        batches_match::<9, 45>();
        batches_match::<64, 2080>();
        batches_match::<80, 3240>();
    }
}
