//! `simulate flipflop`: states, pulses and input units in the written data.
mod simulate_common;

use neuroloop_trainer::simulate::Scenario;
use simulate_common::*;

#[test]
fn flipflop_files_reproduce_the_truth() {
    let rb = simulate_and_read(Scenario::Flipflop, 11, 240.0);
    let t = &rb.truth;
    assert_labels_cover(&rb);
    assert_rates_realistic(&rb, 0.8);
    let ff = t.flipflop.as_ref().unwrap();

    // All 8 states are visited and their mean activity patterns differ.
    for s in 0..8u16 {
        assert!(t.regime_per_bin.contains(&s), "state {s} never visited");
    }
    assert_patterns_differ(&rb, 2.0);
    let fps = t.fixed_points.as_ref().unwrap();
    assert_eq!(fps.iter().filter(|p| p.stable).count(), 8);

    // Pulses are visible in the spikes of their input units, and absent between pulses.
    let bins_per_pulse = (ff.pulse_duration_s / t.bin_s).round() as usize;
    let units_of = |c: usize, sign: i8| -> Vec<usize> {
        ff.input_units
            .iter()
            .filter(|u| u.channel == c && u.sign == sign)
            .map(|u| u.unit as usize)
            .collect()
    };
    let window = |units: &[usize], b0: usize| -> f64 {
        (b0..(b0 + bins_per_pulse).min(rb.n_bins))
            .map(|b| units.iter().map(|&u| rb.counts[b * rb.n + u]).sum::<f64>())
            .sum()
    };
    assert!(ff.pulses.len() > 200, "{} pulses", ff.pulses.len());
    let mut seen = 0;
    for p in &ff.pulses {
        let b0 = (p.time_s / t.bin_s).round() as usize;
        if window(&units_of(p.channel, p.sign), b0) >= 4.0 {
            seen += 1;
        }
    }
    assert!(
        seen as f64 >= 0.95 * ff.pulses.len() as f64,
        "{seen} of {} pulses seen",
        ff.pulses.len()
    );
    let mut false_alarms = 0;
    let mut tried = 0;
    for b0 in (0..rb.n_bins).step_by(37) {
        let tb = b0 as f64 * t.bin_s;
        let near = ff.pulses.iter().any(|p| (p.time_s - tb).abs() < 0.2);
        if near {
            continue;
        }
        tried += 1;
        if window(&units_of(0, 1), b0) >= 4.0 {
            false_alarms += 1;
        }
    }
    assert!(
        false_alarms * 20 < tried,
        "{false_alarms} of {tried} quiet windows look like pulses"
    );

    // A pulse that flips its bit leaves the state with that bit set to the pulse's sign.
    let mut flips = 0;
    let mut held = 0;
    for p in ff.pulses.iter().filter(|p| p.flipped) {
        let b = ((p.time_s + 0.2) / t.bin_s) as usize;
        if b >= t.n_bins {
            continue;
        }
        flips += 1;
        let bit = t.regime_per_bin[b] >> p.channel & 1 == 1;
        if bit == (p.sign > 0) {
            held += 1;
        }
    }
    assert!(
        flips > 50 && held as f64 >= 0.95 * flips as f64,
        "{held} of {flips} flips held"
    );

    // inputs.npy holds the pulses per bin.
    let (shape, inputs) = read_f32_npy(&rb.dir.path().join(&ff.input_file));
    assert_eq!(shape, vec![t.n_bins as u64, 3]);
    let p = &ff.pulses[0];
    let b0 = (p.time_s / t.bin_s).round() as usize;
    assert!((f64::from(inputs[b0 * 3 + p.channel]) - f64::from(p.sign)).abs() < 1e-6);
}
