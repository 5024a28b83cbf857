//! Row loops with the kernel chosen once per matrix, not once per row.
//!
//! [`super::dot`] decides per call between `int8` and `int16` weights and between the
//! constant-length loops and the general one. Inside a matrix-vector product that decision is
//! the same for every row, and on a Cortex-M4 making it per row (an out-of-line call, a
//! jump table, saved registers) cost about as much as a 16-column row itself. Here the
//! decision is taken once and the row loop is compiled separately for each kernel, with the
//! kernel, the requantisation and the caller's consumer inlined into it.

use super::{dot_i16, dot_i8};
use crate::fixed::Requant;
use crate::format::{QMatrix, WeightType};

/// Calls `f(i, R_r(Σ_c W[r][c]·x[c]))` for `r = row0 + i`, `i = 0, 1, …` over the rows of `m`
/// in `row0 .. row0 + count` that exist, in order, where `R_r` is row `r`'s requantisation
/// before its final saturation ([`Requant::apply_wide`]).
///
/// The results are exactly those of [`super::dot`] followed by `apply_wide`; only the
/// dispatch is hoisted out of the loop.
#[inline(always)]
pub fn for_each_row<F: FnMut(usize, i64)>(
    m: &QMatrix<'_>,
    row0: usize,
    count: usize,
    x: &[i16],
    f: F,
) {
    match (m.wtype, x.len()) {
        (WeightType::I16, 16) => run(m, row0, count, x, f, |w, x| {
            match (w.first_chunk::<32>(), x.first_chunk::<16>()) {
                (Some(w), Some(x)) => dot_i16::dot16(w, x),
                _ => fallback(WeightType::I16, w, x),
            }
        }),
        (WeightType::I16, 8) => run(m, row0, count, x, f, |w, x| {
            match (w.first_chunk::<16>(), x.first_chunk::<8>()) {
                (Some(w), Some(x)) => dot_i16::dot8(w, x),
                _ => fallback(WeightType::I16, w, x),
            }
        }),
        (WeightType::I16, 32) => run(m, row0, count, x, f, |w, x| {
            match (w.first_chunk::<64>(), x.first_chunk::<32>()) {
                (Some(w), Some(x)) => dot_i16::dot32(w, x),
                _ => fallback(WeightType::I16, w, x),
            }
        }),
        (WeightType::I16, 48) => run(m, row0, count, x, f, |w, x| {
            match (w.first_chunk::<96>(), x.first_chunk::<48>()) {
                (Some(w), Some(x)) => dot_i16::dot48(w, x),
                _ => fallback(WeightType::I16, w, x),
            }
        }),
        (WeightType::I16, 64) => run(m, row0, count, x, f, |w, x| {
            match (w.first_chunk::<128>(), x.first_chunk::<64>()) {
                (Some(w), Some(x)) => dot_i16::dot64(w, x),
                _ => fallback(WeightType::I16, w, x),
            }
        }),
        (WeightType::I8, 16) => run(m, row0, count, x, f, |w, x| {
            dot_i8::fixed::<16>(w, x)
                .map(i64::from)
                .unwrap_or_else(|| fallback(WeightType::I8, w, x))
        }),
        (WeightType::I8, 64) => run(m, row0, count, x, f, |w, x| {
            dot_i8::fixed::<64>(w, x)
                .map(i64::from)
                .unwrap_or_else(|| fallback(WeightType::I8, w, x))
        }),
        (wtype, _) => run(m, row0, count, x, f, |w, x| fallback(wtype, w, x)),
    }
}

/// The per-call dispatching kernel, kept out of line: it serves the lengths without a
/// specialised loop and rows shorter than `x` (which validated models never have).
#[inline(never)]
fn fallback(wtype: WeightType, w: &[u8], x: &[i16]) -> i64 {
    super::dot(wtype, w, x)
}

/// The row loop for one kernel.
#[inline(always)]
fn run<F: FnMut(usize, i64), K: Fn(&[u8], &[i16]) -> i64>(
    m: &QMatrix<'_>,
    row0: usize,
    count: usize,
    x: &[i16],
    mut f: F,
    kernel: K,
) {
    for (i, (w, rq)) in super::rows(m, row0, count).enumerate() {
        f(i, Requant::apply_wide(rq, kernel(w, x)));
    }
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
                       shifts in proptest::collection::vec(-31i8..=30, 5)) {
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
        }
    }
}
