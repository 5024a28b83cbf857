//! `neuroloop jslds analyze` on constructed models with known answers: the report's stable
//! keys, the per-regime reading of a known system, the truth match on simulated sessions
//! (`regimes`, `ring-theta`) of a "model" that is an exact affine image of the true state,
//! the figures, and bad input.

use std::f64::consts::PI;
use std::path::Path;

use indicatif::ProgressBar;
use neuroloop_trainer::data::{load_counts, Counts, LoadOptions};
use neuroloop_trainer::jslds::analysis::{analyze, plots, Report, TruthSession};
use neuroloop_trainer::jslds::{
    AnalysisInputs, AttractorInput, EvalPoint, HeldOut, RegimeLinearisation, TrainingCurves,
};
use neuroloop_trainer::simulate::{self, Options, Scenario};

/// A fixed pseudo-random stream (tests must not depend on a library's generator).
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }
    fn poisson(&mut self, r: f64) -> u32 {
        let (l, mut k, mut p) = ((-r).exp(), 0, 1.0);
        loop {
            p *= self.uniform();
            if p <= l {
                return k;
            }
            k += 1;
        }
    }
}

/// `J_h` of `d` dims: an 8 Hz rotation (modulus `r`) in dims 0, 1 at bin `dt`, 0.5 elsewhere.
fn rotation_jh(d: usize, dt: f64, r: f64, hz: f64) -> Vec<f64> {
    let th = 2.0 * PI * hz * dt;
    let mut j = vec![0.0; d * d];
    j[0] = r * th.cos();
    j[1] = -r * th.sin();
    j[d] = r * th.sin();
    j[d + 1] = r * th.cos();
    for i in 2..d {
        j[i * d + i] = 0.5;
    }
    j
}

fn curves() -> TrainingCurves {
    let step: Vec<usize> = (0..20).map(|i| i * 50).collect();
    let decay = |a: f32| step.iter().map(|&s| a / (1.0 + s as f32 / 100.0)).collect();
    TrainingCurves {
        total: decay(30.0),
        nll: decay(10.0),
        nll_linear: decay(11.0),
        fixed_point: decay(0.5),
        approx: decay(0.2),
        eval: (0..5)
            .map(|i| EvalPoint {
                step: i * 200,
                train_seconds: i as f64,
                relative_error: 0.3 / (1.0 + i as f32),
                nll: 10.0,
                nll_linear: 11.0,
                validation_relative_error: None,
            })
            .collect(),
        step,
    }
}

/// A 2-regime, 3-D switching linear model simulated for `bins` bins with a readout of
/// `neurons`: regime 0 rotates at 8 Hz about (1, 0, 0), regime 1 decays towards (-1, 0, 0).
fn known_system(bins: usize, neurons: usize) -> AnalysisInputs {
    let (d, dt) = (3, 0.005);
    let points = [[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]];
    let jhs = [rotation_jh(d, dt, 0.97, 8.0), {
        let mut j = vec![0.0; 9];
        j[0] = 0.9;
        j[4] = 0.8;
        j[8] = 0.5;
        j
    }];
    let mut rng = Lcg(5);
    let readout: Vec<f64> = (0..neurons * d).map(|_| rng.normal() * 0.8).collect();
    let (mut h, mut a, mut regime, mut rates, mut counts) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut x = [1.0, 0.0, 0.0];
    let mut k = 0usize;
    for t in 0..bins {
        if t % 200 == 0 && t > 0 {
            k = 1 - k;
        }
        let (e, j) = (&points[k], &jhs[k]);
        let mut next = [0.0; 3];
        for (i, v) in next.iter_mut().enumerate() {
            *v = e[i]
                + (0..d).map(|l| j[i * d + l] * (x[l] - e[l])).sum::<f64>()
                + 0.05 * rng.normal();
        }
        x = next;
        for v in x {
            h.push(v as f32);
            a.push((v + 0.01 * rng.normal()) as f32);
        }
        regime.push(k as u16);
        for n in 0..neurons {
            let lr: f64 = (0..d).map(|i| readout[n * d + i] * x[i]).sum::<f64>() - 2.0;
            let r = lr.exp();
            rates.push(r as f32);
            counts.push(rng.poisson(r));
        }
    }
    let mean: Vec<f64> = (0..neurons)
        .map(|n| {
            (0..bins)
                .map(|t| f64::from(counts[t * neurons + n]))
                .sum::<f64>()
                / bins as f64
        })
        .collect();
    AnalysisInputs {
        bin_s: dt,
        latent: d,
        neurons,
        input_units: (0..neurons / 2).collect(),
        anchor: vec![0.0; neurons / 2],
        selection: "nearest".into(),
        gate: None,
        regimes: (0..2)
            .map(|k| RegimeLinearisation {
                expansion_point: points[k].to_vec(),
                f_at_point: points[k].iter().map(|v| v + 0.01).collect(),
                jh: jhs[k].clone(),
                ju: vec![0.1; d * (neurons / 2)],
            })
            .collect(),
        free_points: 0,
        heldout: Some(HeldOut {
            first_bin: 1000,
            bins,
            segments: 1,
            segment_len: bins,
            h,
            a,
            regime,
            rates_linear: rates.clone(),
            rates,
            counts,
            train_mean_counts: mean,
            inputs: Vec::new(),
            continuous_relative_error: None,
        }),
        curves: curves(),
        model_step: None,
        validation_relative_error: None,
        attractors: Vec::new(),
        attractor_iterations: 0,
    }
}

