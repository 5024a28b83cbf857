//! k-means (Lloyd's algorithm, k-means++ seeding, several restarts, the lowest inertia kept),
//! deterministic for a seed. Used with k = the number of behaviour classes on standardised
//! window embeddings, to ask whether behaviour shows up without any label.

use rand::{Rng, SeedableRng};

fn sqdist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Cluster of each row of `x` (`k` clusters, `restarts` runs of at most `iterations`).
pub fn kmeans(
    x: &[Vec<f64>],
    k: usize,
    restarts: usize,
    iterations: usize,
    seed: u64,
) -> Vec<usize> {
    let m = x.len();
    if m == 0 || k <= 1 {
        return vec![0; m];
    }
    let k = k.min(m);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut best: (f64, Vec<usize>) = (f64::INFINITY, vec![0; m]);
    for _ in 0..restarts.max(1) {
        // k-means++ seeding
        let mut centres: Vec<Vec<f64>> = vec![x[rng.random_range(0..m)].clone()];
        let mut d2: Vec<f64> = x.iter().map(|r| sqdist(r, &centres[0])).collect();
        while centres.len() < k {
            let total: f64 = d2.iter().sum();
            let next = if total > 0.0 {
                let mut u = rng.random_range(0.0..total);
                let mut pick = m - 1;
                for (i, d) in d2.iter().enumerate() {
                    if u < *d {
                        pick = i;
                        break;
                    }
                    u -= d;
                }
                pick
            } else {
                rng.random_range(0..m)
            };
            centres.push(x[next].clone());
            for (d, r) in d2.iter_mut().zip(x) {
                *d = d.min(sqdist(r, &centres[centres.len() - 1]));
            }
        }
        let mut assign = vec![usize::MAX; m];
        let mut inertia = f64::INFINITY;
        for _ in 0..iterations.max(1) {
            let mut changed = false;
            inertia = 0.0;
            for (i, r) in x.iter().enumerate() {
                let (c, d) = centres
                    .iter()
                    .enumerate()
                    .map(|(c, ct)| (c, sqdist(r, ct)))
                    .min_by(|a, b| a.1.total_cmp(&b.1))
                    .unwrap_or((0, 0.0));
                inertia += d;
                if assign[i] != c {
                    assign[i] = c;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
            let p = x[0].len();
            let mut sums = vec![vec![0f64; p]; k];
            let mut counts = vec![0usize; k];
            for (r, &c) in x.iter().zip(&assign) {
                counts[c] += 1;
                for (s, v) in sums[c].iter_mut().zip(r) {
                    *s += v;
                }
            }
            for c in 0..k {
                if counts[c] > 0 {
                    centres[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
                }
            }
        }
        if inertia < best.0 {
            best = (inertia, assign);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_two_obvious_clusters() {
        let mut x = Vec::new();
        for i in 0..20 {
            let off = if i < 10 { 0.0 } else { 10.0 };
            x.push(vec![off + (i % 3) as f64 * 0.1, off - (i % 2) as f64 * 0.1]);
        }
        let a = kmeans(&x, 2, 3, 50, 1);
        assert!(a[..10].iter().all(|&c| c == a[0]));
        assert!(a[10..].iter().all(|&c| c == a[10]));
        assert_ne!(a[0], a[10]);
    }
}
