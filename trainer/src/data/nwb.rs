//! NWB 2.x files: the spike times of the Units table.
//!
//! An NWB file is HDF5. Its Units table stores all spikes in one ragged column:
//! `/units/spike_times` (float seconds, every unit's spikes one after the other),
//! `/units/spike_times_index` (for unit `i`, the end of its spikes in `spike_times`: unit `i`
//! owns `spike_times[index[i-1]..index[i]]`), and `/units/id` (one id a unit). The index's
//! integer type is whatever the writer chose (pynwb picks the smallest unsigned type that
//! holds the largest offset: the shared linear-track file uses uint16), so every signed and
//! unsigned width and both byte orders are decoded here from the raw bytes rather than by
//! asking the HDF5 layer for one fixed type.
//!
//! HDF5 is read by `hdf5-reader`, a pure-Rust, read-only decoder (no C library, hardened
//! against malformed files); `tests/data_nwb.rs` checks it against the Phy folder of the
//! same session and against a second, independent HDF5 implementation.
//!
//! Rules: the index must be non-decreasing, start at or above 0 and end exactly at the number
//! of spike times; ids must be distinct and fit in `u32`; a selected unit must have spikes;
//! times must be finite and non-negative. The order of a unit's spikes carries no meaning in
//! the Units table, so each unit's times are sorted; the start and end of the recording are
//! the first and last selected spike.

use std::path::Path;

use hdf5_reader::{ByteOrder, Datatype, Hdf5File, OpenOptions};

use super::{DataError, SpikeTrains, Unit};

const TIMES: &str = "/units/spike_times";
const INDEX: &str = "/units/spike_times_index";
const IDS: &str = "/units/id";

/// Largest decompression ratio allowed when bounding reads (deflate cannot exceed ~1032:1),
/// so that a small crafted file cannot make the reader allocate gigabytes.
const MAX_EXPANSION: usize = 1100;

/// Reads the Units table of the NWB file `path`; `units` selects unit ids (in that order),
/// `None` keeps all units in table order.
pub fn read(path: &Path, units: Option<&[u32]>) -> Result<SpikeTrains, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, "NWB file", e))?;
    parse(bytes, path, units)
}

