//! Principal components: the covariance of centred rows, diagonalised by cyclic Jacobi
//! rotations (exact for the symmetric d x d covariances here, d <= a few hundred).

use super::mat::Mat;

/// Eigen-decomposition of a symmetric matrix: eigenvalues in decreasing order and the
/// matching unit eigenvectors as the rows of `vectors`.
#[derive(Debug, Clone)]
pub struct SymmetricEigen {
    /// Eigenvalues, largest first.
    pub values: Vec<f64>,
    /// `n x n`: row `i` is the eigenvector of `values[i]`.
    pub vectors: Mat,
}

/// Cyclic Jacobi on a symmetric `a` (only its symmetric part is used).
pub fn symmetric_eigen(a: &Mat) -> SymmetricEigen {
    let n = a.rows;
    let mut m = a.clone();
    for i in 0..n {
        for j in 0..i {
            let s = 0.5 * (m.at(i, j) + m.at(j, i));
            *m.at_mut(i, j) = s;
            *m.at_mut(j, i) = s;
        }
    }
    // v: columns are eigenvectors while rotating.
    let mut v = Mat::identity(n);
    let scale: f64 = m
        .data
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .max(f64::MIN_POSITIVE);
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| m.at(i, j).powi(2))
            .sum();
        if off <= 1e-30 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = m.at(p, q);
                if apq == 0.0 {
                    continue;
                }
                let theta = (m.at(q, q) - m.at(p, p)) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (mkp, mkq) = (m.at(k, p), m.at(k, q));
                    *m.at_mut(k, p) = c * mkp - s * mkq;
                    *m.at_mut(k, q) = s * mkp + c * mkq;
                }
                for k in 0..n {
                    let (mpk, mqk) = (m.at(p, k), m.at(q, k));
                    *m.at_mut(p, k) = c * mpk - s * mqk;
                    *m.at_mut(q, k) = s * mpk + c * mqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v.at(k, p), v.at(k, q));
                    *v.at_mut(k, p) = c * vkp - s * vkq;
                    *v.at_mut(k, q) = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m.at(j, j).total_cmp(&m.at(i, i)));
    let mut vectors = Mat::zeros(n, n);
    for (r, &i) in order.iter().enumerate() {
        // Sign convention: the largest component of each vector is positive.
        let big = (0..n)
            .max_by(|&a, &b| v.at(a, i).abs().total_cmp(&v.at(b, i).abs()))
            .unwrap_or(0);
        let sgn = if n > 0 && v.at(big, i) < 0.0 {
            -1.0
        } else {
            1.0
        };
        for k in 0..n {
            *vectors.at_mut(r, k) = sgn * v.at(k, i);
        }
    }
    SymmetricEigen {
        values: order.iter().map(|&i| m.at(i, i)).collect(),
        vectors,
    }
}

/// The top principal components of a set of points (rows).
#[derive(Debug, Clone)]
pub struct Pca {
    /// Mean of the points.
    pub mean: Vec<f64>,
    /// `m x d`: row `i` is component `i` (unit length).
    pub components: Mat,
    /// Variance along each component.
    pub variances: Vec<f64>,
    /// Fraction of the total variance each component explains.
    pub explained: Vec<f64>,
}

impl Pca {
    /// Fits the top `m` components (at most `d`) of the rows of `x`.
    pub fn fit(x: &Mat, m: usize) -> Pca {
        let d = x.cols;
        let mean = x.column_means();
        let mut cov = Mat::zeros(d, d);
        for t in 0..x.rows {
            let r = x.row(t);
            for i in 0..d {
                let xi = r[i] - mean[i];
                for j in 0..=i {
                    *cov.at_mut(i, j) += xi * (r[j] - mean[j]);
                }
            }
        }
        let denom = x.rows.saturating_sub(1).max(1) as f64;
        for i in 0..d {
            for j in 0..=i {
                let v = cov.at(i, j) / denom;
                *cov.at_mut(i, j) = v;
                *cov.at_mut(j, i) = v;
            }
        }
        let eig = symmetric_eigen(&cov);
        let m = m.min(d);
        let total: f64 = eig.values.iter().map(|v| v.max(0.0)).sum();
        let variances: Vec<f64> = eig.values[..m].iter().map(|v| v.max(0.0)).collect();
        Pca {
            mean,
            components: Mat::from_vec(m, d, eig.vectors.data[..m * d].to_vec())
                .expect("m rows of d"),
            explained: variances
                .iter()
                .map(|v| if total > 0.0 { v / total } else { 0.0 })
                .collect(),
            variances,
        }
    }

    /// Coordinates of `point` on the components.
    pub fn project(&self, point: &[f64]) -> Vec<f64> {
        (0..self.components.rows)
            .map(|i| {
                self.components
                    .row(i)
                    .iter()
                    .zip(point.iter().zip(&self.mean))
                    .map(|(c, (p, m))| c * (p - m))
                    .sum()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_known_symmetric_matrix() {
        // Eigenvalues of [[2,1,0],[1,2,0],[0,0,5]] are 5, 3, 1.
        let a = Mat::from_vec(3, 3, vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0]).unwrap();
        let e = symmetric_eigen(&a);
        for (got, want) in e.values.iter().zip([5.0, 3.0, 1.0]) {
            assert!((got - want).abs() < 1e-12, "{:?}", e.values);
        }
        let s = 0.5f64.sqrt();
        let v1 = e.vectors.row(1);
        assert!((v1[0] - s).abs() < 1e-12 && (v1[1] - s).abs() < 1e-12 && v1[2].abs() < 1e-12);
        // A V^T = V^T diag
        for r in 0..3 {
            let v = e.vectors.row(r);
            for i in 0..3 {
                let av: f64 = (0..3).map(|j| a.at(i, j) * v[j]).sum();
                assert!((av - e.values[r] * v[i]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn pca_finds_the_direction_of_largest_spread() {
        // Points along (3, 4)/5 with spread 2 and small spread along (-4, 3)/5, offset (1, -1).
        let mut data = Vec::new();
        for t in 0..100 {
            let s = (t as f64 / 99.0 - 0.5) * 4.0;
            for n in [0.1, -0.1] {
                data.push(1.0 + 0.6 * s - 0.8 * n);
                data.push(-1.0 + 0.8 * s + 0.6 * n);
            }
        }
        let x = Mat::from_vec(200, 2, data).unwrap();
        let p = Pca::fit(&x, 2);
        let c0 = p.components.row(0);
        assert!((c0[0].abs() - 0.6).abs() < 1e-9 && (c0[1].abs() - 0.8).abs() < 1e-9);
        assert!((p.mean[0] - 1.0).abs() < 1e-12 && (p.mean[1] + 1.0).abs() < 1e-12);
        assert!(p.explained[0] > 0.98 && (p.explained[0] + p.explained[1] - 1.0).abs() < 1e-12);
        let proj = p.project(&[1.0 + 0.6, -1.0 + 0.8]);
        assert!((proj[0].abs() - 1.0).abs() < 1e-9 && proj[1].abs() < 1e-9);
    }
}
