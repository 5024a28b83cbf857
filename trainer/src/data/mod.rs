//! Spike data in: readers for the formats labs have, behaviour labels, binning.
//!
//! Every reader returns the same in-memory types, so that everything downstream is
//! independent of the file format.
//!
//! * [`phy`]: a Phy/Kilosort folder; [`nwb`]: an NWB 2.x file (Units table);
//!   [`npy_counts`]: an already binned `T x N` count matrix;
//! * [`binning`]: spike trains to counts at any bin width;
//! * [`labels`]: behaviour intervals from a CSV file;
//! * [`load_counts`]: one call from a path to counts, dispatching on what the path is.
//!
//! Every failure is a [`DataError`] naming the file, the field and the problem; no reader
//! panics on any input.

use std::path::Path;

pub mod binning;
mod error;
pub mod labels;
mod npy;
pub mod npy_counts;
pub mod nwb;
pub mod phy;

pub use error::DataError;

/// Sorted spike times of a set of units, in seconds from the start of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTrains {
    /// One entry per unit, in the order the units are used downstream (column order of
    /// [`Counts`]).
    pub units: Vec<Unit>,
    /// Start of the recording, seconds. Phy folders and NWB units tables do not record it, so
    /// their readers use the first spike (see [`binning`] for how bins are placed).
    pub start_s: f64,
    /// End of the recording, seconds: the last spike time unless the source says otherwise.
    pub end_s: f64,
}

/// One unit (a sorted neuron): its identifier in the source and its spike times.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Identifier in the source file (Phy cluster id, NWB unit id, .npy column).
    pub id: u32,
    /// Spike times in seconds, non-decreasing.
    pub times_s: Vec<f64>,
}

/// Binned spike counts, `n_bins x n_units`, row-major (one row a bin).
#[derive(Debug, Clone, PartialEq)]
pub struct Counts {
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Time of the left edge of bin 0, seconds.
    pub start_s: f64,
    /// Unit identifiers, one per column.
    pub unit_ids: Vec<u32>,
    /// Number of bins (rows).
    pub n_bins: usize,
    /// Counts, `data[bin * n_units + unit]`.
    pub data: Vec<u32>,
}

impl SpikeTrains {
    /// The units of `ids`, in that order; `start_s` and `end_s` are kept. Errors (as text)
    /// name an unknown or repeated id.
    pub fn select_units(&self, ids: &[u32]) -> Result<SpikeTrains, String> {
        let mut units = Vec::with_capacity(ids.len());
        for (k, id) in ids.iter().enumerate() {
            if ids[..k].contains(id) {
                return Err(format!("unit id {id} is selected twice"));
            }
            match self.units.iter().find(|u| u.id == *id) {
                Some(u) => units.push(u.clone()),
                None => {
                    return Err(format!(
                        "unit id {id} is not in the data (ids: {:?})",
                        self.units.iter().map(|u| u.id).collect::<Vec<_>>()
                    ))
                }
            }
        }
        if units.is_empty() {
            return Err("the selection holds no unit".into());
        }
        Ok(SpikeTrains {
            units,
            start_s: self.start_s,
            end_s: self.end_s,
        })
    }

    /// Total number of spikes over all units.
    pub fn n_spikes(&self) -> usize {
        self.units.iter().map(|u| u.times_s.len()).sum()
    }
}

impl Counts {
    /// Number of units (columns).
    pub fn n_units(&self) -> usize {
        self.unit_ids.len()
    }

    /// The counts of one bin.
    pub fn row(&self, bin: usize) -> &[u32] {
        let n = self.n_units();
        &self.data[bin * n..(bin + 1) * n]
    }

    /// Centre time of a bin, seconds.
    pub fn bin_centre_s(&self, bin: usize) -> f64 {
        self.start_s + (bin as f64 + 0.5) * self.bin_s
    }
}

/// What [`load_counts`] reads and how it bins.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadOptions {
    /// Bin width, seconds (for a `.npy` count matrix: the width its bins have).
    pub bin_s: f64,
    /// Keep only bins inside `(start, end)` seconds (see [`binning`] for the exact rule).
    pub range_s: Option<(f64, f64)>,
    /// Phy folders only: keep the units labelled `good` in `cluster_group.tsv`.
    pub good_only: bool,
    /// Keep only these unit ids, in this order (Phy cluster ids, NWB unit ids, `.npy` column
    /// indices). `None` keeps every unit in the order of the source.
    pub units: Option<Vec<u32>>,
}

impl LoadOptions {
    /// Every unit, the whole recording, at `bin_s` seconds.
    pub fn new(bin_s: f64) -> Self {
        LoadOptions {
            bin_s,
            range_s: None,
            good_only: false,
            units: None,
        }
    }
}

