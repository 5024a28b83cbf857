//! `neuroloop replay`: run neuroloop-core on the host over a recording — the fixed-point
//! estimator the device runs, and the f32 reference beside it — and write a JSON report
//! (keys: see [`crate::export::replay`]).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::{labels, load_counts};
use crate::export::replay::{replay, BinLabels};
use crate::export::write_atomic;

/// Arguments of `neuroloop replay`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file (.nlm).
    #[arg(long, value_name = "model.nlm")]
    pub model: PathBuf,
    /// Recording: a Phy/Kilosort folder, an .nwb file or a binned count .npy (T x N).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Bin width, ms (default: the model's; a different width is an error).
    #[arg(long, value_name = "MS")]
    pub bin_ms: Option<f64>,
    /// Behaviour intervals (start_s,end_s,label): adds the regime-by-behaviour table.
    #[arg(long, value_name = "CSV")]
    pub labels: Option<PathBuf>,
    /// Units and time range to replay.
    #[command(flatten)]
    pub selection: crate::cli::data_args::Selection,
    /// Also write the replayed counts as the firmware's raw count stream (u16 little-endian,
    /// bins x neurons), for `scripts/firmware.sh --counts`.
    #[arg(long, value_name = "FILE")]
    pub counts_out: Option<PathBuf>,
    /// Report file (JSON).
    #[arg(long, value_name = "JSON")]
    pub report: PathBuf,
}

/// Runs `neuroloop replay`.
pub fn run(args: Args) -> Result<()> {
    let bytes = std::fs::read(&args.model)
        .with_context(|| format!("{}: cannot read", args.model.display()))?;
    let model = neuroloop_core::Model::from_bytes(&bytes)
        .map_err(crate::export::core_err)
        .with_context(|| format!("{}: not a valid model file", args.model.display()))?;
    let model_bin_s = model.meta().bin_us as f64 * 1e-6;
    let bin_s = match args.bin_ms {
        Some(ms) => {
            if ((ms * 1e-3 - model_bin_s) / model_bin_s).abs() > 1e-6 {
                anyhow::bail!(
                    "--bin-ms {ms}: {} runs on {} ms bins",
                    args.model.display(),
                    model_bin_s * 1e3
                );
            }
            ms * 1e-3
        }
        None => model_bin_s,
    };
    let counts =
        load_counts(&args.data, &args.selection.load_options(bin_s)?).context("recording")?;
    let labels = match &args.labels {
        Some(p) => Some(labels::read_csv(p)?),
        None => None,
    };
    let bin_labels = labels.as_ref().map(|l| BinLabels {
        classes: l.classes.clone(),
        class_at: Box::new(move |t| l.label_at(t)),
    });
    let report = replay(&bytes, &counts, bin_labels.as_ref()).with_context(|| {
        format!(
            "replaying {} over {}",
            args.model.display(),
            args.data.display()
        )
    })?;
    if let Some(path) = &args.counts_out {
        write_atomic(path, &crate::export::device_stream(&counts))?;
        println!(
            "count stream for the firmware: {} ({} bins x {} neurons, u16 LE)",
            path.display(),
            counts.n_bins,
            counts.n_units()
        );
    }
    let text = serde_json::to_string_pretty(&report)?;
    write_atomic(&args.report, text.as_bytes())?;
    let pct = |x: Option<f64>| {
        x.map_or("n/a (device-only file)".to_string(), |v| {
            format!("{:.2} %", 100.0 * v)
        })
    };
    println!(
        "replayed {} bins ({:.1} s) of {} through {}: {} reported regime changes",
        report.bins,
        report.bins as f64 * report.bin_s,
        args.data.display(),
        args.model.display(),
        report.changes.len()
    );
    println!(
        "regime agreement with the f32 reference: {}; max latent error: {}",
        pct(report.regime_agreement),
        report
            .max_latent_error
            .map_or("n/a".to_string(), |e| format!("{e:.3e}"))
    );
    println!("report: {}", args.report.display());
    Ok(())
}
