//! The dense layer `out[i] = sat_i16(R_i(Σ_c W[i][c]·x[c]) + b[i])` over its rows, for
//! `i16` weights and a word-aligned `i16` vector whose length is a multiple of 8: the
//! TAVRNN's dense layers, with Cortex-M4 DSP kernels in assembly.
//!
//! Why assembly: LLVM's code for the 32-column rows (the bulk of the TAVRNN's dense layers)
//! loaded each operand word by word and took about 2.6 instructions a multiply-accumulate,
//! call included, and the row loop around it (the call through the kernel pointer, the
//! requantisation, bias and saturation) about 44 instructions a row.
//!
//! # Two rows a pass, planned once per layer ([`DensePlan`], [`dense_planned`])
//!
//! The TAVRNN's layers of 8, 16, 32 and 48 columns with word-aligned weights take the
//! two-row kernels `nl_dense_pairs_x{8,32,48}c` (the layer's rows share one shift: all
//! but two of the bench model's layers) and `nl_dense_pairs_x{16,32}r` (a shift a row;
//! also the 16-column layers with a common shift): the
//! vector's words (`LDM`, 4 words a group of 8 columns) are loaded once for both rows, the
//! weights with one `LDM` of 4 words a row and group, and the sums are 32-bit (`SMUAD` then
//! `SMLAD`, one register each, where `SMLALD` needed two and their clearing). The pass's
//! pointers and constants live in the caller's `PairJob` (its address in lr: one `LDM` and
//! one `STM` a pass), the bias pair is one word (`LDR`, any alignment) added with `SXTAH` /
//! `ASR #16`, and with a common shift the rounding constant `2^k` is the start value of the
//! `SMMLA` that forms the high word of `acc · mult`, so the requantisation of
//! [`Requant::apply_narrow`](crate::fixed::Requant::apply_narrow) is `SMMLA` + `ASR` a row.
//! What a layer can take (its widths, its shifts all in `apply_narrow`'s range, one shift or
//! one a row, the alignment of its weights) is decided once at model load ([`DensePlan::new`]),
//! so a call only checks the bounds of its rows and the vector.
//!
//! A 32-bit sum can overflow where the exact one would not: `SMLAD` then sets the sticky Q
//! flag, which the kernel reads once a pass (before the `SSAT`s, which set it too, and
//! clears it after them); a pass whose sums overflowed stops the kernel at its first row,
//! which the caller computes the exact way (`rowwise::dense_layer`: one row through the
//! one-row kernel below, 64-bit sums) together with every row after it. The portable
//! twin stops at the same rows (its sums are checked in `i32` after every two columns, as
//! `SMLAD` adds two products at a time), so the host runs the same fallback.
//!
//! The other layers (other widths, the classifier's 512 columns, unaligned weights of an
//! older exporter) take [`dense_rows_narrow`], one row at a time: `nl_dense_rows_x8`, the
//! vector read with one `LDM` of four words (8 elements) and the weights with single `LDR`s
//! (unaligned word loads are allowed on the Cortex-M4, `LDM` is not), `SMLALD` into a
//! 64-bit sum, [`Requant::apply_narrow`](crate::fixed::Requant::apply_narrow) with `SMMUL`,
//! bias and one `SSAT`; a row that `apply_narrow` does not cover stops it.
//!
//! Measured (`scripts/firmware-tavrnn-bench.sh --profile`: windows 3 and 4 of the bench's
//! model, N = 64, H = 32, 2026-11-28), per window step, kernel instructions (call, pass
//! loop, requantisation, bias, saturation) per row and per multiply-accumulate, before
//! (one-row kernels but for the 32-column pairs, `rowwise::rows_x8` around them) → now:
//!
//! | layer (columns, rows a step) | kernel | per row | per MAC |
//! | --- | --- | --- | --- |
//! | GRU gates, candidate, query, key (32, 12,288) | `nl_dense_pairs_x32c` | 40.6 → 34.4 | 1.27 → 1.07 |
//! | value (32, 2,048; shifts -17 and -18) | `nl_dense_pairs_x32r` | 40.6 → 38.9 | 1.27 → 1.21 |
//! | encoder (48, 1,024) | `nl_dense_pairs_x48c` | 59.1 → 45.8 | 1.23 → 0.95 |
//! | `mu` (16, 512; shifts -11 and -12) | `nl_dense_pairs_x16r` | 34.9 → 28.5 | 2.18 → 1.78 |
//! | `phi_z` (8, 1,024) | `nl_dense_pairs_x8c` | 28.6 → 17.8 | 3.58 → 2.22 |
//!
//! and the Rust around the kernel (`FixedBackend::dense`: the layer, its plan, the bounds,
//! the job) about 107 instructions a call (579 calls a step), where `dense` and
//! `rowwise::rows_x8` took about 177. The window step went from 1,954,640 to 1,807,000
//! instructions (2.333 → 2.157 a MAC).
//!
//! # Exactness
//! `SMLALD` adds two `i16 × i16` products to a 64-bit accumulator (wrapping modulo `2^64`,
//! as the `wrapping_add` chain of [`super::dot_i16()`]); with `|w·x| <= 2^30` and fewer than
//! `2^16` elements the sum stays below `2^47`, so no wrap happens and the value is the exact
//! `Σ w·x`, the same as the portable path's. A pass of the two-row kernels that completes
//! has 32-bit sums that never overflowed (Q clear), so they are the exact sums. `SMMUL` is
//! `(a · mult) >> 32` of two `i32`s, as `apply_narrow` computes it; `SMMLA` with `2^k` is
//! `2^k + ((a · mult) >> 32)` (the high word of `2^k · 2^32 + a · mult`), at most
//! `2^30 + 2^29` in magnitude, and `ASR #(k + 1)` of it is `apply_narrow`'s
//! `((t >> k) + 1) >> 1` (`floor((t + 2^k) / 2^(k+1))`); the rest is the bias in `i32` and
//! `sat_i16`.

