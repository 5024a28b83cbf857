//! Quantisation of one tensor: per-row scales, the int8/int16 choice against the error budget,
//! and the per-row requantisation (core's [`Requant::from_f64`], not a copy of it).
//!
//! # The error budget
//!
//! A matrix `W` (rows x cols) maps an input vector quantised at scale `s_in` to an output at
//! scale `s_out`. Row `r` gets its own weight scale `s_r = max_c |W_rc| / q_max` (`q_max` =
//! 127 or 32767), weights `w_rc = round(W_rc / s_r)` and the requantisation
//! `Requant::from_f64(s_r s_in / s_out)`. The weight rounding error of the row, at the
//! calibrated input magnitudes `x_c` (largest `|x_c|` seen in calibration), is at most
//!
//! ```text
//! e_r = Σ_c |W_rc − ŝ_r w_rc| · x_c            (ŝ_r: the scale the stored multiplier realises)
//! ```
//!
//! in output units. The tensor's **relative error** is `max_r e_r / (32767 s_out)`, a fraction
//! of the output's full range, multiplied by the **recurrence gain** `1 / (1 − ρ)` for the
//! tensors that feed the latent state (`ρ`: the largest spectral radius of the `A_k`), because
//! an error made every bin accumulates through the dynamics. int8 is chosen when that number
//! is at most the budget (default [`DEFAULT_BUDGET`] = 1/512 of full range), int16 otherwise,
//! and int16 is kept even when it misses the budget (it is the most precise type there is;
//! the report says so).

use neuroloop_core::{Requant, WeightType};
use serde::Serialize;

/// Default error budget: worst-case weight error, amplified by the recurrence, of at most
/// 1/512 of the output's full range (about 64 LSB of an `i16` activation).
pub const DEFAULT_BUDGET: f64 = 1.0 / 512.0;

/// A quantised matrix with owned blobs (core's `QMatrix` borrows them from here).
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedQMatrix {
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Element type.
    pub wtype: WeightType,
    /// Row-major weights, LE.
    pub data: Vec<u8>,
    /// `rows` x `i32` LE multipliers.
    pub mult: Vec<u8>,
    /// `rows` x `i8` shifts.
    pub shift: Vec<u8>,
}

impl OwnedQMatrix {
    /// Core's borrowed view.
    pub fn view(&self) -> neuroloop_core::QMatrix<'_> {
        neuroloop_core::QMatrix {
            rows: self.rows as u16,
            cols: self.cols as u16,
            wtype: self.wtype,
            data: &self.data,
            mult: &self.mult,
            shift: &self.shift,
        }
    }

    /// Bytes the tensor takes in the file (weights + requantisation).
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.mult.len() + self.shift.len()
    }

    /// Weight `(r, c)` as an integer.
    pub fn weight(&self, r: usize, c: usize) -> i32 {
        let i = r * self.cols + c;
        match self.wtype {
            WeightType::I8 => self.data[i] as i8 as i32,
            WeightType::I16 => i16::from_le_bytes([self.data[2 * i], self.data[2 * i + 1]]) as i32,
        }
    }

    /// The requantisation of row `r`.
    pub fn requant(&self, r: usize) -> Requant {
        let m = &self.mult[4 * r..4 * r + 4];
        Requant {
            mult: i32::from_le_bytes([m[0], m[1], m[2], m[3]]),
            shift: self.shift[r] as i8,
        }
    }

    /// The real weight `(r, c)` this stores, for inputs at `s_in` and outputs at `s_out`.
    pub fn dequantised(&self, r: usize, c: usize, s_in: f64, s_out: f64) -> f64 {
        self.weight(r, c) as f64 * self.requant(r).to_f64() * s_out / s_in
    }
}

