//! How the trained model lines up with the ground truth of a simulated session.
//!
//! * An affine map from the model's latent space to the true latent state is fitted by least
//!   squares on the held-out bins (`h_t` against the true state of the same time).
//! * Fixed points: every true *stable* fixed point (`truth.fixed_points` with `stable`; for
//!   `switching-linear` the regimes' points `e_k` whose `F_k` is stable) counts as matched
//!   when some occupied, pinned regime's expansion point (the free points of
//!   `--free-regimes` are not held to fixed points), mapped, lies within [`MATCH_FRACTION`]
//!   of the smallest distance between two true stable points (flip-flop corners are 2 apart:
//!   0.5; the `regimes` attractors about 1.41 apart: 0.35). With one true point the scale is
//!   the RMS spread of the true latent state instead.
//! * Attractors: the same for the GRU's own attractors at the input anchor (where it comes to
//!   rest from the held-out states), whether or not a pinned expansion point sits on them.
//! * Frequency: the model frequency (over the occupied regimes' `frequencies_hz`) closest to
//!   the truth's oscillation; a model without any oscillatory mode counts as 0 Hz.
//! * Regimes: each model regime is mapped to the true label it co-occurs with most on the
//!   held-out bins (majority mapping); the accuracy is the fraction of held-out bins whose
//!   mapped label is the true one. Also the delay from each true switch to the first bin the
//!   mapped label shows the new regime.

use serde::Serialize;

use super::baseline::RateThresholdBaseline;
use super::eigen::eigenvalues;
use super::lstsq::AffineMap;
use super::mat::{distance, Mat};
use super::regime::RegimeReport;
use super::ring::{ring_in_pcs, ring_measure, RingMeasure};
use super::truth::TruthSession;
use crate::jslds::analysis_inputs::AttractorInput;

/// Match tolerance as a fraction of the smallest distance between true stable points.
pub const MATCH_FRACTION: f64 = 0.25;

/// The `truth_match` object of the report (keys documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct TruthMatch {
    /// Number of true stable fixed points.
    pub fixed_points_true: usize,
    /// How many of them an expansion point matches (within `match_tolerance`).
    pub fixed_points_matched: usize,
    /// `|f_model - f_true|`, Hz; `null` where the truth has no oscillation.
    pub frequency_error_hz: Option<f64>,
    /// Fraction of held-out bins whose (majority-mapped) regime is the true one.
    pub regime_accuracy: f64,
    /// Held-out accuracy of the population-rate threshold detector (`null` when the session's
    /// spikes were not found or the truth has a single regime).
    pub baseline_rate_threshold_accuracy: Option<f64>,
    /// Scenario of the truth.
    pub scenario: String,
    /// Distance (true-state units) within which a fixed point counts as matched.
    pub match_tolerance: Option<f64>,
    /// R^2 of the affine map latent -> true state, per true dimension (held-out bins).
    pub affine_map_r2: Vec<f64>,
    /// Per true stable fixed point: the nearest mapped expansion point.
    pub fixed_point_matches: Vec<FixedPointMatch>,
    /// How many true stable fixed points one of the GRU's own attractors (the report's
    /// `attractors`) matches, with the same map and tolerance as `fixed_points_matched`: the
    /// stable states the GRU learned, whether or not a pinned expansion point sits on them.
    pub attractors_matched: usize,
    /// Per true stable fixed point: the nearest mapped attractor (`regime` is its index in
    /// `attractors`).
    pub attractor_matches: Vec<FixedPointMatch>,
    /// The truth's oscillation frequency, Hz.
    pub frequency_true_hz: Option<f64>,
    /// The model frequency closest to it, Hz (0 when the model has no oscillatory mode).
    pub frequency_model_hz: Option<f64>,
    /// The regime that frequency belongs to.
    pub frequency_regime: Option<usize>,
    /// `regime_accuracy` with the mapping fitted on one half of the held-out bins and scored on
    /// the other (both ways, pooled): free of the optimism of fitting and scoring on the same
    /// bins.
    pub regime_accuracy_crossfit: f64,
    /// The true label each model regime maps to (`null`: never used on held-out bins).
    pub regime_labels: Vec<Option<String>>,
    /// Median delay from a true switch to the mapped regime showing the new label, ms.
    pub switch_delay_ms_median: Option<f64>,
    /// Fraction of true switches shown before the next true switch.
    pub switches_detected: Option<f64>,
    /// Ring measure of the occupied expansion points (ring-theta: in the true ring plane).
    pub ring: Option<RingMeasure>,
    /// The same in the top two principal components of the points (no truth needed).
    pub ring_pcs: Option<RingMeasure>,
    /// The ring measure (true ring plane) of each occupied regime's mean held-out state: where
    /// the regimes tile the state space, whether or not their expansion points lie there.
    pub ring_regime_means: Option<RingMeasure>,
    /// The fitted rate-threshold detector.
    pub baseline_rate_threshold: Option<RateThresholdBaseline>,
}

