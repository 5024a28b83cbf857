//! The training loop: Adam with per-parameter gradient clipping, stateful truncated
//! backpropagation through time over [`Streams`], a held-out full-rollout evaluation,
//! NaN/divergence detection, dead expansion-point reseeding, and an exact resume.
//!
//! One [`Trainer`] holds everything that changes while training (model, Adam state, step,
//! the states each stream carries, the curves); [`super::checkpoint`] saves and restores it
//! whole, so that training for `a + b` steps and training `a`, saving, resuming and training
//! `b` more give the same model. The run is deterministic for a given seed and backend
//! (Burn's seeded RNG is process-global: two trainings at once in one process are not).

use std::fmt;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{rngs::StdRng, Rng, SeedableRng};

use crate::graph::rng::mix64;

use super::analysis_inputs::{EvalPoint, TrainingCurves};
use super::attractors;
use super::config::{Anchor, SelectionKind, TrainConfig};
use super::eval::{heldout_rollout, rollout_range, Eval, HeldOutRollout};
use super::input::InputTransform;
use super::loss::{jslds_loss, pinned_points};
use super::model::{Jslds, JsldsConfig};
use super::session::{mean_counts, select_columns, Session, Streams};

/// Why training cannot go on.
#[derive(Debug, Clone, PartialEq)]
pub enum TrainError {
    /// A loss term became NaN or infinite.
    NonFinite {
        /// Step (1-based).
        step: usize,
        /// The loss term.
        part: &'static str,
        /// Its value.
        value: f32,
    },
    /// The loss grew past the divergence factor times the best loss so far.
    Diverged {
        /// Step (1-based).
        step: usize,
        /// The loss.
        loss: f32,
        /// Best loss so far.
        best: f32,
    },
    /// The data or the options do not allow training.
    Data(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFinite { step, part, value } => write!(
                f,
                "training stopped at step {step}: loss term `{part}` is {value}; lower the \
                 learning rate (--lr) or the loss weights, or check the input counts"
            ),
            TrainError::Diverged { step, loss, best } => write!(
                f,
                "training diverged at step {step}: loss {loss} is more than the divergence \
                 factor times the best loss so far ({best}); lower the learning rate (--lr)"
            ),
            TrainError::Data(msg) => write!(f, "training data: {msg}"),
        }
    }
}
impl std::error::Error for TrainError {}

/// Names of the loss parts, in the order of [`StepReport::loss`].
pub const PART_NAMES: [&str; 5] = ["total", "nll", "nll_lin", "fixed_point", "approx"];

/// What one optimiser step reports.
#[derive(Clone, Copy, Debug)]
pub struct StepReport {
    /// Step number (1-based).
    pub step: usize,
    /// `[total, nll, nll_lin, fixed_point, approx]`, unweighted parts (total weighted).
    pub loss: [f32; 5],
    /// Training steps a second so far (evaluation excluded).
    pub steps_per_s: f64,
}

/// The data side of a training run: the session, its split and streams.
pub struct Prepared {
    /// Column indices of the input neurons.
    pub inputs: Vec<usize>,
    /// The fitted count transform of the inputs.
    pub transform: InputTransform,
    /// Standardised inputs and float counts.
    pub session: Session,
    /// First held-out bin.
    pub heldout_start: usize,
    /// First validation bin: the training bins are `[0, validation_start)`, the validation
    /// bins `[validation_start, heldout_start)` (empty without a validation split).
    pub validation_start: usize,
    /// Pieces the validation bins are cut into (0 without a validation split).
    pub validation_segments: usize,
    /// Streams over the training bins.
    pub streams: Streams,
    /// Mean count a bin of each neuron over the training bins.
    pub train_mean_counts: Vec<f64>,
}

