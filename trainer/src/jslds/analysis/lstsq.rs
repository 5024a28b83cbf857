//! Least-squares affine maps `y ≈ W^T [x; 1]`: how the model's latent space lines up with a
//! true state (the truth of a simulated session). Normal equations, solved by Cholesky with a
//! tiny ridge so that a rank-deficient latent (dead units) still gives the minimum-norm-like
//! well-defined answer instead of failing.

use super::mat::Mat;

/// An affine map from `d_in` to `d_out` dimensions with its fit quality.
#[derive(Debug, Clone)]
pub struct AffineMap {
    /// `(d_in + 1) x d_out`: the last row is the offset.
    pub weights: Mat,
    /// Coefficient of determination per output dimension, on the fitting data.
    pub r2: Vec<f64>,
}

/// Why a map could not be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FitError {
    /// The inputs and outputs have different numbers of rows, or too few.
    #[error("{0}")]
    Shape(String),
    /// The normal equations are not positive definite even with the ridge (non-finite data).
    #[error("the normal equations are singular (non-finite data?)")]
    Singular,
}

impl AffineMap {
    /// Fits `y ≈ W^T [x; 1]` over the rows of `x` (`T x d_in`) and `y` (`T x d_out`).
    pub fn fit(x: &Mat, y: &Mat) -> Result<AffineMap, FitError> {
        if x.rows != y.rows {
            return Err(FitError::Shape(format!(
                "{} rows of inputs, {} of outputs",
                x.rows, y.rows
            )));
        }
        if x.rows < 2 {
            return Err(FitError::Shape(format!("{} rows: too few", x.rows)));
        }
        let p = x.cols + 1;
        let mut xtx = Mat::zeros(p, p);
        let mut xty = Mat::zeros(p, y.cols);
        let mut row = vec![0.0; p];
        for t in 0..x.rows {
            row[..x.cols].copy_from_slice(x.row(t));
            row[x.cols] = 1.0;
            for i in 0..p {
                for j in 0..=i {
                    *xtx.at_mut(i, j) += row[i] * row[j];
                }
                for (k, yk) in y.row(t).iter().enumerate() {
                    *xty.at_mut(i, k) += row[i] * yk;
                }
            }
        }
        for i in 0..p {
            for j in 0..i {
                *xtx.at_mut(j, i) = xtx.at(i, j);
            }
        }
        let trace: f64 = (0..p).map(|i| xtx.at(i, i)).sum();
        let ridge = 1e-10 * trace / p as f64;
        for i in 0..x.cols {
            *xtx.at_mut(i, i) += ridge;
        }
        let weights = cholesky_solve(&xtx, &xty).ok_or(FitError::Singular)?;
        let mut map = AffineMap {
            weights,
            r2: Vec::new(),
        };
        let means = y.column_means();
        let mut ss_res = vec![0.0; y.cols];
        let mut ss_tot = vec![0.0; y.cols];
        for t in 0..x.rows {
            let pred = map.apply(x.row(t));
            for k in 0..y.cols {
                ss_res[k] += (y.at(t, k) - pred[k]).powi(2);
                ss_tot[k] += (y.at(t, k) - means[k]).powi(2);
            }
        }
        map.r2 = ss_res
            .iter()
            .zip(&ss_tot)
            .map(|(r, t)| if *t > 0.0 { 1.0 - r / t } else { 0.0 })
            .collect();
        Ok(map)
    }

    /// `W^T [x; 1]`.
    pub fn apply(&self, x: &[f64]) -> Vec<f64> {
        let d_in = self.weights.rows - 1;
        (0..self.weights.cols)
            .map(|k| {
                x.iter()
                    .take(d_in)
                    .enumerate()
                    .map(|(i, xi)| xi * self.weights.at(i, k))
                    .sum::<f64>()
                    + self.weights.at(d_in, k)
            })
            .collect()
    }
}

/// Solves `a X = b` for symmetric positive definite `a`; `None` if it is not.
fn cholesky_solve(a: &Mat, b: &Mat) -> Option<Mat> {
    let n = a.rows;
    let mut l = Mat::zeros(n, n);
    for i in 0..n {
        for j in 0..=i {
            let mut s = a.at(i, j);
            for k in 0..j {
                s -= l.at(i, k) * l.at(j, k);
            }
            if i == j {
                if !(s > 0.0 && s.is_finite()) {
                    return None;
                }
                *l.at_mut(i, i) = s.sqrt();
            } else {
                *l.at_mut(i, j) = s / l.at(j, j);
            }
        }
    }
    let mut x = Mat::zeros(n, b.cols);
    for c in 0..b.cols {
        let mut y = vec![0.0; n];
        for i in 0..n {
            let s: f64 = (0..i).map(|k| l.at(i, k) * y[k]).sum();
            y[i] = (b.at(i, c) - s) / l.at(i, i);
        }
        for i in (0..n).rev() {
            let s: f64 = (i + 1..n).map(|k| l.at(k, i) * x.at(k, c)).sum();
            *x.at_mut(i, c) = (y[i] - s) / l.at(i, i);
        }
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_affine_map() {
        // y = M x + o with x in 3-D, y in 2-D.
        let m = [[1.0, -2.0, 0.5], [0.3, 0.0, 4.0]];
        let o = [0.7, -1.5];
        let mut xs = Vec::new();
        let mut ys = Vec::new();
        let mut s = 7u64;
        for _ in 0..50 {
            let x: Vec<f64> = (0..3)
                .map(|_| {
                    s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                })
                .collect();
            for k in 0..2 {
                ys.push((0..3).map(|i| m[k][i] * x[i]).sum::<f64>() + o[k]);
            }
            xs.extend(x);
        }
        let x = Mat::from_vec(50, 3, xs).unwrap();
        let y = Mat::from_vec(50, 2, ys).unwrap();
        let map = AffineMap::fit(&x, &y).unwrap();
        for k in 0..2 {
            for i in 0..3 {
                assert!((map.weights.at(i, k) - m[k][i]).abs() < 1e-6, "{map:?}");
            }
            assert!((map.weights.at(3, k) - o[k]).abs() < 1e-6);
            assert!(map.r2[k] > 1.0 - 1e-9);
        }
        let p = map.apply(&[1.0, 1.0, 1.0]);
        assert!((p[0] - (1.0 - 2.0 + 0.5 + 0.7)).abs() < 1e-6);
    }

    #[test]
    fn rank_deficient_inputs_still_fit_and_bad_shapes_fail() {
        // Second input column is a copy of the first: the ridge keeps the system solvable.
        let x = Mat::from_vec(4, 2, vec![0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0]).unwrap();
        let y = Mat::from_vec(4, 1, vec![1.0, 3.0, 5.0, 7.0]).unwrap();
        let map = AffineMap::fit(&x, &y).unwrap();
        assert!((map.apply(&[1.5, 1.5])[0] - 4.0).abs() < 1e-6);
        assert!(AffineMap::fit(&x, &Mat::zeros(3, 1)).is_err());
        assert!(AffineMap::fit(&Mat::zeros(1, 2), &Mat::zeros(1, 1)).is_err());
    }
}
