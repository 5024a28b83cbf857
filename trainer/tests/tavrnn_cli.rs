//! `neuroloop tavrnn train` and `eval` end to end on a small simulated session: the report's
//! stable keys, the figures, resuming, and clear refusals.

use std::path::Path;
use std::process::{Command, Output};

fn neuroloop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuroloop"))
        .args(args)
        .output()
        .expect("run neuroloop")
}

fn ok(args: &[&str]) -> Output {
    let out = neuroloop(args);
    assert!(
        out.status.success(),
        "neuroloop {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn simulate(dir: &Path) {
    ok(&[
        "simulate",
        "connectivity",
        "--out",
        dir.to_str().unwrap(),
        "--neurons",
        "16",
        "--duration-s",
        "120",
        "--seed",
        "2",
        "--quiet",
    ]);
}

/// Small and quick model settings.
const SMALL: [&str; 12] = [
    "--hidden",
    "8",
    "--latent",
    "4",
    "--chunk",
    "8",
    "--batch",
    "4",
    "--window-s",
    "2",
    "--step-s",
    "1",
];

#[test]
fn train_eval_report_keys_figures_and_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let sess = tmp.path().join("sess");
    simulate(&sess);
    let phy = sess.join("phy");
    let labels = sess.join("behavior.csv");
    let ckpt = tmp.path().join("m.bpk");
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let mut train: Vec<String> = [
        "tavrnn",
        "train",
        "--data",
        &s(&phy),
        "--labels",
        &s(&labels),
        "--out",
        &s(&ckpt),
        "--epochs",
        "2",
        "--quiet",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    train.extend(SMALL.iter().map(|a| a.to_string()));
    let args: Vec<&str> = train.iter().map(String::as_str).collect();
    ok(&args);
    for suffix in ["", ".optim", ".json"] {
        let p = format!("{}{suffix}", ckpt.display());
        assert!(Path::new(&p).is_file(), "{p} missing");
    }
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}.json", ckpt.display())).unwrap())
            .unwrap();
    assert_eq!(side["epochs_done"], 2);
    let steps2 = side["history"].as_array().unwrap().len();

    // resume to 3 epochs: the history grows by one epoch
    let mut resumed = train.clone();
    let e = resumed.iter().position(|a| a == "2").unwrap();
    resumed[e] = "3".into();
    resumed.push("--resume".into());
    let args: Vec<&str> = resumed.iter().map(String::as_str).collect();
    ok(&args);
    let side: serde_json::Value =
        serde_json::from_slice(&std::fs::read(format!("{}.json", ckpt.display())).unwrap())
            .unwrap();
    assert_eq!(side["epochs_done"], 3);
    let steps3 = side["history"].as_array().unwrap().len();
    assert!(
        steps3 > steps2 && steps3 < 2 * steps2,
        "{steps2} -> {steps3}"
    );

    // eval with figures
    let report = tmp.path().join("r.json");
    let plots = tmp.path().join("plots");
    let out = ok(&[
        "tavrnn",
        "eval",
        "--model",
        &s(&ckpt),
        "--data",
        &s(&phy),
        "--labels",
        &s(&labels),
        "--report",
        &s(&report),
        "--plots",
        &s(&plots),
        "--quiet",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("correlation"), "{stdout}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(r["windows"].as_u64().unwrap() > 10);
    assert!(!r["classes"].as_array().unwrap().is_empty());
    let chance = r["chance"].as_f64().unwrap();
    assert!(chance > 0.0 && chance <= 1.0);
    let methods = [
        &r["tavrnn"],
        &r["tavrnn_mean_pool"],
        &r["baselines"]["vgrnn"],
        &r["baselines"]["correlation"],
        &r["baselines"]["pca"],
    ];
    for m in methods {
        for key in ["accuracy", "macro_f1", "ari", "nmi", "silhouette"] {
            let v = m[key]
                .as_f64()
                .unwrap_or_else(|| panic!("{key} missing in {m}"));
            assert!(v.is_finite() && (-1.0..=1.0).contains(&v), "{key} = {v}");
        }
    }
    // the correlation baseline sees which neurons couple: it must beat chance here
    assert!(
        r["baselines"]["correlation"]["accuracy"].as_f64().unwrap() > chance,
        "{r}"
    );
    for f in [
        "embeddings.svg",
        "attention.svg",
        "similarity.svg",
        "training.svg",
    ] {
        let text = std::fs::read_to_string(plots.join(f)).unwrap();
        assert!(text.starts_with("<svg") && text.len() > 1000, "{f}");
    }
}

#[test]
fn clear_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let out = neuroloop(&[
        "tavrnn",
        "train",
        "--data",
        tmp.path().join("absent").to_str().unwrap(),
        "--out",
        tmp.path().join("m.bpk").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("absent"), "{err}");

    let out = neuroloop(&[
        "tavrnn",
        "eval",
        "--model",
        tmp.path().join("none.bpk").to_str().unwrap(),
        "--data",
        ".",
        "--labels",
        "x.csv",
        "--report",
        tmp.path().join("r.json").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("none.bpk.json"), "{err}");
}
