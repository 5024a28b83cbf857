//! The fixed-point TAVRNN: `i16` activations, weights from the model blobs, integer kernels,
//! `sigmoid`/`tanh`/`exp` from [`crate::lut`], and a ring of 4-bit GRU outputs.

use super::error::TavrnnError;
use super::step::{scratch_len, Backend, Layer, Piece, StepCore, WindowOutput};
use crate::blob;
use crate::fixed::{sat_i16, sat_i16_from_i64};
use crate::format::{Model, ModelError, QLayer, TavrnnDims, TavrnnSection};
use crate::graph::{normalized_entry, WindowGraph};
use crate::kernels::{DensePlan, Neighbors, RoundShift, Rows};
use crate::{kernels, lut};

/// Ring bytes of one node of one state: a 2-byte step (`i16` LE, Q15 units per 4-bit level)
/// and `H / 2` bytes of two's-complement nibbles (even index in the low nibble).
pub const fn ring_row_bytes(hidden: usize) -> usize {
    2 + hidden / 2
}

/// The `RING` capacity (bytes) a [`Tavrnn`] needs for `nodes` nodes, hidden width `hidden` and
/// attention window `window`.
pub const fn ring_len(nodes: usize, hidden: usize, window: usize) -> usize {
    window * nodes * ring_row_bytes(hidden)
}

/// The `KEYS` capacity of [`Tavrnn`] and [`ReferenceTavrnn`](super::ReferenceTavrnn): the keys
/// of the `window` ring states and the query of the newest.
pub const fn keys_len(hidden: usize, window: usize) -> usize {
    (window + 1) * hidden
}

/// Headroom `k` of the propagation `Â X` in fixed point: the propagated values are stored at
/// `2^k` times the scale of `X`, so that no sum can saturate.
///
/// With the history node every node has degree `>= 2` (itself and the history node, or
/// itself and a neuron), so a row `i` of degree `d_i` sums to at most
/// `d_i · Â(d_i, 2) ≈ sqrt(d_i / 2)` (e.g. the history node of a graph whose neurons have no
/// other edge); the largest is at `d_i = nodes`. `k` is the smallest shift with
/// `nodes · Â(nodes, 2) <= 2^(14 + k)` in Q1.14 (2 at 17 nodes, 3 at 65, 4 at 129). Without it
/// the sums were rounded to the input's own scale and clamped there: measured on a trained
/// model, `Â phi_x` saturated on most windows and the clamp, always downwards, moved the
/// embedding along the classifier's direction (class agreement 0.59 at cosine 0.998).
pub fn propagation_shift(nodes: usize) -> u32 {
    let d = nodes.clamp(2, u16::MAX as usize) as u32;
    let bound = d as u64 * normalized_entry(d, 2).max(0) as u64;
    let mut k = 0;
    while k < 16 && bound > 1u64 << (14 + k) {
        k += 1;
    }
    k
}

/// `floor((acc + 2^(s−1)) / 2^s)` saturated to `i16`, for `s` in `2..=30` and
/// `acc <= i64::MAX − 2^(s−1)` (above, the half wraps, as it always did; propagated sums
/// stay far below): the rounding of the propagated sums ([`FixedBackend::finish`],
/// 14,336 values a window step at N = 64).
///
/// An accumulator that fits in 32 bits (most of them) is rounded in 32-bit arithmetic:
/// `floor((acc + 2^(s−1)) / 2^s) = floor((floor(acc / 2^(s−1)) + 1) / 2)`, from
/// `floor(x / (ab)) = floor(floor(x / a) / b)` for positive integers `a`, `b`, with
/// `x = acc + 2^(s−1)`, `a = 2^(s−1)`, `b = 2`; `|acc >> (s−1)| <= 2^30`, so adding 1 cannot
/// wrap. That is an arithmetic shift, an add and one `SSAT` where the 64-bit path below is
/// about ten instructions. Other accumulators: the 64-bit sum, its shift written on the two
/// 32-bit halves (as an `i64` shift by a run-time count it was a call of `__aeabi_lasr` per
/// value on the Cortex-M4, 0.19 M instructions a window step at N = 64), and the saturation.
#[inline(always)]
fn round_shift_sat(acc: i64, s: u32) -> i16 {
    let lo = acc as i32;
    if acc == lo as i64 {
        return sat_i16((lo >> (s - 1)).wrapping_add(1) >> 1);
    }
    let t = acc.wrapping_add((1u32 << (s - 1)) as i64);
    let (lo, hi) = (t as u32, (t >> 32) as i32);
    let r_lo = (lo >> s) | (hi as u32).wrapping_shl(32 - s);
    let r_hi = hi >> s;
    sat_i16_from_i64(((r_hi as i64) << 32) | r_lo as i64)
}

/// `out[i] = round_shift_sat(acc[i], s)` over the common length: one loop for the six
/// conversions of a node's propagated sums (post-incremented pointers, no index), out of
/// line so that the step has one copy of it.
///
/// The sums that fit in 32 bits go through [`kernels::round_shift_narrow`] (the Cortex-M4
/// kernel, 7.5 instructions a value where this loop took 10.8), each one it leaves
/// through `round_shift_sat`, and the rest again through the kernel.
#[inline(never)]
fn finish_all(acc: &[i64], out: &mut [i16], s: u32) {
    let mut done = 0;
    loop {
        let (a, o) = (tail(acc, done), tail_mut(out, done));
        done += kernels::round_shift_narrow(a, o, s);
        match (acc.get(done), out.get_mut(done)) {
            (Some(&a), Some(o)) => *o = round_shift_sat(a, s),
            _ => return,
        }
        done += 1;
    }
}

fn tail<T>(s: &[T], from: usize) -> &[T] {
    s.get(from..).unwrap_or(&[])
}

fn tail_mut<T>(s: &mut [T], from: usize) -> &mut [T] {
    s.get_mut(from..).unwrap_or(&mut [])
}

/// 4-bit levels used: `-7..=7` (symmetric, so a row's largest magnitude is exact).
const LEVELS: i32 = 7;