use crate::format::{QMatrix, WeightType};

/// An `i16` vector that the assembly kernel may read: a non-zero multiple of 8 elements,
/// fewer than `2^16`, and, on the Cortex-M4, word aligned (the `LDM` requires it).
#[derive(Clone, Copy)]
pub struct VecX8<'a> {
    x: &'a [i16],
}

impl<'a> VecX8<'a> {
    /// `x` when it satisfies the kernel's conditions, else `None` (callers then take the
    /// general kernels; the values are the same either way).
    #[inline(always)]
    pub fn new(x: &'a [i16]) -> Option<Self> {
        let len = x.len();
        let ok = len != 0 && len & 7 == 0 && len < 1 << 16 && aligned(x);
        ok.then_some(VecX8 { x })
    }

    /// The vector.
    #[inline(always)]
    pub fn get(&self) -> &'a [i16] {
        self.x
    }
}

/// Word alignment of `x` (only the Cortex-M4 kernel needs it).
#[inline(always)]
fn aligned(x: &[i16]) -> bool {
    if cfg!(all(target_arch = "arm", target_feature = "dsp")) {
        x.as_ptr() as usize & 3 == 0
    } else {
        true
    }
}

/// For `i = 0, 1, …` over the rows that `w` (rows of `2 · x.len()` bytes, `i16` LE),
/// `mult` (`i32` LE), `shift`, `bias` (`i16` LE) and `out` all have: while row `i`'s
/// requantisation [`Requant::apply_narrow`](crate::fixed::Requant::apply_narrow) applies to its sum `acc_i = Σ_c W[i][c]·x[c]`,
/// `out[i] = sat_i16(apply_narrow(acc_i) + bias[i])`. Returns the number of rows done; the
/// row after them, if it exists, is left as it was for the caller: it needs
/// [`Requant::apply_wide`](crate::fixed::Requant::apply_wide). One row at a time, any
/// alignment of the weights (the general path and the exact fallback of [`dense_planned`]).
#[inline(always)]
pub fn dense_rows_narrow(
    w: &[u8],
    x: VecX8<'_>,
    mult: &[[u8; 4]],
    shift: &[u8],
    bias: &[[u8; 2]],
    out: &mut [i16],
) -> usize {
    imp::rows(w, x.x, mult, shift, bias, out)
}

/// The two-row kernels by plan code (0: none): their groups of 8 columns, the first four
/// with the layer's common shift (8, 32, 48 columns), the last two with a shift a row
/// (`PER_ROW` on; 16 and 32 columns). A 16-column layer with a common shift takes the
/// per-row kernel (no bench-model layer has one: the common-shift twin went, 204 B of
/// flash).
const GROUPS: [u8; 6] = [0, 1, 4, 6, 2, 4];
/// The first plan code whose kernel reads a shift a row.
const PER_ROW: u8 = 4;

/// A dense layer's two-row kernel, chosen once at model load ([`DensePlan::new`]): a code
/// into `GROUPS` (0: none, then [`dense_planned`] declines and the caller takes the
/// general rows) and the common shift's `k = -2 - shift`. 2 bytes; the checks that make a
/// call safe are made per call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DensePlan {
    code: u8,
    k: u8,
}

impl DensePlan {
    /// No two-row kernel: the general rows.
    pub const NONE: DensePlan = DensePlan { code: 0, k: 0 };

    /// The plan of the layer `m`: a two-row kernel when its weights are `i16` (word aligned
    /// on the Cortex-M4), its width is one that has a kernel (8, 32 or 48 columns with a
    /// common shift, 16 or 32 with any shifts) and every row's shift is one that
    /// [`Requant::apply_narrow`](crate::fixed::Requant::apply_narrow) covers (`-31..=-2`).
    pub fn new(m: &QMatrix<'_>) -> DensePlan {
        let Some(shifts) = m.shift.get(..m.rows as usize) else {
            return DensePlan::NONE;
        };
        let k = |s: u8| (-2 - s as i8 as i32) as u32;
        let first = shifts.first().map_or(u32::MAX, |&s| k(s));
        if m.wtype != WeightType::I16
            || !m.cols.is_multiple_of(8)
            || first >= 30
            || shifts.iter().any(|&s| k(s) >= 30)
            || (cfg!(all(target_arch = "arm", target_feature = "dsp"))
                && m.data.as_ptr() as usize & 3 != 0)
        {
            return DensePlan::NONE;
        }
        let groups = m.cols / 8;
        let common = shifts.iter().all(|&s| k(s) == first);
        // The codes of `GROUPS`.
        let code = match (groups, common) {
            (1, true) => 1,
            (4, true) => 2,
            (6, true) => 3,
            (2, _) => 4,
            (4, false) => 5,
            _ => return DensePlan::NONE,
        };
        DensePlan {
            code,
            k: first as u8,
        }
    }
}

