//! Graph propagation `Σ_k a_k · X[j_k]` over a list of neighbours, with a Cortex-M4 DSP
//! kernel in assembly that takes whole rows in blocks of 8 columns.
//!
//! The TAVRNN step propagates several node matrices (`phi_x`, `h`, `E`, `phi_z`, `r h`) along
//! the rows of `Â`. The neighbours come as a [`Neighbors`] list of packed entries
//! `(j << 21) | a` (node `j`, weight `a` as `u16`), built once per row and shared by all
//! the matrices, and checked once (its largest node, the bound `Σ a as u16` of its sums and
//! the signs).
//!
//! On the Cortex-M4 one call of the kernel `nl_prop8_rows` takes all the pieces of a row
//! (the matrices propagated over the same list, [`propagate_round_many`]): for each piece
//! and each block of 8 columns it walks the list with the block's eight sums in `i32`
//! registers. Per neighbour one `LDR` of the entry, the row address from it (one `ADD` with
//! a shifted operand: `x + (e >> 16)` for rows of 16 columns, `x + (e >> 15)` for 32 when no
//! weight is negative), the block's 4 words (two `LDRD`s: `x` must be word aligned, the
//! `phi_x` table in the model file included, which the exporter aligns, docs/FORMAT.md §2;
//! an unaligned `x` takes the portable path) and per pair of columns `SMLABB` + `SMLATB`
//! (the weight is the entry's low half): 12 instructions for 8 multiply-accumulates. The
//! list is unrolled 8 neighbours an iteration (entered with `TBB` at the copy that leaves a
//! multiple of 8; the loop's `LDR` of the end, no register is left for it, + `CMP`/`BNE`
//! once per 8 neighbours, where it was once per 2); the first neighbour starts the sums at
//! the rounding constant `2^(s−1)` (`SMLAxB` instead of `SMULxB`), so the exit is an `ASR`
//! by `s` of one sum and by `s − 16` of the next, one `PKHBT` (two `i16` results a word)
//! and, for the block, one `STM` (1.5 instructions a value and one a block, where `ASR` +
//! `ADD` + `SSAT` + `STRH` took 4 a value, and a call a block with its Rust loop about 40
//! more a block). Before, a call took one block of one piece (1,820 calls a window step at
//! N = 64 instead of 260).
//! The same loop adds its sums to `i64`s instead ([`propagate_i16`]: a row too heavy for one
//! `i32` sum, taken in runs). Elsewhere (other widths, rows missing from `X`, unaligned
//! `x`, and every target but the Cortex-M4) a portable loop computes the same exact values.
//!
//! Measured (`scripts/firmware-tavrnn-bench.sh --profile`, the bench's window step at N = 64,
//! H = 32, 277,984 propagation multiply-accumulates, 2026-11-28): `nl_prop8_rows` 432,580
//! instructions a window (1.56 a MAC, exit and rounding included) + 33,030 in
//! [`propagate_round_many`] (the pieces checked, 260 calls); before, the per-block kernels
//! took 487,100 + 46,420 in their per-piece callers (1,820 calls). The step went from
//! 1,954,640 to 1,873,600 instructions, flash 47,480 to 47,408 B, RAM 31,700 to 31,852 B
//! (the kernel's frame of 10 words, the descriptors, the pieces in the step's closures).
//!
//! # Why `i32` is exact
//! `|x| <= 32,768`, so a sum `S` of a list whose weights satisfy `Σ |a_k| <= W` is bounded
//! by `W · 32,768`. [`Neighbors`] keeps `W` = the sum of the weights' low halves as
//! unsigned (a negative weight counts `2^16 − |a| >= |a|`). In runs of `W <= 65,535` no sum
//! can overflow `i32` (the `i64` path adds the runs in `i64`), and for the rounding kernel
//! [`RoundShift`] bounds `W` so that `S + 2^(s−1)` fits in `i32` and its shift by `s` fits
//! in `i16` (no saturation is ever needed). For the normalised adjacency in Q1.14 (entries
//! `<= 2^13` with the history node, every degree `>= 2`) the rows of the bench's graphs
//! are within both bounds, but not every row of every N = 64 graph: a row whose neighbours
//! have few links of their own is heavy (the history node's row on a sparse graph, 65
//! neighbours of degree 2 with entries `≈ 1,437`, `W` up to ~93,000; a hub neuron among
//! neurons of low degree, up to `2^14 · sqrt(d / 2)`), and takes the `i64` path.

/// Largest `Σ |a_k|` of a run summed in `i32` by the `i64` path (see the module
/// documentation).
#[cfg_attr(
    not(all(target_arch = "arm", target_feature = "dsp")),
    allow(dead_code)
)]
const RUN_BOUND: u32 = 65_535;

/// Packs neighbour `j` (modulo `2^11`; the graphs have at most `MAX_NEURONS + 1 = 1025`
/// nodes) with weight `a`: `(j << 21) | (a as u16)`.
///
/// Why `j << 21`: the high half is then `32 j`, the byte offset of row `j` of a 16-column
/// `i16` matrix, and `e >> 15` is `64 j` (that of a 32-column row) when `a >= 0`: the
/// Cortex-M4 kernel forms a row's address in one `ADD` with a shifted operand (it took
/// `LSR` + `ADD` with `j << 16`).
#[inline(always)]
pub fn pack_neighbor(j: u16, a: i16) -> u32 {
    ((j as u32) << 21) | a as u16 as u32
}

