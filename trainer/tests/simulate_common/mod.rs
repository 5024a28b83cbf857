//! Shared helpers of the simulator tests: simulate, write, read back through the trainer's
//! own readers, and simple statistics.
#![allow(dead_code)]

use std::path::Path;

use indicatif::ProgressBar;
use neuroloop_trainer::data::{binning, labels, phy};
use neuroloop_trainer::simulate::{self, Options, Scenario, Session, Truth};

/// A session simulated, written to a temporary folder and read back from the files.
pub struct ReadBack {
    /// The in-memory session.
    pub session: Session,
    /// Truth parsed back from `truth.json`.
    pub truth: Truth,
    /// Counts read back from `phy/` and binned at the truth's bin width: `n_bins x neurons`.
    pub counts: Vec<f64>,
    /// Number of bins.
    pub n_bins: usize,
    /// Number of neurons.
    pub n: usize,
    /// The folder (removed on drop).
    pub dir: tempfile::TempDir,
}

/// Simulates `scenario`, writes it and reads it back.
pub fn simulate_and_read(scenario: Scenario, seed: u64, duration_s: f64) -> ReadBack {
    let opts = Options {
        seed,
        duration_s: Some(duration_s),
        ..Options::default()
    };
    let session = simulate::simulate(scenario, &opts, &ProgressBar::hidden()).expect("simulate");
    let dir = tempfile::tempdir().expect("tempdir");
    simulate::write_session(&session, dir.path()).expect("write");
    let truth: Truth =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("truth.json")).unwrap())
            .expect("truth.json parses");
    // Floats round-trip to within printing precision; everything else exactly.
    assert!(truth.regime_per_bin == session.truth.regime_per_bin);
    assert!(truth.regime_names == session.truth.regime_names);
    assert_eq!(truth.segments.len(), session.truth.segments.len());
    assert_eq!(
        (truth.n_bins, truth.neurons),
        (session.truth.n_bins, session.truth.neurons)
    );
    let (counts, n_bins) = read_counts(dir.path(), &truth);
    let n = truth.neurons;
    ReadBack {
        session,
        truth,
        counts,
        n_bins,
        n,
        dir,
    }
}

/// Reads `dir/phy` with the trainer's Phy reader and bins it over the whole session.
pub fn read_counts(dir: &Path, truth: &Truth) -> (Vec<f64>, usize) {
    let mut spikes = phy::read(&dir.join("phy"), false).expect("phy folder reads");
    // The reader takes the first and last spikes as the recording's bounds; the session
    // runs from 0 to duration_s.
    spikes.start_s = 0.0;
    spikes.end_s = truth.duration_s;
    let counts = binning::bin(&spikes, truth.bin_s, Some((0.0, truth.duration_s))).expect("bins");
    assert_eq!(
        counts.n_bins, truth.n_bins,
        "bins of the files = bins of the truth"
    );
    let n = truth.neurons;
    let mut out = vec![0.0; counts.n_bins * n];
    for (col, &id) in counts.unit_ids.iter().enumerate() {
        for b in 0..counts.n_bins {
            out[b * n + id as usize] = f64::from(counts.row(b)[col]);
        }
    }
    (out, counts.n_bins)
}

/// Reads the `behavior.csv` of `dir` as `(start_s, end_s, label)` rows.
pub fn read_behavior(dir: &Path) -> Vec<(f64, f64, String)> {
    let text = std::fs::read_to_string(dir.join("behavior.csv")).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("start_s,end_s,label"));
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
            )
        })
        .collect()
}

