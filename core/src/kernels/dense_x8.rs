//! The dense layer `out[i] = sat_i16(R_i(Σ_c W[i][c]·x[c]) + b[i])` over its rows, for
//! `i16` weights and a word-aligned `i16` vector whose length is a multiple of 8: the
//! TAVRNN's dense layers, with a Cortex-M4 DSP kernel in assembly.
//!
//! Why assembly: LLVM's code for the 32-column rows (the bulk of the TAVRNN's dense layers)
//! loaded each operand word by word and took about 2.6 instructions a multiply-accumulate,
//! call included, and the row loop around it (the call through the kernel pointer, the
//! requantisation, bias and saturation) about 44 instructions a row. Here the vector is
//! read with one `LDM` of four words (8 elements) and the weights, which lie in the model
//! blob at any alignment, with single `LDR`s (unaligned word loads are allowed on the
//! Cortex-M4, `LDM` is not): 8 elements are `LDM` + 4 × (`LDR` + `SMLALD`) + the loop's
//! `SUBS`/`BNE`, 11 instructions, 1.4 a multiply-accumulate; and the requantisation of
//! [`Requant::apply_narrow`](crate::fixed::Requant::apply_narrow) (the rows of the device models) with bias and saturation is
//! done in the same loop, about 25 instructions a row (`SMMUL` for the high word of the
//! product, one `SSAT`), the row pointers kept in memory and moved with one `LDM`/`STM`.
//! A row that `apply_narrow` does not cover (a 64-bit sum or a shift above -2) stops the
//! kernel; the caller computes that row the general way and resumes after it.
//!
//! The 32-column rows (most of the TAVRNN's: GRU gates, candidate, value, key, query) take
//! two rows a pass (`nl_dense_pairs_x32a`, word-aligned weights): the vector's 4 `LDM`s
//! serve both rows, and the sums are 32-bit (`SMUAD` then `SMLAD`, one register each, where
//! `SMLALD` needed two and their clearing), so the row pointers stay in registers or on the
//! stack (one `LDM`/`STM` a pass) and the loop is counted once per two rows: about 40
//! instructions a row (1.27 a multiply-accumulate) with word-aligned weights, where the
//! one-row kernel took 47. (A twin with single `LDR`s for unaligned weights took 53 a row;
//! it went, 452 B of flash, once the exporter word-aligned every `i16` weight blob,
//! docs/FORMAT.md §2: unaligned weights, from an older exporter, take the one-row kernel
//! `nl_dense_rows_x8` above, same values.) A
//! 32-bit sum can overflow where the exact one would not: `SMLAD` then sets the sticky Q
//! flag, which the kernel reads once a pass (before the `SSAT`s, which set it too, and
//! clears it after them); a pass whose sums overflowed stops the kernel at its first row,
//! which the caller computes the general way (the same value: the caller's path is exact);
//! so does a pass with a shift outside `apply_narrow`'s range in either row.
//! So on the Cortex-M4 the kernel may stop at a row that `apply_narrow` covers, and it
//! leaves an odd last row to the caller; the values are those of the portable twin.
//!
//! # Exactness
//! `SMLALD` adds two `i16 × i16` products to a 64-bit accumulator (wrapping modulo `2^64`,
//! as the `wrapping_add` chain of [`super::dot_i16`]); with `|w·x| <= 2^30` and fewer than
//! `2^16` elements the sum stays below `2^47`, so no wrap happens and the value is the exact
//! `Σ w·x`, the same as the portable path's. `SMMUL` is `(a · mult) >> 32` of two `i32`s,
//! as `apply_narrow` computes it; the rest is `apply_narrow`'s shifts and `sat_i16`.

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
/// [`Requant::apply_wide`](crate::fixed::Requant::apply_wide) or, on the Cortex-M4 only,
/// its 32-bit sum overflowed along the way or it is the odd last row of the two-row
/// 32-column kernel (see the module documentation). `apply_narrow` applies to the rows of
/// the device models, so one call does a layer.
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

