//! Row loops with the kernel chosen once per matrix, not once per row.
//!
//! [`super::dot`] decides per call between `int8` and `int16` weights and between the
//! constant-length loops and the general one. Inside a matrix-vector product that decision is
//! the same for every row, and on a Cortex-M4 making it per row (an out-of-line call, a
//! jump table, saved registers) cost about as much as a 16-column row itself. Here the
//! decision is taken once per matrix (a function pointer to the constant-width kernel) and
//! one row loop, with the requantisation and the caller's consumer inlined, calls it.

use super::{dense_planned, dense_rows_narrow, dot_i16, dot_i8, DensePlan, VecX8};
use crate::blob;
use crate::fixed::{sat_i16_from_i64, Requant};
use crate::format::{QMatrix, WeightType};

/// Calls `f(i, R_r(Σ_c W[r][c]·x[c]))` for `r = row0 + i`, `i = 0, 1, …` over the rows of `m`
/// in `row0 .. row0 + count` that exist, in order, where `R_r` is row `r`'s requantisation
/// before its final saturation ([`Requant::apply_wide`](crate::fixed::Requant::apply_wide), through
/// its 32-bit shortcut [`apply_wide_fast`](crate::fixed::Requant::apply_wide_fast)).
///
/// The results are exactly those of [`super::dot`] followed by `apply_wide`; only the
/// dispatch is hoisted out of the loop: the kernel is chosen once per matrix, as a function
/// pointer, and the row loop (requantisation and the caller's consumer inlined) exists once
/// per caller. Why a pointer: one row loop per kernel, inlined into each caller, cost
/// 2.5 KB of flash in the TAVRNN's `dense` alone; the rows call their kernel out of line
/// either way, so the indirect call costs what the direct one did.
#[inline(always)]
pub fn for_each_row<F: FnMut(usize, i64)>(
    m: &QMatrix<'_>,
    row0: usize,
    count: usize,
    x: &[i16],
    mut f: F,
) {
    let kernel = kernel_for(m.wtype, x.len());
    for (i, (w, rq)) in super::rows(m, row0, count).enumerate() {
        f(i, rq.apply_wide_fast(kernel(w, x)));
    }
}

/// `out[i] = sat_i16(R_r(Σ_c W[r][c]·x[c]) + bias[i])` for `r = row0 + i`, over the `i` for
/// which row `r` of `m`, `bias[i]` and `out[i]` all exist (other outputs are left as they
/// are), with `R_r` row `r`'s [`Requant::apply_wide`]: the dense layer with bias and
/// saturation, the same values as [`for_each_row`] with the bias added and
/// [`sat_i16_from_i64`] applied in its consumer.
///
/// The general rows of the TAVRNN's dense layers ([`dense_layer`] takes the two-row
/// kernels where the layer's plan applies): an `x` that [`VecX8`] accepts, of the layer's
/// width, takes the one-row kernel ([`dense_rows_narrow`], `apply_narrow` in assembly) and
/// each row it leaves the 64-bit `apply_wide`; any other `x` (the bench's model has none)
/// a row loop with the kernel chosen once and `apply_wide`, out of line (`wide_row`; the
/// 32-bit shortcut that was inlined here cost flash for rows the device models do not
/// have). The rows, the bias and the outputs are walked as one zipped iterator, without
/// per-row bounds checks.
#[inline(always)]
pub fn rows_bias_sat(m: &QMatrix<'_>, row0: usize, x: &[i16], bias: &[[u8; 2]], out: &mut [i16]) {
    if m.wtype == WeightType::I16 && m.cols as usize == x.len() {
        if let Some(x8) = VecX8::new(x) {
            return rows_x8(m, row0, x8, bias, out);
        }
    }
    let kernel = kernel_for(m.wtype, x.len());
    for (((w, rq), b), o) in super::rows(m, row0, out.len())
        .zip(bias)
        .zip(out.iter_mut())
    {
        *o = wide_row(rq, kernel(w, x), i16::from_le_bytes(*b));
    }
}

/// The dense layer `out[i] = sat_i16(R_r(Σ_c W[r][c]·x[c]) + bias[r])`, `r = row0 + i`, of a
/// layer with its [`DensePlan`] (`bias` the layer's whole `i16` LE bias blob): the values of
/// [`rows_bias_sat`] over `bias`'s rows `row0 .. row0 + out.len()` (none when the blob lacks
/// one of them), through the two-row kernel of the plan where it applies.
///
/// The per-call path of the TAVRNN's dense layers (579 calls a window step at N = 64): the
/// plan, made at model load, leaves only the bounds of the rows and the vector to check
/// here ([`dense_planned`]). A row the kernel leaves (its pass overflowed 32 bits, or the
/// odd last row) is computed the exact way, out of line, with every row after it
/// (`rest_of_layer`, the one-row kernel).
#[inline(always)]
pub fn dense_layer(
    plan: DensePlan,
    m: &QMatrix<'_>,
    bias: &[u8],
    row0: usize,
    x: &[i16],
    out: &mut [i16],
) {
    let done = match dense_planned(plan, m, bias, row0, x, out) {
        Some(done) if done >= out.len() => return,
        Some(done) => done,
        None => 0,
    };
    rest_of_layer(
        m,
        bias,
        row0 + done,
        x,
        out.get_mut(done..).unwrap_or(&mut []),
    );
}