impl Prepared {
    /// Checks `counts` (`[T, neurons]`) against `cfg` and prepares it. `transform` is the
    /// saved one on resume (fitted on the training bins otherwise).
    pub fn new(
        counts: &[u32],
        neurons: usize,
        cfg: &TrainConfig,
        transform: Option<InputTransform>,
    ) -> Result<Self, TrainError> {
        if neurons == 0 || !counts.len().is_multiple_of(neurons) {
            return Err(TrainError::Data(format!(
                "{} counts are not a whole number of bins of {neurons} neurons",
                counts.len()
            )));
        }
        let bins = counts.len() / neurons;
        if !(cfg.heldout_frac > 0.0 && cfg.heldout_frac < 1.0) {
            return Err(TrainError::Data(format!(
                "held-out fraction {} is not between 0 and 1",
                cfg.heldout_frac
            )));
        }
        let heldout_start = ((bins as f64) * (1.0 - cfg.heldout_frac)) as usize;
        if !(cfg.validation_frac >= 0.0 && cfg.validation_frac + cfg.heldout_frac < 1.0) {
            return Err(TrainError::Data(format!(
                "validation fraction {} must be >= 0 and leave training bins beside the held-out \
                 fraction {}",
                cfg.validation_frac, cfg.heldout_frac
            )));
        }
        let validation_bins = ((bins as f64) * cfg.validation_frac) as usize;
        let validation_start = heldout_start - validation_bins;
        let streams =
            Streams::new(validation_start, cfg.batch, cfg.chunk_len).ok_or_else(|| {
                TrainError::Data(format!(
                    "{validation_start} training bins are too few for {} streams of at least 2 \
                 chunks of {} bins (lower --batch or --chunk)",
                    cfg.batch, cfg.chunk_len
                ))
            })?;
        let piece = (bins - heldout_start) / cfg.eval_segments.max(1);
        if piece < 2 {
            return Err(TrainError::Data(format!(
                "{} held-out bins are too few for {} evaluation pieces",
                bins - heldout_start,
                cfg.eval_segments
            )));
        }
        // Validation pieces as long as the held-out ones, so that both errors are comparable.
        let validation_segments = if validation_bins == 0 {
            0
        } else {
            (validation_bins as f64 / piece as f64).round().max(1.0) as usize
        };
        if validation_bins > 0 && validation_bins / validation_segments < 2 {
            return Err(TrainError::Data(format!(
                "{validation_bins} validation bins are too few for a rollout (raise --validation)"
            )));
        }
        let inputs: Vec<usize> = cfg.inputs.clone().unwrap_or_else(|| (0..neurons).collect());
        if inputs.is_empty() || inputs.iter().any(|&i| i >= neurons) {
            return Err(TrainError::Data(format!(
                "input neuron columns {inputs:?} must be non-empty and below {neurons}"
            )));
        }
        let transform = match transform {
            Some(t) if t.mean.len() == inputs.len() => t,
            Some(t) => {
                return Err(TrainError::Data(format!(
                    "the saved input transform has {} inputs, the configuration {}",
                    t.mean.len(),
                    inputs.len()
                )))
            }
            None => InputTransform::fit(
                &select_columns(&counts[..validation_start * neurons], neurons, &inputs),
                inputs.len(),
            ),
        };
        let session = Session::new(counts, neurons, &inputs, &transform);
        let train_mean_counts = mean_counts(counts, neurons, validation_start);
        Ok(Self {
            inputs,
            transform,
            session,
            heldout_start,
            validation_start,
            validation_segments,
            streams,
            train_mean_counts,
        })
    }
}

/// Everything that changes while training.
pub struct Trainer {
    /// The options.
    pub cfg: TrainConfig,
    /// The data.
    pub prep: Prepared,
    /// The model on the autodiff device.
    pub model: Jslds,
    /// Adam's state.
    pub optim: ModuleOptimizer,
    /// Steps done.
    pub step: usize,
    /// GRU states the streams carry into their next chunk, `[batch, d]` row-major.
    pub carry_h: Vec<f32>,
    /// Linear-path states the streams carry, `[batch, d]`.
    pub carry_a: Vec<f32>,
    /// Best total loss so far (divergence detection).
    pub best: f32,
    /// Curves so far.
    pub curves: TrainingCurves,
    /// Seconds spent in optimiser steps so far (evaluation excluded).
    pub train_seconds: f64,
    /// The model of lowest validation error so far (autodiff device) and its step; `None`
    /// without a validation split or before the warm-up ends.
    pub selected: Option<(Jslds, Selected)>,
    /// Whether `selected` changed since the last checkpoint was written.
    pub selected_unsaved: bool,
    device: Device,
}

