//! The plain data a trained JSLDS hands to its analysis (`neuroloop jslds analyze`).
//!
//! The analysis (eigen-decomposition, fixed-point residuals, co-smoothing, truth matching,
//! figures) works on ordinary numbers, never on Burn tensors: this struct is the whole
//! interface between training and analysis. [`crate::jslds::analysis_inputs()`] fills it from a
//! checkpoint (and optionally the session's data).
//!
//! Conventions:
//! * matrices are row-major `Vec`s in the **column convention** of DESIGN.md:
//!   `a_t = F(e_k, u*) + J_h (a_{t-1} - e_k) + J_u (u_t - u*)`, so `jh[i * d + j] = dF_i/dh_j`
//!   and `ju[i * n_in + m] = dF_i/du_m`;
//! * the input `u` is the standardised transform of the input units' counts
//!   (`u = (sqrt(y) - mean) / std`, fitted on the training bins), in the order of
//!   [`AnalysisInputs::input_units`];
//! * per-bin arrays are `bins x width` row-major; bin `t` of [`HeldOut`] is session bin
//!   `first_bin + t`.

use serde::{Deserialize, Serialize};

/// Everything the analysis needs from a trained JSLDS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnalysisInputs {
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Latent size `d`.
    pub latent: usize,
    /// Number of neurons `N` of the session (the readout predicts all of them).
    pub neurons: usize,
    /// Column indices (0-based, into the session's units) of the neurons fed to the GRU as
    /// inputs, in input order; `n_in = input_units.len()`. Neurons not listed are predicted
    /// only (the co-smoothing "held-in/held-out neuron" split, e.g. the state neurons of
    /// `flipflop`).
    pub input_units: Vec<usize>,
    /// The input anchor `u*` (standardised input units), `n_in`.
    pub anchor: Vec<f64>,
    /// `"nearest"` or `"gate"`: how the linear path picks its regime.
    pub selection: String,
    /// The gate of a `"gate"` model (absent for `"nearest"`, and in older analysis inputs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateWeights>,
    /// One entry per regime (expansion point), `K` entries.
    pub regimes: Vec<RegimeLinearisation>,
    /// The last this many regimes are free points, left out of the fixed-point term in
    /// training (`jslds train --free-regimes`); 0 in older analysis inputs.
    #[serde(default)]
    pub free_points: usize,
    /// The held-out evaluation, when data was given (or the checkpoint's own data is found).
    pub heldout: Option<HeldOut>,
    /// The training curves recorded while training.
    pub curves: TrainingCurves,
    /// Step of the model analysed: the one selected on the validation split when training
    /// had one (`jslds train --validation`), else the last (absent in older analysis inputs).
    #[serde(default)]
    pub model_step: Option<usize>,
    /// The analysed model's validation relative error when it was selected on it.
    #[serde(default)]
    pub validation_relative_error: Option<f32>,
    /// The GRU's attractors at the input anchor: where the GRU comes to rest when run from
    /// the held-out states with `u = u*` ([`crate::jslds::attractors`]), largest basin first.
    /// Empty without held-out data, and in older analysis inputs.
    #[serde(default)]
    pub attractors: Vec<AttractorInput>,
    /// Steps of `F(h, u*)` the attractor search ran (its horizon is this times `bin_s`); 0
    /// when it did not run.
    #[serde(default)]
    pub attractor_iterations: usize,
}

/// One attractor of the GRU at the input anchor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttractorInput {
    /// Where the states came to rest (mean), `d`.
    pub point: Vec<f64>,
    /// Fraction of the starting states that came to rest here.
    pub basin_share: f64,
}

/// The linear gate of a `"gate"` model: regime `argmax_k (W a + b)_k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateWeights {
    /// `W`, `K x d` row-major: `logit_k = sum_i weights[k * d + i] a_i + bias[k]`.
    pub weights: Vec<f64>,
    /// `b`, `K`.
    pub bias: Vec<f64>,
}

/// The GRU linearised at one expansion point `(e_k, u*)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegimeLinearisation {
    /// `e_k`, `d`.
    pub expansion_point: Vec<f64>,
    /// `F(e_k, u*)`, `d`: the fixed-point residual is `|F(e_k, u*) - e_k|`.
    pub f_at_point: Vec<f64>,
    /// `J_h(e_k, u*)`, `d x d`, `jh[i * d + j] = dF_i/dh_j`.
    pub jh: Vec<f64>,
    /// `J_u(e_k, u*)`, `d x n_in`, `ju[i * n_in + m] = dF_i/du_m`.
    pub ju: Vec<f64>,
}