/// One true stable fixed point and its nearest mapped expansion point (or attractor).
#[derive(Debug, Clone, Serialize)]
pub struct FixedPointMatch {
    /// The true point.
    pub point: Vec<f64>,
    /// The nearest occupied regime, if any.
    pub regime: Option<usize>,
    /// Its expansion point mapped into the true space.
    pub mapped_point: Option<Vec<f64>>,
    /// Distance between them.
    pub distance: Option<f64>,
    /// Within the tolerance.
    pub matched: bool,
}

/// What [`match_truth`] needs from the model side.
pub struct ModelSide<'a> {
    /// Bin width of the model, seconds.
    pub bin_s: f64,
    /// Start of the model's session bin 0, seconds (a Phy folder's counts start at its first
    /// spike).
    pub start_s: f64,
    /// Session bin index of held-out bin 0.
    pub first_bin: usize,
    /// Held-out GRU states, `bins x d`.
    pub h: &'a Mat,
    /// Regime of each held-out bin.
    pub regime: &'a [usize],
    /// The per-regime report (expansion points, frequencies, occupancy).
    pub regimes: &'a [RegimeReport],
    /// The GRU's attractors at the input anchor (may be empty).
    pub attractors: &'a [AttractorInput],
}

/// Scores the model against the truth. `baseline` is computed by the caller (it needs the
/// session's spikes).
pub fn match_truth(
    model: &ModelSide<'_>,
    truth: &TruthSession,
    baseline: Option<RateThresholdBaseline>,
) -> anyhow::Result<TruthMatch> {
    let t = &truth.truth;
    let bins = model.regime.len();
    let truth_bins: Vec<Option<usize>> = (0..bins)
        .map(|i| truth.bin_of_model_bin(model.first_bin + i, model.bin_s, model.start_s))
        .collect();
    let labels: Vec<Option<usize>> = truth_bins
        .iter()
        .map(|b| b.map(|b| usize::from(t.regime_per_bin[b])))
        .collect();
    if labels.iter().all(Option::is_none) {
        anyhow::bail!(
            "{}: the held-out bins ({} s to {} s) lie outside the truth's {} s: not the same session?",
            truth.path.display(),
            model.first_bin as f64 * model.bin_s,
            (model.first_bin + bins) as f64 * model.bin_s,
            t.duration_s
        );
    }
    let occupied: Vec<usize> = model
        .regimes
        .iter()
        .filter(|r| r.occupancy > 0.0)
        .map(|r| r.regime)
        .collect();

    // Affine map and fixed points.
    let map = match &truth.latent {
        Some(latent) => Some(fit_map(model.h, latent, &truth_bins)?),
        None => None,
    };
    let true_points = true_stable_points(truth);
    let tolerance = match_tolerance(&true_points, truth.latent.as_ref());
    let mut matches = Vec::new();
    let mut attractor_matches = Vec::new();
    if let (Some(map), Some(tol)) = (&map, tolerance) {
        // Free points (not held to a fixed point) do not count as fixed points.
        let pinned: Vec<(usize, &[f64])> = occupied
            .iter()
            .filter(|&&k| model.regimes[k].pinned)
            .map(|&k| (k, model.regimes[k].expansion_point.as_slice()))
            .collect();
        let attractors: Vec<(usize, &[f64])> = model
            .attractors
            .iter()
            .enumerate()
            .map(|(i, a)| (i, a.point.as_slice()))
            .collect();
        for p in &true_points {
            matches.push(nearest_match(p, &pinned, map, tol));
            attractor_matches.push(nearest_match(p, &attractors, map, tol));
        }
    }

    // Frequency.
    let f_true = t.oscillation.as_ref().map(|o| o.frequency_hz);
    let (f_model, f_regime) = match f_true {
        Some(f) => {
            let pool: Vec<&RegimeReport> = if occupied.is_empty() {
                model.regimes.iter().collect()
            } else {
                occupied.iter().map(|&k| &model.regimes[k]).collect()
            };
            let best = pool
                .iter()
                .flat_map(|r| r.frequencies_hz.iter().map(move |&x| (x, r.regime)))
                .min_by(|a, b| (a.0 - f).abs().total_cmp(&(b.0 - f).abs()));
            match best {
                Some((x, k)) => (Some(x), Some(k)),
                None => (Some(0.0), None),
            }
        }
        None => (None, None),
    };

    // Regimes.
    let k = model.regimes.len();
    let n_labels = t.regime_names.len();
    let mapping = majority_mapping(model.regime, &labels, k, n_labels);
    let scored: Vec<(usize, usize)> = model
        .regime
        .iter()
        .zip(&labels)
        .filter_map(|(&r, l)| l.map(|l| (r, l)))
        .collect();
    let hits = scored
        .iter()
        .filter(|(r, l)| mapping.get(*r).copied().flatten() == Some(*l))
        .count();
    let mapped: Vec<Option<usize>> = model
        .regime
        .iter()
        .map(|&r| mapping.get(r).copied().flatten())
        .collect();
    let (delay, detected) = switch_delays(&mapped, &labels, model.bin_s);
    let crossfit = crossfit_accuracy(model.regime, &labels, k, n_labels);

    // Ring.
    let occupied_points = Mat::from_vec(
        occupied.len(),
        model.h.cols,
        occupied
            .iter()
            .flat_map(|&k| model.regimes[k].expansion_point.clone())
            .collect(),
    )
    .expect("occupied points are d long");
    let ring = match (&t.ring, &map) {
        (Some(ring), Some(map)) if !occupied.is_empty() => {
            let plane: Vec<[f64; 2]> = (0..occupied_points.rows)
                .map(|i| {
                    let m = map.apply(occupied_points.row(i));
                    [m[ring.dims[0]], m[ring.dims[1]]]
                })
                .collect();
            Some(ring_measure(
                &plane,
                Some(ring.centre),
                "truth ring plane (affine map)",
            ))
        }
        _ => None,
    };
    let ring_regime_means = match (&t.ring, &map) {
        (Some(ring), Some(map)) if !occupied.is_empty() => {
            let d = model.h.cols;
            let mut sums = vec![vec![0.0; d]; k];
            let mut counts = vec![0usize; k];
            for (t, &r) in model.regime.iter().enumerate() {
                if r < k {
                    counts[r] += 1;
                    for (s, x) in sums[r].iter_mut().zip(model.h.row(t)) {
                        *s += x;
                    }
                }
            }
            let plane: Vec<[f64; 2]> = occupied
                .iter()
                .map(|&r| {
                    let mean: Vec<f64> = sums[r].iter().map(|s| s / counts[r] as f64).collect();
                    let m = map.apply(&mean);
                    [m[ring.dims[0]], m[ring.dims[1]]]
                })
                .collect();
            Some(ring_measure(
                &plane,
                Some(ring.centre),
                "truth ring plane (affine map), regime means",
            ))
        }
        _ => None,
    };

    Ok(TruthMatch {
        fixed_points_true: true_points.len(),
        fixed_points_matched: matches.iter().filter(|m| m.matched).count(),
        frequency_error_hz: f_true.zip(f_model).map(|(a, b)| (a - b).abs()),
        regime_accuracy: hits as f64 / scored.len().max(1) as f64,
        baseline_rate_threshold_accuracy: baseline.as_ref().map(|b| b.accuracy),
        scenario: t.scenario.clone(),
        match_tolerance: tolerance,
        affine_map_r2: map.map(|m| m.r2).unwrap_or_default(),
        fixed_point_matches: matches,
        attractors_matched: attractor_matches.iter().filter(|m| m.matched).count(),
        attractor_matches,
        frequency_true_hz: f_true,
        frequency_model_hz: f_model,
        frequency_regime: f_regime,
        regime_accuracy_crossfit: crossfit,
        regime_labels: mapping
            .iter()
            .map(|m| m.map(|l| t.regime_names[l].clone()))
            .collect(),
        switch_delay_ms_median: delay,
        switches_detected: detected,
        ring,
        ring_pcs: if t.ring.is_some() {
            ring_in_pcs(&occupied_points)
        } else {
            None
        },
        ring_regime_means,
        baseline_rate_threshold: baseline,
    })
}

