//! The model's input, prepared once from a `crate::graph::GraphSequence`: per window
//! the normalised adjacency, the reconstruction target `A + I` with its BCE weights, and the
//! node features; batched into [`StepInput`]s on demand.

use crate::graph::{FeatureKind, GraphSequence};
use burn::tensor::{Device, Tensor, TensorData};

use crate::tavrnn::loss::edge_weights;
use crate::tavrnn::model::StepInput;

/// Per-window model inputs of a whole recording (host memory; tensors made per step).
pub struct WindowData {
    /// Graph nodes: neurons + the history node.
    pub n_nodes: usize,
    /// Index of the history node (the last).
    pub history_node: usize,
    /// Width of a node's feature vector.
    pub d_features: usize,
    /// Number of windows.
    pub windows: usize,
    normalized: Vec<Vec<f32>>,
    target: Vec<Vec<f32>>,
    /// Per window for |R| features; one shared matrix (`identity`) otherwise.
    features: Vec<Vec<f32>>,
    identity: Option<Vec<f32>>,
    /// BCE weight of the ones of each window's target.
    pub pos_weight: Vec<f32>,
    /// BCE normaliser of each window.
    pub norm: Vec<f32>,
}

impl WindowData {
    /// Fails when the sequence has no history node (the attention reads it) or no window.
    pub fn from_sequence(seq: &GraphSequence) -> Result<Self, String> {
        let hist = seq.history_node().ok_or(
            "graph config: history_node is false; TAVRNN's attention reads the history node",
        )?;
        if seq.is_empty() {
            return Err("graph sequence has no window".into());
        }
        let n = seq.n_nodes();
        let mut normalized = Vec::with_capacity(seq.len());
        let mut target = Vec::with_capacity(seq.len());
        let mut features = Vec::new();
        let (mut pos_weight, mut norm) = (Vec::new(), Vec::new());
        for (w, win) in seq.windows.iter().enumerate() {
            if win.normalized.len() != n * n || win.adjacency.len() != n * n {
                return Err(format!("window {w}: adjacency is not {n} x {n}"));
            }
            let mut t = win.adjacency.clone();
            for i in 0..n {
                t[i * n + i] = 1.0;
            }
            let (pw, nm) = edge_weights(&t, n);
            pos_weight.push(pw);
            norm.push(nm);
            target.push(t);
            normalized.push(win.normalized.clone());
            if seq.config.features == FeatureKind::AbsCorrelation {
                features.push(seq.features(w).into_owned());
            }
        }
        let identity =
            (seq.config.features == FeatureKind::Identity).then(|| seq.features(0).into_owned());
        Ok(Self {
            n_nodes: n,
            history_node: hist,
            d_features: seq.feature_dim(),
            windows: seq.len(),
            normalized,
            target,
            features,
            identity,
            pos_weight,
            norm,
        })
    }

    /// The inputs of windows `idx` (one per batch row) as one batched step.
    pub fn step(&self, idx: &[usize], device: &Device) -> StepInput {
        let (b, n, f) = (idx.len(), self.n_nodes, self.d_features);
        let gather = |src: &Vec<Vec<f32>>| {
            let mut v = Vec::with_capacity(b * n * n);
            for &i in idx {
                v.extend_from_slice(&src[i]);
            }
            v
        };
        let t3 =
            |v: Vec<f32>, d: usize| Tensor::<3>::from_data(TensorData::new(v, [b, n, d]), device);
        let features = match &self.identity {
            Some(id) => t3(id.repeat(b), f),
            None => t3(gather(&self.features), f),
        };
        let t1 = |src: &Vec<f32>| {
            let v: Vec<f32> = idx.iter().map(|&i| src[i]).collect();
            Tensor::<1>::from_data(TensorData::new(v, [b]), device)
        };
        StepInput {
            adj: t3(gather(&self.normalized), n),
            target: t3(gather(&self.target), n),
            features,
            pos_weight: t1(&self.pos_weight),
            norm: t1(&self.norm),
        }
    }
}
