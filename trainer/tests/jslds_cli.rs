//! `neuroloop jslds train` -> `export --jslds` -> `replay` end to end on a small simulated
//! flip-flop session: the trained model runs on neuroloop-core, and the fixed-point estimator
//! agrees with the f32 fold (the file's reference section) on at least 99 % of the bins; bad
//! options are refused clearly; `--validation` selects the model that `analyze` reads.

mod cli_common;

use std::path::Path;

use cli_common::{analyze, ok, p, run};

/// Simulates a 40 s, 32-neuron flip-flop session into `sess`.
fn flipflop_session(sess: &Path) {
    ok(&[
        "simulate",
        "flipflop",
        "--out",
        p(sess),
        "--duration-s",
        "40",
        "--neurons",
        "32",
        "--quiet",
    ]);
}

/// `jslds train` of a tiny model (d = 6, K = 4, 4 streams of 32-bin chunks) on `phy` into
/// `ckpt`, with `extra` options.
fn train_tiny(phy: &Path, ckpt: &Path, extra: &[&str]) -> String {
    ok(&tiny_args(phy, ckpt, extra))
}

/// The arguments of [`train_tiny`], for a run expected to fail.
fn tiny_args<'a>(phy: &'a Path, ckpt: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "jslds",
        "train",
        "--data",
        p(phy),
        "--out",
        p(ckpt),
        "--latent",
        "6",
        "--regimes",
        "4",
        "--batch",
        "4",
        "--chunk",
        "32",
        "--quiet",
    ];
    args.extend_from_slice(extra);
    args
}

#[test]
fn train_export_replay_agree() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("ff");
    let ckpt = dir.path().join("ckpt");
    let model = dir.path().join("model.nlm");
    let report = dir.path().join("replay.json");
    flipflop_session(&sess);
    let phy = sess.join("phy");
    let train = train_tiny(&phy, &ckpt, &["--steps", "30", "--eval-every", "15"]);
    // The flip-flop session's truth.json names the input units: they are found by default.
    assert!(train.contains("input units listed in"), "{train}");
    assert!(ckpt.join("checkpoint.json").is_file());
    assert!(ckpt.join("curves.json").is_file());
    // Resume to 40 steps from the 30-step checkpoint.
    let resumed = ok(&[
        "jslds",
        "train",
        "--data",
        p(&phy),
        "--out",
        p(&ckpt),
        "--steps",
        "40",
        "--eval-every",
        "10",
        "--resume",
        "--quiet",
    ]);
    assert!(
        resumed.contains("resuming") && resumed.contains("40 steps"),
        "{resumed}"
    );
    ok(&[
        "export",
        "--jslds",
        p(&ckpt),
        "--calibrate",
        p(&phy),
        "--out",
        p(&model),
    ]);
    ok(&[
        "replay",
        "--model",
        p(&model),
        "--data",
        p(&phy),
        "--report",
        p(&report),
    ]);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let bins = r["bins"].as_u64().unwrap();
    // 40 s of 10 ms bins; the Phy reader starts at the first spike, so a bin may go.
    assert!((3990..=4000).contains(&bins), "{bins} bins replayed");
    let agree = r["selected_agreement"].as_f64().unwrap();
    let reported = r["regime_agreement"].as_f64().unwrap();
    eprintln!("fixed point vs f32 fold: selected {agree}, reported {reported}");
    assert!(agree >= 0.99, "selected-regime agreement {agree} < 0.99");
    assert!(
        reported >= 0.99,
        "reported-regime agreement {reported} < 0.99"
    );
}

