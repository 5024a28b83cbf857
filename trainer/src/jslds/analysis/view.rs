//! [`AnalysisInputs`] checked and turned into the analysis's own f64 matrices. Every
//! dimension is checked against `latent`, `neurons`, the number of regimes and the held-out
//! bin count before anything is computed; an error names the field and the problem.

use super::mat::Mat;
use super::regime::Linearisation;
use crate::jslds::analysis_inputs::{AnalysisInputs, TrainingCurves};

/// A field of [`AnalysisInputs`] whose size or values do not fit.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct InputError {
    /// The field, as in the struct (`regimes[2].jh`, `heldout.rates`).
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// The checked model side of the analysis.
#[derive(Debug, Clone)]
pub struct View {
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Latent size `d`.
    pub latent: usize,
    /// Neurons `N`.
    pub neurons: usize,
    /// Columns fed to the GRU.
    pub input_units: Vec<usize>,
    /// One per regime.
    pub regimes: Vec<Linearisation>,
    /// The held-out rollouts.
    pub heldout: HeldOutView,
    /// Training curves, as recorded.
    pub curves: TrainingCurves,
}

/// The held-out rollouts as matrices.
#[derive(Debug, Clone)]
pub struct HeldOutView {
    /// Session bin of held-out bin 0.
    pub first_bin: usize,
    /// Bins per restart piece.
    pub segment_len: usize,
    /// GRU path, `bins x d`.
    pub h: Mat,
    /// Linear path, `bins x d`.
    pub a: Mat,
    /// Regime per bin.
    pub regime: Vec<usize>,
    /// Expected counts (GRU path), `bins x N`.
    pub rates: Mat,
    /// Expected counts (linear path), `bins x N`.
    pub rates_linear: Mat,
    /// Observed counts, `bins x N`.
    pub counts: Mat,
    /// Training-bin mean count per neuron.
    pub train_mean_counts: Vec<f64>,
}

fn err(field: impl Into<String>, problem: impl Into<String>) -> InputError {
    InputError {
        field: field.into(),
        problem: problem.into(),
    }
}

fn matrix<T: Copy + Into<f64>>(
    field: &str,
    values: &[T],
    rows: usize,
    cols: usize,
    what: &str,
) -> Result<Mat, InputError> {
    if Some(values.len()) != rows.checked_mul(cols) {
        return Err(err(
            field,
            format!("{} values, expected {rows} x {cols} ({what})", values.len()),
        ));
    }
    let data: Vec<f64> = values.iter().map(|&v| v.into()).collect();
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(err(field, format!("value {i} is {}", data[i])));
    }
    Ok(Mat { rows, cols, data })
}

impl View {
    /// Checks `inputs`. Held-out rollouts are required: every score of the report is on them.
    pub fn new(inputs: &AnalysisInputs) -> Result<View, InputError> {
        let (d, n) = (inputs.latent, inputs.neurons);
        if !(inputs.bin_s.is_finite() && inputs.bin_s > 0.0) {
            return Err(err(
                "bin_s",
                format!("{} is not a positive bin width", inputs.bin_s),
            ));
        }
        if d == 0 {
            return Err(err("latent", "0 latent units"));
        }
        if n == 0 {
            return Err(err("neurons", "0 neurons"));
        }
        if inputs.regimes.is_empty() {
            return Err(err("regimes", "no regimes"));
        }
        if let Some(&u) = inputs.input_units.iter().find(|&&u| u >= n) {
            return Err(err("input_units", format!("unit {u} but only {n} neurons")));
        }
        let n_in = inputs.input_units.len();
        let mut regimes = Vec::with_capacity(inputs.regimes.len());
        for (k, r) in inputs.regimes.iter().enumerate() {
            let point = matrix(
                &format!("regimes[{k}].expansion_point"),
                &r.expansion_point,
                1,
                d,
                "1 x latent",
            )?;
            let f = matrix(
                &format!("regimes[{k}].f_at_point"),
                &r.f_at_point,
                1,
                d,
                "1 x latent",
            )?;
            let jh = matrix(&format!("regimes[{k}].jh"), &r.jh, d, d, "latent x latent")?;
            matrix(
                &format!("regimes[{k}].ju"),
                &r.ju,
                d,
                n_in,
                "latent x input units",
            )?;
            regimes.push(Linearisation {
                point: point.data,
                f_at_point: f.data,
                jh,
            });
        }
        let ho = inputs.heldout.as_ref().ok_or_else(|| {
            err(
                "heldout",
                "no held-out rollout (the session's data was not found: pass --data)",
            )
        })?;
        let bins = ho.bins;
        if bins == 0 {
            return Err(err("heldout.bins", "0 held-out bins"));
        }
        if ho.segments.checked_mul(ho.segment_len) != Some(bins) {
            return Err(err(
                "heldout.segments",
                format!("{} x {} bins != bins {bins}", ho.segments, ho.segment_len),
            ));
        }
        let h = matrix("heldout.h", &ho.h, bins, d, "bins x latent")?;
        let a = matrix("heldout.a", &ho.a, bins, d, "bins x latent")?;
        if ho.regime.len() != bins {
            return Err(err(
                "heldout.regime",
                format!("{} values, expected {bins} (bins)", ho.regime.len()),
            ));
        }
        let k = inputs.regimes.len();
        if let Some(&r) = ho.regime.iter().find(|&&r| usize::from(r) >= k) {
            return Err(err(
                "heldout.regime",
                format!("regime {r} but only {k} regimes"),
            ));
        }
        let rates = matrix("heldout.rates", &ho.rates, bins, n, "bins x neurons")?;
        if let Some(i) = rates.data.iter().position(|&r| r < 0.0) {
            return Err(err("heldout.rates", format!("value {i} is negative")));
        }
        let rates_linear = matrix(
            "heldout.rates_linear",
            &ho.rates_linear,
            bins,
            n,
            "bins x neurons",
        )?;
        let counts = matrix("heldout.counts", &ho.counts, bins, n, "bins x neurons")?;
        let train_mean = matrix(
            "heldout.train_mean_counts",
            &ho.train_mean_counts,
            1,
            n,
            "neurons",
        )?;
        Ok(View {
            bin_s: inputs.bin_s,
            latent: d,
            neurons: n,
            input_units: inputs.input_units.clone(),
            regimes,
            heldout: HeldOutView {
                first_bin: ho.first_bin,
                segment_len: ho.segment_len,
                h,
                a,
                regime: ho.regime.iter().map(|&r| usize::from(r)).collect(),
                rates,
                rates_linear,
                counts,
                train_mean_counts: train_mean.data,
            },
            curves: inputs.curves.clone(),
        })
    }

    /// Neurons not fed to the GRU (predicted only).
    pub fn predicted_only(&self) -> Vec<usize> {
        (0..self.neurons)
            .filter(|n| !self.input_units.contains(n))
            .collect()
    }
}

/// The columns `cols` of `m`.
pub fn columns(m: &Mat, cols: &[usize]) -> Mat {
    let mut out = Mat::zeros(m.rows, cols.len());
    for i in 0..m.rows {
        for (j, &c) in cols.iter().enumerate() {
            *out.at_mut(i, j) = m.at(i, c);
        }
    }
    out
}
