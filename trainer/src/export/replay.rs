//! Host replay of a model file over binned counts: the core's fixed-point estimator (what
//! the device would report, bit for bit) and, when the file has the f32 reference section,
//! the core's reference estimator beside it.
//!
//! The report's stable keys (documented in the README; checks read them):
//!
//! * `bins`: number of bins replayed;
//! * `regimes`: the reported regime (after hysteresis) of the fixed-point estimator, one
//!   integer a bin;
//! * `regime_agreement`: fraction of bins whose reported regime equals the f32 reference's
//!   (`null` for a device-only file);
//! * `max_latent_error`: largest `|a_q * state_scale - a_f32|` over bins and latent
//!   dimensions, f32 (real) units (`null` for a device-only file).
//!
//! Further keys: `selected_agreement` (the raw per-bin selection `k_t`, before hysteresis),
//! `reference_regimes`, latent error quantiles, `max_log_rate_error`, the `changes` timeline,
//! per-regime `occupancy`, and with labels the regime-by-behaviour `labels` table.

use std::path::Path;

use anyhow::{Context, Result};
use neuroloop_core::Model;
use serde::{Deserialize, Serialize};

use super::host::{core_err, run_paired};
use crate::data::Counts;

/// One change of the reported regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// Bin at which the report changed.
    pub bin: usize,
    /// Centre time of that bin, seconds.
    pub time_s: f64,
    /// The new reported regime.
    pub regime: u8,
    /// Its name, if the model names its regimes.
    pub name: Option<String>,
}

/// Bins spent in one reported regime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Occupancy {
    /// Regime index.
    pub regime: usize,
    /// Its name, if any.
    pub name: Option<String>,
    /// Bins reported in this regime.
    pub bins: usize,
    /// Fraction of all bins.
    pub fraction: f64,
}

/// Reported regime against behaviour labels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelTable {
    /// Behaviour classes (rows of `bins`).
    pub classes: Vec<String>,
    /// `bins[class][regime]`: labelled bins of that class reported in that regime.
    pub bins: Vec<Vec<usize>>,
    /// Bins outside every labelled interval.
    pub unlabelled_bins: usize,
}

/// The replay report (module docs for the keys).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplayReport {
    /// Bins replayed.
    pub bins: usize,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Start time of bin 0, seconds.
    pub start_s: f64,
    /// Neurons.
    pub neurons: usize,
    /// Latent dimension.
    pub latent: usize,
    /// Number of regimes `K`.
    pub n_regimes: usize,
    /// Regime names (empty when unnamed).
    pub regime_names: Vec<String>,
    /// Hysteresis of the model, bins.
    pub hysteresis: u16,
    /// Whether the f32 reference ran.
    pub has_reference: bool,
    /// Reported regime of the fixed-point estimator, one a bin.
    pub regimes: Vec<u8>,
    /// Reported regime of the f32 reference, one a bin.
    pub reference_regimes: Option<Vec<u8>>,
    /// Fraction of bins whose reported regimes agree.
    pub regime_agreement: Option<f64>,
    /// Fraction of bins whose selected regimes `k_t` agree (before hysteresis).
    pub selected_agreement: Option<f64>,
    /// Largest latent error, real units.
    pub max_latent_error: Option<f64>,
    /// Mean over bins of the largest latent error of the bin.
    pub mean_latent_error: Option<f64>,
    /// 99th percentile over bins of the largest latent error of the bin.
    pub p99_latent_error: Option<f64>,
    /// Largest latent error in state LSBs.
    pub max_latent_error_lsb: Option<f64>,
    /// Largest log-rate error `|l_q * log_rate_scale - l_f32|`.
    pub max_log_rate_error: Option<f64>,
    /// Real value of one state LSB.
    pub state_scale: f64,
    /// Largest `|a|` of the fixed-point state as a fraction of full scale (1.0 = saturated).
    pub state_peak_fraction: f64,
    /// Changes of the reported regime.
    pub changes: Vec<Change>,
    /// Per-regime occupancy of the reported regime.
    pub occupancy: Vec<Occupancy>,
    /// Reported regime per behaviour class, when labels were given.
    pub labels: Option<LabelTable>,
}

/// Reads a report written by `neuroloop replay` (for checks and tests). Errors name the file
/// and the key that is missing or malformed.
pub fn read_report(path: &Path) -> Result<ReplayReport> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: not a neuroloop replay report", path.display()))
}