/// What the quantiser did with one tensor.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensorReport {
    /// Field path in the model file.
    pub name: String,
    /// Rows x cols.
    pub shape: [usize; 2],
    /// `"i8"` or `"i16"` (or `"i16 (fixed point)"` for plain vectors).
    pub wtype: String,
    /// Bytes in the file.
    pub bytes: usize,
    /// Relative error (see the module docs) with int8 weights.
    pub rel_error_i8: f64,
    /// Relative error with int16 weights.
    pub rel_error_i16: f64,
    /// Recurrence gain the errors were multiplied by (1 for tensors outside the recurrence).
    pub gain: f64,
    /// Largest `|W − Ŵ|` of the chosen type, real units.
    pub max_abs_error: f64,
    /// Whether the chosen type meets the budget.
    pub within_budget: bool,
}

/// Inputs of [`quantize_matrix`].
pub(crate) struct MatrixSpec<'a> {
    pub name: &'a str,
    pub w: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    /// Scale of the input activation (real per LSB).
    pub s_in: f64,
    /// Scale of the output activation.
    pub s_out: f64,
    /// Largest |input| per column seen in calibration (real units), `cols` entries.
    pub x_max: &'a [f64],
    /// Recurrence gain (1 outside the recurrence).
    pub gain: f64,
    pub budget: f64,
    /// Forces a weight type instead of the budget rule.
    pub force: Option<WeightType>,
}

fn quantize_as(
    spec: &MatrixSpec<'_>,
    wtype: WeightType,
) -> Result<(OwnedQMatrix, f64, f64), String> {
    let qmax = match wtype {
        WeightType::I8 => 127.0,
        WeightType::I16 => 32767.0,
    };
    let (rows, cols) = (spec.rows, spec.cols);
    let mut data = Vec::with_capacity(rows * cols * wtype.bytes());
    let mut mult = Vec::with_capacity(rows * 4);
    let mut shift = Vec::with_capacity(rows);
    let mut worst_row = 0.0f64;
    let mut max_abs = 0.0f64;
    for r in 0..rows {
        let row = &spec.w[r * cols..(r + 1) * cols];
        let row_max = row.iter().fold(0.0f64, |m, &v| m.max((v as f64).abs()));
        let s_r = row_max / qmax;
        let rq = if s_r > 0.0 {
            Requant::from_f64(s_r * spec.s_in / spec.s_out)
                .map_err(|e| format!("{}: row {r}: {e}", spec.name))?
        } else {
            Requant { mult: 0, shift: 0 }
        };
        // The scale the stored multiplier realises (differs from s_r by < 2^-31 relative).
        let s_eff = rq.to_f64() * spec.s_out / spec.s_in;
        let mut err = 0.0;
        for (c, &v) in row.iter().enumerate() {
            let q = if s_r > 0.0 {
                (v as f64 / s_r).round().clamp(-qmax, qmax)
            } else {
                0.0
            };
            match wtype {
                WeightType::I8 => data.push(q as i8 as u8),
                WeightType::I16 => data.extend_from_slice(&(q as i16).to_le_bytes()),
            }
            let e = (v as f64 - q * s_eff).abs();
            max_abs = max_abs.max(e);
            err += e * spec.x_max[c];
        }
        worst_row = worst_row.max(err);
        mult.extend_from_slice(&rq.mult.to_le_bytes());
        shift.push(rq.shift as u8);
    }
    let rel = worst_row / (32767.0 * spec.s_out) * spec.gain;
    Ok((
        OwnedQMatrix {
            rows,
            cols,
            wtype,
            data,
            mult,
            shift,
        },
        rel,
        max_abs,
    ))
}

