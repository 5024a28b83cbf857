//! The fixed-point estimator: `i16` state, weights from the model blobs, integer kernels.

use super::error::{StepError, StepOutput};
use super::step::{first_min, Backend, StepCore};
use crate::blob;
use crate::fixed::sat_i16_from_i64;
use crate::format::{validate_jslds, JsldsSection, Model, ModelError, Selection};
use crate::kernels;

/// Integer backend: reads the quantised section.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FixedBackend<'m> {
    s: JsldsSection<'m>,
    /// The input table as `i16` LE pairs, and its last index (counts saturate to it).
    table: &'m [[u8; 2]],
    last: usize,
    d: usize,
    n: usize,
    k: usize,
}

impl Backend for FixedBackend<'_> {
    type Value = i16;

    fn latent(&self) -> usize {
        self.d
    }
    fn neurons(&self) -> usize {
        self.n
    }
    fn hysteresis(&self) -> u16 {
        self.s.hysteresis
    }

    #[inline]
    fn input(&self, count: u16) -> i16 {
        let i = (count as usize).min(self.last);
        self.table.get(i).map_or(0, |p| i16::from_le_bytes(*p))
    }

    fn select(&self, a: &[i16]) -> usize {
        match &self.s.selection {
            Selection::Nearest { points } => {
                let width = (2 * self.d).max(1);
                let points = blob::sub(points, 0, self.k, width);
                first_min(
                    points
                        .chunks_exact(width)
                        .map(|e| kernels::sqdist_i16(a, e)),
                )
            }
            Selection::Gate { weights, bias } => {
                let (bias, _) = bias.as_chunks::<2>();
                first_min(
                    kernels::rows(weights, 0, self.k)
                        .zip(bias)
                        .map(|((w, rq), b)| {
                            let score = rq.apply_wide(kernels::dot(weights.wtype, w, a))
                                + i16::from_le_bytes(*b) as i64;
                            -score
                        }),
                )
            }
        }
    }

    fn update(&self, k: usize, a: &[i16], g: &[i16], out: &mut [i16]) {
        let (d, s) = (self.d, &self.s);
        let (wa, wb) = (s.dynamics.wtype, s.input_gain.wtype);
        let rows_a = kernels::rows(&s.dynamics, k * d, d);
        let rows_b = kernels::rows(&s.input_gain, k * d, d);
        let (offset, _) = blob::sub(s.offset, k * d, d, 2).as_chunks::<2>();
        for ((o, ((ra, qa), (rb, qb))), b) in out.iter_mut().zip(rows_a.zip(rows_b)).zip(offset) {
            // Each term is at most 2^61 + 2^30 in magnitude: the sum cannot overflow.
            let v = qa.apply_wide(kernels::dot(wa, ra, a))
                + qb.apply_wide(kernels::dot(wb, rb, g))
                + i16::from_le_bytes(*b) as i64;
            *o = sat_i16_from_i64(v);
        }
    }

    fn readout(&self, a: &[i16], out: &mut [i16]) {
        kernels::matvec_requant(&self.s.readout, 0, a, self.s.readout_bias, out);
    }
}

/// Checks the section (again: `Model`'s fields are public, so a hand-made one may not have
/// been validated) and the capacities.
pub(crate) fn checked_section<'m>(
    model: &Model<'m>,
    cap_d: usize,
    cap_n: usize,
) -> Result<(JsldsSection<'m>, usize, usize, usize), ModelError> {
    let s = *model
        .jslds()
        .ok_or(ModelError::MissingSection { section: "jslds" })?;
    let n = model.body.meta.neurons as usize;
    validate_jslds(&s, n)?;
    let d = s.latent as usize;
    if d > cap_d {
        return Err(ModelError::Capacity {
            field: "jslds.latent",
            value: d,
            capacity: cap_d,
        });
    }
    if n > cap_n {
        return Err(ModelError::Capacity {
            field: "meta.neurons",
            value: n,
            capacity: cap_n,
        });
    }
    Ok((s, d, n, s.regimes as usize))
}

/// Fixed-point estimator; `D` and `N` are capacities (max latent, max neurons). The state
/// lives inside (the caller owns the value: stack or static); the model stays borrowed.
///
/// RAM: `4·D + 2·N` bytes of state plus the borrowed section view and a few words.
#[derive(Debug, Clone)]
pub struct Estimator<'m, const D: usize, const N: usize> {
    core: StepCore<FixedBackend<'m>, D, N>,
}

impl<'m, const D: usize, const N: usize> Estimator<'m, D, N> {
    /// An estimator in the reset state for the model's JSLDS section.
    ///
    /// Errors: [`ModelError::MissingSection`] without a JSLDS section,
    /// [`ModelError::Capacity`] when `latent > D` or `neurons > N`, or any validation error.
    pub fn new(model: &Model<'m>) -> Result<Self, ModelError> {
        let (s, d, n, k) = checked_section(model, D, N)?;
        let (table, _) = s.input_table.as_chunks::<2>();
        Ok(Estimator {
            core: StepCore::new(FixedBackend {
                s,
                table,
                last: table.len().saturating_sub(1),
                d,
                n,
                k,
            }),
        })
    }

    /// One bin of counts (one per neuron, in model order). Counts above the input table
    /// saturate to its last entry.
    pub fn step(&mut self, counts: &[u16]) -> Result<StepOutput, StepError> {
        self.core.step(counts)
    }

    /// The latent state `a_t` in state-scale LSBs (`d` entries).
    pub fn latent(&self) -> &[i16] {
        self.core.latent()
    }

    /// Log-rates `C a_t + c` in log-rate-scale LSBs into `out[..N]`; returns that prefix.
    pub fn log_rates<'o>(&self, out: &'o mut [i16]) -> Result<&'o [i16], StepError> {
        self.core.log_rates(out)
    }

    /// Back to `a = 0`, with the reported regime re-derived from it.
    pub fn reset(&mut self) {
        self.core.reset()
    }

    /// The regime currently reported (after hysteresis).
    pub fn reported(&self) -> u8 {
        self.core.reported()
    }

    /// The section this estimator runs.
    pub fn section(&self) -> &JsldsSection<'m> {
        &self.core.backend.s
    }
}
