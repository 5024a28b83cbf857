//! `neuroloop export`: quantise a model to fixed point and write a model file (.nlm).
//!
//! Sources: `--slds system.json` (a switching linear system in the folded device form, e.g.
//! from `neuroloop simulate switching-linear`) or `--jslds CKPT` (a checkpoint of
//! `neuroloop jslds train`, folded to the same form by `jslds::fold`). Each source yields a
//! section of the same model body, quantised by the same exporter and written by the same
//! atomic writer.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use neuroloop_core::WeightType;

use crate::data::{load_counts, LoadOptions};
use crate::export::{
    quantize_jslds, write_model_file, ExportOptions, DEFAULT_BUDGET, DEFAULT_MARGIN,
};
use crate::jslds::{checkpoint, fold::fold};
use crate::slds::{read_system_json, SwitchingLinear};

/// Weight type rule.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Weights {
    /// int8 or int16 per tensor, by the error budget.
    Auto,
    /// int8 everywhere.
    I8,
    /// int16 everywhere.
    I16,
}

/// Parses `TENSOR=i8|i16`.
fn parse_override(s: &str) -> Result<(String, WeightType), String> {
    let (name, ty) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected TENSOR=i8 or TENSOR=i16"))?;
    let ty = match ty {
        "i8" => WeightType::I8,
        "i16" => WeightType::I16,
        other => return Err(format!("{s:?}: weight type {other:?} is not i8 or i16")),
    };
    Ok((name.to_string(), ty))
}

/// Arguments of `neuroloop export`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Switching linear system to export (JSON written by `neuroloop simulate switching-linear`
    /// or `neuroloop_trainer::slds::write_system_json`).
    #[arg(long, value_name = "system.json", conflicts_with = "jslds")]
    pub slds: Option<PathBuf>,
    /// JSLDS checkpoint folder (written by `neuroloop jslds train`) to fold and export.
    #[arg(long, value_name = "CKPT")]
    pub jslds: Option<PathBuf>,
    /// TAVRNN checkpoint (`neuroloop tavrnn train`) to add as the file's TAVRNN section; its
    /// behaviour classifier is learned from `behavior.csv` next to the calibration data.
    #[arg(long, value_name = "CKPT")]
    pub tavrnn: Option<PathBuf>,
    /// Calibration data: a Phy/Kilosort folder, an .nwb file or a binned count .npy (T x N).
    #[arg(long, value_name = "PATH")]
    pub calibrate: PathBuf,
    /// Bin width of the calibration data, ms (default: the system's own bin width; a
    /// different value is an error, the system only runs at the width it was built for).
    #[arg(long, value_name = "MS")]
    pub bin_ms: Option<f64>,
    /// Output model file.
    #[arg(long, default_value = "model.nlm", value_name = "FILE")]
    pub out: PathBuf,
    /// Omit the f32 reference section (smaller file; `replay` then cannot compare).
    #[arg(long)]
    pub device_only: bool,
    /// Hysteresis in bins (default: the system's).
    #[arg(long, value_name = "N")]
    pub hysteresis: Option<u16>,
    /// Model name stored in the file (default: the output file's stem).
    #[arg(long)]
    pub name: Option<String>,
    /// Weight types: per-tensor choice by the error budget, or one type for all.
    #[arg(long, value_enum, default_value_t = Weights::Auto)]
    pub weights: Weights,
    /// Force one matrix's weight type, e.g. `jslds.input_gain=i8` (repeatable; wins over
    /// `--weights`).
    #[arg(long = "weights-for", value_name = "TENSOR=i8|i16", value_parser = parse_override)]
    pub weights_for: Vec<(String, WeightType)>,
    /// Error budget of the int8/int16 choice: worst-case weight error, times the recurrence
    /// gain for state-feeding tensors, as a fraction of the output's full range.
    #[arg(long, default_value_t = DEFAULT_BUDGET)]
    pub budget: f64,
    /// Calibration margin: calibrated ranges are widened by this factor.
    #[arg(long, default_value_t = DEFAULT_MARGIN)]
    pub margin: f64,
    /// Also write the export report (scales, tensor types, sizes, check) as JSON here.
    #[arg(long, value_name = "JSON")]
    pub report: Option<PathBuf>,
}

