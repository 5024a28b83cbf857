//! The fixed-point estimator: `i16` state, weights from the model blobs, integer kernels.

use super::error::{StepError, StepOutput};
use super::step::{first_min, Backend, StepCore};
use crate::blob;
use crate::fixed::{sat_i16_from_i64, Requant};
use crate::format::{
    validate_jslds, JsldsSection, Model, ModelError, QMatrix, Selection, WeightType,
};
use crate::kernels;

/// One matrix of the update, as its rows of constant width `W` bytes, their multipliers and
/// shifts, and the kernel that takes a row to its exact accumulator.
type RowSet<'r, const W: usize, K> = (&'r [[u8; W]], &'r [[u8; 4]], &'r [u8], K);

/// `out[i] = sat_i16(R(A row i · a) + R(B row i · g) + offset[i])` over rows of constant
/// widths, the same values as the general loop of [`FixedBackend::update`]: one loop whose
/// trip count is computed once, the kernels out of line, the requantisation inline.
#[inline(always)]
fn update_rows<const WA: usize, const WB: usize, KA, KB>(
    (ra, mua, sha, ka): RowSet<'_, WA, KA>,
    (rb, mub, shb, kb): RowSet<'_, WB, KB>,
    offset: &[[u8; 2]],
    out: &mut [i16],
) where
    KA: Fn(&[u8; WA]) -> i64,
    KB: Fn(&[u8; WB]) -> i64,
{
    let a_rows = ra.iter().zip(mua).zip(sha);
    let b_rows = rb.iter().zip(mub).zip(shb);
    for ((o, (((wa, ma), &sa), ((wb, mb), &sb))), b) in
        out.iter_mut().zip(a_rows.zip(b_rows)).zip(offset)
    {
        let qa = Requant {
            mult: i32::from_le_bytes(*ma),
            shift: sa as i8,
        };
        let qb = Requant {
            mult: i32::from_le_bytes(*mb),
            shift: sb as i8,
        };
        // Each term is at most 2^61 + 2^30 in magnitude: the sum cannot overflow.
        let v =
            qa.apply_wide_fast(ka(wa)) + qb.apply_wide_fast(kb(wb)) + i16::from_le_bytes(*b) as i64;
        *o = sat_i16_from_i64(v);
    }
}

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
    /// `|e_k|²` of the nearest-selection points when `d = 16` and `K <= NORM_CAP`
    /// (`nearest16` is then `Some`), computed once from the model.
    nearest16: Option<[i64; NORM_CAP]>,
}

/// Regimes whose point norms the fixed backend keeps (a step then needs only `a·e_k`).
pub(crate) const NORM_CAP: usize = 16;

impl<'m> FixedBackend<'m> {
    fn new(s: JsldsSection<'m>, d: usize, n: usize, k: usize) -> Self {
        let (table, _) = s.input_table.as_chunks::<2>();
        let nearest16 = match s.selection {
            Selection::Nearest { points } if d == 16 && k <= NORM_CAP => {
                let mut norms = [0i64; NORM_CAP];
                let (points, _) = blob::sub(points, 0, k, 32).as_chunks::<32>();
                for (nm, e) in norms.iter_mut().zip(points) {
                    *nm = kernels::sqdist_i16(&[0; 16], e);
                }
                Some(norms)
            }
            _ => None,
        };
        FixedBackend {
            s,
            table,
            last: table.len().saturating_sub(1),
            d,
            n,
            k,
            nearest16,
        }
    }
}

impl<'m> Backend for FixedBackend<'m> {
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

    /// The same values as [`FixedBackend::input`], with the table and its last index held
    /// in registers for the whole loop (inlined into the step, LLVM reloaded them from the
    /// stack for every neuron).
    #[inline(never)]
    fn inputs(&self, counts: &[u16], g: &mut [i16]) {
        let table = self.table;
        // `last` from the table's own length here, so that `get` below is provably in range
        // and compiles without a check (an empty table gives zeros, as `input` does).
        let Some(last) = table.len().checked_sub(1) else {
            g.iter_mut().zip(counts).for_each(|(g, _)| *g = 0);
            return;
        };
        for (g, &c) in g.iter_mut().zip(counts) {
            let i = (c as usize).min(last);
            *g = table.get(i).map_or(0, |p| i16::from_le_bytes(*p));
        }
    }

