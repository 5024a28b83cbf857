//! `neuroloop demo` end to end at a small budget (120 s session, a few training steps): every
//! step runs, the files a user looks at are written, and `summary.json` has the documented
//! keys with values that fit each other (agreements are fractions, the model size is the
//! file's, the device state is the one `inspect` reports).

mod cli_common;

use cli_common::{ok, p};
use serde_json::Value;

#[test]
fn demo_runs_every_step_and_writes_a_consistent_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let printed = ok(&[
        "demo",
        "--out",
        p(&out),
        "--duration-s",
        "120",
        "--jslds-steps",
        "20",
        "--tavrnn-epochs",
        "2",
    ]);
    for step in [
        "neuroloop simulate",
        "neuroloop jslds train",
        "neuroloop jslds analyze",
        "neuroloop tavrnn train",
        "neuroloop tavrnn eval",
        "neuroloop export",
        "neuroloop replay",
    ] {
        assert!(printed.contains(step), "`{step}` not printed:\n{printed}");
    }
    let model = out.join("model.nlm");
    for f in ["summary.json", "replay.json", "session/truth.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for key in [
        "regime_accuracy",
        "behaviour_accuracy",
        "regime_agreement",
        "class_agreement",
        "embedding_cosine_min",
    ] {
        let v = s[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {}", s[key]));
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert_eq!(
        s["model_bytes"].as_u64().unwrap(),
        std::fs::metadata(&model).unwrap().len()
    );
    assert!(s["elapsed_s"].as_f64().unwrap() > 0.0);
    assert!(!s["regimes"].as_array().unwrap().is_empty());
    let inspected: Value =
        serde_json::from_str(&ok(&["inspect", p(&model), "--json"])).expect("inspect --json");
    let t = &inspected["tavrnn"];
    let expected = inspected["jslds"]["state_ram_bytes"].as_u64().unwrap()
        + t["ring_ram_bytes"].as_u64().unwrap()
        + t["keys_ram_bytes"].as_u64().unwrap()
        + t["scratch_ram_bytes"].as_u64().unwrap();
    assert_eq!(s["device_state_ram_bytes"].as_u64().unwrap(), expected);
}
