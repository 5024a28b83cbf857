//! Graph convolution on a normalised dense adjacency, batched over windows.
//!
//! `GCN(Â, X) = Â X W + b` with `Â = D^-1/2 (A + I) D^-1/2` (built by
//! `crate::graph::adjacency::normalize`). Every tensor carries a leading batch
//! dimension: `Â` `[B, n, n]`, `X` `[B, n, d_in]`, so the B windows of a minibatch are one
//! batched matmul (no per-window loop, no sparse format: at n = 129 a dense `[n, n]` product is
//! ~2 M multiply-adds, cheaper than any sparse bookkeeping at these sizes).
//!
//! The bias is added after the propagation (`Â X W + b`, as in Kipf & Welling's code), so a
//! node's bias does not scale with its degree.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// One graph-convolution layer (no activation).
#[derive(Module, Debug)]
pub struct Gcn {
    /// Weight `[d_in, d_out]`, no bias (the bias is added after the propagation).
    pub weight: Linear,
    /// Bias `[d_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Gcn {
    /// A layer `d_in -> d_out`, Burn's default (Kaiming-uniform) weight init, zero bias.
    pub fn new(d_in: usize, d_out: usize, device: &Device) -> Self {
        Self {
            weight: LinearConfig::new(d_in, d_out).with_bias(false).init(device),
            bias: Param::from_tensor(Tensor::zeros([d_out], device)),
        }
    }

    /// `Â X W + b`: `adj` `[B, n, n]`, `x` `[B, n, d_in]` -> `[B, n, d_out]`.
    ///
    /// The product is ordered by cost: `Â (X W)` when the layer narrows, `(Â X) W` otherwise.
    pub fn forward(&self, adj: Tensor<3>, x: Tensor<3>) -> Tensor<3> {
        let [d_in, d_out] = self.weight.weight.dims();
        let out = if d_out <= d_in {
            adj.matmul(self.weight.forward(x))
        } else {
            self.weight.forward(adj.matmul(x))
        };
        out + self.bias.val().reshape([1, 1, d_out])
    }

    /// `(Â X) W + b` where `ax = Â X` was already propagated (shared between several layers
    /// that read the same input, e.g. the gates of the graph GRU).
    pub fn forward_propagated(&self, ax: Tensor<3>) -> Tensor<3> {
        let d_out = self.weight.weight.dims()[1];
        self.weight.forward(ax) + self.bias.val().reshape([1, 1, d_out])
    }

    pub fn d_out(&self) -> usize {
        self.weight.weight.dims()[1]
    }
}
