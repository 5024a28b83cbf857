//! The user's path through the command line, end to end, on the reference switching system
//! (N = 64, d = 16, K = 8): `simulate switching-linear` -> `export` -> `inspect` -> `replay`,
//! and the messages a user gets for a missing or corrupt file.
//!
//! The commands run in process through the same `neuroloop_trainer::cli::*::run` functions
//! that the `neuroloop` binary dispatches to (`main.rs` only parses and matches): the
//! binary's path (`CARGO_BIN_EXE_neuroloop`) exists only for the trainer crate's own tests,
//! and a binary found beside this test could be stale.

use std::fs;
use std::path::{Path, PathBuf};

use neuroloop_trainer::cli::{export, inspect, replay, simulate};
use neuroloop_trainer::export::replay::{read_report, ReplayReport};
use neuroloop_trainer::simulate::Scenario;

/// Simulates 60 s of the reference switching system into `dir` (system.json, counts.npy,
/// phy/, behavior.csv).
fn session(dir: &Path) -> PathBuf {
    let out = dir.join("session");
    simulate::run(simulate::Args {
        scenario: Scenario::SwitchingLinear,
        out: out.clone(),
        seed: 7,
        neurons: None,
        duration_s: Some(60.0),
        bin_ms: None,
        quiet: true,
    })
    .expect("simulate switching-linear");
    for f in ["system.json", "counts.npy", "behavior.csv", "phy"] {
        assert!(out.join(f).exists(), "simulate wrote no {f}");
    }
    out
}

fn export_args(sess: &Path, out: &Path) -> export::Args {
    export::Args {
        slds: Some(sess.join("system.json")),
        jslds: None,
        tavrnn: None,
        calibrate: sess.join("counts.npy"),
        bin_ms: None,
        out: out.to_path_buf(),
        device_only: false,
        hysteresis: None,
        name: None,
        weights: export::Weights::Auto,
        weights_for: Vec::new(),
        budget: neuroloop_trainer::export::DEFAULT_BUDGET,
        margin: neuroloop_trainer::export::DEFAULT_MARGIN,
        report: None,
    }
}

fn replay_args(model: &Path, data: &Path, labels: Option<PathBuf>, report: &Path) -> replay::Args {
    replay::Args {
        model: model.to_path_buf(),
        data: data.to_path_buf(),
        bin_ms: Some(10.0),
        labels,
        selection: Default::default(),
        counts_out: None,
        report: report.to_path_buf(),
    }
}

/// The report, after checking that its stable keys are in the file as written.
fn read_json(path: &Path) -> ReplayReport {
    let text = fs::read_to_string(path).unwrap();
    for key in ["bins", "regimes", "regime_agreement", "max_latent_error"] {
        assert!(text.contains(&format!("\"{key}\":")), "key {key} missing");
    }
    read_report(path).unwrap()
}

