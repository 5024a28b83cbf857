//! Training options of a JSLDS, saved with every checkpoint (so that a resumed or analysed
//! model is rebuilt with exactly the options it was trained with).

use serde::{Deserialize, Serialize};

use super::loss::LossWeights;

/// CPU backend to train on (both are built; `flex` is faster here and the default).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// Burn's `flex` backend.
    Flex,
    /// Burn's `ndarray` backend (the design card's `burn-ndarray`).
    Ndarray,
}

impl Backend {
    /// The plain (inference) device.
    #[allow(deprecated)] // burn-ndarray is deprecated upstream; kept selectable (design card)
    pub fn device(self) -> burn::tensor::Device {
        match self {
            Backend::Flex => burn::tensor::Device::flex(),
            Backend::Ndarray => burn::tensor::Device::ndarray(),
        }
    }
}

/// The input anchor u* of the expansion.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The mean input (0 after standardising), fixed.
    Mean,
    /// The input of a bin without spikes, fixed: the resting input of a pulse-driven system.
    Silent,
    /// Learned, starting at the mean.
    Learned,
}

/// How the switching linear path picks its regime.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum SelectionKind {
    /// The nearest expansion point to `a_{t-1}`.
    Nearest,
    /// `argmax(W_g a_{t-1} + b_g)`, a gate distilled from the nearest-point rule.
    Gate,
}

/// Everything that defines a training run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Latent size d.
    pub latent: usize,
    /// Number of expansion points K.
    pub regimes: usize,
    /// Regime selection of the linear path.
    pub selection: SelectionKind,
    /// Step after which the gate (if any) takes over the selection.
    pub gate_after: usize,
    /// Input anchor u*.
    pub anchor: Anchor,
    /// Column indices of the input neurons (`None`: every neuron). Every neuron is predicted.
    pub inputs: Option<Vec<usize>>,
    /// Bins per chunk of truncated backpropagation through time.
    pub chunk_len: usize,
    /// Parallel streams (batch rows); each owns a contiguous stretch of the training bins
    /// and carries its states from chunk to chunk.
    pub batch: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Adam learning rate.
    pub lr: f64,
    /// Per-parameter gradient-norm clip (Burn clips each parameter tensor separately).
    pub clip_norm: f32,
    /// Loss weights.
    pub weights: LossWeights,
    /// Fraction of bins (the last ones) held out.
    pub heldout_frac: f64,
    /// Pieces the held-out bins are cut into for the full rollout (each from zero state).
    pub eval_segments: usize,
    /// Fraction of bins, just before the held-out ones, kept apart as a validation split
    /// (0 = none, the default; older checkpoints: none). With it, every evaluation also rolls
    /// the model out freely over these bins, and the model with the lowest validation relative
    /// error after the warm-up is kept as the checkpoint's selected model (what `analyze` and
    /// `export` read); the held-out bins take no part in the choice. The free rollout's error
    /// moves by a factor of two between evaluations late in training (measured on
    /// `flipflop`), more than any setting changes it.
    #[serde(default)]
    pub validation_frac: f64,
    /// Held-out evaluation (and checkpoint) every this many steps.
    pub eval_every: usize,
    /// Until `reseed_until`, every `reseed_every` steps, expansion points that no bin of the
    /// batch selected move onto random GRU states of the batch.
    pub reseed_every: usize,
    /// Last step of dead-point reseeding.
    pub reseed_until: usize,
    /// At every reseeding step, also give each of the GRU's attractors a pinned expansion
    /// point: the nearest one snaps onto it, or a redundant one moves there
    /// ([`super::attractors::cover`]). Off by default; older checkpoints: off.
    #[serde(default)]
    pub cover_attractors: bool,
    /// Probability that a stream restarts both paths from the zero state at a chunk, beside its
    /// own restart at the start of its stretch (0 = never, the default; older checkpoints: 0).
    /// The held-out and validation rollouts start each piece from zero, a state the carried
    /// streams otherwise see once an epoch; the restarts put those starts into training. Drawn
    /// from the seed, the step and the stream ([`super::train::random_restart`]), so a
    /// resumed run draws the same.
    #[serde(default)]
    pub reset_prob: f64,
    /// Stop as diverged when the loss exceeds this multiple of the best loss so far.
    pub divergence_factor: f32,
    /// Warm-up of the linear path: the weights of its NLL (`l_lin`), of the approximation
    /// terms (`l_a`, `l_a1`) and of the contraction and regime-match terms (`l_c`, `l_s`)
    /// rise linearly from 0 to their values over this many steps, and until then each chunk
    /// restarts the linear path at the GRU's state. A memory (bistable GRU) forms before the
    /// pull towards a linearisable GRU sets in; 0 = off. Older checkpoints: 0.
    #[serde(default)]
    pub warmup: usize,
    /// Learning rate at the last step as a fraction of `lr`: the rate follows a half cosine
    /// from `lr` down to `lr * lr_final` over `steps` (1 = constant, the default; older
    /// checkpoints: 1). A late low rate lets the noisy Poisson gradients settle.
    #[serde(default = "one")]
    pub lr_final: f64,
    /// Seed of the initial weights and of reseeding.
    pub seed: u64,
    /// Backend.
    pub backend: Backend,
}