/// The model chosen on the validation split.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Selected {
    /// Its step.
    pub step: usize,
    /// Its validation relative error.
    pub validation_relative_error: f32,
}

/// The model's sizes for `cfg` and `prep`.
pub fn model_config(cfg: &TrainConfig, n_in: usize, neurons: usize) -> JsldsConfig {
    JsldsConfig {
        inputs: n_in,
        outputs: neurons,
        latent: cfg.latent,
        regimes: cfg.regimes,
        learn_anchor: cfg.anchor == Anchor::Learned,
        gate: cfg.selection == SelectionKind::Gate,
    }
}

/// The optimiser `cfg` asks for.
pub fn optimiser(cfg: &TrainConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.clip_norm)))
        .init()
}

impl Trainer {
    /// A fresh run on `counts` (`[T, neurons]`).
    pub fn new(counts: &[u32], neurons: usize, cfg: &TrainConfig) -> Result<Self, TrainError> {
        check_config(cfg)?;
        let prep = Prepared::new(counts, neurons, cfg, None)?;
        let plain = cfg.backend.device();
        let device = plain.clone().autodiff();
        let mut model = crate::burn_rng::init(Some((&plain, cfg.seed)), || {
            model_config(cfg, prep.inputs.len(), neurons).init(&device)
        });
        if cfg.anchor == Anchor::Silent {
            let silent = prep.transform.apply(&vec![0u32; prep.inputs.len()]);
            let t =
                Tensor::<2>::from_data(TensorData::new(silent, [1, prep.inputs.len()]), &device);
            model.anchor = model.anchor.map(|_| t.require_grad());
        }
        model.use_gate = false;
        // Readout bias at the log mean count of each neuron: the first hundreds of steps
        // would otherwise be spent learning the mean rates before any dynamics.
        let log_mean: Vec<f32> = prep
            .train_mean_counts
            .iter()
            .map(|&m| (m.max(1e-3) as f32).ln())
            .collect();
        let bias = Tensor::<1>::from_data(TensorData::new(log_mean, [neurons]), &device);
        model.readout.bias = model.readout.bias.map(|b| b.map(|_| bias.require_grad()));
        let zeros = vec![0f32; cfg.batch * cfg.latent];
        Ok(Self {
            optim: optimiser(cfg),
            cfg: cfg.clone(),
            prep,
            model,
            step: 0,
            carry_h: zeros.clone(),
            carry_a: zeros,
            best: f32::INFINITY,
            curves: TrainingCurves::default(),
            train_seconds: 0.0,
            selected: None,
            selected_unsaved: false,
            device,
        })
    }

