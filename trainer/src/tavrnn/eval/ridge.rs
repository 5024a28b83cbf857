//! The linear classifier: ridge regression on one-hot class targets, predicted class = argmax,
//! scored under the purged segment folds of [`super::folds`].
//!
//! Features are standardised with the outer fold's training statistics. The fit is done in
//! the dual form, `W = Z^T (Z Z^T + lambda p I)^-1 (Y - mean Y)`, so a window embedding of
//! N x d_z = 1,024 values or a correlation upper triangle of 2,016 costs the same as 16: the
//! Gram matrix of the fold's windows is computed once and every lambda and inner fold reuses
//! it. lambda (scaled by the feature count p, so one grid fits every feature set) is chosen
//! from [`LAMBDAS`] by an inner 3-fold CV of the same purged kind on the outer training
//! windows. Predictions of all outer folds are pooled: every labelled window is predicted
//! exactly once, by a model that never saw it or its neighbours.

use super::folds::{segment_folds, Fold};
use super::metrics::{classification_scores, ClassScores};
use super::standardize;

/// The grid of ridge penalties (times the feature count).
pub const LAMBDAS: [f64; 7] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0];

/// Scores of cross-validated classification.
#[derive(Clone, Debug)]
pub struct Classification {
    /// Fraction of windows predicted right.
    pub accuracy: f64,
    /// Mean F1 over the classes with support.
    pub macro_f1: f64,
    /// Per-class scores.
    pub per_class: Vec<ClassScores>,
    /// lambda chosen in each outer fold.
    pub lambdas: Vec<f64>,
    /// Windows scored.
    pub windows: usize,
}

/// Cholesky solve of `(K + lambda I) A = Y` for a symmetric positive semi-definite `K`
/// (`m x m`), `Y` `m x c`.
fn solve_spd(k: &[f64], m: usize, lambda: f64, y: &[f64], c: usize) -> Vec<f64> {
    let mut l = vec![0f64; m * m];
    for i in 0..m {
        for j in 0..=i {
            let mut s = k[i * m + j] + if i == j { lambda } else { 0.0 };
            for p in 0..j {
                s -= l[i * m + p] * l[j * m + p];
            }
            l[i * m + j] = if i == j {
                s.max(1e-12).sqrt()
            } else {
                s / l[j * m + j]
            };
        }
    }
    let mut a = y.to_vec();
    for col in 0..c {
        for i in 0..m {
            let mut s = a[i * c + col];
            for p in 0..i {
                s -= l[i * m + p] * a[p * c + col];
            }
            a[i * c + col] = s / l[i * m + i];
        }
        for i in (0..m).rev() {
            let mut s = a[i * c + col];
            for p in i + 1..m {
                s -= l[p * m + i] * a[p * c + col];
            }
            a[i * c + col] = s / l[i * m + i];
        }
    }
    a
}

/// Fits on positions `train` and predicts positions `test` of a Gram matrix `k` (`n x n`,
/// positions index its rows); `y[pos]` is the class of position `pos`.
fn fit_predict(
    k: &[f64],
    n: usize,
    y: &[usize],
    classes: usize,
    train: &[usize],
    test: &[usize],
    lambda: f64,
) -> Vec<usize> {
    let m = train.len();
    let mut ymean = vec![0f64; classes];
    for &i in train {
        ymean[y[i]] += 1.0 / m as f64;
    }
    let mut yc = vec![0f64; m * classes];
    for (r, &i) in train.iter().enumerate() {
        for c in 0..classes {
            yc[r * classes + c] = f64::from(u8::from(y[i] == c)) - ymean[c];
        }
    }
    let mut kt = vec![0f64; m * m];
    for (r, &i) in train.iter().enumerate() {
        for (s, &j) in train.iter().enumerate() {
            kt[r * m + s] = k[i * n + j];
        }
    }
    let a = solve_spd(&kt, m, lambda, &yc, classes);
    test.iter()
        .map(|&i| {
            let mut score = ymean.clone();
            for (r, &j) in train.iter().enumerate() {
                let kv = k[i * n + j];
                for (c, s) in score.iter_mut().enumerate() {
                    *s += kv * a[r * classes + c];
                }
            }
            (0..classes)
                .max_by(|&a, &b| score[a].total_cmp(&score[b]))
                .unwrap_or(0)
        })
        .collect()
}