/// Rounding offset of ring slot `slot` in 1/32 of a level: `floor(32 (2 slot + 1) / (2 w))`,
/// i.e. the slots of a window of `w` round at `w` offsets spread evenly over one level
/// (`w = 8`: 2, 6, …, 30; `w = 1`: 16, plain rounding).
///
/// Why: the attention mixes all `w` stored states with nearly even weights (measured: the
/// largest `α` averages 0.26 at `w = 4`), and successive states are similar, so with one
/// rounding rule their 4-bit errors were the same and added up instead of averaging out.
/// Rounding slot `s` at its own offset makes the mix behave like a quantiser `w` times
/// finer (measured on a trained model: class agreement with the f32 model 111 / 119 windows
/// with plain rounding, 118 / 119 with the offsets, like a 6-bit ring without its RAM).
pub(crate) fn ring_offset(slot: usize, window: usize) -> i32 {
    let w = window.clamp(1, 64);
    ((32 * (2 * slot.min(w - 1) + 1)) / (2 * w)) as i32
}

/// Bound `B` on `Σ_s |coef_s|` up to which [`mix_node_words`] sums in `i32`: `1.5 · 2^27`.
/// The step's rows stay far inside: `alpha` from `softmax` sums to at most `32768 + w / 2`
/// and a ring row's step is at most `ceil(32768 / 7) = 4682`, so `Σ |coef| < 1.54 · 10^8`.
const MIX_I32_BOUND: u64 = 3 << 26;

/// [`Backend::mix_node`] of the fixed-point backend for a hidden width that is a multiple of
/// 8 (`out.len()`), in `i32`, eight elements (one 32-bit word of nibbles) at a time with the
/// eight sums in registers and the slots in the inner loop; `false` (nothing written) where
/// the slots' `Σ |coef|` exceeds [`MIX_I32_BOUND`], `alpha` is longer than a window can be,
/// or no slot is usable (`alpha` empty, or no ring row), and the caller sums in `i64`.
///
/// Why: the `i64` path keeps its 32 sums in memory (a load and a store of 8 bytes per
/// element and slot, 5.5 instructions an element-slot and a 256-byte clear per node),
/// 0.13 M instructions a window step at 8 attended states (N = 64, H = 32); here an
/// element-slot is one `SBFX` and one `MLA`.
///
/// The same integers, with `B = Σ_s |coef_s| <= MIX_I32_BOUND`, nibbles `q` in `-8..=7`
/// and `centre_s = 16 − o_s` in `-15..=16`: every partial sum of `a = Σ_s coef_s q_s` is at
/// most `8 B < 1.62 · 10^9 < 2^31`; `mix_finish(32 a + K)`, `K = Σ_s coef_s centre_s`, is
/// `floor((32 a + K') / 2^20)` saturated, `K' = K + 2^19`, and with
/// `K' = 32 floor(K' / 32) + r`, `0 <= r < 32`, that is
/// `floor(floor((32 a + K') / 32) / 2^15) = floor((a + floor(K' / 32)) / 2^15)`; `K` is
/// summed in `i64` (`|K| <= 16 B`), `floor(K' / 32)` fits in `i32`, and
/// `|a + floor(K' / 32)| <= (272 B + 2^19) / 32 + 1 < 1.72 · 10^9 < 2^31`
/// (`|32 q + centre| <= 272`). `mix_node_matches_slot_by_slot` and
/// `mix_node_words_is_exact` check it against the slot-by-slot sums.
///
/// `scratch` holds each slot's coefficient and where its nibbles start (one `i64` a slot):
/// the caller's accumulators, where they are enough (`alpha.len()`), else a local array.
/// Two local arrays of the window's capacity (the form before) were two `memclr` calls per
/// node, 19,000 instructions a window step at N = 64.
fn mix_node_words(
    window: usize,
    ring: &[u8],
    slot_cells: usize,
    node_at: usize,
    alpha: &[i16],
    scratch: &mut [i64],
    out: &mut [i16],
) -> bool {
    const W: usize = crate::format::MAX_TAVRNN_WINDOW;
    if alpha.len() > W {
        return false;
    }
    if scratch.len() >= alpha.len() {
        mix_words(window, ring, slot_cells, node_at, alpha, scratch, out)
    } else {
        mix_words(window, ring, slot_cells, node_at, alpha, &mut [0; W], out)
    }
}

/// [`mix_node_words`] with `slots.len() >= alpha.len()`.
fn mix_words(
    window: usize,
    ring: &[u8],
    slot_cells: usize,
    node_at: usize,
    alpha: &[i16],
    slots: &mut [i64],
    out: &mut [i16],
) -> bool {
    let hd = out.len();
    let row = 2 + hd / 2;
    // Per slot in the ring: its coefficient (high word) and where its nibbles start (low
    // word: an index into the ring, far below 2^32).
    let mut used = 0;
    let (mut k, mut bound) = (0i64, 0u64);
    for (slot, &a) in alpha.iter().enumerate() {
        let at = slot * slot_cells + node_at;
        let Some(cells) = ring.get(at..at.saturating_add(row)) else {
            continue; // as `ring_mix` of no cells: nothing added
        };
        let coef = a as i32 * blob::i16_at(cells, 0) as i32;
        k += coef as i64 * (16 - ring_offset(slot, window)) as i64;
        bound += coef.unsigned_abs() as u64;
        if let Some(e) = slots.get_mut(used) {
            *e = (i64::from(coef) << 32) | i64::from((at + 2) as u32);
            used += 1;
        }
    }
    if bound > MIX_I32_BOUND {
        return false;
    }
    let kk = ((k + (1 << 19)) >> 5) as i32;
    let slots = part(slots, used);
    // `false` without a slot (`alpha` empty): the caller's slot-by-slot sums, the same.
    kernels::mix_nibbles(slots, ring, kk, out)
}

fn part<T>(s: &[T], len: usize) -> &[T] {
    s.get(..len).unwrap_or(s)
}

/// A model's TAVRNN section that fits a [`Tavrnn`] with capacities `RING` and `KEYS`
/// ([`Tavrnn::check`]); only [`Tavrnn::from_checked`] consumes it.
#[derive(Debug, Clone, Copy)]
pub struct CheckedTavrnn<'m, const RING: usize, const KEYS: usize> {
    backend: FixedBackend<'m>,
}

/// Integer backend over the quantised section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedBackend<'m> {
    s: TavrnnSection<'m>,
    d: TavrnnDims,
    /// [`propagation_shift`] of the model's node count.
    k: u32,
    /// The two-row kernel of each dense layer (by [`Layer`] index), chosen at load.
    plans: [DensePlan; LAYERS.len()],
    /// The rounding of [`Backend::prop_final`], made once: `RoundShift::new` of the shift
    /// `14 + k` clamped to 30; `None` below 16 (graphs of up to 8 nodes), and then every
    /// row takes the general path ([`Backend::prop`] and [`Backend::finish`]).
    round: Option<RoundShift>,
}