/// Full rollouts of both paths over the held-out bins (the last part of the session).
///
/// The held-out bins are cut into `segments` contiguous pieces of equal length (the last
/// bins that do not fill a piece are dropped); both paths start from `h = a = 0` at the
/// first bin of each piece and run freely to its end (no reset, no teacher forcing).
/// `bins = segments * segment_len`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeldOut {
    /// Session bin index of held-out bin 0.
    pub first_bin: usize,
    /// Number of held-out bins in the arrays below.
    pub bins: usize,
    /// Pieces the rollout restarts from zero at.
    pub segments: usize,
    /// Bins per piece.
    pub segment_len: usize,
    /// GRU states `h_t` after the input of bin `t`, `bins x d`.
    pub h: Vec<f32>,
    /// Linear-path states `a_t` after the input of bin `t`, `bins x d`.
    pub a: Vec<f32>,
    /// Regime `k_t` the linear path used for bin `t` (chosen from `a_{t-1}`), `bins`.
    pub regime: Vec<u16>,
    /// Expected spike counts of bin `t` predicted by the GRU path from the bins before it
    /// (`exp(C h_{t-1} + c)`; for the first bin of a piece, from `h = 0`), `bins x N`.
    pub rates: Vec<f32>,
    /// Expected spike counts of bin `t` from the linear path (`exp(C a_{t-1} + c)`), `bins x N`.
    pub rates_linear: Vec<f32>,
    /// Observed counts of bin `t`, `bins x N`.
    pub counts: Vec<u32>,
    /// Mean count a bin of each neuron on the training bins (the mean-rate model of
    /// co-smoothing), `N`.
    pub train_mean_counts: Vec<f64>,
    /// The standardised inputs `u_t` both paths were driven with, `bins x n_in` (empty in
    /// older analysis inputs: the error decomposition then is left out).
    #[serde(default)]
    pub inputs: Vec<f32>,
    /// `||H - A|| / ||H||` over the same held-out bins from one rollout that starts from zero
    /// at the session's first bin and never restarts (the way a device runs from power-on;
    /// [`crate::jslds::eval::continuous_relative_error`]); absent in older analysis inputs.
    #[serde(default)]
    pub continuous_relative_error: Option<f64>,
}

/// Training curves, one entry per logged step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainingCurves {
    /// Optimiser step of each entry.
    pub step: Vec<usize>,
    /// Weighted total loss.
    pub total: Vec<f32>,
    /// Poisson NLL a bin of the GRU path (training batch).
    pub nll: Vec<f32>,
    /// Poisson NLL a bin of the linear path (training batch).
    pub nll_linear: Vec<f32>,
    /// Fixed-point term `sum_k |F(e_k, u*) - e_k|^2`.
    pub fixed_point: Vec<f32>,
    /// Approximation term `mean_t |h_t - a_t|^2`.
    pub approx: Vec<f32>,
    /// Held-out evaluations (every `eval_every` steps).
    pub eval: Vec<EvalPoint>,
}

/// One held-out evaluation during training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalPoint {
    /// Optimiser step.
    pub step: usize,
    /// Seconds of training (evaluation excluded) up to this step.
    pub train_seconds: f64,
    /// `||H - A||_F / ||H||_F` over the held-out rollout (NaN when a path was not finite:
    /// JSON writes it as `null`, read back as NaN).
    #[serde(deserialize_with = "nan_if_null")]
    pub relative_error: f32,
    /// Poisson NLL a bin of the GRU path on the held-out bins.
    #[serde(deserialize_with = "nan_if_null")]
    pub nll: f32,
    /// Poisson NLL a bin of the linear path on the held-out bins.
    #[serde(deserialize_with = "nan_if_null")]
    pub nll_linear: f32,
    /// `||H - A||_F / ||H||_F` over the validation rollout (`jslds train --validation`), once
    /// the warm-up is over; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_relative_error: Option<f32>,
}

/// A number that JSON wrote as `null` (serde_json writes a non-finite float so) read back as
/// NaN: an evaluation whose linear path blew up must not make the checkpoint unreadable.
fn nan_if_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
    Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::NAN))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An evaluation with a non-finite error survives the JSON round trip as NaN (it used to
    /// make the whole checkpoint sidecar unreadable).
    #[test]
    fn a_non_finite_evaluation_reads_back_as_nan() {
        let p = EvalPoint {
            step: 7000,
            train_seconds: 1.0,
            relative_error: f32::NAN,
            nll: f32::INFINITY,
            nll_linear: 2.5,
            validation_relative_error: Some(f32::NAN),
        };
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains("null"), "{text}");
        let back: EvalPoint = serde_json::from_str(&text).unwrap();
        assert!(back.relative_error.is_nan() && back.nll.is_nan());
        assert_eq!((back.step, back.nll_linear), (7000, 2.5));
        assert_eq!(back.validation_relative_error, None);
    }
}