/// Rows `row0 ..` of the layer (`m`, with `bias` its `i16` LE biases) into `out`, through
/// the two-row kernel of `plan` (made by [`DensePlan::new`] for this layer): the values of
/// [`dense_rows_narrow`] for the rows it does. Returns the rows done from the start of
/// `out`, in pairs: the row after them, if any, is left as it was for the caller (its pass
/// overflowed 32 bits on the Cortex-M4, or it is the odd last row); `None` (nothing done)
/// when `plan` has no kernel or does not fit: `x` or the layer not of the plan's width,
/// `x` not word aligned, rows missing from `m` or `bias`, weights not word aligned.
#[inline(always)]
pub fn dense_planned(
    plan: DensePlan,
    m: &QMatrix<'_>,
    bias: &[u8],
    row0: usize,
    x: &[i16],
    out: &mut [i16],
) -> Option<usize> {
    let cols = 8 * *GROUPS.get(plan.code as usize)? as usize;
    let n = out.len();
    // `m.cols`: a plan made for another layer of the same width would run, with this
    // layer's rows read at the wrong stride, were only `x` checked.
    if cols == 0
        || x.len() != cols
        || m.cols as usize != cols
        || !aligned(x)
        || row0 > 0xffff
        || n > 0xffff
    {
        return None;
    }
    // No product below can overflow: end < 2^17, width <= 96.
    let end = row0 + n;
    let width = 2 * cols;
    if end * width > m.data.len()
        || 4 * end > m.mult.len()
        || end > m.shift.len()
        || 2 * end > bias.len()
        || (cfg!(all(target_arch = "arm", target_feature = "dsp"))
            && (m.data.as_ptr() as usize + row0 * width) & 3 != 0)
    {
        return None;
    }
    Some(imp::pairs(plan, m, bias, row0, x, out))
}

#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[allow(unsafe_code)]
mod imp {
    use super::{DensePlan, PER_ROW};
    use crate::format::QMatrix;

    /// The row pointers the one-row kernel moves, in memory (`LDM`/`STM` once a row).
    #[repr(C)]
    struct Job {
        mult: *const [u8; 4],
        shift: *const u8,
        bias: *const [u8; 2],
        out: *mut i16,
    }

    #[inline(always)]
    pub(super) fn rows(
        w: &[u8],
        x: &[i16],
        mult: &[[u8; 4]],
        shift: &[u8],
        bias: &[[u8; 2]],
        out: &mut [i16],
    ) -> usize {
        let groups = x.len() / 8;
        // Rows of 2 x.len() bytes (x.len() is a non-zero multiple of 8: no division by 0).
        let n = (w.len() / (2 * x.len()))
            .min(mult.len())
            .min(shift.len())
            .min(bias.len())
            .min(out.len())
            .min(u16::MAX as usize);
        if n == 0 || groups == 0 || groups > u16::MAX as usize {
            return 0;
        }
        let mut job = Job {
            mult: mult.as_ptr(),
            shift: shift.as_ptr(),
            bias: bias.as_ptr(),
            out: out.as_mut_ptr(),
        };
        // SAFETY: `nl_dense_rows_x8` reads, for each of at most `n` rows, `16 · groups`
        // bytes of `w` (in order, from its start, single `LDR`s: any alignment), `8 · groups`
        // elements of `x` (from its start, with `LDM`: `x` is word aligned and
        // `x.len() = 8 · groups`, both checked by `VecX8::new`), one element of `mult`,
        // `shift`, `bias` through `job`, and writes one element of `out`; `n` rows exist in
        // each (the `min` above, `w` holding `n · 2 · x.len()` bytes). `n` and `groups` are
        // in `1..=65535`, as it needs. It writes nothing else but `job`, and saves the
        // callee-saved registers it uses.
        let left =
            unsafe { nl_dense_rows_x8(&mut job, w.as_ptr(), x.as_ptr(), ((n - 1) << 16) | groups) };
        n.saturating_sub(left)
    }

    /// The pointers and constants of a two-row pass, in memory: the kernel keeps the
    /// address in lr and moves them with one `LDM`/`STM` a pass. `a`, `b`: the rounding
    /// constant `2^k` and `k + 1` of the layer's common shift, or (one shift a row) the
    /// pointer to the shift bytes and nothing.
    #[repr(C)]
    struct PairJob {
        x: *const i16,
        mult: *const u8,
        bias: *const u8,
        out: *mut i16,
        pairs: usize,
        a: usize,
        b: usize,
    }

    /// The kernels by plan code (`GROUPS`); code 0 has none.
    type Kernel = unsafe extern "C" fn(job: &mut PairJob, w: *const u8) -> usize;
    static KERNELS: [Kernel; 5] = [
        nl_dense_pairs_x8c,
        nl_dense_pairs_x32c,
        nl_dense_pairs_x48c,
        nl_dense_pairs_x16r,
        nl_dense_pairs_x32r,
    ];

