//! `neuroloop jslds analyze`: reverse-engineering a trained JSLDS (DESIGN.md § JSLDS,
//! "Analysis").
//!
//! Works on [`AnalysisInputs`] only (plain numbers, no Burn): per regime the expansion point,
//! its fixed-point residual and the eigenvalues of `J_h` (stability, time constants,
//! frequencies), the occupancy; over the held-out full rollout the relative error of the
//! linear path and the co-smoothing bits per spike; with a simulated session's truth, the
//! match to the true fixed points, frequencies and regime timeline, a ring measure and a
//! population-rate threshold baseline; the GRU's own attractors beside the expansion points;
//! figures in SVG.
//!
//! The linear algebra is small and local ([`mat`], [`eigen`], [`pca`], [`lstsq`]): `d` is at
//! most a few hundred, and the crate has no LAPACK.

// The numerical routines index rows and columns the way the textbook algorithms they follow
// do; iterator rewrites of those loops would hide the algorithm.
#![allow(clippy::needless_range_loop)]

pub mod attractor;
pub mod baseline;
pub mod cli;
pub mod decomposition;
pub mod eigen;
pub mod labels;
pub mod lstsq;
pub mod mat;
pub mod metrics;
pub mod pca;
pub mod plots;
pub mod regime;
pub mod report;
pub mod ring;
pub mod truth;
pub mod truth_match;
pub mod view;

use anyhow::{Context, Result};

pub use cli::{run_analyze, AnalyzeArgs};
pub use report::Report;
pub use truth::TruthSession;
pub use view::View;

use crate::data::Counts;
use crate::jslds::analysis_inputs::AnalysisInputs;
use baseline::{fit_rate_threshold, RateThresholdBaseline};
use metrics::{co_bps, piece_errors, relative_error};
use regime::{analyse_regime, occupancy, RegimeReport};
use truth_match::{match_truth, ModelSide};
use view::columns;

/// Analyses `inputs`; with `truth`, also scores against it, and with the session's counts at
/// the model's bin width (`session`, all bins, loaded as training loaded them: its `start_s`
/// places the model's bins in time; 0 without it) fits the rate-threshold baseline.
pub fn analyze(
    inputs: &AnalysisInputs,
    truth: Option<&TruthSession>,
    session: Option<&Counts>,
) -> Result<(Report, View)> {
    let view = View::new(inputs)?;
    let ho = &view.heldout;
    let occ = occupancy(&ho.regime, view.regimes.len());
    let pinned = crate::jslds::loss::pinned_points(view.regimes.len(), inputs.free_points);
    let regimes = view
        .regimes
        .iter()
        .enumerate()
        .map(|(k, lin)| {
            analyse_regime(k, lin, view.bin_s, occ[k])
                .map(|r| RegimeReport {
                    pinned: k < pinned,
                    ..r
                })
                .with_context(|| format!("field `regimes[{k}].jh`: eigenvalues"))
        })
        .collect::<Result<Vec<_>>>()?;
    let relative_error = relative_error(&ho.h, &ho.a)
        .context("field `heldout.h`: the GRU path is zero on every held-out bin")?;

    let predicted = view.predicted_only();
    let (neurons, which) = if predicted.is_empty() {
        ((0..view.neurons).collect::<Vec<_>>(), "all")
    } else {
        (predicted, "predicted-only")
    };
    let counts = columns(&ho.counts, &neurons);
    let no_spikes = || {
        anyhow::anyhow!(
            "field `heldout.counts`: no spikes on the held-out bins of the scored neurons"
        )
    };
    let co = co_bps(&columns(&ho.rates, &neurons), &counts).ok_or_else(no_spikes)?;
    let co_all = co_bps(&ho.rates, &ho.counts).ok_or_else(no_spikes)?;
    let co_lin = co_bps(&columns(&ho.rates_linear, &neurons), &counts).ok_or_else(no_spikes)?;
    // Against the training mean: (LL_model - LL_train_mean) / (n ln 2), i.e. co_bps minus the
    // (negative or zero) co_bps of the training mean itself.
    let co_train = {
        let mean: Vec<f64> = neurons.iter().map(|&n| ho.train_mean_counts[n]).collect();
        let flat = mat::Mat::from_vec(
            counts.rows,
            counts.cols,
            (0..counts.rows)
                .flat_map(|_| mean.iter().copied())
                .collect(),
        )
        .expect("rows x scored neurons");
        co - co_bps(&flat, &counts).ok_or_else(no_spikes)?
    };

    let truth_match = match truth {
        Some(t) => {
            let baseline = session.and_then(|s| baseline_for(&view, t, s));
            Some(match_truth(
                &ModelSide {
                    bin_s: view.bin_s,
                    start_s: session.map_or(0.0, |s| s.start_s),
                    first_bin: ho.first_bin,
                    h: &ho.h,
                    regime: &ho.regime,
                    regimes: &regimes,
                    attractors: &inputs.attractors,
                },
                t,
                baseline,
            )?)
        }
        None => None,
    };

    let relative_error_pieces = piece_errors(&ho.h, &ho.a, ho.segment_len);
    let report = Report {
        relative_error,
        relative_error_pieces,
        relative_error_continuous: inputs
            .heldout
            .as_ref()
            .and_then(|h| h.continuous_relative_error),
        error_decomposition: decomposition::decompose(inputs),
        co_bps: co,
        regimes_occupied: regimes.iter().filter(|r| r.occupancy > 0.0).count(),
        regimes_stable: regimes.iter().filter(|r| r.stable).count(),
        attractors: attractor::attractor_reports(&inputs.attractors, &regimes),
        attractor_horizon_s: inputs.attractor_iterations as f64 * view.bin_s,
        regimes,
        truth_match,
        co_bps_neurons: which.to_string(),
        co_bps_all_neurons: co_all,
        co_bps_linear: co_lin,
        co_bps_vs_train_mean: co_train,
        bin_s: view.bin_s,
        latent: view.latent,
        neurons: view.neurons,
        input_units: view.input_units.len(),
        heldout_first_bin: ho.first_bin,
        heldout_bins: ho.regime.len(),
        heldout_segment_len: ho.segment_len,
        training_steps: view.curves.step.last().copied(),
        model_step: inputs.model_step,
        validation_relative_error: inputs.validation_relative_error.map(f64::from),
        figures: Vec::new(),
        labels: Vec::new(),
        labels_rollout_pieces: None,
    };
    Ok((report, view))
}

/// The rate-threshold detector, trained on the session bins before the held-out part and
/// scored on the held-out bins. `None` with a single true regime or no overlap.
fn baseline_for(
    view: &View,
    truth: &TruthSession,
    session: &Counts,
) -> Option<RateThresholdBaseline> {
    if truth.truth.regime_names.len() < 2 {
        return None;
    }
    let n = session.n_units();
    let mut population = Vec::new();
    let mut labels = Vec::new();
    for b in 0..session.n_bins {
        let Some(l) = truth.regime_of_model_bin(b, session.bin_s, session.start_s) else {
            break;
        };
        population.push(
            session.data[b * n..(b + 1) * n]
                .iter()
                .map(|&c| f64::from(c))
                .sum(),
        );
        labels.push(l);
    }
    let first = view.heldout.first_bin.min(labels.len());
    let end = (view.heldout.first_bin + view.heldout.regime.len()).min(labels.len());
    fit_rate_threshold(
        &population,
        &labels,
        truth.truth.regime_names.len(),
        session.bin_s,
        0..first,
        first..end,
    )
}
