//! Training loop: Adam with gradient clipping over minibatches of chunks of the window
//! sequence (truncated backpropagation through time, every chunk starting from a zero state),
//! NaN/divergence detection, deterministic for a given seed and backend, progress through a
//! callback. Labels are never read here.
//!
//! Every weight is registered with the optimiser by construction (`#[derive(Module)]` on every
//! layer, `GradientsParams::from_grads` over the whole model); `tests.rs` checks that each
//! parameter receives a gradient.

use std::fmt;
use std::time::Instant;

use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::decoder::edge_logits;
use crate::input::WindowData;
use crate::loss::{kl_gaussian, weighted_bce};
use crate::model::{State, Tavrnn, TavrnnConfig};

/// CPU backend to train on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Flex,
    Ndarray,
}

impl Backend {
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; kept selectable (design card)
    pub fn device(self) -> Device {
        match self {
            Backend::Flex => Device::flex(),
            Backend::Ndarray => Device::ndarray(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub hidden: usize,
    pub latent: usize,
    pub d_phi: usize,
    pub d_enc: usize,
    /// TAVRNN (true) or the VGRNN ablation (false).
    pub attention: bool,
    /// Attention window w (windows).
    pub window: usize,
    /// Windows per chunk (truncated BPTT length).
    pub chunk_len: usize,
    /// Chunks per minibatch.
    pub batch: usize,
    pub steps: usize,
    pub lr: f64,
    /// Gradient-norm clip; Burn 0.22 clips each parameter tensor separately.
    pub clip_norm: f32,
    /// Weight of the KL term; `None` = 1 / n_nodes (VGRNN's scale).
    pub kl_weight: Option<f32>,
    /// Stop as "diverged" when the loss exceeds this multiple of the best loss so far.
    pub divergence_factor: f32,
    pub seed: u64,
    pub backend: Backend,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            hidden: 32,
            latent: 16,
            d_phi: 32,
            d_enc: 32,
            attention: true,
            window: 4,
            chunk_len: 16,
            batch: 8,
            steps: 300,
            lr: 3e-3,
            clip_norm: 5.0,
            kl_weight: None,
            divergence_factor: 100.0,
            seed: 0,
            backend: Backend::Flex,
        }
    }
}

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
                 rate, or check the graphs (a window without any edge?)"
            ),
            TrainError::Diverged { step, loss, best } => write!(
                f,
                "training diverged at step {step}: loss {loss} is more than the divergence factor \
                 times the best loss so far ({best}); lower the learning rate"
            ),
            TrainError::Data(m) => write!(f, "training data: {m}"),
        }
    }
}
impl std::error::Error for TrainError {}

#[derive(Clone, Debug)]
pub struct Progress {
    pub step: usize,
    /// `[total, bce, kl]` averaged over windows of the minibatch.
    pub loss: [f32; 3],
    pub steps_per_s: f64,
}

pub struct Trained {
    /// Inference copy (plain device).
    pub model: Tavrnn,
    pub history: Vec<Progress>,
    pub train_seconds: f64,
}

impl TrainConfig {
    pub fn model_config(&self, data: &WindowData) -> TavrnnConfig {
        TavrnnConfig {
            n_nodes: data.n_nodes,
            history_node: data.history_node,
            d_features: data.d_features,
            d_phi: self.d_phi,
            hidden: self.hidden,
            d_enc: self.d_enc,
            latent: self.latent,
            attention: self.attention,
            window: self.window,
        }
    }
}

/// Loss of one minibatch: chunks starting at `starts`, `len` windows each.
/// Returns `(total, bce, kl)` as scalar tensors.
pub fn chunk_loss(
    model: &Tavrnn,
    data: &WindowData,
    starts: &[usize],
    len: usize,
    kl_weight: f32,
    device: &Device,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let b = starts.len();
    let mut state = State::zeros(b, data.n_nodes, model.hidden, device);
    let mut bce = Tensor::<1>::zeros([b], device);
    let mut kl = Tensor::<1>::zeros([b], device);
    for t in 0..len {
        let idx: Vec<usize> = starts.iter().map(|s| s + t).collect();
        let input = data.step(&idx, device);
        let out = model.step(&input, &mut state, true);
        bce = bce
            + weighted_bce(
                edge_logits(out.z),
                input.target,
                input.pos_weight,
                input.norm,
            );
        kl = kl + kl_gaussian(&out.posterior, &out.prior);
    }
    let scale = 1.0 / (b * len) as f64;
    let bce = bce.sum().mul_scalar(scale);
    let kl = kl.sum().mul_scalar(scale);
    let total = bce.clone() + kl.clone().mul_scalar(kl_weight);
    (total, bce, kl)
}

/// Trains on every window of `data`. `progress` is called after each step; `false` stops
/// early (not an error).
pub fn train(
    data: &WindowData,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&Progress) -> bool,
) -> Result<Trained, TrainError> {
    if data.windows < cfg.chunk_len.max(1) {
        return Err(TrainError::Data(format!(
            "{} windows are fewer than one chunk of {}",
            data.windows, cfg.chunk_len
        )));
    }
    let plain = cfg.backend.device();
    plain.seed(cfg.seed);
    let device = plain.autodiff();
    let mut model = cfg.model_config(data).init(&device);
    let mut optim = AdamConfig::new()
        .with_grad_clipping(Some(GradientClippingConfig::Norm(cfg.clip_norm)))
        .init();
    let kl_weight = cfg.kl_weight.unwrap_or(1.0 / data.n_nodes as f32);
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ 0x7a5);
    let last = data.windows - cfg.chunk_len;
    let (mut best, mut train_seconds, mut history) = (f32::INFINITY, 0.0, Vec::new());
    for step in 1..=cfg.steps {
        let t0 = Instant::now();
        let starts: Vec<usize> = (0..cfg.batch).map(|_| rng.random_range(0..=last)).collect();
        let (total, bce, kl) = chunk_loss(&model, data, &starts, cfg.chunk_len, kl_weight, &device);
        let v = Tensor::cat(vec![total.clone().detach(), bce.detach(), kl.detach()], 0)
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        let values = [v.first(), v.get(1), v.get(2)].map(|x| x.copied().unwrap_or(f32::NAN));
        for (x, name) in values.iter().zip(["total", "bce", "kl"]) {
            if !x.is_finite() {
                return Err(TrainError::NonFinite {
                    step,
                    part: name,
                    value: *x,
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
        let grads = GradientsParams::from_grads(total.backward(), &model);
        model = optim.step(cfg.lr, model, grads);
        train_seconds += t0.elapsed().as_secs_f64();
        let p = Progress {
            step,
            loss: values,
            steps_per_s: step as f64 / train_seconds,
        };
        let go_on = progress(&p);
        history.push(p);
        if !go_on {
            break;
        }
    }
    Ok(Trained {
        model: model.valid(),
        history,
        train_seconds,
    })
}