/// The candidate (`(index, point in latent space)`) whose mapped point is nearest to the true
/// point `p`, matched when within `tol`.
fn nearest_match(
    p: &[f64],
    candidates: &[(usize, &[f64])],
    map: &AffineMap,
    tol: f64,
) -> FixedPointMatch {
    let nearest = candidates
        .iter()
        .map(|&(k, x)| {
            let m = map.apply(x);
            (k, distance(&m, p), m)
        })
        .min_by(|a, b| a.1.total_cmp(&b.1));
    match nearest {
        Some((k, d, m)) => FixedPointMatch {
            point: p.to_vec(),
            regime: Some(k),
            mapped_point: Some(m),
            distance: Some(d),
            matched: d <= tol,
        },
        None => FixedPointMatch {
            point: p.to_vec(),
            regime: None,
            mapped_point: None,
            distance: None,
            matched: false,
        },
    }
}

/// Least-squares affine map from `h` (held-out rows) to the true latent of the same bins.
fn fit_map(h: &Mat, latent: &Mat, truth_bins: &[Option<usize>]) -> anyhow::Result<AffineMap> {
    let rows: Vec<(usize, usize)> = truth_bins
        .iter()
        .enumerate()
        .filter_map(|(i, b)| b.map(|b| (i, b)))
        .collect();
    let x = Mat::from_vec(
        rows.len(),
        h.cols,
        rows.iter().flat_map(|&(i, _)| h.row(i).to_vec()).collect(),
    )
    .expect("rows of h");
    let y = Mat::from_vec(
        rows.len(),
        latent.cols,
        rows.iter()
            .flat_map(|&(_, b)| latent.row(b).to_vec())
            .collect(),
    )
    .expect("rows of latent");
    AffineMap::fit(&x, &y).map_err(|e| anyhow::anyhow!("affine map latent -> true state: {e}"))
}

