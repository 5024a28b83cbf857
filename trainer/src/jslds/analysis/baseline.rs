//! The baseline a regime detector must beat: a threshold detector on the population rate.
//!
//! Per bin, the summed count of all neurons is smoothed by a causal moving average (the
//! device could run it: only past bins); up to `L - 1` thresholds (`L` true labels) cut the
//! smoothed rate into `L` intervals, each reporting one label. Everything is chosen on the
//! training bins only: the smoothing window (from [`WINDOWS_S`]), and the thresholds and
//! their labels (the best partition of the training bins' rate axis into at most `L`
//! intervals, by dynamic programming over [`QUANTILES`] quantile cells). The score is the
//! accuracy on the held-out bins.

use std::ops::Range;

use serde::Serialize;

/// Candidate smoothing windows, seconds (at least one bin each).
pub const WINDOWS_S: [f64; 8] = [0.0, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 4.0];

/// Quantile cells of the training rate axis that thresholds are chosen between.
pub const QUANTILES: usize = 256;

/// The fitted detector and its held-out accuracy.
#[derive(Debug, Clone, Serialize)]
pub struct RateThresholdBaseline {
    /// Held-out accuracy (fraction of bins whose detected label is the true one).
    pub accuracy: f64,
    /// Accuracy on the training bins it was fitted on.
    pub train_accuracy: f64,
    /// Causal moving-average window, seconds.
    pub window_s: f64,
    /// Thresholds on the smoothed population count per bin, increasing.
    pub thresholds: Vec<f64>,
    /// Label index reported below the first threshold, between thresholds, above the last.
    pub labels: Vec<usize>,
}

/// Fits on the bins `train` and scores on the bins `test` of `population` (summed count per
/// bin) against `labels` (true label index per bin, `< n_labels`). `None` when either range
/// is empty or out of bounds.
pub fn fit_rate_threshold(
    population: &[f64],
    labels: &[usize],
    n_labels: usize,
    bin_s: f64,
    train: Range<usize>,
    test: Range<usize>,
) -> Option<RateThresholdBaseline> {
    let n = population.len().min(labels.len());
    if train.is_empty() || test.is_empty() || train.end > n || test.end > n || n_labels == 0 {
        return None;
    }
    let mut best: Option<(Detector, f64, usize)> = None;
    let mut tried = Vec::new();
    for w_s in WINDOWS_S {
        let w = ((w_s / bin_s).round() as usize).max(1);
        if tried.contains(&w) {
            continue;
        }
        tried.push(w);
        let smooth = causal_mean(population, w);
        let det = Detector::fit(&smooth[train.clone()], &labels[train.clone()], n_labels);
        let acc = det.accuracy(&smooth[train.clone()], &labels[train.clone()]);
        if best.as_ref().is_none_or(|(_, a, _)| acc > *a) {
            best = Some((det, acc, w));
        }
    }
    let (det, train_accuracy, w) = best?;
    let smooth = causal_mean(population, w);
    Some(RateThresholdBaseline {
        accuracy: det.accuracy(&smooth[test.clone()], &labels[test]),
        train_accuracy,
        window_s: w as f64 * bin_s,
        thresholds: det.thresholds,
        labels: det.labels,
    })
}

/// Mean of the last `w` values up to and including each bin (fewer at the start).
pub fn causal_mean(x: &[f64], w: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len());
    let mut sum = 0.0;
    for i in 0..x.len() {
        sum += x[i];
        if i >= w {
            sum -= x[i - w];
        }
        out.push(sum / (i + 1).min(w) as f64);
    }
    out
}

/// Intervals of the rate axis with their labels.
#[derive(Debug, Clone)]
struct Detector {
    thresholds: Vec<f64>,
    labels: Vec<usize>,
}

