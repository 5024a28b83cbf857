//! `neuroloop replay`: run neuroloop-core on the host over a recording — the fixed-point
//! estimator the device runs, and the f32 reference beside it — and write a JSON report
//! (keys: see [`crate::export::replay`]). A file with a TAVRNN section adds `classes` (the
//! fixed-point behaviour class, one a window), `class_agreement` and `embedding_cosine_min`
//! (against the f32 reference; null for a device-only file).

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::data::{labels, load_counts};
use crate::export::replay::{replay, BinLabels};
use crate::export::tavrnn::{run_tavrnn, tavrnn_agreement};
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
    let replay_err = || {
        format!(
            "replaying {} over {}",
            args.model.display(),
            args.data.display()
        )
    };
    let report = match model.jslds() {
        Some(_) => Some(replay(&bytes, &counts, bin_labels.as_ref()).with_context(replay_err)?),
        None => None,
    };
    let tavrnn = match model.tavrnn() {
        Some(t) => {
            Some(tavrnn_keys(&model, t.reference.is_some(), &counts).with_context(replay_err)?)
        }
        None => None,
    };
    if report.is_none() && tavrnn.is_none() {
        anyhow::bail!(
            "{}: the model has neither a JSLDS nor a TAVRNN section",
            args.model.display()
        );
    }
    if let Some(path) = &args.counts_out {
        write_atomic(path, &crate::export::device_stream(&counts))?;
        println!(
            "count stream for the firmware: {} ({} bins x {} neurons, u16 LE)",
            path.display(),
            counts.n_bins,
            counts.n_units()
        );
    }
    let mut json = match &report {
        Some(r) => serde_json::to_value(r)?,
        None => serde_json::json!({ "bins": counts.n_bins, "bin_s": counts.bin_s }),
    };
    if let (Some(t), Some(obj)) = (&tavrnn, json.as_object_mut()) {
        obj.insert("classes".into(), serde_json::to_value(&t.classes)?);
        obj.insert(
            "class_agreement".into(),
            serde_json::to_value(t.class_agreement)?,
        );
        obj.insert(
            "embedding_cosine_min".into(),
            serde_json::to_value(t.embedding_cosine_min)?,
        );
    }
    let text = serde_json::to_string_pretty(&json)?;
    write_atomic(&args.report, text.as_bytes())?;
    let pct = |x: Option<f64>| {
        x.map_or("n/a (device-only file)".to_string(), |v| {
            format!("{:.2} %", 100.0 * v)
        })
    };
    if let Some(report) = &report {
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
    }
    if let Some(t) = &tavrnn {
        println!(
            "tavrnn: {} windows; class agreement with the f32 reference: {}; smallest \
             embedding cosine: {}",
            t.classes.len(),
            pct(t.class_agreement),
            t.embedding_cosine_min
                .map_or("n/a (device-only file)".to_string(), |c| format!("{c:.5}"))
        );
    }
    println!("report: {}", args.report.display());
    Ok(())
}

/// The TAVRNN keys of the replay report.
struct TavrnnKeys {
    /// Fixed-point behaviour class, one a window.
    classes: Vec<u8>,
    /// Against the f32 reference (None for a device-only file).
    class_agreement: Option<f64>,
    /// Smallest embedding cosine against the reference (None for a device-only file).
    embedding_cosine_min: Option<f64>,
}

fn tavrnn_keys(
    model: &neuroloop_core::Model<'_>,
    has_reference: bool,
    counts: &crate::data::Counts,
) -> Result<TavrnnKeys> {
    if has_reference {
        let a = tavrnn_agreement(model, counts)?;
        return Ok(TavrnnKeys {
            classes: a.classes,
            class_agreement: Some(a.class_agreement),
            embedding_cosine_min: Some(a.embedding_cosine_min),
        });
    }
    let mut classes = Vec::new();
    run_tavrnn(model, counts, true, false, |w| {
        if let Some((o, _)) = &w.fixed {
            classes.push(o.class);
        }
    })?;
    Ok(TavrnnKeys {
        classes,
        class_agreement: None,
        embedding_cosine_min: None,
    })
}
