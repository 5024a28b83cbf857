//! Hand-written GRU cell stepped one bin at a time.
//!
//! Why not `burn::nn::Gru`: it only exposes a whole-sequence API, and the JSLDS needs both a
//! per-bin step (the switching linear path is rolled out beside it) and the cell's internal
//! quantities (gates, candidate) at the expansion points for the closed-form Jacobians.
//!
//! Row convention (Burn `Linear` stores its weight `[d_in, d_out]`): `x W + b`. Gates are fused:
//! one `Linear` for the input (`[n_in, 3d]`) and one for the hidden state (`[d, 3d]`), columns
//! ordered `r | z | n`.
//! ```text
//! r = sigmoid(x W_xr + b_xr + h W_hr + b_hr)
//! z = sigmoid(x W_xz + b_xz + h W_hz + b_hz)
//! m = h W_hn + b_hn
//! n = tanh(x W_xn + b_xn + r * m)
//! h' = n + z * (h - n)          (= (1 - z) n + z h, PyTorch's convention)
//! ```
//! Pitfall (notes/burn.md): never slice a tracked whole-sequence tensor inside the time loop.
//! Here only the per-step `[B, 3d]` gate outputs are split, which costs O(B d) per step.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

/// GRU cell with fused gates.
#[derive(Module, Debug)]
pub struct GruCell {
    /// Input projection, weight `[n_in, 3d]`.
    pub input: Linear,
    /// Hidden projection, weight `[d, 3d]`.
    pub hidden: Linear,
    /// Latent size d.
    pub latent: usize,
}

/// The cell's intermediate values at one step, kept for the closed-form Jacobians.
pub struct GruParts {
    /// Reset gate.
    pub r: Tensor<2>,
    /// Update gate.
    pub z: Tensor<2>,
    /// `m = h W_hn + b_hn`, the hidden part of the candidate before the reset gate.
    pub m: Tensor<2>,
    /// Candidate state.
    pub n: Tensor<2>,
    /// The next state.
    pub next: Tensor<2>,
}

impl GruCell {
    /// A cell with `n_in` inputs and `latent` units, Burn's default (Kaiming-uniform) init.
    pub fn new(n_in: usize, latent: usize, device: &Device) -> Self {
        Self {
            input: LinearConfig::new(n_in, 3 * latent).init(device),
            hidden: LinearConfig::new(latent, 3 * latent).init(device),
            latent,
        }
    }

    /// One step: `u` `[B, n_in]`, `h` `[B, d]` -> `h'` `[B, d]`.
    pub fn step(&self, u: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
        self.parts(self.input.forward(u), h).next
    }

    /// One step from an already projected input `gx = u W_x + b_x` (`[B, 3d]` or `[1, 3d]`,
    /// broadcast over the batch), returning every intermediate.
    pub fn parts(&self, gx: Tensor<2>, h: Tensor<2>) -> GruParts {
        let d = self.latent;
        let gh = self.hidden.forward(h.clone());
        let rz = sigmoid(gx.clone().narrow(1, 0, 2 * d) + gh.clone().narrow(1, 0, 2 * d));
        let r = rz.clone().narrow(1, 0, d);
        let z = rz.narrow(1, d, d);
        let m = gh.narrow(1, 2 * d, d);
        let n = (gx.narrow(1, 2 * d, d) + r.clone() * m.clone()).tanh();
        let next = n.clone() + z.clone() * (h - n.clone());
        GruParts { r, z, m, n, next }
    }
}