/// Neighbour `j` and weight `a` of a packed entry.
#[inline(always)]
pub fn unpack_neighbor(e: u32) -> (usize, i16) {
    ((e >> 21) as usize, e as u16 as i16)
}

/// A list of packed neighbours ([`pack_neighbor`]), with what the kernels check once: the
/// rows it reads (largest node + 1), the bound `weight` of its sums and whether no weight
/// is negative (the 32-column kernel's one-instruction row address).
#[derive(Clone, Copy)]
// `nonneg` serves the Cortex-M4 kernel (and the tests).
#[cfg_attr(
    not(all(target_arch = "arm", target_feature = "dsp")),
    allow(dead_code)
)]
pub struct Neighbors<'a> {
    e: &'a [u32],
    rows: usize,
    /// `Σ a_k as u16` (`>= Σ |a_k|`), or `u32::MAX` for a list too long for it to be exact.
    weight: u32,
    nonneg: bool,
}

impl<'a> Neighbors<'a> {
    /// The list `e` (one pass over it).
    ///
    /// The bound sums the weights' low halves as unsigned (`a as u16`), not `|a|`: a
    /// negative weight counts as `2^16 − |a| >= |a|`, so the sum is never below `Σ |a|`;
    /// Â has no negative entries, so for the step's lists the two sums are equal. Up to
    /// `2^16` entries the sum cannot wrap (`2^16 · (2^16 − 1)`); a longer list gets the
    /// bound `u32::MAX` (only slower, never wrong). The absolute value and saturating add it
    /// replaces cost about 5 instructions an entry, 4 lists of ~1,240 entries a window step
    /// at N = 64. The caller decides what the bound allows ([`RoundShift`], runs).
    #[inline]
    pub fn new(e: &'a [u32]) -> Self {
        let mut max = 0u32;
        let mut sum = 0u32;
        let mut signs = 0u32;
        for &v in e {
            max = max.max(v >> 21);
            sum = sum.wrapping_add(v & 0xffff);
            signs |= v;
        }
        Neighbors {
            e,
            rows: if e.is_empty() { 0 } else { max as usize + 1 },
            weight: bound(e.len(), sum),
            nonneg: signs & 0x8000 == 0,
        }
    }

    /// The list `e` of nodes (`j << 16`, low halves ignored) with their weights
    /// `weight(j)` written in: `e[k] = pack_neighbor(j_k, weight(j_k))`, in the same pass
    /// that [`Self::new`] makes. (A `j` of `2^11` or more, which no graph has, would be
    /// kept modulo `2^11`, the same on every target; the rows checked are then more than
    /// those read, never fewer.)
    #[inline(always)]
    pub fn fill(e: &'a mut [u32], mut weight: impl FnMut(usize) -> i16) -> Self {
        let mut max = 0u32;
        let mut sum = 0u32;
        let mut signs = 0u32;
        for v in e.iter_mut() {
            let j = *v >> 16;
            let a = weight(j as usize);
            *v = (j << 21) | a as u16 as u32;
            max = max.max(j);
            // The same bound as `new`: the low half as unsigned.
            sum = sum.wrapping_add(a as u16 as u32);
            signs |= *v;
        }
        Neighbors {
            rows: if e.is_empty() { 0 } else { max as usize + 1 },
            weight: bound(e.len(), sum),
            nonneg: signs & 0x8000 == 0,
            e,
        }
    }

    /// The packed entries.
    #[inline(always)]
    pub fn entries(&self) -> &'a [u32] {
        self.e
    }

    /// The bound `W >= Σ |a_k|` of the list's weights (`u32::MAX`: none known).
    #[inline(always)]
    pub fn weight(&self) -> u32 {
        self.weight
    }
}

/// The weight bound of a list of `len` entries whose low halves sum to `sum` (modulo
/// `2^32`): `sum`, exact up to `2^16` entries.
#[inline(always)]
fn bound(len: usize, sum: u32) -> u32 {
    if len <= 1 << 16 {
        sum
    } else {
        u32::MAX
    }
}

/// The rounding `floor((S + 2^(s−1)) / 2^s)` of the propagated sums (`s` in `16..=30`) as the
/// rounding kernel does it: the sums start at `2^(s−1)` and are shifted, with the largest
/// list weight `W` ([`Neighbors::weight`]) for which that is exact in `i32` and needs no
/// saturation to `i16` (computed once, not per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundShift {
    s: u32,
    max_weight: u32,
}

