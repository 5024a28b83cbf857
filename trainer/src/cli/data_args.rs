//! The recording-selection options every command that reads spike data shares, so that
//! `replay`, and the training commands after it, select units and time the same way.

use anyhow::{bail, Result};

use crate::data::LoadOptions;

/// Which part of a recording to read (flattened into each command's arguments).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Selection {
    /// Keep only units labelled `good` in the Phy folder's `cluster_group.tsv`.
    #[arg(long)]
    pub good_only: bool,
    /// Keep only these unit ids, in this order (Phy cluster ids, NWB unit ids, .npy columns).
    #[arg(long, value_delimiter = ',', value_name = "ID,ID,...")]
    pub units: Option<Vec<u32>>,
    /// Start of the time range to read, seconds.
    #[arg(long, value_name = "S")]
    pub start_s: Option<f64>,
    /// End of the time range to read, seconds.
    #[arg(long, value_name = "S")]
    pub end_s: Option<f64>,
}

impl Selection {
    /// The reader options for bins of `bin_s` seconds.
    pub fn load_options(&self, bin_s: f64) -> Result<LoadOptions> {
        let range_s = match (self.start_s, self.end_s) {
            (None, None) => None,
            (Some(a), Some(b)) => Some((a, b)),
            (Some(a), None) => Some((a, f64::MAX)),
            (None, Some(b)) => Some((f64::MIN, b)),
        };
        if let Some((a, b)) = range_s {
            if !(a.is_finite() && b.is_finite() && a < b) {
                bail!("--start-s/--end-s: the range [{a}, {b}) is empty");
            }
        }
        Ok(LoadOptions {
            bin_s,
            range_s,
            good_only: self.good_only,
            units: self.units.clone(),
        })
    }
}
