//! The f32 reference estimator: the same step logic over the `reference` section, in real
//! units. It separates quantisation error (fixed vs reference) from implementation error.

use super::error::{StepError, StepOutput};
use super::fixed::checked_section;
use super::step::{first_min, Backend, StepCore};
use crate::blob::{self, f32_at};
use crate::format::{JsldsReference, Model, ModelError, Selection};

/// f32 backend over the `reference` blobs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FloatBackend<'m> {
    r: JsldsReference<'m>,
    nearest: bool,
    hysteresis: u16,
    table_len: usize,
    d: usize,
    n: usize,
    k: usize,
}

/// `Σ w[i]·x[i]` with `w` read from an f32 LE blob.
#[inline]
fn dot_f32(w: &[u8], x: &[f32]) -> f32 {
    w.chunks_exact(4)
        .zip(x)
        .map(|(b, &xv)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * xv)
        .sum()
}

impl Backend for FloatBackend<'_> {
    type Value = f32;

    fn latent(&self) -> usize {
        self.d
    }
    fn neurons(&self) -> usize {
        self.n
    }
    fn hysteresis(&self) -> u16 {
        self.hysteresis
    }

    fn input(&self, count: u16) -> f32 {
        let i = (count as usize).min(self.table_len.saturating_sub(1));
        f32_at(self.r.input_table, i)
    }

    fn select(&self, a: &[f32]) -> usize {
        if self.nearest {
            first_min((0..self.k).map(|k| {
                blob::sub(self.r.points, k, 1, 4 * self.d)
                    .chunks_exact(4)
                    .zip(a)
                    .map(|(b, &av)| {
                        let diff = av - f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                        diff * diff
                    })
                    .sum::<f32>()
            }))
        } else {
            first_min((0..self.k).map(|k| {
                -(dot_f32(blob::sub(self.r.gate_weights, k, 1, 4 * self.d), a)
                    + f32_at(self.r.gate_bias, k))
            }))
        }
    }

    fn update(&self, k: usize, a: &[f32], g: &[f32], out: &mut [f32]) {
        for (i, o) in out.iter_mut().enumerate() {
            let r = k * self.d + i;
            *o = dot_f32(blob::sub(self.r.dynamics, r, 1, 4 * self.d), a)
                + dot_f32(blob::sub(self.r.input_gain, r, 1, 4 * self.n), g)
                + f32_at(self.r.offset, r);
        }
    }

    fn readout(&self, a: &[f32], out: &mut [f32]) {
        for (j, o) in out.iter_mut().enumerate() {
            *o = dot_f32(blob::sub(self.r.readout, j, 1, 4 * self.d), a)
                + f32_at(self.r.readout_bias, j);
        }
    }
}

/// f32 reference of [`Estimator`](super::Estimator): the same algorithm (same step logic,
/// generic numeric backend), reading the `reference` section, state in real units.
#[derive(Debug, Clone)]
pub struct ReferenceEstimator<'m, const D: usize, const N: usize> {
    core: StepCore<FloatBackend<'m>, D, N>,
}

impl<'m, const D: usize, const N: usize> ReferenceEstimator<'m, D, N> {
    /// Errors with [`ModelError::MissingSection`] if the file has no `jslds.reference`.
    pub fn new(model: &Model<'m>) -> Result<Self, ModelError> {
        let (s, d, n, k) = checked_section(model, D, N)?;
        let r = s.reference.ok_or(ModelError::MissingSection {
            section: "jslds.reference",
        })?;
        Ok(ReferenceEstimator {
            core: StepCore::new(FloatBackend {
                r,
                nearest: matches!(s.selection, Selection::Nearest { .. }),
                hysteresis: s.hysteresis,
                table_len: r.input_table.len() / 4,
                d,
                n,
                k,
            }),
        })
    }

    /// One bin of counts; see [`Estimator::step`](super::Estimator::step).
    pub fn step(&mut self, counts: &[u16]) -> Result<StepOutput, StepError> {
        self.core.step(counts)
    }

    /// The latent state in real units (`d` entries).
    pub fn latent(&self) -> &[f32] {
        self.core.latent()
    }

    /// Log-rates `C a + c` in real units into `out[..N]`; returns that prefix.
    pub fn log_rates<'o>(&self, out: &'o mut [f32]) -> Result<&'o [f32], StepError> {
        self.core.log_rates(out)
    }

    /// Back to `a = 0`.
    pub fn reset(&mut self) {
        self.core.reset()
    }

    /// The regime currently reported (after hysteresis).
    pub fn reported(&self) -> u8 {
        self.core.reported()
    }
}