const REGIME_KEYS: [&str; 7] = [
    "expansion_point",
    "fixed_point_residual",
    "eigenvalues",
    "frequencies_hz",
    "time_constants_s",
    "stable",
    "occupancy",
];

const TRUTH_KEYS: [&str; 5] = [
    "fixed_points_true",
    "fixed_points_matched",
    "frequency_error_hz",
    "regime_accuracy",
    "baseline_rate_threshold_accuracy",
];

fn json(report: &Report) -> serde_json::Value {
    serde_json::to_value(report).unwrap()
}

#[test]
fn report_keys_and_the_reading_of_a_known_system() {
    let inputs = known_system(4000, 12);
    let (report, view) = analyze(&inputs, None, None).unwrap();
    let v = json(&report);
    assert!(v["relative_error"].is_f64() && v["co_bps"].is_f64(), "{v}");
    assert!(
        v.get("truth_match").is_none(),
        "no truth_match without --truth"
    );
    let regimes = v["regimes"].as_array().unwrap();
    assert_eq!(regimes.len(), 2);
    for r in regimes {
        for key in REGIME_KEYS {
            assert!(r.get(key).is_some(), "regime lacks {key}: {r}");
        }
        for e in r["eigenvalues"].as_array().unwrap() {
            assert_eq!(e.as_array().unwrap().len(), 2, "[re, im] pairs");
        }
    }
    // Regime 0: the 8 Hz rotation with |lambda| = 0.97; regime 1: real, no frequency.
    let r0 = &report.regimes[0];
    assert_eq!(r0.frequencies_hz.len(), 1);
    assert!((r0.frequencies_hz[0] - 8.0).abs() < 1e-9, "{r0:?}");
    let tau = -0.005 / 0.97f64.ln();
    assert!((r0.time_constants_s[0].unwrap() - tau).abs() < 1e-9);
    assert!(r0.stable);
    assert!((r0.fixed_point_residual - 0.01 * 3f64.sqrt()).abs() < 1e-9);
    let r1 = &report.regimes[1];
    assert!(r1.frequencies_hz.is_empty());
    assert!((r1.eigenvalues[0][0] - 0.9).abs() < 1e-12);
    // Regimes alternate every 200 bins: equal occupancy.
    assert!((r0.occupancy - 0.5).abs() < 1e-12 && (r1.occupancy - 0.5).abs() < 1e-12);
    // a = h + 0.01 noise on states of size ~1.
    assert!(
        report.relative_error > 0.005 && report.relative_error < 0.03,
        "{}",
        report.relative_error
    );
    // The true rates explain the spikes better than the mean rate.
    assert!(report.co_bps > 0.1, "{}", report.co_bps);
    assert_eq!(report.co_bps_neurons, "predicted-only");
    assert!(report.co_bps_all_neurons > 0.1);

    // Figures: three SVG files, written whole.
    let dir = tempfile::tempdir().unwrap();
    let names = plots::write_all(&dir.path().join("plots"), &view, &report).unwrap();
    assert_eq!(names.len(), 3);
    for n in &names {
        let text = std::fs::read_to_string(dir.path().join("plots").join(n)).unwrap();
        assert!(
            text.starts_with("<svg") && text.trim_end().ends_with("</svg>"),
            "{n}"
        );
        assert!(text.len() > 2000, "{n} is nearly empty");
    }
}