/// The labels tile the session: first interval at 0, contiguous, last at the end, and every
/// name is a regime name.
pub fn assert_labels_cover(rb: &ReadBack) {
    let rows = read_behavior(rb.dir.path());
    assert!(!rows.is_empty());
    assert_eq!(rows[0].0, 0.0);
    for w in rows.windows(2) {
        assert!(
            (w[0].1 - w[1].0).abs() < 1e-9,
            "gap or overlap at {}",
            w[0].1
        );
        assert_ne!(w[0].2, w[1].2, "neighbouring rows have different labels");
    }
    assert!((rows.last().unwrap().1 - rb.truth.duration_s).abs() < 1e-9);
    for r in &rows {
        assert!(
            rb.truth.regime_names.contains(&r.2),
            "unknown label {}",
            r.2
        );
    }
    let bins_in_segments: f64 = rows.iter().map(|r| (r.1 - r.0) / rb.truth.bin_s).sum();
    assert!((bins_in_segments - rb.truth.n_bins as f64).abs() < 1e-6);
    // The trainer's labels reader labels every bin (at its centre) with the truth's regime.
    let labels = labels::read_csv(&rb.dir.path().join("behavior.csv")).expect("labels read");
    for (b, &r) in rb.truth.regime_per_bin.iter().enumerate() {
        let t = (b as f64 + 0.5) * rb.truth.bin_s;
        let class = labels.label_at(t).expect("every bin is labelled");
        assert_eq!(
            labels.classes[class],
            rb.truth.regime_names[usize::from(r)],
            "bin {b}"
        );
    }
}

/// Most neurons (at least `frac`) fire at 1-30 Hz over the session, measured from the files.
pub fn assert_rates_realistic(rb: &ReadBack, frac: f64) {
    let ok = (0..rb.n)
        .filter(|&i| {
            let total: f64 = (0..rb.n_bins).map(|b| rb.counts[b * rb.n + i]).sum();
            let r = total / rb.truth.duration_s;
            (1.0..=30.0).contains(&r)
        })
        .count();
    assert!(
        ok as f64 >= frac * rb.n as f64,
        "only {ok} of {} neurons fire at 1-30 Hz",
        rb.n
    );
}

/// Mean count vector over the bins whose label is `k`, and how many bins that is.
pub fn mean_pattern(rb: &ReadBack, k: u16, bins: impl Iterator<Item = usize>) -> (Vec<f64>, usize) {
    let mut m = vec![0.0; rb.n];
    let mut count = 0;
    for b in bins.filter(|&b| rb.truth.regime_per_bin[b] == k) {
        for (mi, c) in m.iter_mut().zip(&rb.counts[b * rb.n..(b + 1) * rb.n]) {
            *mi += c;
        }
        count += 1;
    }
    m.iter_mut().for_each(|v| *v /= count.max(1) as f64);
    (m, count)
}

/// Euclidean distance.
pub fn dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

/// Checks that the mean activity patterns of the labels are told apart: for every pair of
/// labels, the distance between their mean patterns exceeds `factor` times the distance
/// between the two halves (even and odd seconds) of the same label.
pub fn assert_patterns_differ(rb: &ReadBack, factor: f64) {
    let k = rb.truth.regime_names.len() as u16;
    let per_s = (1.0 / rb.truth.bin_s).round() as usize;
    let half = |lab: u16, parity: usize| {
        mean_pattern(
            rb,
            lab,
            (0..rb.n_bins).filter(move |b| (b / per_s) % 2 == parity),
        )
        .0
    };
    let mut noise: f64 = 0.0;
    for lab in 0..k {
        noise = noise.max(dist(&half(lab, 0), &half(lab, 1)));
    }
    for a in 0..k {
        for b in a + 1..k {
            let d = dist(
                &mean_pattern(rb, a, 0..rb.n_bins).0,
                &mean_pattern(rb, b, 0..rb.n_bins).0,
            );
            assert!(
                d > factor * noise,
                "labels {a} and {b}: patterns {d:.4} apart, split-half noise {noise:.4}"
            );
        }
    }
}

/// Population rate (Hz) per label.
pub fn population_rate_per_label(rb: &ReadBack) -> Vec<f64> {
    let k = rb.truth.regime_names.len();
    let mut sum = vec![0.0; k];
    let mut bins = vec![0usize; k];
    for b in 0..rb.n_bins {
        let l = usize::from(rb.truth.regime_per_bin[b]);
        sum[l] += rb.counts[b * rb.n..(b + 1) * rb.n].iter().sum::<f64>();
        bins[l] += 1;
    }
    sum.iter()
        .zip(&bins)
        .map(|(s, &c)| s / (c.max(1) as f64 * rb.truth.bin_s))
        .collect()
}

/// Reads a 2-D f32 `.npy` written by the simulator: (shape, values).
pub fn read_f32_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().unwrap())
}
