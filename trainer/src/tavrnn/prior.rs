//! Prior p(z_t | h_{t-1}): a per-node MLP of the previous hidden state (no graph), as in VGRNN.
//!
//! ```text
//! P = ReLU(h_{t-1} W_p + b_p);   mu_p = P W_mu + b;   sigma_p = softplus(P W_s + b) + SIGMA_MIN
//! ```

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, softplus};
use burn::tensor::{Device, Tensor};

use crate::tavrnn::encoder::{Gaussian, SIGMA_MIN};

#[derive(Module, Debug)]
pub struct Prior {
    pub hidden: Linear,
    pub mu: Linear,
    pub sigma: Linear,
}

impl Prior {
    pub fn new(d_h: usize, d_hidden: usize, d_z: usize, device: &Device) -> Self {
        Self {
            hidden: LinearConfig::new(d_h, d_hidden).init(device),
            mu: LinearConfig::new(d_hidden, d_z).init(device),
            sigma: LinearConfig::new(d_hidden, d_z).init(device),
        }
    }

    /// `h_prev` `[B, n, d_h]` -> prior Gaussian `[B, n, d_z]`.
    pub fn forward(&self, h_prev: Tensor<3>) -> Gaussian {
        let p = relu(self.hidden.forward(h_prev));
        Gaussian {
            mu: self.mu.forward(p.clone()),
            sigma: softplus(self.sigma.forward(p), 1.0).add_scalar(SIGMA_MIN),
        }
    }
}