impl RoundShift {
    /// The rounding by `2^s`, for `s` in `16..=30` (`None` otherwise: the kernel's second
    /// shift is `s − 16`).
    ///
    /// With `|S| <= W · 2^15`: `W · 2^15 + 2^(s−1) <= 2^31 − 1` keeps `S + 2^(s−1)` in `i32`
    /// (the lower end, `−W · 2^15 >= −2^31`, follows), and
    /// `W · 2^15 + 2^(s−1) <= 2^(s+15) − 1` keeps the result at most `32,767` (and at least
    /// `−32,768`). At `s = 17` (65 nodes) `W <= 65,533`.
    pub fn new(s: u32) -> Option<Self> {
        if !(16..=30).contains(&s) {
            return None;
        }
        let half = 1u64 << (s - 1);
        let fits = ((1u64 << 31) - 1 - half) >> 15;
        let no_sat = ((1u64 << (s + 15)) - 1 - half) >> 15;
        Some(RoundShift {
            s,
            max_weight: fits.min(no_sat) as u32,
        })
    }

    /// The shift `s`.
    pub fn shift(&self) -> u32 {
        self.s
    }
}

/// Rows of a node-major `i16` matrix: `i16`s, or little-endian bytes (a table in the model
/// blob).
#[derive(Clone, Copy)]
pub enum Rows<'a> {
    /// `i16` values.
    I16(&'a [i16]),
    /// Little-endian `i16`s, 2 bytes each.
    Le(&'a [u8]),
}

impl Rows<'_> {
    /// Elements.
    #[inline(always)]
    fn len(self) -> usize {
        match self {
            Rows::I16(x) => x.len(),
            Rows::Le(b) => b.len() / 2,
        }
    }

    /// Element `at`, if it exists.
    #[inline(always)]
    fn get(self, at: usize) -> Option<i16> {
        match self {
            Rows::I16(x) => x.get(at).copied(),
            Rows::Le(b) => {
                let p = b.get(at.wrapping_mul(2)..)?.first_chunk::<2>()?;
                Some(i16::from_le_bytes(*p))
            }
        }
    }

    /// The first element's address.
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    #[inline(always)]
    fn ptr(self) -> *const u8 {
        match self {
            Rows::I16(x) => x.as_ptr().cast(),
            Rows::Le(b) => b.as_ptr(),
        }
    }
}

/// `acc[c] = Σ_k a_k · x[j_k · width + c]` (or `acc[c] += …` when `!first`) for
/// `c < acc.len()`, exactly, over the neighbours `(j_k, a_k)` of `nb`; `x` is node-major
/// `i16` with rows of `width`. Elements outside `x` count as zero.
#[inline(never)]
pub fn propagate_i16(nb: &Neighbors<'_>, x: &[i16], width: usize, acc: &mut [i64], first: bool) {
    propagate_rows(nb, Rows::I16(x), width, acc, first);
}

/// [`propagate_i16`] over rows of little-endian `i16` bytes (`2 · width` bytes a row, a
/// table in the model blob).
#[inline(never)]
pub fn propagate_le(nb: &Neighbors<'_>, x: &[u8], width: usize, acc: &mut [i64], first: bool) {
    propagate_rows(nb, Rows::Le(x), width, acc, first);
}

#[inline(always)]
fn propagate_rows(nb: &Neighbors<'_>, x: Rows<'_>, width: usize, acc: &mut [i64], first: bool) {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    if arm::sums(nb, x, width, acc, first) {
        return;
    }
    scalar(nb.e, width, acc, first, |at| x.get(at));
}

/// The propagation and its rounding in one, for several matrices over the same list (the
/// pieces of a row): for each piece `(x, out)` (`x` with rows of `width = out.len()`)
/// where it applies, `out[c] = sat_i16(floor((S_c + 2^(s−1)) / 2^s))` for `c < width`,
/// `S_c = Σ_k a_k · x[j_k · width + c]`, `s = round.shift()`; returns the pieces done, bit
/// `k` for the `k`-th (at most 32; on the Cortex-M4, the first 4 pieces that qualify); the others' `out` is left
/// as it was, for the caller's general path ([`propagate_i16`] and its rounding), which
/// gives the same values.
///
/// It applies where `nb` is not empty and `nb.weight() <= ` the bound of `round` (so the
/// `i32` sums are exact and need no saturation, [`RoundShift::new`]), and for the piece:
/// `width` is 16 or 32 and every row `nb` names lies in `x` (and on the Cortex-M4: `x` and
/// `out` word aligned, and for width 32 no weight negative).
///
/// Why: one call for the row's 2 to 4 pieces (and all their 8-column blocks) where a call
/// a block took about 40 instructions of calling, looping and converting; see the module
/// documentation for the kernel.
#[inline(never)]
pub fn propagate_round_many<'p>(
    nb: &Neighbors<'_>,
    round: &RoundShift,
    pieces: impl IntoIterator<Item = (Rows<'p>, &'p mut [i16])>,
) -> u32 {
    if nb.e.is_empty() || nb.weight > round.max_weight {
        return 0;
    }
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    return arm::round_many(nb, round, pieces);
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        let mut done = 0;
        for (k, (x, out)) in pieces.into_iter().enumerate().take(32) {
            let width = out.len();
            if piece_applies(nb, x.len(), width) {
                round_portable(nb.e, round, width, out, |at| x.get(at));
                done |= 1 << k;
            }
        }
        done
    }
}

