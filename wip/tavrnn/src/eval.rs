//! Evaluation of window embeddings against behaviour labels: a linear classifier (ridge
//! regression on one-hot targets, argmax) under segment-stratified k-fold cross-validation
//! with a purge gap, accuracy and macro-F1. Plain f64 Rust, no Burn.
//!
//! Folds: the labelled windows are cut into *segments* (maximal runs of consecutive windows
//! with the same label). Each class's segments, in time order, are dealt to the k folds in
//! turn (segment i of class c goes to fold (i + c) mod k), so every fold holds every class in
//! about the same proportion (stratified) and a segment is never split between test and
//! training. A training window closer than `gap` windows (in window index) to any test window
//! is dropped (purged), so no training window shares a bin with a test window when
//! `gap >= ceil(window / step)`.
//!
//! Classifier: features standardised with training statistics; ridge `W = X^T (X X^T +
//! lambda I)^-1 Y` (dual form, so 2000-dimensional correlation features cost the same as 16);
//! lambda picked from a grid by an inner 3-fold CV of the same kind on the training windows.
//! Predictions of all outer folds are pooled: every labelled window is predicted once.

#[derive(Clone, Debug)]
pub struct Fold {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// `labels[i]` is the class of window i (time order) or None; returns folds of window indices.
pub fn segment_folds(labels: &[Option<usize>], k: usize, gap: usize) -> Vec<Fold> {
    let mut segments: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let Some(c) = *l else { continue };
        match segments.last_mut() {
            Some((pc, idx)) if *pc == c && idx.last() == Some(&(i - 1)) => idx.push(i),
            _ => segments.push((c, vec![i])),
        }
    }
    let mut seen = std::collections::HashMap::new();
    let mut fold_of = vec![usize::MAX; labels.len()];
    for (c, idx) in &segments {
        let i = seen.entry(*c).or_insert(0usize);
        let f = (*i + *c) % k;
        *i += 1;
        for &w in idx {
            fold_of[w] = f;
        }
    }
    (0..k)
        .map(|f| {
            let test: Vec<usize> = (0..labels.len()).filter(|&w| fold_of[w] == f).collect();
            let mut near = vec![false; labels.len()];
            for &t in &test {
                for w in t.saturating_sub(gap)..=(t + gap).min(labels.len() - 1) {
                    near[w] = true;
                }
            }
            let train = (0..labels.len())
                .filter(|&w| fold_of[w] != usize::MAX && fold_of[w] != f && !near[w])
                .collect();
            Fold { train, test }
        })
        .collect()
}

/// Cholesky solve of `(K + lambda I) A = Y` for symmetric positive definite K (`m x m`),
/// Y `m x c`; returns A.
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

/// Fits ridge on `train` and predicts `test`; `x` `[windows][p]`.
fn ridge_predict(
    x: &[Vec<f64>],
    y: &[usize],
    classes: usize,
    train: &[usize],
    test: &[usize],
    lambda: f64,
) -> Vec<usize> {
    let p = x[0].len();
    let m = train.len();
    let mut mean = vec![0f64; p];
    for &i in train {
        for (a, v) in mean.iter_mut().zip(&x[i]) {
            *a += v / m as f64;
        }
    }
    let mut sd = vec![0f64; p];
    for &i in train {
        for ((s, v), mu) in sd.iter_mut().zip(&x[i]).zip(&mean) {
            *s += (v - mu) * (v - mu) / m as f64;
        }
    }
    let sd: Vec<f64> = sd
        .iter()
        .map(|v| if *v > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    let z = |i: usize| -> Vec<f64> {
        x[i].iter()
            .zip(&mean)
            .zip(&sd)
            .map(|((v, mu), s)| (v - mu) / s)
            .collect()
    };
    let xt: Vec<Vec<f64>> = train.iter().map(|&i| z(i)).collect();
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
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>();
    let mut k = vec![0f64; m * m];
    for i in 0..m {
        for j in 0..=i {
            let v = dot(&xt[i], &xt[j]);
            k[i * m + j] = v;
            k[j * m + i] = v;
        }
    }
    // Scale lambda with the feature count so one grid fits every feature set.
    let a = solve_spd(&k, m, lambda * p as f64, &yc, classes);
    test.iter()
        .map(|&i| {
            let xi = z(i);
            let mut score = ymean.clone();
            for (r, xr) in xt.iter().enumerate() {
                let kv = dot(&xi, xr);
                for c in 0..classes {
                    score[c] += kv * a[r * classes + c];
                }
            }
            (0..classes)
                .max_by(|&a, &b| score[a].total_cmp(&score[b]))
                .unwrap_or(0)
        })
        .collect()
}

pub const LAMBDAS: [f64; 7] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0];