#[test]
fn bad_inputs_name_the_field_and_the_file() {
    let mut inputs = known_system(100, 4);
    inputs.regimes[1].jh.pop();
    let e = format!("{:#}", analyze(&inputs, None, None).unwrap_err());
    assert!(
        e.contains("regimes[1].jh") && e.contains("expected 3 x 3"),
        "{e}"
    );

    let mut inputs = known_system(100, 4);
    inputs.heldout.as_mut().unwrap().rates.truncate(10);
    let e = format!("{:#}", analyze(&inputs, None, None).unwrap_err());
    assert!(e.contains("heldout.rates"), "{e}");

    let mut inputs = known_system(100, 4);
    inputs.heldout.as_mut().unwrap().regime[5] = 7;
    let e = format!("{:#}", analyze(&inputs, None, None).unwrap_err());
    assert!(
        e.contains("heldout.regime") && e.contains("regime 7"),
        "{e}"
    );

    let mut inputs = known_system(100, 4);
    inputs.heldout = None;
    let e = format!("{:#}", analyze(&inputs, None, None).unwrap_err());
    assert!(e.contains("heldout") && e.contains("--data"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("truth.json");
    let e = format!("{:#}", TruthSession::read(&missing).unwrap_err());
    assert!(e.contains(&missing.display().to_string()), "{e}");
    std::fs::write(&missing, "{\"truth_version\": 1}").unwrap();
    let e = format!("{:#}", TruthSession::read(&missing).unwrap_err());
    assert!(e.contains("truth.json") && e.contains("scenario"), "{e}");
}

/// A simulated session, written to a temporary folder.
fn session(scenario: Scenario, duration_s: f64) -> tempfile::TempDir {
    let opts = Options {
        seed: 3,
        duration_s: Some(duration_s),
        ..Options::default()
    };
    let s = simulate::simulate(scenario, &opts, &ProgressBar::hidden()).expect("simulate");
    let dir = tempfile::tempdir().unwrap();
    simulate::write_session(&s, dir.path()).expect("write");
    dir
}

/// The affine image `M x + o` (`d` x `m`) used as the "model" latent of true states `x`.
fn embed(x: &[f64], d: usize) -> Vec<f64> {
    let m = x.len();
    (0..d)
        .map(|i| {
            (0..m)
                .map(|j| {
                    x[j] * (((i * 7 + j * 3) % 5) as f64 - 2.0 + if i == j { 3.0 } else { 0.0 })
                })
                .sum::<f64>()
                + 0.1 * i as f64
        })
        .collect()
}

/// Held-out rollout of a "model" whose latent is `embed(true latent)` (plus noise), with the
/// true rates as predictions, over the last quarter of the session's bins.
fn heldout_from_truth(
    truth: &TruthSession,
    counts: &Counts,
    d: usize,
    regime_of: impl Fn(usize) -> u16,
) -> HeldOut {
    let t = &truth.truth;
    let latent = truth.latent.as_ref().unwrap();
    let readout = &t.latent.as_ref().unwrap().readout;
    let bias = &t.latent.as_ref().unwrap().readout_bias;
    let n_bins = counts.n_bins.min(t.n_bins);
    let first = n_bins * 3 / 4;
    let bins = n_bins - first;
    let n = counts.n_units();
    assert_eq!(n, t.neurons, "every simulated neuron fires");
    let mut rng = Lcg(9);
    let (mut h, mut regime, mut rates, mut cts) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for b in first..n_bins {
        let tb = truth
            .bin_of_model_bin(b, counts.bin_s, counts.start_s)
            .unwrap();
        let x = latent.row(tb);
        h.extend(embed(x, d).iter().map(|v| (v + 0.01 * rng.normal()) as f32));
        regime.push(regime_of(tb));
        for (col, &id) in counts.unit_ids.iter().enumerate() {
            let i = id as usize;
            let lr: f64 = readout[i].iter().zip(x).map(|(c, x)| c * x).sum::<f64>() + bias[i];
            rates.push((lr.exp() * counts.bin_s) as f32);
            cts.push(counts.row(b)[col]);
        }
    }
    let mean = (0..n)
        .map(|c| (0..first).map(|b| f64::from(counts.row(b)[c])).sum::<f64>() / first as f64)
        .collect();
    HeldOut {
        first_bin: first,
        bins,
        segments: 1,
        segment_len: bins,
        a: h.clone(),
        h,
        regime,
        rates_linear: rates.clone(),
        rates,
        counts: cts,
        train_mean_counts: mean,
        inputs: Vec::new(),
        continuous_relative_error: None,
    }
}

fn model(
    d: usize,
    bin_s: f64,
    neurons: usize,
    points: Vec<Vec<f64>>,
    jh: Vec<f64>,
    heldout: HeldOut,
) -> AnalysisInputs {
    AnalysisInputs {
        bin_s,
        latent: d,
        neurons,
        input_units: (0..neurons).collect(),
        anchor: vec![0.0; neurons],
        selection: "nearest".into(),
        gate: None,
        regimes: points
            .into_iter()
            .map(|p| RegimeLinearisation {
                f_at_point: p.clone(),
                expansion_point: p,
                jh: jh.clone(),
                ju: vec![0.0; d * neurons],
            })
            .collect(),
        free_points: 0,
        heldout: Some(heldout),
        curves: curves(),
        model_step: None,
        validation_relative_error: None,
        attractors: Vec::new(),
        attractor_iterations: 0,
    }
}

fn load(dir: &Path, bin_s: f64) -> Counts {
    load_counts(&dir.join("phy"), &LoadOptions::new(bin_s)).expect("phy folder reads")
}

#[test]
fn truth_match_of_an_exact_model_of_the_regimes_session() {
    let dir = session(Scenario::Regimes, 120.0);
    let truth = TruthSession::read(&dir.path().join("truth.json")).unwrap();
    let t = &truth.truth;
    let counts = load(dir.path(), t.bin_s);
    let d = 5;
    // Model regime perm[r] is true regime r; regime 4 is never used.
    let perm = [2u16, 0, 3, 1];
    let mut points = vec![vec![9.0; d]; 5];
    for fp in t.fixed_points.as_ref().unwrap().iter().filter(|f| f.stable) {
        points[usize::from(perm[usize::from(fp.regime.unwrap())])] = embed(&fp.point, d);
    }
    let ho = heldout_from_truth(&truth, &counts, d, |tb| {
        perm[usize::from(t.regime_per_bin[tb])]
    });
    let inputs = model(
        d,
        t.bin_s,
        t.neurons,
        points,
        rotation_jh(d, t.bin_s, 0.9, 3.0),
        ho,
    );
    let (report, _) = analyze(&inputs, Some(&truth), Some(&counts)).unwrap();
    let v = json(&report);
    let tm = &v["truth_match"];
    for key in TRUTH_KEYS {
        assert!(tm.get(key).is_some(), "truth_match lacks {key}: {tm}");
    }
    let m = report.truth_match.as_ref().unwrap();
    assert_eq!(m.fixed_points_true, 4);
    assert_eq!(m.fixed_points_matched, 4, "{m:?}");
    assert!(
        m.fixed_point_matches
            .iter()
            .all(|f| f.distance.unwrap() < 0.05),
        "{m:?}"
    );
    assert!((m.regime_accuracy - 1.0).abs() < 1e-12, "{m:?}");
    assert!(m.frequency_error_hz.is_none() && tm["frequency_error_hz"].is_null());
    // Free points (regimes 3 and 4 here) are not held to fixed points: the true point that
    // model regime 3 sits on is no longer matched.
    let mut freed = inputs.clone();
    freed.free_points = 2;
    // The GRU's own attractors, here on the four true points.
    assert_eq!(m.attractors_matched, 0, "no attractors given: {m:?}");
    let stable: Vec<Vec<f64>> = t
        .fixed_points
        .as_ref()
        .unwrap()
        .iter()
        .filter(|f| f.stable)
        .map(|f| embed(&f.point, d))
        .collect();
    freed.attractors = stable
        .iter()
        .map(|p| AttractorInput {
            point: p.clone(),
            basin_share: 0.25,
        })
        .collect();
    let (report_freed, _) = analyze(&freed, Some(&truth), Some(&counts)).unwrap();
    let pinned: Vec<bool> = report_freed.regimes.iter().map(|r| r.pinned).collect();
    assert_eq!(pinned, [true, true, true, false, false]);
    let mf = report_freed.truth_match.as_ref().unwrap();
    assert_eq!(mf.fixed_points_matched, 3, "{mf:?}");
    assert!(
        mf.fixed_point_matches.iter().all(|f| f.regime != Some(3)),
        "{mf:?}"
    );
    // The attractors count whether or not a pinned point sits on them: all four; the one on
    // the freed regime 3's point is the one without a pinned point near it.
    assert_eq!(mf.attractors_matched, 4, "{mf:?}");
    assert_eq!(report_freed.attractors.len(), 4);
    for (a, p) in report_freed.attractors.iter().zip(&stable) {
        assert_eq!(&a.point, p);
        let dist = a.distance.unwrap();
        if *p == freed.regimes[3].expansion_point {
            assert!(dist > 0.5 && a.nearest_pinned_regime != Some(3), "{a:?}");
        } else {
            assert!(dist < 1e-9 && a.nearest_pinned_regime.unwrap() < 3, "{a:?}");
        }
    }
    assert!(
        m.affine_map_r2.iter().all(|&r| r > 0.99),
        "{:?}",
        m.affine_map_r2
    );
    let labels: Vec<_> = m.regime_labels.iter().map(|l| l.as_deref()).collect();
    let mut want = vec![None; 5];
    for (r, &k) in perm.iter().enumerate() {
        want[usize::from(k)] = Some(t.regime_names[r].as_str());
    }
    assert_eq!(labels, want);
    assert_eq!(report.regimes[4].occupancy, 0.0);
    // The baseline ran, on the same held-out bins, and does not beat the exact model.
    let b = m.baseline_rate_threshold_accuracy.expect("baseline ran");
    assert!((0.0..=1.0).contains(&b) && b < m.regime_accuracy, "{b}");
    assert!(
        report.co_bps > 0.0,
        "true rates beat the mean rate: {}",
        report.co_bps
    );
}

#[test]
fn truth_match_of_an_exact_model_of_the_ring_theta_session() {
    let dir = session(Scenario::RingTheta, 100.0);
    let truth = TruthSession::read(&dir.path().join("truth.json")).unwrap();
    let t = &truth.truth;
    let ring = t.ring.as_ref().unwrap();
    let counts = load(dir.path(), t.bin_s);
    let (d, k) = (6, 12);
    // Expansion points on the true ring (oscillation dims at 0), regime = ring sector.
    let points: Vec<Vec<f64>> = (0..k)
        .map(|j| {
            let a = (j as f64 + 0.5) / k as f64 * 2.0 * PI;
            let x = [
                ring.centre[0] + ring.radius * a.cos(),
                ring.centre[1] + ring.radius * a.sin(),
                0.0,
                0.0,
            ];
            embed(&x, d)
        })
        .collect();
    let ho = heldout_from_truth(&truth, &counts, d, |tb| {
        let pos = f64::from(ring.position_rad_per_bin[tb]);
        ((pos / (2.0 * PI) * k as f64) as u16).min(k as u16 - 1)
    });
    let inputs = model(
        d,
        t.bin_s,
        t.neurons,
        points,
        rotation_jh(d, t.bin_s, 0.95, 8.2),
        ho,
    );
    let (report, _) = analyze(&inputs, Some(&truth), Some(&counts)).unwrap();
    let m = report.truth_match.as_ref().unwrap();
    assert_eq!(m.fixed_points_true, 0);
    let fe = m
        .frequency_error_hz
        .expect("ring-theta has an 8 Hz oscillation");
    assert!((fe - 0.2).abs() < 1e-9, "{m:?}");
    let r = m.ring.as_ref().expect("ring measure");
    assert!(
        r.radius_cv < 0.05 && (r.radius_mean - 1.0).abs() < 0.05,
        "{r:?}"
    );
    assert!(
        r.angular_coverage > 0.85 && r.sectors_occupied == 8,
        "{r:?}"
    );
    assert!(m.ring_pcs.as_ref().unwrap().sectors_occupied == 8);
    let means = m.ring_regime_means.as_ref().expect("regime means");
    assert!(
        means.radius_cv < 0.1 && means.sectors_occupied == 8,
        "{means:?}"
    );
    assert!(m.regime_accuracy > 0.9, "{m:?}");
}
