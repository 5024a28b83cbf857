//! Window embeddings: the model run over the whole sequence as one chain (state carried from
//! window to window, starting from zero), with z_t = mu, the posterior MEAN (never a sample).
//!
//! The window embedding is **node-ordered**: the mu of every neuron node, concatenated in
//! neuron order (`(n - 1) * d_z` values, the history node left out). Neurons keep their
//! identity across the windows of a recording, so the classifier may learn which neurons'
//! embeddings move together. DESIGN.md's readout, the mean of node mu, is kept as
//! [`Embeddings::mean`]: it is permutation-invariant, so it cannot tell which neurons couple
//! when assemblies have equal sizes and rates (`simulate connectivity` is built that way), and
//! it scored 0.35-0.67 there against 1.0 for the node-ordered readout (wip notes, README).

use crate::tavrnn::input::WindowData;
use crate::tavrnn::model::{State, Tavrnn};

/// Everything read out of one pass over the sequence.
#[derive(Clone, Debug, Default)]
pub struct Embeddings {
    /// `[windows][(n - 1) * d_z]`: mu of every neuron node, in neuron order: THE window
    /// embedding.
    pub nodes: Vec<Vec<f32>>,
    /// `[windows][d_z]`: mean over neuron nodes of mu (DESIGN.md's readout).
    pub mean: Vec<Vec<f32>>,
    /// `[windows][d_z]`: mu of the history node.
    pub history: Vec<Vec<f32>>,
    /// `[windows][len]`: attention weights (oldest first; `len` grows to the window w over
    /// the first windows), empty for VGRNN.
    pub attention: Vec<Vec<f32>>,
    /// Latent size d_z.
    pub latent: usize,
}

impl Embeddings {
    /// Fails naming the first window whose embedding is not finite (a recurrent state that
    /// blew up over the long chain even though the training loss was finite).
    pub fn check_finite(&self) -> Result<(), String> {
        match self
            .nodes
            .iter()
            .position(|r| r.iter().any(|v| !v.is_finite()))
        {
            Some(w) => Err(format!(
                "window {w}: the embedding is not finite (the recurrent state diverged over \
                 the one-chain pass; lower the learning rate or the attention window)"
            )),
            None => Ok(()),
        }
    }
}

/// Runs `model` (on a plain, non-autodiff device) over every window of `data`.
pub fn embed(model: &Tavrnn, data: &WindowData) -> Embeddings {
    let device = model.phi_x.weight.val().device();
    let n = data.n_nodes;
    let d = model.latent();
    let hist = data.history_node;
    let mut state = State::zeros(1, n, model.hidden, &device);
    let mut out = Embeddings {
        latent: d,
        ..Embeddings::default()
    };
    for w in 0..data.windows {
        let input = data.step(&[w], &device);
        let o = model.step(&input, &mut state, None);
        let mu: Vec<f32> = o
            .posterior
            .mu
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        let neurons = || (0..n).filter(|&i| i != hist);
        let mut mean = vec![0f32; d];
        for i in neurons() {
            for (m, v) in mean.iter_mut().zip(&mu[i * d..(i + 1) * d]) {
                *m += v / (n - 1) as f32;
            }
        }
        out.mean.push(mean);
        out.history.push(mu[hist * d..(hist + 1) * d].to_vec());
        out.nodes.push(
            neurons()
                .flat_map(|i| mu[i * d..(i + 1) * d].to_vec())
                .collect(),
        );
        if let Some(a) = o.alpha {
            out.attention
                .push(a.into_data().try_to_vec::<f32>().unwrap_or_default());
        }
    }
    out
}
