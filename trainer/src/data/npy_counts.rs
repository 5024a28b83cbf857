//! Binned spike counts stored as a `.npy` matrix, `T` bins x `N` units.
//!
//! Rule for the element type: any integer type (`i1`..`i8`, `u1`..`u8`) or float (`f4`,
//! `f8`), C or Fortran order. Every element must be a whole number in `0..=u32::MAX`: a float
//! count of 2.5, a NaN or a negative count is an error naming the bin and the unit, never
//! rounded or clamped, because such a file is not a count matrix (rates or z-scores saved by
//! mistake) and silently rounding them would train on wrong data.

use std::path::Path;

use super::npy::{shape_text, Kind, Npy, Number};
use super::{Counts, DataError};

/// Reads a `T x N` count matrix; bin `t` starts at `t * bin_s` seconds, column `n` becomes
/// unit id `n`.
pub fn read(path: &Path, bin_s: f64) -> Result<Counts, DataError> {
    check_bin_width(bin_s)?;
    let npy = Npy::read(path, "counts")?;
    from_npy(&npy, path, bin_s)
}

/// Reads a count matrix from the bytes of a `.npy` file; `path` only names it in errors.
pub fn parse(bytes: Vec<u8>, path: &Path, bin_s: f64) -> Result<Counts, DataError> {
    check_bin_width(bin_s)?;
    let npy = Npy::parse(bytes, path, "counts")?;
    from_npy(&npy, path, bin_s)
}

pub(crate) fn check_bin_width(bin_s: f64) -> Result<(), DataError> {
    if !(bin_s.is_finite() && bin_s > 0.0) {
        return Err(DataError::argument(
            "bin width",
            format!("must be a positive number of seconds, got {bin_s}"),
        ));
    }
    Ok(())
}

fn from_npy(npy: &Npy, path: &Path, bin_s: f64) -> Result<Counts, DataError> {
    let (rows, cols) = match npy.shape.as_slice() {
        [t, n] => (*t, *n),
        _ => {
            return Err(DataError::shape(
                path,
                "counts",
                format!(
                    "expected 2 dimensions (T bins x N units), found {}",
                    shape_text(&npy.shape)
                ),
            ))
        }
    };
    if rows == 0 {
        return Err(DataError::empty(
            path,
            "counts",
            "the matrix has no bins (T = 0)",
        ));
    }
    if cols == 0 {
        return Err(DataError::empty(
            path,
            "counts",
            "the matrix has no units (N = 0)",
        ));
    }
    let unit_ids = (0..cols)
        .map(u32::try_from)
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|_| DataError::shape(path, "counts", format!("{cols} units is too many")))?;
    let mut data = Vec::with_capacity(npy.len());
    for t in 0..rows {
        for n in 0..cols {
            let value = npy.get(npy.index_2d(t, n, rows, cols));
            data.push(count(value, npy.kind, path, t, n, cols)?);
        }
    }
    Ok(Counts {
        bin_s,
        start_s: 0.0,
        unit_ids,
        n_bins: rows,
        data,
    })
}

fn count(
    value: Number,
    kind: Kind,
    path: &Path,
    t: usize,
    n: usize,
    cols: usize,
) -> Result<u32, DataError> {
    let field = || format!("counts[bin {t}, unit {n}]");
    let index = t * cols + n;
    let whole = match value {
        Number::Int(v) => v,
        Number::Float(v) => {
            debug_assert_eq!(kind, Kind::Float);
            if !v.is_finite() {
                return Err(DataError::NotFinite {
                    path: path.into(),
                    field: field(),
                    index,
                    value: v.to_string(),
                });
            }
            if v.fract() != 0.0 {
                return Err(DataError::invalid(
                    path,
                    field(),
                    format!("{v} is not a whole number; a count matrix holds spike counts"),
                ));
            }
            if v < 0.0 {
                -1
            } else if v > u32::MAX as f64 {
                i128::from(u32::MAX) + 1
            } else {
                v as i128
            }
        }
    };
    if whole < 0 {
        return Err(DataError::Negative {
            path: path.into(),
            field: field(),
            index,
            value: value.to_string(),
        });
    }
    u32::try_from(whole).map_err(|_| {
        DataError::invalid(path, field(), format!("count {value} exceeds {}", u32::MAX))
    })
}
