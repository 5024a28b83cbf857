//! Posterior q(z_t | A_t, X_t, h_{t-1}): a two-layer GCN conditioned on the previous hidden state.
//!
//! ```text
//! E = ReLU(Â [phi_x || h_{t-1}] W_e)
//! mu = Â E W_mu          sigma = softplus(Â E W_s) + SIGMA_MIN
//! ```

use burn::module::Module;
use burn::tensor::activation::{relu, softplus};
use burn::tensor::{Device, Tensor};

use crate::tavrnn::gcn::Gcn;

/// Floor of every standard deviation (keeps the KL and its gradient finite).
pub const SIGMA_MIN: f64 = 1e-4;

/// Encoder of the posterior.
#[derive(Module, Debug)]
pub struct Encoder {
    pub hidden: Gcn,
    pub mu: Gcn,
    pub sigma: Gcn,
}

/// Gaussian per node and latent unit, `[B, n, d_z]` each.
#[derive(Clone, Debug)]
pub struct Gaussian {
    pub mu: Tensor<3>,
    pub sigma: Tensor<3>,
}

impl Encoder {
    /// `d_phi_x` (feature embedding) + `d_h` (hidden state) -> `d_enc` -> `d_z`.
    pub fn new(d_phi_x: usize, d_h: usize, d_enc: usize, d_z: usize, device: &Device) -> Self {
        Self {
            hidden: Gcn::new(d_phi_x + d_h, d_enc, device),
            mu: Gcn::new(d_enc, d_z, device),
            sigma: Gcn::new(d_enc, d_z, device),
        }
    }

    /// `adj` `[B, n, n]`, `phi_x` `[B, n, d_phi_x]`, `h_prev` `[B, n, d_h]`.
    pub fn forward(&self, adj: Tensor<3>, phi_x: Tensor<3>, h_prev: Tensor<3>) -> Gaussian {
        let e = relu(
            self.hidden
                .forward(adj.clone(), Tensor::cat(vec![phi_x, h_prev], 2)),
        );
        // Both heads read Â E: propagate once.
        let ae = adj.matmul(e);
        Gaussian {
            mu: self.mu.forward_propagated(ae.clone()),
            sigma: softplus(self.sigma.forward_propagated(ae), 1.0).add_scalar(SIGMA_MIN),
        }
    }
}