    /// A run restored from its parts (see [`super::checkpoint`]); `model` and `optim` already
    /// hold the saved parameters and Adam state, `selected` the validation's choice so far.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        counts: &[u32],
        neurons: usize,
        cfg: &TrainConfig,
        transform: InputTransform,
        model: Jslds,
        optim: ModuleOptimizer,
        state: RunState,
        selected: Option<(Jslds, Selected)>,
    ) -> Result<Self, TrainError> {
        check_config(cfg)?;
        let prep = Prepared::new(counts, neurons, cfg, Some(transform))?;
        let n = cfg.batch * cfg.latent;
        if state.carry_h.len() != n || state.carry_a.len() != n {
            return Err(TrainError::Data(format!(
                "the checkpoint carries {} / {} state values, the configuration needs {n}",
                state.carry_h.len(),
                state.carry_a.len()
            )));
        }
        let device = model.points.device();
        let mut model = model;
        model.use_gate = cfg.selection == SelectionKind::Gate && state.step >= cfg.gate_after;
        Ok(Self {
            cfg: cfg.clone(),
            prep,
            model,
            optim,
            step: state.step,
            carry_h: state.carry_h,
            carry_a: state.carry_a,
            best: state.best,
            curves: state.curves,
            train_seconds: state.train_seconds,
            selected,
            selected_unsaved: false,
            device,
        })
    }

    /// The autodiff device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The run's state besides model and optimiser (what a checkpoint's sidecar holds).
    pub fn run_state(&self) -> RunState {
        RunState {
            step: self.step,
            carry_h: self.carry_h.clone(),
            carry_a: self.carry_a.clone(),
            best: self.best,
            curves: self.curves.clone(),
            train_seconds: self.train_seconds,
        }
    }

    fn carried(&self, values: &[f32], restart: &[bool]) -> Tensor<2> {
        let d = self.cfg.latent;
        let mut v = values.to_vec();
        for (r, &z) in restart.iter().enumerate() {
            if z {
                v[r * d..(r + 1) * d].fill(0.0);
            }
        }
        Tensor::from_data(TensorData::new(v, [restart.len(), d]), &self.device)
    }

    /// One optimiser step over the next chunk of every stream.
    pub fn train_step(&mut self) -> Result<StepReport, TrainError> {
        let t0 = Instant::now();
        let cfg = &self.cfg;
        let step = self.step + 1;
        if cfg.selection == SelectionKind::Gate && step >= cfg.gate_after {
            self.model.use_gate = true;
        }
        let (starts, restart) = self.prep.streams.at(self.step);
        let restart: Vec<bool> = restart
            .iter()
            .enumerate()
            .map(|(r, &z)| z || random_restart(cfg.seed, step, r, cfg.reset_prob))
            .collect();
        let (u, y) = self
            .prep
            .session
            .batch(&starts, cfg.chunk_len, &self.device);
        let h0 = self.carried(&self.carry_h, &restart);
        let ramp = cfg.warmup_factor(step);
        let a0 = if ramp < 1.0 {
            h0.clone()
        } else {
            self.carried(&self.carry_a, &restart)
        };
        let roll = self.model.rollout_full(
            u,
            h0,
            a0,
            cfg.weights.approx_one_step,
            cfg.weights.approx_step > 0.0,
        );
        let mut weights = cfg.weights.clone();
        weights.lin *= ramp;
        weights.approx *= ramp;
        weights.approx_step *= ramp;
        weights.contraction *= ramp;
        weights.regime_match *= ramp;
        let parts = jslds_loss(&self.model, &roll, y, &weights);
        let values = parts.values();
        // The parts before their sum, so that the message names the term that broke.
        let parts_first = values
            .iter()
            .zip(PART_NAMES)
            .skip(1)
            .chain(values.iter().zip(PART_NAMES).take(1));
        for (v, name) in parts_first {
            if !v.is_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    part: name,
                    value: *v,
                });
            }
        }
        // Checked from the second step on: a blow-up shows within a few steps (a learning
        // rate of 100 reaches 10^5 times the first loss by step 15), and every evaluation
        // before the check would write the diverged model as a checkpoint.
        if values[0] > cfg.divergence_factor * self.best.max(1e-6) {
            return Err(TrainError::Diverged {
                step,
                loss: values[0],
                best: self.best,
            });
        }
        self.best = self.best.min(values[0]);
        let reseed = cfg.reseed_every > 0
            && step.is_multiple_of(cfg.reseed_every)
            && step <= cfg.reseed_until;
        let reseed_data = reseed.then(|| {
            (
                roll.nearest
                    .clone()
                    .try_into_vec_as::<i64>()
                    .unwrap_or_default(),
                roll.h
                    .clone()
                    .detach()
                    .try_into_vec_as::<f32>()
                    .unwrap_or_default(),
            )
        });
        self.carry_h = roll
            .h_last
            .clone()
            .detach()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        self.carry_a = roll
            .a_last
            .clone()
            .detach()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        let grads = GradientsParams::from_grads(parts.total.backward(), &self.model);
        // A module clone shares its tensors; the old model is dropped when replaced below.
        let mut model = self.optim.step(cfg.lr_at(step), self.model.clone(), grads);
        if let Some((nearest, h)) = reseed_data {
            let mut rng = StdRng::seed_from_u64(cfg.seed ^ (step as u64).wrapping_mul(0x9e37_79b9));
            model = reseed_points(model, &nearest, &h, cfg.latent, &mut rng);
            if cfg.cover_attractors {
                let pinned = pinned_points(cfg.regimes, cfg.weights.free_points);
                model = cover_attractors(model, &h, pinned);
            }
        }
        self.model = model;
        self.step = step;
        self.train_seconds += t0.elapsed().as_secs_f64();
        let c = &mut self.curves;
        c.step.push(step);
        c.total.push(values[0]);
        c.nll.push(values[1]);
        c.nll_linear.push(values[2]);
        c.fixed_point.push(values[3]);
        c.approx.push(values[4]);
        Ok(StepReport {
            step,
            loss: values,
            steps_per_s: step as f64 / self.train_seconds.max(1e-9),
        })
    }

    /// The inference copy of the model (plain device).
    pub fn inference_model(&self) -> Jslds {
        self.model.valid()
    }

    /// Rolls the current model out over the held-out bins.
    pub fn heldout(&self) -> Option<HeldOutRollout> {
        heldout_rollout(
            &self.inference_model(),
            &self.prep.session,
            self.prep.heldout_start,
            self.cfg.eval_segments,
        )
    }

    /// Rolls `model` (plain device) out freely over the validation bins; `None` without a
    /// validation split.
    pub fn validation(&self, model: &Jslds) -> Option<Eval> {
        let p = &self.prep;
        (p.validation_segments > 0)
            .then(|| {
                rollout_range(
                    model,
                    &p.session,
                    p.validation_start..p.heldout_start,
                    p.validation_segments,
                )
            })
            .flatten()
            .map(|r| r.eval(&p.session))
    }

    /// Evaluates on the held-out bins and records the point in the curves. With a validation
    /// split and the warm-up over, also on the validation bins, and the model becomes the
    /// selected one when its validation error is the lowest so far (the held-out error takes
    /// no part in the choice).
    pub fn evaluate(&mut self) -> Option<Eval> {
        let plain = self.inference_model();
        let e = heldout_rollout(
            &plain,
            &self.prep.session,
            self.prep.heldout_start,
            self.cfg.eval_segments,
        )?
        .eval(&self.prep.session);
        let v = (self.step >= self.cfg.warmup)
            .then(|| self.validation(&plain))
            .flatten()
            .map(|v| v.relative_error);
        if let Some(v) = v.filter(|v| v.is_finite()) {
            let better = self
                .selected
                .as_ref()
                .is_none_or(|(_, s)| v < s.validation_relative_error);
            if better {
                let s = Selected {
                    step: self.step,
                    validation_relative_error: v,
                };
                self.selected = Some((self.model.clone(), s));
                self.selected_unsaved = true;
            }
        }
        self.curves.eval.push(EvalPoint {
            step: self.step,
            train_seconds: self.train_seconds,
            relative_error: e.relative_error,
            nll: e.nll,
            nll_linear: e.nll_linear,
            validation_relative_error: v,
        });
        Some(e)
    }
}