#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[allow(unsafe_code)]
mod imp {
    /// The row pointers the kernel moves, in memory (`LDM`/`STM` once a row).
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
        // SAFETY: `nl_dense_rows_x8` (and the unrolled kernels for their `groups`: `x8a`,
        // `x16a`, `x48a` for 1, 2, 6 with `w` word aligned, as their `LDM`s need) reads, for each of at most `n` rows, `16 · groups`
        // bytes of `w` (in order, from its start), `8 · groups` elements of `x` (from its
        // start, with `LDM`: `x` is word aligned and `x.len() = 8 · groups`, both checked by
        // `VecX8::new`), one element of `mult`, `shift`, `bias` through `job`, and writes one
        // element of `out`; `n` rows exist in each (the `min` above, `w` holding
        // `n · 2 · x.len()` bytes). `n` and `groups` are in `1..=65535`, as it needs. It
        // writes nothing else but `job`, and saves the callee-saved registers it uses.
        let aligned = w.as_ptr() as usize & 3 == 0;
        if groups == 4 && aligned {
            // SAFETY: as above, for 32 columns (`x` of 16 words), the rows two at a time
            // (at most `n`; an odd last row is left to the caller), `LDM` of `w`, which is
            // word aligned (checked just above). `n` is
            // below 2^16, so the pass count the kernel keeps in lr leaves the Q bit (27) of
            // the value it writes to the APSR clear. It writes the 16 bytes it pushes on
            // the stack, nothing else.
            let left = unsafe { nl_dense_pairs_x32a(&mut job, w.as_ptr(), x.as_ptr(), n) };
            return n.saturating_sub(left);
        }
        let kernel = match (groups, aligned) {
            (6, true) => nl_dense_rows_x48a,
            (2, true) => nl_dense_rows_x16a,
            (1, true) => nl_dense_rows_x8a,
            _ => nl_dense_rows_x8,
        };
        let left = unsafe { kernel(&mut job, w.as_ptr(), x.as_ptr(), ((n - 1) << 16) | groups) };
        n.saturating_sub(left)
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

    /// 8 columns: `LDM` of 4 words of `x`, 4 × (`LDR` of a weight word + `SMLALD`).
    macro_rules! group {
        () => {
            concat!(
                "ldm r2!, {{r4-r7}}\n",
                "ldr r11, [r1], #4\n",
                "smlald r8, r9, r11, r4\n",
                "ldr r11, [r1], #4\n",
                "smlald r8, r9, r11, r5\n",
                "ldr r11, [r1], #4\n",
                "smlald r8, r9, r11, r6\n",
                "ldr r11, [r1], #4\n",
                "smlald r8, r9, r11, r7"
            )
        };
    }

    // Any number of groups: a loop, then `x` back by 16 bytes a group.
    dense_rows!(
        "nl_dense_rows_x8",
        "uxth r10, r3",
        "1:",
        group!(),
        "subs r10, #1",
        "bne 1b",
        "uxth r10, r3",
        "sub r2, r2, r10, lsl #4"
    );
    /// 8 columns of word-aligned weights: one `LDM` of each operand and 4 `SMLALD`.
    macro_rules! group_aligned {
        () => {
            concat!(
                "ldm r2!, {{r4-r7}}\n",
                "ldm r1!, {{r10-r12, lr}}\n",
                "smlald r8, r9, r10, r4\n",
                "smlald r8, r9, r11, r5\n",
                "smlald r8, r9, r12, r6\n",
                "smlald r8, r9, lr, r7"
            )
        };
    }

