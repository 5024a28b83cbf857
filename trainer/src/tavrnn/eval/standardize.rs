//! Feature standardisation with statistics of a subset of windows (the training windows:
//! test windows never shape the transform), and Gram matrices of the standardised rows.

/// Per-feature mean and standard deviation (1 for a constant feature) over `rows` of `x`.
pub fn stats(x: &[Vec<f64>], rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let p = x.first().map_or(0, Vec::len);
    let m = rows.len().max(1) as f64;
    let mut mean = vec![0f64; p];
    for &i in rows {
        for (a, v) in mean.iter_mut().zip(&x[i]) {
            *a += v / m;
        }
    }
    let mut var = vec![0f64; p];
    for &i in rows {
        for ((s, v), mu) in var.iter_mut().zip(&x[i]).zip(&mean) {
            *s += (v - mu) * (v - mu) / m;
        }
    }
    let sd = var
        .into_iter()
        .map(|v| if v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, sd)
}

/// The rows `rows` of `x`, standardised with `(mean, sd)`.
pub fn apply(x: &[Vec<f64>], rows: &[usize], mean: &[f64], sd: &[f64]) -> Vec<Vec<f64>> {
    rows.iter()
        .map(|&i| {
            x[i].iter()
                .zip(mean)
                .zip(sd)
                .map(|((v, mu), s)| (v - mu) / s)
                .collect()
        })
        .collect()
}

/// Gram matrix `Z Z^T` (row-major, `m x m`) of rows `z`.
pub fn gram(z: &[Vec<f64>]) -> Vec<f64> {
    let m = z.len();
    let mut k = vec![0f64; m * m];
    for i in 0..m {
        for j in 0..=i {
            let v: f64 = z[i].iter().zip(&z[j]).map(|(a, b)| a * b).sum();
            k[i * m + j] = v;
            k[j * m + i] = v;
        }
    }
    k
}
