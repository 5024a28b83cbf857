//! Checks every dimension, blob length, shift and scalar of a decoded body.
//!
//! After [`validate_body`] succeeds, every index the estimator and the kernels compute is in
//! range, and the dimension bounds below keep every accumulator inside its integer type (see
//! [`crate::kernels`] for the arithmetic). The kernels still never panic on unvalidated input;
//! validation is what makes their results meaningful.

use super::body::{JsldsReference, JsldsSection, Meta, ModelBody, QMatrix, Selection};
use super::error::ModelError;
use crate::fixed::{SHIFT_MAX, SHIFT_MIN};

/// Largest latent dimension `d`.
pub const MAX_LATENT: usize = 256;
/// Largest neuron count `N`.
pub const MAX_NEURONS: usize = 1024;
/// Largest number of regimes `K` (a regime index fits in a `u8`).
pub const MAX_REGIMES: usize = 64;
/// Largest input table (one entry per count 0..=65535).
pub const MAX_INPUT_TABLE: usize = 1 << 16;

/// Validates the whole body.
pub fn validate_body(body: &ModelBody<'_>) -> Result<(), ModelError> {
    validate_meta(&body.meta)?;
    if let Some(j) = &body.jslds {
        validate_jslds(j, body.meta.neurons as usize)?;
    }
    Ok(())
}

fn validate_meta(meta: &Meta<'_>) -> Result<(), ModelError> {
    dim("meta.neurons", meta.neurons as usize, 1, MAX_NEURONS)?;
    if meta.bin_us == 0 {
        return Err(ModelError::Value {
            field: "meta.bin_us",
            problem: "bin width must be positive",
        });
    }
    Ok(())
}

/// Validates a JSLDS section for a model of `neurons` neurons.
pub fn validate_jslds(j: &JsldsSection<'_>, neurons: usize) -> Result<(), ModelError> {
    let d = dim("jslds.latent", j.latent as usize, 1, MAX_LATENT)?;
    let k = dim("jslds.regimes", j.regimes as usize, 1, MAX_REGIMES)?;
    let n = dim("meta.neurons", neurons, 1, MAX_NEURONS)?;
    scale("jslds.state_scale", j.state_scale)?;
    scale("jslds.input_scale", j.input_scale)?;
    scale("jslds.log_rate_scale", j.log_rate_scale)?;

    if !j.input_table.len().is_multiple_of(2) {
        return Err(ModelError::BlobLength {
            field: "jslds.input_table",
            expected: j.input_table.len() + 1,
            got: j.input_table.len(),
        });
    }
    let table = dim(
        "jslds.input_table (entries)",
        j.input_table.len() / 2,
        1,
        MAX_INPUT_TABLE,
    )?;

    match &j.selection {
        Selection::Nearest { points } => blob("jslds.selection.points", points, k * d * 2)?,
        Selection::Gate { weights, bias } => {
            qmatrix(
                weights,
                k,
                d,
                &[
                    "jslds.selection.weights.rows",
                    "jslds.selection.weights.cols",
                    "jslds.selection.weights.data",
                    "jslds.selection.weights.mult",
                    "jslds.selection.weights.shift",
                ],
            )?;
            blob("jslds.selection.bias", bias, k * 2)?;
        }
    }
    qmatrix(
        &j.dynamics,
        k * d,
        d,
        &[
            "jslds.dynamics.rows",
            "jslds.dynamics.cols",
            "jslds.dynamics.data",
            "jslds.dynamics.mult",
            "jslds.dynamics.shift",
        ],
    )?;
    qmatrix(
        &j.input_gain,
        k * d,
        n,
        &[
            "jslds.input_gain.rows",
            "jslds.input_gain.cols",
            "jslds.input_gain.data",
            "jslds.input_gain.mult",
            "jslds.input_gain.shift",
        ],
    )?;
    blob("jslds.offset", j.offset, k * d * 2)?;
    qmatrix(
        &j.readout,
        n,
        d,
        &[
            "jslds.readout.rows",
            "jslds.readout.cols",
            "jslds.readout.data",
            "jslds.readout.mult",
            "jslds.readout.shift",
        ],
    )?;
    blob("jslds.readout_bias", j.readout_bias, n * 2)?;
    if !j.regime_names.is_empty() {
        let got = name_count(j.regime_names);
        if got != k {
            return Err(ModelError::Names { expected: k, got });
        }
    }
    if let Some(r) = &j.reference {
        reference(r, &j.selection, table, k, d, n)?;
    }
    Ok(())
}

