//! `neuroloop demo`: the whole loop on simulated data, no download.
//!
//! Today the loop is: simulate a switching linear session with known regimes, read it back
//! from its Phy folder, quantise the session's switching-linear estimator (calibrated on the
//! first quarter of the session), replay the rest on neuroloop-core — the fixed-point code
//! the microcontroller runs — beside its f32 reference, and score the regimes against the
//! truth. The training stages (JSLDS, TAVRNN) slot in before the export as they land.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::cli::simulate as simulate_cli;
use crate::data::{load_counts, Counts, LoadOptions};
use crate::export::replay::{replay, ReplayReport};
use crate::export::{quantize_jslds, write_atomic, write_model_file, ExportOptions};
use crate::simulate::Scenario;
use crate::slds::read_system_json;

/// Arguments of `neuroloop demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder: the session, the model file, the reports and summary.json.
    #[arg(long, default_value = "neuroloop-demo")]
    pub out: PathBuf,
    /// Seed of the simulated session.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Length of the simulated session, seconds.
    #[arg(long, default_value_t = 240.0)]
    pub duration_s: f64,
}

/// `DIR/summary.json` (keys documented in the README).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Fraction of held-out bins whose reported regime (fixed point, device) equals the true one.
    pub regime_accuracy: f64,
    /// Median delay, ms, from a true regime switch to the device reporting the new regime
    /// (switches the device reported at all within the next true dwell).
    pub switch_delay_ms_median: Option<f64>,
    /// Fraction of true switches the device reported within the new dwell.
    pub switches_detected: f64,
    /// Fraction of bins where the quantised regime equals the f32 reference's.
    pub regime_agreement: f64,
    /// Largest latent error of the quantised estimator, f32 units.
    pub max_latent_error: f64,
    /// Size of the model file (with the f32 reference section), bytes.
    pub model_bytes: usize,
    /// Size of the model file without the reference section (what a device stores), bytes.
    pub model_bytes_device_only: usize,
    /// RAM the estimator state needs on the device, bytes.
    pub state_ram_bytes: usize,
    /// Bins used to calibrate / bins replayed.
    pub calibration_bins: usize,
    /// Bins replayed (held out from calibration).
    pub replay_bins: usize,
    /// Wall time of the whole demo, seconds.
    pub elapsed_s: f64,
}

/// Runs `neuroloop demo`.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    if !(args.duration_s.is_finite() && args.duration_s >= 20.0) {
        bail!(
            "--duration-s {}: the demo needs at least 20 s",
            args.duration_s
        );
    }
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("{}: cannot create the output folder", args.out.display()))?;
    let session = args.out.join("session");

    println!(
        "[1/4] simulating {} s of a switching linear population (64 neurons, 8 regimes)",
        args.duration_s
    );
    simulate_cli::run(simulate_cli::Args {
        scenario: Scenario::SwitchingLinear,
        out: session.clone(),
        seed: args.seed,
        neurons: None,
        duration_s: Some(args.duration_s),
        bin_ms: None,
        quiet: false,
    })?;
    let system = read_system_json(&session.join("system.json"))?;
    let truth = read_truth_regimes(&session.join("truth.json"))?;
    let counts = load_counts(&session.join("phy"), &LoadOptions::new(system.bin_s))
        .context("reading the simulated session back from its Phy folder")?;
    if counts.n_bins != truth.len() {
        bail!(
            "{}: {} bins of truth, the Phy folder bins to {}",
            session.join("truth.json").display(),
            truth.len(),
            counts.n_bins
        );
    }

    let split = counts.n_bins / 4;
    let calibration = bins(&counts, 0, split);
    let held_out = bins(&counts, split, counts.n_bins);
    println!(
        "[2/4] quantising the estimator, calibrated on the first {:.0} s",
        split as f64 * counts.bin_s
    );
    let model = quantize_jslds(&system, &calibration, &ExportOptions::default())?;
    let model_path = args.out.join("model.nlm");
    write_model_file(&model_path, &model.bytes)?;

    println!(
        "[3/4] replaying the remaining {:.0} s on neuroloop-core (fixed point) and its f32 reference",
        held_out.n_bins as f64 * counts.bin_s
    );
    let report = replay(&model.bytes, &held_out, None)?;
    write_atomic(
        &args.out.join("replay.json"),
        serde_json::to_string_pretty(&report)?.as_bytes(),
    )?;

    println!("[4/4] scoring against the truth");
    let truth_held = &truth[split..];
    let score = score_regimes(&report, truth_held, counts.bin_s);
    let summary = Summary {
        regime_accuracy: score.accuracy,
        switch_delay_ms_median: score.delay_ms_median,
        switches_detected: score.detected,
        regime_agreement: report
            .regime_agreement
            .context("the replay ran without the f32 reference")?,
        max_latent_error: report.max_latent_error.unwrap_or(f64::NAN),
        model_bytes: model.bytes.len(),
        model_bytes_device_only: model.report.file_bytes_device_only,
        state_ram_bytes: model.report.state_ram_bytes,
        calibration_bins: split,
        replay_bins: held_out.n_bins,
        elapsed_s: started.elapsed().as_secs_f64(),
    };
    write_atomic(
        &args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    print_summary(&summary, &args.out);
    Ok(())
}