/// Runs `neuroloop export`.
pub fn run(args: Args) -> Result<()> {
    if let (None, None, Some(ckpt)) = (&args.slds, &args.jslds, &args.tavrnn) {
        return export_tavrnn(&args, ckpt, None);
    }
    let (sys, slds_path, load) = match (args.slds.as_deref(), args.jslds.as_deref()) {
        (Some(p), _) => (read_system_json(p)?, p, None),
        (None, Some(p)) => {
            let (sys, load) = fold_checkpoint(p, &args.calibrate)?;
            (sys, p, Some(load))
        }
        (None, None) => bail!("nothing to export: give --slds system.json or --jslds CKPT"),
    };
    let bin_s = match args.bin_ms {
        Some(ms) => {
            let b = ms / 1e3;
            if ((b - sys.bin_s) / sys.bin_s).abs() > 1e-6 {
                bail!(
                    "--bin-ms {ms}: {} was built for {} ms bins",
                    slds_path.display(),
                    sys.bin_s * 1e3
                );
            }
            b
        }
        None => sys.bin_s,
    };
    let load = load.unwrap_or_else(|| LoadOptions::new(bin_s));
    let counts = load_counts(&args.calibrate, &load).context("calibration data")?;
    let opts = ExportOptions {
        name: args.name.clone().unwrap_or_else(|| stem(&args.out)),
        budget: args.budget,
        margin: args.margin,
        include_reference: !args.device_only,
        hysteresis: args.hysteresis,
        force_weights: match args.weights {
            Weights::Auto => None,
            Weights::I8 => Some(WeightType::I8),
            Weights::I16 => Some(WeightType::I16),
        },
        weight_overrides: args.weights_for.clone(),
    };
    let q = quantize_jslds(&sys, &counts, &opts).with_context(|| {
        format!(
            "exporting {} calibrated on {}",
            slds_path.display(),
            args.calibrate.display()
        )
    })?;
    write_model_file(&args.out, &q.bytes)?;
    if let Some(ckpt) = &args.tavrnn {
        export_tavrnn(&args, ckpt, Some(&q.bytes))?;
    }
    if let Some(path) = &args.report {
        let text = serde_json::to_string_pretty(&q.report)?;
        crate::export::write_atomic(path, text.as_bytes())?;
    }
    let r = &q.report;
    println!(
        "wrote {} ({} bytes{}): N={} d={} K={} selection={}{} bin={} us hysteresis={}",
        args.out.display(),
        q.bytes.len(),
        if opts.include_reference {
            ", with f32 reference"
        } else {
            ", device only"
        },
        r.neurons,
        r.latent,
        r.regimes,
        r.selection,
        if r.selection_from_points {
            " (the trained nearest points, written as the equivalent gate)"
        } else {
            ""
        },
        r.bin_us,
        r.hysteresis
    );
    println!(
        "scales: state {:.4e}  input {:.4e}  log-rate {:.4e}{}",
        r.scales.state,
        r.scales.input,
        r.scales.log_rate,
        r.scales
            .score
            .map(|s| format!("  score {s:.4e}"))
            .unwrap_or_default()
    );
    println!(
        "calibration: {} bins, |a| <= {:.3}, |log rate| <= {:.3}, margin {}; recurrence gain {:.2} (rho {:.3})",
        r.calibration.bins,
        r.calibration.latent_max,
        r.calibration.log_rate_max,
        r.calibration.margin,
        r.recurrence_gain,
        r.spectral_radius
    );
    println!(
        "{:<26} {:>10} {:>5} {:>8} {:>11} {:>11}",
        "tensor", "shape", "type", "bytes", "err(i8)", "err(i16)"
    );
    for t in &r.tensors {
        let err = |e: f64| {
            if e.is_finite() {
                format!("{e:.3e}")
            } else {
                "-".to_string()
            }
        };
        println!(
            "{:<26} {:>10} {:>5} {:>8} {:>11} {:>11}{}",
            t.name,
            format!("{}x{}", t.shape[0], t.shape[1]),
            t.wtype,
            t.bytes,
            err(t.rel_error_i8),
            err(t.rel_error_i16),
            if t.within_budget {
                ""
            } else {
                "  (over budget)"
            }
        );
    }
    println!(
        "weights {} bytes; file {} bytes with reference, {} device only; device state RAM {} bytes",
        r.weight_bytes, r.file_bytes_with_reference, r.file_bytes_device_only, r.state_ram_bytes
    );
    println!(
        "check on calibration data: regime agreement {:.4}, max latent error {:.3e}",
        r.check.regime_agreement, r.check.max_latent_error
    );
    Ok(())
}

/// Adds the TAVRNN of `ckpt` to `base` (or writes a TAVRNN-only file) at `args.out`.
fn export_tavrnn(args: &Args, ckpt: &Path, base: Option<&[u8]>) -> Result<()> {
    let opts = ExportOptions {
        name: args.name.clone().unwrap_or_else(|| stem(&args.out)),
        budget: args.budget,
        margin: args.margin,
        include_reference: !args.device_only,
        ..ExportOptions::default()
    };
    let (bytes, r) = crate::export::tavrnn::export_checkpoint(ckpt, &args.calibrate, base, &opts)?;
    write_model_file(&args.out, &bytes)?;
    println!(
        "tavrnn: {} windows ({} labelled), classes {}; fixed vs f32: class agreement {:.4}, \
         embedding cosine min {:.5}; {} weight bytes; file {} bytes",
        r.calibration_windows,
        r.labelled_windows,
        r.classes.join(", "),
        r.check.class_agreement,
        r.check.embedding_cosine_min,
        r.weight_bytes,
        bytes.len()
    );
    Ok(())
}

/// Largest count with its own entry in the input table of a folded checkpoint: counts above
/// it saturate (the table is `sqrt(0..=max)`).
const TABLE_MAX_CAP: u32 = 64;

/// Folds the checkpoint `ckpt` to the device form. The input table reaches the largest count
/// of the calibration data (at most [`TABLE_MAX_CAP`]); the calibration data is read with the
/// unit selection the checkpoint was trained with (returned for the calibration run).
fn fold_checkpoint(ckpt: &Path, calibrate: &Path) -> Result<(SwitchingLinear, LoadOptions)> {
    let loaded = checkpoint::load(ckpt)?;
    let s = &loaded.sidecar;
    let load = LoadOptions {
        bin_s: s.config.bin_s,
        range_s: None,
        good_only: s.data.good_only,
        units: s.data.units.clone(),
    };
    let counts = load_counts(calibrate, &load).context("calibration data")?;
    if counts.n_units() != s.neurons {
        bail!(
            "{}: {} units, the checkpoint {} was trained on {} neurons",
            calibrate.display(),
            counts.n_units(),
            ckpt.display(),
            s.neurons
        );
    }
    let table_max = counts
        .data
        .iter()
        .copied()
        .max()
        .unwrap_or(1)
        .clamp(1, TABLE_MAX_CAP);
    let sys = fold(
        &loaded.model,
        &s.transform,
        &s.inputs,
        s.neurons,
        table_max,
        s.config.bin_s,
    );
    Ok((sys, load))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "neuroloop".to_string())
}
