//! Baseline window features, scored by the same classifier on the same folds as TAVRNN:
//! the raw correlation matrix (its upper triangle) and PCA of binned rates. (The third
//! baseline, VGRNN, is the model itself with `attention: false`.) [`pca`] also draws the
//! 2-D embedding figures.

use crate::data::Counts;
use crate::graph::GraphSequence;

/// Upper triangle (i < j) of each window's Pearson correlation: `[windows][n (n - 1) / 2]`.
pub fn correlation_features(seq: &GraphSequence) -> Vec<Vec<f64>> {
    let n = seq.n_units();
    seq.windows
        .iter()
        .map(|w| {
            let mut v = Vec::with_capacity(n * n.saturating_sub(1) / 2);
            for i in 0..n {
                for j in i + 1..n {
                    v.push(f64::from(w.correlation[i * n + j]));
                }
            }
            v
        })
        .collect()
}

/// Mean count per bin of every neuron in each window: `[windows][n]`.
pub fn window_rates(seq: &GraphSequence, counts: &Counts) -> Vec<Vec<f64>> {
    let n = counts.n_units();
    seq.windows
        .iter()
        .map(|w| {
            let mut r = vec![0f64; n];
            for b in w.span.bins() {
                for (ri, c) in r.iter_mut().zip(counts.row(b)) {
                    *ri += f64::from(*c) / w.span.n_bins as f64;
                }
            }
            r
        })
        .collect()
}

/// Projects `x` (rows) onto its first `q` principal components, fitted on every row without
/// labels (as TAVRNN is trained on every window).
///
/// The components come from subspace iteration on the covariance, applied as `X^T (X V)`
/// without forming it (`O(m p q)` a sweep): a 1,024-dimensional node-ordered embedding costs
/// as little as 64 rates. 300 sweeps with Gram-Schmidt re-orthonormalisation, from a fixed
/// start, so the result is deterministic.
pub fn pca(x: &[Vec<f64>], q: usize) -> Vec<Vec<f64>> {
    let Some(p) = x.first().map(Vec::len) else {
        return Vec::new();
    };
    let m = x.len() as f64;
    let mut mean = vec![0f64; p];
    for r in x {
        for (a, v) in mean.iter_mut().zip(r) {
            *a += v / m;
        }
    }
    let xc: Vec<Vec<f64>> = x
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(v, mu)| v - mu).collect())
        .collect();
    let q = q.min(p).min(x.len());
    // deterministic, full-rank start
    let mut v: Vec<Vec<f64>> = (0..q)
        .map(|k| {
            (0..p)
                .map(|i| {
                    (((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0) - 0.5
                        + f64::from(u8::from(i == k))
                })
                .collect()
        })
        .collect();
    orthonormalise(&mut v);
    for _ in 0..300 {
        let mut next = vec![vec![0f64; p]; q];
        for r in &xc {
            for (k, vk) in v.iter().enumerate() {
                let s: f64 = r.iter().zip(vk).map(|(a, b)| a * b).sum();
                for (n, a) in next[k].iter_mut().zip(r) {
                    *n += s * a;
                }
            }
        }
        orthonormalise(&mut next);
        v = next;
    }
    // order by explained variance, largest first
    let var = |vk: &Vec<f64>| -> f64 {
        xc.iter()
            .map(|r| r.iter().zip(vk).map(|(a, b)| a * b).sum::<f64>().powi(2))
            .sum()
    };
    let mut order: Vec<(f64, usize)> = v.iter().enumerate().map(|(k, vk)| (var(vk), k)).collect();
    order.sort_by(|a, b| b.0.total_cmp(&a.0));
    xc.iter()
        .map(|r| {
            order
                .iter()
                .map(|&(_, k)| r.iter().zip(&v[k]).map(|(a, b)| a * b).sum())
                .collect()
        })
        .collect()
}

/// Modified Gram-Schmidt; a vector that vanishes is replaced by a unit axis.
fn orthonormalise(v: &mut [Vec<f64>]) {
    for k in 0..v.len() {
        for j in 0..k {
            let d: f64 = v[k].iter().zip(&v[j]).map(|(a, b)| a * b).sum();
            let (head, tail) = v.split_at_mut(k);
            for (a, b) in tail[0].iter_mut().zip(&head[j]) {
                *a -= d * b;
            }
        }
        let norm = v[k].iter().map(|a| a * a).sum::<f64>().sqrt();
        if norm > 1e-300 {
            v[k].iter_mut().for_each(|a| *a /= norm);
        } else {
            let p = v[k].len();
            v[k] = (0..p).map(|i| f64::from(u8::from(i == k % p))).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_finds_the_directions_of_largest_variance() {
        // x = a u + b w, var(a) = 9, var(b) = 1, u and w orthogonal unit vectors
        let p = 6;
        let s3 = 3f64.sqrt();
        let u: Vec<f64> = (0..p).map(|i| f64::from(u8::from(i < 3)) / s3).collect();
        let w: Vec<f64> = (0..p).map(|i| f64::from(u8::from(i >= 3)) / s3).collect();
        let a: Vec<f64> = (0..200).map(|t| ((t as f64) * 0.37).sin()).collect();
        let x: Vec<Vec<f64>> = (0..200)
            .map(|t| {
                let at = 3.0 * a[t] * 2f64.sqrt();
                let bt = ((t as f64) * 1.91).cos() * 2f64.sqrt();
                (0..p).map(|i| at * u[i] + bt * w[i]).collect()
            })
            .collect();
        let y = pca(&x, 2);
        let var = |k: usize| y.iter().map(|r| r[k] * r[k]).sum::<f64>() / y.len() as f64;
        assert!((var(0) - 9.0).abs() < 0.5, "{}", var(0));
        assert!((var(1) - 1.0).abs() < 0.2, "{}", var(1));
        // the first component is +-u: its scores follow a (correlation +-1)
        let dot: f64 = a.iter().zip(&y).map(|(ai, r)| ai * r[0]).sum();
        let na = a.iter().map(|v| v * v).sum::<f64>().sqrt();
        let ny = y.iter().map(|r| r[0] * r[0]).sum::<f64>().sqrt();
        assert!((dot / (na * ny)).abs() > 0.99, "{}", dot / (na * ny));
    }
}