/// The dense layers, in the order of [`Layer`]'s discriminants (the index of `plans`).
const LAYERS: [Layer; 10] = [
    Layer::EncHidden,
    Layer::EncMu,
    Layer::PhiZ,
    Layer::GruIn,
    Layer::GruRu,
    Layer::GruC,
    Layer::Query,
    Layer::Key,
    Layer::Value,
    Layer::Classifier,
];

impl<'m> FixedBackend<'m> {
    /// The backend of a checked section: each dense layer's [`DensePlan`] and the
    /// propagation's rounding made here, once.
    fn new(s: TavrnnSection<'m>, d: TavrnnDims) -> Self {
        let k = propagation_shift(d.nodes);
        let mut be = FixedBackend {
            s,
            d,
            k,
            plans: [DensePlan::NONE; LAYERS.len()],
            round: RoundShift::new((14 + k).min(30)),
        };
        be.plans = LAYERS.map(|l| DensePlan::new(&be.layer(l).weights));
        be
    }

    /// The shift `s = 14 + k` (at most 30) of [`Backend::finish`].
    #[inline(always)]
    fn finish_shift(&self) -> u32 {
        (14 + self.k).min(30)
    }

    fn layer(&self, l: Layer) -> &QLayer<'m> {
        let s = &self.s;
        match l {
            Layer::EncHidden => &s.encoder_hidden,
            Layer::EncMu => &s.encoder_mu,
            Layer::PhiZ => &s.phi_z,
            Layer::GruIn => &s.gru_input,
            Layer::GruRu => &s.gru_hidden_ru,
            Layer::GruC => &s.gru_hidden_c,
            Layer::Query => &s.query,
            Layer::Key => &s.key,
            Layer::Value => &s.value,
            Layer::Classifier => &s.classifier,
        }
    }
}