/// Quantises a matrix, choosing int8 or int16 by the error budget (module docs).
pub(crate) fn quantize_matrix(
    spec: &MatrixSpec<'_>,
) -> Result<(OwnedQMatrix, TensorReport), String> {
    debug_assert_eq!(spec.w.len(), spec.rows * spec.cols);
    debug_assert_eq!(spec.x_max.len(), spec.cols);
    let (m8, rel8, abs8) = quantize_as(spec, WeightType::I8)?;
    let (m16, rel16, abs16) = quantize_as(spec, WeightType::I16)?;
    let use8 = match spec.force {
        Some(t) => t == WeightType::I8,
        None => rel8 <= spec.budget,
    };
    let (m, rel, abs) = if use8 {
        (m8, rel8, abs8)
    } else {
        (m16, rel16, abs16)
    };
    let report = TensorReport {
        name: spec.name.to_string(),
        shape: [spec.rows, spec.cols],
        wtype: if use8 { "i8" } else { "i16" }.to_string(),
        bytes: m.size_bytes(),
        rel_error_i8: rel8,
        rel_error_i16: rel16,
        gain: spec.gain,
        max_abs_error: abs,
        within_budget: rel <= spec.budget,
    };
    Ok((m, report))
}

/// Quantises a vector to `i16` LE at `scale` (real per LSB). Errors name the field when a
/// value does not fit (the scales are calibrated to include every such vector, so this means
/// a bug or a non-finite value).
pub(crate) fn quantize_vector(
    name: &str,
    v: &[f32],
    scale: f64,
) -> Result<(Vec<u8>, TensorReport), String> {
    let mut out = Vec::with_capacity(v.len() * 2);
    let mut max_abs = 0.0f64;
    for (i, &x) in v.iter().enumerate() {
        let q = (x as f64 / scale).round();
        if !(-32768.0..=32767.0).contains(&q) {
            return Err(format!(
                "{name}: value {i} = {x} does not fit an i16 at scale {scale:e}"
            ));
        }
        max_abs = max_abs.max((x as f64 - q * scale).abs());
        out.extend_from_slice(&(q as i16).to_le_bytes());
    }
    let report = TensorReport {
        name: name.to_string(),
        shape: [v.len(), 1],
        wtype: "i16".to_string(),
        bytes: out.len(),
        rel_error_i8: f64::NAN,
        rel_error_i16: 0.5 / 32767.0,
        gain: 1.0,
        max_abs_error: max_abs,
        within_budget: true,
    };
    Ok((out, report))
}

