//! Inner-product decoder: `p(A_ij = 1) = sigmoid(z_i . z_j)`, returned as logits.

use burn::tensor::Tensor;

/// Edge logits `z z^T`: `z` `[B, n, d_z]` -> `[B, n, n]`.
pub fn edge_logits(z: Tensor<3>) -> Tensor<3> {
    z.clone().matmul(z.swap_dims(1, 2))
}