impl Backend for FixedBackend<'_> {
    type V = i16;
    type Acc = i64;
    type Cell = u8;

    fn dims(&self) -> &TavrnnDims {
        &self.d
    }
    fn ring_row_cells(&self) -> usize {
        ring_row_bytes(self.d.hidden)
    }
    #[inline(always)]
    fn prop(&self, nb: &Neighbors<'_>, x: &[i16], width: usize, acc: &mut [i64], first: bool) {
        kernels::propagate_i16(nb, x, width, acc, first);
    }
    #[inline(always)]
    fn prop_phi_x(&self, nb: &Neighbors<'_>, acc: &mut [i64], first: bool) {
        kernels::propagate_le(nb, self.s.phi_x, self.d.phi, acc, first);
    }
    /// [`kernels::propagate_round_many`] with the shift of [`FixedBackend::finish`] (when it
    /// is in the kernel's `16..=30`): the same values as the sums through [`finish_all`]
    /// (within the bound of [`RoundShift`] the `i32` sums are exact and
    /// `floor((S + 2^(s−1)) / 2^s)` needs no saturation, where `round_shift_sat` is that
    /// rounding, saturated).
    #[inline(always)]
    fn prop_final(&self, nb: &Neighbors<'_>, pieces: &mut [Piece<'_, i16>]) -> u32 {
        let Some(round) = &self.round else {
            return 0;
        };
        let phi_x = self.s.phi_x;
        kernels::propagate_round_many(
            nb,
            round,
            pieces.iter_mut().map(|p| {
                let x = p.x.map_or(Rows::Le(phi_x), Rows::I16);
                (x, &mut *p.out)
            }),
        )
    }
    /// Round half up from Q14 weights and the headroom `k`: `floor((acc + 2^(13+k)) /
    /// 2^(14+k))`; never saturates ([`propagation_shift`]).
    ///
    /// [`round_shift_sat`] with `s = 14 + k` (at most 30), out of line ([`finish_all`]).
    #[inline(always)]
    fn finish(&self, acc: &[i64], out: &mut [i16]) {
        finish_all(acc, out, self.finish_shift());
    }
    /// [`kernels::dense_layer`] with the layer's plan: the two-row kernels where the plan
    /// applies, else the general rows.
    fn dense(&self, layer: Layer, row0: usize, x: &[i16], out: &mut [i16]) {
        let l = self.layer(layer);
        let plan = self
            .plans
            .get(layer as usize)
            .copied()
            .unwrap_or(DensePlan::NONE);
        kernels::dense_layer(plan, &l.weights, l.bias, row0, x, out);
    }
    #[inline(always)]
    fn relu(v: i16) -> i16 {
        v.max(0)
    }
    #[inline(always)]
    fn sigmoid(a: i16, b: i16) -> i16 {
        lut::sigmoid(a.saturating_add(b))
    }
    #[inline(always)]
    fn tanh(a: i16, b: i16) -> i16 {
        lut::tanh(a.saturating_add(b))
    }
    /// Q15 × Q15, round half up: `floor((a b + 2^14) / 2^15)`, saturated. In `i32`:
    /// `|a b| <= 2^30`.
    #[inline(always)]
    ///
    /// The only product whose rounded quotient leaves `i16` is `(-32768)^2 = 2^30` (32768):
    /// every other `|a b| <= 32768 · 32767`, so `floor((a b + 2^14) / 2^15)` lies in
    /// `-32768..=32767`. Tested for that one product instead of clamped (measured: 16 B of
    /// flash and 160 instructions a window step less at N = 64).
    fn mul(a: i16, b: i16) -> i16 {
        let p = a as i32 * b as i32;
        if p == 1 << 30 {
            return i16::MAX;
        }
        ((p + (1 << 14)) >> 15) as i16
    }
    /// `c + floor((u (h − c) + 2^14) / 2^15)`, saturated. In `i32` (it was `i64`, a
    /// 64-bit multiply and shift per element): `|h − c| <= 65,535`, so
    /// `|u (h − c)| + 2^14 <= 32,768 · 65,535 + 2^14 < 2^31`, and the sum with `c` is far
    /// inside `i32`.
    #[inline(always)]
    fn blend(c: i16, u: i16, h: i16) -> i16 {
        let diff = h as i32 - c as i32;
        let mixed = (u as i32 * diff).wrapping_add(1 << 14) >> 15;
        sat_i16((c as i32).wrapping_add(mixed))
    }
    /// `mul(sigmoid(a + b), h)` without `mul`'s test for `(-32768)^2`: the sigmoid is never
    /// negative (table entries in `0..=32767`, and an interpolation lies between two
    /// entries), so `|s h| <= 32767 · 32768` and `floor((s h + 2^14) / 2^15)` lies in
    /// `-32767..=32767`. 4 instructions a value less (2,048 a window step at N = 64);
    /// `gates_match_their_parts` checks the values.
    #[inline(always)]
    fn reset_mul(a: i16, b: i16, h: i16) -> i16 {
        let s = Self::sigmoid(a, b) as i32;
        ((s * h as i32 + (1 << 14)) >> 15) as i16
    }
    /// `blend(tanh(xc + hc), sigmoid(xu + hu), h)` without `blend`'s saturation: with
    /// `0 <= u <= 32767` (as in `reset_mul`), `|u (h − c)| / 2^15 < |h − c|`, so the rounded
    /// quotient `q` has `|q| <= |h − c|` and the sign of `h − c`, and `c + q` lies between
    /// `c` and `h`: an `i16`. `gates_match_their_parts` checks the values.
    #[inline(always)]
    fn update(xu: i16, hu: i16, xc: i16, hc: i16, h: i16) -> i16 {
        let c = Self::tanh(xc, hc) as i32;
        let u = Self::sigmoid(xu, hu) as i32;
        let mixed = (u * (h as i32 - c) + (1 << 14)) >> 15;
        (c + mixed) as i16
    }
    #[inline(always)]
    fn magnitude(v: i16) -> u32 {
        (v as i32).unsigned_abs()
    }
    /// [`kernels::gate_mul_row`] (the Cortex-M4 kernel), the same values as
    /// [`Backend::reset_mul`]; value by value where it declines (an odd width).
    #[inline(always)]
    fn reset_row(gx: &[i16], gh: &[i16], h: &[i16], out: &mut [i16]) {
        if kernels::gate_mul_row(gx, gh, h, out, &lut::SIGMOID).is_none() {
            super::step::reset_row_by_values::<Self>(gx, gh, h, out);
        }
    }
    /// [`kernels::relu_row`] (the Cortex-M4 kernel), the same values as
    /// [`Backend::relu`]; value by value where it declines (an odd width).
    #[inline(always)]
    fn relu_row(v: &mut [i16]) {
        if kernels::relu_row(v).is_none() {
            super::step::relu_row_by_values::<Self>(v);
        }
    }
    /// [`kernels::tanh_row`] (the Cortex-M4 kernel), the same values as [`Backend::tanh`]
    /// of `v` and 0 (`saturating_add` of 0 is the identity); value by value where it
    /// declines (an odd width).
    #[inline(always)]
    fn tanh_row(v: &mut [i16]) {
        if kernels::tanh_row(v, &lut::TANH).is_none() {
            super::step::tanh_row_by_values::<Self>(v);
        }
    }
    /// [`kernels::gru_update_row`] (the Cortex-M4 kernel: about 27 instructions a value
    /// where LLVM's loop took 45, 2,048 values a window step at N = 64), the same values;
    /// value by value where it declines (an odd hidden width).
    #[inline(always)]
    fn update_row(gx: &[i16], gh: &mut [i16], h: &[i16]) -> u32 {
        match kernels::gru_update_row(gx, gh, h, &lut::SIGMOID, &lut::TANH) {
            Some(max_abs) => max_abs,
            None => super::step::update_row_by_values::<Self>(gx, gh, h),
        }
    }
    /// `step = ceil(max|v| / 7)` (at least 1), `q = floor(v / step + o_s / 32)` clamped to
    /// ±7, with the slot's rounding offset `o_s` ([`ring_offset`]); `max|v|` is the caller's
    /// `max_abs` (the step takes it in the loop that makes the row: a separate pass over the
    /// row cost about 9 instructions a value, 2,048 values a window step at N = 64).
    ///
    /// Computed as `q + 8 = floor((32 v + (o_s + 256) step) / (32 step))` by an unsigned
    /// division (adding `8 · 32 step` to the numerator adds exactly 8): `|v| <= m <= 7 step`,
    /// so the numerator is at least `(o_s + 32) step > 0` and `q + 8` lies in `1..=15`
    /// (`q <= floor((224 + 31) / 32) = 7`, `q >= -7`) and the clamp never binds; the nibble,
    /// `q & 0xf`, is `(q + 8) ^ 8`, and a byte's two, `(lo + 8 | (hi + 8) << 4) ^ 0x88`
    /// (no clamp and no mask per value: about 12 instructions a value less than the
    /// `div_euclid`, the clamp and the per-value `Option`s it replaces). A `max_abs` below
    /// the row's largest `|v|` (never passed) would give other nibbles, never a panic
    /// (`32 step >= 32`). `ring_store_matches_div_euclid` checks the bytes against the
    /// signed division with the clamp. All values fit in `i32`:
    /// `step <= ceil(32768 / 7) = 4682`, `(o_s + 256) step < 1.4 · 10^6`.
    fn ring_store(&self, slot: usize, cells: &mut [u8], row: &[i16], max_abs: u32) {
        let m = max_abs.min(1 << 15) as i32;
        let step = ((m + LEVELS - 1) / LEVELS).max(1);
        let o = ring_offset(slot, self.d.window);
        let (head, nib) = cells.split_at_mut(2.min(cells.len()));
        head.copy_from_slice(&(step as i16).to_le_bytes()[..head.len()]);
        let (base, div) = ((o + 8 * 32) * step, (32 * step) as u32);
        let level = |v: i16| -> u32 { (32 * v as i32 + base) as u32 / div };
        let (pairs, rest) = row.as_chunks::<2>();
        for (b, &[lo, hi]) in nib.iter_mut().zip(pairs) {
            *b = ((level(lo) | level(hi) << 4) ^ 0x88) as u8;
        }
        // An odd width: the last value alone in the low nibble of its byte.
        if let (Some(&v), Some(b)) = (rest.first(), nib.get_mut(pairs.len())) {
            *b = (level(v) ^ 8) as u8 & 0x0f;
        }
    }
    /// Adds `alpha · step · (32 q + 16 − o_s)`: the level's value `(q + 1/2 − o_s / 32) ·
    /// step` in units of 2^-5.
    ///
    /// Both factors fit in 32 bits, `|alpha · step| <= 2^30` and `|32 q + 16 − o_s| <= 271`
    /// (`q` in `-8..=7`, `o_s` in `0..32`), so each term is one 32 × 32 → 64-bit product
    /// (`SMLAL` on the Cortex-M4), exactly the `i64` product it was: formed from `i64`
    /// factors, it was a 64 × 64-bit multiply (`UMULL` + two `MLA`) and 64-bit adds, about
    /// 18 instructions an element over the 16,384 elements a window step mixes at N = 64.
    fn ring_mix(&self, slot: usize, cells: &[u8], alpha: i16, acc: &mut [i64]) {
        let step = blob::i16_at(cells, 0) as i32;
        let coef = alpha as i32 * step;
        let centre = 16 - ring_offset(slot, self.d.window);
        let term = |q: i8| coef as i64 * (32 * q as i32 + centre) as i64;
        let nib = cells.get(2..).unwrap_or(&[]);
        let (pairs, rest) = acc.as_chunks_mut::<2>();
        for (pair, b) in pairs.iter_mut().zip(nib) {
            pair[0] += term((b << 4) as i8 >> 4);
            pair[1] += term(*b as i8 >> 4);
        }
        // An odd width: the last element, the low nibble of its byte.
        if let (Some(a), Some(b)) = (rest.first_mut(), nib.get(pairs.len())) {
            *a += term((b << 4) as i8 >> 4);
        }
    }
    /// [`mix_node_words`] (the same values in `i32`, a word of nibbles at a time) where the
    /// hidden width is a multiple of 8 and the slots' coefficients are within its bound
    /// (always, for the step's `alpha` and rows); otherwise slot by slot
    /// ([`super::step::mix_node_by_slots`]). The `i64` fast path that summed
    /// `32 Σ_s coef_s q + Σ_s coef_s centre_s` for any even width is gone (544 B of flash
    /// for a case no trained model reaches: hidden widths are multiples of 8).
    fn mix_node(
        &self,
        ring: &[u8],
        slot_cells: usize,
        j: usize,
        alpha: &[i16],
        acc: &mut [i64],
        out: &mut [i16],
    ) {
        let hd = out.len();
        let row = ring_row_bytes(self.d.hidden);
        // A short `acc` goes slot by slot too, which then writes only `acc.len()` values.
        if hd & 7 != 0
            || row != 2 + hd / 2
            || acc.len() < hd
            || !mix_node_words(self.d.window, ring, slot_cells, j * row, alpha, acc, out)
        {
            super::step::mix_node_by_slots(self, ring, slot_cells, j, alpha, acc, out);
        }
    }
    /// Q15 weights × Q15 units × 2^-5: back to Q15, round half up.
    #[inline(always)]
    fn mix_finish(acc: i64) -> i16 {
        sat_i16_from_i64((acc + (1 << 19)) >> 20)
    }
    fn score(&self, q: &[i16], k: &[i16]) -> i16 {
        let acc: i64 = q.iter().zip(k).map(|(&a, &b)| a as i64 * b as i64).sum();
        sat_i16_from_i64(self.s.attn_requant().apply_wide(acc))
    }
    /// `e_τ = exp(s_τ − max)` in Q15 from the table, `α_τ = round(e_τ 2^15 / Σ e)`, at most
    /// 32767.
    fn softmax(scores: &[i16], alpha: &mut [i16]) {
        let max = scores.iter().copied().max().unwrap_or(0);
        let mut sum = 0i64;
        for (a, &s) in alpha.iter_mut().zip(scores) {
            *a = lut::exp_neg(s.saturating_sub(max));
            sum += *a as i64;
        }
        let sum = sum.max(1);
        for a in alpha.iter_mut() {
            *a = (((*a as i64) << 15) + sum / 2).div_euclid(sum).min(32767) as i16;
        }
    }
}

