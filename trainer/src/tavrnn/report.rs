//! The evaluation report of `neuroloop tavrnn eval`: TAVRNN's window embeddings and every
//! baseline scored on the same windows and the same folds ([`crate::tavrnn::eval`]).
//!
//! Stable keys: `windows`, `classes`, `chance`, `tavrnn` and `baselines` (`vgrnn`,
//! `correlation`, `pca`), each method holding `accuracy`, `macro_f1`, `ari`, `nmi`,
//! `silhouette`. The rest is documented in the README (§ TAVRNN).

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

use crate::data::labels::Labels;
use crate::tavrnn::baselines::{correlation_features, pca, window_rates};
use crate::tavrnn::embed::{embed, Embeddings};
use crate::tavrnn::eval::{purge_gap, score_features, segment_folds, MethodScores};
use crate::tavrnn::model::Tavrnn;
use crate::tavrnn::session::Session;
use crate::tavrnn::train::Progress;

/// Number of behaviour windows of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassCount {
    /// Class name.
    pub class: String,
    /// Scored windows of this class.
    pub windows: usize,
}

/// How the windows and graphs were made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Bin width, ms.
    pub bin_ms: f64,
    /// Window length, s.
    pub window_s: f64,
    /// Step between windows, s.
    pub step_s: f64,
    /// Window length in bins.
    pub window_bins: usize,
    /// Step in bins.
    pub step_bins: usize,
    /// Edge threshold on |R|.
    pub threshold: f64,
    /// Top-k per node, if used.
    pub top_k: Option<usize>,
    /// Node features.
    pub features: String,
    /// Neurons (graph nodes without the history node).
    pub neurons: usize,
    /// Mean neuron-neuron edges per window.
    pub mean_edges: f64,
}

/// How the folds were made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldInfo {
    /// Number of outer folds.
    pub k: usize,
    /// Training windows within this many windows of a test window are dropped.
    pub purge_gap_windows: usize,
    /// The scheme in words.
    pub method: String,
}

/// The three baselines (stable keys).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baselines {
    /// The model without attention, node-ordered mu readout.
    pub vgrnn: MethodScores,
    /// Upper triangle of the window's Pearson correlation matrix.
    pub correlation: MethodScores,
    /// PCA of the window's mean binned rates.
    pub pca: MethodScores,
}

/// Where a model came from and what its training cost.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Checkpoint path, or how it was made.
    pub source: String,
    /// Epochs trained.
    pub epochs: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Seconds in optimiser steps.
    pub train_seconds: f64,
    /// Loss of the last step.
    pub final_loss: Option<f32>,
}

/// The report.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Windows scored: those inside the time of a single label.
    pub windows: usize,
    /// All windows of the recording (the model runs over every one).
    pub windows_total: usize,
    /// Class names, in the order of first appearance in the labels file.
    pub classes: Vec<String>,
    /// Scored windows per class.
    pub class_balance: Vec<ClassCount>,
    /// Chance level: the fraction of the largest class among the scored windows (the
    /// accuracy of always answering it).
    pub chance: f64,
    /// Window and graph settings.
    pub settings: Settings,
    /// Cross-validation scheme.
    pub folds: FoldInfo,
    /// What a TAVRNN / VGRNN window embedding is.
    pub readout: String,
    /// TAVRNN, node-ordered posterior-mean readout.
    pub tavrnn: MethodScores,
    /// TAVRNN, mean of node mu (DESIGN.md's readout), for comparison.
    pub tavrnn_mean_pool: MethodScores,
    /// Baselines.
    pub baselines: Baselines,
    /// VGRNN, mean of node mu.
    pub vgrnn_mean_pool: MethodScores,
    /// PCA components of the rate baseline.
    pub pca_components: usize,
    /// Mean attention weight per lag over the windows with a full window (oldest first).
    pub attention_mean_weights: Vec<f64>,
    /// The TAVRNN model.
    pub tavrnn_model: ModelInfo,
    /// The VGRNN model.
    pub vgrnn_model: ModelInfo,
}

/// A model with its provenance.
pub struct ModelRun {
    /// The model, on a plain device.
    pub model: Tavrnn,
    /// Its training history.
    pub history: Vec<Progress>,
    /// Provenance and cost.
    pub info: ModelInfo,
}

/// Evaluation settings.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// Outer folds.
    pub folds: usize,
    /// PCA components of the rate baseline.
    pub pca_components: usize,
    /// Seed of k-means.
    pub seed: u64,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            folds: 5,
            pca_components: 16,
            seed: 0,
        }
    }
}

/// What the figures need besides the report.
pub struct EvalOutput {
    /// The report.
    pub report: Report,
    /// TAVRNN's read-out.
    pub tavrnn: Embeddings,
    /// VGRNN's read-out.
    pub vgrnn: Embeddings,
    /// Class of each window (None = not scored).
    pub labels: Vec<Option<usize>>,
}

