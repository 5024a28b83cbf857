//! Graph propagation `Σ_k a_k · X[j_k]` over a list of neighbours, with a Cortex-M4 DSP
//! kernel in assembly for blocks of 8 columns.
//!
//! The TAVRNN step propagates several node matrices (`phi_x`, `h`, `E`, `phi_z`, `r h`) along
//! the rows of `Â`. The neighbours come as a [`Neighbors`] list of packed entries
//! `(j << 21) | a` (node `j`, weight `a` as `u16`), built once per row and shared by all
//! the matrices, and checked once (its largest node, `Σ |a|` and the signs).
//!
//! On the Cortex-M4 the list is walked once per block of 8 columns, with the block's eight
//! sums in `i32` registers: per neighbour one `LDR` of the entry, the row address from it
//! (one `ADD` with a shifted operand: `x + (e >> 16)` for rows of 16 columns, `x + (e >> 15)`
//! for 32 when no weight is negative), the block's 4 words (two `LDRD`s: `x` must be word
//! aligned, the `phi_x` table in the model file included, which the exporter aligns,
//! docs/FORMAT.md §2; an unaligned `x` takes the portable path) and per pair of columns
//! `SMLABB` + `SMLATB` (the weight is the entry's low half): 12 instructions for 8
//! multiply-accumulates (14 with four `LDR`s, when the model's `phi_x` could lie at any
//! offset), and the loop's
//! `LDR` of the end (no register is left for it) + `CMP`/`BNE` once per two neighbours
//! (the entry was `(j << 16) | a`: `LSR` + `ADD` for the address and four `LDR`s, 15); the
//! first neighbour sets the sums (`SMULBB`/`SMULTB`). LLVM's 4-column blocks (`SMLABB`/`SMLABT` on
//! word loads, bounds checks per neighbour) took 4.7 instructions a multiply-accumulate. The
//! block's sums are then added to (or stored as) the `i64` accumulators, or, for a row in one
//! run, rounded straight to `i16` ([`propagate_round_i16`]), in the same kernel. Elsewhere
//! (and for other widths, or rows missing from `X`) a portable loop computes the same exact
//! sums in `i64`.
//!
//! # Why `i32` is exact
//! The neighbours are taken in runs whose weights satisfy `Σ |a_k| <= 65,535` (a run always
//! takes at least one neighbour). With `|x| <= 32,768` every partial sum of a run is bounded
//! by `65,535 · 32,768 < 2^31`, and a run of a single neighbour by `32,768² = 2^30`: no
//! partial sum of a run can overflow `i32` (`SMLABB` wraps like `wrapping_add`, and never
//! needs to). The runs are added in `i64`. For the normalised adjacency in Q1.14 (entries
//! `<= 2^13` with the history node, every degree `>= 2`) a run holds at least 8
//! neighbours; a neuron's row of the N = 64 device graphs is one run, the history node's
//! row (65 neighbours of `≈ 1,437`) two.

/// Largest `Σ |a_k|` of a run summed in `i32` (see the module documentation).
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

/// A list of packed neighbours ([`pack_neighbor`]), with what the kernel checks once: the
/// rows it reads (largest node + 1), whether all of it is one run (`Σ |a| <= 65,535`) and
/// whether no weight is negative (the 32-column kernel's one-instruction row address).
#[derive(Clone, Copy)]
// `rows`, `one_run` and `nonneg` serve the Cortex-M4 kernel (and the tests).
#[cfg_attr(
    not(all(target_arch = "arm", target_feature = "dsp")),
    allow(dead_code)
)]
pub struct Neighbors<'a> {
    e: &'a [u32],
    rows: usize,
    one_run: bool,
    nonneg: bool,
}

