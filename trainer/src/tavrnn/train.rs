//! Training: Adam with global-norm gradient clipping over minibatches of chunks of the window
//! sequence (truncated backpropagation through time; every chunk starts from a zero state),
//! with NaN and divergence detection. Labels are never read here.
//!
//! An **epoch** visits every window once: the sequence is cut into chunks of `chunk_len`
//! windows starting at a random offset, the chunks are shuffled and taken `batch` at a time
//! (the last minibatch may be smaller). Both the chunk plan and the posterior noise come from
//! RNGs seeded by `(seed, epoch)` at the start of each epoch, so training that
//! resumes from a checkpoint at an epoch boundary continues bit for bit as if it had never
//! stopped (tested).
//!
//! Every weight is registered with the optimiser by construction (`#[derive(Module)]` on every
//! layer, `GradientsParams::from_grads` over the whole model); a test checks that each
//! parameter receives a non-zero gradient.

use std::time::Instant;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

use crate::burn_rng;
use crate::tavrnn::backend::Backend;
use crate::tavrnn::clip::clip_global_norm;
use crate::tavrnn::decoder::edge_logits;
use crate::tavrnn::input::WindowData;
use crate::tavrnn::loss::{kl_gaussian, weighted_bce};
use crate::tavrnn::model::{State, Tavrnn, TavrnnConfig};

/// Hyper-parameters of training (saved in the checkpoint's JSON sidecar).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Hidden state H per node.
    pub hidden: usize,
    /// Latent size d_z (the per-node embedding size).
    pub latent: usize,
    /// Width of phi_x and phi_z.
    pub d_phi: usize,
    /// Encoder and prior hidden width.
    pub d_enc: usize,
    /// TAVRNN (true) or the VGRNN ablation (false).
    pub attention: bool,
    /// Attention window w, in windows (the current one included).
    pub window: usize,
    /// Windows per chunk (truncated BPTT length).
    pub chunk_len: usize,
    /// Chunks per minibatch.
    pub batch: usize,
    /// Epochs to train (in total, counting those of a resumed checkpoint).
    pub epochs: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Largest global L2 norm of the gradient; larger gradients are scaled down.
    pub clip_norm: f64,
    /// Weight of the KL term; `None` = 1 / n_nodes (VGRNN's scale).
    pub kl_weight: Option<f32>,
    /// Stop as "diverged" when the loss exceeds this multiple of the best loss so far.
    pub divergence_factor: f32,
    /// Seed of the weights, the chunk plan and the posterior samples.
    pub seed: u64,
    /// CPU backend.
    pub backend: Backend,
}

impl Default for TrainConfig {
    /// The settings measured on `simulate connectivity` (README § TAVRNN).
    fn default() -> Self {
        Self {
            hidden: 64,
            latent: 16,
            d_phi: 32,
            d_enc: 32,
            attention: true,
            window: 4,
            chunk_len: 16,
            batch: 8,
            epochs: 200,
            lr: 5e-3,
            clip_norm: 5.0,
            kl_weight: None,
            divergence_factor: 100.0,
            seed: 0,
            backend: Backend::Flex,
        }
    }
}

/// Why training stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// A loss term or the gradient norm is NaN or infinite.
    #[error(
        "training diverged at epoch {epoch}, step {step}: {part} is {value}; lower the learning \
         rate (--lr) or check the graphs (windows without any edge?)"
    )]
    NonFinite {
        /// Epoch (1-based).
        epoch: usize,
        /// Optimiser step (1-based, counted over all epochs).
        step: usize,
        /// Which quantity.
        part: &'static str,
        /// Its value.
        value: f64,
    },
    /// The loss grew far above the best seen.
    #[error(
        "training diverged at epoch {epoch}, step {step}: the loss {loss} is more than \
         {factor} times the best loss so far ({best}); lower the learning rate (--lr)"
    )]
    Diverged {
        /// Epoch (1-based).
        epoch: usize,
        /// Optimiser step.
        step: usize,
        /// The loss of this step.
        loss: f32,
        /// The best loss so far.
        best: f32,
        /// The divergence factor.
        factor: f32,
    },
    /// The data cannot be trained on with this configuration.
    #[error("training data: {0}")]
    Data(String),
}

/// One optimiser step, as recorded in the training history.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Epoch (1-based).
    pub epoch: usize,
    /// Optimiser step (1-based, over all epochs).
    pub step: usize,
    /// Total loss, averaged over the windows of the minibatch.
    pub loss: f32,
    /// Reconstruction BCE part.
    pub bce: f32,
    /// KL part (before its weight).
    pub kl: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

impl TrainConfig {
    /// The model's sizes for the graphs of `data`.
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

