//! Row iteration over a block of a quantised matrix, and the matrix-vector product with
//! per-row requantisation built on it.

use crate::fixed::{sat_i16_from_i64, Requant};
use crate::format::{QMatrix, WeightType};

/// Raw accumulator of one row of `wtype` weights with `x` (dispatches to [`super::dot_i8()`] or
/// [`super::dot_i16()`]).
#[inline]
pub fn dot(wtype: WeightType, row: &[u8], x: &[i16]) -> i64 {
    match wtype {
        WeightType::I8 => super::dot_i8(row, x),
        WeightType::I16 => super::dot_i16(row, x),
    }
}

/// The rows `row0 .. row0 + count` of `m` as (weight bytes, requantisation) pairs.
///
/// Slices the blobs once and walks them with `chunks_exact`/`as_chunks`, so the per-row cost
/// is a few pointer increments rather than index arithmetic and range checks. Rows outside
/// the blobs are not yielded.
#[inline]
pub fn rows<'a>(
    m: &QMatrix<'a>,
    row0: usize,
    count: usize,
) -> impl Iterator<Item = (&'a [u8], Requant)> + 'a {
    let width = (m.cols as usize * m.wtype.bytes()).max(1);
    let data = window(m.data, row0, count, width);
    let (mult, _) = window(m.mult, row0, count, 4).as_chunks::<4>();
    let shift = window(m.shift, row0, count, 1);
    data.chunks_exact(width)
        .zip(mult)
        .zip(shift)
        .map(|((w, mb), &s)| {
            (
                w,
                Requant {
                    mult: i32::from_le_bytes(*mb),
                    shift: s as i8,
                },
            )
        })
}

/// Up to `count` elements of `width` bytes from element `start` on (fewer at the end of the
/// blob).
#[inline]
fn window(blob: &[u8], start: usize, count: usize, width: usize) -> &[u8] {
    let tail = blob.get(start.saturating_mul(width)..).unwrap_or(&[]);
    tail.get(..count.saturating_mul(width)).unwrap_or(tail)
}

/// `out[i] = sat_i16(requant_r(Σ_c W[r][c]·x[c]) + bias[i])` for `r = row0 + i`,
/// `i < out.len()`. `bias` is `i16` LE (missing entries count as 0).
///
/// The requantised row and the bias are summed exactly (see [`Requant::apply_wide`]) and
/// saturated once to `i16`, which equals saturating the requantised row to `i32` first.
/// Outputs whose row lies outside the matrix are set to the saturated bias.
pub fn matvec_requant(m: &QMatrix<'_>, row0: usize, x: &[i16], bias: &[u8], out: &mut [i16]) {
    let (bias, _) = bias.as_chunks::<2>();
    let mut rows = rows(m, row0, out.len());
    for (i, o) in out.iter_mut().enumerate() {
        let b = bias.get(i).map_or(0, |b| i16::from_le_bytes(*b)) as i64;
        let v = match rows.next() {
            Some((w, rq)) => rq.apply_wide(dot(m.wtype, w, x)),
            None => 0,
        };
        *o = sat_i16_from_i64(v + b);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn mk<'a>(
        rows: u16,
        cols: u16,
        wtype: WeightType,
        data: &'a [u8],
        mult: &'a [u8],
        shift: &'a [u8],
    ) -> QMatrix<'a> {
        QMatrix {
            rows,
            cols,
            wtype,
            data,
            mult,
            shift,
        }
    }

    #[test]
    fn identity_i8_and_saturation() {
        let data = [1u8, 0, 0, 1];
        let one = Requant::ONE;
        let mult: Vec<u8> = [one.mult, one.mult]
            .iter()
            .flat_map(|m| m.to_le_bytes())
            .collect();
        let shift = [one.shift as u8; 2];
        let m = mk(2, 2, WeightType::I8, &data, &mult, &shift);
        let mut out = [0i16; 2];
        let bias: Vec<u8> = [10i16, i16::MAX]
            .iter()
            .flat_map(|b| b.to_le_bytes())
            .collect();
        matvec_requant(&m, 0, &[7, 100], &bias, &mut out);
        assert_eq!(out, [17, i16::MAX]);
        // Rows past the end contribute nothing.
        matvec_requant(&m, 1, &[7, 100], &[], &mut out);
        assert_eq!(out, [100, 0]);
        assert_eq!(rows(&m, 1, 5).count(), 1);
        assert_eq!(rows(&m, 7, 1).count(), 0);
    }

    #[test]
    fn zero_columns_do_not_panic() {
        let m = mk(2, 0, WeightType::I16, &[], &[0; 8], &[0; 2]);
        let mut out = [5i16; 2];
        matvec_requant(&m, 0, &[], &[], &mut out);
        assert_eq!(out, [0, 0]);
    }

    proptest! {
        /// Quantised output vs the real-valued product `s_r · Σ w·x`: within 1/2 LSB of
        /// rounding plus the multiplier's relative error 2^-31 · |s_r · Σ w·x|, before
        /// saturation. The bound checked is 0.5 + 2^-31·|y| + 1e-9.
        #[test]
        fn rows_match_float(
            rows in 1usize..6, cols in 1usize..40,
            seed in proptest::collection::vec(any::<i16>(), 240),
            x in proptest::collection::vec(-3000i16..3000, 40),
            scales in proptest::collection::vec(1e-9f64..1e-3, 6),
            i8w in any::<bool>(),
        ) {
            let wtype = if i8w { WeightType::I8 } else { WeightType::I16 };
            let w: Vec<i16> = seed.iter().take(rows * cols).map(|&v| if i8w { v >> 8 } else { v }).collect();
            let data: Vec<u8> = if i8w { w.iter().map(|&v| v as i8 as u8).collect() }
                else { w.iter().flat_map(|v| v.to_le_bytes()).collect() };
            let rq: Vec<Requant> = scales.iter().take(rows).map(|&s| Requant::from_f64(s).unwrap()).collect();
            let mult: Vec<u8> = rq.iter().flat_map(|r| r.mult.to_le_bytes()).collect();
            let shift: Vec<u8> = rq.iter().map(|r| r.shift as u8).collect();
            let m = mk(rows as u16, cols as u16, wtype, &data, &mult, &shift);
            let mut out = vec![0i16; rows];
            matvec_requant(&m, 0, &x[..cols], &[], &mut out);
            for r in 0..rows {
                let acc: f64 = (0..cols).map(|c| w[r * cols + c] as f64 * x[c] as f64).sum();
                let y = acc * scales[r];
                let clamped = y.clamp(-32768.0, 32767.0);
                let err = (out[r] as f64 - clamped).abs();
                prop_assert!(err <= 0.5 + 2f64.powi(-31) * y.abs() + 1e-9, "row {} got {} want {}", r, out[r], y);
            }
        }
    }
}