    /// `dense_planned` after its checks: the pointers of row `row0`, the pass count, the
    /// shift's constants, and the kernel of the plan's code.
    #[inline(always)]
    pub(super) fn pairs(
        plan: DensePlan,
        m: &QMatrix<'_>,
        bias: &[u8],
        row0: usize,
        x: &[i16],
        out: &mut [i16],
    ) -> usize {
        let pairs = out.len() / 2;
        let Some(&kernel) = KERNELS.get((plan.code as usize).wrapping_sub(1)) else {
            return 0;
        };
        if pairs == 0 {
            return 0;
        }
        let a = if plan.code >= PER_ROW {
            m.shift.as_ptr().wrapping_add(row0) as usize
        } else {
            1 << (plan.k & 31)
        };
        let mut job = PairJob {
            x: x.as_ptr(),
            mult: m.mult.as_ptr().wrapping_add(4 * row0),
            bias: bias.as_ptr().wrapping_add(2 * row0),
            out: out.as_mut_ptr(),
            pairs,
            a,
            b: plan.k as usize + 1,
        };
        let w = m.data.as_ptr().wrapping_add(row0 * 2 * x.len());
        // SAFETY: `dense_planned` checked that `x` holds the `8 · groups` elements of the
        // plan's kernel (`GROUPS`), word aligned, that `m.data` (from `w`, word aligned),
        // `m.mult`, `m.shift` (with a shift a row) and `bias` hold the `out.len()` rows from
        // `row0` (`2 · 8 · groups`, 4, 1 and 2 bytes each), and that `out.len() < 2^16`. The
        // kernel reads, in each of the `pairs = out.len() / 2` passes, the next two rows of
        // each (`w` with `LDM`, the others with `LDR`/`LDRH`, which allow any alignment) and
        // `x` whole (`LDM`), and writes the next two elements of `out`, and the fields of
        // `job`; nothing else (it saves the callee-saved registers it uses). `pairs` is below
        // 2^16, so the value it writes to the APSR to clear Q has bit 27 clear. With one
        // shift a row, the plan checked every shift of the layer to be in `-31..=-2`
        // (another would give other values, nothing unsafe).
        let left = unsafe { kernel(&mut job, w) };
        2 * pairs.saturating_sub(left)
    }

    /// The row kernel, with the dot product of a row (`acc` in r9:r8, `x` back at its
    /// start after it) given by `$dot`.
    macro_rules! dense_rows {
        ($name:literal, $($dot:tt)*) => {
            core::arch::global_asm!(
                crate::kernels::thumb_fn!($name),
                // r0 = job {mult, shift, bias, out}, r1 = w (rows back to back, any
                // alignment), r2 = x (word aligned), r3 = (rows - 1) << 16 | groups of 8
                // (rows and groups >= 1). Returns in r0 the rows not done (0, or the row
                // needing the wide path and those after it).
                concat!($name, ":"),
                "push {{r4-r11, lr}}",
                "2:",
                "mov r8, #0",
                "mov r9, #0",
                $($dot)*,
                // Requantisation: k = -2 - shift in 0..=29 and acc in i32, else stop here.
                "ldm r0, {{r4-r7}}",
                "ldrsb r10, [r5], #1",
                "mvn r10, r10",
                "subs r10, #1",
                "cmp r10, #29",
                "bhi 3f",
                "cmp r9, r8, asr #31",
                "bne 3f",
                // t = (acc · mult) >> 32; out = ssat16(bias + (((t >> k) + 1) >> 1)).
                "ldr r11, [r4], #4",
                "smmul r11, r8, r11",
                "asr r11, r11, r10",
                "adds r11, #1",
                "ldrsh r12, [r6], #2",
                "add r12, r12, r11, asr #1",
                "ssat r12, #16, r12",
                "strh r12, [r7], #2",
                "stm r0, {{r4-r7}}",
                // Rows left - 1 in the high half: no borrow, another row.
                "subs r3, r3, #0x10000",
                "bhs 2b",
                "movs r0, #0",
                "pop {{r4-r11, pc}}",
                "3:",
                "lsrs r0, r3, #16",
                "adds r0, #1",
                "pop {{r4-r11, pc}}",
                concat!(".size ", $name, ", . - ", $name),
            );
        };
    }

    // Any number of groups of 8 columns (`LDM` of 4 words of `x`, 4 × (`LDR` of a weight
    // word + `SMLALD`)) in a loop, then `x` back by 16 bytes a group.
    dense_rows!(
        "nl_dense_rows_x8",
        "uxth r10, r3",
        "1:",
        "ldm r2!, {{r4-r7}}",
        "ldr r11, [r1], #4",
        "smlald r8, r9, r11, r4",
        "ldr r11, [r1], #4",
        "smlald r8, r9, r11, r5",
        "ldr r11, [r1], #4",
        "smlald r8, r9, r11, r6",
        "ldr r11, [r1], #4",
        "smlald r8, r9, r11, r7",
        "subs r10, #1",
        "bne 1b",
        "uxth r10, r3",
        "sub r2, r2, r10, lsl #4"
    );

    /// 8 columns of two rows: `LDM` of 4 words of `x` (r4-r7), then for row A (`w` in r1,
    /// sum in r3) and row B (r2, sum in r12) an `LDM` of 4 weight words (r8-r11) and 4
    /// `SMLAD`s (`smuad`: the first group, which sets the sums).
    macro_rules! pair_group {
        ($op:ident) => {
            concat!(
                "ldm r0!, {{r4-r7}}\n",
                "ldm r1!, {{r8-r11}}\n",
                pair_group!(@mac $op, "r3"),
                "ldm r2!, {{r8-r11}}\n",
                pair_group!(@mac $op, "r12"),
            )
        };
        (@mac smuad, $acc:literal) => {
            concat!(
                "smuad ", $acc, ", r4, r8\n",
                "smlad ", $acc, ", r5, r9, ", $acc, "\n",
                "smlad ", $acc, ", r6, r10, ", $acc, "\n",
                "smlad ", $acc, ", r7, r11, ", $acc, "\n",
            )
        };
        (@mac smlad, $acc:literal) => {
            concat!(
                "smlad ", $acc, ", r4, r8, ", $acc, "\n",
                "smlad ", $acc, ", r5, r9, ", $acc, "\n",
                "smlad ", $acc, ", r6, r10, ", $acc, "\n",
                "smlad ", $acc, ", r7, r11, ", $acc, "\n",
            )
        };
    }

