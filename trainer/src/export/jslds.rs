//! The JSLDS section with owned blobs: a [`SwitchingLinear`] quantised at given activation
//! scales, plus its f32 reference section. The system is already in the folded device form,
//! so every tensor is quantised as it is: nothing is folded here (folding twice would shift
//! every regime's offset).

use neuroloop_core::{JsldsReference, JsldsSection, Selection, WeightType};
use serde::Serialize;

use super::tensor::{quantize_matrix, quantize_vector, MatrixSpec, OwnedQMatrix, TensorReport};
use crate::slds::{SelectionF32, SwitchingLinear};

/// Activation scales (real value of one LSB).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scales {
    /// Latent state.
    pub state: f64,
    /// Transformed input `g`.
    pub input: f64,
    /// Log-rates.
    pub log_rate: f64,
    /// Gate scores (gate selection only).
    pub score: Option<f64>,
}

/// Largest input magnitudes per column of each matrix, for the error budget.
pub(crate) struct InputRanges {
    /// Per latent dimension (inputs of dynamics, readout, gate).
    pub state: Vec<f64>,
    /// Per neuron (inputs of the input gain).
    pub input: Vec<f64>,
}

/// Per regime, the mean state `a_{t-1}` and input `g_t` its update read in the calibration run
/// of the f32 reference (selected by the reference), for the offsets' bias correction.
pub(crate) struct RegimeMeans {
    /// Bins each regime was selected.
    pub bins: Vec<usize>,
    /// `K x d`: sums, then means after [`RegimeMeans::finish`].
    pub state: Vec<f64>,
    /// `K x N`: sums, then means.
    pub input: Vec<f64>,
}

impl RegimeMeans {
    /// Sums to means (regimes never selected keep zeros: no correction).
    pub fn finish(&mut self, d: usize, n: usize) {
        for (k, &c) in self.bins.iter().enumerate() {
            let c = c.max(1) as f64;
            self.state[k * d..(k + 1) * d]
                .iter_mut()
                .for_each(|v| *v /= c);
            self.input[k * n..(k + 1) * n]
                .iter_mut()
                .for_each(|v| *v /= c);
        }
    }
}

/// The offsets to quantise: `b` plus, with `means`, the bias correction of the rounded weights
/// (data-aware bias correction, as in Nagel et al. 2019): row `r` of regime `k` adds the mean
/// weight error `(A − Â)_r · m_k + (B − B̂)_r · ḡ_k` at the regime's mean state and input, so
/// that the quantised update is right on average where the regime is used. Without it, that
/// error is a constant push each bin, which the recurrence integrates: on a flip-flop JSLDS
/// (ρ ≈ 1.04) it moved the state enough to cost about 1 % of the bins.
fn corrected_offsets(
    sys: &SwitchingLinear,
    scales: &Scales,
    dynamics: &OwnedQMatrix,
    input_gain: &OwnedQMatrix,
    means: Option<&RegimeMeans>,
) -> Vec<f32> {
    let Some(m) = means else {
        return sys.offset.clone();
    };
    let (d, n) = (sys.latent, sys.neurons);
    (0..sys.regimes * d)
        .map(|r| {
            let k = r / d;
            let ea: f64 = (0..d)
                .map(|j| {
                    let w = sys.dynamics[r * d + j] as f64;
                    (w - dynamics.dequantised(r, j, scales.state, scales.state))
                        * m.state[k * d + j]
                })
                .sum();
            let eb: f64 = (0..n)
                .map(|j| {
                    let w = sys.input_gain[r * n + j] as f64;
                    (w - input_gain.dequantised(r, j, scales.input, scales.state))
                        * m.input[k * n + j]
                })
                .sum();
            // The state scale was chosen from the uncorrected offsets (at a margin that may be
            // exactly 1): keep the corrected one inside the i16 range it must round to.
            let limit = 32767.0 * scales.state;
            (sys.offset[r] as f64 + ea + eb).clamp(-limit, limit) as f32
        })
        .collect()
}

