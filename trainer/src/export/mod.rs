//! Quantisation of f32 models to fixed point and writing of the `.nlm` model file.
//!
//! [`quantize_jslds`] turns a [`SwitchingLinear`] (folded f32 device form) into the model
//! file's JSLDS section:
//!
//! 1. **Activation scales** (real value of one `i16` LSB) are calibrated on data with the
//!    core's own f32 estimator: a provisional model holding the `reference` section is
//!    encoded, parsed with `Model::from_bytes` and run by `ReferenceEstimator` over the
//!    calibration counts; the largest latent value, log-rate and gate score seen, together
//!    with the parameters that must fit the same scale (expansion points and offsets in state
//!    scale, the readout bias in log-rate scale, the gate bias in score scale), times a
//!    margin (default 1.25), map to 32767. The input scale needs no data: the input table is
//!    finite and counts past its end saturate, so its largest entry maps to 32767.
//! 2. **Weights** are quantised per tensor as int8 or int16 against the error budget, with a
//!    per-row requantisation from the core's `Requant::from_f64` (see [`tensor`] for the
//!    rule and the budget).
//!    The offsets get the bias correction of the rounded weights (`corrected_offsets` in
//!    `jslds.rs`), from each regime's mean state and input in the calibration run.
//! 3. The model is encoded with `encode_model`, its `i16` weight blobs word aligned by
//!    padding varints (`align`, docs/FORMAT.md §2), parsed back, and the fixed-point estimator is
//!    run against the reference over the calibration data; the agreement goes into the
//!    report. A nearest-point system is also tried with its rule written as the equivalent
//!    gate, kept when that reproduces more calibration bins ([`quantize_jslds`]).
//!    [`write_model_file`] writes it atomically.
//!
//! The input is already folded, so nothing is folded here. Later model kinds (TAVRNN, trained
//! JSLDS checkpoints) produce a [`SwitchingLinear`] or their own section and reuse the same
//! tensor quantiser and writer.

mod align;
mod host;
mod jslds;
pub mod replay;
pub mod tavrnn;
pub mod tensor;
pub(crate) mod write;

/// Re-exported for tests that rewrite a section and need the exporter's layout back.
pub use align::align_blobs;
pub use host::{
    core_err, device_counts, device_stream, run_paired, run_reference, Bin, HostEstimator,
    HostReference,
};
pub use jslds::Scales;
pub use tensor::{TensorReport, DEFAULT_BUDGET};
pub use write::write_atomic;

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use neuroloop_core::format::encoded_len;
use neuroloop_core::{encode_model, Meta, Model, ModelBody, WeightType};
use serde::Serialize;

use crate::data::Counts;
use crate::slds::{SelectionF32, SwitchingLinear};
pub use jslds::MATRIX_NAMES;
use jslds::{build_section, InputRanges, OwnedJslds, RegimeMeans, TypeRule};

/// Default calibration margin: the calibrated ranges are widened by this factor.
pub const DEFAULT_MARGIN: f64 = 1.25;

/// Options of [`quantize_jslds`].
#[derive(Debug, Clone, PartialEq)]
pub struct ExportOptions {
    /// Model name stored in the file.
    pub name: String,
    /// Error budget of the int8/int16 choice ([`tensor`]).
    pub budget: f64,
    /// Factor by which calibrated ranges are widened.
    pub margin: f64,
    /// Keep the f32 `reference` section (host checks); `false` for a device-only file.
    pub include_reference: bool,
    /// Overrides the system's hysteresis.
    pub hysteresis: Option<u16>,
    /// Forces every matrix to this weight type instead of the budget rule.
    pub force_weights: Option<WeightType>,
    /// Forces single matrices, by tensor name (`jslds.dynamics`, `jslds.input_gain`,
    /// `jslds.readout`, `jslds.selection.weights`, as `inspect` names them); wins over
    /// `force_weights`. An unknown name is an error.
    pub weight_overrides: Vec<(String, WeightType)>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            name: "neuroloop".to_string(),
            budget: DEFAULT_BUDGET,
            margin: DEFAULT_MARGIN,
            include_reference: true,
            hysteresis: None,
            force_weights: None,
            weight_overrides: Vec::new(),
        }
    }
}