impl<'a> Neighbors<'a> {
    /// The list `e` (one pass over it).
    ///
    /// The run bound sums the weights' low halves as unsigned (`a as u16`), not `|a|`: a
    /// negative weight counts as `2^16 − |a| >= |a|`, so the sum is never below `Σ |a|` and
    /// a list it accepts is one run; Â has no negative entries, so for the step's lists the
    /// two sums are equal. Up to `2^16` entries the sum cannot wrap (`2^16 · (2^16 − 1)`); a
    /// longer list is never taken as one run (only slower, never wrong). The absolute value
    /// and saturating add it replaces cost about 5 instructions an entry, 4 lists of ~1,240
    /// entries a window step at N = 64.
    #[inline]
    pub fn new(e: &'a [u32]) -> Self {
        let mut max = 0u32;
        let mut sum = 0u32;
        let mut signs = 0u32;
        let short = e.len() <= 1 << 16;
        for &v in e {
            max = max.max(v >> 21);
            sum = sum.wrapping_add(v & 0xffff);
            signs |= v;
        }
        Neighbors {
            e,
            rows: if e.is_empty() { 0 } else { max as usize + 1 },
            one_run: short && sum <= RUN_BOUND,
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
        // Up to 2^16 entries `sum` cannot wrap (`2^16 · 2^15`); a longer list is never
        // taken as one run (only slower, never wrong).
        let short = e.len() <= 1 << 16;
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
            one_run: short && sum <= RUN_BOUND,
            nonneg: signs & 0x8000 == 0,
            e,
        }
    }

    /// The packed entries.
    #[inline(always)]
    pub fn entries(&self) -> &'a [u32] {
        self.e
    }
}

/// `acc[c] = Σ_k a_k · x[j_k · width + c]` (or `acc[c] += …` when `!first`) for
/// `c < acc.len()`, exactly, over the neighbours `(j_k, a_k)` of `nb`; `x` is node-major
/// `i16` with rows of `width`. Elements outside `x` count as zero.
#[inline(never)]
pub fn propagate_i16(nb: &Neighbors<'_>, x: &[i16], width: usize, acc: &mut [i64], first: bool) {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    if arm::blocks(nb, x.as_ptr().cast(), x.len(), width, acc, first) {
        return;
    }
    scalar(nb.e, width, acc, first, |at| x.get(at).copied());
}

/// [`propagate_i16`] over rows of little-endian `i16` bytes (`2 · width` bytes a row, a
/// table in the model blob).
#[inline(never)]
pub fn propagate_le(nb: &Neighbors<'_>, x: &[u8], width: usize, acc: &mut [i64], first: bool) {
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    if arm::blocks(nb, x.as_ptr(), x.len() / 2, width, acc, first) {
        return;
    }
    scalar(nb.e, width, acc, first, |at| {
        let p = x.get(at.wrapping_mul(2)..)?.first_chunk::<2>()?;
        Some(i16::from_le_bytes(*p))
    });
}

/// The propagation and its rounding in one: `out[c] = sat_i16(((S_c >> (s − 1)) + 1) >> 1)`
/// for `c < width`, `S_c = Σ_k a_k · x[j_k · width + c]`, i.e. `floor((S_c + 2^(s−1)) / 2^s)`
/// saturated (the 32-bit path of the TAVRNN's conversion of its propagated sums), when the
/// kernel applies: `nb` is one run (so every `S_c` fits in an `i32`), `width` is 16 or 32,
/// `out.len() == width`, every row `nb` names lies in `x`, and `s` is in `2..=30` (and on
/// the Cortex-M4, for width 32, `x` word aligned and no weight negative). Returns whether
/// it did (otherwise `out` is left as it was, for the caller's general path, which gives
/// the same values).
///
/// Why: a row's sums were written to `i64`s and converted back in a second loop; here, on
/// the Cortex-M4, the kernel rounds its eight register sums and stores them as `i16` (4
/// instructions a value instead of about 10).
#[inline(never)]
pub fn propagate_round_i16(
    nb: &Neighbors<'_>,
    x: &[i16],
    width: usize,
    out: &mut [i16],
    s: u32,
) -> bool {
    if !round_applies(nb, x.len(), width, out.len(), s) {
        return false;
    }
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    return arm::round_blocks(nb, x.as_ptr().cast(), width, out, s);
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        round_portable(nb.e, width, out, s, |at| x.get(at).copied());
        true
    }
}