/// The true stable fixed points: `fixed_points` with `stable`, or the `switching-linear`
/// regimes' points whose dynamics are stable.
pub fn true_stable_points(truth: &TruthSession) -> Vec<Vec<f64>> {
    let t = &truth.truth;
    if let Some(fps) = &t.fixed_points {
        return fps
            .iter()
            .filter(|f| f.stable)
            .map(|f| f.point.clone())
            .collect();
    }
    if let Some(sl) = &t.switching_linear {
        return sl
            .points
            .iter()
            .zip(&sl.dynamics)
            .filter(|(p, f)| {
                let d = p.len();
                let m = Mat::from_vec(d, d, f.iter().flatten().copied().collect());
                m.and_then(|m| eigenvalues(&m).ok())
                    .is_some_and(|e| e.iter().all(|x| x.modulus() < 1.0))
            })
            .map(|(p, _)| p.clone())
            .collect();
    }
    Vec::new()
}

/// [`MATCH_FRACTION`] of the smallest distance between true points (or of the RMS spread
/// of the true latent with a single point). `None` without points.
pub fn match_tolerance(points: &[Vec<f64>], latent: Option<&Mat>) -> Option<f64> {
    let mut min = f64::INFINITY;
    for i in 0..points.len() {
        for j in 0..i {
            min = min.min(distance(&points[i], &points[j]));
        }
    }
    if min.is_finite() && min > 0.0 {
        return Some(MATCH_FRACTION * min);
    }
    if points.is_empty() {
        return None;
    }
    let latent = latent?;
    let mean = latent.column_means();
    let ss: f64 = (0..latent.rows)
        .map(|i| distance(latent.row(i), &mean).powi(2))
        .sum();
    Some(MATCH_FRACTION * (ss / latent.rows.max(1) as f64).sqrt())
}

/// For each model regime `0..k`, the true label it co-occurs with most (ties to the lower
/// label); `None` for regimes never used on labelled bins.
pub fn majority_mapping(
    regime: &[usize],
    labels: &[Option<usize>],
    k: usize,
    n_labels: usize,
) -> Vec<Option<usize>> {
    let mut counts = vec![vec![0usize; n_labels]; k];
    for (&r, l) in regime.iter().zip(labels) {
        if let Some(l) = *l {
            if r < k && l < n_labels {
                counts[r][l] += 1;
            }
        }
    }
    counts
        .iter()
        .map(|c| {
            let (best, n) = c
                .iter()
                .enumerate()
                .fold((0, 0), |acc, (l, &n)| if n > acc.1 { (l, n) } else { acc });
            (n > 0).then_some(best)
        })
        .collect()
}