/// What calibration saw (real units).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// Bins of calibration data.
    pub bins: usize,
    /// Largest `|a_i|` of the reference latent state.
    pub latent_max: f64,
    /// Largest `|log rate|` of the reference readout.
    pub log_rate_max: f64,
    /// Largest `|gate score|` (gate selection only).
    pub score_max: Option<f64>,
    /// Margin applied.
    pub margin: f64,
}

/// The fixed-point estimator against the reference on the calibration data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationCheck {
    /// Fraction of bins whose reported regime equals the reference's.
    pub regime_agreement: f64,
    /// Fraction of bins whose selected regime `k_t` (before hysteresis) equals the
    /// reference's.
    pub selected_agreement: f64,
    /// Largest `|a_q * state_scale - a_f32|`.
    pub max_latent_error: f64,
}

/// Everything the exporter decided, for `neuroloop export` to print and tests to check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportReport {
    /// Model name.
    pub name: String,
    /// Neurons `N`.
    pub neurons: usize,
    /// Latent dimension `d`.
    pub latent: usize,
    /// Regimes `K`.
    pub regimes: usize,
    /// `"nearest"` or `"gate"`: the rule written to the file.
    pub selection: String,
    /// The system's nearest-point rule was written as the equivalent gate, because the gate
    /// reproduced the reference's selection in more calibration bins (see
    /// [`quantize_jslds`]).
    pub selection_from_points: bool,
    /// For a nearest-point system: the check of the file written with `Nearest` selection
    /// (whichever form was chosen), so the choice can be seen.
    pub nearest_check: Option<CalibrationCheck>,
    /// Bin width, microseconds.
    pub bin_us: u32,
    /// Hysteresis written, bins.
    pub hysteresis: u16,
    /// Activation scales written.
    pub scales: Scales,
    /// Calibration ranges.
    pub calibration: Calibration,
    /// Largest spectral radius of the `A_k` and the recurrence gain `1/(1 - rho)` used.
    pub spectral_radius: f64,
    /// Recurrence gain applied to the errors of the state-feeding tensors.
    pub recurrence_gain: f64,
    /// Error budget.
    pub budget: f64,
    /// One entry per tensor.
    pub tensors: Vec<TensorReport>,
    /// Bytes of the quantised tensors (what the device reads).
    pub weight_bytes: usize,
    /// File size with the f32 reference section.
    pub file_bytes_with_reference: usize,
    /// File size without it (device only).
    pub file_bytes_device_only: usize,
    /// Whether the returned bytes include the reference.
    pub includes_reference: bool,
    /// RAM the device estimator state needs (`JsldsSection::state_ram_bytes`).
    pub state_ram_bytes: usize,
    /// Fixed point vs reference on the calibration data.
    pub check: CalibrationCheck,
}

/// A model file in memory and what went into it.
#[derive(Debug, Clone)]
pub struct QuantizedModel {
    /// The complete file (header + body).
    pub bytes: Vec<u8>,
    /// What the exporter decided.
    pub report: ExportReport,
}

fn max_abs(v: &[f32]) -> f64 {
    v.iter().fold(0.0f64, |m, &x| m.max((x as f64).abs()))
}

/// The scale at which `range` (real) maps to 32767, never zero.
fn scale_for(range: f64) -> f64 {
    range.max(1e-6) / 32767.0
}