/// [`propagate_round_i16`] over rows of little-endian `i16` bytes.
#[inline(never)]
pub fn propagate_round_le(
    nb: &Neighbors<'_>,
    x: &[u8],
    width: usize,
    out: &mut [i16],
    s: u32,
) -> bool {
    if !round_applies(nb, x.len() / 2, width, out.len(), s) {
        return false;
    }
    #[cfg(all(target_arch = "arm", target_feature = "dsp"))]
    return arm::round_blocks(nb, x.as_ptr(), width, out, s);
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    {
        round_portable(nb.e, width, out, s, |at| {
            let p = x.get(at.wrapping_mul(2)..)?.first_chunk::<2>()?;
            Some(i16::from_le_bytes(*p))
        });
        true
    }
}

/// The conditions of [`propagate_round_i16`], `len` the elements of `x`.
#[inline(always)]
fn round_applies(nb: &Neighbors<'_>, len: usize, width: usize, out: usize, s: u32) -> bool {
    nb.one_run
        && (width == 16 || width == 32)
        && out == width
        && nb.rows <= len / width
        && (2..=30).contains(&s)
}

/// The portable twin of the rounding kernels: the exact sums (in `i32`: one run), rounded
/// the same way.
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
fn round_portable(
    e: &[u32],
    width: usize,
    out: &mut [i16],
    s: u32,
    get: impl Fn(usize) -> Option<i16>,
) {
    for (c, o) in out.iter_mut().enumerate() {
        let mut sum = 0i32;
        for &v in e {
            let (j, w) = unpack_neighbor(v);
            if let Some(xv) = get(j.wrapping_mul(width).wrapping_add(c)) {
                sum = sum.wrapping_add(w as i32 * xv as i32);
            }
        }
        // |sum >> (s - 1)| <= 2^30: adding 1 cannot wrap.
        *o = crate::fixed::sat_i16((sum >> (s - 1)).wrapping_add(1) >> 1);
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
    use super::{Neighbors, RUN_BOUND};

    /// Whether a kernel takes `x` with rows of `width` elements: `x` word aligned (`LDRD`;
    /// the `phi_x` table of an exported model is, docs/FORMAT.md §2), and 16 columns, or 32
    /// when no weight is negative (the row address is `x + (e >> 15)`, see
    /// [`super::pack_neighbor`]); the others take the portable path.
    #[inline(always)]
    fn takes(nb: &Neighbors<'_>, x: *const u8, width: usize) -> bool {
        x as usize & 3 == 0 && (width == 16 || (width == 32 && nb.nonneg))
    }

    /// The sums through the assembly kernel, when [`takes`] holds, `acc.len() == width`
    /// and every row the list names lies in `x` (`len` elements from `x`); `false`
    /// (nothing done) otherwise.
    #[inline(always)]
    pub(super) fn blocks(
        nb: &Neighbors<'_>,
        x: *const u8,
        len: usize,
        width: usize,
        acc: &mut [i64],
        first: bool,
    ) -> bool {
        let kernel: unsafe extern "C" fn(*const u32, *const u32, *const u8, usize) = if width == 16
        {
            nl_prop8_r32
        } else {
            nl_prop8_r64
        };
        if acc.len() != width || nb.rows > len / width || !takes(nb, x, width) {
            return false;
        }
        let e = nb.e;
        let mut first = first;
        let mut start = 0;
        loop {
            // One run: all of the list, or the longest prefix of the rest within the bound.
            let end = if nb.one_run {
                e.len()
            } else {
                run_end(e, start)
            };
            let run = e.get(start..end).unwrap_or(&[]);
            let range = run.as_ptr_range();
            for (b, out) in acc.as_chunks_mut::<8>().0.iter_mut().enumerate() {
                // SAFETY: the kernel reads the entries `range.start .. range.end` of `run`
                // (none when empty), and for each entry `(j << 21) | a` the 16 bytes at
                // `x + 2 (j · width + 8 b)` (word aligned, as `LDRD` needs, and for width 32
                // the address `x + 16 b + (e >> 15)` has no bit of `a`, `a >= 0`: `takes`):
                // `j < nb.rows <= len / width`, so
                // `j · width + 8 b + 8 <= (j + 1) · width <= len` elements lie in `x`
                // (`8 b + 8 <= acc.len() = width`). It writes the 64 bytes of `out` (8-byte
                // aligned `i64`s; bit 0 of the address carries `first`), and saves the
                // callee-saved registers it uses.
                unsafe {
                    kernel(
                        range.start,
                        range.end,
                        x.wrapping_add(16 * b),
                        out.as_mut_ptr() as usize | usize::from(first),
                    )
                };
            }
            first = false;
            start = end;
            if start >= e.len() {
                return true;
            }
        }
    }

    /// [`super::propagate_round_i16`] once its conditions hold (checked by the caller),
    /// when [`takes`] gives a kernel; `false` (nothing done) otherwise (then the caller's
    /// general path gives the same values).
    #[inline(always)]
    pub(super) fn round_blocks(
        nb: &Neighbors<'_>,
        x: *const u8,
        width: usize,
        out: &mut [i16],
        s: u32,
    ) -> bool {
        if !takes(nb, x, width) {
            return false;
        }
        let kernel: unsafe extern "C" fn(*const u32, *const u32, *const u8, *mut i16, u32) =
            if width == 16 {
                nl_prop8_round_r32
            } else {
                nl_prop8_round_r64
            };
        let range = nb.e.as_ptr_range();
        for (b, o) in out.as_chunks_mut::<8>().0.iter_mut().enumerate() {
            // SAFETY: as in `blocks` (the caller checked `width` in {16, 32},
            // `nb.rows <= len / width` and `out.len() == width`; `takes` the alignment and
            // the address): the entries of `nb` and 16 bytes of each row they name are read;
            // the 8 `i16`s of `o` are written.
            // `nb` is one run, so the kernel's `i32` sums are exact; `s - 1` is in `1..=29`.
            unsafe {
                kernel(
                    range.start,
                    range.end,
                    x.wrapping_add(16 * b),
                    o.as_mut_ptr(),
                    s - 1,
                )
            };
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

    /// One neighbour: r2 = its entry `(j << 21) | a`, r3 = the block of row `j` (`x` + the
    /// entry's high bits: `$shift` 16 for rows of 32 bytes, 15 for rows of 64), its 4 words
    /// in two `LDRD`s, and `SMLABB`/`SMLATB` of `a` with them into the 8 sums: 12
    /// instructions for 8 multiply-accumulates.
    macro_rules! neighbor {
        ($shift:literal, $ld:ident) => {
            concat!(
                "ldr r2, [r0], #4\n",
                "add r3, r1, r2, lsr #",
                $shift,
                "\n",
                $ld!("0", "4"),
                "smlabb r4, r12, r2, r4\n",
                "smlatb r5, r12, r2, r5\n",
                "smlabb r6, lr, r2, r6\n",
                "smlatb r7, lr, r2, r7\n",
                $ld!("8", "12"),
                "smlabb r8, r12, r2, r8\n",
                "smlatb r9, r12, r2, r9\n",
                "smlabb r10, lr, r2, r10\n",
                "smlatb r11, lr, r2, r11"
            )
        };
    }

    /// Two words of the row block at r3 + `$a` into r12 and lr: one `LDRD` (`x` word
    /// aligned: [`takes`]). (Two `LDR`s took any `x`, for a `phi_x` table at any offset of
    /// the model file, before the exporter aligned it: 2 instructions more a neighbour.)
    macro_rules! ld_d {
        ($a:literal, $b:literal) => {
            concat!("ldrd r12, lr, [r3, #", $a, "]\n")
        };
    }

    /// One kernel per row length (`$shift`: 16 for 32 bytes, 15 for 64, see `neighbor!`)
    /// and per exit (`$exit`: what is done with the 8 sums in r4-r11, the 4th argument
    /// in r3). r0 = first entry, r1 = end of the entries (kept at `[sp]`: no register is
    /// left), r2 = `x` + the block's byte offset (word aligned; kept in r1).
    macro_rules! prop8 {
        ($name:literal, $shift:literal, $ld:ident, $($exit:tt)*) => {
            core::arch::global_asm!(
                crate::kernels::thumb_fn!($name),
                concat!($name, ":"),
                "push {{r1, r3-r11, lr}}",
                "cmp r0, r1",
                "mov r1, r2",
                "bne 5f",
                // No neighbours: zero sums.
                "movs r4, #0",
                "movs r5, #0",
                "movs r6, #0",
                "movs r7, #0",
                "mov r8, #0",
                "mov r9, #0",
                "mov r10, #0",
                "mov r11, #0",
                "b 2f",
                // The first neighbour sets the sums (`SMULxB`, no clearing).
                "5:",
                "ldr r2, [r0], #4",
                concat!("add r3, r1, r2, lsr #", $shift),
                $ld!("0", "4"),
                "smulbb r4, r12, r2",
                "smultb r5, r12, r2",
                "smulbb r6, lr, r2",
                "smultb r7, lr, r2",
                $ld!("8", "12"),
                "smulbb r8, r12, r2",
                "smultb r9, r12, r2",
                "smulbb r10, lr, r2",
                "smultb r11, lr, r2",
                "ldr r12, [sp]",
                "subs r12, r12, r0",
                "beq 2f",
                // An odd number left: one neighbour, then two an iteration.
                "tst r12, #4",
                "beq 1f",
                neighbor!($shift, $ld),
                "ldr r12, [sp]",
                "cmp r0, r12",
                "beq 2f",
                "1:",
                neighbor!($shift, $ld),
                neighbor!($shift, $ld),
                "ldr r12, [sp]",
                "cmp r0, r12",
                "bne 1b",
                "2:",
                "ldr r3, [sp, #4]",
                $($exit)*,
                concat!(".size ", $name, ", . - ", $name),
            );
        };
    }

    /// Exit of the `i64` kernels: r3 = the block's 8 `i64` sums | `first` (bit 0); the sums
    /// are stored (`first`) or added, sign-extended.
    macro_rules! exit_i64 {
        () => {
            concat!(
                "lsrs r0, r3, #1\n",
                "bcs 3f\n",
                "ldrd r0, r1, [r3]\n",
                "adds r0, r0, r4\n",
                "adc r1, r1, r4, asr #31\n",
                "strd r0, r1, [r3]\n",
                "ldrd r0, r1, [r3, #8]\n",
                "adds r0, r0, r5\n",
                "adc r1, r1, r5, asr #31\n",
                "strd r0, r1, [r3, #8]\n",
                "ldrd r0, r1, [r3, #16]\n",
                "adds r0, r0, r6\n",
                "adc r1, r1, r6, asr #31\n",
                "strd r0, r1, [r3, #16]\n",
                "ldrd r0, r1, [r3, #24]\n",
                "adds r0, r0, r7\n",
                "adc r1, r1, r7, asr #31\n",
                "strd r0, r1, [r3, #24]\n",
                "ldrd r0, r1, [r3, #32]\n",
                "adds r0, r0, r8\n",
                "adc r1, r1, r8, asr #31\n",
                "strd r0, r1, [r3, #32]\n",
                "ldrd r0, r1, [r3, #40]\n",
                "adds r0, r0, r9\n",
                "adc r1, r1, r9, asr #31\n",
                "strd r0, r1, [r3, #40]\n",
                "ldrd r0, r1, [r3, #48]\n",
                "adds r0, r0, r10\n",
                "adc r1, r1, r10, asr #31\n",
                "strd r0, r1, [r3, #48]\n",
                "ldrd r0, r1, [r3, #56]\n",
                "adds r0, r0, r11\n",
                "adc r1, r1, r11, asr #31\n",
                "strd r0, r1, [r3, #56]\n",
                "pop {{r1, r3-r11, pc}}\n",
                "3:\n",
                // First: store the sums sign-extended (r3 - 1 = the i64s).
                "sub r3, r3, #1\n",
                "asr r0, r4, #31\n",
                "strd r4, r0, [r3]\n",
                "asr r0, r5, #31\n",
                "strd r5, r0, [r3, #8]\n",
                "asr r0, r6, #31\n",
                "strd r6, r0, [r3, #16]\n",
                "asr r0, r7, #31\n",
                "strd r7, r0, [r3, #24]\n",
                "asr r0, r8, #31\n",
                "strd r8, r0, [r3, #32]\n",
                "asr r0, r9, #31\n",
                "strd r9, r0, [r3, #40]\n",
                "asr r0, r10, #31\n",
                "strd r10, r0, [r3, #48]\n",
                "asr r0, r11, #31\n",
                "strd r11, r0, [r3, #56]\n",
                "pop {{r1, r3-r11, pc}}"
            )
        };
    }

    /// Exit of the rounding kernels: r3 = 8 `i16` outputs, the 5th argument (at
    /// `[sp, #44]` after the `push`) = `s - 1`; `out = ssat16(((sum >> (s - 1)) + 1) >> 1)`.
    macro_rules! exit_round {
        () => {
            concat!(
                "ldr r12, [sp, #44]\n",
                "asr r4, r4, r12\n",
                "adds r4, #1\n",
                "ssat r4, #16, r4, asr #1\n",
                "strh r4, [r3]\n",
                "asr r5, r5, r12\n",
                "adds r5, #1\n",
                "ssat r5, #16, r5, asr #1\n",
                "strh r5, [r3, #2]\n",
                "asr r6, r6, r12\n",
                "adds r6, #1\n",
                "ssat r6, #16, r6, asr #1\n",
                "strh r6, [r3, #4]\n",
                "asr r7, r7, r12\n",
                "adds r7, #1\n",
                "ssat r7, #16, r7, asr #1\n",
                "strh r7, [r3, #6]\n",
                "asr r8, r8, r12\n",
                "adds r8, #1\n",
                "ssat r8, #16, r8, asr #1\n",
                "strh r8, [r3, #8]\n",
                "asr r9, r9, r12\n",
                "adds r9, #1\n",
                "ssat r9, #16, r9, asr #1\n",
                "strh r9, [r3, #10]\n",
                "asr r10, r10, r12\n",
                "adds r10, #1\n",
                "ssat r10, #16, r10, asr #1\n",
                "strh r10, [r3, #12]\n",
                "asr r11, r11, r12\n",
                "adds r11, #1\n",
                "ssat r11, #16, r11, asr #1\n",
                "strh r11, [r3, #14]\n",
                "pop {{r1, r3-r11, pc}}"
            )
        };
    }

    // The exits are the same for both row lengths: the 64-byte kernels branch to the
    // 32-byte kernels' (-312 B of flash, one branch a block).
    prop8!(
        "nl_prop8_r32",
        "16",
        ld_d,
        ".global nl_prop8_exit_i64",
        "nl_prop8_exit_i64:",
        exit_i64!()
    );
    prop8!("nl_prop8_r64", "15", ld_d, "b.w nl_prop8_exit_i64");
    prop8!(
        "nl_prop8_round_r32",
        "16",
        ld_d,
        ".global nl_prop8_exit_round",
        "nl_prop8_exit_round:",
        exit_round!()
    );
    prop8!("nl_prop8_round_r64", "15", ld_d, "b.w nl_prop8_exit_round");

    extern "C" {
        /// The block kernel for rows of 32 bytes (16 columns).
        fn nl_prop8_r32(e: *const u32, end: *const u32, x: *const u8, out_first: usize);
        /// The block kernel for rows of 64 bytes (32 columns).
        fn nl_prop8_r64(e: *const u32, end: *const u32, x: *const u8, out_first: usize);
        /// The rounding block kernel for rows of 32 bytes.
        fn nl_prop8_round_r32(e: *const u32, end: *const u32, x: *const u8, out: *mut i16, s1: u32);
        /// The rounding block kernel for rows of 64 bytes.
        fn nl_prop8_round_r64(e: *const u32, end: *const u32, x: *const u8, out: *mut i16, s1: u32);
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
        assert_eq!((nb.rows, nb.one_run), (10, false));
        // A negative weight counts as its low half, 2^16 - |a|: -30000 and 30000 are
        // |a|-summed 60,000 but not taken as one run (conservative, never wrong) ...
        let nb = Neighbors::new(&e[..2]);
        assert_eq!((nb.rows, nb.one_run, nb.nonneg), (10, false, false));
        // ... while -30000 and 1000 are (35,536 + 1,000).
        let small = pack(&[3, 9], &[-30000, 1000]);
        let nb = Neighbors::new(&small);
        assert_eq!((nb.rows, nb.one_run, nb.nonneg), (10, true, false));
        // Non-negative weights: the plain sum, 65,535 at most.
        let edge = pack(&[1, 2, 3], &[32767, 32767, 1]);
        assert!(Neighbors::new(&edge).one_run);
        let over = pack(&[1, 2, 3], &[32767, 32767, 2]);
        assert!(!Neighbors::new(&over).one_run);
        let nb = Neighbors::new(&e[1..]);
        assert_eq!((nb.rows, nb.one_run, nb.nonneg), (10, true, true));
        // `fill` packs as `pack_neighbor` and finds the same flags as `new`.
        let mut f = [3u32 << 16, 9 << 16, 2 << 16];
        let w = [-30000i16, 30000, 10000];
        let nb = Neighbors::fill(&mut f, |j| {
            w[[3, 9, 2].iter().position(|&v| v == j).unwrap()]
        });
        assert_eq!((nb.rows, nb.one_run, nb.nonneg), (10, false, false));
        assert_eq!(nb.entries(), &e[..]);
        assert_eq!(Neighbors::new(&[]).rows, 0);
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

        /// The propagation rounded straight to `i16` ([`propagate_round_i16`] /
        /// [`propagate_round_le`]): where it applies (one run, width 16 or 32, every row in
        /// `x`, `s` in `2..=30`) `out[c]` is `sat_i16(floor((S_c + 2^(s-1)) / 2^s))` of the
        /// plain `i64` sum; elsewhere it says so and leaves `out` as it was.
        #[test]
        fn round_matches_reference(width in prop::sample::select(vec![8usize, 16, 32]),
                                   rows in 1usize..16, small in any::<bool>(), ext in any::<bool>(),
                                   out_less in 0usize..2, s in 0u32..33,
                                   nb in proptest::collection::vec((0u16..16, any::<i16>()), 0..40),
                                   seed in proptest::collection::vec(any::<i16>(), 512)) {
            let x: Vec<i16> = if ext { vec![i16::MIN; rows * width] } else { seed[..rows * width].to_vec() };
            let nodes: Vec<u16> = nb.iter().map(|p| p.0).collect();
            let a: Vec<i16> = nb.iter().map(|p| if small { p.1 >> 6 } else { p.1 }).collect();
            let e = pack(&nodes, &a);
            let list = Neighbors::new(&e);
            let applies = list.one_run && width != 8 && out_less == 0
                && list.rows <= rows && (2..=30).contains(&s);
            let want: Vec<i16> = reference(&nodes, &a, &x, width, width)
                .iter()
                .map(|&v| (((v >> (s.max(1) - 1)) + 1) >> 1).clamp(i16::MIN as i64, i16::MAX as i64) as i16)
                .collect();
            let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
            for le in [false, true] {
                let mut out = vec![7i16; width - out_less];
                let did = if le {
                    propagate_round_le(&list, &bytes, width, &mut out, s)
                } else {
                    propagate_round_i16(&list, &x, width, &mut out, s)
                };
                prop_assert_eq!(did, applies);
                if did {
                    prop_assert_eq!(&out, &want);
                } else {
                    prop_assert!(out.iter().all(|&v| v == 7));
                }
            }
        }
    }
}
