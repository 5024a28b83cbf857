//! Spike trains to binned counts.
//!
//! Rules, chosen so that every reader of the same session gives the same bins:
//! * bin edges lie on the grid `k * bin_s` (multiples of the bin width from time zero), so
//!   counts from the Phy folder and the NWB file of a session share edges, and labels given in
//!   whole seconds fall on edges;
//! * without a range, the bins run from the bin holding `start_s` to the bin holding `end_s`;
//! * with a range `(a, b)`, the bins start at `a` (or at the first bin of the recording when
//!   `a` is earlier) and stop at the last whole bin before `b` (or the end of the recording):
//!   bins outside the recording are never invented, and a range holding no whole bin of it is
//!   an error;
//! * a bin is `[left, left + bin_s)`: a spike on an edge counts in the bin to its right, with a
//!   tolerance of 1e-9 bins so that a spike at `3 * 0.01` s lands in bin 3 although `0.03 /
//!   0.01` is 2.9999999999999996 in floating point.

use super::npy_counts::check_bin_width;
use super::{Counts, DataError, SpikeTrains};

/// Relative tolerance, in bins, for a time on a bin edge.
const EDGE_TOLERANCE: f64 = 1e-9;

/// Most count cells (bins x units) one call may allocate: 2^32 cells are 16 GiB, beyond any
/// machine this runs on, so a wrong bin width is an error rather than an out-of-memory abort.
const MAX_CELLS: usize = 1 << 32;

/// Bins `spikes` at `bin_s` seconds, optionally restricted to `range_s = (a, b)` seconds.
pub fn bin(
    spikes: &SpikeTrains,
    bin_s: f64,
    range_s: Option<(f64, f64)>,
) -> Result<Counts, DataError> {
    check_bin_width(bin_s)?;
    check_spikes(spikes)?;
    let first = bin_index(spikes.start_s / bin_s);
    let last = bin_index(spikes.end_s / bin_s);
    let rec_lo = first * bin_s;
    let rec_hi = (last + 1.0) * bin_s;
    let (lo, hi) = match range_s {
        None => (rec_lo, rec_hi),
        Some((a, b)) => {
            if !(a.is_finite() && b.is_finite() && a < b) {
                return Err(DataError::argument(
                    "time range",
                    format!("needs finite start < end, got ({a}, {b})"),
                ));
            }
            (a.max(rec_lo), b.min(rec_hi))
        }
    };
    let n_bins = if hi > lo {
        bin_index((hi - lo) / bin_s).max(0.0)
    } else {
        0.0
    };
    if n_bins < 1.0 {
        return Err(DataError::argument(
            "time range",
            format!(
                "{range_s:?} holds no whole {bin_s} s bin of the recording [{}, {}] s",
                spikes.start_s, spikes.end_s
            ),
        ));
    }
    let too_many = || {
        DataError::argument(
            "bin width",
            format!(
                "{n_bins} bins of {bin_s} s x {} units are too many to hold in memory",
                spikes.units.len()
            ),
        )
    };
    if n_bins * spikes.units.len() as f64 > MAX_CELLS as f64 {
        return Err(too_many());
    }
    let n_bins = n_bins as usize;
    let n_units = spikes.units.len();
    let mut data: Vec<u32> = Vec::new();
    data.try_reserve_exact(n_bins * n_units)
        .map_err(|_| too_many())?;
    data.resize(n_bins * n_units, 0);
    for (u, unit) in spikes.units.iter().enumerate() {
        for &t in &unit.times_s {
            let x = bin_index((t - lo) / bin_s);
            if x >= 0.0 && x < n_bins as f64 {
                let cell = &mut data[x as usize * n_units + u];
                *cell = cell.saturating_add(1);
            }
        }
    }
    Ok(Counts {
        bin_s,
        start_s: lo,
        unit_ids: spikes.units.iter().map(|u| u.id).collect(),
        n_bins,
        data,
    })
}

/// `floor(x)`, except that `x` within [`EDGE_TOLERANCE`] below a whole number counts as that
/// number (a time on an edge belongs to the bin on its right).
pub(crate) fn bin_index(x: f64) -> f64 {
    let r = x.round();
    if (x - r).abs() <= EDGE_TOLERANCE * r.abs().max(1.0) {
        r
    } else {
        x.floor()
    }
}

fn check_spikes(spikes: &SpikeTrains) -> Result<(), DataError> {
    if !(spikes.start_s.is_finite() && spikes.end_s.is_finite() && spikes.start_s <= spikes.end_s) {
        return Err(DataError::argument(
            "spikes.start_s/end_s",
            format!(
                "need finite start <= end, got [{}, {}]",
                spikes.start_s, spikes.end_s
            ),
        ));
    }
    if spikes.units.is_empty() {
        return Err(DataError::argument("spikes.units", "no units to bin"));
    }
    for (u, unit) in spikes.units.iter().enumerate() {
        if let Some(j) = unit.times_s.iter().position(|t| !t.is_finite()) {
            return Err(DataError::argument(
                format!("spikes.units[{u}] (id {}).times_s[{j}]", unit.id),
                format!("{} is not a finite time", unit.times_s[j]),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Unit;

    fn trains(times: &[&[f64]], start_s: f64, end_s: f64) -> SpikeTrains {
        SpikeTrains {
            units: times
                .iter()
                .enumerate()
                .map(|(i, t)| Unit {
                    id: i as u32 + 10,
                    times_s: t.to_vec(),
                })
                .collect(),
            start_s,
            end_s,
        }
    }

    #[test]
    fn edges_go_right_and_grid_is_aligned() {
        let s = trains(&[&[0.03, 0.035, 0.05], &[0.031]], 0.03, 0.05);
        let c = bin(&s, 0.01, None).unwrap();
        assert_eq!(c.start_s, 0.03);
        assert_eq!(c.n_bins, 3);
        assert_eq!(c.unit_ids, vec![10, 11]);
        assert_eq!(c.data, vec![2, 1, 0, 0, 1, 0]);
    }

    #[test]
    fn range_is_clipped_to_the_recording() {
        let s = trains(&[&[1.0, 1.5, 2.5, 3.9]], 1.0, 3.9);
        let c = bin(&s, 1.0, Some((0.0, 10.0))).unwrap();
        assert_eq!((c.start_s, c.n_bins), (1.0, 3));
        assert_eq!(c.data, vec![2, 1, 1]);
        let c = bin(&s, 1.0, Some((1.5, 3.0))).unwrap();
        assert_eq!((c.start_s, c.n_bins), (1.5, 1));
        assert_eq!(c.data, vec![1]);
        assert!(bin(&s, 1.0, Some((5.0, 9.0))).is_err());
        assert!(bin(&s, 1.0, Some((2.0, 1.0))).is_err());
        assert!(bin(&s, 0.0, None).is_err());
        assert!(bin(&s, f64::NAN, None).is_err());
        // 3.9e12 bins: an error, not an abort.
        assert!(matches!(
            bin(&s, 1e-12, None),
            Err(DataError::Argument { .. })
        ));
    }

    #[test]
    fn nan_times_are_rejected() {
        let s = trains(&[&[1.0, f64::NAN]], 1.0, 2.0);
        let e = bin(&s, 0.1, None).unwrap_err().to_string();
        assert!(e.contains("units[0] (id 10).times_s[1]"), "{e}");
    }
}