    /// The requantisation, bias and saturation of a pass's two rows (sums in r3, r12) with
    /// the layer's common shift: `job` {x, mult, bias, out, pairs, 2^k, k + 1} loaded into
    /// r0, r4-r9; `SMMLA` gives `2^k + ((acc · mult) >> 32)` (the rounding constant folded
    /// in: at most `2^30 + 2^29` in magnitude), `ASR` by `k + 1`, the bias pair (one word)
    /// added with `SXTAH` / `ASR #16`: `apply_narrow`'s `((t >> k) + 1) >> 1` (see
    /// `Requant::apply_narrow`: `floor((t + 2^k) / 2^(k+1))`), bias and `SSAT`.
    macro_rules! requant_common {
        () => {
            concat!(
                "ldm lr, {{r0, r4-r9}}\n",
                "ldr r10, [r4], #4\n",
                "ldr r11, [r4], #4\n",
                "smmla r3, r3, r10, r8\n",
                "smmla r12, r12, r11, r8\n",
                "asr r3, r3, r9\n",
                "asr r12, r12, r9\n",
                "ldr r10, [r5], #4\n",
                "sxtah r3, r3, r10\n",
                "add r12, r12, r10, asr #16\n",
                "ssat r3, #16, r3\n",
                "ssat r12, #16, r12\n",
                "strh r3, [r6], #2\n",
                "strh r12, [r6], #2\n",
                // Clear Q (pairs is below 2^16: bit 27 clear), count the pass, store the
                // pointers and the count.
                "msr APSR_nzcvq, r7\n",
                "subs r7, r7, #1\n",
                "stm lr, {{r0, r4-r7}}\n",
            )
        };
    }

    /// The same with a shift a row: `job` {x, mult, bias, out, pairs, shift} in r0, r4-r8,
    /// the two shift bytes read as one halfword, `k = 254 - byte` (the byte of a shift in
    /// `-31..=-2`, checked by the plan), then `apply_narrow`'s steps as in `dense_rows!`.
    macro_rules! requant_per_row {
        () => {
            concat!(
                "ldm lr, {{r0, r4-r8}}\n",
                "ldrh r9, [r8], #2\n",
                "ldr r10, [r4], #4\n",
                "ldr r11, [r4], #4\n",
                "smmul r3, r3, r10\n",
                "smmul r12, r12, r11\n",
                "uxtb r10, r9\n",
                "rsb r10, r10, #254\n",
                "lsrs r9, r9, #8\n",
                "rsb r9, r9, #254\n",
                "asr r3, r3, r10\n",
                "asr r12, r12, r9\n",
                "adds r3, r3, #1\n",
                "add r12, r12, #1\n",
                "ldr r10, [r5], #4\n",
                "sxth r11, r10\n",
                "add r3, r11, r3, asr #1\n",
                "asr r10, r10, #16\n",
                "add r12, r10, r12, asr #1\n",
                "ssat r3, #16, r3\n",
                "ssat r12, #16, r12\n",
                "strh r3, [r6], #2\n",
                "strh r12, [r6], #2\n",
                "msr APSR_nzcvq, r7\n",
                "subs r7, r7, #1\n",
                "stm lr, {{r0, r4-r8}}\n",
            )
        };
    }

    /// Two rows a pass of `$bytes`-byte rows (the groups of 8 columns `$groups`, the first
    /// one `smuad`), word-aligned weights: the vector's words are loaded once for both rows
    /// and the sums are 32-bit (`SMUAD`/`SMLAD`, one register each); their overflow sets
    /// the sticky Q flag, checked once a pass (before the `SSAT`s, which set it too, and
    /// cleared after them). A pass whose sums overflowed stops the kernel at its first row.
    ///
    /// r0 = job (`PairJob`), r1 = w (rows back to back). Returns in r0 the passes not done
    /// (0, or from the one that overflowed).
    macro_rules! dense_pairs {
        ($name:literal, $bytes:literal, $requant:ident, $($groups:expr),*) => {
            core::arch::global_asm!(
                crate::kernels::thumb_fn!($name),
                concat!($name, ":"),
                "push {{r4-r11, lr}}",
                "mov lr, r0",
                "ldr r0, [lr]",
                concat!("add r2, r1, #", $bytes),
                "ldr r3, [lr, #16]",
                "msr APSR_nzcvq, r3",
                "1:",
                $($groups,)*
                concat!("mov r1, r2\n", "add r2, r2, #", $bytes),
                // Q (bit 27) into N: a sum overflowed.
                "mrs r8, APSR",
                "lsls r8, r8, #4",
                "bmi 3f",
                $requant!(),
                "bne 1b",
                "movs r0, #0",
                "pop {{r4-r11, pc}}",
                "3:",
                "ldr r0, [lr, #16]",
                "pop {{r4-r11, pc}}",
                concat!(".size ", $name, ", . - ", $name),
            );
        };
    }
    dense_pairs!(
        "nl_dense_pairs_x8c",
        "16",
        requant_common,
        pair_group!(smuad)
    );
    dense_pairs!(
        "nl_dense_pairs_x32c",
        "64",
        requant_common,
        pair_group!(smuad),
        pair_group!(smlad),
        pair_group!(smlad),
        pair_group!(smlad)
    );
    dense_pairs!(
        "nl_dense_pairs_x48c",
        "96",
        requant_common,
        pair_group!(smuad),
        pair_group!(smlad),
        pair_group!(smlad),
        pair_group!(smlad),
        pair_group!(smlad),
        pair_group!(smlad)
    );
    dense_pairs!(
        "nl_dense_pairs_x16r",
        "32",
        requant_per_row,
        pair_group!(smuad),
        pair_group!(smlad)
    );
    dense_pairs!(
        "nl_dense_pairs_x32r",
        "64",
        requant_per_row,
        pair_group!(smuad),
        pair_group!(smlad),
        pair_group!(smlad),
        pair_group!(smlad)
    );