/// The validated TAVRNN section and its dimensions, checked against the capacities.
pub(crate) fn checked_section<'m>(
    model: &Model<'m>,
    ring_cells: usize,
    ring: usize,
    keys: usize,
) -> Result<(TavrnnSection<'m>, TavrnnDims), ModelError> {
    let s = *model
        .tavrnn()
        .ok_or(ModelError::MissingSection { section: "tavrnn" })?;
    let d = s.dims(model.meta().neurons as usize);
    let need_ring = d.window * d.nodes * ring_cells;
    if need_ring > ring {
        return Err(ModelError::Capacity {
            field: "tavrnn ring (window · nodes · row)",
            value: need_ring,
            capacity: ring,
        });
    }
    let need_keys = keys_len(d.hidden, d.window);
    if need_keys > keys {
        return Err(ModelError::Capacity {
            field: "tavrnn keys ((window + 1) · hidden)",
            value: need_keys,
            capacity: keys,
        });
    }
    Ok((s, d))
}

/// The fixed-point device TAVRNN: one step per window over the device's window graph.
///
/// `RING` = [`ring_len`], `KEYS` = [`keys_len`] of the model (or larger); the per-step
/// working memory is the caller's `scratch` ([`Tavrnn::scratch_len`] `i16`s), so that a
/// firmware can share it with other window-end work (e.g. the correlation).
#[derive(Debug, Clone)]
pub struct Tavrnn<'m, const RING: usize, const KEYS: usize> {
    core: StepCore<FixedBackend<'m>, RING, KEYS>,
}

impl<'m, const RING: usize, const KEYS: usize> Tavrnn<'m, RING, KEYS> {
    /// Errors with [`ModelError::MissingSection`] without a TAVRNN section and
    /// [`ModelError::Capacity`] when the ring or the keys do not fit.
    pub fn new(model: &Model<'m>) -> Result<Self, ModelError> {
        Ok(Self::from_checked(Self::check(model)?))
    }

