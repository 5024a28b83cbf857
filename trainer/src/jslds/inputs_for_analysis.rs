//! Builds [`AnalysisInputs`] from a checkpoint: loads the model, linearises it at every
//! expansion point and rolls both paths out over the held-out bins.

use std::path::Path;

use anyhow::{bail, Context, Result};
use burn::tensor::Tensor;

use super::analysis_inputs::{
    AnalysisInputs, AttractorInput, GateWeights, HeldOut, RegimeLinearisation,
};
use super::attractors;
use super::checkpoint::{self, DataSource};
use super::config::SelectionKind;
use super::eval::{continuous_relative_error, heldout_rollout};
use super::session::{mean_counts, Session};
use crate::data::{load_counts, Counts, LoadOptions};

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap_or_default()
}

/// Reads the data a checkpoint was trained on from `path` with the checkpoint's selection.
pub fn load_training_data(src: &DataSource, path: &Path, bin_s: f64) -> Result<Counts> {
    let opts = LoadOptions {
        bin_s,
        range_s: src.range_s,
        good_only: src.good_only,
        units: src.units.clone(),
    };
    let counts = load_counts(path, &opts)?;
    if counts.unit_ids != src.unit_ids {
        bail!(
            "{}: the units read ({} units) are not the ones the checkpoint was trained on ({} units)",
            path.display(),
            counts.n_units(),
            src.unit_ids.len()
        );
    }
    Ok(counts)
}

/// Reads the checkpoint `ckpt` (written by `neuroloop jslds train`) and, with the session's
/// data (`data`, or the path recorded in the checkpoint when `None`), the held-out rollouts.
/// `heldout` is `None` only when no data is given and the recorded path no longer exists.
pub fn analysis_inputs(ckpt: &Path, data: Option<&Path>) -> Result<AnalysisInputs> {
    let loaded = checkpoint::load(ckpt)?;
    let s = &loaded.sidecar;
    let model = &loaded.model;
    let (d, k) = (model.latent(), model.regimes());
    let n_in = s.inputs.len();
    let (lin, _) = model.switching();
    let f = to_vec(lin.f);
    let jh_t = to_vec(lin.jh_t); // [k][j][i] = dF_i/dh_j
    let ju_t = to_vec(lin.ju_t); // [k][m][i] = dF_i/du_m
    let e = to_vec(model.points.val());
    let regimes = (0..k)
        .map(|kk| RegimeLinearisation {
            expansion_point: e[kk * d..(kk + 1) * d].iter().map(|&x| x as f64).collect(),
            f_at_point: f[kk * d..(kk + 1) * d].iter().map(|&x| x as f64).collect(),
            jh: (0..d * d)
                .map(|ij| jh_t[(kk * d + ij % d) * d + ij / d] as f64)
                .collect(),
            ju: (0..d * n_in)
                .map(|im| ju_t[(kk * n_in + im % n_in) * d + im / n_in] as f64)
                .collect(),
        })
        .collect();
    let data_path = match data {
        Some(p) => Some(p.to_path_buf()),
        None => s.data.path.exists().then(|| s.data.path.clone()),
    };
    let heldout = match data_path {
        None => None,
        Some(p) => {
            let counts = load_training_data(&s.data, &p, s.config.bin_s)
                .with_context(|| format!("held-out data for {}", ckpt.display()))?;
            let n = counts.n_units();
            let session = Session::new(&counts.data, n, &s.inputs, &s.transform);
            let r = heldout_rollout(model, &session, s.heldout_start, s.config.eval_segments)
                .with_context(|| {
                    format!(
                        "{}: too few held-out bins after bin {}",
                        p.display(),
                        s.heldout_start
                    )
                })?;
            let bins = r.bins();
            let continuous_relative_error =
                continuous_relative_error(model, &session, s.heldout_start);
            let train_mean_counts = mean_counts(&counts.data, n, s.training_bins());
            Some(HeldOut {
                first_bin: r.first_bin,
                bins,
                segments: r.segments,
                segment_len: r.segment_len,
                counts: counts.data[r.first_bin * n..(r.first_bin + bins) * n].to_vec(),
                inputs: session.inputs[r.first_bin * n_in..(r.first_bin + bins) * n_in].to_vec(),
                h: r.h,
                a: r.a,
                regime: r.regime,
                rates: r.rates,
                rates_linear: r.rates_linear,
                train_mean_counts,
                continuous_relative_error,
            })
        }
    };
    let attractor_iterations = if heldout.is_some() {
        attractors::ANALYSIS_ITERATIONS
    } else {
        0
    };
    let attractors = heldout
        .as_ref()
        .map(|ho| gru_attractors(model, &ho.h))
        .unwrap_or_default();
    Ok(AnalysisInputs {
        bin_s: s.config.bin_s,
        latent: d,
        neurons: s.neurons,
        input_units: s.inputs.clone(),
        anchor: to_vec(model.anchor_val())
            .into_iter()
            .map(|x| x as f64)
            .collect(),
        selection: match (s.config.selection, model.use_gate) {
            (SelectionKind::Gate, true) => "gate",
            _ => "nearest",
        }
        .into(),
        gate: match (&model.gate, model.use_gate) {
            (Some(g), true) => {
                let w = to_vec(g.weight.val()); // [d, K]
                Some(GateWeights {
                    weights: (0..k * d)
                        .map(|kd| w[(kd % d) * k + kd / d] as f64)
                        .collect(),
                    bias: g
                        .bias
                        .as_ref()
                        .map(|b| to_vec(b.val()).into_iter().map(|x| x as f64).collect())
                        .unwrap_or(vec![0.0; k]),
                })
            }
            _ => None,
        },
        regimes,
        free_points: s.config.weights.free_points,
        heldout,
        curves: s.run.curves.clone(),
        model_step: Some(s.selected.as_ref().map_or(s.run.step, |x| x.selected.step)),
        validation_relative_error: s
            .selected
            .as_ref()
            .map(|x| x.selected.validation_relative_error),
        attractor_iterations,
        attractors,
    })
}

