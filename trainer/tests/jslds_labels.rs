//! `neuroloop jslds analyze --labels CSV` on the shared real recording
//! (`../shared/data/linear-track`): a briefly trained model, analysed against both label
//! files; the `labels` entries have the documented keys and consistent values (the
//! contingency table sums to the labelled bins, the class shares to one, the in-sample
//! majority accuracy is at least chance), and a label file that does not exist is an error
//! naming it.
//!
//! The data are not part of the repository. When they are absent this test fails loudly,
//! unless `NEUROLOOP_SKIP_SHARED_DATA=1` is set (then it prints a loud notice and checks
//! nothing). `NEUROLOOP_SHARED_DATA=DIR` reads `DIR/linear-track` instead.

mod cli_common;

use cli_common::{analyze, fails_naming, ok, p};

fn linear_track() -> Option<std::path::PathBuf> {
    cli_common::linear_track(
        &["phy", "behavior.csv"],
        "`jslds analyze --labels` on the real recording",
    )
}

#[test]
fn regimes_against_behaviour_labels_on_linear_track() {
    let Some(data) = linear_track() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ckpt");
    let report = dir.path().join("report.json");
    ok(&[
        "jslds",
        "train",
        "--data",
        p(&data.join("phy")),
        "--out",
        p(&ckpt),
        "--bin-ms",
        "50",
        "--latent",
        "4",
        "--regimes",
        "3",
        "--steps",
        "6",
        "--batch",
        "4",
        "--chunk",
        "32",
        "--eval-every",
        "6",
        "--quiet",
    ]);
    let behavior = data.join("behavior.csv");
    let movement = data.join("movement.csv");
    let out = ok(&analyze(
        &ckpt,
        &report,
        &["--labels", p(&behavior), "--labels", p(&movement)],
    ));
    assert!(out.contains("NMI"), "summary line missing:\n{out}");
    let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let labels = r["labels"].as_array().expect("labels list");
    assert_eq!(labels.len(), 2);
    assert!(r["labels_rollout_pieces"].as_u64().unwrap() >= 1);
    for (l, (file, classes)) in labels.iter().zip([
        (&behavior, ["rest", "run"]),
        (&movement, ["still", "moving"]),
    ]) {
        assert_eq!(l["file"].as_str().unwrap(), p(file));
        let names: Vec<&str> = l["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(names, classes);
        let bins = l["bins"].as_u64().unwrap();
        let labelled = l["bins_labelled"].as_u64().unwrap();
        // 33 minutes at 50 ms: ~39,000 bins, nearly all labelled.
        assert!(
            bins > 35_000 && labelled > 35_000 && labelled <= bins,
            "{l}"
        );
        let table = l["contingency"].as_array().unwrap();
        assert_eq!(table.len(), 3, "one row per regime");
        let total: u64 = table
            .iter()
            .flat_map(|row| row.as_array().unwrap())
            .map(|c| c.as_u64().unwrap())
            .sum();
        assert_eq!(total, labelled);
        let share: f64 = l["class_share"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .sum();
        assert!((share - 1.0).abs() < 1e-9);
        let chance = l["chance"].as_f64().unwrap();
        // The majority mapping fitted on the scored bins can never do worse than chance.
        assert!(
            l["majority_accuracy"].as_f64().unwrap() >= chance - 1e-12,
            "{l}"
        );
        for key in [
            "nmi",
            "majority_accuracy_crossfit",
            "nmi_gru_nearest",
            "majority_accuracy_crossfit_gru_nearest",
            "baseline_rate_threshold_crossfit",
        ] {
            let v = l[key].as_f64().unwrap_or_else(|| panic!("{key}: {l}"));
            assert!((0.0..=1.0).contains(&v), "{key} = {v}");
        }
        assert_eq!(l["majority_mapping"].as_array().unwrap().len(), 3);
    }
    // behavior.csv: the held-out last 20 % is all rest, so its held-out chance is 1.
    assert_eq!(labels[0]["heldout_chance"].as_f64(), Some(1.0));

    let missing = dir.path().join("nope.csv");
    fails_naming(
        &analyze(&ckpt, &report, &["--labels", p(&missing)]),
        "nope.csv",
    );
}