/// Behaviour labels as replay needs them: the class of a bin (by its centre time).
pub struct BinLabels<'a> {
    /// Class names.
    pub classes: Vec<String>,
    /// Class index of a time, `None` when unlabelled.
    pub class_at: Box<dyn Fn(f64) -> Option<usize> + 'a>,
}

/// Replays `counts` through the model in `bytes`.
pub fn replay(
    bytes: &[u8],
    counts: &Counts,
    labels: Option<&BinLabels<'_>>,
) -> Result<ReplayReport> {
    let model = Model::from_bytes(bytes).map_err(core_err)?;
    let jslds = *model
        .jslds()
        .ok_or_else(|| anyhow::anyhow!("the model file has no jslds section"))?;
    let has_reference = jslds.reference.is_some();
    let (d, k, n) = (
        jslds.latent as usize,
        jslds.regimes as usize,
        model.meta().neurons as usize,
    );
    let s_a = jslds.state_scale as f64;
    let s_l = jslds.log_rate_scale as f64;
    let names: Vec<String> = if jslds.regime_names.is_empty() {
        vec![]
    } else {
        jslds.regime_names.split('\n').map(str::to_string).collect()
    };
    let name_of = |r: u8| names.get(r as usize).cloned();

    let mut regimes = Vec::with_capacity(counts.n_bins);
    let mut ref_regimes = Vec::with_capacity(counts.n_bins);
    let (mut agree, mut sel_agree) = (0usize, 0usize);
    let mut bin_err = Vec::with_capacity(counts.n_bins);
    let mut max_lr_err = 0.0f64;
    let mut peak = 0i32;
    let mut changes = Vec::new();
    let (mut lq, mut lf) = (vec![0i16; n], vec![0f32; n]);
    run_paired(&model, counts, has_reference, |b| {
        regimes.push(b.fixed.reported);
        peak = b
            .fixed_latent
            .iter()
            .fold(peak, |m, &v| m.max((v as i32).abs()));
        if b.fixed.changed {
            changes.push(Change {
                bin: b.t,
                time_s: counts.bin_centre_s(b.t),
                regime: b.fixed.reported,
                name: name_of(b.fixed.reported),
            });
        }
        if let (Some((r, ra)), Some(re)) = (b.reference, b.reference_est) {
            ref_regimes.push(r.reported);
            agree += (r.reported == b.fixed.reported) as usize;
            sel_agree += (r.regime == b.fixed.regime) as usize;
            let e = b
                .fixed_latent
                .iter()
                .zip(ra)
                .map(|(&q, &f)| (q as f64 * s_a - f as f64).abs())
                .fold(0.0, f64::max);
            bin_err.push(e);
            if let (Ok(q), Ok(f)) = (b.fixed_est.log_rates(&mut lq), re.log_rates(&mut lf)) {
                for (&q, &f) in q.iter().zip(f.iter()) {
                    max_lr_err = max_lr_err.max((q as f64 * s_l - f as f64).abs());
                }
            }
        }
    })?;

    let bins = counts.n_bins;
    let mut occ = vec![0usize; k];
    for &r in &regimes {
        if let Some(o) = occ.get_mut(r as usize) {
            *o += 1;
        }
    }
    let occupancy = occ
        .iter()
        .enumerate()
        .map(|(r, &c)| Occupancy {
            regime: r,
            name: names.get(r).cloned(),
            bins: c,
            fraction: c as f64 / bins.max(1) as f64,
        })
        .collect();
    let labels = labels.map(|l| {
        let mut table = vec![vec![0usize; k]; l.classes.len()];
        let mut unlabelled = 0;
        for (t, &r) in regimes.iter().enumerate() {
            match (l.class_at)(counts.bin_centre_s(t)) {
                Some(c) if c < table.len() && (r as usize) < k => table[c][r as usize] += 1,
                _ => unlabelled += 1,
            }
        }
        LabelTable {
            classes: l.classes.clone(),
            bins: table,
            unlabelled_bins: unlabelled,
        }
    });
    let frac = |x: usize| Some(x as f64 / bins.max(1) as f64);
    let (max_err, mean_err, p99) = if has_reference && !bin_err.is_empty() {
        let mut sorted = bin_err.clone();
        sorted.sort_by(f64::total_cmp);
        let p99 = sorted[((sorted.len() as f64 * 0.99).ceil() as usize).clamp(1, sorted.len()) - 1];
        (
            Some(*sorted.last().unwrap_or(&0.0)),
            Some(bin_err.iter().sum::<f64>() / bin_err.len() as f64),
            Some(p99),
        )
    } else {
        (None, None, None)
    };
    Ok(ReplayReport {
        bins,
        bin_s: counts.bin_s,
        start_s: counts.start_s,
        neurons: n,
        latent: d,
        n_regimes: k,
        regime_names: names.clone(),
        hysteresis: jslds.hysteresis,
        has_reference,
        regimes,
        reference_regimes: has_reference.then_some(ref_regimes),
        regime_agreement: if has_reference { frac(agree) } else { None },
        selected_agreement: if has_reference { frac(sel_agree) } else { None },
        max_latent_error: max_err,
        mean_latent_error: mean_err,
        p99_latent_error: p99,
        max_latent_error_lsb: max_err.map(|e| e / s_a),
        max_log_rate_error: has_reference.then_some(max_lr_err),
        state_scale: s_a,
        state_peak_fraction: peak as f64 / 32767.0,
        changes,
        occupancy,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::{quantize_jslds, ExportOptions};
    use crate::slds::{simulate, SimConfig};

    #[test]
    fn replay_reports_agreement_timeline_and_labels() {
        let cfg = SimConfig {
            n_bins: 3000,
            ..SimConfig::default()
        };
        let s = simulate(&cfg, 9).unwrap();
        // Calibrate on the first half only: the second half is data the exporter never saw.
        let mut first = s.counts.clone();
        first.n_bins = 1500;
        first.data.truncate(1500 * 64);
        let q = quantize_jslds(&s.system, &first, &ExportOptions::default()).unwrap();
        let truth = s.regimes.clone();
        let labels = BinLabels {
            classes: (0..8).map(|i| format!("true{i}")).collect(),
            class_at: Box::new(move |t: f64| truth.get((t / 0.01) as usize).map(|&r| r as usize)),
        };
        let r = replay(&q.bytes, &s.counts, Some(&labels)).unwrap();
        assert_eq!(r.bins, 3000);
        assert_eq!(r.regimes.len(), 3000);
        assert!(
            r.regime_agreement.unwrap() >= 0.99,
            "{:?}",
            r.regime_agreement
        );
        assert!(r.max_latent_error.unwrap() < 0.01);
        assert!(r.p99_latent_error.unwrap() <= r.max_latent_error.unwrap());
        assert_eq!(r.occupancy.iter().map(|o| o.bins).sum::<usize>(), 3000);
        // The timeline is where the reported regime changes.
        for c in &r.changes {
            assert_ne!(r.regimes[c.bin], r.regimes[c.bin - 1]);
            assert_eq!(r.regimes[c.bin], c.regime);
        }
        let n_changes = r.regimes.windows(2).filter(|w| w[0] != w[1]).count();
        assert_eq!(r.changes.len(), n_changes);
        // The estimator recovers the true regime in most bins (diagonal of the label table).
        let l = r.labels.unwrap();
        let diag: usize = (0..8).map(|i| l.bins[i][i]).sum();
        assert!(diag as f64 > 0.85 * 3000.0, "{diag}");
        // Stable keys in JSON.
        let v = serde_json::to_value(&q.report).unwrap();
        assert!(v.get("tensors").is_some());
    }

    #[test]
    fn device_only_file_replays_without_reference() {
        let cfg = SimConfig {
            n_bins: 500,
            ..SimConfig::default()
        };
        let s = simulate(&cfg, 2).unwrap();
        let opts = ExportOptions {
            include_reference: false,
            ..ExportOptions::default()
        };
        let q = quantize_jslds(&s.system, &s.counts, &opts).unwrap();
        let r = replay(&q.bytes, &s.counts, None).unwrap();
        assert!(!r.has_reference);
        assert_eq!(r.regime_agreement, None);
        assert_eq!(r.regimes.len(), 500);
        let v = serde_json::to_value(&r).unwrap();
        for key in ["bins", "regimes", "regime_agreement", "max_latent_error"] {
            assert!(v.get(key).is_some(), "{key}");
        }
        let mut wrong = s.counts.clone();
        wrong.unit_ids.pop();
        let e = format!("{:#}", replay(&q.bytes, &wrong, None).unwrap_err());
        assert!(e.contains("63 units") && e.contains("64 neurons"), "{e}");
    }
}