fn reference(
    r: &JsldsReference<'_>,
    sel: &Selection<'_>,
    table: usize,
    k: usize,
    d: usize,
    n: usize,
) -> Result<(), ModelError> {
    let nearest = matches!(sel, Selection::Nearest { .. });
    blob("jslds.reference.input_table", r.input_table, table * 4)?;
    blob(
        "jslds.reference.points",
        r.points,
        if nearest { k * d * 4 } else { 0 },
    )?;
    blob(
        "jslds.reference.gate_weights",
        r.gate_weights,
        if nearest { 0 } else { k * d * 4 },
    )?;
    blob(
        "jslds.reference.gate_bias",
        r.gate_bias,
        if nearest { 0 } else { k * 4 },
    )?;
    blob("jslds.reference.dynamics", r.dynamics, k * d * d * 4)?;
    blob("jslds.reference.input_gain", r.input_gain, k * d * n * 4)?;
    blob("jslds.reference.offset", r.offset, k * d * 4)?;
    blob("jslds.reference.readout", r.readout, n * d * 4)?;
    blob("jslds.reference.readout_bias", r.readout_bias, n * 4)?;
    Ok(())
}

/// [`qmatrix`] with one field path for every part (the TAVRNN layers).
pub(super) fn qmatrix_named(
    m: &QMatrix<'_>,
    rows: usize,
    cols: usize,
    field: &'static str,
) -> Result<(), ModelError> {
    qmatrix(m, rows, cols, &[field; 5])
}

/// `fields`: rows, cols, data, mult, shift paths (by reference: the constant lists are then
/// statics, not built on the stack at every call).
fn qmatrix(
    m: &QMatrix<'_>,
    rows: usize,
    cols: usize,
    fields: &[&'static str; 5],
) -> Result<(), ModelError> {
    dim(fields[0], m.rows as usize, rows, rows)?;
    dim(fields[1], m.cols as usize, cols, cols)?;
    blob(fields[2], m.data, rows * cols * m.wtype.bytes())?;
    blob(fields[3], m.mult, rows * 4)?;
    blob(fields[4], m.shift, rows)?;
    for (row, &s) in m.shift.iter().enumerate() {
        let shift = s as i8;
        if !(SHIFT_MIN..=SHIFT_MAX).contains(&shift) {
            return Err(ModelError::Shift {
                field: fields[4],
                row,
                shift,
            });
        }
    }
    Ok(())
}

/// Names in a `'\n'`-separated list: `s.split('\n').count()`, counted on the bytes (a
/// `'\n'` never occurs inside a multi-byte UTF-8 sequence) without `str::Split`'s searcher,
/// 0.6 KB of firmware flash.
pub(super) fn name_count(s: &str) -> usize {
    s.bytes().filter(|&b| b == b'\n').count() + 1
}

pub(super) fn dim(
    field: &'static str,
    value: usize,
    min: usize,
    max: usize,
) -> Result<usize, ModelError> {
    if value < min || value > max {
        Err(ModelError::Dimension {
            field,
            value,
            min,
            max,
        })
    } else {
        Ok(value)
    }
}

pub(super) fn blob(field: &'static str, b: &[u8], expected: usize) -> Result<(), ModelError> {
    if b.len() != expected {
        Err(ModelError::BlobLength {
            field,
            expected,
            got: b.len(),
        })
    } else {
        Ok(())
    }
}

pub(super) fn scale(field: &'static str, s: f32) -> Result<(), ModelError> {
    if s.is_finite() && s > 0.0 {
        Ok(())
    } else {
        Err(ModelError::Value {
            field,
            problem: "scale must be finite and positive",
        })
    }
}