    /// 8 columns of two rows: `LDM` of 4 words of `x` (r4-r7), then for row A (`w` in r1,
    /// sum in r3) and row B (r2, sum in r12) 4 weight words (`$load`) and 4 `SMLAD`s
    /// (`$first`: `SMUAD`, the group that sets the sums).
    macro_rules! pair_group {
        ($load:ident, $op:ident) => {
            concat!(
                "ldm r0!, {{r4-r7}}\n",
                $load!("r1"),
                pair_group!(@mac $op, "r3"),
                $load!("r2"),
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
    /// 4 weight words of word-aligned rows: one `LDM`.
    macro_rules! load_ldm {
        ($w:literal) => {
            concat!("ldm ", $w, "!, {{r8-r11}}\n")
        };
    }
    /// The requantisation of one row (sum in `$acc`, `k = -2 - shift` in `$k`, checked to
    /// be in `0..=29`; pointers mult r4, bias r6, out r7):
    /// `out = ssat16(bias + (((acc · mult) >> 32 >> k) + 1) >> 1)`.
    macro_rules! pair_requant {
        ($acc:literal, $k:literal) => {
            concat!(
                "ldr r9, [r4], #4\n",
                "smmul r9, ",
                $acc,
                ", r9\n",
                "asr r9, r9, ",
                $k,
                "\n",
                "adds r9, #1\n",
                "ldrsh r10, [r6], #2\n",
                "add r10, r10, r9, asr #1\n",
                "ssat r10, #16, r10\n",
                "strh r10, [r7], #2\n",
            )
        };
    }
    /// The 32-column kernels (most of the TAVRNN's rows), two rows a pass: the vector's
    /// words are loaded once for both, the sums are 32-bit (`SMUAD`/`SMLAD`, one register
    /// each), whose overflow sets the sticky Q flag, checked once a pass (the `SSAT`s,
    /// which set it too, come after the check, and Q is cleared at the end of the pass);
    /// the row pointers live on the stack (one `LDM`/`STM` a pass).
    ///
    /// r0 = job, r1 = w (rows of 64 bytes back to back), r2 = x (word aligned, 16 words),
    /// r3 = rows. Returns in r0 the rows not done: the odd last row, or from the row whose
    /// sum overflowed 32 bits or whose shift `apply_narrow` does not cover.
    macro_rules! dense_pairs {
        ($name:literal, $load:ident) => {
            core::arch::global_asm!(
                crate::kernels::thumb_fn!($name),
                concat!($name, ":"),
                "push {{r3-r11, lr}}",
                "ldm r0, {{r4-r7}}",
                "push {{r4-r7}}",
                "mov r0, r2",
                "add r2, r1, #64",
                "lsrs lr, r3, #1",
                "beq 8f",
                "msr APSR_nzcvq, lr",
                "1:",
                pair_group!($load, smuad),
                pair_group!($load, smlad),
                pair_group!($load, smlad),
                pair_group!($load, smlad),
                "sub r0, r0, #64",
                "mov r1, r2",
                "add r2, r2, #64",
                // Q (bit 27) into N: a sum overflowed.
                "mrs r8, APSR",
                "lsls r8, r8, #4",
                "bmi 3f",
                "ldm sp, {{r4-r7}}",
                // k = -2 - shift of both rows (the shift byte read unsigned: 254 - byte);
                // either outside 0..=29 stops the pass at its first row.
                "ldrb r8, [r5], #1",
                "rsb r8, r8, #254",
                "ldrb r11, [r5], #1",
                "rsb r11, r11, #254",
                "cmp r8, #30",
                "it lo",
                "cmplo r11, #30",
                "bhs 3f",
                pair_requant!("r3", "r8"),
                pair_requant!("r12", "r11"),
                "stm sp, {{r4-r7}}",
                // Clear Q (lr is below 2^15: bit 27 clear).
                "msr APSR_nzcvq, lr",
                "subs lr, lr, #1",
                "bne 1b",
                "8:",
                // Done but an odd last row: rows & 1 left.
                "ldr r0, [sp, #16]",
                "and r0, r0, #1",
                "add sp, #16",
                "pop {{r3-r11, pc}}",
                "3:",
                // Stopped at the pass's first row: 2 lr + (rows & 1) left.
                "ldr r0, [sp, #16]",
                "and r0, r0, #1",
                "add r0, r0, lr, lsl #1",
                "add sp, #16",
                "pop {{r3-r11, pc}}",
                concat!(".size ", $name, ", . - ", $name),
            );
        };
    }
    dense_pairs!("nl_dense_pairs_x32a", load_ldm);

    // The other widths of the TAVRNN's layers (48: encoder, 16: mu, 8: phi_z), word-aligned
    // weights, unrolled (no register is left for a loop counter).
    dense_rows!(
        "nl_dense_rows_x48a",
        group_aligned!(),
        group_aligned!(),
        group_aligned!(),
        group_aligned!(),
        group_aligned!(),
        group_aligned!(),
        "sub r2, r2, #96"
    );
    dense_rows!(
        "nl_dense_rows_x16a",
        group_aligned!(),
        group_aligned!(),
        "sub r2, r2, #32"
    );
    dense_rows!("nl_dense_rows_x8a", group_aligned!(), "sub r2, r2, #16");

    extern "C" {
        /// See `dense_rows!` above.
        fn nl_dense_rows_x8(
            job: &mut Job,
            w: *const u8,
            x: *const i16,
            rows_groups: usize,
        ) -> usize;
        /// See `dense_pairs!` above: 32 columns of word-aligned weights.
        fn nl_dense_pairs_x32a(job: &mut Job, w: *const u8, x: *const i16, rows: usize) -> usize;
        /// 48 columns of word-aligned weights.
        fn nl_dense_rows_x48a(
            job: &mut Job,
            w: *const u8,
            x: *const i16,
            rows_groups: usize,
        ) -> usize;
        /// 16 columns of word-aligned weights.
        fn nl_dense_rows_x16a(
            job: &mut Job,
            w: *const u8,
            x: *const i16,
            rows_groups: usize,
        ) -> usize;
        /// 8 columns of word-aligned weights.
        fn nl_dense_rows_x8a(
            job: &mut Job,
            w: *const u8,
            x: *const i16,
            rows_groups: usize,
        ) -> usize;
    }
}

/// The portable twin of the assembly kernel: the same rows, the same values.
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
mod imp {
    use crate::fixed::{sat_i16, Requant};

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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::{sat_i16_from_i64, Requant};
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn conditions() {
        assert!(VecX8::new(&[]).is_none());
        assert!(VecX8::new(&[0; 12]).is_none());
        assert!(VecX8::new(&[0; 16]).is_some());
    }

    proptest! {
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