/// The file of `sec`, its `i16` weight blobs word aligned ([`align::align_blobs`]).
fn encode(sec: &OwnedJslds, meta: Meta<'_>, with_reference: bool) -> Result<Vec<u8>> {
    let body = ModelBody {
        meta,
        jslds: Some(sec.view(with_reference)),
    };
    let len = encoded_len(&body).map_err(|e| anyhow!("encoding the model: {e}"))?;
    let mut out = vec![0u8; len];
    let n = encode_model(&body, &mut out).map_err(|e| anyhow!("encoding the model: {e}"))?;
    out.truncate(n);
    align::align_blobs(&out)
}

/// Quantises `sys`, calibrating its activation scales on `calibration` (module docs).
///
/// A nearest-point system is quantised twice: as it is, and with its rule written as the
/// equivalent linear gate (`points_as_gate` in `jslds.rs` says why the two differ once
/// quantised). The gate form is kept only when its selected regimes agree with its f32
/// reference in more calibration bins than the nearest form's do; on a tie (always the case
/// when the nearest form loses no bin) the nearest form is kept, as it is what was trained
/// and a little cheaper on the device.
///
/// Errors name the field (`jslds.offset`, `calibration`, ...) and the problem.
pub fn quantize_jslds(
    sys: &SwitchingLinear,
    calibration: &Counts,
    opts: &ExportOptions,
) -> Result<QuantizedModel> {
    let mut q = quantize_as_given(sys, calibration, opts)?;
    let Some(gate) = jslds::points_as_gate(sys) else {
        return Ok(q);
    };
    let nearest_check = q.report.check.clone();
    if nearest_check.selected_agreement < 1.0 {
        // The gate form is only an alternative: if it cannot be quantised (a row of scores out
        // of range, say), the nearest form, which could, is the export.
        if let Ok(g) = quantize_as_given(&gate, calibration, opts) {
            if g.report.check.selected_agreement > nearest_check.selected_agreement {
                q = g;
                q.report.selection_from_points = true;
            }
        }
    }
    q.report.nearest_check = Some(nearest_check);
    Ok(q)
}