/// The names of the matrices whose weight type the exporter chooses (or a user forces).
pub const MATRIX_NAMES: [&str; 4] = [
    "jslds.dynamics",
    "jslds.input_gain",
    "jslds.readout",
    "jslds.selection.weights",
];

/// How tensors are typed.
pub(crate) struct TypeRule {
    pub budget: f64,
    pub force: Option<WeightType>,
    /// Per-matrix forced types (by name); win over `force`.
    pub overrides: Vec<(String, WeightType)>,
    /// Gain applied to the tensors that feed the state.
    pub recurrence_gain: f64,
}

impl TypeRule {
    /// The forced type of the matrix `name`, if any.
    fn force_for(&self, name: &str) -> Option<WeightType> {
        self.overrides
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, t)| t)
            .or(self.force)
    }
}

/// Owned counterpart of core's `Selection`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OwnedSelection {
    Nearest {
        points: Vec<u8>,
    },
    Gate {
        weights: OwnedQMatrix,
        bias: Vec<u8>,
    },
}

/// Owned counterpart of core's `JsldsSection`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnedJslds {
    pub latent: usize,
    pub regimes: usize,
    pub scales: Scales,
    pub input_table: Vec<u8>,
    pub selection: OwnedSelection,
    pub dynamics: OwnedQMatrix,
    pub input_gain: OwnedQMatrix,
    pub offset: Vec<u8>,
    pub readout: OwnedQMatrix,
    pub readout_bias: Vec<u8>,
    pub hysteresis: u16,
    pub regime_names: String,
    pub reference: OwnedReference,
    pub tensors: Vec<TensorReport>,
}

/// Owned counterpart of core's `JsldsReference` (f32 LE blobs).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OwnedReference {
    pub input_table: Vec<u8>,
    pub points: Vec<u8>,
    pub gate_weights: Vec<u8>,
    pub gate_bias: Vec<u8>,
    pub dynamics: Vec<u8>,
    pub input_gain: Vec<u8>,
    pub offset: Vec<u8>,
    pub readout: Vec<u8>,
    pub readout_bias: Vec<u8>,
}

fn f32_blob(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

impl OwnedReference {
    /// The system's own f32 values, bit for bit.
    fn of(sys: &SwitchingLinear) -> OwnedReference {
        let (points, gate_weights, gate_bias) = match &sys.selection {
            SelectionF32::Nearest { points } => (f32_blob(points), vec![], vec![]),
            SelectionF32::Gate { weights, bias } => (vec![], f32_blob(weights), f32_blob(bias)),
        };
        OwnedReference {
            input_table: f32_blob(&sys.input_table),
            points,
            gate_weights,
            gate_bias,
            dynamics: f32_blob(&sys.dynamics),
            input_gain: f32_blob(&sys.input_gain),
            offset: f32_blob(&sys.offset),
            readout: f32_blob(&sys.readout),
            readout_bias: f32_blob(&sys.readout_bias),
        }
    }

    fn view(&self) -> JsldsReference<'_> {
        JsldsReference {
            input_table: &self.input_table,
            points: &self.points,
            gate_weights: &self.gate_weights,
            gate_bias: &self.gate_bias,
            dynamics: &self.dynamics,
            input_gain: &self.input_gain,
            offset: &self.offset,
            readout: &self.readout,
            readout_bias: &self.readout_bias,
        }
    }
}

impl OwnedJslds {
    /// Core's borrowed section, with or without the f32 reference.
    pub fn view(&self, with_reference: bool) -> JsldsSection<'_> {
        JsldsSection {
            latent: self.latent as u16,
            regimes: self.regimes as u16,
            state_scale: self.scales.state as f32,
            input_scale: self.scales.input as f32,
            log_rate_scale: self.scales.log_rate as f32,
            input_table: &self.input_table,
            selection: match &self.selection {
                OwnedSelection::Nearest { points } => Selection::Nearest { points },
                OwnedSelection::Gate { weights, bias } => Selection::Gate {
                    weights: weights.view(),
                    bias,
                },
            },
            dynamics: self.dynamics.view(),
            input_gain: self.input_gain.view(),
            offset: &self.offset,
            readout: self.readout.view(),
            readout_bias: &self.readout_bias,
            hysteresis: self.hysteresis,
            regime_names: &self.regime_names,
            reference: with_reference.then(|| self.reference.view()),
        }
    }
}

