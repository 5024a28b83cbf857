//! Clustering scores: adjusted Rand index and normalised mutual information of a clustering
//! against the labels, and the silhouette of the clustering itself (Euclidean).

/// Contingency table `[a][b]` of two labelings.
fn contingency(a: &[usize], b: &[usize]) -> Vec<Vec<f64>> {
    let ka = a.iter().max().map_or(0, |m| m + 1);
    let kb = b.iter().max().map_or(0, |m| m + 1);
    let mut t = vec![vec![0f64; kb]; ka];
    for (&i, &j) in a.iter().zip(b) {
        t[i][j] += 1.0;
    }
    t
}

fn comb2(x: f64) -> f64 {
    x * (x - 1.0) / 2.0
}

/// Adjusted Rand index (Hubert & Arabie): 1 for identical partitions, about 0 for chance.
pub fn adjusted_rand_index(truth: &[usize], pred: &[usize]) -> f64 {
    let t = contingency(truth, pred);
    let n = truth.len() as f64;
    let sum_ij: f64 = t.iter().flatten().map(|&v| comb2(v)).sum();
    let rows: f64 = t.iter().map(|r| comb2(r.iter().sum())).sum();
    let cols: f64 = (0..t.first().map_or(0, Vec::len))
        .map(|j| comb2(t.iter().map(|r| r[j]).sum()))
        .sum();
    let expected = rows * cols / comb2(n).max(1.0);
    let max = (rows + cols) / 2.0;
    if (max - expected).abs() < 1e-12 {
        return if (sum_ij - expected).abs() < 1e-12 {
            1.0
        } else {
            0.0
        };
    }
    (sum_ij - expected) / (max - expected)
}

/// Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default):
/// `I(T; P) / ((H(T) + H(P)) / 2)`; 1 for identical partitions, 0 for independent ones.
pub fn normalized_mutual_information(truth: &[usize], pred: &[usize]) -> f64 {
    let t = contingency(truth, pred);
    let n = truth.len() as f64;
    let entropy = |counts: Vec<f64>| -> f64 {
        counts
            .iter()
            .filter(|&&c| c > 0.0)
            .map(|&c| -(c / n) * (c / n).ln())
            .sum()
    };
    let rows: Vec<f64> = t.iter().map(|r| r.iter().sum()).collect();
    let cols: Vec<f64> = (0..t.first().map_or(0, Vec::len))
        .map(|j| t.iter().map(|r| r[j]).sum())
        .collect();
    let mut mi = 0.0;
    for (i, r) in t.iter().enumerate() {
        for (j, &v) in r.iter().enumerate() {
            if v > 0.0 {
                mi += v / n * ((v * n) / (rows[i] * cols[j])).ln();
            }
        }
    }
    let (ht, hp) = (entropy(rows), entropy(cols));
    if ht + hp <= 0.0 {
        return 1.0;
    }
    (mi / ((ht + hp) / 2.0)).clamp(0.0, 1.0)
}

/// Mean silhouette of clustering `assign` of rows `x` (Euclidean distance); points alone in
/// their cluster score 0, and a single cluster scores 0.
pub fn silhouette(x: &[Vec<f64>], assign: &[usize]) -> f64 {
    let m = x.len();
    let k = assign.iter().max().map_or(0, |v| v + 1);
    if m < 2 || k < 2 {
        return 0.0;
    }
    let mut sizes = vec![0usize; k];
    assign.iter().for_each(|&c| sizes[c] += 1);
    let mut total = 0.0;
    for i in 0..m {
        let mut sum = vec![0f64; k];
        for j in 0..m {
            if i != j {
                let d: f64 = x[i]
                    .iter()
                    .zip(&x[j])
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                sum[assign[j]] += d;
            }
        }
        let own = assign[i];
        if sizes[own] <= 1 {
            continue;
        }
        let a = sum[own] / (sizes[own] - 1) as f64;
        let b = (0..k)
            .filter(|&c| c != own && sizes[c] > 0)
            .map(|c| sum[c] / sizes[c] as f64)
            .fold(f64::INFINITY, f64::min);
        if b.is_finite() && a.max(b) > 0.0 {
            total += (b - a) / a.max(b);
        }
    }
    total / m as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_partitions_score_one_whatever_the_names() {
        let t = [0, 0, 1, 1, 2, 2];
        let p = [2, 2, 0, 0, 1, 1];
        assert!((adjusted_rand_index(&t, &p) - 1.0).abs() < 1e-12);
        assert!((normalized_mutual_information(&t, &p) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn ari_matches_a_hand_computed_case() {
        // scikit-learn: adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714285714
        let v = adjusted_rand_index(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((v - 0.571_428_571_428_571_4).abs() < 1e-9, "{v}");
        // normalized_mutual_info_score([0,0,1,1],[0,0,1,2]) = 0.8
        let v = normalized_mutual_information(&[0, 0, 1, 1], &[0, 0, 1, 2]);
        assert!((v - 0.8).abs() < 1e-9, "{v}");
    }

    #[test]
    fn silhouette_of_tight_far_clusters_is_near_one() {
        let x: Vec<Vec<f64>> = (0..10)
            .map(|i| vec![if i < 5 { 0.0 } else { 100.0 } + i as f64 * 0.01])
            .collect();
        let a: Vec<usize> = (0..10).map(|i| usize::from(i >= 5)).collect();
        assert!(silhouette(&x, &a) > 0.99);
    }
}