#[derive(Clone, Debug)]
pub struct Scores {
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class_f1: Vec<f64>,
    pub lambdas: Vec<f64>,
    pub windows: usize,
}

/// Accuracy and macro-F1 (mean over classes with support) of pooled predictions.
pub fn scores(truth: &[usize], pred: &[usize], classes: usize) -> (f64, f64, Vec<f64>) {
    let acc = truth.iter().zip(pred).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64;
    let mut f1 = Vec::new();
    for c in 0..classes {
        let tp = truth
            .iter()
            .zip(pred)
            .filter(|&(&t, &p)| t == c && p == c)
            .count() as f64;
        let support = truth.iter().filter(|&&t| t == c).count() as f64;
        let predicted = pred.iter().filter(|&&p| p == c).count() as f64;
        if support == 0.0 {
            continue;
        }
        f1.push(if tp == 0.0 {
            0.0
        } else {
            2.0 * tp / (support + predicted)
        });
    }
    let macro_f1 = f1.iter().sum::<f64>() / f1.len().max(1) as f64;
    (acc, macro_f1, f1)
}

/// Cross-validated classification of windows `x` (one row per window, all windows, time
/// order) with labels `labels` (None = unlabelled, excluded).
pub fn cross_validate(
    x: &[Vec<f64>],
    labels: &[Option<usize>],
    classes: usize,
    folds: &[Fold],
    gap: usize,
) -> Scores {
    let y: Vec<usize> = labels.iter().map(|l| l.unwrap_or(0)).collect();
    let (mut truth, mut pred, mut lambdas) = (Vec::new(), Vec::new(), Vec::new());
    for fold in folds {
        // inner CV on the training windows for lambda
        let inner_labels: Vec<Option<usize>> = (0..labels.len())
            .map(|w| {
                if fold.train.binary_search(&w).is_ok() {
                    labels[w]
                } else {
                    None
                }
            })
            .collect();
        let inner = segment_folds(&inner_labels, 3, gap);
        let mut best = (f64::NEG_INFINITY, LAMBDAS[0]);
        for &lam in &LAMBDAS {
            let (mut ok, mut all) = (0usize, 0usize);
            for f in inner
                .iter()
                .filter(|f| !f.train.is_empty() && !f.test.is_empty())
            {
                let p = ridge_predict(x, &y, classes, &f.train, &f.test, lam);
                ok += f.test.iter().zip(&p).filter(|(i, p)| y[**i] == **p).count();
                all += f.test.len();
            }
            let acc = ok as f64 / all.max(1) as f64;
            if acc > best.0 {
                best = (acc, lam);
            }
        }
        lambdas.push(best.1);
        let p = ridge_predict(x, &y, classes, &fold.train, &fold.test, best.1);
        truth.extend(fold.test.iter().map(|&i| y[i]));
        pred.extend(p);
    }
    let (accuracy, macro_f1, per_class_f1) = scores(&truth, &pred, classes);
    Scores {
        accuracy,
        macro_f1,
        per_class_f1,
        lambdas,
        windows: truth.len(),
    }
}