/// The nearest-point rule of `sys` written as the equivalent linear gate, or `None` when
/// `sys` already has a gate.
///
/// For any common point `c` (here the points' centroid) and `δ_k = e_k − c`,
///
/// ```text
/// argmin_k |a − e_k|²  =  argmax_k  δ_k · a − (c · δ_k + |δ_k|² / 2)
/// ```
///
/// (the score is `−(|a − e_k|² − |a − c|²) / 2`), ties to the lowest `k` in both. The two are
/// the same rule, but not the same after quantisation. As `Nearest`, every point is stored at
/// the state scale and is off by up to half a state LSB; the boundary between two regimes is
/// the bisector of their points, so when the points lie close together compared with the
/// state's range (a trained JSLDS whose expansion points collapsed: 15-80 LSB apart with the
/// state spanning 26,000 LSB), those half LSBs tilt the bisectors and move the boundary by a
/// large fraction of the state's range away from the points. As a gate, every row `δ_k` gets
/// its own weight scale (per-row requantisation), so the differences between regimes keep
/// 15 significant bits whatever their size, and the scores are compared exactly.
///
/// `δ_k` is computed in f64 and rounded to f32 once; the bias is computed from that rounded
/// `δ_k`, so the f32 gate is exactly the nearest rule of the points `c + δ_k` (within
/// `1e-7 |δ_k|` of the `e_k`).
pub(crate) fn points_as_gate(sys: &SwitchingLinear) -> Option<SwitchingLinear> {
    let SelectionF32::Nearest { points } = &sys.selection else {
        return None;
    };
    let (d, k) = (sys.latent, sys.regimes);
    let c: Vec<f64> = (0..d)
        .map(|i| (0..k).map(|r| points[r * d + i] as f64).sum::<f64>() / k.max(1) as f64)
        .collect();
    let weights: Vec<f32> = (0..k * d)
        .map(|j| (points[j] as f64 - c[j % d]) as f32)
        .collect();
    let bias = weights
        .chunks_exact(d.max(1))
        .map(|w| {
            let cd: f64 = w.iter().zip(&c).map(|(&w, &c)| w as f64 * c).sum();
            let n2: f64 = w.iter().map(|&w| w as f64 * w as f64).sum();
            (-(cd + 0.5 * n2)) as f32
        })
        .collect();
    Some(SwitchingLinear {
        selection: SelectionF32::Gate { weights, bias },
        ..sys.clone()
    })
}

fn vector(
    tensors: &mut Vec<TensorReport>,
    name: &str,
    v: &[f32],
    scale: f64,
) -> Result<Vec<u8>, String> {
    let (blob, report) = quantize_vector(name, v, scale)?;
    tensors.push(report);
    Ok(blob)
}

fn matrix(tensors: &mut Vec<TensorReport>, spec: MatrixSpec<'_>) -> Result<OwnedQMatrix, String> {
    let (m, report) = quantize_matrix(&spec)?;
    tensors.push(report);
    Ok(m)
}

