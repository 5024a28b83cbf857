//! The two held-out scores of the report: how closely the switching linear path follows the
//! GRU over a full rollout, and how much better than a mean-rate model the predicted rates
//! explain the spikes (co-smoothing bits per spike).

use super::mat::Mat;

/// `||H - A||_F / ||H||_F` over all bins and latent units of the held-out full rollout.
/// `None` when `H` is all zeros (the ratio is undefined).
pub fn relative_error(h: &Mat, a: &Mat) -> Option<f64> {
    relative_error_of(&h.data, &a.data)
}

/// [`relative_error`] of two equally long runs of values.
fn relative_error_of(h: &[f64], a: &[f64]) -> Option<f64> {
    let num: f64 = h.iter().zip(a).map(|(x, y)| (x - y) * (x - y)).sum();
    let den: f64 = h.iter().map(|x| x * x).sum();
    (den > 0.0).then(|| (num / den).sqrt())
}

/// [`relative_error`] of each run of `piece_len` rows on its own (the held-out pieces, each a
/// restart from zero), in order; `None` for a piece where `h` is zero. Rows after the last
/// whole piece are left out; no piece when `piece_len` is 0.
pub fn piece_errors(h: &Mat, a: &Mat, piece_len: usize) -> Vec<Option<f64>> {
    if piece_len == 0 || h.cols != a.cols || h.rows != a.rows {
        return Vec::new();
    }
    let width = piece_len * h.cols;
    h.data
        .chunks_exact(width)
        .zip(a.data.chunks_exact(width))
        .map(|(hp, ap)| relative_error_of(hp, ap))
        .collect()
}

/// Floor on a predicted expected count, so that a bin with spikes where the model predicts
/// exactly zero costs a large but finite log-likelihood.
const MIN_RATE: f64 = 1e-12;

/// Poisson log-likelihood of `counts` under expected counts `rates` (same layout), without
/// the `ln y!` term (it cancels in every comparison made here).
pub fn poisson_ll(rates: &[f64], counts: &[f64]) -> f64 {
    rates
        .iter()
        .zip(counts)
        .map(|(&r, &y)| {
            let r = r.max(MIN_RATE);
            y * r.ln() - r
        })
        .sum()
}

/// Co-smoothing bits per spike: `(LL_model - LL_mean) / (n_spikes ln 2)`, with `LL_mean` the
/// Poisson log-likelihood of a model that predicts each neuron's mean count over the same
/// bins. `rates` and `counts` are `T x N` (expected spikes per bin, observed spikes per bin).
/// `None` when there are no spikes.
pub fn co_bps(rates: &Mat, counts: &Mat) -> Option<f64> {
    let n_spikes: f64 = counts.data.iter().sum();
    if n_spikes <= 0.0 {
        return None;
    }
    let mean = counts.column_means();
    let mut ll_mean = 0.0;
    for t in 0..counts.rows {
        for (n, &y) in counts.row(t).iter().enumerate() {
            // A silent neuron's mean is 0 and it predicts its zeros perfectly (0 ln 0 = 0).
            if mean[n] > 0.0 {
                ll_mean += y * mean[n].ln() - mean[n];
            }
        }
    }
    let ll_model = poisson_ll(&rates.data, &counts.data);
    Some((ll_model - ll_mean) / (n_spikes * std::f64::consts::LN_2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_error_of_known_paths() {
        let h = Mat::from_vec(2, 2, vec![3.0, 0.0, 0.0, 4.0]).unwrap();
        let a = Mat::from_vec(2, 2, vec![3.0, 0.5, 0.0, 4.0]).unwrap();
        assert!((relative_error(&h, &a).unwrap() - 0.1).abs() < 1e-12);
        assert_eq!(relative_error(&h, &h), Some(0.0));
        assert_eq!(relative_error(&Mat::zeros(2, 2), &a), None);
    }

    #[test]
    fn piece_errors_score_each_piece_alone() {
        // Two pieces of 2 rows: the first exact, the second off by 0.5 in one of |h| = 5.
        let h = Mat::from_vec(5, 1, vec![3.0, 4.0, 3.0, 4.0, 9.0]).unwrap();
        let a = Mat::from_vec(5, 1, vec![3.0, 4.0, 3.0, 4.5, 0.0]).unwrap();
        let p = piece_errors(&h, &a, 2);
        assert_eq!(p.len(), 2, "the fifth row fills no piece");
        assert_eq!(p[0], Some(0.0));
        assert!((p[1].unwrap() - 0.1).abs() < 1e-12);
        let zero = Mat::zeros(2, 1);
        assert_eq!(piece_errors(&zero, &a, 2).len(), 0, "shapes differ");
        assert_eq!(piece_errors(&zero, &zero, 2), vec![None]);
        assert!(piece_errors(&h, &a, 0).is_empty());
    }

    /// Counts drawn from known time-varying rates (a fixed pseudo-random stream).
    fn sample(rates: &Mat, seed: u64) -> Mat {
        let mut s = seed;
        let mut uniform = move || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let data = rates
            .data
            .iter()
            .map(|&r| {
                // Knuth's product method (small rates).
                let (l, mut k, mut p) = ((-r).exp(), 0.0, 1.0);
                loop {
                    p *= uniform();
                    if p <= l {
                        break k;
                    }
                    k += 1.0;
                }
            })
            .collect();
        Mat::from_vec(rates.rows, rates.cols, data).unwrap()
    }

    #[test]
    fn true_rates_beat_the_mean_and_the_mean_scores_zero() {
        let (t, n) = (4000, 5);
        let rates = Mat::from_vec(
            t,
            n,
            (0..t * n)
                .map(|i| {
                    let (b, j) = (i / n, i % n);
                    0.2 * (1.0 + ((b as f64) * 0.05 + j as f64).sin())
                })
                .collect(),
        )
        .unwrap();
        let counts = sample(&rates, 3);
        let good = co_bps(&rates, &counts).unwrap();
        assert!(good > 0.05, "{good}");
        let mean = counts.column_means();
        let flat = Mat::from_vec(t, n, (0..t * n).map(|i| mean[i % n]).collect()).unwrap();
        assert!(co_bps(&flat, &counts).unwrap().abs() < 1e-12);
        // A wrong model (rates shifted in time) is worse than the mean.
        let mut shifted = rates.clone();
        shifted.data.rotate_left(n * 31);
        assert!(co_bps(&shifted, &counts).unwrap() < 0.0);
        assert_eq!(co_bps(&rates, &Mat::zeros(t, n)), None);
    }
}