fn one() -> f64 {
    1.0
}

impl TrainConfig {
    /// Learning rate of step `step` (1-based), see [`Self::lr_final`].
    pub fn lr_at(&self, step: usize) -> f64 {
        let x = (step.saturating_sub(1) as f64 / self.steps.max(1) as f64).min(1.0);
        let c = 0.5 * (1.0 + (std::f64::consts::PI * x).cos());
        self.lr * (self.lr_final + (1.0 - self.lr_final) * c)
    }

    /// Fraction of `l_lin` and `l_a` in force at `step` (1-based), see [`Self::warmup`].
    pub fn warmup_factor(&self, step: usize) -> f32 {
        if self.warmup == 0 {
            1.0
        } else {
            (step as f32 / self.warmup as f32).min(1.0)
        }
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            bin_s: 0.01,
            latent: 16,
            regimes: 8,
            selection: SelectionKind::Nearest,
            gate_after: 500,
            anchor: Anchor::Mean,
            inputs: None,
            chunk_len: 64,
            batch: 16,
            steps: 3000,
            lr: 3e-3,
            clip_norm: 5.0,
            weights: LossWeights::default(),
            heldout_frac: 0.2,
            eval_segments: 4,
            validation_frac: 0.0,
            eval_every: 250,
            reseed_every: 50,
            reseed_until: 1000,
            cover_attractors: false,
            reset_prob: 0.0,
            divergence_factor: 1e3,
            warmup: 0,
            lr_final: 1.0,
            seed: 0,
            backend: Backend::Flex,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_ramps_and_the_rate_decays_by_half_cosine() {
        let mut c = TrainConfig {
            steps: 100,
            lr: 1e-2,
            ..TrainConfig::default()
        };
        assert_eq!(c.warmup_factor(1), 1.0);
        assert_eq!(c.lr_at(1), 1e-2);
        assert_eq!(c.lr_at(100), 1e-2);
        c.warmup = 10;
        assert!((c.warmup_factor(5) - 0.5).abs() < 1e-7);
        assert_eq!(c.warmup_factor(10), 1.0);
        assert_eq!(c.warmup_factor(50), 1.0);
        c.lr_final = 0.1;
        assert!((c.lr_at(1) - 1e-2).abs() < 1e-12);
        assert!((c.lr_at(51) - 0.55e-2).abs() < 1e-12);
        assert!(c.lr_at(101) <= 1e-3 + 1e-12 && c.lr_at(101) >= 1e-3 - 1e-12);
        assert!(c.lr_at(30) > c.lr_at(70));
    }
}
