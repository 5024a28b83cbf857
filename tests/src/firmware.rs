//! Running the firmware under QEMU from a test, and what it and the host replay report.
//!
//! The firmware prints `NL ...` lines (see `firmware-example/src/device/replay.rs`) and
//! `scripts/firmware.sh` prints `FW ...` lines (sizes); [`FirmwareRun::parse`] reads both.
//! [`host_replay`] computes the same summary with neuroloop-core on the host, so a test can
//! compare them bit for bit.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use neuroloop_core::crc32::Crc32;
use neuroloop_core::{Estimator, Model};

/// The Debian packages the firmware build and run need (DESIGN.md, "Targets").
pub const INSTALL_HINT: &str =
    "apt-get update && apt-get install -y rustc-web cargo-web rust-web-src lld qemu-system-arm";

/// Regime sequence and latent checksum of a replay: what host and device must agree on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaySummary {
    /// Selected regime `k_t`, as runs `(value, length)`.
    pub selected: Vec<(u8, u32)>,
    /// Reported regime (after hysteresis), as runs.
    pub reported: Vec<(u8, u32)>,
    /// Bins processed.
    pub bins: u32,
    /// Reported regime changes.
    pub changes: u32,
    /// CRC-32 over the i16 LE latent state after every step.
    pub latent_crc32: u32,
    /// Behaviour class of each window, as runs (empty without a TAVRNN section).
    pub classes: Vec<(u8, u32)>,
    /// CRC-32 over the i16 LE window embedding after every window (`None` without a TAVRNN
    /// section).
    pub embedding_crc32: Option<u32>,
}

/// The TAVRNN outputs of the host replay: what `neuroloop replay` computes
/// (`neuroloop_trainer::export::tavrnn::run_tavrnn`, i.e. neuroloop-core's graph encoder and
/// fixed-point TAVRNN compiled for the host), as the firmware prints them.
pub fn host_tavrnn(
    model_bytes: &[u8],
    counts: &[u16],
    neurons: usize,
    bin_s: f64,
) -> (Vec<(u8, u32)>, u32, usize) {
    use neuroloop_trainer::data::Counts;
    let model = Model::from_bytes(model_bytes).expect("model file loads on the host");
    let bins = counts.len() / neurons;
    let c = Counts {
        bin_s,
        start_s: 0.0,
        unit_ids: (0..neurons as u32).collect(),
        n_bins: bins,
        data: counts.iter().map(|&v| u32::from(v)).collect(),
    };
    let mut runs = vec![];
    let mut crc = Crc32::new();
    let mut windows = 0;
    neuroloop_trainer::export::tavrnn::run_tavrnn(&model, &c, true, false, |w| {
        let (out, emb) = w.fixed.as_ref().expect("the fixed point ran");
        push_run(&mut runs, out.class);
        crc.update_i16(emb);
        windows += 1;
    })
    .expect("host TAVRNN replay");
    (runs, crc.finish(), windows)
}

fn push_run(runs: &mut Vec<(u8, u32)>, v: u8) {
    match runs.last_mut() {
        Some((last, n)) if *last == v => *n += 1,
        _ => runs.push((v, 1)),
    }
}

/// Replays `counts` (T x N) through neuroloop-core's fixed-point estimator on the host, with
/// the same capacities as the firmware.
pub fn host_replay(model_bytes: &[u8], counts: &[u16], neurons: usize) -> ReplaySummary {
    let model = Model::from_bytes(model_bytes).expect("model file loads on the host");
    let mut est = Estimator::<32, 128>::new(&model).expect("estimator accepts the model");
    let mut s = ReplaySummary::default();
    let mut crc = Crc32::new();
    for row in counts.chunks_exact(neurons) {
        let out = est.step(row).expect("host step");
        crc.update_i16(est.latent());
        push_run(&mut s.selected, out.regime);
        push_run(&mut s.reported, out.reported);
        s.bins += 1;
        s.changes += u32::from(out.changed);
    }
    s.latent_crc32 = crc.finish();
    s
}

/// What was missing to build or run the firmware, if anything (the message names the
/// package to install).
pub fn missing_tools() -> Option<String> {
    let mut missing = vec![];
    let on_path = |tool: &str| {
        std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
            .unwrap_or(false)
    };
    if !Path::new("/usr/bin/rustc").is_file() {
        missing.push("/usr/bin/rustc (package rustc-web)");
    }
    if !Path::new("/usr/bin/cargo").is_file() {
        missing.push("/usr/bin/cargo (package cargo-web)");
    }
    if !Path::new("/usr/lib/rustlib/src/rust/library/core").is_dir() {
        missing.push("Rust library sources for -Zbuild-std (package rust-web-src)");
    }
    if !on_path("ld.lld") {
        missing.push("ld.lld (package lld)");
    }
    if !on_path("qemu-system-arm") {
        missing.push("qemu-system-arm (package qemu-system-arm)");
    }
    (!missing.is_empty()).then(|| {
        format!(
            "the firmware test needs Debian's Rust toolchain and QEMU; missing: {}. Install them \
             as root with: {INSTALL_HINT}",
            missing.join(", ")
        )
    })
}

