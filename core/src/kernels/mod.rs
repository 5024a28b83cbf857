//! Integer kernels of the hot path, one per file.
//!
//! Weights are read straight from the little-endian byte blobs of the model (flash on the
//! device); activations are `i16`. Accumulator widths, with the bounds the loader enforces
//! (`cols <= MAX_NEURONS = 1024`, `d <= MAX_LATENT = 256`):
//!
//! | kernel | product bound | accumulator | why it cannot overflow |
//! | --- | --- | --- | --- |
//! | [`dot_i8()`] | `128·32768 = 2^22` | `i32` per block of 256, summed in `i64` | `256·2^22 = 2^30 < 2^31` |
//! | [`dot_i16()`] | `32768² = 2^30` | `i64` | `1024·2^30 = 2^40` |
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
//! | [`dot32_i16`] through [`for_each_row`]'s kernel pointer (TAVRNN rows before the assembly kernels) | 2.6 |
//! | [`dot48_i16`] (the 32-column loop + a 16-column block) | 2.8 |
//!
//! # Cortex-M4 assembly kernels (the TAVRNN step)
//!
//! LLVM's code for the TAVRNN's kernels stayed at 2.6 (dense rows) to 4.7 (propagation)
//! instructions a multiply-accumulate, plus about 44 a dense row for the loop around the
//! kernel, so the step's kernels are written in Thumb-2 assembly (`global_asm!`), compiled
//! only for `target_arch = "arm"` with the `dsp` feature (which the `thumbv7em` targets set),
//! each `unsafe` call with its safety argument, each with a portable twin that gives the same
//! values on every input (proptested against plain references; the assembly is checked bit
//! for bit against the host by the QEMU tests):
//!
//! * [`dense_planned`] (with the layer's [`DensePlan`], made at model load): two rows of
//!   8 to 48 columns a pass (`nl_dense_pairs_*`), the vector read once a pair with `LDM`
//!   (word aligned: [`VecX8`]), the weights with `LDM`, `SMUAD`/`SMLAD` into 32-bit sums
//!   (an overflow caught by the sticky Q flag), the requantisation with the rounding
//!   folded into `SMMLA`, one bias word and one store for both rows;
//! * [`dense_rows_narrow`]: one row at a time (`nl_dense_rows_x8`: the classifier, weights
//!   that are not word aligned, and the rows after a pass that overflowed), dot product,
//!   `apply_narrow` requantisation (`SMMUL`), bias and `SSAT` in one loop, the weights
//!   with unaligned `LDR`s, two `i16` products per `SMLALD`;
//! * [`propagate_round_many`] / [`propagate_i16`] / [`propagate_le`]: all the pieces of a
//!   row in one call, 8-column blocks of `Σ_k a_k X[j_k]` with the block's sums in
//!   registers, `SMLAxB` on packed neighbour entries (`(j << 21) | a`), 8 neighbours an
//!   iteration, the sums rounded straight to `i16` (two a word) or added to `i64`s;
//! * [`round_shift_narrow`]: the rounding of `i64` sums that fit in 32 bits;
//! * [`gru_update_row`] / [`gate_mul_row`] / [`tanh_row`] / [`relu_row`] / [`mix_nibbles`]:
//!   the TAVRNN step's element-wise rows (GRU pass 2's `u`, `c`, blend and largest `|v|`;
//!   pass 1's `sigmoid(a + b) h`; the attention's `tanh`; `ReLU`; the ring mix of 4-bit
//!   cells), two `i16` a word (`QADD16`, one unaligned `LDR` + `SMUAD`/`SMLAD` a table
//!   lookup, `SSUB16`/`SEL`, `USAT16`) or eight sums in registers (the mix).
//!
//! Measured (`scripts/firmware-profile.sh`, windows 3 and 4 of the bench's model, N = 64,
//! H = 32, 2026-11-28, after the round-4 kernels were merged), per multiply-accumulate,
//! requantisation, bias and saturation (dense) or rounding (propagation) included:
//!
//! | kernel | instructions / MAC |
//! | --- | --- |
//! | dense, all layers of the step (the two-row `nl_dense_pairs_*` kernels with the layer's plan made at load, and `nl_dense_rows_x8` for the classifier), kernels alone / with `FixedBackend::dense` around them; per layer in `dense_x8.rs` | 1.09 / 1.21 (589 K + 62 K instructions for 538,624 MACs; were 1.41 / 1.48) |
//! | propagation, all pieces of a row in one `nl_prop8_rows` call (blocks looped in assembly, 8 neighbours an iteration), block set-up and rounding included | 1.56 (433 K for 277,984 MACs; was 1.72 at 32 columns and 1.98 at 16) |
//! | element-wise (2026-11-28, per value): GRU pass-2 row / pass-1 row / tanh / ReLU | 28 / 12 / 8.3 / 2.7 (were 45 / 17 / 13 / 5.5) |
//! | ring mix, per slot and 8 values | 20 (was 31) |
//!
//! The alignment of a layer's weights and of `phi_x` is the model file's: postcard packs
//! the blobs at any offset, so the exporter pads varints to put every `i16` weight blob and
//! `phi_x` at a file offset 0 mod 4 (docs/FORMAT.md §2), and the firmware embeds the file
//! word aligned. (Before, 5 of the 7 dense layers of 32 or more columns of the bench's model
//! were word aligned.)
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

/// The assembler header of one Cortex-M4 kernel function `$name` (its own section,
/// Thumb-2, global, typed as a function), as one template string for `global_asm!`: the
/// kernels of `dense_x8`, `propagate` and `elementwise` share it instead of repeating its
/// seven lines.
#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
macro_rules! thumb_fn {
    ($name:literal) => {
        concat!(
            ".section .text.",
            $name,
            ",\"ax\",%progbits\n",
            ".syntax unified\n",
            ".thumb\n",
            ".p2align 2\n",
            ".global ",
            $name,
            "\n",
            ".type ",
            $name,
            ",%function\n",
            ".thumb_func"
        )
    };
}
#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
pub(crate) use thumb_fn;

mod argmin;
mod dense_x8;
mod dot_i16;
mod dot_i8;
mod elementwise;
mod matvec;
mod propagate;
mod round_shift;
mod rowwise;
mod sqdist;

pub use argmin::{argmax_i32, argmin_i64};
pub use dense_x8::{dense_planned, dense_rows_narrow, DensePlan, VecX8};
pub use dot_i16::{
    dot16 as dot16_i16, dot32 as dot32_i16, dot48 as dot48_i16, dot64 as dot64_i16,
    dot8 as dot8_i16, dot_i16,
};
pub use dot_i8::{dot64 as dot64_i8, dot_i8, I8_BLOCK};
pub use elementwise::{gate_mul_row, gru_update_row, mix_nibbles, relu_row, tanh_row};
pub use matvec::{dot, matvec_requant, rows};
pub use propagate::{
    pack_neighbor, propagate_i16, propagate_le, propagate_round_many, unpack_neighbor, Neighbors,
    RoundShift, Rows,
};
pub use round_shift::round_shift_narrow;
pub use rowwise::{dense_layer, for_each_row, rows_bias_sat};
pub use sqdist::{sqdist16_minus_norm, sqdist_i16};
