//! Spike data in: readers for the formats labs have, behaviour labels, binning.
//!
//! Every reader returns the same in-memory types, so that everything downstream is
//! independent of the file format.

/// Sorted spike times of a set of units, in seconds from the start of the recording.
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTrains {
    /// One entry per unit, in the order the units are used downstream (column order of
    /// [`Counts`]).
    pub units: Vec<Unit>,
    /// Start of the recording, seconds (0 unless the source says otherwise).
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
