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
//! Measured on the emulated Cortex-M4 (QEMU `mps2-an386`, `-icount shift=0`, SysTick × 40,
//! thumbv7em release build, 2026-11-23), per multiply-accumulate including row overhead:
//!
//! | kernel | 64 columns | 16 columns |
//! | --- | --- | --- |
//! | [`dot_i16`] | 2.9 instructions | 6.3 |
//! | [`dot_i8`] | 4.0 | 7–11 (varies with code layout) |
//! | [`sqdist_i16`] | — | 5.3 (per element, incl. regime loop) |
//!
//! Lengths 8/16/32/64/128 (`dot_i16`) and 16/32/64/128 (`dot_i8`) take a loop with a
//! constant trip count, which removes LLVM's run-time unrolling prologue and remainder.
//! The constant-length `dot_i16` loop is 17 instructions for 8 MACs (2.1); the rest is row
//! set-up (row iterator, dispatch), which dominates short rows. `int8` weights cannot use the dual MAC without the
//! `SXTB16` intrinsic (unstable and `unsafe`), so on this core `int16` weights are the fast
//! choice and `int8` the small one.

mod argmin;
mod dot_i16;
mod dot_i8;
mod matvec;
mod rowwise;
mod sqdist;

pub use argmin::{argmax_i32, argmin_i64};
pub use dot_i16::{dot16 as dot16_i16, dot64 as dot64_i16, dot8 as dot8_i16, dot_i16};
pub use dot_i8::{dot64 as dot64_i8, dot_i8, I8_BLOCK};
pub use matvec::{dot, matvec_requant, rows};
pub use rowwise::for_each_row;
pub use sqdist::{sqdist16_minus_norm, sqdist_i16};