#[test]
fn export_inspect_replay_end_to_end() {
    let dir = tempfile_dir("e2e");
    let sess = session(&dir);
    let model = dir.join("model.nlm");
    let mut args = export_args(&sess, &model);
    args.report = Some(dir.join("export.json"));
    export::run(args).expect("export");
    let ex = fs::read_to_string(dir.join("export.json")).unwrap();
    assert!(
        ex.contains("\"tensors\"") && ex.contains("\"scales\""),
        "{ex}"
    );

    // inspect: header, sections, dimensions, types, sizes, RAM.
    let info = inspect::inspect(&model).expect("inspect");
    // The exporter writes the current format version (a JSLDS-only body is still a valid
    // 1.0 body; the minor version announces that an optional TAVRNN section may follow).
    let current = format!(
        "{}.{}",
        neuroloop_core::format::FORMAT_MAJOR,
        neuroloop_core::format::FORMAT_MINOR
    );
    assert_eq!(info.version, current);
    assert!(info.schema_matches && info.header_crc_ok && info.body_crc_ok);
    assert_eq!(info.neurons, 64);
    assert_eq!(info.bin_us, 10_000);
    assert_eq!(info.file_bytes as u64, fs::metadata(&model).unwrap().len());
    assert!(info.sections.contains(&"jslds.reference".to_string()));
    let j = info.jslds.as_ref().unwrap();
    assert_eq!((j.latent, j.regimes), (16, 8));
    assert!(j.has_reference && j.reference_bytes > 0);
    assert!(j.state_ram_bytes > 0);
    let dynamics = j
        .tensors
        .iter()
        .find(|t| t.name == "jslds.dynamics")
        .unwrap();
    assert_eq!(dynamics.shape, [128, 16]);
    assert!(dynamics.dtype == "i8" || dynamics.dtype == "i16");
    inspect::run(inspect::Args {
        model: model.clone(),
        json: true,
    })
    .expect("inspect --json");

    // replay over the counts, with the behaviour labels.
    let report = dir.join("replay.json");
    replay::run(replay_args(
        &model,
        &sess.join("counts.npy"),
        Some(sess.join("behavior.csv")),
        &report,
    ))
    .expect("replay");
    let r = read_json(&report);
    let bins = r.bins;
    assert_eq!(bins, 6000);
    assert_eq!(r.regimes.len(), bins);
    assert!(r.regimes.iter().all(|&k| k < 8));
    let agreement = r.regime_agreement.unwrap();
    assert!(agreement >= 0.99, "regime agreement {agreement}");
    let err = r.max_latent_error.unwrap();
    // A handful of state LSBs; the latent state spans a few units.
    assert!(err < 0.01, "max latent error {err}");
    assert!(r.changes.len() >= 5);
    let occupied: usize = r.occupancy.iter().map(|o| o.bins).sum();
    assert_eq!(occupied, bins);
    // With the true regimes as labels, most bins fall on the diagonal of the table: the
    // estimator recovers the regimes (classes are named after the true regimes).
    let labels = r.labels.as_ref().unwrap();
    let mut diag = 0;
    for (ci, class) in labels.classes.iter().enumerate() {
        let k = r.regime_names.iter().position(|n| n == class).unwrap();
        diag += labels.bins[ci][k];
    }
    assert!(diag as f64 >= 0.85 * bins as f64, "{diag} of {bins}");

    // The Phy folder of the same session bins back to the same counts: same regimes.
    let report_phy = dir.join("replay_phy.json");
    replay::run(replay_args(&model, &sess.join("phy"), None, &report_phy)).expect("replay phy");
    let rp = read_json(&report_phy);
    assert_eq!(rp.regimes[..bins], r.regimes[..]);

    // A time range selects whole bins of the recording; selecting fewer units than the model
    // has neurons is refused with a message that says so.
    let report_range = dir.join("replay_range.json");
    let mut args = replay_args(&model, &sess.join("phy"), None, &report_range);
    args.selection.start_s = Some(10.0);
    args.selection.end_s = Some(20.0);
    replay::run(args).expect("replay a time range");
    let rr = read_json(&report_range);
    assert_eq!(rr.bins, 1000);
    // The firmware's count stream of the same bins: 1000 x 64 u16, equal to the .npy rows.
    let mut args = replay_args(&model, &sess.join("counts.npy"), None, &report_range);
    args.selection.start_s = Some(10.0);
    args.selection.end_s = Some(20.0);
    let stream = dir.join("counts.u16");
    args.counts_out = Some(stream.clone());
    replay::run(args).expect("replay --counts-out");
    let bytes = fs::read(&stream).unwrap();
    assert_eq!(bytes.len(), 1000 * 64 * 2);
    let npy = neuroloop_trainer::data::npy_counts::read(&sess.join("counts.npy"), 0.01).unwrap();
    let first = 1000 * 64; // bin 1000 = 10 s
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let c = u16::from_le_bytes([pair[0], pair[1]]) as u32;
        assert_eq!(c, npy.data[first + i], "count {i} of the stream");
    }
    assert!((rr.start_s - 10.0).abs() < 1e-9, "start {}", rr.start_s);
    let mut args = replay_args(&model, &sess.join("phy"), None, &report_range);
    args.selection.units = Some((0..32).collect());
    let e = msg(replay::run(args).unwrap_err());
    assert!(e.contains("32") && e.contains("64"), "{e}");

    // A device-only file: smaller, no reference, replay reports the regimes and null
    // comparisons.
    let device = dir.join("device.nlm");
    let mut args = export_args(&sess, &device);
    args.device_only = true;
    export::run(args).expect("export --device-only");
    let di = inspect::inspect(&device).unwrap();
    assert!(di.file_bytes < info.file_bytes);
    assert!(!di.jslds.unwrap().has_reference);
    let report_dev = dir.join("replay_dev.json");
    replay::run(replay_args(
        &device,
        &sess.join("counts.npy"),
        None,
        &report_dev,
    ))
    .unwrap();
    let rd = read_json(&report_dev);
    assert!(rd.regime_agreement.is_none() && rd.max_latent_error.is_none());
    // Same quantised tensors, same fixed-point regimes.
    assert_eq!(rd.regimes, r.regimes);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_inputs_name_the_file() {
    let dir = tempfile_dir("bad");
    let sess = session(&dir);
    let model = dir.join("model.nlm");
    export::run(export_args(&sess, &model)).unwrap();

    // Missing model file.
    let missing = dir.join("missing.nlm");
    let e = msg(inspect::inspect(&missing).unwrap_err());
    assert!(e.contains("missing.nlm"), "{e}");
    let e = msg(replay::run(replay_args(
        &missing,
        &sess.join("counts.npy"),
        None,
        &dir.join("r.json"),
    ))
    .unwrap_err());
    assert!(e.contains("missing.nlm"), "{e}");

    // Corrupt model: one flipped body byte is a CRC error naming the file.
    let mut bytes = fs::read(&model).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    let corrupt = dir.join("corrupt.nlm");
    fs::write(&corrupt, &bytes).unwrap();
    let e = msg(inspect::inspect(&corrupt).unwrap_err());
    assert!(e.contains("corrupt.nlm") && e.contains("CRC"), "{e}");
    let e = msg(replay::run(replay_args(
        &corrupt,
        &sess.join("counts.npy"),
        None,
        &dir.join("r.json"),
    ))
    .unwrap_err());
    assert!(e.contains("corrupt.nlm") && e.contains("CRC"), "{e}");
    assert!(
        !dir.join("r.json").exists(),
        "no report for a failed replay"
    );

    // Truncated model and a file that is not a model at all.
    let truncated = dir.join("truncated.nlm");
    fs::write(&truncated, &fs::read(&model).unwrap()[..100]).unwrap();
    let e = msg(inspect::inspect(&truncated).unwrap_err());
    assert!(
        e.contains("truncated.nlm") && e.contains("truncated"),
        "{e}"
    );
    let e = msg(inspect::inspect(&sess.join("system.json")).unwrap_err());
    assert!(e.contains("system.json") && e.contains("magic"), "{e}");

    // Missing calibration data, missing system, wrong bin width.
    let mut args = export_args(&sess, &dir.join("x.nlm"));
    args.calibrate = dir.join("nothing.npy");
    let e = msg(export::run(args).unwrap_err());
    assert!(e.contains("nothing.npy"), "{e}");
    let mut args = export_args(&sess, &dir.join("x.nlm"));
    args.slds = Some(dir.join("nosystem.json"));
    let e = msg(export::run(args).unwrap_err());
    assert!(e.contains("nosystem.json"), "{e}");
    let mut args = export_args(&sess, &dir.join("x.nlm"));
    args.bin_ms = Some(20.0);
    let e = msg(export::run(args).unwrap_err());
    assert!(e.contains("system.json") && e.contains("10 ms"), "{e}");
    assert!(!dir.join("x.nlm").exists());

    // A failed export leaves the previous model file as it was.
    let before = fs::read(&model).unwrap();
    let mut args = export_args(&sess, &model);
    args.margin = 0.5;
    assert!(export::run(args).is_err());
    assert_eq!(fs::read(&model).unwrap(), before);

    // Replay data with the wrong number of units for the model.
    let other = dir.join("other");
    simulate::run(simulate::Args {
        scenario: Scenario::SwitchingLinear,
        out: other.clone(),
        seed: 1,
        neurons: Some(32),
        duration_s: Some(5.0),
        bin_ms: None,
        quiet: true,
    })
    .unwrap();
    let e = msg(replay::run(replay_args(
        &model,
        &other.join("counts.npy"),
        None,
        &dir.join("r.json"),
    ))
    .unwrap_err());
    assert!(e.contains("32 units") && e.contains("64 neurons"), "{e}");
    let _ = fs::remove_dir_all(&dir);
}

/// The message `neuroloop` prints for an error (`{:#}`: with its causes).
fn msg(e: impl std::fmt::Display) -> String {
    format!("{e:#}")
}

/// A fresh folder under the system temp dir (the tests crate has no tempfile dependency).
fn tempfile_dir(tag: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("neuroloop-replay-cli-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