/// The part of a run's state that is not model or optimiser.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RunState {
    /// Steps done.
    pub step: usize,
    /// Carried GRU states `[batch, d]`.
    pub carry_h: Vec<f32>,
    /// Carried linear-path states `[batch, d]`.
    pub carry_a: Vec<f32>,
    /// Best total loss so far.
    pub best: f32,
    /// Curves so far.
    pub curves: TrainingCurves,
    /// Seconds of training so far.
    pub train_seconds: f64,
}

fn check_config(cfg: &TrainConfig) -> Result<(), TrainError> {
    let bad = |m: String| Err(TrainError::Data(m));
    if cfg.latent == 0 || cfg.regimes == 0 || cfg.regimes > 255 {
        return bad(format!(
            "latent {} and regimes {} must be positive (regimes at most 255, the model file's limit)",
            cfg.latent, cfg.regimes
        ));
    }
    if !(cfg.lr.is_finite() && cfg.lr > 0.0) {
        return bad(format!("learning rate {} must be positive", cfg.lr));
    }
    if !(cfg.lr_final.is_finite() && cfg.lr_final > 0.0 && cfg.lr_final <= 1.0) {
        return bad(format!(
            "final learning-rate fraction {} must be in (0, 1]",
            cfg.lr_final
        ));
    }
    let w = &cfg.weights;
    if !(w.gate_open.is_finite() && w.gate_open >= 0.0 && w.z_max > 0.0 && w.z_max <= 1.0) {
        return bad(format!(
            "open-gate weight {} must be >= 0 and z_max {} in (0, 1]",
            w.gate_open, w.z_max
        ));
    }
    if !(w.contraction.is_finite() && w.contraction >= 0.0) {
        return bad(format!("contraction weight {} must be >= 0", w.contraction));
    }
    if !(w.regime_match.is_finite() && w.regime_match >= 0.0) {
        return bad(format!(
            "regime-match weight {} must be >= 0",
            w.regime_match
        ));
    }
    if w.free_points >= cfg.regimes {
        return bad(format!(
            "free regimes {} must leave at least one of the {} expansion points pinned to a fixed point",
            w.free_points, cfg.regimes
        ));
    }
    if !(cfg.reset_prob.is_finite() && (0.0..=1.0).contains(&cfg.reset_prob)) {
        return bad(format!(
            "restart probability {} (--reset-prob) must be in [0, 1]",
            cfg.reset_prob
        ));
    }
    if !(cfg.bin_s.is_finite() && cfg.bin_s > 0.0) {
        return bad(format!("bin width {} s must be positive", cfg.bin_s));
    }
    Ok(())
}

