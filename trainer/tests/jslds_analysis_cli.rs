//! `neuroloop jslds analyze` end to end: a tiny model trained on a simulated `regimes`
//! session, analysed with its truth: the report has the stable keys with sane values, the
//! figures are written, and a missing checkpoint or truth file is a clear error.

mod cli_common;

use cli_common::{analyze, fails_naming, ok, p};

#[test]
fn analyze_a_trained_model_against_its_truth() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("regimes");
    let ckpt = dir.path().join("ckpt");
    let report = dir.path().join("report.json");
    let plots = dir.path().join("plots");
    ok(&[
        "simulate",
        "regimes",
        "--out",
        p(&sess),
        "--duration-s",
        "60",
        "--neurons",
        "16",
        "--quiet",
    ]);
    ok(&[
        "jslds",
        "train",
        "--data",
        p(&sess.join("phy")),
        "--out",
        p(&ckpt),
        "--steps",
        "20",
        "--latent",
        "4",
        "--regimes",
        "3",
        "--batch",
        "4",
        "--chunk",
        "32",
        "--eval-every",
        "10",
        "--quiet",
    ]);
    let truth = sess.join("truth.json");
    let out = ok(&analyze(
        &ckpt,
        &report,
        &["--plots", p(&plots), "--truth", p(&truth)],
    ));
    assert!(out.contains("relative error"), "{out}");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let rel = v["relative_error"].as_f64().expect("relative_error");
    assert!(rel.is_finite() && rel >= 0.0, "{rel}");
    assert!(v["co_bps"].as_f64().expect("co_bps").is_finite());
    // The f64 rerun of the model's own rollout reproduces it: the decomposition's reruns are
    // driven by the same inputs and linearisations as the model.
    let dec = &v["error_decomposition"];
    let part = |k: &str| {
        dec[k]
            .as_f64()
            .unwrap_or_else(|| panic!("error_decomposition.{k}"))
    };
    assert!(
        (part("free_rollout") - rel).abs() <= 1e-3 * rel.max(1e-3),
        "rerun {} vs relative_error {rel}",
        part("free_rollout")
    );
    for k in [
        "selection_from_gru",
        "best_selection",
        "one_step",
        "one_step_best",
    ] {
        assert!(part(k).is_finite() && part(k) >= 0.0, "{k} = {}", part(k));
    }
    assert!(part("one_step_best") <= part("one_step") + 1e-12, "{dec}");
    // The worst 5 % of bins hold at least their even share of the error, and the worst bin is
    // at least the RMS error.
    assert!(
        part("worst_bins_share") >= 0.05 && part("worst_bins_share") <= 1.0 + 1e-12,
        "{dec}"
    );
    assert!(part("worst_bin_error") >= rel * (1.0 - 1e-3), "{dec}");
    // One error a piece, in pieces of the reported length; the whole is a weighted mean of
    // their squares, so it lies between the smallest and the largest.
    let pieces: Vec<f64> = v["relative_error_pieces"]
        .as_array()
        .expect("relative_error_pieces")
        .iter()
        .map(|x| x.as_f64().expect("a piece's error"))
        .collect();
    let (bins, len) = (
        v["heldout_bins"].as_u64().unwrap(),
        v["heldout_segment_len"].as_u64().unwrap(),
    );
    assert_eq!(pieces.len() as u64, bins / len, "{pieces:?}");
    let lo = pieces.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pieces.iter().copied().fold(0.0, f64::max);
    assert!(
        lo <= rel * (1.0 + 1e-4) && rel <= hi * (1.0 + 1e-4),
        "{rel} vs {pieces:?}"
    );
    let cont = v["relative_error_continuous"]
        .as_f64()
        .expect("relative_error_continuous");
    assert!(cont.is_finite() && cont >= 0.0, "{cont}");
    assert!(out.contains("continuous"), "{out}");
    let regimes = v["regimes"].as_array().expect("regimes");
    assert_eq!(regimes.len(), 3);
    let mut occupancy = 0.0;
    for r in regimes {
        assert_eq!(r["expansion_point"].as_array().unwrap().len(), 4);
        assert_eq!(r["eigenvalues"].as_array().unwrap().len(), 4);
        assert!(r["fixed_point_residual"].as_f64().unwrap() >= 0.0);
        assert!(r["stable"].is_boolean());
        assert!(r["frequencies_hz"].is_array() && r["time_constants_s"].is_array());
        occupancy += r["occupancy"].as_f64().unwrap();
    }
    assert!(
        (occupancy - 1.0).abs() < 1e-9,
        "occupancies sum to {occupancy}"
    );
    let tm = &v["truth_match"];
    assert_eq!(tm["fixed_points_true"], 4);
    assert!(tm["fixed_points_matched"].as_u64().unwrap() <= 4);
    assert!(
        tm["frequency_error_hz"].is_null(),
        "regimes has no oscillation"
    );
    let acc = tm["regime_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc), "{acc}");
    let base = tm["baseline_rate_threshold_accuracy"]
        .as_f64()
        .expect("the baseline reads phy/ next to truth.json");
    assert!((0.0..=1.0).contains(&base), "{base}");
    for f in ["eigenspectra.svg", "latent_pcs.svg", "training_curves.svg"] {
        let svg = std::fs::read_to_string(plots.join(f)).unwrap();
        assert!(svg.starts_with("<svg"), "{f}");
    }

    // Clear refusals naming the file.
    let missing = dir.path().join("nope");
    fails_naming(&analyze(&missing, &report, &[]), "nope");
    let bad_truth = dir.path().join("truth-missing.json");
    fails_naming(
        &analyze(&ckpt, &report, &["--truth", p(&bad_truth)]),
        "truth-missing.json",
    );
}
