//! Every parameter of a trained TAVRNN as plain data, and a plain-Rust f32 forward of the
//! mean path (z = mu) for one window, for the device exporter and its tests.
//!
//! # Conventions
//! * Tensors are row-major `Vec<f32>` with their `shape`.
//! * A dense layer computes `y = x W + b` with `x` a row vector: `W` is stored
//!   **`[in, out]`** (Burn's `Linear` layout, the transpose of PyTorch's `[out, in]`), so
//!   `y[j] = b[j] + sum_i x[i] W[i * out + j]`.
//! * A graph convolution computes `Â X W + b` (the bias after the propagation, not scaled by
//!   the degree); `Â = D^-1/2 (A + I) D^-1/2` is the window's normalised adjacency over the
//!   neurons plus the history node (the last node), `crate::graph::adjacency::normalize`.
//! * Fused layers: the graph GRU's input layer is `[2 d_phi, 3H]` with columns `r | u | c`,
//!   its hidden layer of r and u is `[H, 2H]` with columns `r | u`, the candidate's hidden
//!   layer `[H, H]` reads `Â (r * h)`.
//! * Node features `X` are `[n, n]` (identity or |R| rows, [`crate::graph::FeatureKind`]).
//!
//! The step, per window (`h` is `[n, H]`, zero at the start of a recording):
//! ```text
//! phi_x = ReLU(X W_x + b_x)
//! E     = ReLU(Â [phi_x || h] W_e + b_e)
//! mu    = Â E W_mu + b_mu                              <- the node embeddings
//! phi_z = ReLU(mu W_z + b_z)
//! g_x   = Â [phi_x || phi_z] W_in + b_in               (r | u | c)
//! g_h   = Â h W_ru + b_ru                              (r | u)
//! r, u  = sigmoid(g_x[r] + g_h[r]), sigmoid(g_x[u] + g_h[u])
//! c     = tanh(g_x[c] + Â (r * h) W_c + b_c)
//! h~    = c + u * (h - c)
//! VGRNN: h = h~.   TAVRNN: push h~ into a ring of the last w GRU outputs (oldest first), then
//!   q = h~[hist] W_q,  k_tau = ring_tau[hist] W_k,  alpha = softmax(q . k_tau / sqrt(H))
//!   h = tanh((sum_tau alpha_tau ring_tau) W_v + b_v)
//! ```
//! The prior network is not on this path (it only shapes training) but its weights are
//! included so the file is complete.

use std::path::Path;

use anyhow::Result;
use burn::nn::Linear;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::graph::GraphConfig;
use crate::tavrnn::backend::Backend;
use crate::tavrnn::checkpoint::load_model;
use crate::tavrnn::gcn::Gcn;
use crate::tavrnn::model::{Tavrnn, TavrnnConfig};

/// A row-major f32 tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlainTensor {
    /// Dimensions, outermost first.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// A dense layer `y = x W + b`: `weight` `[in, out]`, `bias` `[out]` (absent for layers
/// without one).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    /// `[in, out]`.
    pub weight: PlainTensor,
    /// `[out]`.
    pub bias: Option<PlainTensor>,
}

/// The attention's weights (TAVRNN only).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AttentionWeights {
    /// Query `[H, H]`, no bias.
    pub query: Dense,
    /// Key `[H, H]`, no bias.
    pub key: Dense,
    /// Value `[H, H]` + bias.
    pub value: Dense,
    /// Window w.
    pub window: usize,
}

/// Every parameter of a checkpoint, with what is needed to use them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TavrnnWeights {
    /// Model sizes (`n_nodes`, `history_node`, `latent`, `hidden`, ...).
    pub config: TavrnnConfig,
    /// How the graphs were built (window, step, threshold, top-k, features).
    pub graph: GraphConfig,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Unit ids in node order.
    pub unit_ids: Vec<u32>,
    /// `phi_x`: `[d_features, d_phi]`.
    pub phi_x: Dense,
    /// `phi_z`: `[latent, d_phi]`.
    pub phi_z: Dense,
    /// Encoder GCN: `[d_phi + H, d_enc]`.
    pub encoder_hidden: Dense,
    /// Encoder mean head (GCN): `[d_enc, latent]`.
    pub encoder_mu: Dense,
    /// Encoder standard-deviation head (GCN, softplus): `[d_enc, latent]`.
    pub encoder_sigma: Dense,
    /// Prior hidden layer: `[H, d_enc]`.
    pub prior_hidden: Dense,
    /// Prior mean: `[d_enc, latent]`.
    pub prior_mu: Dense,
    /// Prior standard deviation (softplus): `[d_enc, latent]`.
    pub prior_sigma: Dense,
    /// Graph GRU input gates (GCN), `r | u | c`: `[2 d_phi, 3H]`.
    pub gru_input: Dense,
    /// Graph GRU hidden gates of r and u (GCN): `[H, 2H]`.
    pub gru_hidden_ru: Dense,
    /// Graph GRU hidden part of the candidate (GCN on `r * h`): `[H, H]`.
    pub gru_hidden_c: Dense,
    /// Temporal attention; `None` for VGRNN.
    pub attention: Option<AttentionWeights>,
}

