//! Loss of one window: edge-weighted reconstruction BCE plus KL(q || prior).
//!
//! Reconstruction target: `A + I` (the binary adjacency with self-loops, as in VGAE/VGRNN:
//! `z_i . z_i = |z_i|^2 >= 0` cannot express "no self-edge"). With `E` the number of ones in
//! the target (both directions of each edge, and the diagonal) out of `n^2` entries:
//! ```text
//! pos_weight = (n^2 - E) / E,     norm = n^2 / (2 (n^2 - E))
//! BCE = norm * mean_ij [ pos_weight y log s(x) + (1 - y) log(1 - s(x)) ] (negated)
//! KL  = mean over nodes of sum over latent units of KL(N(mu, s^2) || N(mu_p, s_p^2))
//! loss = BCE + kl_weight * KL       (kl_weight default 1 / n, VGRNN's scale)
//! ```
//! `pos_weight` and `norm` are computed per window from its own graph (untracked).

use burn::tensor::activation::softplus;
use burn::tensor::Tensor;

use crate::tavrnn::encoder::Gaussian;

/// Weighted BCE with logits, per window: `logits`, `target` `[B, n, n]`, `pos_weight`, `norm`
/// `[B]` (untracked) -> `[B]`.
pub fn weighted_bce(
    logits: Tensor<3>,
    target: Tensor<3>,
    pos_weight: Tensor<1>,
    norm: Tensor<1>,
) -> Tensor<1> {
    let [b, n, _] = logits.dims();
    // -log s(x) = softplus(-x), -log(1 - s(x)) = softplus(x)
    let pos = softplus(logits.clone().neg(), 1.0);
    let neg = softplus(logits, 1.0);
    let pw = pos_weight.reshape([b, 1, 1]);
    let per = target.clone() * pos * pw + (target.neg().add_scalar(1.0)) * neg;
    per.reshape([b, n * n]).mean_dim(1).reshape([b]) * norm
}

/// KL(q || p) summed over latent units, averaged over nodes: `[B, n, d]` each -> `[B]`.
pub fn kl_gaussian(q: &Gaussian, p: &Gaussian) -> Tensor<1> {
    let [b, n, d] = q.mu.dims();
    let vq = q.sigma.clone().square();
    let vp = p.sigma.clone().square();
    let kl = (p.sigma.clone().log() - q.sigma.clone().log()).mul_scalar(2.0)
        + (vq + (q.mu.clone() - p.mu.clone()).square()) / vp
        - 1.0;
    kl.mul_scalar(0.5)
        .reshape([b, n * d])
        .sum_dim(1)
        .reshape([b])
        .div_scalar(n as f64)
}

/// `pos_weight` and `norm` of one target `A + I` with `n` nodes.
pub fn edge_weights(target: &[f32], n: usize) -> (f32, f32) {
    let total = (n * n) as f32;
    let ones: f32 = target.iter().sum::<f32>().clamp(1.0, total - 1.0);
    ((total - ones) / ones, total / (2.0 * (total - ones)))
}