    /// The fallible half of [`Self::new`]: the model's section checked against `RING` and
    /// `KEYS`, a few bytes.
    ///
    /// With [`Self::from_checked`], which cannot fail, a firmware can write the state (10.6 KB
    /// at N = 64) straight into its static slot, `slot.write(Tavrnn::from_checked(c))`,
    /// instead of through a `Result` that the compiler keeps on the stack first.
    pub fn check(model: &Model<'m>) -> Result<CheckedTavrnn<'m, RING, KEYS>, ModelError> {
        let hidden = model.tavrnn().map_or(0, |t| t.hidden as usize);
        let (s, d) = checked_section(model, ring_row_bytes(hidden), RING, KEYS)?;
        Ok(CheckedTavrnn {
            backend: FixedBackend::new(s, d),
        })
    }

    /// A state at the start of a recording for a checked section.
    #[inline(always)]
    pub fn from_checked(checked: CheckedTavrnn<'m, RING, KEYS>) -> Self {
        Tavrnn {
            core: StepCore::new(checked.backend),
        }
    }

    /// The model's dimensions.
    pub fn dims(&self) -> &TavrnnDims {
        self.core.backend.dims()
    }

    /// `i16`s of scratch a step needs.
    pub fn scratch_len(&self) -> usize {
        scratch_len(self.dims())
    }

    /// One window. `scratch` (at least [`Self::scratch_len`]) holds the embedding afterwards:
    /// [`Self::embedding`].
    pub fn step<const N: usize, const T: usize>(
        &mut self,
        graph: &WindowGraph<N, T>,
        scratch: &mut [i16],
    ) -> Result<WindowOutput, TavrnnError> {
        self.core.step(graph, scratch)
    }

    /// The window embedding left in `scratch` by the last step: the neurons' `mu`,
    /// node-major (`N · latent` values at `mu_scale`).
    pub fn embedding<'s>(&self, scratch: &'s [i16]) -> &'s [i16] {
        let d = self.dims();
        scratch.get(..d.neurons * d.latent).unwrap_or(&[])
    }

    /// States currently in the ring.
    pub fn attended(&self) -> usize {
        self.core.attended()
    }

    /// Back to the start of a recording.
    pub fn reset(&mut self) {
        self.core.reset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Exact reference: `floor((acc + 2^(s−1)) / 2^s)` in `i128`, clamped to `i16`.
    fn reference(acc: i64, s: u32) -> i16 {
        let q = (acc as i128 + (1i128 << (s - 1))).div_euclid(1i128 << s);
        q.clamp(i16::MIN as i128, i16::MAX as i128) as i16
    }

    /// The conversion before the 32-bit path, kept as it was: the same bits for every `i64`
    /// (also above `i64::MAX − 2^(s−1)`, where the rounding half wraps; propagated sums stay
    /// far below).
    fn previous(acc: i64, s: u32) -> i16 {
        let t = acc.wrapping_add((1u32 << (s - 1)) as i64);
        let (lo, hi) = (t as u32, (t >> 32) as i32);
        let r_lo = (lo >> s) | (hi as u32).wrapping_shl(32 - s);
        let r_hi = hi >> s;
        sat_i16_from_i64(((r_hi as i64) << 32) | r_lo as i64)
    }

    fn check(acc: i64, s: u32) {
        let got = round_shift_sat(acc, s);
        assert_eq!(got, previous(acc, s), "{acc} {s}");
        if acc <= i64::MAX - (1 << (s - 1)) {
            assert_eq!(got, reference(acc, s), "{acc} {s}");
        }
    }

    #[test]
    fn round_shift_sat_edges() {
        for s in 2..=30 {
            for acc in [
                0i64,
                1,
                -1,
                (1 << (s - 1)) - 1,
                1 << (s - 1),
                -(1 << (s - 1)),
                -(1 << (s - 1)) - 1,
                i32::MAX as i64,
                i32::MIN as i64,
                i32::MAX as i64 + 1,
                i32::MIN as i64 - 1,
                i64::MAX,
                i64::MIN,
                i64::MAX - (1 << (s - 1)),
            ] {
                check(acc, s);
            }
        }
    }

    /// `plans` is indexed by `Layer as usize`: `LAYERS` must list the layers in the order of
    /// their discriminants, each once.
    #[test]
    fn layers_are_in_discriminant_order() {
        for (i, l) in LAYERS.iter().enumerate() {
            assert_eq!(*l as usize, i);
        }
    }

    /// `mul` and `blend` in `i32` are their former `i64` forms, at the extremes.
    #[test]
    fn mul_and_blend_match_i64() {
        let edges = [
            i16::MIN,
            i16::MIN + 1,
            -16384,
            -1,
            0,
            1,
            16384,
            i16::MAX - 1,
            i16::MAX,
        ];
        for &a in &edges {
            for &b in &edges {
                let want = sat_i16_from_i64((a as i64 * b as i64 + (1 << 14)) >> 15);
                assert_eq!(FixedBackend::mul(a, b), want, "{a} {b}");
                for &h in &edges {
                    assert_eq!(
                        FixedBackend::blend(a, b, h),
                        blend_i64(a, b, h),
                        "{a} {b} {h}"
                    );
                }
            }
        }
    }

    fn blend_i64(c: i16, u: i16, h: i16) -> i16 {
        let diff = h as i64 - c as i64;
        sat_i16_from_i64(c as i64 + ((u as i64 * diff + (1 << 14)) >> 15))
    }

    /// A quantised layer with no data: [`Backend::mix_node`] reads only the dimensions.
    const NO_LAYER: QLayer<'static> = QLayer {
        weights: crate::format::QMatrix {
            rows: 0,
            cols: 0,
            wtype: crate::format::WeightType::I8,
            data: &[],
            mult: &[],
            shift: &[],
        },
        bias: &[],
    };

    /// A fixed-point backend of hidden width `hidden`, window `window` and `nodes` nodes,
    /// over a section with no weights (the ring mix uses only `hidden` and `window`).
    fn mix_backend(hidden: usize, window: usize, nodes: usize) -> FixedBackend<'static> {
        let s = TavrnnSection {
            hidden: hidden as u16,
            latent: 1,
            phi: 1,
            enc: 1,
            window: window as u16,
            window_bins: 1,
            step_bins: 1,
            theta_q30: 0,
            top_k: 0,
            top_k_intersection: false,
            classes: 1,
            phi_x_scale: 1.0,
            enc_scale: 1.0,
            mu_scale: 1.0,
            phi_z_scale: 1.0,
            query_scale: 1.0,
            key_scale: 1.0,
            score_scale: 1.0,
            attn_mult: 0,
            attn_shift: 0,
            phi_x: &[],
            encoder_hidden: NO_LAYER,
            encoder_mu: NO_LAYER,
            phi_z: NO_LAYER,
            gru_input: NO_LAYER,
            gru_hidden_ru: NO_LAYER,
            gru_hidden_c: NO_LAYER,
            query: NO_LAYER,
            key: NO_LAYER,
            value: NO_LAYER,
            classifier: NO_LAYER,
            class_names: "",
            reference: None,
        };
        let d = s.dims(nodes.saturating_sub(1));
        FixedBackend::new(s, d)
    }

    /// Ring bytes: any byte, or one of the extremes (steps `i16::MIN`/`i16::MAX`/`-1`/`0`,
    /// nibbles `-8`, `7`, `-1`, `0`).
    fn ring_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            any::<u8>(),
            prop::sample::select(vec![0x00u8, 0xff, 0x7f, 0x80, 0x88, 0x77, 0x87, 0x78, 0x08]),
        ]
    }

    /// Attention weights: any `i16`s, or the `softmax` of any scores (Q15, summing to about
    /// 32768, as the step passes them).
    fn alphas(window: usize) -> impl Strategy<Value = Vec<i16>> {
        prop_oneof![
            prop::collection::vec(any::<i16>(), 0..=window),
            prop::collection::vec(any::<i16>(), 0..=window).prop_map(|scores| {
                let mut alpha = vec![0i16; scores.len()];
                FixedBackend::softmax(&scores, &mut alpha);
                alpha
            }),
            prop::collection::vec(-3i16..=3, 0..=window).prop_map(|scores| {
                let mut alpha = vec![0i16; scores.len()];
                FixedBackend::softmax(&scores, &mut alpha);
                alpha
            }),
        ]
    }

    /// One `mix_node` case: the backend's dimensions, the ring (possibly cut short), node
    /// `j` (possibly past the ring), `alpha`, and the lengths and prior contents of `acc`
    /// and `out`.
    #[derive(Debug, Clone)]
    struct MixCase {
        hidden: usize,
        window: usize,
        nodes: usize,
        ring: Vec<u8>,
        j: usize,
        alpha: Vec<i16>,
        acc: Vec<i64>,
        out: Vec<i16>,
    }

    fn mix_case() -> impl Strategy<Value = MixCase> {
        let dims = (
            prop_oneof![4 => prop::sample::select(vec![8usize, 16, 32]),
                        1 => prop::sample::select(vec![2usize, 7, 9, 64])],
            1usize..=crate::format::MAX_TAVRNN_WINDOW,
            1usize..=6,
        );
        dims.prop_flat_map(|(hidden, window, nodes)| {
            let full = ring_len(nodes, hidden, window);
            let ring = prop_oneof![
                3 => prop::collection::vec(ring_byte(), full),
                1 => prop::collection::vec(ring_byte(), 0..=full),
            ];
            // `out`: the hidden width as the step passes it, or any other length (the
            // fallback, or the fast path where `2 + out / 2` is still the row: odd `H`).
            let out_len = prop_oneof![3 => Just(hidden), 1 => 0..=hidden + 3];
            let lens = out_len.prop_flat_map(move |n| {
                // `acc`: at least `out` (larger, as the step's `TMP` scratch), or shorter.
                let acc_len = prop_oneof![3 => n..=n + 8, 1 => 0..=n];
                acc_len.prop_flat_map(move |m| {
                    (
                        prop::collection::vec(-(1i64 << 40)..(1i64 << 40), m),
                        prop::collection::vec(any::<i16>(), n),
                    )
                })
            });
            (
                Just((hidden, window, nodes)),
                ring,
                0..nodes + 3,
                alphas(window),
                lens,
            )
        })
        .prop_map(
            |((hidden, window, nodes), ring, j, alpha, (acc, out))| MixCase {
                hidden,
                window,
                nodes,
                ring,
                j,
                alpha,
                acc,
                out,
            },
        )
    }

    /// `reset_mul` and `update` are `mul` and `blend` of the gates, at the extremes and
    /// over a grid of pre-activations (the sigmoid's full range, both signs of `h − c`).
    #[test]
    fn gates_match_their_parts() {
        let mut vals: Vec<i16> = (-32768i32..=32767).step_by(997).map(|v| v as i16).collect();
        vals.extend([i16::MIN, i16::MIN + 1, -1, 0, 1, i16::MAX - 1, i16::MAX]);
        for &a in &vals {
            for &h in &vals {
                let b = a.wrapping_mul(7);
                let want = FixedBackend::mul(FixedBackend::sigmoid(a, b), h);
                assert_eq!(FixedBackend::reset_mul(a, b, h), want, "{a} {b} {h}");
                for xc in [i16::MIN, -20000, -1, 0, 3, 20000, i16::MAX] {
                    let c = FixedBackend::tanh(xc, a);
                    let u = FixedBackend::sigmoid(h, b);
                    let want = FixedBackend::blend(c, u, a);
                    assert_eq!(
                        FixedBackend::update(h, b, xc, a, a),
                        want,
                        "{a} {b} {h} {xc}"
                    );
                }
            }
        }
    }

    proptest! {
        /// `mul` and `blend` in `i32` are their former `i64` forms.
        #[test]
        fn mul_and_blend_are_exact(a in any::<i16>(), b in any::<i16>(), h in any::<i16>()) {
            prop_assert_eq!(FixedBackend::mul(a, b),
                            sat_i16_from_i64((a as i64 * b as i64 + (1 << 14)) >> 15));
            prop_assert_eq!(FixedBackend::blend(a, b, h), blend_i64(a, b, h));
        }

        /// Both paths (32-bit and 64-bit accumulators): the previous conversion's bits, and
        /// the exact value where the rounding half does not wrap.
        #[test]
        fn round_shift_sat_is_exact(acc in prop_oneof![any::<i64>(),
                                                       any::<i32>().prop_map(i64::from),
                                                       (-(1i64 << 40)..(1i64 << 40))],
                                    s in 2u32..=30) {
            let got = round_shift_sat(acc, s);
            prop_assert_eq!(got, previous(acc, s));
            if acc <= i64::MAX - (1 << (s - 1)) {
                prop_assert_eq!(got, reference(acc, s));
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2048))]
        /// The fast `mix_node` of the fixed-point backend sums a node's ring rows as
        /// `32 · Σ_s coef_s · q + Σ_s coef_s · centre_s` (one product a slot for the centres)
        /// where the slot-by-slot `ring_mix` it replaced adds `coef_s · (32 q + centre_s)` per
        /// element; the two must be the same integers, so the same `out`, exactly. Checked
        /// against [`super::super::step::mix_node_by_slots`] on random and extreme ring bytes,
        /// any and softmax `alpha`s, windows 1 to 16, hidden widths 8, 16, 32 (and odd or
        /// other widths, the fallback), nodes whose rows lie partly or wholly past the end of
        /// the ring (skipped by both), and `acc` / `out` lengths the fast path declines.
        #[test]
        fn mix_node_matches_slot_by_slot(c in mix_case()) {
            let be = mix_backend(c.hidden, c.window, c.nodes);
            let slot_cells = c.nodes * ring_row_bytes(c.hidden);
            let (mut acc_fast, mut out_fast) = (c.acc.clone(), c.out.clone());
            be.mix_node(&c.ring, slot_cells, c.j, &c.alpha, &mut acc_fast, &mut out_fast);
            let (mut acc_ref, mut out_ref) = (c.acc.clone(), c.out.clone());
            super::super::step::mix_node_by_slots(
                &be, &c.ring, slot_cells, c.j, &c.alpha, &mut acc_ref, &mut out_ref,
            );
            prop_assert_eq!(out_fast, out_ref);
        }

        /// The `i32` path on rows as the step has them (steps up to `ceil(32768 / 7)`,
        /// `alpha` from `softmax`, where its bound always holds): taken, and the same `out`
        /// as the slot-by-slot `i64` sums, for hidden widths 8 to 64 and windows 1 to 16.
        #[test]
        fn mix_node_words_is_exact(
            (hidden, window, nodes, ring, j, alpha) in (
                prop::sample::select(vec![8usize, 16, 32, 64]),
                1usize..=crate::format::MAX_TAVRNN_WINDOW,
                1usize..=4,
            ).prop_flat_map(|(hidden, window, nodes)| {
                let rows = window * nodes;
                let step = prop_oneof![-4682i16..=4682, Just(4682i16), Just(-4682i16)];
                (
                    Just((hidden, window, nodes)),
                    prop::collection::vec(ring_byte(), ring_len(nodes, hidden, window)),
                    prop::collection::vec(step, rows),
                    0..nodes,
                    prop_oneof![
                        prop::collection::vec(any::<i16>(), 0..=window),
                        prop::collection::vec(-3i16..=3, 0..=window),
                    ],
                )
            }).prop_map(|((hidden, window, nodes), mut ring, steps, j, scores)| {
                let row = ring_row_bytes(hidden);
                for (r, st) in ring.chunks_exact_mut(row).zip(steps) {
                    r[..2].copy_from_slice(&st.to_le_bytes());
                }
                let mut alpha = vec![0i16; scores.len()];
                FixedBackend::softmax(&scores, &mut alpha);
                (hidden, window, nodes, ring, j, alpha)
            })
        ) {
            let be = mix_backend(hidden, window, nodes);
            let row = ring_row_bytes(hidden);
            let slot_cells = nodes * row;
            let mut out_fast = vec![0x5a5ai16; hidden];
            // A scratch of the window's length and a short one (the local array).
            // (Declined, nothing written, without a slot: `mix_node` sums slot by slot.)
            let mut scratch = vec![0i64; window];
            let ok = mix_node_words(
                window, &ring, slot_cells, j * row, &alpha, &mut scratch, &mut out_fast
            );
            prop_assert_eq!(ok, !alpha.is_empty());
            let mut out_short = vec![0x5a5ai16; hidden];
            let ok = mix_node_words(
                window, &ring, slot_cells, j * row, &alpha, &mut [], &mut out_short
            );
            prop_assert_eq!(ok, !alpha.is_empty());
            prop_assert_eq!(&out_short, &out_fast);
            if alpha.is_empty() {
                return Ok(());
            }
            let (mut acc, mut out_ref) = (vec![0i64; hidden], vec![0i16; hidden]);
            super::super::step::mix_node_by_slots(
                &be, &ring, slot_cells, j, &alpha, &mut acc, &mut out_ref,
            );
            prop_assert_eq!(out_fast, out_ref);
        }
    }

    /// The ring's bytes as `ring_store` wrote them with a signed `div_euclid` and a clamp.
    fn ring_store_div_euclid(slot: usize, window: usize, cells: &mut [u8], row: &[i16]) {
        let m = row.iter().map(|&v| (v as i32).abs()).max().unwrap_or(0);
        let step = ((m + LEVELS - 1) / LEVELS).max(1);
        let o = ring_offset(slot, window);
        let (head, nib) = cells.split_at_mut(2.min(cells.len()));
        head.copy_from_slice(&(step as i16).to_le_bytes()[..head.len()]);
        let level = |v: i16| -> u8 {
            let q = (32 * v as i32 + o * step).div_euclid(32 * step);
            (q.clamp(-LEVELS, LEVELS) as i8 as u8) & 0x0f
        };
        for (b, pair) in nib.iter_mut().zip(row.chunks(2)) {
            let lo = pair.first().map_or(0, |&v| level(v));
            let hi = pair.get(1).map_or(0, |&v| level(v));
            *b = lo | (hi << 4);
        }
    }

    proptest! {
        /// `ring_store` by the unsigned division writes the bytes of the signed one, for any
        /// row (extremes included), slot and window.
        #[test]
        fn ring_store_matches_div_euclid(
            row in prop::collection::vec(prop_oneof![
                any::<i16>(),
                prop::sample::select(vec![i16::MIN, i16::MIN + 1, -7, -1, 0, 1, 7, i16::MAX]),
                -100i16..=100,
            ], 1..=64),
            window in 1usize..=crate::format::MAX_TAVRNN_WINDOW,
            slot in 0usize..crate::format::MAX_TAVRNN_WINDOW,
        ) {
            let be = mix_backend(row.len(), window, 2);
            let len = ring_row_bytes(row.len()) + (row.len() & 1);
            let (mut got, mut want) = (vec![0u8; len], vec![0u8; len]);
            let m = row.iter().map(|&v| FixedBackend::magnitude(v)).max().unwrap_or(0);
            be.ring_store(slot, &mut got, &row, m);
            ring_store_div_euclid(slot, window, &mut want, &row);
            prop_assert_eq!(got, want);
        }
    }

    /// Above the bound the `i32` path declines (and `mix_node` sums in `i64`).
    #[test]
    fn mix_node_words_declines_large_coefficients() {
        let (hidden, window, nodes) = (8, 2, 1);
        let row = ring_row_bytes(hidden);
        let mut ring = vec![0x77u8; ring_len(nodes, hidden, window)];
        for r in ring.chunks_exact_mut(row) {
            r[..2].copy_from_slice(&i16::MAX.to_le_bytes());
        }
        let mut out = vec![0i16; hidden];
        let alpha = [i16::MAX, i16::MAX];
        assert!(!mix_node_words(
            window,
            &ring,
            nodes * row,
            0,
            &alpha,
            &mut [0; 2],
            &mut out
        ));
        let be = mix_backend(hidden, window, nodes);
        let (mut acc, mut out_ref) = (vec![0i64; hidden], vec![0i16; hidden]);
        be.mix_node(&ring, nodes * row, 0, &alpha, &mut acc, &mut out);
        super::super::step::mix_node_by_slots(
            &be,
            &ring,
            nodes * row,
            0,
            &alpha,
            &mut acc,
            &mut out_ref,
        );
        assert_eq!(out, out_ref);
    }
}