/// Reads every parameter of checkpoint `ckpt` (see the module documentation for the layout).
pub fn weights(ckpt: &Path) -> Result<TavrnnWeights> {
    let (side, model) = load_model(ckpt, Backend::Flex)?;
    Ok(from_model(
        &model,
        &side.model,
        &side.graph,
        side.bin_s,
        &side.unit_ids,
    ))
}

fn plain<const D: usize>(t: Tensor<D>) -> PlainTensor {
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .try_to_vec::<f32>()
        .expect("model parameters are f32");
    PlainTensor { shape, data }
}

fn linear(l: &Linear) -> Dense {
    Dense {
        weight: plain(l.weight.val()),
        bias: l.bias.as_ref().map(|b| plain(b.val())),
    }
}

fn gcn(g: &Gcn) -> Dense {
    Dense {
        weight: plain(g.weight.weight.val()),
        bias: Some(plain(g.bias.val())),
    }
}

/// The weights of an in-memory model.
pub fn from_model(
    m: &Tavrnn,
    config: &TavrnnConfig,
    graph: &GraphConfig,
    bin_s: f64,
    unit_ids: &[u32],
) -> TavrnnWeights {
    TavrnnWeights {
        config: config.clone(),
        graph: graph.clone(),
        bin_s,
        unit_ids: unit_ids.to_vec(),
        phi_x: linear(&m.phi_x),
        phi_z: linear(&m.phi_z),
        encoder_hidden: gcn(&m.encoder.hidden),
        encoder_mu: gcn(&m.encoder.mu),
        encoder_sigma: gcn(&m.encoder.sigma),
        prior_hidden: linear(&m.prior.hidden),
        prior_mu: linear(&m.prior.mu),
        prior_sigma: linear(&m.prior.sigma),
        gru_input: gcn(&m.gru.input),
        gru_hidden_ru: gcn(&m.gru.hidden_ru),
        gru_hidden_c: gcn(&m.gru.hidden_c),
        attention: m.attention.as_ref().map(|a| AttentionWeights {
            query: linear(&a.query),
            key: linear(&a.key),
            value: linear(&a.value),
            window: a.window,
        }),
    }
}

/// The recurrent state of the plain forward: `h` `[n, H]` and the attention's ring of the
/// last `w` graph-GRU outputs (oldest first; empty for VGRNN).
#[derive(Clone, Debug, PartialEq)]
pub struct PlainState {
    /// `[n * H]`, row-major.
    pub h: Vec<f32>,
    /// Up to `w` states `[n * H]`, oldest first.
    pub ring: Vec<Vec<f32>>,
}

/// What one plain step produces.
#[derive(Clone, Debug, PartialEq)]
pub struct PlainStep {
    /// Posterior mean of every node, `[n * latent]` (node-major).
    pub mu: Vec<f32>,
    /// Attention weights over the ring, oldest first (empty for VGRNN).
    pub alpha: Vec<f32>,
}

/// `[rows, inner] x [inner, cols]`.
fn matmul(a: &[f32], rows: usize, inner: usize, b: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * cols];
    for i in 0..rows {
        let o = &mut out[i * cols..(i + 1) * cols];
        for (k, &av) in a[i * inner..(i + 1) * inner].iter().enumerate() {
            if av != 0.0 {
                for (ov, bv) in o.iter_mut().zip(&b[k * cols..(k + 1) * cols]) {
                    *ov += av * bv;
                }
            }
        }
    }
    out
}

impl Dense {
    fn dims(&self) -> (usize, usize) {
        (self.weight.shape[0], self.weight.shape[1])
    }

    /// `x W + b` for `rows` row vectors.
    fn apply(&self, x: &[f32], rows: usize) -> Vec<f32> {
        let (d_in, d_out) = self.dims();
        let mut y = matmul(x, rows, d_in, &self.weight.data, d_out);
        if let Some(b) = &self.bias {
            for row in y.chunks_exact_mut(d_out) {
                row.iter_mut().zip(&b.data).for_each(|(v, bv)| *v += bv);
            }
        }
        y
    }
}

fn relu(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = x.max(0.0));
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Concatenates the rows of `a` (`[n, da]`) and `b` (`[n, db]`).
fn concat(a: &[f32], da: usize, b: &[f32], db: usize, n: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n * (da + db));
    for i in 0..n {
        out.extend_from_slice(&a[i * da..(i + 1) * da]);
        out.extend_from_slice(&b[i * db..(i + 1) * db]);
    }
    out
}