/// Largest spectral radius of the `k` matrices `d x d` in `a` (power iteration on each: the
/// growth rate of `|A^t v|` over many steps, which also converges for complex pairs).
pub(crate) fn max_spectral_radius(a: &[f32], k: usize, d: usize) -> f64 {
    let mut worst = 0.0f64;
    for z in 0..k {
        let m = &a[z * d * d..(z + 1) * d * d];
        let mut v: Vec<f64> = (0..d).map(|i| 1.0 + 0.37 * i as f64).collect();
        let mut log_growth = 0.0;
        let (burn, steps) = (100, 400);
        for t in 0..burn + steps {
            let next: Vec<f64> = (0..d)
                .map(|i| (0..d).map(|j| m[i * d + j] as f64 * v[j]).sum())
                .collect();
            let norm = next.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm == 0.0 || !norm.is_finite() {
                break;
            }
            if t >= burn {
                log_growth += norm.ln();
            }
            v = next.iter().map(|x| x / norm).collect();
        }
        worst = worst.max((log_growth / steps as f64).exp());
    }
    worst
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec<'a>(w: &'a [f32], x: &'a [f64], budget: f64) -> MatrixSpec<'a> {
        MatrixSpec {
            name: "t",
            w,
            rows: 2,
            cols: 3,
            s_in: 0.01,
            s_out: 0.001,
            x_max: x,
            gain: 1.0,
            budget,
            force: None,
        }
    }

    #[test]
    fn int8_when_within_budget_else_int16() {
        let w = [0.5f32, -0.25, 0.1, 1.0, 0.0, -0.3];
        let x = [1.0, 1.0, 1.0];
        // Loose budget: int8.
        let (m, r) = quantize_matrix(&spec(&w, &x, 1.0)).unwrap();
        assert_eq!(m.wtype, WeightType::I8);
        assert_eq!(r.wtype, "i8");
        assert_eq!(m.data.len(), 6);
        // Budget between the int16 and int8 errors: int16.
        let mid = (r.rel_error_i8 * r.rel_error_i16).sqrt();
        assert!(r.rel_error_i16 < mid && mid < r.rel_error_i8);
        let (m, r) = quantize_matrix(&spec(&w, &x, mid)).unwrap();
        assert_eq!(m.wtype, WeightType::I16);
        assert!(r.within_budget);
        assert_eq!(m.data.len(), 12);
        // The recurrence gain multiplies the error.
        let mut s = spec(&w, &x, mid);
        s.gain = 10.0;
        let (_, r2) = quantize_matrix(&s).unwrap();
        assert!((r2.rel_error_i8 - 10.0 * r.rel_error_i8).abs() < 1e-12);
        // Forcing overrides the budget.
        let mut s = spec(&w, &x, 0.0);
        s.force = Some(WeightType::I8);
        assert_eq!(quantize_matrix(&s).unwrap().0.wtype, WeightType::I8);
    }

    #[test]
    fn dequantised_weights_are_close_and_requant_is_cores() {
        let w = [0.5f32, -0.25, 0.1, 1.0, 0.0, -0.3];
        let x = [1.0, 2.0, 3.0];
        let (m, r) = quantize_matrix(&spec(&w, &x, 0.0)).unwrap();
        assert_eq!(m.wtype, WeightType::I16);
        for row in 0..2 {
            let row_max = w[row * 3..row * 3 + 3]
                .iter()
                .fold(0.0f64, |a, &b| a.max(b.abs() as f64));
            // Row maximum maps to +-32767 exactly; the multiplier is Requant::from_f64's.
            let want = Requant::from_f64(row_max / 32767.0 * 0.01 / 0.001).unwrap();
            assert_eq!(m.requant(row), want);
            for c in 0..3 {
                let dq = m.dequantised(row, c, 0.01, 0.001);
                assert!((dq - w[row * 3 + c] as f64).abs() <= row_max / 32767.0);
            }
        }
        assert!(r.max_abs_error <= 1.0 / 32767.0);
        // The core's kernel on the stored blobs gives the real product in output LSBs.
        let xq = [100i16, -50, 25]; // real 1.0, -0.5, 0.25
        let view = m.view();
        for row in 0..2 {
            let real: f64 = (0..3)
                .map(|c| w[row * 3 + c] as f64 * xq[c] as f64 * 0.01)
                .sum();
            let got = view.row_output(row, &xq) as f64 * 0.001;
            assert!((got - real).abs() < 0.002, "{got} {real}");
        }
    }

    #[test]
    fn zero_rows_and_vectors() {
        let w = [0.0f32; 6];
        let (m, _) = quantize_matrix(&spec(&w, &[1.0; 3], 1.0)).unwrap();
        assert_eq!(m.requant(0), Requant { mult: 0, shift: 0 });
        let (v, r) = quantize_vector("v", &[0.5, -1.0], 1.0 / 1024.0).unwrap();
        assert_eq!(v, [0u8, 2, 0, 0xfc]);
        assert_eq!(r.max_abs_error, 0.0);
        let e = quantize_vector("jslds.offset", &[0.5, 100.0], 1.0 / 1024.0).unwrap_err();
        assert!(e.contains("jslds.offset") && e.contains("value 1"), "{e}");
    }

    #[test]
    fn spectral_radius_of_rotations() {
        // 0.9 * rotation by 0.3 rad, and diag(0.5, 0.95).
        let (s, c) = 0.3f32.sin_cos();
        let a = [0.9 * c, -0.9 * s, 0.9 * s, 0.9 * c, 0.5, 0.0, 0.0, 0.95];
        let rho = max_spectral_radius(&a, 2, 2);
        assert!((rho - 0.95).abs() < 1e-3, "{rho}");
        let rho = max_spectral_radius(&a[..4], 1, 2);
        assert!((rho - 0.9).abs() < 1e-3, "{rho}");
    }
}