impl Detector {
    /// The best partition of the training values into at most `n_labels` intervals.
    fn fit(values: &[f64], labels: &[usize], n_labels: usize) -> Detector {
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        // Cell edges: distinct quantiles; cell c holds values in [edge[c-1], edge[c]).
        let mut edges: Vec<f64> = (1..QUANTILES)
            .map(|q| sorted[q * sorted.len() / QUANTILES])
            .collect();
        edges.dedup();
        let cells = edges.len() + 1;
        let cell_of = |v: f64| edges.partition_point(|&e| e <= v);
        let mut hist = vec![vec![0usize; n_labels]; cells];
        for (&v, &l) in values.iter().zip(labels) {
            if l < n_labels {
                hist[cell_of(v)][l] += 1;
            }
        }
        // prefix[c][l]: count of label l in cells < c.
        let mut prefix = vec![vec![0usize; n_labels]; cells + 1];
        for c in 0..cells {
            for l in 0..n_labels {
                prefix[c + 1][l] = prefix[c][l] + hist[c][l];
            }
        }
        let majority = |a: usize, b: usize| -> (usize, usize) {
            (0..n_labels)
                .map(|l| (prefix[b][l] - prefix[a][l], l))
                .max_by(|x, y| x.0.cmp(&y.0).then(y.1.cmp(&x.1)))
                .unwrap_or((0, 0))
        };
        // score[j][c]: best hits covering cells < c with j + 1 intervals; from[j][c]: start.
        let k = n_labels.min(cells);
        let mut score = vec![vec![0usize; cells + 1]; k];
        let mut from = vec![vec![0usize; cells + 1]; k];
        for c in 1..=cells {
            score[0][c] = majority(0, c).0;
        }
        for j in 1..k {
            for c in 1..=cells {
                score[j][c] = score[j - 1][c];
                from[j][c] = c;
                for a in 1..c {
                    let s = score[j - 1][a] + majority(a, c).0;
                    if s > score[j][c] {
                        score[j][c] = s;
                        from[j][c] = a;
                    }
                }
            }
        }
        // Walk back from the full axis.
        let mut cuts = Vec::new();
        let (mut j, mut c) = (k - 1, cells);
        loop {
            if j == 0 {
                break;
            }
            let a = from[j][c];
            if a != c {
                cuts.push(a);
                c = a;
            }
            j -= 1;
        }
        cuts.reverse();
        let mut bounds = vec![0];
        bounds.extend(&cuts);
        bounds.push(cells);
        Detector {
            thresholds: cuts.iter().map(|&c| edges[c - 1]).collect(),
            labels: bounds.windows(2).map(|w| majority(w[0], w[1]).1).collect(),
        }
    }

    fn label(&self, v: f64) -> usize {
        self.labels[self.thresholds.partition_point(|&t| t <= v)]
    }

    fn accuracy(&self, values: &[f64], labels: &[usize]) -> f64 {
        let hits = values
            .iter()
            .zip(labels)
            .filter(|(&v, &l)| self.label(v) == l)
            .count();
        hits as f64 / values.len().max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causal_mean_uses_only_the_past() {
        assert_eq!(
            causal_mean(&[1.0, 3.0, 5.0, 7.0], 2),
            vec![1.0, 2.0, 4.0, 6.0]
        );
        assert_eq!(causal_mean(&[2.0, 4.0], 1), vec![2.0, 4.0]);
    }

    #[test]
    fn separable_rates_are_detected_and_equal_rates_are_not() {
        // Three labels with population rates 2, 10, 5 in blocks of 50 bins, repeated.
        let mut pop = Vec::new();
        let mut lab = Vec::new();
        let mut s = 1u64;
        for block in 0..40 {
            let l = block % 3;
            for _ in 0..50 {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1);
                let noise = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                pop.push([2.0, 10.0, 5.0][l] + noise);
                lab.push(l);
            }
        }
        let b = fit_rate_threshold(&pop, &lab, 3, 0.01, 0..1000, 1000..2000).unwrap();
        assert!(b.accuracy > 0.99, "{b:?}");
        assert_eq!(b.thresholds.len(), 2);
        assert_eq!(b.labels, vec![0, 2, 1]);
        assert!(b.thresholds[0] > 2.4 && b.thresholds[0] < 4.6, "{b:?}");
        // Same rate in every label: no detector does better than the largest class.
        let flat: Vec<f64> = pop
            .iter()
            .zip(&lab)
            .map(|(p, l)| p - [2.0, 10.0, 5.0][*l])
            .collect();
        let b = fit_rate_threshold(&flat, &lab, 3, 0.01, 0..1000, 1000..2000).unwrap();
        assert!(b.accuracy < 0.5, "{b:?}");
        assert!(fit_rate_threshold(&pop, &lab, 3, 0.01, 0..0, 0..10).is_none());
    }
}