/// Quantises `sys` at `scales`. The scales stored in the file are f32, and every multiplier
/// is computed from those f32 values, so that what the file says is exactly what was used.
pub(crate) fn build_section(
    sys: &SwitchingLinear,
    scales: Scales,
    ranges: &InputRanges,
    rule: &TypeRule,
    hysteresis: u16,
    means: Option<&RegimeMeans>,
) -> Result<OwnedJslds, String> {
    let (d, k, n) = (sys.latent, sys.regimes, sys.neurons);
    let s_a = scales.state as f32 as f64;
    let s_g = scales.input as f32 as f64;
    let s_l = scales.log_rate as f32 as f64;
    let scales = Scales {
        state: s_a,
        input: s_g,
        log_rate: s_l,
        score: scales.score.map(|s| s as f32 as f64),
    };
    let mut tensors = Vec::new();
    let input_table = vector(&mut tensors, "jslds.input_table", &sys.input_table, s_g)?;
    let readout_bias = vector(&mut tensors, "jslds.readout_bias", &sys.readout_bias, s_l)?;
    let selection = match &sys.selection {
        SelectionF32::Nearest { points } => OwnedSelection::Nearest {
            points: vector(&mut tensors, "jslds.selection.points", points, s_a)?,
        },
        SelectionF32::Gate { weights, bias } => {
            let s_s = scales
                .score
                .ok_or_else(|| "jslds.selection: a gate needs a score scale".to_string())?;
            OwnedSelection::Gate {
                weights: matrix(
                    &mut tensors,
                    MatrixSpec {
                        name: "jslds.selection.weights",
                        w: weights,
                        rows: k,
                        cols: d,
                        s_in: s_a,
                        s_out: s_s,
                        x_max: &ranges.state,
                        gain: 1.0,
                        budget: rule.budget,
                        force: rule.force_for("jslds.selection.weights"),
                    },
                )?,
                bias: vector(&mut tensors, "jslds.selection.bias", bias, s_s)?,
            }
        }
    };
    let dynamics = matrix(
        &mut tensors,
        MatrixSpec {
            name: "jslds.dynamics",
            w: &sys.dynamics,
            rows: k * d,
            cols: d,
            s_in: s_a,
            s_out: s_a,
            x_max: &ranges.state,
            gain: rule.recurrence_gain,
            budget: rule.budget,
            force: rule.force_for("jslds.dynamics"),
        },
    )?;
    let input_gain = matrix(
        &mut tensors,
        MatrixSpec {
            name: "jslds.input_gain",
            w: &sys.input_gain,
            rows: k * d,
            cols: n,
            s_in: s_g,
            s_out: s_a,
            x_max: &ranges.input,
            gain: rule.recurrence_gain,
            budget: rule.budget,
            force: rule.force_for("jslds.input_gain"),
        },
    )?;
    let corrected = corrected_offsets(sys, &scales, &dynamics, &input_gain, means);
    let offset = vector(&mut tensors, "jslds.offset", &corrected, s_a)?;
    let readout = matrix(
        &mut tensors,
        MatrixSpec {
            name: "jslds.readout",
            w: &sys.readout,
            rows: n,
            cols: d,
            s_in: s_a,
            s_out: s_l,
            x_max: &ranges.state,
            gain: 1.0,
            budget: rule.budget,
            force: rule.force_for("jslds.readout"),
        },
    )?;
    Ok(OwnedJslds {
        latent: d,
        regimes: k,
        scales,
        input_table,
        selection,
        dynamics,
        input_gain,
        offset,
        readout,
        readout_bias,
        hysteresis,
        regime_names: sys.regime_names.join("\n"),
        reference: OwnedReference::of(sys),
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two regimes, d = 2, N = 3; weights that int8 cannot hold exactly.
    fn system() -> SwitchingLinear {
        let w = |i: usize| ((i as f32 * 0.7311).sin() * 0.9) + 0.013;
        SwitchingLinear {
            latent: 2,
            regimes: 2,
            neurons: 3,
            input_table: vec![0.0, 1.0],
            selection: SelectionF32::Nearest {
                points: vec![0.5, 0.5, -0.5, -0.5],
            },
            dynamics: (0..8).map(w).collect(),
            input_gain: (10..22).map(w).collect(),
            offset: vec![0.11, -0.07, 0.03, 0.2],
            readout: vec![0.0; 6],
            readout_bias: vec![0.0; 3],
            hysteresis: 0,
            regime_names: vec!["a".into(), "b".into()],
            bin_s: 0.01,
        }
    }

    fn spec<'a>(name: &'a str, w: &'a [f32], cols: usize, s_in: f64, s: &Scales) -> MatrixSpec<'a> {
        MatrixSpec {
            name,
            w,
            rows: 4,
            cols,
            s_in,
            s_out: s.state,
            x_max: &[1.0; 3][..cols],
            gain: 1.0,
            budget: 1.0,
            force: Some(WeightType::I8),
        }
    }

    fn scales() -> Scales {
        Scales {
            state: 1.0 / 8192.0,
            input: 1.0 / 4096.0,
            log_rate: 1.0 / 4096.0,
            score: None,
        }
    }

    /// Per regime, the mean state and input of a calibration run.
    fn regime_means() -> RegimeMeans {
        RegimeMeans {
            bins: vec![10, 20],
            state: vec![0.8, -0.3, -0.6, 0.9],
            input: vec![1.2, 0.4, 2.0, 0.1, 1.5, 0.7],
        }
    }

    fn quantised(sys: &SwitchingLinear, s: &Scales) -> (OwnedQMatrix, OwnedQMatrix) {
        let (qa, _) = quantize_matrix(&spec("a", &sys.dynamics, 2, s.state, s)).unwrap();
        let (qb, _) = quantize_matrix(&spec("b", &sys.input_gain, 3, s.input, s)).unwrap();
        (qa, qb)
    }

    /// The corrected offset makes the rounded weights' update equal the f32 update at each
    /// regime's mean state and input, so the rounding leaves no constant push there for the
    /// recurrence to add up; without means the offsets are the system's own.
    #[test]
    fn corrected_offsets_cancel_the_weight_rounding_at_the_regime_means() {
        let sys = system();
        let s = scales();
        let (qa, qb) = quantised(&sys, &s);
        let means = regime_means();
        let corrected = corrected_offsets(&sys, &s, &qa, &qb, Some(&means));
        assert_eq!(corrected.len(), 4);
        let mut largest_rounding_push = 0.0f64;
        for (r, &c) in corrected.iter().enumerate() {
            let k = r / 2;
            let (m, g) = (
                &means.state[k * 2..k * 2 + 2],
                &means.input[k * 3..k * 3 + 3],
            );
            let exact: f64 = (0..2)
                .map(|j| sys.dynamics[r * 2 + j] as f64 * m[j])
                .chain((0..3).map(|j| sys.input_gain[r * 3 + j] as f64 * g[j]))
                .sum::<f64>()
                + sys.offset[r] as f64;
            let rounded: f64 = (0..2)
                .map(|j| qa.dequantised(r, j, s.state, s.state) * m[j])
                .chain((0..3).map(|j| qb.dequantised(r, j, s.input, s.state) * g[j]))
                .sum();
            largest_rounding_push =
                largest_rounding_push.max((rounded + sys.offset[r] as f64 - exact).abs());
            let fixed = rounded + c as f64;
            assert!((fixed - exact).abs() < 1e-6, "row {r}: {fixed} vs {exact}");
        }
        // int8 weights leave a push the correction had to remove (the test can fail).
        assert!(largest_rounding_push > 1e-4, "{largest_rounding_push}");
        assert_eq!(corrected_offsets(&sys, &s, &qa, &qb, None), sys.offset);
    }

    /// Offsets at the edge of the state range stay inside it after the correction, so the
    /// export cannot fail on them (the state scale is chosen from the uncorrected offsets).
    #[test]
    fn corrected_offsets_stay_within_the_state_range() {
        let s = scales();
        let limit = 32767.0 * s.state;
        let mut sys = system();
        sys.offset = vec![limit as f32, -limit as f32, limit as f32, -limit as f32];
        let (qa, qb) = quantised(&sys, &s);
        let means = regime_means();
        let corrected = corrected_offsets(&sys, &s, &qa, &qb, Some(&means));
        assert!(
            corrected.iter().all(|&c| (c as f64).abs() <= limit),
            "{corrected:?}"
        );
        // At least one correction pushed outwards and was held at the edge.
        assert!(
            corrected.iter().any(|&c| (c as f64).abs() == limit),
            "{corrected:?}"
        );
        let (q, _) = quantize_vector("jslds.offset", &corrected, s.state).unwrap();
        assert_eq!(q.len(), 8);
    }
}