    extern "C" {
        /// See `dense_rows!` above.
        fn nl_dense_rows_x8(
            job: &mut Job,
            w: *const u8,
            x: *const i16,
            rows_groups: usize,
        ) -> usize;
        /// See `dense_pairs!` above: 8, 32, 48 columns, the layer's common shift.
        fn nl_dense_pairs_x8c(job: &mut PairJob, w: *const u8) -> usize;
        fn nl_dense_pairs_x32c(job: &mut PairJob, w: *const u8) -> usize;
        fn nl_dense_pairs_x48c(job: &mut PairJob, w: *const u8) -> usize;
        /// 16, 32 columns, a shift a row.
        fn nl_dense_pairs_x16r(job: &mut PairJob, w: *const u8) -> usize;
        fn nl_dense_pairs_x32r(job: &mut PairJob, w: *const u8) -> usize;
    }
}

/// The portable twin of the assembly kernels: the same rows, the same values, and the two-row
/// kernels stop at the same rows.
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
mod imp {
    use super::{DensePlan, PER_ROW};
    use crate::fixed::{sat_i16, Requant};
    use crate::format::QMatrix;

    #[inline(always)]
    pub(super) fn rows(
        w: &[u8],
        x: &[i16],
        mult: &[[u8; 4]],
        shift: &[u8],
        bias: &[[u8; 2]],
        out: &mut [i16],
    ) -> usize {
        let mut done = 0;
        for ((((w, m), &s), b), o) in w
            .chunks_exact(2 * x.len())
            .zip(mult)
            .zip(shift)
            .zip(bias)
            .zip(out)
        {
            let rq = Requant {
                mult: i32::from_le_bytes(*m),
                shift: s as i8,
            };
            match rq.apply_narrow(super::super::dot_i16(w, x)) {
                // |v| <= 2^29: the sum cannot wrap.
                Some(v) => *o = sat_i16(v.wrapping_add(i16::from_le_bytes(*b) as i32)),
                None => break,
            }
            done += 1;
        }
        done
    }

    /// `Σ w·x` as `SMUAD`/`SMLAD` form it: two products at a time into an `i32`; `None`
    /// where a step's exact value leaves `i32` (the kernel's Q flag).
    fn sum32(w: &[u8], x: &[i16]) -> Option<i32> {
        let mut acc = 0i32;
        for (w, x) in w.as_chunks::<4>().0.iter().zip(x.as_chunks::<2>().0) {
            let p = i16::from_le_bytes([w[0], w[1]]) as i64 * x[0] as i64
                + i16::from_le_bytes([w[2], w[3]]) as i64 * x[1] as i64;
            acc = i32::try_from(acc as i64 + p).ok()?;
        }
        Some(acc)
    }