/// The conditions of a piece of [`propagate_round_many`] on every target, `len` the
/// elements of `x`: width 16 or 32, and every row in `x` (`nb.rows <= 2^11`: no overflow;
/// a product where a division took a `UDIV`).
#[inline(always)]
fn piece_applies(nb: &Neighbors<'_>, len: usize, width: usize) -> bool {
    (width == 16 || width == 32) && nb.rows * width <= len
}

/// The portable twin of the rounding kernel: the sums in `i32` from `2^(s−1)` (exact: the
/// bound of [`RoundShift`]), shifted by `s` (in `i16`: no saturation needed).
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
fn round_portable(
    e: &[u32],
    round: &RoundShift,
    width: usize,
    out: &mut [i16],
    get: impl Fn(usize) -> Option<i16>,
) {
    for (c, o) in out.iter_mut().enumerate() {
        let mut t = 1i32 << (round.s - 1);
        for &v in e {
            let (j, w) = unpack_neighbor(v);
            if let Some(xv) = get(j.wrapping_mul(width).wrapping_add(c)) {
                t = t.wrapping_add(w as i32 * xv as i32);
            }
        }
        *o = (t >> round.s) as i16;
    }
}

/// The sums column by column in `i64` (exact without runs): the portable path, and the
/// general one on the Cortex-M4. `get(at)` is element `at` of `x`, if it exists.
#[inline(always)]
fn scalar(
    e: &[u32],
    width: usize,
    acc: &mut [i64],
    first: bool,
    get: impl Fn(usize) -> Option<i16>,
) {
    for (c, out) in acc.iter_mut().enumerate() {
        let mut s = if first { 0 } else { *out };
        for &v in e {
            let (j, w) = unpack_neighbor(v);
            if let Some(xv) = get(j.wrapping_mul(width).wrapping_add(c)) {
                s = s.wrapping_add(w as i64 * xv as i64);
            }
        }
        *out = s;
    }
}

#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[allow(unsafe_code)]
mod arm {
    use super::{piece_applies, Neighbors, RoundShift, Rows, RUN_BOUND};

    /// Pieces one call of the kernel takes (a row of the step has at most 4).
    const MAX_PIECES: usize = 4;

    /// Whether the kernel takes `x` with rows of `width` (16 or 32) elements: `x` word
    /// aligned (`LDRD`; the `phi_x` table of an exported model is, docs/FORMAT.md §2), and
    /// for 32 no weight negative (the row address is `x + (e >> 15)`, see
    /// [`super::pack_neighbor`]); the others take the portable path.
    #[inline(always)]
    fn takes(nb: &Neighbors<'_>, x: *const u8, width: usize) -> bool {
        x as usize & 3 == 0 && (width == 16 || (width == 32 && nb.nonneg))
    }