/// The rows of [`dense_layer`] that [`dense_planned`] did not do (all of them when it
/// declined, else from the row it stopped at: its pass overflowed 32 bits, or the odd last
/// row): [`rows_bias_sat`], the exact one-row kernel, out of line. The device models'
/// layers reach it only for the classifier (512 columns); the rows after an overflow stay
/// on the one-row kernel (none overflowed in the bench's model).
#[inline(never)]
fn rest_of_layer(m: &QMatrix<'_>, bias: &[u8], row0: usize, x: &[i16], out: &mut [i16]) {
    let (bias, _) = blob::sub(bias, row0, out.len(), 2).as_chunks::<2>();
    rows_bias_sat(m, row0, x, bias, out);
}

/// [`rows_bias_sat`] for an `x` of `m.cols` elements that [`VecX8`] accepts: the rows
/// through [`dense_rows_narrow`] (the Cortex-M4 kernel), each row it leaves (one needing
/// [`Requant::apply_wide`]) here, and the rest again through the kernel. The same rows
/// and values as the general loop: rows of exactly `2 · x.len()` bytes, and a row exists
/// where its weights, multiplier, shift, bias and output all do.
#[inline(never)]
fn rows_x8(m: &QMatrix<'_>, row0: usize, x8: VecX8<'_>, bias: &[[u8; 2]], out: &mut [i16]) {
    let x = x8.get();
    let width = 2 * x.len();
    let mut w = m.data.get(row0.saturating_mul(width)..).unwrap_or(&[]);
    let mut mult = m
        .mult
        .get(row0.saturating_mul(4)..)
        .unwrap_or(&[])
        .as_chunks::<4>()
        .0;
    let mut shift = m.shift.get(row0..).unwrap_or(&[]);
    let (mut bias, mut out) = (bias, out);
    loop {
        let done = dense_rows_narrow(w, x8, mult, shift, bias, out);
        let (Some(wr), Some(mb), Some(&s), Some(b), Some(o)) = (
            w.get(done * width..).and_then(|r| r.get(..width)),
            mult.get(done),
            shift.get(done),
            bias.get(done),
            out.get_mut(done),
        ) else {
            return;
        };
        let rq = Requant {
            mult: i32::from_le_bytes(*mb),
            shift: s as i8,
        };
        *o = wide_row(rq, dot_i16::dot_i16(wr, x), i16::from_le_bytes(*b));
        let next = done + 1;
        w = w.get(next * width..).unwrap_or(&[]);
        mult = mult.get(next..).unwrap_or(&[]);
        shift = shift.get(next..).unwrap_or(&[]);
        bias = bias.get(next..).unwrap_or(&[]);
        out = out.get_mut(next..).unwrap_or(&mut []);
    }
}

/// [`rows_bias_sat`]'s general case, `sat_i16(apply_wide(acc) + b)`, out of line: the
/// general row loop's one call for every row (the device's dense rows take the kernels).
#[inline(never)]
fn wide_row(rq: Requant, acc: i64, b: i16) -> i16 {
    sat_i16_from_i64(rq.apply_wide(acc) + b as i64)
}

/// The row kernel for `wtype` weights and an `x` of `len` elements.
#[inline(always)]
fn kernel_for(wtype: WeightType, len: usize) -> fn(&[u8], &[i16]) -> i64 {
    match (wtype, len) {
        (WeightType::I16, 8) => i16_8,
        (WeightType::I16, 16) => i16_16,
        (WeightType::I16, 32) => i16_32,
        (WeightType::I16, 48) => i16_48,
        (WeightType::I16, 64) => i16_64,
        (WeightType::I8, 16) => i8_16,
        (WeightType::I8, 64) => i8_64,
        (WeightType::I16, _) => i16_any,
        (WeightType::I8, _) => i8_any,
    }
}

/// The constant-width kernels, and the general one for rows shorter than `x` (which
/// validated models never have) or other widths.
fn i16_8(w: &[u8], x: &[i16]) -> i64 {
    match (w.first_chunk::<16>(), x.first_chunk::<8>()) {
        (Some(w), Some(x)) => dot_i16::dot8(w, x),
        _ => i16_any(w, x),
    }
}

fn i16_16(w: &[u8], x: &[i16]) -> i64 {
    match (w.first_chunk::<32>(), x.first_chunk::<16>()) {
        (Some(w), Some(x)) => dot_i16::dot16(w, x),
        _ => i16_any(w, x),
    }
}

fn i16_32(w: &[u8], x: &[i16]) -> i64 {
    match (w.first_chunk::<64>(), x.first_chunk::<32>()) {
        (Some(w), Some(x)) => dot_i16::dot32(w, x),
        _ => i16_any(w, x),
    }
}

