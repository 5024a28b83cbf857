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
//! so ±40), one step at N = 64, d = 16, K = 8 (1,408 multiply-accumulates), median over
//! 3,000 bins of the `qemu_bit_exact` cases: 5,680 instructions with `int16` weights and
//! nearest-point selection (4.03 a MAC), 5,880 with the gate, 6,880 with `int16` dynamics
//! and `int8` input gains (before the kernel work of 2026-11-23: 8,280, 8,280 and 9,400;
//! before the update rows took the 32-bit requantisation shortcut on 2026-11-27: 5,840, 6,040
//! and 7,080). The dense kernels run at 1.9–2.4 instructions a MAC (see [`crate::kernels`]);
//! the rest is the 32 exact requantisations of the update, the gate's or the nearest rule's
//! scores, the input table (~7 a neuron) and row bookkeeping. The shapes d = 16 with N = 64
//! take constant-width row loops; other shapes take the general loops, which compute the same
//! values (unit-tested).

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