/// Whether stream `stream` restarts from zero at step `step` (1-based), with probability `p`:
/// a hash of the seed, the step and the stream (the surrogate test's SplitMix64 mixer), so
/// that the draws need no state and a resumed run repeats them.
pub fn random_restart(seed: u64, step: usize, stream: usize, p: f64) -> bool {
    if p <= 0.0 {
        return false;
    }
    let z = mix64(
        seed ^ (step as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ (stream as u64).wrapping_mul(0xD1B5_4A32_D192_ED03),
    );
    // The top 53 bits as a uniform number in [0, 1).
    ((z >> 11) as f64) * (1.0 / (1u64 << 53) as f64) < p
}

/// Moves expansion points that no bin selected onto random GRU states of the batch (their
/// ParamId is kept, so Adam's state stays attached).
fn reseed_points(model: Jslds, nearest: &[i64], h: &[f32], d: usize, rng: &mut StdRng) -> Jslds {
    let k = model.regimes();
    let mut used = vec![false; k];
    for &i in nearest {
        if let Some(u) = used.get_mut(i as usize) {
            *u = true;
        }
    }
    let states = h.len() / d;
    if used.iter().all(|&u| u) || states == 0 {
        return model;
    }
    let mut points = model
        .points
        .val()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    for (i, _) in used.iter().enumerate().filter(|(_, u)| !**u) {
        let s = rng.random_range(0..states);
        points[i * d..(i + 1) * d].copy_from_slice(&h[s * d..(s + 1) * d]);
    }
    with_points(model, points)
}

/// `model` with its expansion points replaced by `points` (`K x d`, row-major), still trained:
/// the ParamId is kept, so Adam's state stays attached.
fn with_points(model: Jslds, points: Vec<f32>) -> Jslds {
    let (k, d) = (model.regimes(), model.latent());
    let new = Tensor::<2>::from_data(TensorData::new(points, [k, d]), &model.points.device());
    let mut model = model;
    model.points = model.points.map(|_| new.require_grad());
    model
}

/// Gives each of the GRU's attractors a pinned expansion point ([`attractors::cover`]): the
/// attractors are found by running the GRU at the anchor from the batch states `h`.
fn cover_attractors(model: Jslds, h: &[f32], pinned: usize) -> Jslds {
    let plain = model.valid();
    let mut points = plain
        .points
        .val()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    let moved =
        attractors::cover_from_states(&plain.gru, plain.anchor_val(), h, &mut points, pinned);
    if moved == 0 {
        return model;
    }
    with_points(model, points)
}

#[cfg(test)]
mod cover_tests {
    use super::*;
    use crate::jslds::attractors::contracting_gru;

    #[test]
    fn covering_moves_a_redundant_point_and_keeps_the_points_trainable() {
        let device = Device::flex().autodiff();
        let b = [0.5f32, -1.0, 0.2];
        let mut model = JsldsConfig {
            inputs: 2,
            outputs: 4,
            latent: 3,
            regimes: 4,
            learn_anchor: false,
            gate: false,
        }
        .init(&device);
        model.gru = contracting_gru(2, &b, &device);
        // Pinned 0 and 1 on top of each other, 2 elsewhere; 3 free.
        let points = vec![
            0.9, 0.9, 0.9, 0.9, 0.9, 0.91, -0.9, 0.9, -0.9, 0.0, 0.0, 0.0,
        ];
        let t = Tensor::<2>::from_data(TensorData::new(points, [4, 3]), &device);
        model.points = model.points.map(|_| t.require_grad());
        let states: Vec<f32> = (0..30 * 3)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let model = cover_attractors(model, &states, 3);
        let after = model
            .points
            .val()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        let on_fixed_point =
            |k: usize| (0..3).all(|i| (after[k * 3 + i] - b[i].tanh()).abs() < 1e-4);
        assert!(on_fixed_point(0) ^ on_fixed_point(1), "{after:?}");
        assert_eq!(&after[6..], &[-0.9, 0.9, -0.9, 0.0, 0.0, 0.0]);
        // The moved points still train.
        let grads = model.points.val().sum().backward();
        assert!(model.points.val().grad(&grads).is_some());
    }
}

#[cfg(test)]
mod config_checks {
    use super::*;
    use crate::jslds::loss::LossWeights;

    /// Sets one loss weight with `set` and checks that 0 (off) and `good` pass, and that a
    /// negative or non-finite weight is refused before training with `field` in the message.
    fn refuses_bad_weight(set: fn(&mut LossWeights, f32), good: f32, field: &str) {
        let with = |w: f32| {
            let mut cfg = TrainConfig::default();
            set(&mut cfg.weights, w);
            check_config(&cfg)
        };
        assert!(with(0.0).is_ok());
        assert!(with(good).is_ok());
        for w in [-0.5, f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let err = with(w).expect_err(&format!("accepted {w} as the {field}"));
            assert!(
                err.to_string().contains(field),
                "message does not name the field: {err}"
            );
        }
    }

    #[test]
    fn contraction_weight_must_be_finite_and_non_negative() {
        refuses_bad_weight(|w, x| w.contraction = x, 0.03, "contraction weight");
    }

    #[test]
    fn regime_match_weight_must_be_finite_and_non_negative() {
        refuses_bad_weight(|w, x| w.regime_match = x, 10.0, "regime-match weight");
    }
}

#[cfg(test)]
mod stop_tests {
    use super::*;
    use crate::jslds::config::Backend;
    use crate::jslds::tests::{seeded, tiny_config, toy_counts};

    fn trainer(cfg: &TrainConfig) -> Trainer {
        let (t, n) = (1200, 9);
        Trainer::new(&toy_counts(t, n), n, cfg).unwrap()
    }

    /// A learning rate far too high is stopped within a few steps, with the step, the loss,
    /// the best loss and the option to change in the message.
    #[test]
    fn a_blow_up_stops_at_once_and_names_the_remedy() {
        let _guard = seeded();
        let cfg = TrainConfig {
            lr: 1e3,
            ..tiny_config(Backend::Flex)
        };
        let mut tr = trainer(&cfg);
        let err = (0..50)
            .find_map(|_| tr.train_step().err())
            .expect("a learning rate of 1000 trained 50 steps without stopping");
        match &err {
            TrainError::Diverged { step, loss, best } => {
                assert!(*step <= 5, "stopped late, at step {step}");
                assert!(*loss > cfg.divergence_factor * best, "{err}");
            }
            other => panic!("expected divergence, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(
            msg.contains("diverged at step") && msg.contains("--lr"),
            "{msg}"
        );
        // The same data and model at a sane rate train on past that step.
        let mut sane = trainer(&tiny_config(Backend::Flex));
        for _ in 0..10 {
            sane.train_step().unwrap();
        }
    }

    /// A non-finite loss term stops training and the message names that term, not the sum.
    #[test]
    fn a_non_finite_term_is_named() {
        let _guard = seeded();
        let cfg = tiny_config(Backend::Flex);
        let mut tr = trainer(&cfg);
        tr.train_step().unwrap();
        // A NaN readout bias makes the GRU path's likelihood (and, through the same readout,
        // every other term) NaN: the first term in PART_NAMES order is named.
        let bias = tr
            .model
            .readout
            .bias
            .take()
            .expect("the readout has a bias");
        tr.model.readout.bias = Some(bias.map(|b| b.mul_scalar(f32::NAN)));
        let err = tr.train_step().expect_err("a NaN readout bias trained on");
        match &err {
            TrainError::NonFinite { step, part, value } => {
                assert_eq!(*step, 2);
                assert_eq!(*part, "nll");
                assert!(value.is_nan());
            }
            other => panic!("expected a non-finite term, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains("`nll`") && msg.contains("--lr"), "{msg}");
    }
}

#[cfg(test)]
mod restart_tests {
    use super::*;
    use crate::jslds::config::Backend;
    use crate::jslds::tests::{seeded, tiny_config, toy_counts};

    #[test]
    fn restarts_are_drawn_at_the_asked_rate_and_repeat() {
        let draws = |seed: u64, p: f64| -> Vec<bool> {
            (1..=1000)
                .flat_map(|step| (0..16).map(move |r| random_restart(seed, step, r, p)))
                .collect()
        };
        assert!(draws(3, 0.0).iter().all(|&z| !z));
        assert!(draws(3, 1.0).iter().all(|&z| z));
        let quarter = draws(3, 0.25);
        let rate = quarter.iter().filter(|&&z| z).count() as f64 / quarter.len() as f64;
        assert!((rate - 0.25).abs() < 0.02, "rate {rate}");
        assert_eq!(quarter, draws(3, 0.25), "not repeatable");
        assert_ne!(quarter, draws(4, 0.25), "the seed does not matter");
        // Not one stream or one step alone: every stream restarts somewhere.
        for r in 0..16 {
            assert!(
                (0..1000).any(|s| quarter[s * 16 + r]),
                "stream {r} never restarts"
            );
        }
    }

    /// The draws of seed 0 at 0.05 over the first ten steps, as the README's `--reset-prob
    /// 0.05` runs drew them (computed apart from this code): changing the hash would change
    /// those runs.
    #[test]
    fn the_draws_are_those_of_the_measured_runs() {
        let drawn: Vec<(usize, usize)> = (1..=10)
            .flat_map(|step| (0..16).map(move |r| (step, r)))
            .filter(|&(step, r)| random_restart(0, step, r, 0.05))
            .collect();
        assert_eq!(
            drawn,
            [
                (1, 3),
                (1, 4),
                (1, 6),
                (2, 4),
                (2, 7),
                (3, 0),
                (3, 3),
                (4, 1),
                (4, 2),
                (5, 12),
                (7, 15)
            ]
        );
    }

    /// With restarts at every chunk the carried states are never read: poisoned carries
    /// train on. Without restarts the same poison stops training (the carry is used).
    #[test]
    fn a_restart_replaces_both_carried_states_with_zero() {
        let _guard = seeded();
        let (t, n) = (1200, 9);
        let counts = toy_counts(t, n);
        let run = |p: f64| {
            let cfg = TrainConfig {
                reset_prob: p,
                ..tiny_config(Backend::Flex)
            };
            let mut tr = Trainer::new(&counts, n, &cfg).unwrap();
            tr.train_step().unwrap();
            tr.carry_h.fill(f32::NAN);
            tr.carry_a.fill(f32::NAN);
            tr.train_step()
        };
        assert!(run(1.0).is_ok());
        assert!(matches!(run(0.0), Err(TrainError::NonFinite { .. })));
    }

    #[test]
    fn the_restart_probability_must_be_a_probability() {
        for p in [-0.1, 1.5, f64::NAN] {
            let cfg = TrainConfig {
                reset_prob: p,
                ..TrainConfig::default()
            };
            let err = check_config(&cfg).expect_err("accepted");
            assert!(err.to_string().contains("restart probability"), "{err}");
        }
        for p in [0.0, 0.05, 1.0] {
            let cfg = TrainConfig {
                reset_prob: p,
                ..TrainConfig::default()
            };
            assert!(check_config(&cfg).is_ok());
        }
    }
}
