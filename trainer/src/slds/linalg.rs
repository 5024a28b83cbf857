//! The few dense f64 operations the hand-built systems need (d and N are small, tens to a
//! few hundred): products, transposes, Cholesky inverses and random orthogonal matrices.
//!
//! Matrices are row-major `Vec<f64>` with explicit dimensions; nothing here is on a hot path.

use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

/// `a (r x k) * b (k x c)`.
pub(crate) fn matmul(a: &[f64], b: &[f64], r: usize, k: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for l in 0..k {
            let x = a[i * k + l];
            if x == 0.0 {
                continue;
            }
            for j in 0..c {
                out[i * c + j] += x * b[l * c + j];
            }
        }
    }
    out
}

/// Transpose of `a (r x c)`.
pub(crate) fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut out = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            out[j * r + i] = a[i * c + j];
        }
    }
    out
}

/// `a (r x c) * v (c)`.
pub(crate) fn matvec(a: &[f64], v: &[f64], r: usize, c: usize) -> Vec<f64> {
    (0..r)
        .map(|i| {
            a[i * c..(i + 1) * c]
                .iter()
                .zip(v)
                .map(|(x, y)| x * y)
                .sum()
        })
        .collect()
}

/// The identity of size `n`.
pub(crate) fn identity(n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n];
    for i in 0..n {
        out[i * n + i] = 1.0;
    }
    out
}

/// Inverse of a symmetric positive definite `n x n` matrix through its Cholesky factor.
/// Returns `None` when the matrix is not (numerically) positive definite.
pub(crate) fn spd_inverse(a: &[f64], n: usize) -> Option<Vec<f64>> {
    // a = L L^T
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= l[i * n + k] * l[j * n + k];
            }
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i * n + i] = s.sqrt();
            } else {
                l[i * n + j] = s / l[j * n + j];
            }
        }
    }
    // Solve L L^T X = I column by column.
    let mut inv = vec![0.0; n * n];
    let mut y = vec![0.0; n];
    for col in 0..n {
        for i in 0..n {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i * n + k] * y[k];
            }
            y[i] = s / l[i * n + i];
        }
        for i in (0..n).rev() {
            let mut s = y[i];
            for k in i + 1..n {
                s -= l[k * n + i] * inv[k * n + col];
            }
            inv[i * n + col] = s / l[i * n + i];
        }
    }
    // Symmetrise against round-off.
    for i in 0..n {
        for j in 0..i {
            let m = 0.5 * (inv[i * n + j] + inv[j * n + i]);
            inv[i * n + j] = m;
            inv[j * n + i] = m;
        }
    }
    Some(inv)
}

/// A random `n x n` orthogonal matrix (Gram-Schmidt on a Gaussian matrix; rows orthonormal).
pub(crate) fn random_orthogonal<R: Rng + ?Sized>(rng: &mut R, n: usize) -> Vec<f64> {
    loop {
        let mut q: Vec<f64> = (0..n * n).map(|_| StandardNormal.sample(rng)).collect();
        let mut ok = true;
        for i in 0..n {
            for j in 0..i {
                let dot: f64 = (0..n).map(|k| q[i * n + k] * q[j * n + k]).sum();
                for k in 0..n {
                    q[i * n + k] -= dot * q[j * n + k];
                }
            }
            let norm: f64 = (0..n).map(|k| q[i * n + k].powi(2)).sum::<f64>().sqrt();
            if norm < 1e-6 {
                ok = false;
                break;
            }
            for k in 0..n {
                q[i * n + k] /= norm;
            }
        }
        if ok {
            return q;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn spd_inverse_inverts() {
        let a = vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0];
        let inv = spd_inverse(&a, 3).unwrap();
        let p = matmul(&a, &inv, 3, 3, 3);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((p[i * 3 + j] - want).abs() < 1e-12, "{p:?}");
            }
        }
        assert!(spd_inverse(&[1.0, 2.0, 2.0, 1.0], 2).is_none());
    }

    #[test]
    fn random_orthogonal_is_orthogonal() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let q = random_orthogonal(&mut rng, 5);
        let p = matmul(&q, &transpose(&q, 5, 5), 5, 5, 5);
        for i in 0..5 {
            for j in 0..5 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((p[i * 5 + j] - want).abs() < 1e-12);
            }
        }
    }
}