/// Cross-validated classification of windows `x` (one row per window of the sequence, time
/// order) against `labels` (None = unlabelled, not scored).
pub fn cross_validate(
    x: &[Vec<f64>],
    labels: &[Option<usize>],
    class_names: &[String],
    folds: &[Fold],
    gap: usize,
) -> Classification {
    let classes = class_names.len();
    let p = x.first().map_or(1, Vec::len).max(1) as f64;
    let (mut truth, mut pred, mut lambdas) = (Vec::new(), Vec::new(), Vec::new());
    for fold in folds
        .iter()
        .filter(|f| !f.train.is_empty() && !f.test.is_empty())
    {
        // Positions: the fold's training windows, then its test windows.
        let used: Vec<usize> = fold.train.iter().chain(&fold.test).copied().collect();
        let n = used.len();
        let (mean, sd) = standardize::stats(x, &fold.train);
        let k = standardize::gram(&standardize::apply(x, &used, &mean, &sd));
        let y: Vec<usize> = used.iter().map(|&w| labels[w].unwrap_or(0)).collect();
        let train_pos: Vec<usize> = (0..fold.train.len()).collect();
        let test_pos: Vec<usize> = (fold.train.len()..n).collect();
        // Inner folds over the training windows (same purged segment scheme).
        let mut inner_labels = vec![None; labels.len()];
        for &w in &fold.train {
            inner_labels[w] = labels[w];
        }
        let mut pos_of = vec![usize::MAX; labels.len()];
        for (pos, &w) in used.iter().enumerate() {
            pos_of[w] = pos;
        }
        let inner: Vec<(Vec<usize>, Vec<usize>)> = segment_folds(&inner_labels, 3, gap)
            .into_iter()
            .filter(|f| !f.train.is_empty() && !f.test.is_empty())
            .map(|f| {
                (
                    f.train.iter().map(|&w| pos_of[w]).collect(),
                    f.test.iter().map(|&w| pos_of[w]).collect(),
                )
            })
            .collect();
        let mut best = (f64::NEG_INFINITY, LAMBDAS[0]);
        for &lam in &LAMBDAS {
            let (mut ok, mut all) = (0usize, 0usize);
            for (tr, te) in &inner {
                let pr = fit_predict(&k, n, &y, classes, tr, te, lam * p);
                ok += te.iter().zip(&pr).filter(|(i, c)| y[**i] == **c).count();
                all += te.len();
            }
            let acc = ok as f64 / all.max(1) as f64;
            if acc > best.0 {
                best = (acc, lam);
            }
        }
        lambdas.push(best.1);
        pred.extend(fit_predict(
            &k,
            n,
            &y,
            classes,
            &train_pos,
            &test_pos,
            best.1 * p,
        ));
        truth.extend(test_pos.iter().map(|&i| y[i]));
    }
    let (accuracy, macro_f1, per_class) = classification_scores(&truth, &pred, class_names);
    Classification {
        accuracy,
        macro_f1,
        per_class,
        lambdas,
        windows: truth.len(),
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;

    #[test]
    fn separable_classes_are_found_and_noise_is_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(5);
        let names: Vec<String> = (0..3).map(|c| format!("c{c}")).collect();
        let (mut labels, mut x) = (Vec::new(), Vec::new());
        for s in 0..30 {
            let c = s % 3;
            for _ in 0..5 {
                labels.push(Some(c));
                let mut v: Vec<f64> = (0..10).map(|_| rng.random_range(-1.0..1.0)).collect();
                v[c] += 4.0;
                x.push(v);
            }
        }
        let folds = segment_folds(&labels, 5, 1);
        let s = cross_validate(&x, &labels, &names, &folds, 1);
        assert!(s.accuracy > 0.97 && s.macro_f1 > 0.97, "{s:?}");
        assert_eq!(s.windows, labels.len());
        let noise: Vec<Vec<f64>> = (0..x.len())
            .map(|_| (0..10).map(|_| rng.random_range(-1.0..1.0)).collect())
            .collect();
        let s = cross_validate(&noise, &labels, &names, &folds, 1);
        assert!(s.accuracy < 0.6, "{s:?}");
    }
}
