//! Matrix-vector product with per-row requantisation and an `i16` bias, saturated to `i16`.

use crate::blob;
use crate::fixed::sat_i16;
use crate::format::QMatrix;

/// `out[i] = sat_i16(requant_r(Σ_c W[r][c]·x[c]) + bias[i])` for `r = row0 + i`,
/// `i < out.len()`. `bias` is `i16` LE (missing entries count as 0).
///
/// The requantised row is saturated to `i32`, then the bias is added with saturation, then
/// the sum is saturated to `i16`: every step is defined for every input.
pub fn matvec_requant(m: &QMatrix<'_>, row0: usize, x: &[i16], bias: &[u8], out: &mut [i16]) {
    for (i, o) in out.iter_mut().enumerate() {
        let r = row0.saturating_add(i);
        let v = m
            .row_output(r, x)
            .saturating_add(blob::i16_at(bias, i) as i32);
        *o = sat_i16(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixed::Requant;
    use crate::format::WeightType;
    use proptest::prelude::*;

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
        // Rows past the end read as zero weights and zero multiplier.
        matvec_requant(&m, 1, &[7, 100], &[], &mut out);
        assert_eq!(out, [100, 0]);
    }

    proptest! {
        /// Quantised output vs the real-valued product `s_r · Σ w·x + bias`: within 1/2 LSB of
        /// rounding plus the multiplier's relative error 2^-31 · |s_r · Σ w·x|, before
        /// saturation. The bound checked is 0.5 + 2^-31·|y| + 1e-9.
        #[test]
        fn i16_rows_match_float(
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
