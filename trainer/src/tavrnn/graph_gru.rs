//! Graph GRU: a GRU cell per node whose every gate is a graph convolution, over the input
//! `x_t = [phi_x || phi_z(z_t)]` and the previous hidden state `h_{t-1}`.
//!
//! ```text
//! r = sigmoid(GCN_xr(Â, x) + GCN_hr(Â, h))
//! u = sigmoid(GCN_xu(Â, x) + GCN_hu(Â, h))          (update gate)
//! c = tanh(GCN_xc(Â, x) + GCN_hc(Â, r * h))         (candidate)
//! h' = u * h + (1 - u) * c
//! ```
//! The three input GCNs are fused into one layer `[d_x, 3H]` and the two hidden GCNs of r, u
//! into one `[H, 2H]`, so a step costs three propagations (`Â x`, `Â h`, `Â (r h)`) and three
//! small matmuls. Every weight here is a field of the module, hence registered with the
//! optimiser (the reference notebook left its gate weights out).
//!
//! Only the per-step gate outputs are split (`narrow` on a `[B, n, 3H]` tensor made this step),
//! never a tracked whole-sequence tensor (notes/burn.md: that makes backward quadratic).

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};

use crate::tavrnn::gcn::Gcn;

#[derive(Module, Debug)]
pub struct GraphGru {
    /// Input gates, fused `r | u | c`: `[d_x, 3H]`.
    pub input: Gcn,
    /// Hidden gates of r and u, fused: `[H, 2H]`.
    pub hidden_ru: Gcn,
    /// Hidden part of the candidate: `[H, H]` (applied to `Â (r * h)`).
    pub hidden_c: Gcn,
    pub hidden: usize,
}

impl GraphGru {
    pub fn new(d_x: usize, hidden: usize, device: &Device) -> Self {
        Self {
            input: Gcn::new(d_x, 3 * hidden, device),
            hidden_ru: Gcn::new(hidden, 2 * hidden, device),
            hidden_c: Gcn::new(hidden, hidden, device),
            hidden,
        }
    }

    /// One step: `adj` `[B, n, n]`, `x` `[B, n, d_x]`, `h` `[B, n, H]` -> `[B, n, H]`.
    pub fn step(&self, adj: Tensor<3>, x: Tensor<3>, h: Tensor<3>) -> Tensor<3> {
        let hd = self.hidden;
        let gx = self.input.forward_propagated(adj.clone().matmul(x));
        let gh = self
            .hidden_ru
            .forward_propagated(adj.clone().matmul(h.clone()));
        let ru = sigmoid(gx.clone().narrow(2, 0, 2 * hd) + gh);
        let r = ru.clone().narrow(2, 0, hd);
        let u = ru.narrow(2, hd, hd);
        let c = (gx.narrow(2, 2 * hd, hd)
            + self.hidden_c.forward_propagated(adj.matmul(r * h.clone())))
        .tanh();
        c.clone() + u * (h - c)
    }
}