    /// The two-row kernels: the rows of the passes done (pairs of rows, a pass stopping at
    /// a sum that leaves `i32` in either row), as `imp::pairs` on the Cortex-M4.
    #[inline(always)]
    pub(super) fn pairs(
        plan: DensePlan,
        m: &QMatrix<'_>,
        bias: &[u8],
        row0: usize,
        x: &[i16],
        out: &mut [i16],
    ) -> usize {
        let pairs = out.len() / 2;
        if plan.code == 0 || x.is_empty() {
            return 0;
        }
        let rows = m
            .data
            .get(row0 * 2 * x.len()..)
            .unwrap_or(&[])
            .chunks_exact(2 * x.len())
            .zip(m.mult.get(4 * row0..).unwrap_or(&[]).as_chunks::<4>().0)
            .zip(m.shift.get(row0..).unwrap_or(&[]))
            .zip(bias.get(2 * row0..).unwrap_or(&[]).as_chunks::<2>().0);
        let mut pass = [0i16; 2];
        let mut done = 0;
        for (i, (((w, mb), &s), b)) in rows.take(2 * pairs).enumerate() {
            let shift = if plan.code >= PER_ROW {
                s as i8
            } else {
                -2 - plan.k as i8
            };
            let Some(acc) = sum32(w, x) else {
                return done;
            };
            let rq = Requant {
                mult: i32::from_le_bytes(*mb),
                shift,
            };
            // The plan's shifts are in range: `Some` for a sum in `i32`.
            let Some(v) = rq.apply_narrow(acc as i64) else {
                return done;
            };
            pass[i & 1] = sat_i16(v.wrapping_add(i16::from_le_bytes(*b) as i32));
            if i & 1 == 1 {
                for (o, &v) in out.iter_mut().skip(done).zip(&pass) {
                    *o = v;
                }
                done += 2;
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::{sat_i16_from_i64, Requant};
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    #[test]
    fn conditions() {
        assert!(VecX8::new(&[]).is_none());
        assert!(VecX8::new(&[0; 12]).is_none());
        assert!(VecX8::new(&[0; 16]).is_some());
    }

    /// A layer of `rows` rows of `cols` columns for the planned-path tests, as blobs:
    /// weights, multipliers, shifts (each row's, or `shifts[0]` for all when `common`),
    /// biases.
    pub(crate) struct Layer {
        pub data: Vec<u8>,
        pub mult: Vec<u8>,
        pub shift: Vec<u8>,
        pub bias: Vec<u8>,
        pub cols: usize,
    }

    impl Layer {
        pub fn new(
            cols: usize,
            rows: usize,
            w: &[i16],
            mults: &[i32],
            shifts: &[i8],
            common: bool,
            bias: &[i16],
        ) -> Layer {
            Layer {
                data: w[..rows * cols]
                    .iter()
                    .flat_map(|v| v.to_le_bytes())
                    .collect(),
                mult: mults[..rows].iter().flat_map(|m| m.to_le_bytes()).collect(),
                shift: (0..rows)
                    .map(|r| if common { shifts[0] } else { shifts[r] } as u8)
                    .collect(),
                bias: bias[..rows].iter().flat_map(|b| b.to_le_bytes()).collect(),
                cols,
            }
        }

        pub fn matrix(&self) -> QMatrix<'_> {
            QMatrix {
                rows: self.shift.len() as u16,
                cols: self.cols as u16,
                wtype: WeightType::I16,
                data: &self.data,
                mult: &self.mult,
                shift: &self.shift,
            }
        }

        /// Row `r`: `sat_i16(apply_wide(Σ w·x) + bias)`, and whether a sum taken two
        /// products at a time leaves `i32` (the Cortex-M4 kernels' Q flag).
        pub fn reference(&self, r: usize, x: &[i16]) -> (i16, bool) {
            let m = self.matrix();
            let w = &self.data[r * 2 * self.cols..(r + 1) * 2 * self.cols];
            let mut acc = 0i64;
            let mut over = false;
            for (c, pair) in w.chunks_exact(4).enumerate() {
                acc += i16::from_le_bytes([pair[0], pair[1]]) as i64 * x[2 * c] as i64
                    + i16::from_le_bytes([pair[2], pair[3]]) as i64 * x[2 * c + 1] as i64;
                over |= acc != acc as i32 as i64;
            }
            let b = i16::from_le_bytes([self.bias[2 * r], self.bias[2 * r + 1]]);
            (
                sat_i16_from_i64(m.requant(r).apply_wide(acc) + b as i64),
                over,
            )
        }
    }

    /// Weights and inputs: any, or at the `i16` extremes (every pass overflows 32 bits),
    /// or all `i16::MAX` (the sums stay in `i32` for a few pairs of columns, then leave it).
    pub(crate) fn extremes(ext: u8, w: Vec<i16>, x: Vec<i16>) -> (Vec<i16>, Vec<i16>) {
        match ext {
            1 => (vec![i16::MIN; w.len()], vec![i16::MIN; x.len()]),
            2 => (vec![i16::MAX; w.len()], vec![i16::MAX; x.len()]),
            3 => (
                w.iter()
                    .map(|&v| if v < 0 { i16::MIN } else { i16::MAX })
                    .collect(),
                x.iter()
                    .map(|&v| if v < 0 { i16::MIN } else { i16::MAX })
                    .collect(),
            ),
            _ => (w, x),
        }
    }

    proptest! {
        /// The two-row kernels' path against a plain reference, 8 to 48 columns, any row
        /// count (odd ones included) from any first row, a common shift or one a row: the
        /// plan exists for the widths that have a kernel, the rows done come in pairs and
        /// have the reference's values, the rows after them are untouched, and the first
        /// row not done is the odd last row or starts a pass whose 32-bit sums overflow.
        #[test]
        fn planned_matches_reference(groups in 1usize..7, rows in 0usize..10, row0 in 0usize..3,
                                     ext in 0u8..4, common in any::<bool>(),
                                     w in prop::collection::vec(any::<i16>(), 12 * 48),
                                     x in prop::collection::vec(any::<i16>(), 48),
                                     mults in prop::collection::vec(any::<i32>(), 12),
                                     shifts in prop::collection::vec(-31i8..=-2, 12),
                                     bias in prop::collection::vec(any::<i16>(), 12)) {
            let cols = 8 * groups;
            let (w, x) = extremes(ext, w, x);
            let x = &x[..cols];
            let total = row0 + rows;
            let layer = Layer::new(cols, total.max(1), &w, &mults, &shifts, common, &bias);
            let m = layer.matrix();
            let plan = DensePlan::new(&m);
            let uniform = layer.shift.iter().all(|&s| s == layer.shift[0]);
            let has = matches!((groups, uniform), (1 | 4 | 6, true) | (2 | 4, _));
            prop_assert_eq!(plan != DensePlan::NONE, has);
            let mut out = vec![7i16; rows];
            let got = dense_planned(plan, &m, &layer.bias, row0, x, &mut out);
            if !has || total > m.rows as usize {
                prop_assert_eq!(got, None);
                return Ok(());
            }
            let done = got.unwrap();
            prop_assert!(done <= rows && done.is_multiple_of(2));
            for (i, &o) in out.iter().enumerate() {
                if i < done {
                    prop_assert_eq!(o, layer.reference(row0 + i, x).0);
                } else {
                    prop_assert_eq!(o, 7);
                }
            }
            if done < rows {
                let over = layer.reference(row0 + done, x).1
                    || (done + 1 < rows && layer.reference(row0 + done + 1, x).1);
                prop_assert!(over || done + 1 == rows);
            }
        }

        /// `kernels::dense_layer` (the planned kernel, the exact row where it stopped, the
        /// general rows after it) has the reference's values on every row, extremes
        /// included, with or without a plan.
        #[test]
        fn dense_layer_matches_reference(groups in 1usize..7, rows in 0usize..10, row0 in 0usize..3,
                                         ext in 0u8..4, common in any::<bool>(), planned in any::<bool>(),
                                         w in prop::collection::vec(any::<i16>(), 12 * 48),
                                         x in prop::collection::vec(any::<i16>(), 48),
                                         mults in prop::collection::vec(any::<i32>(), 12),
                                         shifts in prop::collection::vec(-31i8..=-2, 12),
                                         bias in prop::collection::vec(any::<i16>(), 12)) {
            let cols = 8 * groups;
            let (w, x) = extremes(ext, w, x);
            let x = &x[..cols];
            let layer = Layer::new(cols, row0 + rows, &w, &mults, &shifts, common, &bias);
            let m = layer.matrix();
            let plan = if planned { DensePlan::new(&m) } else { DensePlan::NONE };
            let mut out = vec![7i16; rows];
            crate::kernels::dense_layer(plan, &m, &layer.bias, row0, x, &mut out);
            for (i, &o) in out.iter().enumerate() {
                prop_assert_eq!(o, layer.reference(row0 + i, x).0);
            }
        }

        /// A plan declines a vector of another width, a layer of another width, rows past
        /// the layer's or its bias's end, and shifts outside `apply_narrow`'s range (no plan then).
        #[test]
        fn planned_declines(groups in prop::sample::select(vec![1usize, 4, 6]),
                            bad in any::<i8>().prop_filter("outside -31..=-2", |s| !(-31..=-2).contains(s))) {
            let cols = 8 * groups;
            let w = vec![1i16; 4 * cols];
            let layer = Layer::new(cols, 4, &w, &[1 << 30; 4], &[-5; 4], true, &[0; 4]);
            let m = layer.matrix();
            let plan = DensePlan::new(&m);
            prop_assert!(plan != DensePlan::NONE);
            let x = vec![1i16; cols + 8];
            let mut out = [0i16; 4];
            prop_assert_eq!(dense_planned(plan, &m, &layer.bias, 0, &x, &mut out), None);
            prop_assert_eq!(dense_planned(plan, &m, &layer.bias, 1, &x[..cols], &mut out), None);
            prop_assert_eq!(dense_planned(plan, &m, &layer.bias[..6], 0, &x[..cols], &mut out), None);
            prop_assert_eq!(dense_planned(plan, &m, &layer.bias, 0, &x[..cols], &mut out), Some(4));
            // The plan on a layer of another width (its weights long enough): declined.
            let wider = QMatrix { cols: (cols + 8) as u16, ..m };
            prop_assert_eq!(dense_planned(plan, &wider, &layer.bias, 0, &x[..cols], &mut out), None);
            let shift: Vec<u8> = [-5i8, -5, bad, -5].iter().map(|&s| s as u8).collect();
            let m = QMatrix { shift: &shift, ..m };
            prop_assert_eq!(DensePlan::new(&m), DensePlan::NONE);
        }

        /// Against a plain reference (`i64` sum, `apply_wide`, bias, saturation): the rows
        /// done have its values, the first row not done needs `apply_wide`, the others are
        /// untouched; for any lengths of the parts, extremes included.
        #[test]
        fn matches_reference(groups in 1usize..7, rows in 0usize..6, ext in any::<bool>(),
                             short in prop::collection::vec(0usize..2, 5),
                             w in prop::collection::vec(any::<i16>(), 6 * 48),
                             x in prop::collection::vec(any::<i16>(), 48),
                             mults in prop::collection::vec(any::<i32>(), 6),
                             shifts in prop::collection::vec(prop_oneof![-31i8..=-2, any::<i8>()], 6),
                             bias in prop::collection::vec(any::<i16>(), 6)) {
            let len = 8 * groups;
            let (w, x): (Vec<i16>, Vec<i16>) = if ext {
                (vec![i16::MIN; 6 * 48], vec![i16::MIN; 48])
            } else {
                (w, x)
            };
            let x = &x[..len];
            let bytes: Vec<u8> = w[..rows * len].iter().flat_map(|v| v.to_le_bytes()).collect();
            let wb = &bytes[..bytes.len().saturating_sub(short[0])];
            let mb: Vec<[u8; 4]> = mults[..rows.saturating_sub(short[1])].iter().map(|m| m.to_le_bytes()).collect();
            let sb: Vec<u8> = shifts[..rows.saturating_sub(short[2])].iter().map(|&s| s as u8).collect();
            let bb: Vec<[u8; 2]> = bias[..rows.saturating_sub(short[3])].iter().map(|b| b.to_le_bytes()).collect();
            let mut out = vec![7i16; rows.saturating_sub(short[4])];
            let done = dense_rows_narrow(wb, VecX8::new(x).unwrap(), &mb, &sb, &bb, &mut out);
            let n = (wb.len() / (2 * len)).min(mb.len()).min(sb.len()).min(bb.len()).min(out.len());
            prop_assert!(done <= n);
            for (i, &o) in out.iter().enumerate() {
                let acc: i64 = w[i * len..(i + 1) * len].iter().zip(x).map(|(&a, &b)| a as i64 * b as i64).sum();
                let rq = Requant { mult: mults[i], shift: shifts[i] };
                if i < done {
                    prop_assert_eq!(o, sat_i16_from_i64(rq.apply_wide(acc) + bias[i] as i64));
                } else {
                    prop_assert_eq!(o, 7);
                    if i == done && i < n {
                        prop_assert!(rq.apply_narrow(acc).is_none());
                    }
                }
            }
        }
    }
}