/// Repository root (this crate lives in `<root>/tests`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Everything one run of `scripts/firmware.sh` reported.
#[derive(Debug, Clone)]
pub struct FirmwareRun {
    /// The replay summary the firmware printed.
    pub summary: ReplaySummary,
    /// `key=value` pairs of the `FW` and `NL` lines (`step_instructions.median`, ...).
    pub values: BTreeMap<String, String>,
    /// The full output (stdout then stderr), for diagnostics.
    pub output: String,
}

impl FirmwareRun {
    /// Parses the output of `scripts/firmware.sh`.
    pub fn parse(output: &str) -> Result<FirmwareRun, String> {
        let mut summary = ReplaySummary {
            selected: vec![],
            reported: vec![],
            bins: 0,
            changes: 0,
            latent_crc32: 0,
            classes: vec![],
            embedding_crc32: None,
        };
        let values = parse_values(output);
        for line in output.lines() {
            let Some(rest) = line.strip_prefix("NL ") else {
                continue;
            };
            let mut words = rest.split_whitespace();
            let first = words.next().unwrap_or("");
            if first == "k" || first == "r" || first == "c" {
                let v: u8 = words.next().and_then(|w| w.parse().ok()).ok_or(line)?;
                let n: u32 = words
                    .next()
                    .and_then(|w| w.strip_prefix('x'))
                    .and_then(|w| w.parse().ok())
                    .ok_or(line)?;
                let runs = match first {
                    "k" => &mut summary.selected,
                    "r" => &mut summary.reported,
                    _ => &mut summary.classes,
                };
                runs.push((v, n));
            }
        }
        let get = |k: &str| {
            values
                .get(k)
                .ok_or_else(|| format!("the output has no {k}"))
        };
        summary.bins = get("bins")?.parse().map_err(|e| format!("bins: {e}"))?;
        summary.changes = get("changes")?
            .parse()
            .map_err(|e| format!("changes: {e}"))?;
        let crc = get("latent_crc32")?;
        summary.latent_crc32 = u32::from_str_radix(crc.trim_start_matches("0x"), 16)
            .map_err(|e| format!("latent_crc32 {crc}: {e}"))?;
        if let Some(crc) = values.get("embedding_crc32") {
            summary.embedding_crc32 = Some(
                u32::from_str_radix(crc.trim_start_matches("0x"), 16)
                    .map_err(|e| format!("embedding_crc32 {crc}: {e}"))?,
            );
        }
        Ok(FirmwareRun {
            summary,
            values,
            output: output.to_string(),
        })
    }

    /// A numeric value by key (`"step_instructions.median"`, `"flash_without_model_bytes"`).
    pub fn number(&self, key: &str) -> Result<f64, String> {
        number(&self.values, key)
    }
}

fn number(values: &BTreeMap<String, String>, key: &str) -> Result<f64, String> {
    values
        .get(key)
        .ok_or_else(|| format!("the firmware output has no {key}"))?
        .parse()
        .map_err(|e| format!("{key}: {e}"))
}

/// The `key=value` pairs of the `NL` and `FW` lines: "group key=value .." gives `group.key`,
/// "key=value .." gives `key`; the run-length lines (`NL k|r|c V xR`) are not pairs.
fn parse_values(output: &str) -> BTreeMap<String, String> {
    let mut values = BTreeMap::new();
    for line in output.lines() {
        let Some(rest) = line
            .strip_prefix("NL ")
            .or_else(|| line.strip_prefix("FW "))
        else {
            continue;
        };
        let first = rest.split_whitespace().next().unwrap_or("");
        if first == "k" || first == "r" || first == "c" {
            continue;
        }
        // "group key=value key=value" or "key=value ..."
        let (group, pairs) = if first.contains('=') {
            ("", rest)
        } else {
            (first, &rest[first.len()..])
        };
        for pair in pairs.split_whitespace() {
            if let Some((k, v)) = pair.split_once('=') {
                let key = if group.is_empty() {
                    k.to_string()
                } else {
                    format!("{group}.{k}")
                };
                values.insert(key, v.to_string());
            }
        }
    }
    values
}

/// Builds the firmware with `model` and `counts` embedded and runs it in QEMU through
/// `scripts/firmware.sh`. `Err` carries the script's whole output.
///
/// Calls are serialised within the process: every build writes the same ELF path, so two
/// tests building at once could run each other's firmware.
pub fn build_and_run(model: &Path, counts: &Path, neurons: usize) -> Result<FirmwareRun, String> {
    build_and_run_with(model, counts, neurons, "")
}

/// [`build_and_run`] with cargo `features` of the firmware (comma-separated, may be empty).
pub fn build_and_run_with(
    model: &Path,
    counts: &Path,
    neurons: usize,
    features: &str,
) -> Result<FirmwareRun, String> {
    let mut args = vec![];
    if !features.is_empty() {
        args.extend(["--features".to_string(), features.to_string()]);
    }
    let text = run_firmware_script(model, counts, neurons, &args)?;
    FirmwareRun::parse(&text).map_err(|e| format!("{e}\n--- output ---\n{text}"))
}

