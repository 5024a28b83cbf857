//! Training loop: Adam with gradient clipping over minibatches of sequence chunks, a held-out
//! split scored by the full-rollout relative error, NaN/divergence detection, deterministic
//! for a given seed and backend, progress through a callback.

use std::fmt;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::input::InputTransform;
use crate::loss::{LossWeights, jslds_loss};
use crate::model::{Jslds, JsldsConfig};

/// CPU backend to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Flex,
    Ndarray,
}

impl Backend {
    /// The plain (inference) device.
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; kept selectable (design card)
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            Backend::Ndarray => Device::ndarray(),
        }
    }
}

/// The input anchor u* of the expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The mean input (0 after standardising), fixed.
    Mean,
    /// The input of a bin without spikes, fixed: the resting input of a pulse-driven system.
    Silent,
    /// Learned, starting at the mean.
    Learned,
}

#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub anchor: Anchor,
    pub latent: usize,
    pub regimes: usize,
    pub gate: bool,
    /// Steps after which the gate (if any) takes over the selection.
    pub gate_after: usize,
    pub chunk_len: usize,
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    /// Per-parameter gradient-norm clip (Burn clips each parameter tensor separately).
    pub clip_norm: f32,
    pub weights: LossWeights,
    /// Neurons fed to the estimator as inputs (indices; `None` = all). Every neuron is
    /// predicted; input-only subsets give the co-smoothing / "held-out neurons" setting.
    pub inputs: Option<Vec<usize>>,
    pub heldout_frac: f64,
    pub eval_every: usize,
    pub eval_len: usize,
    /// Until this step, every `reseed_every` steps, expansion points that no bin of the batch
    /// selected are moved onto random GRU states of the batch (dead-point reseeding).
    pub reseed_every: usize,
    pub reseed_until: usize,
    /// Stop as "diverged" when the loss exceeds this multiple of the best loss so far.
    pub divergence_factor: f32,
    pub seed: u64,
    pub backend: Backend,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            anchor: Anchor::Mean,
            latent: 16,
            regimes: 16,
            gate: false,
            gate_after: 500,
            chunk_len: 64,
            batch: 16,
            steps: 3000,
            lr: 3e-3,
            clip_norm: 5.0,
            weights: LossWeights::default(),
            inputs: None,
            heldout_frac: 0.2,
            eval_every: 250,
            eval_len: 500,
            reseed_every: 50,
            reseed_until: 1000,
            divergence_factor: 1e3,
            seed: 0,
            backend: Backend::Flex,
        }
    }
}

/// Why training stopped early.
#[derive(Debug)]
pub enum TrainError {
    NonFinite {
        step: usize,
        part: &'static str,
        value: f32,
    },
    Diverged {
        step: usize,
        loss: f32,
        best: f32,
    },
    Data(String),
}

impl fmt::Display for TrainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrainError::NonFinite { step, part, value } => write!(
                f,
                "training stopped at step {step}: loss term `{part}` is {value}; lower the learning \
                 rate or the loss weights, or check the input counts"
            ),
            TrainError::Diverged { step, loss, best } => write!(
                f,
                "training diverged at step {step}: loss {loss} is more than the divergence factor \
                 times the best loss so far ({best}); lower the learning rate"
            ),
            TrainError::Data(msg) => write!(f, "training data: {msg}"),
        }
    }
}
impl std::error::Error for TrainError {}

/// One progress report.
#[derive(Clone, Debug)]
pub struct Progress {
    pub step: usize,
    /// `[total, nll, nll_lin, fixed_point, approx]`, unweighted parts.
    pub loss: [f32; 5],
    /// Held-out evaluation when one ran at this step.
    pub eval: Option<Eval>,
    /// Training steps a second so far (evaluation time excluded).
    pub steps_per_s: f64,
}

/// Held-out full-rollout evaluation.
#[derive(Clone, Debug)]
pub struct Eval {
    /// `||H - A||_F / ||H||_F` over every held-out bin (both paths from the same zero state).
    pub relative_error: f32,
    /// Mean over bins of `|h_t - a_t| / |h_t|`.
    pub relative_error_per_bin: f32,
    /// Poisson NLL a bin of the GRU path and the linear path.
    pub nll: f32,
    pub nll_lin: f32,
}

