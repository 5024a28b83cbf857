//! The count transform `u = S (g(y) - mu)`: `g(y) = sqrt(y)` per neuron (a shared table of the
//! count), then per-neuron standardisation fitted on the training bins. The device applies `g`
//! through `input_table` and gets the standardisation folded into `B_k` and `b_k` (fold.rs).

/// Fitted count transform.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InputTransform {
    /// Per-neuron mean of `g(y)` on the training bins.
    pub mean: Vec<f32>,
    /// Per-neuron `1 / std` of `g(y)` (1 for a neuron that never varies).
    pub inv_std: Vec<f32>,
}

/// The shared per-count transform `g`.
pub fn g(count: u32) -> f32 {
    (count as f32).sqrt()
}

impl InputTransform {
    /// Fits mean and scale on `counts` (`[T, n]` row-major).
    pub fn fit(counts: &[u32], n: usize) -> Self {
        let t = (counts.len() / n.max(1)).max(1) as f64;
        let mut sum = vec![0f64; n];
        let mut sq = vec![0f64; n];
        for row in counts.chunks_exact(n) {
            for (i, &c) in row.iter().enumerate() {
                let x = g(c) as f64;
                sum[i] += x;
                sq[i] += x * x;
            }
        }
        let mean: Vec<f32> = sum.iter().map(|s| (s / t) as f32).collect();
        let inv_std = sum
            .iter()
            .zip(&sq)
            .map(|(s, q)| {
                let var = q / t - (s / t) * (s / t);
                if var > 1e-12 {
                    (1.0 / var.sqrt()) as f32
                } else {
                    1.0
                }
            })
            .collect();
        Self { mean, inv_std }
    }

    /// Standardised inputs of `counts` (`[T, n]`) -> `[T, n]`.
    pub fn apply(&self, counts: &[u32]) -> Vec<f32> {
        let n = self.mean.len();
        counts
            .iter()
            .enumerate()
            .map(|(j, &c)| (g(c) - self.mean[j % n]) * self.inv_std[j % n])
            .collect()
    }

    /// `g(count)` for `count = 0..=max` (the device's `input_table`).
    pub fn table(max: u32) -> Vec<f32> {
        (0..=max).map(g).collect()
    }
}
