//! Integer kernels of the hot path, one per file.
//!
//! Weights are read straight from the little-endian byte blobs of the model (flash on the
//! device); activations are `i16`. Accumulator widths, with the bounds the loader enforces
//! (`cols <= MAX_NEURONS = 1024`, `d <= MAX_LATENT = 256`):
//!
//! | kernel | product bound | accumulator | why it cannot overflow |
//! | --- | --- | --- | --- |
//! | [`dot_i8`] | `128·32768 = 2^22` | `i32` per block of 256, summed in `i64` | `256·2^22 = 2^30 < 2^31` |
//! | [`dot_i16`] | `32768² = 2^30` | `i64` | `1024·2^30 = 2^40` |
//! | [`sqdist_i16`] | `(2^16)² = 2^32` | `i64` | `256·2^32 = 2^40` |
//!
//! Arithmetic is written with explicit `wrapping_*` operations where the bounds above prove no
//! wrap can happen, so that no input, validated or not, can make a kernel panic. Mismatched
//! lengths are not an error: a kernel uses the common prefix (validated models always match).
//!
//! The inner loops iterate `zip`ped slices and `[u8; N]` chunks (`as_chunks`), so they carry
//! no bounds checks, and each keeps a single accumulator chain: that is the shape LLVM's ARM
//! parallel-DSP pass recognises, turning two `i16 × i16` products into one `SMLALD`.
//!
//! Measured on the emulated Cortex-M4 (QEMU `mps2-an386`, `-icount shift=0`, per-function
//! counts from `scripts/firmware-profile.sh`, thumbv7em release build, 2026-11-23), per
//! multiply-accumulate, call included, requantisation excluded:
//!
//! | kernel | instructions / MAC |
//! | --- | --- |
//! | [`dot64_i16`] (64 columns, 8 a loop iteration: 8 word loads + 4 `SMLALD`) | 2.3 (loop alone 1.9) |
//! | [`dot16_i16`] = 2 × [`dot8_i16`] (straight-line, 4 `SMLALD` each) | 2.4–3 |
//! | [`dot64_i8`] (`LDRSB` + `LDRSH` + `SMLABB` an element) | 3.2 |
//! | nearest point at d = 16 (`|e_k|²` cached, `a·e_k` by [`dot16_i16`]) | ~2.8 per element, regime loop included |
//! | [`dot32_i16`] through [`for_each_row`]'s kernel pointer (TAVRNN GRU and value rows) | 2.6 |
//! | [`dot48_i16`] (the 32-column loop + a 16-column block; TAVRNN encoder rows) | 2.8 |
//! | [`propagate_i16`] + [`propagate_le`] (4-column blocks, `SMLABB`/`SMLABT` on word loads) | 4.7, block writes included |
//!
//! (The TAVRNN figures: `scripts/firmware-tavrnn-bench.sh --profile`, 2026-11-27, N = 64,
//! H = 32; the row loop around the dense kernels, requantisation, bias and saturation
//! ([`rows_bias_sat`], 32-bit for the device models' rows), adds about 44 instructions a
//! row, the layer's set-up included: 0.76 M instructions a window over 17,160 rows, 1.05 M
//! with the 64-bit bias sum and saturation of [`for_each_row`] before. The conversion of
//! the propagated `i64` sums back to `i16` is one out-of-line loop, 10 instructions a value
//! for sums that fit in 32 bits: 0.16 M a window over 14,336 values.)
//!
//! Observed while narrowing `i64` arithmetic to `i32` where bounds allow it: LLVM forms a
//! 32 × 32 → 64-bit product from `i64` factors only when it can see both are sign-extended
//! `i32`s (then one `SMLAL`/`SMULL`); a product of an `i64` that is merely *known* to fit
//! (after a range test) stays a 64 × 64-bit multiply (`UMULL` + two `MLA`), because LLVM
//! substitutes the wider value it proved equal.
//!
//! What shaped them, all of it LLVM behaviour observed in the disassembly:
//!
//! * the ARM parallel-DSP pass (two `i16 × i16` products into one `SMLALD`) gives up on a
//!   basic block with more than 16 loads, so a fully unrolled 16- or 64-column row loses
//!   the pairing; 8 elements (16 loads) a block is the most that keeps it;
//! * inlined into a row loop, a kernel's loads of the shared vector are hoisted out of the
//!   loop into (spilled) registers, which also loses the pairing; so the kernels the
//!   estimator uses are out of line ([`dot8_i16`], [`dot64_i16`], [`dot64_i8`]);
//! * choosing the kernel once per matrix instead of once per row ([`for_each_row`], and the
//!   constant-width row loops of the estimator) removes a dispatch of about the cost of a
//!   16-column row.
//!
//! Lengths 8/16/32/64/128 (`dot_i16`) and 16/32/64/128 (`dot_i8`) of the general entry
//! points take a loop with a constant trip count; [`for_each_row`] has constant-width kernels
//! for `i16` rows of 8, 16, 32, 48 and 64 and `i8` rows of 16 and 64. `int8` weights cannot use the dual MAC
//! without the `SXTB16` intrinsic (unstable and `unsafe`), so on this core `int16` weights
//! are the fast choice and `int8` the small one.

mod argmin;
mod dot_i16;
mod dot_i8;
mod dense_x8;
mod matvec;
mod propagate;
mod round_shift;
mod rowwise;
mod sqdist;

pub use argmin::{argmax_i32, argmin_i64};
pub use dot_i16::{
    dot16 as dot16_i16, dot32 as dot32_i16, dot48 as dot48_i16, dot64 as dot64_i16,
    dot8 as dot8_i16, dot_i16,
};
pub use dense_x8::{dense_rows_narrow, VecX8};
pub use dot_i8::{dot64 as dot64_i8, dot_i8, I8_BLOCK};
pub use matvec::{dot, matvec_requant, rows};
pub use propagate::{
    pack_neighbor, propagate_i16, propagate_le, propagate_round_i16, propagate_round_le,
    unpack_neighbor, Neighbors,
};
pub use round_shift::round_shift_narrow;
pub use rowwise::{for_each_row, rows_bias_sat};
pub use sqdist::{sqdist16_minus_norm, sqdist_i16};