/// Result of training.
pub struct Trained {
    /// Inference copy of the model (on the plain device).
    pub model: Jslds,
    pub transform: InputTransform,
    /// Indices of the input neurons.
    pub inputs: Vec<usize>,
    pub history: Vec<Progress>,
    pub heldout_start: usize,
    pub train_seconds: f64,
}

/// Columns `index` of a `[T, neurons]` count matrix.
pub fn select_columns(counts: &[u32], neurons: usize, index: &[usize]) -> Vec<u32> {
    counts
        .chunks_exact(neurons)
        .flat_map(|row| index.iter().map(move |&i| row[i]))
        .collect()
}

/// A prepared session: standardised inputs `[T, n_in]` and float counts `[T, neurons]`.
pub struct Session {
    pub inputs: Vec<f32>,
    pub counts: Vec<f32>,
    pub n_in: usize,
    pub neurons: usize,
    pub bins: usize,
}

impl Session {
    pub fn new(
        counts: &[u32],
        neurons: usize,
        inputs: &[usize],
        transform: &InputTransform,
    ) -> Self {
        Self {
            inputs: transform.apply(&select_columns(counts, neurons, inputs)),
            counts: counts.iter().map(|&c| c as f32).collect(),
            n_in: inputs.len(),
            neurons,
            bins: counts.len() / neurons,
        }
    }

    /// Inputs of bins `s..s+len` and counts of bins `s+1..s+len+1` for each start, as
    /// `[B, len, n]` tensors.
    pub fn batch(&self, starts: &[usize], len: usize, device: &Device) -> (Tensor<3>, Tensor<3>) {
        let (n, m) = (self.neurons, self.n_in);
        let mut u = Vec::with_capacity(starts.len() * len * m);
        let mut y = Vec::with_capacity(starts.len() * len * n);
        for &s in starts {
            u.extend_from_slice(&self.inputs[s * m..(s + len) * m]);
            y.extend_from_slice(&self.counts[(s + 1) * n..(s + len + 1) * n]);
        }
        (
            Tensor::from_data(TensorData::new(u, [starts.len(), len, m]), device),
            Tensor::from_data(TensorData::new(y, [starts.len(), len, n]), device),
        )
    }
}

/// Full-rollout evaluation on bins `[from, to)` cut into chunks of `len` (both paths start at
/// zero at every chunk start). `model` must live on a plain device.
pub fn evaluate(model: &Jslds, session: &Session, from: usize, to: usize, len: usize) -> Eval {
    let device = model.points.device();
    let starts: Vec<usize> = (from..to.saturating_sub(len + 1)).step_by(len).collect();
    let (u, y) = session.batch(&starts, len, &device);
    let b = starts.len();
    let roll = model.rollout(u, Tensor::zeros([b, model.latent()], &device));
    let nll = crate::loss::poisson_nll(model.log_rates(roll.h.clone()), y.clone());
    let nll_lin = crate::loss::poisson_nll(model.log_rates(roll.a.clone()), y);
    let diff = (roll.h.clone() - roll.a.clone()).square().sum_dim(2).sqrt();
    let norm = roll.h.square().sum_dim(2).sqrt();
    let num = diff.clone().square().sum().into_scalar::<f32>().sqrt();
    let den = norm.clone().square().sum().into_scalar::<f32>().sqrt();
    let per_bin = (diff / norm.add_scalar(1e-8)).mean().into_scalar::<f32>();
    Eval {
        relative_error: num / den.max(1e-12),
        relative_error_per_bin: per_bin,
        nll: nll.into_scalar::<f32>(),
        nll_lin: nll_lin.into_scalar::<f32>(),
    }
}

const PART_NAMES: [&str; 5] = ["total", "nll", "nll_lin", "fixed_point", "approx"];

