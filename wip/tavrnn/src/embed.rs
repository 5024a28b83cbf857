//! Window embeddings: the model run over the whole sequence (one chain, state carried from
//! window to window, starting from zero), z_t = mu (the posterior MEAN, never a sample); the
//! window embedding is the mean of mu over the neuron nodes (the history node excluded; its
//! mu is returned separately).

use crate::input::WindowData;
use crate::model::{State, Tavrnn};

pub struct Embeddings {
    /// `[windows][d_z]`: mean over neuron nodes of mu.
    pub window: Vec<Vec<f32>>,
    /// `[windows][d_z]`: mu of the history node.
    pub history: Vec<Vec<f32>>,
    /// `[windows][(n - 1) * d_z]`: mu of every neuron node, node order (node identity kept).
    pub nodes: Vec<Vec<f32>>,
    /// `[windows][len]`: attention weights (oldest first), empty for VGRNN.
    pub attention: Vec<Vec<f32>>,
}

impl Embeddings {
    /// Fails naming the first window whose embedding is not finite (a state that blew up).
    pub fn check_finite(&self) -> Result<(), String> {
        match self
            .window
            .iter()
            .position(|r| r.iter().any(|v| !v.is_finite()))
        {
            Some(w) => Err(format!(
                "window {w}: the embedding is not finite (the recurrent state diverged)"
            )),
            None => Ok(()),
        }
    }
}

/// `model` must live on a plain (non-autodiff) device.
pub fn embed(model: &Tavrnn, data: &WindowData) -> Embeddings {
    let device = model.phi_x.weight.val().device();
    let n = data.n_nodes;
    let d = model.latent();
    let hist = data.history_node;
    let mut state = State::zeros(1, n, model.hidden, &device);
    let mut out = Embeddings {
        window: Vec::new(),
        history: Vec::new(),
        nodes: Vec::new(),
        attention: Vec::new(),
    };
    for w in 0..data.windows {
        let input = data.step(&[w], &device);
        let o = model.step(&input, &mut state, false);
        let mu: Vec<f32> = o.posterior.mu.try_into_vec_as::<f32>().unwrap_or_default();
        let mut mean = vec![0f32; d];
        for i in (0..n).filter(|&i| i != hist) {
            for (m, v) in mean.iter_mut().zip(&mu[i * d..(i + 1) * d]) {
                *m += v / (n - 1) as f32;
            }
        }
        out.window.push(mean);
        out.history.push(mu[hist * d..(hist + 1) * d].to_vec());
        out.nodes.push(
            (0..n)
                .filter(|&i| i != hist)
                .flat_map(|i| mu[i * d..(i + 1) * d].to_vec())
                .collect(),
        );
        if let Some(a) = o.alpha {
            out.attention
                .push(a.try_into_vec_as::<f32>().unwrap_or_default());
        }
    }
    out
}
