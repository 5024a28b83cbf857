//! The JSON report of `neuroloop jslds analyze`. The first four keys are the stable ones of
//! issue 4 (`relative_error`, `co_bps`, `regimes`, `truth_match`); the rest are extras. All
//! are documented in the README under "jslds analyze report".

use serde::Serialize;

use super::labels::LabelReport;
use super::regime::RegimeReport;
use super::truth_match::TruthMatch;

/// `neuroloop jslds analyze --report JSON`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `||H - A||_F / ||H||_F` over the held-out full rollout.
    pub relative_error: f64,
    /// `relative_error` of each held-out piece on its own (each piece restarts both paths
    /// from zero), in time order: the error sits in a few events, so its spread over the
    /// pieces says how far one model's figure can be trusted.
    pub relative_error_pieces: Vec<Option<f64>>,
    /// The same held-out bins scored on one rollout from the session's first bin with no
    /// restart (as a device runs from power-on); absent when the analysis inputs lack it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relative_error_continuous: Option<f64>,
    /// What `relative_error` comes from: the regime choice or the linearisation (see
    /// [`super::decomposition`]); absent when the held-out inputs are not available.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_decomposition: Option<super::decomposition::ErrorDecomposition>,
    /// Bits per spike of the GRU path's predicted rates against the held-out mean rate, on the
    /// neurons named by `co_bps_neurons`.
    pub co_bps: f64,
    /// One entry per regime.
    pub regimes: Vec<RegimeReport>,
    /// The match to the ground truth (only with `--truth`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub truth_match: Option<TruthMatch>,
    /// Which neurons `co_bps` is over: `"predicted-only"` (those not fed to the GRU) or
    /// `"all"` (every neuron is an input; next-bin prediction).
    pub co_bps_neurons: String,
    /// `co_bps` over all neurons.
    pub co_bps_all_neurons: f64,
    /// `co_bps` of the linear path's rates (same neurons as `co_bps`).
    pub co_bps_linear: f64,
    /// `co_bps` against the training bins' mean rate instead of the held-out mean.
    pub co_bps_vs_train_mean: f64,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Latent size `d`.
    pub latent: usize,
    /// Neurons `N`.
    pub neurons: usize,
    /// Neurons fed to the GRU.
    pub input_units: usize,
    /// Regimes used on at least one held-out bin.
    pub regimes_occupied: usize,
    /// Regimes whose `J_h` is stable.
    pub regimes_stable: usize,
    /// The GRU's attractors at the input anchor (where it comes to rest from the held-out
    /// states), largest basin first, each with its nearest pinned expansion point; empty
    /// without held-out data.
    pub attractors: Vec<super::attractor::AttractorReport>,
    /// How long the GRU was run at the anchor to find `attractors`, seconds: a state that is
    /// still at rest after it counts, so a slow point that holds for longer counts too.
    pub attractor_horizon_s: f64,
    /// Session bin of the first held-out bin.
    pub heldout_first_bin: usize,
    /// Held-out bins.
    pub heldout_bins: usize,
    /// Length of each restart piece of the rollout, bins.
    pub heldout_segment_len: usize,
    /// Optimiser steps recorded in the training curves (last logged step).
    pub training_steps: Option<usize>,
    /// Step of the model analysed: the one selected on the validation split, or the last.
    pub model_step: Option<usize>,
    /// The analysed model's validation relative error, when it was selected on a validation
    /// split (`jslds train --validation`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_relative_error: Option<f64>,
    /// Figures written (relative to `--plots`).
    pub figures: Vec<String>,
    /// One entry per `--labels` file: the whole-session regimes against its labels (absent
    /// without `--labels`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<LabelReport>,
    /// Pieces the whole-session rollout of `labels` was cut into (each from zero state).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels_rollout_pieces: Option<usize>,
}