#[test]
fn train_refuses_bad_options_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("ff");
    ok(&[
        "simulate",
        "flipflop",
        "--out",
        p(&sess),
        "--duration-s",
        "5",
        "--neurons",
        "32",
        "--quiet",
    ]);
    let out = run(&[
        "jslds",
        "train",
        "--data",
        p(&sess.join("phy")),
        "--out",
        p(&dir.path().join("c")),
        "--batch",
        "64",
        "--chunk",
        "64",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("too few") && err.contains("--batch"), "{err}");
    let out = run(&[
        "jslds",
        "train",
        "--data",
        "/nonexistent/phy",
        "--out",
        "/tmp/x",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/phy"), "{err}");
}

/// `--validation`: training reports the model it selected, the checkpoint names it, and
/// `analyze` analyses that model (its report says which step and validation error).
#[test]
fn validation_selects_the_model_that_analyze_reads() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("ff");
    let ckpt = dir.path().join("ckpt");
    let report = dir.path().join("r.json");
    flipflop_session(&sess);
    let train = train_tiny(
        &sess.join("phy"),
        &ckpt,
        &["--steps", "40", "--eval-every", "5", "--validation", "0.2"],
    );
    assert!(train.contains("for validation from bin 2400"), "{train}");
    assert!(train.contains("selected on the validation bins"), "{train}");
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("checkpoint.json")).unwrap())
            .unwrap();
    let step = side["selected"]["step"]
        .as_u64()
        .expect("no selected model");
    let file = side["selected"]["file"].as_str().unwrap();
    assert!(ckpt.join(file).is_file(), "{file} missing");
    let curves = side["run"]["curves"]["eval"].as_array().unwrap();
    let best = curves
        .iter()
        .filter_map(|e| e["validation_relative_error"].as_f64())
        .fold(f64::INFINITY, f64::min);
    let v = side["selected"]["validation_relative_error"]
        .as_f64()
        .unwrap();
    assert_eq!(v, best, "the selection is not the lowest validation error");
    let out = ok(&analyze(&ckpt, &report, &[]));
    assert!(out.contains(&format!("step {step}, selected")), "{out}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["model_step"].as_u64(), Some(step));
    assert_eq!(r["training_steps"].as_u64(), Some(40));
    assert!((r["validation_relative_error"].as_f64().unwrap() - v).abs() < 1e-6);
}

/// `--cover-attractors` is kept in the checkpoint (so `--resume` goes on with it), and
/// `analyze` reports the GRU's attractors with the horizon they were searched over.
#[test]
fn cover_attractors_is_recorded_and_analyze_reports_attractors() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("ff");
    let ckpt = dir.path().join("ckpt");
    let report = dir.path().join("r.json");
    flipflop_session(&sess);
    train_tiny(
        &sess.join("phy"),
        &ckpt,
        &[
            "--steps",
            "20",
            "--eval-every",
            "10",
            "--reseed-every",
            "5",
            "--cover-attractors",
        ],
    );
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(side["config"]["cover_attractors"].as_bool(), Some(true));
    ok(&analyze(&ckpt, &report, &[]));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    // 2,000 steps of the default 10 ms bins.
    assert!(
        (r["attractor_horizon_s"].as_f64().unwrap() - 20.0).abs() < 1e-9,
        "{r}"
    );
    // A GRU trained this briefly still contracts: its held-out states come to rest somewhere.
    let attractors = r["attractors"].as_array().expect("no attractors list");
    assert!(!attractors.is_empty(), "no attractor found: {r}");
    let share: f64 = attractors
        .iter()
        .map(|a| a["basin_share"].as_f64().unwrap())
        .sum();
    assert!(
        share > 0.0 && share <= 1.0 + 1e-9,
        "basins share {share} of the states"
    );
    for a in attractors {
        assert_eq!(a["point"].as_array().unwrap().len(), 6);
        assert!(a["distance"].as_f64().unwrap() >= 0.0);
    }
}

/// A learning rate far too high: training stops with the step and the remedy, exits non-zero,
/// and says truthfully that no checkpoint exists (the blow-up comes before the first
/// evaluation, which would otherwise have saved the diverged model as one).
#[test]
fn a_diverging_run_stops_clearly_and_writes_no_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("ff");
    let ckpt = dir.path().join("ckpt");
    flipflop_session(&sess);
    let phy = sess.join("phy");
    let out = run(&tiny_args(
        &phy,
        &ckpt,
        &["--steps", "60", "--eval-every", "15", "--lr", "1000"],
    ));
    assert!(!out.status.success(), "a learning rate of 1000 trained");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("training diverged at step") && err.contains("--lr"),
        "{err}"
    );
    assert!(
        err.contains("no checkpoint was written: the first is at step 15"),
        "{err}"
    );
    assert!(!ckpt.join("checkpoint.json").exists());
}

/// `--reset-prob` is kept in the checkpoint (a resumed run draws the same restarts), and a
/// value that is not a probability is refused before training, naming the option.
#[test]
fn reset_prob_is_recorded_and_checked() {
    let dir = tempfile::tempdir().unwrap();
    let sess = dir.path().join("ff");
    let ckpt = dir.path().join("ckpt");
    flipflop_session(&sess);
    let phy = sess.join("phy");
    train_tiny(
        &phy,
        &ckpt,
        &["--steps", "10", "--eval-every", "10", "--reset-prob", "0.5"],
    );
    let side: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ckpt.join("checkpoint.json")).unwrap())
            .unwrap();
    assert_eq!(side["config"]["reset_prob"].as_f64(), Some(0.5));
    let out = run(&[
        "jslds",
        "train",
        "--data",
        p(&phy),
        "--out",
        p(&dir.path().join("bad")),
        "--reset-prob",
        "1.5",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("restart probability 1.5"), "{err}");
}
