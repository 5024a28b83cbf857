//! The shared real recording (`../shared/data/linear-track` from the project root): its Phy
//! folder and its NWB file must give the same spikes, unit for unit, and the published
//! numbers (31 units, 28,829 spikes, 165 movement intervals).
//!
//! The data are not part of the repository. When they are absent these tests fail loudly,
//! unless `NEUROLOOP_SKIP_SHARED_DATA=1` is set, in which case they print a loud notice and
//! pass without checking anything. `NEUROLOOP_SHARED_DATA=DIR` reads `DIR/linear-track`
//! instead of the default location.

mod cli_common;

use std::path::{Path, PathBuf};

use neuroloop_trainer::data::{self, labels, load_counts, nwb, phy, LoadOptions, SpikeTrains};

/// Sample rate of the Phy folder; the NWB times must agree within half a sample.
const SAMPLE_RATE: f64 = 30_000.0;

/// The shared folder, or None (after a loud notice) when it is absent and skipping is asked.
fn linear_track() -> Option<PathBuf> {
    cli_common::linear_track(
        &["session.nwb", "phy"],
        "the real-data checks of the readers (Phy == NWB, 31 units, 28,829 spikes)",
    )
}

fn read_both(dir: &Path) -> (SpikeTrains, SpikeTrains) {
    let phy = phy::read(&dir.join("phy"), false).expect("Phy folder reads");
    let nwb = nwb::read(&dir.join("session.nwb"), None).expect("NWB file reads");
    (phy, nwb)
}

#[test]
fn phy_and_nwb_give_the_same_spikes_unit_for_unit() {
    let Some(dir) = linear_track() else { return };
    let (phy, nwb) = read_both(&dir);
    assert_eq!(phy.units.len(), 31, "Phy units");
    assert_eq!(nwb.units.len(), 31, "NWB units");
    assert_eq!(phy.n_spikes(), 28_829, "Phy spikes");
    assert_eq!(nwb.n_spikes(), 28_829, "NWB spikes");
    let half_sample = 0.5 / SAMPLE_RATE;
    for (p, n) in phy.units.iter().zip(&nwb.units) {
        assert_eq!(p.id, n.id, "unit order");
        assert_eq!(
            p.times_s.len(),
            n.times_s.len(),
            "spike count of unit {}",
            p.id
        );
        for (k, (a, b)) in p.times_s.iter().zip(&n.times_s).enumerate() {
            assert!(
                (a - b).abs() < half_sample,
                "unit {} spike {k}: Phy {a} s, NWB {b} s",
                p.id
            );
        }
    }
    assert!((phy.start_s - nwb.start_s).abs() < half_sample);
    assert!((phy.end_s - nwb.end_s).abs() < half_sample);
    // About 33 minutes of recording.
    let minutes = (phy.end_s - phy.start_s) / 60.0;
    assert!((30.0..36.0).contains(&minutes), "{minutes} minutes");
}

#[test]
fn an_independent_hdf5_implementation_reads_the_same_nwb_spikes() {
    let Some(dir) = linear_track() else { return };
    let ours = nwb::read(&dir.join("session.nwb"), None).unwrap();
    let file = hdf5_pure::File::open(dir.join("session.nwb")).unwrap();
    let times = file
        .dataset("/units/spike_times")
        .unwrap()
        .read_f64()
        .unwrap();
    let index_ds = file.dataset("/units/spike_times_index").unwrap();
    // The shared file stores the index as uint16: the case the readers must not get wrong.
    assert_eq!(index_ds.dtype().unwrap(), hdf5_pure::DType::U16);
    let index = index_ds.read_u16().unwrap();
    let ids = file.dataset("/units/id").unwrap().read_i64().unwrap();
    let mut start = 0usize;
    for (u, unit) in ours.units.iter().enumerate() {
        let end = index[u] as usize;
        assert_eq!(unit.id as i64, ids[u]);
        let mut theirs = times[start..end].to_vec();
        theirs.sort_by(f64::total_cmp);
        assert_eq!(unit.times_s, theirs, "unit {}", unit.id);
        start = end;
    }
    assert_eq!(start, times.len());
}

#[test]
fn binning_both_at_10_ms_gives_identical_counts() {
    let Some(dir) = linear_track() else { return };
    let opts = LoadOptions::new(0.010);
    let from_phy = load_counts(&dir.join("phy"), &opts).unwrap();
    let from_nwb = load_counts(&dir.join("session.nwb"), &opts).unwrap();
    assert_eq!(from_phy.unit_ids, from_nwb.unit_ids);
    assert_eq!(from_phy.n_bins, from_nwb.n_bins);
    assert_eq!(from_phy.start_s, from_nwb.start_s);
    assert_eq!(from_phy.data, from_nwb.data);
    let total: u64 = from_phy.data.iter().map(|&c| c as u64).sum();
    assert_eq!(total, 28_829, "every spike lands in a bin");
    // About 0.15 spikes per 10 ms bin for the whole population (data README).
    let per_bin = total as f64 / from_phy.n_bins as f64;
    assert!((0.1..0.2).contains(&per_bin), "{per_bin} spikes per bin");
}

#[test]
fn selection_and_range_on_real_data() {
    let Some(dir) = linear_track() else { return };
    let all = nwb::read(&dir.join("session.nwb"), None).unwrap();
    let picked = nwb::read(&dir.join("session.nwb"), Some(&[30, 2])).unwrap();
    assert_eq!(picked.units[0], all.units[30]);
    assert_eq!(picked.units[1], all.units[2]);
    let mut opts = LoadOptions::new(0.05);
    opts.units = Some(vec![30, 2]);
    opts.range_s = Some((4416.0, 5390.0));
    let counts = load_counts(&dir.join("phy"), &opts).unwrap();
    assert_eq!(counts.unit_ids, vec![30, 2]);
    assert_eq!(counts.start_s, 4416.0);
    assert_eq!(counts.n_bins, 19_480);
    let in_range = |u: &data::Unit| {
        u.times_s
            .iter()
            .filter(|&&t| (4416.0..5390.0).contains(&t))
            .count() as u64
    };
    let want = in_range(&all.units[30]) + in_range(&all.units[2]);
    let got: u64 = counts.data.iter().map(|&c| c as u64).sum();
    assert_eq!(got, want);
    opts.units = Some(vec![31]);
    assert!(load_counts(&dir.join("phy"), &opts).is_err());
}

#[test]
fn labels_of_the_session() {
    let Some(dir) = linear_track() else { return };
    let movement = labels::read_csv(&dir.join("movement.csv")).unwrap();
    assert_eq!(movement.intervals.len(), 165);
    assert_eq!(movement.classes.len(), 2);
    let behavior = labels::read_csv(&dir.join("behavior.csv")).unwrap();
    let run = behavior.class_index("run");
    assert!(run.is_some());
    assert_eq!(behavior.label_at(5000.0), run);
    assert_eq!(behavior.label_span(4416.0, 5390.0), run);
    assert_eq!(behavior.label_span(5380.0, 5400.0), None);
    assert_eq!(behavior.label_at(100.0), None);
}