/// Trains a JSLDS on `counts` (`[T, neurons]` row-major). `progress` is called after every
/// step, with the inference copy of the model at evaluation steps (for checkpoints and extra
/// checks); returning `false` stops training early (not an error).
pub fn train(
    counts: &[u32],
    neurons: usize,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&Progress, Option<&Jslds>) -> bool,
) -> Result<Trained, TrainError> {
    if neurons == 0 || counts.len() % neurons != 0 {
        return Err(TrainError::Data(format!(
            "{} counts are not a whole number of bins of {neurons} neurons",
            counts.len()
        )));
    }
    let bins = counts.len() / neurons;
    let heldout_start = ((bins as f64) * (1.0 - cfg.heldout_frac)) as usize;
    if heldout_start < cfg.chunk_len + 2 || bins - heldout_start < cfg.eval_len + 2 {
        return Err(TrainError::Data(format!(
            "{bins} bins are too few for chunks of {} and held-out chunks of {}",
            cfg.chunk_len, cfg.eval_len
        )));
    }
    let inputs: Vec<usize> = cfg.inputs.clone().unwrap_or_else(|| (0..neurons).collect());
    if inputs.is_empty() || inputs.iter().any(|&i| i >= neurons) {
        return Err(TrainError::Data(format!(
            "input neuron indices {inputs:?} must be non-empty and below {neurons}"
        )));
    }
    let train_inputs = select_columns(&counts[..heldout_start * neurons], neurons, &inputs);
    let transform = InputTransform::fit(&train_inputs, inputs.len());
    let session = Session::new(counts, neurons, &inputs, &transform);

    let plain = cfg.backend.device();
    plain.seed(cfg.seed);
    let device = plain.clone().autodiff();
    let mut model = JsldsConfig {
        inputs: inputs.len(),
        outputs: neurons,
        latent: cfg.latent,
        regimes: cfg.regimes,
        learn_anchor: cfg.anchor == Anchor::Learned,
        gate: cfg.gate,
    }
    .init(&device);
    if cfg.anchor == Anchor::Silent {
        let silent = transform.apply(&vec![0u32; inputs.len()]);
        let t = Tensor::<2>::from_data(TensorData::new(silent, [1, inputs.len()]), &device);
        model.anchor = model.anchor.map(|_| t.require_grad());
    }
    model.use_gate = false;
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.clip_norm)))
        .init();
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0x5eed);
    let mut history = Vec::new();
    let mut best = f32::INFINITY;
    let mut train_seconds = 0.0;
    let last_start = heldout_start - cfg.chunk_len - 1;

    for step in 1..=cfg.steps {
        let t0 = Instant::now();
        if cfg.gate && step == cfg.gate_after {
            model.use_gate = true;
        }
        let starts: Vec<usize> = (0..cfg.batch)
            .map(|_| rng.random_range(0..=last_start))
            .collect();
        let (u, y) = session.batch(&starts, cfg.chunk_len, &device);
        let roll = model.rollout(u, Tensor::zeros([cfg.batch, cfg.latent], &device));
        let parts = jslds_loss(&model, &roll, y, &cfg.weights);
        let values = parts.values();
        for (v, name) in values.iter().zip(PART_NAMES) {
            if !v.is_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    part: name,
                    value: *v,
                });
            }
        }
        if step > 20 && values[0] > cfg.divergence_factor * best.max(1e-6) {
            return Err(TrainError::Diverged {
                step,
                loss: values[0],
                best,
            });
        }
        best = best.min(values[0]);
        let reseed =
            cfg.reseed_every > 0 && step % cfg.reseed_every == 0 && step <= cfg.reseed_until;
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
        let grads = GradientsParams::from_grads(parts.total.backward(), &model);
        model = optim.step(cfg.lr, model, grads);
        if let Some((nearest, h)) = reseed_data {
            model = reseed_points(model, &nearest, &h, cfg.latent, &mut rng);
        }
        train_seconds += t0.elapsed().as_secs_f64();
        let snapshot = (step % cfg.eval_every == 0 || step == cfg.steps).then(|| model.valid());
        let eval = snapshot
            .as_ref()
            .map(|m| evaluate(m, &session, heldout_start, bins, cfg.eval_len));
        let p = Progress {
            step,
            loss: values,
            eval,
            steps_per_s: step as f64 / train_seconds,
        };
        let go_on = progress(&p, snapshot.as_ref());
        history.push(p);
        if !go_on {
            break;
        }
    }
    Ok(Trained {
        model: model.valid(),
        transform,
        inputs,
        history,
        heldout_start,
        train_seconds,
    })
}

/// Moves expansion points that no bin selected onto random GRU states of the batch.
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
    let device = model.points.device();
    let mut points = model
        .points
        .val()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    for (i, _) in used.iter().enumerate().filter(|(_, u)| !**u) {
        let s = rng.random_range(0..states);
        points[i * d..(i + 1) * d].copy_from_slice(&h[s * d..(s + 1) * d]);
    }
    let new = Tensor::<2>::from_data(TensorData::new(points, [k, d]), &device);
    let mut model = model;
    model.points = model.points.map(|_| new.require_grad());
    model
}