/// Reads `path` and returns binned counts: a folder is read as Phy/Kilosort output, a `.nwb`
/// file as NWB 2.x, a `.npy` file as a `T x N` count matrix with bins of `opts.bin_s`.
pub fn load_counts(path: &Path, opts: &LoadOptions) -> Result<Counts, DataError> {
    npy_counts::check_bin_width(opts.bin_s)?;
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    if path.is_dir() {
        let spikes = phy::read(path, opts.good_only)?;
        return bin_selected(spikes, path, opts);
    }
    match ext.as_deref() {
        Some("npy") => {
            if opts.good_only {
                return Err(good_only_error(path));
            }
            let counts = npy_counts::read(path, opts.bin_s)?;
            let counts = match &opts.units {
                Some(ids) => counts
                    .select_units(ids)
                    .map_err(|p| DataError::invalid(path, "units", p))?,
                None => counts,
            };
            match opts.range_s {
                Some(range) => counts.slice_time(range),
                None => Ok(counts),
            }
        }
        Some("nwb") => {
            if opts.good_only {
                return Err(good_only_error(path));
            }
            let spikes = nwb::read(path, opts.units.as_deref())?;
            binning::bin(&spikes, opts.bin_s, opts.range_s)
        }
        _ => {
            if !path.exists() {
                return Err(DataError::io(
                    path,
                    "input",
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"),
                ));
            }
            Err(DataError::unsupported(
                path,
                "input",
                "expected a Phy/Kilosort folder, a .nwb file or a .npy count matrix",
            ))
        }
    }
}

/// Unit selection, then binning, of spikes read from `path`.
fn bin_selected(spikes: SpikeTrains, path: &Path, opts: &LoadOptions) -> Result<Counts, DataError> {
    let spikes = match &opts.units {
        Some(ids) => spikes
            .select_units(ids)
            .map_err(|p| DataError::invalid(path, "units", p))?,
        None => spikes,
    };
    binning::bin(&spikes, opts.bin_s, opts.range_s)
}

fn good_only_error(path: &Path) -> DataError {
    DataError::Argument {
        field: "good_only".into(),
        problem: format!(
            "applies to Phy folders (cluster_group.tsv) only, not to {}",
            path.display()
        ),
    }
}

impl Counts {
    /// The columns of `ids`, in that order. Errors (as text) name an unknown or repeated id.
    pub fn select_units(&self, ids: &[u32]) -> Result<Counts, String> {
        let mut cols = Vec::with_capacity(ids.len());
        for (k, id) in ids.iter().enumerate() {
            if ids[..k].contains(id) {
                return Err(format!("unit id {id} is selected twice"));
            }
            match self.unit_ids.iter().position(|u| u == id) {
                Some(c) => cols.push(c),
                None => {
                    return Err(format!(
                        "unit id {id} is not in the data (ids: {:?})",
                        self.unit_ids
                    ))
                }
            }
        }
        if cols.is_empty() {
            return Err("the selection holds no unit".into());
        }
        let n = self.n_units();
        let mut data = Vec::with_capacity(self.n_bins * cols.len());
        for b in 0..self.n_bins {
            let row = &self.data[b * n..(b + 1) * n];
            data.extend(cols.iter().map(|&c| row[c]));
        }
        Ok(Counts {
            bin_s: self.bin_s,
            start_s: self.start_s,
            unit_ids: ids.to_vec(),
            n_bins: self.n_bins,
            data,
        })
    }

    /// The whole bins inside `(a, b)` seconds; an error when there are none.
    pub fn slice_time(&self, (a, b): (f64, f64)) -> Result<Counts, DataError> {
        if !(a.is_finite() && b.is_finite() && a < b) {
            return Err(DataError::argument(
                "time range",
                format!("needs finite start < end, got ({a}, {b})"),
            ));
        }
        let first = (-binning::bin_index(-(a - self.start_s) / self.bin_s)).max(0.0);
        // Bins whose left edge is at or after a (ceil) and right edge at or before b (floor).
        let end = binning::bin_index((b - self.start_s) / self.bin_s).min(self.n_bins as f64);
        if end <= first {
            return Err(DataError::argument(
                "time range",
                format!(
                    "({a}, {b}) holds no whole bin of the counts [{}, {}] s",
                    self.start_s,
                    self.start_s + self.n_bins as f64 * self.bin_s
                ),
            ));
        }
        let (first, end) = (first as usize, end as usize);
        let n = self.n_units();
        Ok(Counts {
            bin_s: self.bin_s,
            start_s: self.start_s + first as f64 * self.bin_s,
            unit_ids: self.unit_ids.clone(),
            n_bins: end - first,
            data: self.data[first * n..end * n].to_vec(),
        })
    }
}