impl TavrnnWeights {
    /// Every parameter with its name (`layer.weight` / `layer.bias`), in a fixed order.
    pub fn named(&self) -> Vec<(String, &PlainTensor)> {
        let mut layers: Vec<(&str, &Dense)> = vec![
            ("phi_x", &self.phi_x),
            ("phi_z", &self.phi_z),
            ("encoder_hidden", &self.encoder_hidden),
            ("encoder_mu", &self.encoder_mu),
            ("encoder_sigma", &self.encoder_sigma),
            ("prior_hidden", &self.prior_hidden),
            ("prior_mu", &self.prior_mu),
            ("prior_sigma", &self.prior_sigma),
            ("gru_input", &self.gru_input),
            ("gru_hidden_ru", &self.gru_hidden_ru),
            ("gru_hidden_c", &self.gru_hidden_c),
        ];
        if let Some(a) = &self.attention {
            layers.extend([
                ("attention_query", &a.query),
                ("attention_key", &a.key),
                ("attention_value", &a.value),
            ]);
        }
        let mut out = Vec::new();
        for (name, d) in layers {
            out.push((format!("{name}.weight"), &d.weight));
            if let Some(b) = &d.bias {
                out.push((format!("{name}.bias"), b));
            }
        }
        out
    }

    /// The state at the start of a recording.
    pub fn initial_state(&self) -> PlainState {
        PlainState {
            h: vec![0.0; self.config.n_nodes * self.config.hidden],
            ring: Vec::new(),
        }
    }

    /// One window of the mean path: `adj` is `Â` `[n, n]`, `x` the node features
    /// `[n, d_features]`; `state` is read and advanced.
    pub fn step(&self, adj: &[f32], x: &[f32], state: &mut PlainState) -> PlainStep {
        let c = &self.config;
        let (n, hd) = (c.n_nodes, c.hidden);
        let prop = |m: &[f32], cols: usize| matmul(adj, n, n, m, cols);
        let gcn = |layer: &Dense, input: &[f32]| {
            let d_in = layer.dims().0;
            layer.apply(&prop(input, d_in), n)
        };
        let mut phi_x = self.phi_x.apply(x, n);
        relu(&mut phi_x);
        let d_phi = self.phi_x.dims().1;
        let mut e = gcn(
            &self.encoder_hidden,
            &concat(&phi_x, d_phi, &state.h, hd, n),
        );
        relu(&mut e);
        let mu = gcn(&self.encoder_mu, &e);
        let mut phi_z = self.phi_z.apply(&mu, n);
        relu(&mut phi_z);
        let gx = gcn(&self.gru_input, &concat(&phi_x, d_phi, &phi_z, d_phi, n));
        let gh = gcn(&self.gru_hidden_ru, &state.h);
        let mut r = vec![0f32; n * hd];
        let mut u = vec![0f32; n * hd];
        for i in 0..n {
            for j in 0..hd {
                r[i * hd + j] = sigmoid(gx[i * 3 * hd + j] + gh[i * 2 * hd + j]);
                u[i * hd + j] = sigmoid(gx[i * 3 * hd + hd + j] + gh[i * 2 * hd + hd + j]);
            }
        }
        let rh: Vec<f32> = r.iter().zip(&state.h).map(|(a, b)| a * b).collect();
        let hc = gcn(&self.gru_hidden_c, &rh);
        let mut h_new = vec![0f32; n * hd];
        for i in 0..n {
            for j in 0..hd {
                let cand = (gx[i * 3 * hd + 2 * hd + j] + hc[i * hd + j]).tanh();
                h_new[i * hd + j] = cand + u[i * hd + j] * (state.h[i * hd + j] - cand);
            }
        }
        let mut alpha = Vec::new();
        match &self.attention {
            None => state.h = h_new,
            Some(att) => {
                state.ring.push(h_new);
                if state.ring.len() > att.window {
                    state.ring.remove(0);
                }
                let hist = c.history_node;
                let at_hist = |s: &Vec<f32>| s[hist * hd..(hist + 1) * hd].to_vec();
                let newest = state.ring.last().map(at_hist).unwrap_or_default();
                let q = att.query.apply(&newest, 1);
                let scores: Vec<f32> = state
                    .ring
                    .iter()
                    .map(|s| {
                        let k = att.key.apply(&at_hist(s), 1);
                        q.iter().zip(&k).map(|(a, b)| a * b).sum::<f32>() / (hd as f32).sqrt()
                    })
                    .collect();
                let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let ex: Vec<f32> = scores.iter().map(|s| (s - max).exp()).collect();
                let sum: f32 = ex.iter().sum();
                alpha = ex.iter().map(|e| e / sum).collect();
                let mut mixed = vec![0f32; n * hd];
                for (a, s) in alpha.iter().zip(&state.ring) {
                    mixed.iter_mut().zip(s).for_each(|(m, v)| *m += a * v);
                }
                let mut h = att.value.apply(&mixed, n);
                h.iter_mut().for_each(|v| *v = v.tanh());
                state.h = h;
            }
        }
        PlainStep { mu, alpha }
    }
}