    fn select(&self, a: &[i16]) -> usize {
        match &self.s.selection {
            Selection::Nearest { points } => {
                let width = (2 * self.d).max(1);
                let points = blob::sub(points, 0, self.k, width);
                if let (Some(a16), Some(norms)) = (a.first_chunk::<16>(), &self.nearest16) {
                    // |e_k|² − 2 a·e_k = |a − e_k|² − |a|², exact in i64: every score is
                    // lower by the same |a|², so the argmin and its ties are the same. The
                    // norms are the model's; a step computes only a·e_k (SMLALD).
                    let (points, _) = points.as_chunks::<32>();
                    return first_min(points.iter().zip(norms).map(|(e, &nm)| {
                        nm.wrapping_sub(kernels::dot16_i16(e, a16).wrapping_mul(2))
                    }));
                }
                if let Some(a16) = a.first_chunk::<16>().filter(|_| self.d == 16) {
                    // Same argmin and ties: every score is lower by the same |a|².
                    let (points, _) = points.as_chunks::<32>();
                    return first_min(points.iter().map(|e| kernels::sqdist16_minus_norm(a16, e)));
                }
                first_min(
                    points
                        .chunks_exact(width)
                        .map(|e| kernels::sqdist_i16(a, e)),
                )
            }
            Selection::Gate { weights, bias } => {
                // The first highest score, i.e. the first lowest negated score, exactly as
                // `first_min` picks it; regimes without a bias entry do not compete (validated
                // models have all K).
                let (bias, _) = bias.as_chunks::<2>();
                if let (Some(a16), WeightType::I16) = (
                    a.first_chunk::<16>().filter(|_| self.d == 16),
                    weights.wtype,
                ) {
                    // d = 16, int16 gate: constant-width rows and the kernel out of line, as
                    // in `update_rows`; the same scores as the general path below.
                    let (rows, _) = blob::sub(weights.data, 0, self.k, 32).as_chunks::<32>();
                    let (mult, _) = blob::sub(weights.mult, 0, self.k, 4).as_chunks::<4>();
                    let shift = blob::sub(weights.shift, 0, self.k, 1);
                    return first_min(rows.iter().zip(mult).zip(shift).zip(bias).map(
                        |(((w, m), &sh), b)| {
                            let rq = Requant {
                                mult: i32::from_le_bytes(*m),
                                shift: sh as i8,
                            };
                            -(rq.apply_wide(kernels::dot16_i16(w, a16))
                                + i16::from_le_bytes(*b) as i64)
                        },
                    ));
                }
                let mut best: Option<i64> = None;
                let mut best_k = 0;
                kernels::for_each_row(weights, 0, self.k, a, |i, v| {
                    if let Some(b) = bias.get(i) {
                        let neg = -(v + i16::from_le_bytes(*b) as i64);
                        if best.is_none_or(|b| neg < b) {
                            best = Some(neg);
                            best_k = i;
                        }
                    }
                });
                best_k
            }
        }
    }

    fn update(&self, k: usize, a: &[i16], g: &[i16], out: &mut [i16]) {
        let (d, s) = (self.d, &self.s);
        let (offset, _) = blob::sub(s.offset, k * d, d, 2).as_chunks::<2>();
        let (ma, mb) = (&s.dynamics, &s.input_gain);
        let rows = |m: &QMatrix<'m>, width: usize| {
            let data = blob::sub(m.data, k * d, d, width);
            let (mult, _) = blob::sub(m.mult, k * d, d, 4).as_chunks::<4>();
            (data, mult, blob::sub(m.shift, k * d, d, 1))
        };
        // The common shapes get row loops with constant row widths and the kernel chosen
        // once (see `update_rows`); every other shape takes the general loop below. Both
        // compute the same values.
        if let (Some(a16), WeightType::I16) = (a.first_chunk::<16>().filter(|_| d == 16), ma.wtype)
        {
            let (da, mua, sha) = rows(ma, 32);
            let (ra, _) = da.as_chunks::<32>();
            let ka = |w: &[u8; 32]| kernels::dot16_i16(w, a16);
            match (g.len(), mb.wtype, g.first_chunk::<64>()) {
                (64, WeightType::I16, Some(g64)) => {
                    let (db, mub, shb) = rows(mb, 128);
                    let (rb, _) = db.as_chunks::<128>();
                    let kb = |w: &[u8; 128]| kernels::dot64_i16(w, g64);
                    return update_rows((ra, mua, sha, ka), (rb, mub, shb, kb), offset, out);
                }
                (64, WeightType::I8, Some(g64)) => {
                    let (db, mub, shb) = rows(mb, 64);
                    let (rb, _) = db.as_chunks::<64>();
                    let kb = |w: &[u8; 64]| kernels::dot64_i8(w, g64);
                    return update_rows((ra, mua, sha, ka), (rb, mub, shb, kb), offset, out);
                }
                _ => {}
            }
        }
        let (wa, wb) = (ma.wtype, mb.wtype);
        let rows_a = kernels::rows(ma, k * d, d);
        let rows_b = kernels::rows(mb, k * d, d);
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
        Ok(Estimator {
            core: StepCore::new(FixedBackend::new(s, d, n, k)),
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

#[cfg(test)]
mod tests {
    //! The specialised paths (d = 16 with N = 64, int16 or int8 input gains; nearest points at
    //! d = 16; the gate through `for_each_row`) against the plain definitions, with
    //! multipliers and shifts over their whole valid range, so that saturation is exercised.
    use super::*;
    use crate::fixed::Requant;
    use crate::format::QMatrix;
    use proptest::prelude::*;
    use std::vec::Vec;

    const D: usize = 16;
    const N: usize = 64;
    const K: usize = 3;

    fn le16(v: &[i16]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    struct Blobs {
        a: Vec<u8>,
        b: Vec<u8>,
        mult: Vec<u8>,
        shift: Vec<u8>,
        offset: Vec<u8>,
        points: Vec<u8>,
        gate: Vec<u8>,
        gate_bias: Vec<u8>,
    }

    fn qm<'a>(
        rows: usize,
        cols: usize,
        wtype: WeightType,
        data: &'a [u8],
        b: &'a Blobs,
    ) -> QMatrix<'a> {
        QMatrix {
            rows: rows as u16,
            cols: cols as u16,
            wtype,
            data,
            mult: &b.mult[..4 * rows],
            shift: &b.shift[..rows],
        }
    }

    fn section<'a>(b: &'a Blobs, wb: WeightType, gate: bool) -> JsldsSection<'a> {
        let empty = QMatrix {
            rows: 0,
            cols: 0,
            wtype: WeightType::I16,
            data: &[],
            mult: &[],
            shift: &[],
        };
        JsldsSection {
            latent: D as u16,
            regimes: K as u16,
            state_scale: 1.0,
            input_scale: 1.0,
            log_rate_scale: 1.0,
            input_table: &[0, 0],
            selection: if gate {
                Selection::Gate {
                    weights: qm(K, D, WeightType::I16, &b.gate, b),
                    bias: &b.gate_bias,
                }
            } else {
                Selection::Nearest { points: &b.points }
            },
            dynamics: qm(K * D, D, WeightType::I16, &b.a, b),
            input_gain: qm(K * D, N, wb, &b.b, b),
            offset: &b.offset,
            readout: empty,
            readout_bias: &[],
            hysteresis: 0,
            regime_names: "",
            reference: None,
        }
    }