/// [`quantize_jslds`] with the selection rule as `sys` has it.
fn quantize_as_given(
    sys: &SwitchingLinear,
    calibration: &Counts,
    opts: &ExportOptions,
) -> Result<QuantizedModel> {
    sys.validate().context("switching linear system")?;
    if !(opts.margin.is_finite() && opts.margin >= 1.0) {
        bail!("margin: {} must be at least 1", opts.margin);
    }
    for (name, _) in &opts.weight_overrides {
        if !MATRIX_NAMES.contains(&name.as_str()) {
            bail!(
                "weight override: no matrix named {name:?} (matrices: {})",
                MATRIX_NAMES.join(", ")
            );
        }
    }
    if !(opts.budget.is_finite() && opts.budget > 0.0) {
        bail!("budget: {} must be positive", opts.budget);
    }
    if calibration.n_units() != sys.neurons {
        bail!(
            "calibration: the data has {} units, the system has {} neurons",
            calibration.n_units(),
            sys.neurons
        );
    }
    if calibration.n_bins == 0 {
        bail!("calibration: the data has no bins");
    }
    if ((calibration.bin_s - sys.bin_s) / sys.bin_s).abs() > 1e-6 {
        bail!(
            "calibration: bins of {} ms, the system was built for {} ms bins",
            calibration.bin_s * 1e3,
            sys.bin_s * 1e3
        );
    }
    let bin_us = (sys.bin_s * 1e6).round();
    if !(1.0..=u32::MAX as f64).contains(&bin_us) {
        bail!(
            "bin_s: {} s is not a whole number of microseconds >= 1",
            sys.bin_s
        );
    }
    let bin_us = bin_us as u32;
    let meta = Meta {
        name: &opts.name,
        neurons: sys.neurons as u16,
        bin_us,
    };
    let hysteresis = opts.hysteresis.unwrap_or(sys.hysteresis);
    let (d, n) = (sys.latent, sys.neurons);

    // Parameters that must fit the activation scales whatever the data.
    let (points_max, gate) = match &sys.selection {
        SelectionF32::Nearest { points } => (max_abs(points), None),
        SelectionF32::Gate { weights, bias } => (0.0, Some((weights, bias))),
    };
    let state_static = points_max.max(max_abs(&sys.offset));
    let input_range = max_abs(&sys.input_table);
    let log_static = max_abs(&sys.readout_bias);
    let score_static = gate.map(|(_, b)| max_abs(b));

    // 1. Provisional model with the reference section, run by the core's reference.
    let provisional_scales = Scales {
        state: scale_for(state_static * 4.0),
        input: scale_for(input_range),
        log_rate: scale_for(log_static * 4.0),
        score: score_static.map(|s| scale_for(s * 4.0)),
    };
    let unit_ranges = InputRanges {
        state: vec![1.0; d],
        input: vec![1.0; n],
    };
    let any_type = TypeRule {
        budget: opts.budget,
        force: Some(WeightType::I16),
        overrides: Vec::new(),
        recurrence_gain: 1.0,
    };
    let provisional = build_section(
        sys,
        provisional_scales,
        &unit_ranges,
        &any_type,
        hysteresis,
        None,
    )
    .map_err(|e| anyhow!("provisional model: {e}"))?;
    let provisional_bytes = encode(&provisional, meta, true)?;
    let model = Model::from_bytes(&provisional_bytes)
        .map_err(|e| anyhow!("provisional model does not parse: {e}"))?;
    let mut latent_dim_max = vec![0.0f64; d];
    let mut log_rate_max = 0.0f64;
    let mut score_max = 0.0f64;
    let mut rates = vec![0.0f32; n];
    let k_count = sys.regimes;
    let mut means = RegimeMeans {
        bins: vec![0; k_count],
        state: vec![0.0; k_count * d],
        input: vec![0.0; k_count * n],
    };
    let (mut prev, mut t) = (vec![0.0f64; d], 0usize);
    let last = sys.input_table.len() - 1;
    run_reference(&model, calibration, |out, r| {
        // The state and input the selected regime's update read, for the bias correction.
        let k = out.regime as usize;
        if let Some(c) = means.bins.get_mut(k) {
            *c += 1;
            for (m, &v) in means.state[k * d..(k + 1) * d].iter_mut().zip(&prev) {
                *m += v;
            }
            for (m, &c) in means.input[k * n..(k + 1) * n]
                .iter_mut()
                .zip(calibration.row(t))
            {
                *m += sys.input_table[(c as usize).min(last)] as f64;
            }
        }
        t += 1;
        let a = r.latent();
        for (p, &v) in prev.iter_mut().zip(a) {
            *p = v as f64;
        }
        for (m, &v) in latent_dim_max.iter_mut().zip(a) {
            *m = m.max((v as f64).abs());
        }
        if let Ok(lr) = r.log_rates(&mut rates) {
            log_rate_max = lr
                .iter()
                .fold(log_rate_max, |m, &v| m.max((v as f64).abs()));
        }
        if let Some((w, b)) = gate {
            for (k, &bk) in b.iter().enumerate() {
                let s: f64 = bk as f64
                    + (0..d)
                        .map(|j| w[k * d + j] as f64 * a[j] as f64)
                        .sum::<f64>();
                score_max = score_max.max(s.abs());
            }
        }
    })
    .context("calibration run of the f32 reference")?;
    means.finish(d, n);
    let latent_max = latent_dim_max.iter().cloned().fold(0.0, f64::max);
    if !latent_max.is_finite() || !log_rate_max.is_finite() || !score_max.is_finite() {
        bail!("calibration: the f32 reference diverged (non-finite latent state); the system is unstable on this data");
    }

    // 2. Final scales and tensor types.
    let m = opts.margin;
    let scales = Scales {
        state: scale_for(latent_max.max(state_static) * m),
        input: scale_for(input_range),
        log_rate: scale_for(log_rate_max.max(log_static) * m),
        score: score_static.map(|s| scale_for(score_max.max(s) * m)),
    };
    let max_count: Vec<u32> = (0..n)
        .map(|i| {
            (0..calibration.n_bins)
                .map(|t| calibration.row(t)[i])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let ranges = InputRanges {
        state: latent_dim_max.iter().map(|v| v * m).collect(),
        input: max_count
            .iter()
            .map(|&c| (sys.input_table[(c as usize).min(last)] as f64).abs())
            .collect(),
    };
    let rho = tensor::max_spectral_radius(&sys.dynamics, sys.regimes, d);
    let recurrence_gain = 1.0 / (1.0 - rho.min(0.999));
    let rule = TypeRule {
        budget: opts.budget,
        force: opts.force_weights,
        overrides: opts.weight_overrides.clone(),
        recurrence_gain,
    };
    let section = build_section(sys, scales, &ranges, &rule, hysteresis, Some(&means))
        .map_err(|e| anyhow!("{e}"))?;
    let with_ref = encode(&section, meta, true)?;
    let device_only = encode(&section, meta, false)?;

    // 3. Check fixed point against the reference on the calibration data.
    let model =
        Model::from_bytes(&with_ref).map_err(|e| anyhow!("exported model does not parse: {e}"))?;
    let jslds = *model
        .jslds()
        .ok_or_else(|| anyhow!("exported model has no jslds section"))?;
    let s_a = jslds.state_scale as f64;
    let (mut agree, mut sel_agree, mut max_err) = (0usize, 0usize, 0.0f64);
    run_paired(&model, calibration, true, |bin| {
        if let Some((r, ra)) = bin.reference {
            agree += (r.reported == bin.fixed.reported) as usize;
            sel_agree += (r.regime == bin.fixed.regime) as usize;
            for (&q, &f) in bin.fixed_latent.iter().zip(ra) {
                max_err = max_err.max((q as f64 * s_a - f as f64).abs());
            }
        }
    })?;
    let report = ExportReport {
        name: opts.name.clone(),
        neurons: n,
        latent: d,
        regimes: sys.regimes,
        selection: match sys.selection {
            SelectionF32::Nearest { .. } => "nearest",
            SelectionF32::Gate { .. } => "gate",
        }
        .to_string(),
        selection_from_points: false,
        nearest_check: None,
        bin_us,
        hysteresis,
        scales: section.scales,
        calibration: Calibration {
            bins: calibration.n_bins,
            latent_max,
            log_rate_max,
            score_max: gate.map(|_| score_max),
            margin: m,
        },
        spectral_radius: rho,
        recurrence_gain,
        budget: opts.budget,
        tensors: section.tensors.clone(),
        weight_bytes: jslds.weight_bytes(),
        file_bytes_with_reference: with_ref.len(),
        file_bytes_device_only: device_only.len(),
        includes_reference: opts.include_reference,
        state_ram_bytes: jslds.state_ram_bytes(),
        check: CalibrationCheck {
            regime_agreement: agree as f64 / calibration.n_bins as f64,
            selected_agreement: sel_agree as f64 / calibration.n_bins as f64,
            max_latent_error: max_err,
        },
    };
    Ok(QuantizedModel {
        bytes: if opts.include_reference {
            with_ref
        } else {
            device_only
        },
        report,
    })
}

/// Writes a model file atomically (temporary file in the same folder, then rename), after
/// checking that `Model::from_bytes` accepts it: a file this writes is one the core reads.
pub fn write_model_file(path: &Path, bytes: &[u8]) -> Result<()> {
    Model::from_bytes(bytes).map_err(|e| {
        anyhow!(
            "{}: refusing to write an invalid model: {e}",
            path.display()
        )
    })?;
    write_atomic(path, bytes)
}

#[cfg(test)]
mod tests;