    /// [`super::propagate_round_many`] once its list conditions hold (checked by the
    /// caller): the pieces the kernel takes, in one call.
    #[inline(always)]
    pub(super) fn round_many<'p>(
        nb: &Neighbors<'_>,
        round: &RoundShift,
        pieces: impl IntoIterator<Item = (Rows<'p>, &'p mut [i16])>,
    ) -> u32 {
        // Each the rows' address, bit 0 set for rows of 32 columns, and the output's.
        let mut desc = [[0usize; 2]; MAX_PIECES];
        let mut n = 0;
        let mut done = 0;
        let mut bit = 1u32;
        for (x, out) in pieces {
            let (p, o, width) = (x.ptr(), out.as_mut_ptr(), out.len());
            if piece_applies(nb, x.len(), width) && takes(nb, p, width) && o as usize & 3 == 0 {
                let Some(d) = desc.get_mut(n) else { break };
                *d = [p as usize | usize::from(width == 32), o as usize];
                n += 1;
                done |= bit;
            }
            // After 32 pieces `bit` is 0: no more are taken.
            bit <<= 1;
            if bit == 0 {
                break;
            }
        }
        if n == 0 {
            return 0;
        }
        let range = nb.e.as_ptr_range();
        // SAFETY: the kernel reads the `n` descriptors, the entries of `nb` (at least one:
        // checked by the caller) and, for each descriptor and each entry `(j << 21) | a`,
        // the 16 bytes at `x + 2 (j · width + 8 b)` for the blocks `b < width / 8`: word
        // aligned (`takes`; for width 32 the address `x + 16 b + (e >> 15)` has no bit of
        // `a`, `a >= 0`), and inside `x` since `(j + 1) · width <= nb.rows · width <= len`
        // (`piece_applies`) and `8 b + 8 <= width`. It writes the `width` `i16`s of each
        // piece's `out` (`out.len() == width`, word aligned for `STM`), nothing else but its
        // own stack, and saves the callee-saved registers it uses. `nb.weight` is within
        // `round`'s bound (checked by the caller): the `i32` sums are exact; `s` is in
        // `16..=30`.
        unsafe {
            nl_prop8_rows(
                range.start,
                range.end,
                desc.as_ptr(),
                round.s | (n << 8) as u32,
            )
        };
        done
    }

    /// The sums of [`super::propagate_i16`] through the kernel (its `i64` exit), run by
    /// run, when [`takes`] holds, `width` is 16 or 32, `acc.len() == width` and every row
    /// the list names lies in `x`; `false` (nothing done) otherwise.
    #[inline(always)]
    pub(super) fn sums(
        nb: &Neighbors<'_>,
        x: Rows<'_>,
        width: usize,
        acc: &mut [i64],
        first: bool,
    ) -> bool {
        let p = x.ptr();
        if acc.len() != width || !piece_applies(nb, x.len(), width) || !takes(nb, p, width) {
            return false;
        }
        if first {
            acc.fill(0);
        }
        let e = nb.e;
        let desc = [[
            p as usize | usize::from(width == 32),
            acc.as_mut_ptr() as usize,
        ]];
        let mut start = 0;
        while start < e.len() {
            // One run: all of the list, or the longest prefix of the rest within the bound
            // (at least one entry).
            let end = if nb.weight <= RUN_BOUND {
                e.len()
            } else {
                run_end(e, start)
            };
            let run = e.get(start..end).unwrap_or(&[]);
            if !run.is_empty() {
                let range = run.as_ptr_range();
                // SAFETY: as in `round_many` for the one descriptor (`piece_applies`,
                // `takes`), whose output is the `width` `i64`s of `acc` (8-byte aligned,
                // read and written with `LDRD`/`STRD`); `s = 0` selects the `i64` exit. The
                // run's entries (at least one) sum to `Σ |a| <= 65,535`, so its `i32` sums
                // are exact.
                unsafe { nl_prop8_rows(range.start, range.end, desc.as_ptr(), 1 << 8) };
            }
            start = end.max(start + 1);
        }
        true
    }

    /// End of the run that starts at `start`: the longest with `Σ |a| <= RUN_BOUND`, at
    /// least one entry.
    #[inline(never)]
    fn run_end(e: &[u32], start: usize) -> usize {
        let mut sum = 0u32;
        let mut end = start;
        for &v in e.get(start..).unwrap_or(&[]) {
            sum += (v as u16 as i16).unsigned_abs() as u32;
            if sum > RUN_BOUND && end > start {
                break;
            }
            end += 1;
        }
        end
    }

    /// One neighbour: r2 = its entry `(j << 21) | a`, r3 = the block of row `j` (r1 + the
    /// entry's high bits: `$shift` 16 for rows of 32 bytes, 15 for rows of 64), its 4 words
    /// in two `LDRD`s, and `SMLABB`/`SMLATB` of `a` with them into the 8 sums r4-r11: 12
    /// instructions (48 bytes) for 8 multiply-accumulates.
    macro_rules! neighbor {
        ($shift:literal) => {
            concat!(
                "ldr r2, [r0], #4\n",
                "add r3, r1, r2, lsr #",
                $shift,
                "\n",
                "ldrd r12, lr, [r3]\n",
                "smlabb r4, r12, r2, r4\n",
                "smlatb r5, r12, r2, r5\n",
                "smlabb r6, lr, r2, r6\n",
                "smlatb r7, lr, r2, r7\n",
                "ldrd r12, lr, [r3, #8]\n",
                "smlabb r8, r12, r2, r8\n",
                "smlatb r9, r12, r2, r9\n",
                "smlabb r10, lr, r2, r10\n",
                "smlatb r11, lr, r2, r11\n"
            )
        };
    }

    /// The blocks of a piece with rows of 32 bytes (`$shift` 16) or 64 (15), from label
    /// `$blk`: r1 = the block's address (`x + 16 b`), the job on the stack (`[sp]` e,
    /// `[sp, #4]` end, `#8` the `TBB` index, `#12` c, `#16` s, `#20` s − 16, `#32` the
    /// output cursor, `#36` the piece's end `x + 2 width`). The first neighbour sets the
    /// sums to `c + a x` (its 4 words loaded into r8-r11 first, each read before the sum
    /// that overwrites it; r3 is then free for `c`, loaded with the `TBB` index in one
    /// `LDRD`), `TBB` enters the 8 copies where `(n − 1) mod 8` are left (or the exit).
    /// The exit rounds and stores 8 `i16`s (two a word: `ASR` by `s` of the even sum, by
    /// `s − 16` of the odd one, whose high half is then its result, and `PKHBT`), or with
    /// `s = 0` adds the sums to 8 `i64`s; then the next block, or the next piece.
    macro_rules! rows_kernel {
        ($shift:literal, $blk:literal) => {
            concat!(
                $blk,
                ":\n",
                "ldr r0, [sp]\n",
                "ldr r2, [r0], #4\n",
                "add r3, r1, r2, lsr #",
                $shift,
                "\n",
                "ldrd r8, r9, [r3]\n",
                "ldrd r10, r11, [r3, #8]\n",
                "ldrd r12, r3, [sp, #8]\n",
                "smlabb r4, r8, r2, r3\n",
                "smlatb r5, r8, r2, r3\n",
                "smlabb r6, r9, r2, r3\n",
                "smlatb r7, r9, r2, r3\n",
                "smlabb r8, r10, r2, r3\n",
                "smlatb r9, r10, r2, r3\n",
                "smlabb r10, r11, r2, r3\n",
                "smlatb r11, r11, r2, r3\n",
                "tbb [pc, r12]\n",
                "1:\n",
                ".byte (20f - 1b) / 2\n",
                ".byte (27f - 1b) / 2\n",
                ".byte (26f - 1b) / 2\n",
                ".byte (25f - 1b) / 2\n",
                ".byte (24f - 1b) / 2\n",
                ".byte (23f - 1b) / 2\n",
                ".byte (22f - 1b) / 2\n",
                ".byte (21f - 1b) / 2\n",
                ".byte (29f - 1b) / 2\n",
                ".p2align 1\n",
                "20:\n",
                neighbor!($shift),
                "21:\n",
                neighbor!($shift),
                "22:\n",
                neighbor!($shift),
                "23:\n",
                neighbor!($shift),
                "24:\n",
                neighbor!($shift),
                "25:\n",
                neighbor!($shift),
                "26:\n",
                neighbor!($shift),
                "27:\n",
                neighbor!($shift),
                "ldr r12, [sp, #4]\n",
                "cmp r0, r12\n",
                "bne 20b\n",
                "29:\n",
                "ldrd r2, r3, [sp, #16]\n",
                "cbz r2, 4f\n",
                "asr r4, r4, r2\n",
                "asr r5, r5, r3\n",
                "pkhbt r4, r4, r5\n",
                "asr r6, r6, r2\n",
                "asr r7, r7, r3\n",
                "pkhbt r6, r6, r7\n",
                "asr r8, r8, r2\n",
                "asr r9, r9, r3\n",
                "pkhbt r8, r8, r9\n",
                "asr r10, r10, r2\n",
                "asr r11, r11, r3\n",
                "pkhbt r10, r10, r11\n",
                "ldr r12, [sp, #32]\n",
                "stm r12!, {{r4, r6, r8, r10}}\n",
                "str r12, [sp, #32]\n",
                "5:\n",
                "add r1, r1, #16\n",
                "ldr r12, [sp, #36]\n",
                "cmp r1, r12\n",
                "bne ",
                $blk,
                "\n",
                "b .Lnl_prop8_piece\n",
                "4:\n",
                "bl .Lnl_prop8_add64\n",
                "b 5b\n"
            )
        };
    }

    /// `[sp, #32]` (the output cursor) `+= ` the 8 sums r4-r11 as `i64`s, sign-extended;
    /// the cursor moves past them. A subroutine (`BL`, lr is free at a block's exit) shared
    /// by both row lengths: the `i64` path is the rare one.
    macro_rules! add64 {
        ($r:literal) => {
            concat!(
                "ldrd r2, r3, [r12]\n",
                "adds r2, r2, ",
                $r,
                "\n",
                "adc r3, r3, ",
                $r,
                ", asr #31\n",
                "strd r2, r3, [r12], #8\n"
            )
        };
    }

    // r0 = the first entry, r1 = the end of the entries, r2 = the descriptors (8 bytes
    // each: the rows' address `x`, bit 0 set for rows of 32 columns, and the output),
    // r3 = `s | (pieces << 8)` (`s = 0`: the `i64` exit). The frame, `[sp]` .. `[sp, #40]`
    // (`PUSH` stores r1-r10 in that order): e, end, the `TBB` index (8 when the first entry
    // is the only one, else `(n − 1) mod 8`), `c = 2^(s−1)` (0 for `s = 0`: a shift by 255),
    // s, s − 16, the next descriptor, the descriptors' end, and two scratch words.
    core::arch::global_asm!(
        crate::kernels::thumb_fn!("nl_prop8_rows"),
        "nl_prop8_rows:",
        "push {{r4-r11, lr}}",
        "uxtb r5, r3",
        "lsrs r3, r3, #8",
        "mov r7, r2",
        "add r8, r2, r3, lsl #3",
        "mov r2, r1",
        "mov r1, r0",
        "sub r3, r2, r1",
        "subs r3, r3, #4",
        "ite eq",
        "moveq r3, #8",
        "ubfxne r3, r3, #2, #3",
        "sub r6, r5, #16",
        "sub r4, r5, #1",
        "movs r0, #1",
        "lsl r4, r0, r4",
        "push {{r1-r10}}",
        // The next piece: r1 = its x (bit 0: rows of 32 columns), `[sp, #32]` its output,
        // `[sp, #36]` the end of its blocks.
        ".Lnl_prop8_piece:",
        "ldrd r2, r3, [sp, #24]",
        "cmp r2, r3",
        "beq .Lnl_prop8_done",
        "ldm r2!, {{r1, r12}}",
        "str r2, [sp, #24]",
        "str r12, [sp, #32]",
        "lsrs r2, r1, #1",
        "bic r1, r1, #1",
        "bcc .Lnl_prop8_narrow",
        "add r12, r1, #64",
        "str r12, [sp, #36]",
        "b .Lnl_prop8_blk32",
        ".Lnl_prop8_done:",
        "add sp, sp, #40",
        "pop {{r4-r11, pc}}",
        // Rows of 16 columns: on into their blocks.
        ".Lnl_prop8_narrow:",
        "add r12, r1, #32",
        "str r12, [sp, #36]",
        rows_kernel!("16", ".Lnl_prop8_blk16"),
        rows_kernel!("15", ".Lnl_prop8_blk32"),
        ".Lnl_prop8_add64:",
        "ldr r12, [sp, #32]",
        add64!("r4"),
        add64!("r5"),
        add64!("r6"),
        add64!("r7"),
        add64!("r8"),
        add64!("r9"),
        add64!("r10"),
        add64!("r11"),
        "str r12, [sp, #32]",
        "bx lr",
        ".size nl_prop8_rows, . - nl_prop8_rows",
    );

    extern "C" {
        /// See the `global_asm!` above.
        fn nl_prop8_rows(e: *const u32, end: *const u32, desc: *const [usize; 2], s_n: u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Plain reference: the `i64` sum per column, in neighbour order.
    fn reference(nodes: &[u16], a: &[i16], x: &[i16], width: usize, cols: usize) -> Vec<i64> {
        (0..cols)
            .map(|c| {
                nodes
                    .iter()
                    .zip(a)
                    .map(|(&j, &w)| {
                        let v = x.get(j as usize * width + c).copied().unwrap_or(0);
                        w as i64 * v as i64
                    })
                    .sum()
            })
            .collect()
    }

    fn pack(nodes: &[u16], a: &[i16]) -> Vec<u32> {
        nodes
            .iter()
            .zip(a)
            .map(|(&j, &w)| pack_neighbor(j, w))
            .collect()
    }

    #[test]
    fn packing() {
        for (j, a) in [(0u16, 0i16), (1, -1), (2047, i16::MIN), (64, i16::MAX)] {
            assert_eq!(unpack_neighbor(pack_neighbor(j, a)), (j as usize, a));
        }
        let e = pack(&[3, 9, 2], &[-30000, 30000, 10000]);
        let nb = Neighbors::new(&e);
        // A negative weight counts as its low half, 2^16 - |a| (conservative, never wrong):
        // 35,536 + 30,000 + 10,000.
        assert_eq!((nb.rows, nb.weight(), nb.nonneg), (10, 75_536, false));
        let small = pack(&[3, 9], &[-30000, 1000]);
        let nb = Neighbors::new(&small);
        assert_eq!((nb.rows, nb.weight(), nb.nonneg), (10, 36_536, false));
        // Non-negative weights: the plain sum.
        let edge = pack(&[1, 2, 3], &[32767, 32767, 1]);
        assert_eq!(Neighbors::new(&edge).weight(), 65_535);
        let nb = Neighbors::new(&e[1..]);
        assert_eq!((nb.rows, nb.weight(), nb.nonneg), (10, 40_000, true));
        // `fill` packs as `pack_neighbor` and finds the same bound and flags as `new`.
        let mut f = [3u32 << 16, 9 << 16, 2 << 16];
        let w = [-30000i16, 30000, 10000];
        let nb = Neighbors::fill(&mut f, |j| {
            w[[3, 9, 2].iter().position(|&v| v == j).unwrap()]
        });
        assert_eq!((nb.rows, nb.weight(), nb.nonneg), (10, 75_536, false));
        assert_eq!(nb.entries(), &e[..]);
        assert_eq!(Neighbors::new(&[]).rows, 0);
        // A list too long for its sum to be exact has no bound.
        let long = vec![pack_neighbor(1, 1); (1 << 16) + 1];
        assert_eq!(Neighbors::new(&long).weight(), u32::MAX);
    }

    /// The bounds of [`RoundShift`]: `W · 2^15 + 2^(s−1)` fits in `i32` and its shift by
    /// `s` in `i16`, and one more does not.
    #[test]
    fn round_shift_bounds() {
        assert_eq!(RoundShift::new(15), None);
        assert_eq!(RoundShift::new(31), None);
        assert_eq!(RoundShift::new(17).unwrap().max_weight, 65_533);
        for s in 16..=30u32 {
            let r = RoundShift::new(s).unwrap();
            let top = |w: u32| w as i64 * 32768 + (1i64 << (s - 1));
            let ok = |w: u32| top(w) <= i32::MAX as i64 && top(w) >> s <= i16::MAX as i64;
            assert!(ok(r.max_weight), "s {s}");
            assert!(!ok(r.max_weight + 1), "s {s}");
            assert_eq!(r.shift(), s);
        }
    }

    #[test]
    fn extremes_do_not_overflow() {
        // 65 neighbours of weight -32768 on rows of -32768: 65 · 2^30, far beyond i32.
        for width in [6usize, 16, 32] {
            let nodes: Vec<u16> = (0..65).collect();
            let e = pack(&nodes, &[i16::MIN; 65]);
            let nb = Neighbors::new(&e);
            let x = vec![i16::MIN; 65 * width];
            let mut acc = vec![7i64; width];
            propagate_i16(&nb, &x, width, &mut acc, true);
            assert_eq!(acc, vec![65i64 << 30; width]);
            propagate_i16(&nb, &x, width, &mut acc, false);
            assert_eq!(acc, vec![130i64 << 30; width]);
            // No neighbours: zero when first, unchanged otherwise.
            let none = Neighbors::new(&[]);
            propagate_i16(&none, &x, width, &mut acc, false);
            assert_eq!(acc, vec![130i64 << 30; width]);
            propagate_i16(&none, &x, width, &mut acc, true);
            assert_eq!(acc, vec![0; width]);
        }
    }

    proptest! {
        /// Same sums as the plain reference, for both row formats, any widths (the kernel's
        /// and others), weights large and small (one run or many), rows missing from `x`,
        /// and accumulation onto earlier values.
        #[test]
        fn matches_reference(width in prop::sample::select(vec![1usize, 3, 4, 5, 8, 13, 16, 19, 32]),
                             cols_less in 0usize..3,
                             rows in 1usize..16, small in any::<bool>(),
                             nb in proptest::collection::vec((0u16..14, any::<i16>()), 0..40),
                             seed in proptest::collection::vec(any::<i16>(), 520),
                             start in proptest::collection::vec(-(1i64 << 40)..(1i64 << 40), 32)) {
            let cols = width.saturating_sub(cols_less).max(1);
            let x = &seed[..(rows * width).min(seed.len())];
            let nodes: Vec<u16> = nb.iter().map(|p| p.0).collect();
            let a: Vec<i16> = nb.iter().map(|p| if small { p.1 >> 4 } else { p.1 }).collect();
            let e = pack(&nodes, &a);
            let list = Neighbors::new(&e);
            let want = reference(&nodes, &a, x, width, cols);
            let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut got = vec![0i64; cols];
            propagate_i16(&list, x, width, &mut got, true);
            prop_assert_eq!(&got, &want);
            let mut got = vec![0i64; cols];
            propagate_le(&list, &bytes, width, &mut got, true);
            prop_assert_eq!(&got, &want);
            let mut got = start[..cols].to_vec();
            propagate_i16(&list, x, width, &mut got, false);
            let sum: Vec<i64> = start[..cols].iter().zip(&want).map(|(s, w)| s + w).collect();
            prop_assert_eq!(&got, &sum);
        }

        /// The propagation rounded straight to `i16` for several pieces over one list
        /// ([`propagate_round_many`]): where it applies (a list not empty and within the
        /// bound of the shift; for the piece width 16 or 32, every row in `x`) `out[c]` is
        /// `sat_i16(floor((S_c + 2^(s-1)) / 2^s))` of the plain `i64` sum, and its bit is
        /// set; elsewhere `out` is left as it was. Weights near the bound, rows of extremes.
        #[test]
        fn round_many_matches_reference(widths in proptest::collection::vec(
                                            prop::sample::select(vec![8usize, 16, 24, 32]), 1..6),
                                        rows in 1usize..16, scale in 0u32..8, ext in any::<bool>(),
                                        le in any::<bool>(), s in 14u32..32,
                                        nb in proptest::collection::vec((0u16..16, any::<i16>()), 0..40),
                                        seed in proptest::collection::vec(any::<i16>(), 512)) {
            let round = RoundShift::new(s);
            prop_assert_eq!(round.is_some(), (16..=30).contains(&s));
            let Some(round) = round else { return Ok(()) };
            let nodes: Vec<u16> = nb.iter().map(|p| p.0).collect();
            let a: Vec<i16> = nb.iter().map(|p| p.1 >> scale).collect();
            let e = pack(&nodes, &a);
            let list = Neighbors::new(&e);
            let list_ok = !e.is_empty() && list.weight() <= round.max_weight;
            let xs: Vec<Vec<i16>> = widths
                .iter()
                .enumerate()
                .map(|(k, &w)| if ext { vec![if k % 2 == 0 { i16::MIN } else { i16::MAX }; rows * w] }
                              else { seed[..rows * w].iter().map(|v| v.rotate_left(k as u32)).collect() })
                .collect();
            let bytes: Vec<Vec<u8>> = xs.iter().map(|x| x.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
            let n = widths.len();
            let mut outs: Vec<Vec<i16>> = widths.iter().map(|&w| vec![7i16; w]).collect();
            let done = propagate_round_many(
                &list,
                &round,
                xs.iter().zip(&bytes).zip(outs.iter_mut()).enumerate().map(|(k, ((x, b), o))| {
                    let rows = if le && k % 2 == 1 { Rows::Le(b) } else { Rows::I16(x) };
                    (rows, &mut o[..])
                }),
            );
            for k in 0..n {
                let w = widths[k];
                let applies = list_ok && (w == 16 || w == 32) && list.rows <= rows;
                prop_assert_eq!(done >> k & 1 != 0, applies, "piece {}", k);
                if applies {
                    let want: Vec<i16> = reference(&nodes, &a, &xs[k], w, w)
                        .iter()
                        .map(|&v| (((v >> (s - 1)) + 1) >> 1).clamp(i16::MIN as i64, i16::MAX as i64) as i16)
                        .collect();
                    prop_assert_eq!(&outs[k], &want);
                } else {
                    prop_assert!(outs[k].iter().all(|&v| v == 7));
                }
            }
            prop_assert_eq!(done >> n, 0);
        }
    }
}
