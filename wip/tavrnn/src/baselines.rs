//! Baseline window features, scored by the same classifier on the same folds as TAVRNN:
//! the raw correlation matrix (upper triangle) and PCA of binned rates. (The third baseline,
//! VGRNN, is the model with `attention: false`.)

use neuroloop_trainer::data::Counts;
use neuroloop_trainer::graph::GraphSequence;

/// Upper triangle (i < j) of each window's Pearson correlation.
pub fn correlation_features(seq: &GraphSequence) -> Vec<Vec<f64>> {
    let n = seq.n_units();
    seq.windows
        .iter()
        .map(|w| {
            let mut v = Vec::with_capacity(n * (n - 1) / 2);
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

/// Projects `x` onto its first `q` principal components (fitted on every window, without
/// labels, as TAVRNN is trained on every window).
pub fn pca(x: &[Vec<f64>], q: usize) -> Vec<Vec<f64>> {
    let p = x[0].len();
    let m = x.len() as f64;
    let mut mean = vec![0f64; p];
    for r in x {
        for (a, v) in mean.iter_mut().zip(r) {
            *a += v / m;
        }
    }
    let mut cov = vec![0f64; p * p];
    for r in x {
        for i in 0..p {
            let di = r[i] - mean[i];
            for j in 0..p {
                cov[i * p + j] += di * (r[j] - mean[j]) / m;
            }
        }
    }
    let (vals, vecs) = jacobi_eigen(cov, p);
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| vals[b].total_cmp(&vals[a]));
    let q = q.min(p);
    x.iter()
        .map(|r| {
            order[..q]
                .iter()
                .map(|&k| (0..p).map(|i| (r[i] - mean[i]) * vecs[i * p + k]).sum())
                .collect()
        })
        .collect()
}

/// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: (values, vectors as
/// columns, row-major `p x p`).
pub fn jacobi_eigen(mut a: Vec<f64>, p: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0f64; p * p];
    for i in 0..p {
        v[i * p + i] = 1.0;
    }
    for _sweep in 0..60 {
        let off: f64 = (0..p)
            .flat_map(|i| (0..p).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * p + j] * a[i * p + j])
            .sum();
        if off < 1e-22 {
            break;
        }
        for i in 0..p {
            for j in i + 1..p {
                let aij = a[i * p + j];
                if aij.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[j * p + j] - a[i * p + i]) / (2.0 * aij);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..p {
                    let (aki, akj) = (a[k * p + i], a[k * p + j]);
                    a[k * p + i] = c * aki - s * akj;
                    a[k * p + j] = s * aki + c * akj;
                }
                for k in 0..p {
                    let (aik, ajk) = (a[i * p + k], a[j * p + k]);
                    a[i * p + k] = c * aik - s * ajk;
                    a[j * p + k] = s * aik + c * ajk;
                }
                for k in 0..p {
                    let (vki, vkj) = (v[k * p + i], v[k * p + j]);
                    v[k * p + i] = c * vki - s * vkj;
                    v[k * p + j] = s * vki + c * vkj;
                }
            }
        }
    }
    ((0..p).map(|i| a[i * p + i]).collect(), v)
}
