//! Dot products of `i16` weight rows with one word-aligned `i16` vector whose length is a
//! multiple of 8: the dense layers' rows, with a Cortex-M4 DSP kernel in assembly.
//!
//! Why assembly: LLVM's code for the 32-column rows (the bulk of the TAVRNN's dense layers)
//! loaded each operand word by word and took about 2.6 instructions a multiply-accumulate,
//! call included. Here the vector is read with one `LDM` of four words (8 elements) and the
//! weights, which lie in the model blob at any alignment, with single `LDR`s (unaligned
//! word loads are allowed on the Cortex-M4, `LDM` is not): 8 elements are
//! `LDM` + 4 × (`LDR` + `SMLALD`) + the loop's `SUBS`/`BNE`, 11 instructions, 1.4 a
//! multiply-accumulate.
//!
//! # Exactness
//! `SMLALD` adds two `i16 × i16` products to a 64-bit accumulator (wrapping modulo `2^64`,
//! as the `wrapping_add` chain of [`super::dot_i16`]); with `|w·x| <= 2^30` and at most
//! `2^16` elements the sum stays below `2^47`, so no wrap happens and the value is the exact
//! `Σ w·x`, the same as the portable path's.

/// An `i16` vector that the assembly kernel may read: a non-zero multiple of 8 elements
/// and, on the Cortex-M4, word aligned (the `LDM` requires it).
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
        // `len < 2^16` keeps the exactness bound of the module documentation.
        let ok = len != 0 && len % 8 == 0 && len < 1 << 16 && aligned(x);
        ok.then_some(VecX8 { x })
    }

    /// `Σ_c w[c] · x[c]` over the common length of `w` (as `i16` LE pairs) and `x`: the
    /// value of [`super::dot_i16`]`(w, x)`, exactly.
    #[inline(always)]
    pub fn dot(&self, w: &[u8]) -> i64 {
        let len = self.x.len();
        match w.get(..2 * len) {
            Some(w) => full(w, self.x),
            None => super::dot_i16(w, self.x),
        }
    }
}

/// Word alignment of `x` (only the Cortex-M4 kernel needs it).
#[inline(always)]
fn aligned(x: &[i16]) -> bool {
    if cfg!(all(target_arch = "arm", target_feature = "dsp")) {
        x.as_ptr() as usize % 4 == 0
    } else {
        true
    }
}

/// `Σ w·x` over all of `x`, `w.len() == 2 x.len()`, `x` as [`VecX8`] guarantees.
#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[inline(always)]
#[allow(unsafe_code)]
fn full(w: &[u8], x: &[i16]) -> i64 {
    // SAFETY: `nl_dot_i16_x8` reads `2 · 8 · groups` bytes from `w` and `8 · groups`
    // elements from `x` with `groups = x.len() / 8 >= 1`: `w` holds `2 · x.len()` bytes
    // (the caller sliced it so), `x.len()` is a non-zero multiple of 8 and `x` is word
    // aligned (both checked by `VecX8::new`), as its `LDM`s need. It writes no memory, and
    // saves the callee-saved registers it uses (AAPCS).
    unsafe { arm::nl_dot_i16_x8(w.as_ptr(), x.as_ptr(), x.len() / 8) }
}

/// The portable twin of the assembly kernel: the same exact sum.
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
#[inline(always)]
fn full(w: &[u8], x: &[i16]) -> i64 {
    super::dot_i16(w, x)
}

#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[allow(unsafe_code)]
mod arm {
    core::arch::global_asm!(
        ".section .text.nl_dot_i16_x8,\"ax\",%progbits",
        ".syntax unified",
        ".thumb",
        ".p2align 2",
        ".global nl_dot_i16_x8",
        ".type nl_dot_i16_x8,%function",
        ".thumb_func",
        // r0 = w (any alignment), r1 = x (word aligned), r2 = groups of 8 (>= 1).
        // Returns the sum in r1:r0 (AAPCS).
        "nl_dot_i16_x8:",
        "push {{r4-r7, lr}}",
        "movs r3, #0",
        "mov r12, #0",
        "1:",
        "ldm r1!, {{r4-r7}}",
        "ldr lr, [r0], #4",
        "smlald r3, r12, lr, r4",
        "ldr lr, [r0], #4",
        "smlald r3, r12, lr, r5",
        "ldr lr, [r0], #4",
        "smlald r3, r12, lr, r6",
        "ldr lr, [r0], #4",
        "smlald r3, r12, lr, r7",
        "subs r2, #1",
        "bne 1b",
        "mov r0, r3",
        "mov r1, r12",
        "pop {{r4-r7, pc}}",
        ".size nl_dot_i16_x8, . - nl_dot_i16_x8",
    );

    extern "C" {
        /// `Σ w·x` over `8 · groups` elements: `w` little-endian `i16` at any alignment, `x`
        /// word aligned, `groups >= 1`.
        pub(super) fn nl_dot_i16_x8(w: *const u8, x: *const i16, groups: usize) -> i64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn naive(w: &[i16], x: &[i16]) -> i64 {
        w.iter().zip(x).map(|(&a, &b)| a as i64 * b as i64).sum()
    }

    #[test]
    fn conditions() {
        assert!(VecX8::new(&[]).is_none());
        assert!(VecX8::new(&[0; 12]).is_none());
        assert!(VecX8::new(&[0; 16]).is_some());
    }

    proptest! {
        /// The plain sum over the common length, for full rows and short or long weights,
        /// extremes included.
        #[test]
        fn matches_naive(groups in 1usize..9, wlen_delta in -9i32..9, ext in any::<bool>(),
                         w in proptest::collection::vec(any::<i16>(), 80),
                         x in proptest::collection::vec(any::<i16>(), 72)) {
            let len = 8 * groups;
            let (w, x): (Vec<i16>, Vec<i16>) = if ext {
                (vec![i16::MIN; 80], vec![i16::MIN; 72])
            } else {
                (w, x)
            };
            let x = &x[..len];
            let wl = (len as i32 + wlen_delta).clamp(0, 80) as usize;
            let bytes: Vec<u8> = w[..wl].iter().flat_map(|v| v.to_le_bytes()).collect();
            let v = VecX8::new(x).unwrap();
            prop_assert_eq!(v.dot(&bytes), naive(&w[..wl], x));
        }
    }
}