fn i16_48(w: &[u8], x: &[i16]) -> i64 {
    match (w.first_chunk::<96>(), x.first_chunk::<48>()) {
        (Some(w), Some(x)) => dot_i16::dot48(w, x),
        _ => i16_any(w, x),
    }
}

fn i16_64(w: &[u8], x: &[i16]) -> i64 {
    match (w.first_chunk::<128>(), x.first_chunk::<64>()) {
        (Some(w), Some(x)) => dot_i16::dot64(w, x),
        _ => i16_any(w, x),
    }
}

fn i8_16(w: &[u8], x: &[i16]) -> i64 {
    dot_i8::fixed::<16>(w, x).map_or_else(|| i8_any(w, x), i64::from)
}

fn i8_64(w: &[u8], x: &[i16]) -> i64 {
    dot_i8::fixed::<64>(w, x).map_or_else(|| i8_any(w, x), i64::from)
}

#[inline(never)]
fn i16_any(w: &[u8], x: &[i16]) -> i64 {
    super::dot(WeightType::I16, w, x)
}

#[inline(never)]
fn i8_any(w: &[u8], x: &[i16]) -> i64 {
    super::dot(WeightType::I8, w, x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    proptest! {
        /// Same values as `dot` + `apply_wide`, row by row, for the specialised lengths and
        /// others, both weight types, and short weight blobs.
        #[test]
        fn matches_dot(cols in prop::sample::select(vec![1usize, 5, 8, 16, 17, 32, 48, 64, 65]),
                       rows in 1usize..5, i8w in any::<bool>(), short in 0usize..3,
                       seed in proptest::collection::vec(any::<i16>(), 5 * 65 * 2 + 65),
                       mults in proptest::collection::vec(any::<i32>(), 5),
                       shifts in proptest::collection::vec(-31i8..=30, 5),
                       nbias in 0usize..6, outs in 0usize..6) {
            let wtype = if i8w { WeightType::I8 } else { WeightType::I16 };
            let size = wtype.bytes();
            let x = &seed[..cols];
            let mut data: Vec<u8> = seed[cols..]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .take(rows * cols * size)
                .collect();
            data.truncate(data.len().saturating_sub(short));
            let mult: Vec<u8> = mults.iter().flat_map(|m| m.to_le_bytes()).collect();
            let shift: Vec<u8> = shifts.iter().map(|&s| s as u8).collect();
            let m = QMatrix { rows: rows as u16, cols: cols as u16, wtype, data: &data,
                              mult: &mult, shift: &shift };
            let mut got = Vec::new();
            for_each_row(&m, 0, rows, x, |i, v| got.push((i, v)));
            let want: Vec<(usize, i64)> = super::super::rows(&m, 0, rows)
                .map(|(w, rq)| rq.apply_wide(super::super::dot(wtype, w, x)))
                .enumerate()
                .collect();
            prop_assert_eq!(got, want);
            // With bias and saturation: what the TAVRNN's dense layer computed through
            // `for_each_row` (outputs without a row or a bias keep their value).
            let bias: Vec<[u8; 2]> = seed.iter().rev().take(nbias).map(|b| b.to_le_bytes()).collect();
            let mut out = vec![i16::MIN + 7; outs];
            let mut want_out = out.clone();
            for_each_row(&m, 0, outs, x, |i, v| {
                if let (Some(o), Some(b)) = (want_out.get_mut(i), bias.get(i)) {
                    *o = sat_i16_from_i64(v + i16::from_le_bytes(*b) as i64);
                }
            });
            rows_bias_sat(&m, 0, x, &bias, &mut out);
            prop_assert_eq!(out, want_out);
        }

        /// Rows whose requantised value lies near the `i16` limits, and accumulators on
        /// both sides of the 32-bit boundary, for every shift (so both `rows_bias_sat`
        /// paths and the saturation are taken): the same outputs as `dot` + `apply_wide` +
        /// bias + `sat_i16_from_i64`.
        #[test]
        fn bias_sat_edges(wv in any::<i16>(), x0 in any::<i16>(), reps in 1usize..40,
                          mult in any::<i32>(), shift in any::<i8>(), b in any::<i16>()) {
            let cols = 32;
            let x: Vec<i16> = (0..cols).map(|c| if c < reps { x0 } else { 0 }).collect();
            let data: Vec<u8> = (0..cols).flat_map(|_| wv.to_le_bytes()).collect();
            let mb = mult.to_le_bytes().to_vec();
            let sb = [shift as u8];
            let m = QMatrix { rows: 1, cols: cols as u16, wtype: WeightType::I16, data: &data,
                              mult: &mb, shift: &sb };
            let mut out = [0i16; 1];
            rows_bias_sat(&m, 0, &x, &[b.to_le_bytes()], &mut out);
            let acc = super::super::dot(WeightType::I16, &data, &x);
            let rq = Requant { mult, shift };
            prop_assert_eq!(out[0], sat_i16_from_i64(rq.apply_wide(acc) + b as i64));
        }
    }
}
