//! Temporal attention over the last `w` hidden states, read at the history node.
//!
//! ```text
//! q = h_t[hist] W_q,   k_tau = h_tau[hist] W_k,   alpha = softmax_tau(q . k_tau / sqrt(H))
//! h_t <- sum_tau alpha_tau (h_tau W_v + b_v)       tau = t-w+1 .. t
//! ```
//! The window IS applied: the caller keeps at most `w` states (the reference notebook sets a
//! window and then attends over the whole history). At the start of a sequence fewer than `w`
//! states exist and the softmax runs over those. The attended states are the graph GRU's
//! outputs `h_tau` (before attention); the attended mixture becomes the recurrent state that
//! the next window's encoder, prior and GRU read.
//!
//! The result is squashed by `tanh`, keeping the recurrent state in [-1, 1] like a GRU's.
//! Without it, `W_v` is applied once per window inside the recurrence with nothing bounding
//! it: chunks of 16 windows trained fine, but the one-chain inference over 598 windows grew
//! to inf/NaN (measured). `tanh` is not in DESIGN.md's equation; it is this prototype's fix.
//!
//! Since the weights sum to 1, `sum alpha (h W_v + b) = (sum alpha h) W_v + b`: the states are
//! mixed first and projected once. `W_v` starts at the identity, so an untrained attention
//! passes a convex mixture of recent states through unchanged.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

#[derive(Module, Debug)]
pub struct TemporalAttention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    /// Window w: number of states attended over (the current one included).
    pub window: usize,
}

impl TemporalAttention {
    pub fn new(hidden: usize, window: usize, device: &Device) -> Self {
        let mut value = LinearConfig::new(hidden, hidden).init(device);
        value.weight = Param::from_tensor(Tensor::eye(hidden, device));
        Self {
            query: LinearConfig::new(hidden, hidden)
                .with_bias(false)
                .init(device),
            key: LinearConfig::new(hidden, hidden)
                .with_bias(false)
                .init(device),
            value,
            window: window.max(1),
        }
    }

    /// Attends over `states` (oldest first, the newest last; at most `window` of them, each
    /// `[B, n, H]`), reading node `hist`. Returns the new state `[B, n, H]` and the weights
    /// `[B, len]` (oldest first).
    pub fn forward(&self, states: &[Tensor<3>], hist: usize) -> (Tensor<3>, Tensor<2>) {
        let start = states.len().saturating_sub(self.window);
        let states = &states[start..];
        let w = states.len();
        let [b, n, h] = states[w - 1].dims();
        let at_hist: Vec<Tensor<2>> = states
            .iter()
            .map(|s| s.clone().narrow(1, hist, 1).reshape([b, h]))
            .collect();
        let q = self
            .query
            .forward(at_hist[w - 1].clone())
            .reshape([b, 1, h]);
        let keys = self.key.forward(Tensor::stack::<3>(at_hist, 1)); // [b, w, h]
        let scores = q.matmul(keys.swap_dims(1, 2)).div_scalar((h as f64).sqrt()); // [b, 1, w]
        let alpha = softmax(scores, 2);
        let stacked = Tensor::stack::<4>(states.to_vec(), 1).reshape([b, w, n * h]);
        let mixed = alpha.clone().matmul(stacked).reshape([b, n, h]);
        (self.value.forward(mixed).tanh(), alpha.reshape([b, w]))
    }
}
