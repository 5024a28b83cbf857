//! The switching-linear estimator, per bin:
//!
//! ```text
//! g_t = table(y_t)                                (per neuron, saturating at the table end)
//! k_t = select(a_{t-1})                           nearest point or linear gate, ties: lowest k
//! a_t = A_{k_t} a_{t-1} + B_{k_t} g_t + b_{k_t}   (i16 state, saturating)
//! reported regime: changes to k after k_t == k for m+1 consecutive bins (lag of m bins)
//! log_rates_t = C a_t + c                         (on demand)
//! ```
//!
//! [`Estimator`] runs it in fixed point, [`ReferenceEstimator`] in f32; both share the step
//! logic in `step.rs`.
//!
//! Cost on the emulated Cortex-M4 (QEMU `mps2-an386`, `-icount shift=0`, SysTick ticks × 40,
//! so ±40), one step at N = 64, d = 16, K = 8 (1,408 multiply-accumulates): about 8,040
//! instructions with `int16` weights and nearest-point selection (8,000 with a gate), about
//! 10,500 (11,100) with `int8` weights. The design target is 6,000; the gap is per-row set-up
//! and requantisation (32 rows a step, ~45 instructions each), see [`crate::kernels`].

mod error;
mod fixed;
mod hysteresis;
mod reference;
mod step;

pub use error::{StepError, StepOutput};
pub use fixed::Estimator;
pub use reference::ReferenceEstimator;

/// Bytes of the fixed-point estimator's cache of nearest-point norms (see `fixed.rs`).
pub(crate) const SELECTION_CACHE_BYTES: usize =
    core::mem::size_of::<Option<[i64; fixed::NORM_CAP]>>();