/// Held-out states the attractor search starts from: every this many (consecutive states are
/// close; 18,000 held-out bins give 3,600 starts).
const ATTRACTOR_START_STRIDE: usize = 5;

/// The GRU's attractors at the anchor, run from every [`ATTRACTOR_START_STRIDE`]-th held-out
/// state `h` (`bins x d`).
fn gru_attractors(model: &super::model::Jslds, h: &[f32]) -> Vec<AttractorInput> {
    let d = model.latent();
    let starts: Vec<f32> = h
        .chunks_exact(d)
        .step_by(ATTRACTOR_START_STRIDE)
        .flatten()
        .copied()
        .collect();
    let n = starts.len() / d;
    let (found, _) = attractors::find(
        &model.gru,
        model.anchor_val(),
        &starts,
        attractors::ANALYSIS_ITERATIONS,
    );
    found
        .into_iter()
        .map(|a| AttractorInput {
            point: a.point.iter().map(|&x| f64::from(x)).collect(),
            basin_share: a.basin as f64 / n as f64,
        })
        .collect()
}

/// Regimes of a trained JSLDS over a whole session (training and held-out bins), for relating
/// them to behaviour labels (`jslds analyze --labels`).
#[derive(Debug, Clone)]
pub struct SessionRegimes {
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Time of the left edge of bin 0, seconds (the data's clock: label files use it).
    pub start_s: f64,
    /// First held-out bin (the bins before it trained the model).
    pub heldout_start: usize,
    /// Regime the linear path used for each bin (the device's regime signal), `bins`.
    pub regime: Vec<u16>,
    /// Nearest expansion point to the GRU state after each bin, `bins`.
    pub gru_nearest: Vec<u16>,
    /// Summed count of all neurons in each bin (the rate-threshold baseline's input).
    pub population: Vec<f64>,
    /// Number of regimes K.
    pub regimes: usize,
    /// Pieces the session was cut into (each rolled out from zero state).
    pub pieces: usize,
}

/// Rolls the checkpoint's model over the whole session in `pieces` contiguous pieces (each
/// from `h = a = 0`, run as one batch; the last bins that do not fill a piece are dropped) and
/// returns the regime of every bin. `data` as for [`analysis_inputs`].
pub fn session_regimes(ckpt: &Path, data: Option<&Path>, pieces: usize) -> Result<SessionRegimes> {
    let loaded = checkpoint::load(ckpt)?;
    let s = &loaded.sidecar;
    let model = &loaded.model;
    let path = match data {
        Some(p) => p.to_path_buf(),
        None if s.data.path.exists() => s.data.path.clone(),
        None => bail!(
            "{}: the data it was trained on ({}) is gone; give it with --data",
            ckpt.display(),
            s.data.path.display()
        ),
    };
    let counts = load_training_data(&s.data, &path, s.config.bin_s)
        .with_context(|| format!("session data for {}", ckpt.display()))?;
    let n = counts.n_units();
    let session = Session::new(&counts.data, n, &s.inputs, &s.transform);
    let r = heldout_rollout(model, &session, 0, pieces.max(1))
        .with_context(|| format!("{}: too few bins for {pieces} pieces", path.display()))?;
    let (d, k) = (model.latent(), model.regimes());
    let e = to_vec(model.points.val());
    let gru_nearest =
        r.h.chunks_exact(d)
            .map(|h| {
                (0..k)
                    .map(|kk| {
                        let p = &e[kk * d..(kk + 1) * d];
                        let dist: f32 = h.iter().zip(p).map(|(x, y)| (x - y) * (x - y)).sum();
                        (kk, dist)
                    })
                    .fold((0, f32::INFINITY), |b, c| if c.1 < b.1 { c } else { b })
                    .0 as u16
            })
            .collect();
    let bins = r.bins();
    Ok(SessionRegimes {
        bin_s: s.config.bin_s,
        start_s: counts.start_s,
        heldout_start: s.heldout_start,
        regime: r.regime,
        gru_nearest,
        population: (0..bins)
            .map(|b| {
                counts.data[b * n..(b + 1) * n]
                    .iter()
                    .map(|&c| c as f64)
                    .sum()
            })
            .collect(),
        regimes: k,
        pieces: r.segments,
    })
}