    fn backend(s: JsldsSection<'_>) -> FixedBackend<'_> {
        FixedBackend::new(s, D, N, K)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn fast_paths_match_definitions(
            words in proptest::collection::vec(any::<i16>(), K * D * (D + N) + K * D * 3 + D + N),
            mults in proptest::collection::vec(any::<i32>(), K * D),
            shifts in proptest::collection::vec(-31i8..=30, K * D),
            k in 0..K, i8b in any::<bool>(), gate in any::<bool>(),
        ) {
            let mut w = words.iter().copied();
            let mut take = |n: usize| -> Vec<i16> { w.by_ref().take(n).collect() };
            let wb = if i8b { WeightType::I8 } else { WeightType::I16 };
            let a_w = take(K * D * D);
            let b_w = take(K * D * N);
            let b_bytes = if i8b { b_w.iter().map(|&v| v as i8 as u8).collect() } else { le16(&b_w) };
            let blobs = Blobs {
                a: le16(&a_w),
                b: b_bytes,
                mult: mults.iter().flat_map(|m| m.to_le_bytes()).collect(),
                shift: shifts.iter().map(|&s| s as u8).collect(),
                offset: le16(&take(K * D)),
                points: le16(&take(K * D)),
                gate: le16(&take(K * D)),
                gate_bias: le16(&take(K)),
            };
            let a = take(D);
            let g = take(N);
            let s = section(&blobs, wb, gate);
            let be = backend(s);

            // update: the definition, row by row.
            let mut got = [0i16; D];
            be.update(k, &a, &g, &mut got);
            for (i, &got_i) in got.iter().enumerate() {
                let r = k * D + i;
                let rq = |m: &QMatrix<'_>| Requant {
                    mult: i32::from_le_bytes(m.mult[4 * r..4 * r + 4].try_into().unwrap()),
                    shift: m.shift[r] as i8,
                };
                let (ma, mb) = (&s.dynamics, &s.input_gain);
                let ra = &ma.data[r * 2 * D..(r + 1) * 2 * D];
                let rb = &mb.data[r * N * wb.bytes()..(r + 1) * N * wb.bytes()];
                let v = rq(ma).apply_wide(kernels::dot(WeightType::I16, ra, &a))
                    + rq(mb).apply_wide(kernels::dot(wb, rb, &g))
                    + crate::blob::i16_at(s.offset, r) as i64;
                prop_assert_eq!(got_i, sat_i16_from_i64(v), "row {}", i);
            }

            // select: the definition.
            let want = if gate {
                let Selection::Gate { weights, bias } = &s.selection else { unreachable!() };
                first_min(kernels::rows(weights, 0, K).enumerate().map(|(j, (w, rq))| {
                    -(rq.apply_wide(kernels::dot(WeightType::I16, w, &a))
                        + crate::blob::i16_at(bias, j) as i64)
                }))
            } else {
                first_min((0..K).map(|j| kernels::sqdist_i16(&a, &blobs.points[j * 2 * D..(j + 1) * 2 * D])))
            };
            prop_assert_eq!(be.select(&a), want);
        }
    }
}
