//! The rounding of the propagated `i64` sums back to `i16`: `sat_i16(((a >> (s − 1)) + 1) >> 1)`
//! for the sums that fit in 32 bits, with a Cortex-M4 kernel in assembly.
//!
//! Why: the TAVRNN step converts 14,336 sums a window at N = 64; LLVM's loop took about 10.8
//! instructions a value. Here two sums are read with one `LDM`, and each is a compare of
//! its high word with the sign of its low word, `ASR` by `s − 1`, `ADDS`, `SSAT` with
//! `ASR #1` and `STRH`: 7.5 instructions a value. The rounding is that of the 32-bit path
//! of the step's conversion (`floor((a + 2^(s−1)) / 2^s)`, see `tavrnn::fixed`); a sum that
//! does not fit in 32 bits stops the kernel, and the caller converts it its general way.

/// For the leading `i` (over the common length of `acc` and `out`) whose `acc[i]` fits in
/// an `i32`, `out[i] = sat_i16(((acc[i] as i32 >> (s − 1)) + 1) >> 1)`; returns how many
/// were done (the value after them, if any, is left as it was: it does not fit, or it is
/// the last of an odd count). Nothing is done for `s` outside `2..=30`.
#[inline(always)]
pub fn round_shift_narrow(acc: &[i64], out: &mut [i16], s: u32) -> usize {
    if !(2..=30).contains(&s) {
        return 0;
    }
    imp::pairs(acc, out, s)
}

#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[allow(unsafe_code)]
mod imp {
    #[inline(always)]
    pub(super) fn pairs(acc: &[i64], out: &mut [i16], s: u32) -> usize {
        let pairs = acc.len().min(out.len()) / 2;
        if pairs == 0 {
            return 0;
        }
        // SAFETY: `nl_round_shift_pairs` reads at most `2 · pairs` `i64`s of `acc` (`LDM`:
        // `i64`s are 8-byte aligned) and writes at most `2 · pairs` `i16`s of `out`, both
        // within the slices (`pairs` is half the common length, at least 1); `s − 1` is in
        // `1..=29` (checked by the caller). It writes nothing else and saves the
        // callee-saved registers it uses.
        unsafe { nl_round_shift_pairs(acc.as_ptr(), out.as_mut_ptr(), pairs, s - 1) }
    }

    core::arch::global_asm!(
        ".section .text.nl_round_shift_pairs,\"ax\",%progbits",
        ".syntax unified",
        ".thumb",
        ".p2align 2",
        ".global nl_round_shift_pairs",
        ".type nl_round_shift_pairs,%function",
        ".thumb_func",
        // r0 = acc (i64, 8-byte aligned), r1 = out (i16), r2 = pairs (>= 1), r3 = s - 1.
        // Returns in r0 the values done.
        "nl_round_shift_pairs:",
        "push {{r4-r7, lr}}",
        "mov r12, r2",
        "1:",
        "ldm r0!, {{r4-r7}}",
        "cmp r5, r4, asr #31",
        "bne 3f",
        "asr r4, r4, r3",
        "adds r4, #1",
        "ssat r4, #16, r4, asr #1",
        "strh r4, [r1], #2",
        "cmp r7, r6, asr #31",
        "bne 4f",
        "asr r6, r6, r3",
        "adds r6, #1",
        "ssat r6, #16, r6, asr #1",
        "strh r6, [r1], #2",
        "subs r2, #1",
        "bne 1b",
        // r0 = 2 · (pairs − pairs left), + 1 when the second of a pair stopped it.
        "3:",
        "sub r0, r12, r2",
        "lsl r0, r0, #1",
        "pop {{r4-r7, pc}}",
        "4:",
        "sub r0, r12, r2",
        "lsl r0, r0, #1",
        "adds r0, #1",
        "pop {{r4-r7, pc}}",
        ".size nl_round_shift_pairs, . - nl_round_shift_pairs",
    );

    extern "C" {
        /// See the `global_asm!` above.
        fn nl_round_shift_pairs(acc: *const i64, out: *mut i16, pairs: usize, s1: u32) -> usize;
    }
}

/// The portable twin of the assembly kernel: the same values done, the same count.
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
mod imp {
    use crate::fixed::sat_i16;

    #[inline(always)]
    pub(super) fn pairs(acc: &[i64], out: &mut [i16], s: u32) -> usize {
        let even = acc.len().min(out.len()) & !1;
        let mut done = 0;
        for (o, &a) in out.iter_mut().zip(acc).take(even) {
            let lo = a as i32;
            if a != lo as i64 {
                break;
            }
            // |lo >> (s - 1)| <= 2^30: adding 1 cannot wrap.
            *o = sat_i16((lo >> (s - 1)).wrapping_add(1) >> 1);
            done += 1;
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Exact reference: `floor((a + 2^(s−1)) / 2^s)` in `i128`, clamped to `i16`.
    fn reference(a: i64, s: u32) -> i16 {
        let q = (a as i128 + (1i128 << (s - 1))).div_euclid(1i128 << s);
        q.clamp(i16::MIN as i128, i16::MAX as i128) as i16
    }

    proptest! {
        /// The values done are the exact rounding, and they are the leading values that fit
        /// in 32 bits, in pairs (the rest untouched).
        #[test]
        fn leading_narrow_values(vals in prop::collection::vec(prop_oneof![
                                     any::<i32>().prop_map(i64::from),
                                     any::<i64>(),
                                 ], 0..20),
                                 outs in 0usize..22, s in 0u32..33) {
            let mut out = vec![7i16; outs];
            let done = round_shift_narrow(&vals, &mut out, s);
            if !(2..=30).contains(&s) {
                prop_assert_eq!(done, 0);
            } else {
                let n = vals.len().min(outs);
                let fit = vals.iter().take(n & !1).take_while(|&&a| a == a as i32 as i64).count();
                prop_assert_eq!(done, fit);
                for (i, &o) in out.iter().enumerate() {
                    let want = if i < done { reference(vals[i], s) } else { 7 };
                    prop_assert_eq!(o, want);
                }
            }
            let _: Vec<i16> = out;
        }
    }
}