    /// Checks the values that do not depend on the data.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Data(m));
        for (name, v) in [
            ("hidden", self.hidden),
            ("latent", self.latent),
            ("d_phi", self.d_phi),
            ("d_enc", self.d_enc),
            ("attention window", self.window),
            ("chunk length", self.chunk_len),
            ("batch", self.batch),
        ] {
            if v == 0 {
                return bad(format!("{name} must be at least 1"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return bad(format!("learning rate must be positive, got {}", self.lr));
        }
        if !(self.clip_norm.is_finite() && self.clip_norm > 0.0) {
            return bad(format!(
                "clip norm must be positive, got {}",
                self.clip_norm
            ));
        }
        Ok(())
    }
}

/// Standard normal noise `[b, n, d]` from `rng` (Box-Muller through `rand_distr`).
fn noise(rng: &mut StdRng, dims: [usize; 3], device: &Device) -> Tensor<3> {
    let v: Vec<f32> = (0..dims.iter().product::<usize>())
        .map(|_| StandardNormal.sample(rng))
        .collect();
    Tensor::from_data(TensorData::new(v, dims), device)
}

/// Loss of one minibatch: chunks starting at `starts`, `len` windows each, with posterior
/// samples whose noise comes from `rng`. Returns `(total, bce, kl)` as one-element tensors,
/// averaged over windows.
pub fn chunk_loss(
    model: &Tavrnn,
    data: &WindowData,
    starts: &[usize],
    len: usize,
    kl_weight: f32,
    rng: &mut StdRng,
    device: &Device,
) -> (Tensor<1>, Tensor<1>, Tensor<1>) {
    let b = starts.len();
    let mut state = State::zeros(b, data.n_nodes, model.hidden, device);
    let mut bce = Tensor::<1>::zeros([b], device);
    let mut kl = Tensor::<1>::zeros([b], device);
    for t in 0..len {
        let idx: Vec<usize> = starts.iter().map(|s| s + t).collect();
        let input = data.step(&idx, device);
        let eps = noise(rng, [b, data.n_nodes, model.latent()], device);
        let out = model.step(&input, &mut state, Some(eps));
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

/// The minibatches of chunk starts of one epoch (deterministic in `seed` and `epoch`).
pub fn epoch_plan(
    windows: usize,
    chunk_len: usize,
    batch: usize,
    seed: u64,
    epoch: usize,
) -> Vec<Vec<usize>> {
    if windows < chunk_len || chunk_len == 0 || batch == 0 {
        return Vec::new();
    }
    let mut rng = StdRng::seed_from_u64(
        seed ^ 0x7a5_7a5 ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
    );
    let last = windows - chunk_len;
    let offset = rng.random_range(0..=last.min(chunk_len - 1));
    let mut starts: Vec<usize> = (offset..=last).step_by(chunk_len).collect();
    starts.shuffle(&mut rng);
    starts.chunks(batch).map(<[usize]>::to_vec).collect()
}

/// A model in training with its optimiser and history; can be saved and resumed
/// ([`crate::tavrnn::checkpoint`]).
pub struct Trainer {
    /// Hyper-parameters.
    pub cfg: TrainConfig,
    /// Model sizes.
    pub model_cfg: TavrnnConfig,
    model: Option<Tavrnn>,
    /// The optimiser (its state is saved with checkpoints).
    pub optim: ModuleOptimizer,
    device: Device,
    /// Epochs completed.
    pub epochs_done: usize,
    /// One entry per optimiser step, over all epochs.
    pub history: Vec<Progress>,
    /// Seconds spent in optimiser steps (over all sessions of a resumed run).
    pub train_seconds: f64,
    best: f32,
}

impl Trainer {
    /// A fresh model (weights from `cfg.seed`) for the graphs of `data`.
    pub fn new(data: &WindowData, cfg: &TrainConfig) -> Result<Self, TrainError> {
        cfg.validate()?;
        if data.windows < cfg.chunk_len {
            return Err(TrainError::Data(format!(
                "{} windows are fewer than one chunk of {} (use a shorter --step-s or a longer \
                 recording)",
                data.windows, cfg.chunk_len
            )));
        }
        let plain = cfg.backend.device();
        let device = plain.clone().autodiff();
        let model_cfg = cfg.model_config(data);
        let model = burn_rng::init(Some((&plain, cfg.seed)), || model_cfg.init(&device));
        Ok(Self {
            cfg: cfg.clone(),
            model_cfg,
            model: Some(model),
            optim: AdamConfig::new().init(),
            device,
            epochs_done: 0,
            history: Vec::new(),
            train_seconds: 0.0,
            best: f32::INFINITY,
        })
    }

    /// Replaces the model and optimiser state (from a checkpoint). `model` is loaded onto this
    /// trainer's autodiff device by the caller through [`Trainer::fresh_model`].
    pub fn restore(
        &mut self,
        model: Tavrnn,
        optim: ModuleOptimizer,
        epochs_done: usize,
        history: Vec<Progress>,
        train_seconds: f64,
    ) {
        self.best = history.iter().map(|p| p.loss).fold(f32::INFINITY, f32::min);
        self.model = Some(model);
        self.optim = optim;
        self.epochs_done = epochs_done;
        self.history = history;
        self.train_seconds = train_seconds;
    }

    /// An initialised model of this trainer's sizes on its autodiff device (to load a record
    /// into).
    pub fn fresh_model(&self) -> Tavrnn {
        burn_rng::init(None, || self.model_cfg.init(&self.device))
    }

    /// The model being trained (autodiff device).
    pub fn model(&self) -> &Tavrnn {
        self.model
            .as_ref()
            .expect("the model is only taken during a step")
    }

    /// A copy of the model for inference (plain device, no gradients tracked).
    pub fn inference_model(&self) -> Tavrnn {
        self.model().valid()
    }

    /// Optimiser steps per epoch for `data`.
    pub fn steps_per_epoch(&self, data: &WindowData) -> usize {
        epoch_plan(data.windows, self.cfg.chunk_len, self.cfg.batch, 0, 0).len()
    }

    /// Trains one epoch; `on_step` is called after each optimiser step.
    pub fn run_epoch(
        &mut self,
        data: &WindowData,
        on_step: &mut dyn FnMut(&Progress),
    ) -> Result<(), TrainError> {
        let epoch = self.epochs_done + 1;
        let plan = epoch_plan(
            data.windows,
            self.cfg.chunk_len,
            self.cfg.batch,
            self.cfg.seed,
            epoch,
        );
        // The posterior noise of an epoch comes from its own seeded RNG (not Burn's
        // process-global one, which other code in the process may draw from).
        let mut rng = StdRng::seed_from_u64(
            self.cfg.seed ^ 0x5eed_0000 ^ (epoch as u64).wrapping_mul(0xd1b5_4a32_d192_ed03),
        );
        for starts in plan {
            let p = self.step(data, &starts, epoch, &mut rng)?;
            on_step(&p);
        }
        self.epochs_done = epoch;
        Ok(())
    }

    /// One optimiser step on the chunks starting at `starts` (recorded in the history as
    /// part of `epoch`), with posterior noise from `rng`.
    pub fn step(
        &mut self,
        data: &WindowData,
        starts: &[usize],
        epoch: usize,
        rng: &mut StdRng,
    ) -> Result<Progress, TrainError> {
        let t0 = Instant::now();
        let step = self.history.len() + 1;
        let kl_weight = self.cfg.kl_weight.unwrap_or(1.0 / data.n_nodes as f32);
        let model = self.model.take().expect("model present between steps");
        let (total, bce, kl) = chunk_loss(
            &model,
            data,
            starts,
            self.cfg.chunk_len,
            kl_weight,
            rng,
            &self.device,
        );
        let v = Tensor::cat(vec![total.clone().detach(), bce.detach(), kl.detach()], 0)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let value = |i: usize| v.get(i).copied().unwrap_or(f32::NAN);
        let (loss, bce, kl) = (value(0), value(1), value(2));
        for (x, part) in [(loss, "the loss"), (bce, "the BCE"), (kl, "the KL")] {
            if !x.is_finite() {
                self.model = Some(model);
                return Err(TrainError::NonFinite {
                    epoch,
                    step,
                    part,
                    value: f64::from(x),
                });
            }
        }
        if step > 20 && loss > self.cfg.divergence_factor * self.best.max(1e-6) {
            self.model = Some(model);
            return Err(TrainError::Diverged {
                epoch,
                step,
                loss,
                best: self.best,
                factor: self.cfg.divergence_factor,
            });
        }
        self.best = self.best.min(loss);
        let mut grads = GradientsParams::from_grads(total.backward(), &model);
        let grad_norm = clip_global_norm(&model, &mut grads, self.cfg.clip_norm);
        if !grad_norm.is_finite() {
            self.model = Some(model);
            return Err(TrainError::NonFinite {
                epoch,
                step,
                part: "the gradient norm",
                value: grad_norm,
            });
        }
        self.model = Some(self.optim.step(self.cfg.lr, model, grads));
        self.train_seconds += t0.elapsed().as_secs_f64();
        let p = Progress {
            epoch,
            step,
            loss,
            bce,
            kl,
            grad_norm,
        };
        self.history.push(p.clone());
        Ok(p)
    }
}
