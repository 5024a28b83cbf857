//! `neuroloop jslds analyze --model CKPT --report JSON [--plots DIR] [--truth truth.json]`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::truth::TruthSession;
use crate::data::{load_counts, Counts, LoadOptions};
use crate::export::write_atomic;

/// Arguments of `neuroloop jslds analyze`.
#[derive(clap::Args, Debug, Clone)]
pub struct AnalyzeArgs {
    /// Checkpoint folder written by `neuroloop jslds train`.
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// Where to write the JSON report (keys in the README, "jslds analyze report").
    #[arg(long, value_name = "JSON")]
    pub report: PathBuf,
    /// Folder for the figures (SVG): eigenspectra, latent states in principal components,
    /// training curves.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
    /// `truth.json` of a simulated session (`neuroloop simulate`): adds `truth_match` (fixed
    /// points, frequencies, regimes, rate-threshold baseline).
    #[arg(long, value_name = "truth.json")]
    pub truth: Option<PathBuf>,
    /// The data the model was trained on (default: the path recorded in the checkpoint); with
    /// `--truth` also the spikes of the rate-threshold baseline (default: `phy/` next to
    /// `truth.json`).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// A behaviour label file (`start_s,end_s,label`, on the data's clock), repeatable: the
    /// model is rolled out over the whole session and its regimes are scored against each
    /// file (`labels` in the report: contingency table, NMI, majority-mapping accuracy).
    #[arg(long, value_name = "CSV")]
    pub labels: Vec<PathBuf>,
    /// Pieces the whole-session rollout of `--labels` is cut into (each starts from zero
    /// state; they run as one batch).
    #[arg(long, default_value_t = 16)]
    pub labels_pieces: usize,
    /// Also write the raw analysis inputs (linearisations, held-out rollouts, curves) as JSON.
    #[arg(long, value_name = "JSON")]
    pub inputs_out: Option<PathBuf>,
}

/// Runs `neuroloop jslds analyze`.
pub fn run_analyze(args: AnalyzeArgs) -> Result<()> {
    let inputs = crate::jslds::analysis_inputs(&args.model, args.data.as_deref())?;
    if let Some(path) = &args.inputs_out {
        write_atomic(path, &serde_json::to_vec(&inputs)?)?;
        eprintln!("wrote the analysis inputs to {}", path.display());
    }
    let truth = args.truth.as_deref().map(TruthSession::read).transpose()?;
    let session = match &truth {
        Some(t) => session_counts(args.data.as_deref(), t, inputs.bin_s),
        None => None,
    };
    let (mut report, view) = super::analyze(&inputs, truth.as_ref(), session.as_ref())
        .with_context(|| format!("{}: analysing the checkpoint", args.model.display()))?;
    if !args.labels.is_empty() {
        let s =
            crate::jslds::session_regimes(&args.model, args.data.as_deref(), args.labels_pieces)?;
        for path in &args.labels {
            report.labels.push(super::labels::label_report(&s, path)?);
        }
        report.labels_rollout_pieces = Some(s.pieces);
    }
    if let Some(dir) = &args.plots {
        report.figures = super::plots::write_all(dir, &view, &report)?;
    }
    let json = serde_json::to_string_pretty(&report)?;
    write_atomic(&args.report, json.as_bytes())?;
    print_summary(&report, &args.report);
    Ok(())
}

/// The session's counts at the model's bin width for the baseline: `--data`, else `phy/`
/// next to `truth.json`. A session that cannot be read only drops the baseline (with a note).
fn session_counts(data: Option<&Path>, truth: &TruthSession, bin_s: f64) -> Option<Counts> {
    let path = data
        .map(Path::to_path_buf)
        .unwrap_or_else(|| truth.dir().join("phy"));
    match load_counts(&path, &LoadOptions::new(bin_s)) {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("note: no rate-threshold baseline ({e})");
            None
        }
    }
}

fn print_summary(r: &super::Report, path: &Path) {
    println!("jslds analyze — {}", path.display());
    if let Some(step) = r.model_step {
        match r.validation_relative_error {
            Some(v) => println!(
                "  {:<34}: step {step}, selected on the validation bins (relative error {v:.4})",
                "model"
            ),
            None => println!("  {:<34}: step {step} (the last)", "model"),
        }
    }
    println!(
        "  {:<34}: {:.4}  ({} bins)",
        "held-out relative error |h-a|/|h|", r.relative_error, r.heldout_bins
    );
    let pieces: Vec<String> = r
        .relative_error_pieces
        .iter()
        .map(|p| p.map_or("-".into(), |x| format!("{x:.4}")))
        .collect();
    println!(
        "  {:<34}: {}  ({} bins each, each from zero)",
        "  by piece",
        pieces.join(" / "),
        r.heldout_segment_len
    );
    if let Some(c) = r.relative_error_continuous {
        println!(
            "  {:<34}: {c:.4}  (one rollout from the session's start, no restart)",
            "  the same bins, continuous"
        );
    }
    if let Some(e) = &r.error_decomposition {
        println!(
            "  {:<34}: {:.4} choosing from the GRU's state, {:.4} with the best regime a step",
            "  the same rollout", e.selection_from_gru, e.best_selection
        );
        println!(
            "  {:<34}: {:.4} ({:.4} with the best regime)",
            "  one step from the GRU's state", e.one_step, e.one_step_best
        );
        println!(
            "  {:<34}: {:.0} % of it in the worst 5 % of bins; the worst bin {:.2} of the RMS state",
            "  where the error lies",
            100.0 * e.worst_bins_share,
            e.worst_bin_error
        );
    }
    println!(
        "  {:<34}: {:.4} bits/spike ({} neurons)",
        "co-smoothing", r.co_bps, r.co_bps_neurons
    );
    println!(
        "  {:<34}: {} ({} occupied, {} stable)",
        "regimes",
        r.regimes.len(),
        r.regimes_occupied,
        r.regimes_stable
    );
    for l in &r.labels {
        println!(
            "  {:<34}: NMI {:.3}, majority accuracy {:.3} (cross-fitted {:.3}, chance {:.3}, rate threshold {})",
            format!("labels {}", l.file),
            l.nmi,
            l.majority_accuracy,
            l.majority_accuracy_crossfit,
            l.chance,
            l.baseline_rate_threshold_crossfit
                .map(|b| format!("{b:.3}"))
                .unwrap_or("-".into()),
        );
    }
    if let Some(t) = &r.truth_match {
        println!(
            "  {:<34}: fixed points {}/{}, regime accuracy {:.3} (cross-fitted {:.3}){}{}",
            format!("truth ({})", t.scenario),
            t.fixed_points_matched,
            t.fixed_points_true,
            t.regime_accuracy,
            t.regime_accuracy_crossfit,
            t.frequency_error_hz
                .map(|f| format!(", frequency error {f:.2} Hz"))
                .unwrap_or_default(),
            t.baseline_rate_threshold_accuracy
                .map(|b| format!(", rate-threshold baseline {b:.3}"))
                .unwrap_or_default(),
        );
        if let Some(ring) = &t.ring {
            println!(
                "  {:<34}: radius cv {:.3}, angular coverage {:.3}, {}/8 sectors",
                "ring (true ring plane)",
                ring.radius_cv,
                ring.angular_coverage,
                ring.sectors_occupied
            );
        }
    }
}