fn to64(v: &[Vec<f32>]) -> Vec<Vec<f64>> {
    v.iter()
        .map(|r| r.iter().map(|&x| f64::from(x)).collect())
        .collect()
}

/// Scores TAVRNN, VGRNN and the rate and correlation baselines on `session` against `labels`.
pub fn evaluate(
    session: &Session,
    labels: &Labels,
    tavrnn: &ModelRun,
    vgrnn: &ModelRun,
    opts: &EvalOptions,
) -> Result<EvalOutput> {
    let seq = &session.seq;
    let wl = seq.labels(labels);
    let classes = labels.classes.clone();
    let mut balance = vec![0usize; classes.len()];
    wl.iter().flatten().for_each(|&c| balance[c] += 1);
    let scored: usize = balance.iter().sum();
    let present = balance.iter().filter(|&&b| b > 0).count();
    if present < 2 {
        bail!(
            "labels: only {present} class(es) cover a whole window ({scored} of {} windows of \
             {} s lie inside a single label); use shorter windows (--window-s) or other labels",
            seq.len(),
            seq.config.window_s
        );
    }
    let chance = balance.iter().copied().max().unwrap_or(0) as f64 / scored as f64;
    let gap = purge_gap(seq.windowing.window_bins, seq.windowing.step_bins);
    let folds = segment_folds(&wl, opts.folds, gap);
    let score = |x: &[Vec<f64>]| score_features(x, &wl, &classes, &folds, gap, opts.seed);

    let t_emb = embed(&tavrnn.model, &session.data);
    t_emb
        .check_finite()
        .map_err(|e| anyhow::anyhow!("TAVRNN: {e}"))?;
    let v_emb = embed(&vgrnn.model, &session.data);
    v_emb
        .check_finite()
        .map_err(|e| anyhow::anyhow!("VGRNN: {e}"))?;
    let q = opts.pca_components.min(seq.n_units());
    let rates = pca(&window_rates(seq, &session.counts), q);
    let baselines = Baselines {
        vgrnn: score(&to64(&v_emb.nodes)),
        correlation: score(&correlation_features(seq)),
        pca: score(&rates),
    };
    let attention_mean_weights = mean_attention(&t_emb.attention);
    let c = &seq.config;
    let report = Report {
        windows: scored,
        windows_total: seq.len(),
        classes: classes.clone(),
        class_balance: classes
            .iter()
            .zip(&balance)
            .map(|(c, &w)| ClassCount {
                class: c.clone(),
                windows: w,
            })
            .collect(),
        chance,
        settings: Settings {
            bin_ms: seq.bin_s * 1000.0,
            window_s: c.window_s,
            step_s: c.step_s,
            window_bins: seq.windowing.window_bins,
            step_bins: seq.windowing.step_bins,
            threshold: c.theta,
            top_k: c.top_k.map(|t| t.k),
            features: format!("{:?}", c.features),
            neurons: seq.n_units(),
            mean_edges: session.mean_edges(),
        },
        folds: FoldInfo {
            k: opts.folds,
            purge_gap_windows: gap,
            method:
                "segments (runs of consecutive windows with one label, cut into blocks of at most \
                     ceil(labelled / 4k) windows) dealt to folds per \
                     class in time order; training windows within the purge gap of a test \
                     window dropped; ridge on one-hot targets, lambda by inner 3-fold CV"
                    .into(),
        },
        readout: "node-ordered posterior mean: mu of every neuron node concatenated in neuron \
                  order (neurons x latent values)"
            .into(),
        tavrnn: score(&to64(&t_emb.nodes)),
        tavrnn_mean_pool: score(&to64(&t_emb.mean)),
        baselines,
        vgrnn_mean_pool: score(&to64(&v_emb.mean)),
        pca_components: q,
        attention_mean_weights,
        tavrnn_model: tavrnn.info.clone(),
        vgrnn_model: vgrnn.info.clone(),
    };
    Ok(EvalOutput {
        report,
        tavrnn: t_emb,
        vgrnn: v_emb,
        labels: wl,
    })
}

/// Mean weight per lag over the windows whose attention saw a full window.
pub fn mean_attention(att: &[Vec<f32>]) -> Vec<f64> {
    let w = att.iter().map(Vec::len).max().unwrap_or(0);
    let full: Vec<&Vec<f32>> = att.iter().filter(|a| a.len() == w).collect();
    let mut mean = vec![0f64; w];
    for a in &full {
        for (m, v) in mean.iter_mut().zip(a.iter()) {
            *m += f64::from(*v) / full.len() as f64;
        }
    }
    mean
}