/// Reads the Units table from the bytes of an NWB file; `path` only names it in errors.
pub fn parse(bytes: Vec<u8>, path: &Path, units: Option<&[u32]>) -> Result<SpikeTrains, DataError> {
    let options = OpenOptions {
        max_read_bytes: bytes.len().saturating_mul(MAX_EXPANSION).max(1 << 20),
        ..OpenOptions::default()
    };
    let file = Hdf5File::from_vec_with_options(bytes, options).map_err(|e| {
        DataError::malformed(path, "HDF5 file", format!("cannot open as HDF5: {e}"))
    })?;

    let times = read_numbers(&file, path, TIMES, Want::Float)?;
    let index = read_numbers(&file, path, INDEX, Want::Integer)?;
    let ids = read_numbers(&file, path, IDS, Want::Integer)?;
    let Numbers::Float(times) = times else {
        unreachable!("read_numbers checked the kind")
    };
    let (Numbers::Int(index), Numbers::Int(ids)) = (index, ids) else {
        unreachable!("read_numbers checked the kind")
    };

    if index.len() != ids.len() {
        return Err(DataError::shape(
            path,
            INDEX,
            format!("{} entries, but {IDS} has {} units", index.len(), ids.len()),
        ));
    }
    if ids.is_empty() {
        return Err(DataError::empty(path, IDS, "the Units table has no units"));
    }
    let ids: Vec<u32> = ids
        .iter()
        .enumerate()
        .map(|(i, &id)| {
            u32::try_from(id).map_err(|_| {
                DataError::invalid(
                    path,
                    format!("{IDS}[{i}]"),
                    format!("unit id {id} does not fit in 0..=4294967295"),
                )
            })
        })
        .collect::<Result<_, _>>()?;
    for (i, id) in ids.iter().enumerate() {
        if let Some(j) = ids[..i].iter().position(|x| x == id) {
            return Err(DataError::invalid(
                path,
                IDS,
                format!("unit id {id} appears twice (rows {j} and {i})"),
            ));
        }
    }
    let mut previous: i128 = 0;
    for (i, &end) in index.iter().enumerate() {
        if end < 0 {
            return Err(DataError::Negative {
                path: path.into(),
                field: INDEX.into(),
                index: i,
                value: end.to_string(),
            });
        }
        if end < previous {
            return Err(DataError::Unsorted {
                path: path.into(),
                field: INDEX.into(),
                index: i,
                value: end.to_string(),
                previous: previous.to_string(),
            });
        }
        previous = end;
    }
    if previous != times.len() as i128 {
        return Err(DataError::shape(
            path,
            INDEX,
            format!(
                "ends at {previous}, but {TIMES} holds {} spike times",
                times.len()
            ),
        ));
    }

    let rows: Vec<usize> = match units {
        None => (0..ids.len()).collect(),
        Some(selection) => {
            let mut rows = Vec::with_capacity(selection.len());
            for (k, id) in selection.iter().enumerate() {
                if selection[..k].contains(id) {
                    return Err(DataError::invalid(
                        path,
                        "units",
                        format!("unit id {id} is selected twice"),
                    ));
                }
                let row = ids.iter().position(|x| x == id).ok_or_else(|| {
                    DataError::invalid(path, IDS, format!("no unit with id {id} (ids: {ids:?})"))
                })?;
                rows.push(row);
            }
            if rows.is_empty() {
                return Err(DataError::invalid(
                    path,
                    "units",
                    "the selection holds no unit",
                ));
            }
            rows
        }
    };

    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let start = if row == 0 { 0 } else { index[row - 1] as usize };
        let end = index[row] as usize;
        let id = ids[row];
        let field = || format!("{TIMES} (unit id {id})");
        if start == end {
            return Err(DataError::empty(path, field(), "the unit has no spikes"));
        }
        let mut unit_times = times[start..end].to_vec();
        for (k, &t) in unit_times.iter().enumerate() {
            if !t.is_finite() {
                return Err(DataError::NotFinite {
                    path: path.into(),
                    field: field(),
                    index: start + k,
                    value: t.to_string(),
                });
            }
            if t < 0.0 {
                return Err(DataError::Negative {
                    path: path.into(),
                    field: field(),
                    index: start + k,
                    value: t.to_string(),
                });
            }
        }
        unit_times.sort_by(f64::total_cmp);
        out.push(Unit {
            id,
            times_s: unit_times,
        });
    }
    let start_s = out
        .iter()
        .map(|u| u.times_s[0])
        .fold(f64::INFINITY, f64::min);
    let end_s = out
        .iter()
        .map(|u| u.times_s[u.times_s.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(SpikeTrains {
        units: out,
        start_s,
        end_s,
    })
}

#[derive(Clone, Copy, PartialEq)]
enum Want {
    Float,
    Integer,
}

enum Numbers {
    Float(Vec<f64>),
    Int(Vec<i128>),
}

/// A 1-D numeric dataset, decoded from its raw bytes whatever its width and byte order.
fn read_numbers(
    file: &Hdf5File,
    path: &Path,
    name: &str,
    want: Want,
) -> Result<Numbers, DataError> {
    let ds = file.dataset(name).map_err(|e| {
        DataError::malformed(
            path,
            name,
            format!("cannot open the dataset ({e}); an NWB file with sorted units has it"),
        )
    })?;
    if ds.shape().len() != 1 {
        return Err(DataError::shape(
            path,
            name,
            format!("expected 1 dimension, found shape {:?}", ds.shape()),
        ));
    }
    let dtype = ds.dtype().clone();
    let (size, order, kind) = match (&dtype, want) {
        (Datatype::FloatingPoint { size, byte_order }, Want::Float) if matches!(size, 4 | 8) => {
            (*size as usize, *byte_order, None)
        }
        (
            Datatype::FixedPoint {
                size,
                signed,
                byte_order,
            },
            Want::Integer,
        ) if matches!(size, 1 | 2 | 4 | 8) => (*size as usize, *byte_order, Some(*signed)),
        _ => {
            return Err(DataError::Dtype {
                path: path.into(),
                field: name.into(),
                found: format!("{dtype:?}"),
                expected: match want {
                    Want::Float => "32- or 64-bit float seconds".into(),
                    Want::Integer => "an 8-, 16-, 32- or 64-bit integer".into(),
                },
            })
        }
    };
    let raw = ds
        .read_raw_bytes()
        .map_err(|e| DataError::malformed(path, name, format!("cannot read the data: {e}")))?;
    if raw.len() % size != 0 {
        return Err(DataError::malformed(
            path,
            name,
            format!(
                "{} data bytes is not a whole number of {size}-byte elements",
                raw.len()
            ),
        ));
    }
    let little = matches!(order, ByteOrder::LittleEndian);
    let words = raw.chunks_exact(size).map(|c| {
        let mut buf = [0u8; 8];
        buf[..size].copy_from_slice(c);
        if !little {
            buf[..size].reverse();
        }
        u64::from_le_bytes(buf)
    });
    Ok(match kind {
        None if size == 4 => {
            Numbers::Float(words.map(|w| f32::from_bits(w as u32) as f64).collect())
        }
        None => Numbers::Float(words.map(f64::from_bits).collect()),
        Some(false) => Numbers::Int(words.map(|w| w as i128).collect()),
        Some(true) => {
            let shift = 64 - 8 * size as u32;
            Numbers::Int(
                words
                    .map(|w| (((w << shift) as i64) >> shift) as i128)
                    .collect(),
            )
        }
    })
}