/// The bins `[a, b)` of `counts` as a recording of their own.
fn bins(counts: &Counts, a: usize, b: usize) -> Counts {
    let n = counts.n_units();
    Counts {
        bin_s: counts.bin_s,
        start_s: counts.start_s + a as f64 * counts.bin_s,
        unit_ids: counts.unit_ids.clone(),
        n_bins: b - a,
        data: counts.data[a * n..b * n].to_vec(),
    }
}

fn read_truth_regimes(path: &Path) -> Result<Vec<u8>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))?;
    let arr = v["regime_per_bin"]
        .as_array()
        .with_context(|| format!("{}: regime_per_bin: missing or not a list", path.display()))?;
    arr.iter()
        .map(|x| {
            x.as_u64()
                .and_then(|r| u8::try_from(r).ok())
                .with_context(|| format!("{}: regime_per_bin: {x} is not a regime", path.display()))
        })
        .collect()
}

struct RegimeScore {
    accuracy: f64,
    delay_ms_median: Option<f64>,
    detected: f64,
}

/// Accuracy of the reported regime per bin, and for each true switch the delay until the
/// device reports the new regime (if it does before the next true switch).
fn score_regimes(report: &ReplayReport, truth: &[u8], bin_s: f64) -> RegimeScore {
    let n = report.regimes.len().min(truth.len());
    let hits = (0..n).filter(|&t| report.regimes[t] == truth[t]).count();
    let switches: Vec<usize> = (1..n).filter(|&t| truth[t] != truth[t - 1]).collect();
    let mut delays = Vec::new();
    for (i, &s) in switches.iter().enumerate() {
        let end = switches.get(i + 1).copied().unwrap_or(n);
        if let Some(d) = (s..end).position(|t| report.regimes[t] == truth[s]) {
            delays.push(d as f64 * bin_s * 1e3);
        }
    }
    let detected = if switches.is_empty() {
        1.0
    } else {
        delays.len() as f64 / switches.len() as f64
    };
    delays.sort_by(f64::total_cmp);
    RegimeScore {
        accuracy: if n == 0 { 0.0 } else { hits as f64 / n as f64 },
        delay_ms_median: (!delays.is_empty()).then(|| delays[delays.len() / 2]),
        detected,
    }
}

fn print_summary(s: &Summary, out: &Path) {
    println!();
    println!(
        "neuroloop demo — summary ({})",
        out.join("summary.json").display()
    );
    println!(
        "  regimes (device, fixed point) vs truth : {:.1} % of {} held-out bins",
        100.0 * s.regime_accuracy,
        s.replay_bins
    );
    match s.switch_delay_ms_median {
        Some(d) => println!(
            "  true switches reported                 : {:.1} %, median delay {d:.0} ms",
            100.0 * s.switches_detected
        ),
        None => println!("  true switches reported                 : none"),
    }
    println!(
        "  quantised vs f32 regime agreement      : {:.2} %  (largest latent error {:.2e})",
        100.0 * s.regime_agreement,
        s.max_latent_error
    );
    println!(
        "  model file                             : {} B ({} B device-only), state RAM {} B",
        s.model_bytes, s.model_bytes_device_only, s.state_ram_bytes
    );
    println!(
        "  elapsed                                : {:.1} s",
        s.elapsed_s
    );
}