/// Majority-mapping accuracy fitted on one half of the bins and scored on the other, both
/// ways, pooled over all labelled bins (a regime unseen in the fitting half scores a miss).
pub fn crossfit_accuracy(
    regime: &[usize],
    labels: &[Option<usize>],
    k: usize,
    n_labels: usize,
) -> f64 {
    let half = regime.len().min(labels.len()) / 2;
    let n = 2 * half;
    let (mut hits, mut scored) = (0usize, 0usize);
    for (fit, test) in [(0..half, half..n), (half..n, 0..half)] {
        let mapping = majority_mapping(&regime[fit.clone()], &labels[fit], k, n_labels);
        for t in test {
            if let Some(l) = labels[t] {
                scored += 1;
                if mapping.get(regime[t]).copied().flatten() == Some(l) {
                    hits += 1;
                }
            }
        }
    }
    hits as f64 / scored.max(1) as f64
}

/// For each true switch (a bin whose label differs from the previous labelled bin): the delay
/// to the first bin, before the next switch, where `mapped` shows the new label. Returns the
/// median delay (ms) and the fraction of switches shown.
pub fn switch_delays(
    mapped: &[Option<usize>],
    labels: &[Option<usize>],
    bin_s: f64,
) -> (Option<f64>, Option<f64>) {
    let n = mapped.len().min(labels.len());
    let switches: Vec<usize> = (1..n)
        .filter(|&t| labels[t].is_some() && labels[t - 1].is_some() && labels[t] != labels[t - 1])
        .collect();
    if switches.is_empty() {
        return (None, None);
    }
    let mut delays = Vec::new();
    for (i, &s) in switches.iter().enumerate() {
        let end = switches.get(i + 1).copied().unwrap_or(n);
        if let Some(d) = (s..end).position(|t| mapped[t] == labels[s]) {
            delays.push(d as f64 * bin_s * 1e3);
        }
    }
    let detected = delays.len() as f64 / switches.len() as f64;
    delays.sort_by(f64::total_cmp);
    (
        (!delays.is_empty()).then(|| delays[delays.len() / 2]),
        Some(detected),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_mapping_and_accuracy_parts() {
        let regime = [0, 0, 1, 1, 2, 2, 2, 0];
        let labels = [
            Some(1),
            Some(1),
            Some(0),
            Some(0),
            Some(0),
            Some(1),
            Some(0),
            None,
        ];
        let m = majority_mapping(&regime, &labels, 4, 2);
        assert_eq!(m, vec![Some(1), Some(0), Some(0), None]);
        // Halves [0 0 1 1] / [2 2 2 0]: regime 2 is unseen in the first half, regime 1 in the
        // second; regime 0 maps to label 1 both ways.
        let acc = crossfit_accuracy(&regime, &labels, 4, 2);
        // First half scored with the second half's mapping {0: None (label None), 2: 0}:
        // bins 0,1 (regime 0) miss, 2,3 (regime 1, unseen) miss. Second half scored with
        // {0: 1, 1: 0}: bins 4,5,6 (regime 2, unseen) miss, bin 7 unlabelled. 0 of 7.
        assert_eq!(acc, 0.0);
        let same = [0, 1, 0, 1, 0, 1, 0, 1];
        let lab: Vec<Option<usize>> = same.iter().map(|&x| Some(1 - x)).collect();
        assert_eq!(crossfit_accuracy(&same, &lab, 2, 2), 1.0);
    }

    #[test]
    fn switch_delays_measure_the_lag() {
        // True: 0 0 0 1 1 1 1 0 0; mapped lags by 2 bins on the first switch, 1 on the second.
        let l: Vec<Option<usize>> = [0, 0, 0, 1, 1, 1, 1, 0, 0]
            .iter()
            .map(|&x| Some(x))
            .collect();
        let m: Vec<Option<usize>> = [0, 0, 0, 0, 0, 1, 1, 1, 0]
            .iter()
            .map(|&x| Some(x))
            .collect();
        let (d, det) = switch_delays(&m, &l, 0.01);
        assert_eq!(det, Some(1.0));
        // delays 20 ms and 10 ms: the median of two is the upper one.
        assert!((d.unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(switch_delays(&m, &[Some(0); 9], 0.01), (None, None));
    }

    #[test]
    fn tolerance_is_a_quarter_of_the_closest_pair() {
        let corners: Vec<Vec<f64>> = (0..8)
            .map(|i| {
                (0..3)
                    .map(|b| if i >> b & 1 == 1 { 1.0 } else { -1.0 })
                    .collect()
            })
            .collect();
        assert!((match_tolerance(&corners, None).unwrap() - 0.5).abs() < 1e-12);
        assert_eq!(match_tolerance(&[], None), None);
        let latent = Mat::from_vec(2, 1, vec![-1.0, 1.0]).unwrap();
        assert!((match_tolerance(&[vec![0.0]], Some(&latent)).unwrap() - 0.25).abs() < 1e-12);
    }
}
