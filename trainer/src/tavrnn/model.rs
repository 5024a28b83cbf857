//! TAVRNN (DESIGN.md § TAVRNN): a variational graph RNN with temporal attention. With
//! `attention: false` the same model is VGRNN (the ablation), nothing else changes.
//!
//! Per window t (normalised adjacency Â_t, features X_t, state h_{t-1}):
//! ```text
//! phi_x = ReLU(X_t W_x)
//! q(z_t) = Encoder(Â_t, phi_x, h_{t-1})          p(z_t) = Prior(h_{t-1})
//! z_t = mu + sigma * eps (training)  |  z_t = mu (embeddings)
//! h~_t = GraphGRU(Â_t, [phi_x || ReLU(z_t W_z)], h_{t-1})
//! h_t = Attention(h~_{t-w+1..t})  (TAVRNN)   |   h_t = h~_t  (VGRNN)
//! decoder: logits_ij = z_i . z_j
//! ```
//! Every tensor carries a batch dimension B (independent chunks of the window sequence
//! trained side by side); the time loop is over windows.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::tavrnn::attention::TemporalAttention;
use crate::tavrnn::encoder::{Encoder, Gaussian};
use crate::tavrnn::graph_gru::GraphGru;
use crate::tavrnn::prior::Prior;

/// Sizes and switches of the model (saved in the checkpoint's JSON sidecar).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TavrnnConfig {
    /// Graph nodes (neurons + history node).
    pub n_nodes: usize,
    /// Index of the history node (the attention's query node).
    pub history_node: usize,
    /// Width of a node's feature vector.
    pub d_features: usize,
    /// Width of phi_x and of phi_z.
    pub d_phi: usize,
    /// Hidden state H per node.
    pub hidden: usize,
    /// Encoder hidden width.
    pub d_enc: usize,
    /// Latent size d_z (the embedding size).
    pub latent: usize,
    /// Temporal attention on (TAVRNN) or off (VGRNN).
    pub attention: bool,
    /// Attention window w.
    pub window: usize,
}

/// The model. Every field that holds weights is a module, so every weight is trained.
#[derive(Module, Debug)]
pub struct Tavrnn {
    /// Feature embedding `phi_x = ReLU(X W_x + b)`, `[d_features, d_phi]`.
    pub phi_x: Linear,
    /// Latent embedding `phi_z = ReLU(z W_z + b)`, `[latent, d_phi]`.
    pub phi_z: Linear,
    /// Posterior network q(z_t | A_t, X_t, h_{t-1}).
    pub encoder: Encoder,
    /// Prior network p(z_t | h_{t-1}).
    pub prior: Prior,
    /// Graph GRU (GCN gates).
    pub gru: GraphGru,
    /// Temporal attention (TAVRNN) or none (VGRNN).
    pub attention: Option<TemporalAttention>,
    /// Hidden state width H.
    pub hidden: usize,
    /// Index of the history node.
    pub history_node: usize,
}

/// The untracked inputs of one step, batched: `[B, n, n]`, `[B, n, n]`, `[B, n, F]`, `[B]`, `[B]`.
#[derive(Clone, Debug)]
pub struct StepInput {
    /// Normalised adjacency `Â`.
    pub adj: Tensor<3>,
    /// Reconstruction target `A + I`.
    pub target: Tensor<3>,
    /// Node features `X`.
    pub features: Tensor<3>,
    /// BCE weight of the ones of the target, per window.
    pub pos_weight: Tensor<1>,
    /// BCE normaliser, per window.
    pub norm: Tensor<1>,
}

/// What one step produces.
pub struct StepOutput {
    /// q(z_t), `[B, n, d_z]`.
    pub posterior: Gaussian,
    /// p(z_t | h_{t-1}), `[B, n, d_z]`.
    pub prior: Gaussian,
    /// The latent used (sample or mean), `[B, n, d_z]`.
    pub z: Tensor<3>,
    /// The new recurrent state `[B, n, H]`.
    pub h: Tensor<3>,
    /// Attention weights `[B, len]` (oldest first), TAVRNN only.
    pub alpha: Option<Tensor<2>>,
}

/// The recurrent state carried between windows: the state and the last `w` GRU outputs.
#[derive(Clone, Debug)]
pub struct State {
    /// The recurrent state read by the next window, `[B, n, H]`.
    pub h: Tensor<3>,
    /// The last `w` graph-GRU outputs (oldest first), the attention's memory (TAVRNN only).
    pub recent: Vec<Tensor<3>>,
}

impl State {
    /// The state at the start of a sequence: zero, no history.
    pub fn zeros(batch: usize, n: usize, hidden: usize, device: &Device) -> Self {
        Self {
            h: Tensor::zeros([batch, n, hidden], device),
            recent: Vec::new(),
        }
    }
}

impl TavrnnConfig {
    /// A freshly initialised model on `device` (weights drawn from the device's RNG).
    pub fn init(&self, device: &Device) -> Tavrnn {
        Tavrnn {
            phi_x: LinearConfig::new(self.d_features, self.d_phi).init(device),
            phi_z: LinearConfig::new(self.latent, self.d_phi).init(device),
            encoder: Encoder::new(self.d_phi, self.hidden, self.d_enc, self.latent, device),
            prior: Prior::new(self.hidden, self.d_enc, self.latent, device),
            gru: GraphGru::new(2 * self.d_phi, self.hidden, device),
            attention: self
                .attention
                .then(|| TemporalAttention::new(self.hidden, self.window, device)),
            hidden: self.hidden,
            history_node: self.history_node,
        }
    }
}

impl Tavrnn {
    /// Latent size d_z.
    pub fn latent(&self) -> usize {
        self.phi_z.weight.dims()[0]
    }

    /// One window. With `eps` (standard normal noise `[B, n, d_z]`, drawn by the caller from
    /// its own seeded RNG, not Burn's process-global one) z is the sample `mu + sigma * eps`
    /// (training); without, z is the posterior mean (embeddings, inference, device).
    pub fn step(&self, input: &StepInput, state: &mut State, eps: Option<Tensor<3>>) -> StepOutput {
        let phi_x = relu(self.phi_x.forward(input.features.clone()));
        let h_prev = state.h.clone();
        let posterior = self
            .encoder
            .forward(input.adj.clone(), phi_x.clone(), h_prev.clone());
        let prior = self.prior.forward(h_prev.clone());
        let z = match eps {
            Some(eps) => posterior.mu.clone() + posterior.sigma.clone() * eps,
            None => posterior.mu.clone(),
        };
        let phi_z = relu(self.phi_z.forward(z.clone()));
        let h_gru = self.gru.step(
            input.adj.clone(),
            Tensor::cat(vec![phi_x, phi_z], 2),
            h_prev,
        );
        let (h, alpha) = match &self.attention {
            Some(att) => {
                state.recent.push(h_gru);
                if state.recent.len() > att.window {
                    state.recent.remove(0);
                }
                let (h, alpha) = att.forward(&state.recent, self.history_node);
                (h, Some(alpha))
            }
            None => (h_gru, None),
        };
        state.h = h.clone();
        StepOutput {
            posterior,
            prior,
            z,
            h,
            alpha,
        }
    }
}