/// What the deployed firmware (`scripts/firmware.sh --deployed`: no `report` feature, no step
/// timing, no text formatting) reported: its sizes (`FW` lines), `deployed.bins`,
/// `deployed.changes`, `deployed.windows`, `deployed.class_changes` and its stack peaks.
#[derive(Debug, Clone)]
pub struct DeployedRun {
    /// `key=value` pairs of the `FW` and `NL` lines.
    pub values: BTreeMap<String, String>,
    /// The full output (stdout then stderr), for diagnostics.
    pub output: String,
}

impl DeployedRun {
    /// A numeric value by key (`"deployed.changes"`, `"flash_without_model_bytes"`).
    pub fn number(&self, key: &str) -> Result<f64, String> {
        number(&self.values, key)
    }
}

/// Builds the deployed firmware with `model` and `counts` embedded and runs it in QEMU.
pub fn build_and_run_deployed(
    model: &Path,
    counts: &Path,
    neurons: usize,
) -> Result<DeployedRun, String> {
    let output = run_firmware_script(model, counts, neurons, &["--deployed".to_string()])?;
    let values = parse_values(&output);
    if !values.contains_key("deployed.bins") {
        return Err(format!(
            "the deployed firmware printed no 'NL deployed' line\n--- output ---\n{output}"
        ));
    }
    Ok(DeployedRun { values, output })
}

/// Runs `scripts/firmware.sh` (one build at a time: they share a target directory) and
/// returns its output, or an error holding it when the script failed.
fn run_firmware_script(
    model: &Path,
    counts: &Path,
    neurons: usize,
    extra: &[String],
) -> Result<String, String> {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(msg) = missing_tools() {
        return Err(msg);
    }
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join("scripts/firmware.sh"))
        .arg("--model")
        .arg(model)
        .arg("--counts")
        .arg(counts)
        .arg("--neurons")
        .arg(neurons.to_string())
        .args(extra)
        .current_dir(&root)
        .output()
        .map_err(|e| format!("cannot run scripts/firmware.sh: {e}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        return Err(format!(
            "scripts/firmware.sh failed ({}):\n{text}",
            out.status
        ));
    }
    Ok(text)
}

/// The firmware's own loop (`neuroloop_firmware::app::App` with its window half, the code the
/// device runs) compiled for the host, over the stream the device replays, with the device's
/// capacities at N = 64 (latent 32; hidden 32, attention window 8, the same scratch): its
/// summary, to compare with the host replay (same core, another driver) and the device
/// (same driver, another target).
pub fn firmware_loop_on_host(model_bytes: &[u8], stream: &[u8]) -> ReplaySummary {
    use neuroloop_core::graph::triangle;
    use neuroloop_core::tavrnn::{keys_len, ring_len, Tavrnn};
    use neuroloop_firmware::app::{App, NoMeter, NoPin};
    use neuroloop_firmware::source::ReplaySource;
    use neuroloop_firmware::windows::{WindowLoop, WindowState};
    const N: usize = 64;
    const T: usize = triangle(N);
    const RING: usize = ring_len(N + 1, 32, 8);
    const KEYS: usize = keys_len(32, 8);
    const S: usize = (N + 1) * (8 + 16 + 32 + 32);
    let model = Model::from_bytes(model_bytes).expect("model file loads on the host");
    let est = Estimator::<32, N>::new(&model).expect("estimator accepts the model");
    let source = ReplaySource::new(stream, N).expect("whole bins");
    let mut tavrnn = Box::new(Tavrnn::<RING, KEYS>::new(&model).expect("tavrnn section"));
    let mut state = Box::new(WindowState::<N, T, S>::new());
    // The second set of sums of overlapping windows (used only when the model's are).
    let mut block = Box::new(neuroloop_core::StreamingConnectivity::<N, T>::new());
    let windows =
        WindowLoop::new(&model, &mut tavrnn, &mut state, Some(&mut block)).expect("window half");
    let mut app = App::new(est, N, source, NoPin)
        .and_then(|a| a.with_windows(Some(windows), NoPin))
        .unwrap_or_else(|e| panic!("app: {e}"));
    let mut s = ReplaySummary::default();
    let (mut crc, mut emb) = (Crc32::new(), Crc32::new());
    let mut meter = NoMeter;
    while let Some(o) = app
        .run_bin(&mut meter)
        .unwrap_or_else(|e| panic!("bin: {e}"))
    {
        crc.update_i16(app.latent());
        push_run(&mut s.selected, o.output.regime);
        push_run(&mut s.reported, o.output.reported);
        if let (Some(w), Some(win)) = (o.window, app.windows()) {
            emb.update_i16(win.embedding());
            push_run(&mut s.classes, w.output.class);
        }
    }
    s.bins = app.bins();
    s.changes = app.changes();
    s.latent_crc32 = crc.finish();
    s.embedding_crc32 = Some(emb.finish());
    s
}
