//! `simulate switching-linear`: the Phy folder, counts.npy and system.json agree with the
//! switching linear system that generated them.
mod simulate_common;

use neuroloop_trainer::data::npy_counts;
use neuroloop_trainer::simulate::Scenario;
use neuroloop_trainer::slds;
use simulate_common::*;

#[test]
fn switching_linear_files_reproduce_the_truth() {
    let rb = simulate_and_read(Scenario::SwitchingLinear, 2, 120.0);
    let t = &rb.truth;
    assert_labels_cover(&rb);
    assert_rates_realistic(&rb, 0.7);
    let sl = t.switching_linear.as_ref().unwrap();

    // The Phy folder bins back to counts.npy exactly.
    let counts = npy_counts::read(&rb.dir.path().join(&sl.counts_file), t.bin_s).unwrap();
    assert_eq!((counts.n_bins, counts.n_units()), (t.n_bins, t.neurons));
    let from_phy: Vec<u32> = rb.counts.iter().map(|&c| c as u32).collect();
    assert!(
        from_phy == counts.data,
        "Phy spikes and counts.npy disagree"
    );

    // system.json is the shipped estimator of the same regimes.
    let sys = slds::read_system_json(&rb.dir.path().join(&sl.system_file)).unwrap();
    assert_eq!((sys.regimes, sys.neurons), (sl.regimes, t.neurons));
    assert_eq!(t.regime_names.len(), sl.regimes);
    assert_eq!(sl.points.len(), sl.regimes);
    assert_eq!(sl.dynamics.len(), sl.regimes);

    // The timeline switches where the truth says, and the regimes are told apart by their
    // mean activity patterns.
    for &b in &sl.switch_bins {
        assert_ne!(t.regime_per_bin[b], t.regime_per_bin[b - 1], "bin {b}");
    }
    assert_eq!(t.segments.len(), sl.switch_bins.len() + 1);
    assert_patterns_differ(&rb, 2.0);
}
