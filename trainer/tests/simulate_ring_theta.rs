//! `simulate ring-theta`: the 8 Hz rhythm and the position on the ring in the written data.
mod simulate_common;

use std::f64::consts::TAU;

use neuroloop_trainer::simulate::Scenario;
use simulate_common::*;

/// Peak of the averaged periodogram (10 s segments, 0.1 Hz grid) of `x` between `lo` and `hi`.
fn spectral_peak(x: &[f64], dt: f64, lo: f64, hi: f64) -> f64 {
    let seg = (10.0 / dt) as usize;
    let mut best = (0.0, f64::NEG_INFINITY);
    let mut f = lo;
    while f <= hi {
        let mut p = 0.0;
        for s in x.chunks_exact(seg) {
            let mu = s.iter().sum::<f64>() / seg as f64;
            let (mut re, mut im) = (0.0, 0.0);
            for (i, v) in s.iter().enumerate() {
                let a = TAU * f * i as f64 * dt;
                re += (v - mu) * a.cos();
                im += (v - mu) * a.sin();
            }
            p += re * re + im * im;
        }
        if p > best.1 {
            best = (f, p);
        }
        f += 0.1;
    }
    best.0
}

#[test]
fn ring_theta_files_reproduce_the_truth() {
    let rb = simulate_and_read(Scenario::RingTheta, 5, 120.0);
    let t = &rb.truth;
    assert_labels_cover(&rb);
    assert_rates_realistic(&rb, 0.8);
    let osc = t.oscillation.as_ref().unwrap();
    let ring = t.ring.as_ref().unwrap();

    // The population rate has its spectral peak at the oscillation frequency.
    let pop: Vec<f64> = (0..rb.n_bins)
        .map(|b| rb.counts[b * rb.n..(b + 1) * rb.n].iter().sum())
        .collect();
    let peak = spectral_peak(&pop, t.bin_s, 2.0, 30.0);
    assert!(
        (peak - osc.frequency_hz).abs() <= 0.5,
        "peak at {peak} Hz, truth {} Hz",
        osc.frequency_hz
    );

    // The position is read back from the spikes by a population vector over 100 ms.
    let w = (0.1 / t.bin_s).round() as usize;
    let mut errors = Vec::new();
    for b0 in (0..rb.n_bins - w).step_by(w) {
        let (mut re, mut im) = (0.0, 0.0);
        for b in b0..b0 + w {
            for (i, phi) in ring.preferred_position_rad.iter().enumerate() {
                re += rb.counts[b * rb.n + i] * phi.cos();
                im += rb.counts[b * rb.n + i] * phi.sin();
            }
        }
        let truth = f64::from(ring.position_rad_per_bin[b0 + w / 2]);
        let e = (im.atan2(re) - truth).rem_euclid(TAU);
        errors.push(e.min(TAU - e));
    }
    errors.sort_by(f64::total_cmp);
    let median = errors[errors.len() / 2];
    assert!(median < 0.5, "median position error {median:.3} rad");

    // The latent ring has the stated centre and radius; every sector is visited.
    let (_, latent) = read_f32_npy(&rb.dir.path().join("latent.npy"));
    let mut radii: Vec<f64> = latent
        .chunks(4)
        .map(|x| (f64::from(x[0]) - ring.centre[0]).hypot(f64::from(x[1]) - ring.centre[1]))
        .collect();
    radii.sort_by(f64::total_cmp);
    assert!((radii[radii.len() / 2] - ring.radius).abs() < 0.1);
    for s in 0..ring.sectors as u16 {
        assert!(t.regime_per_bin.contains(&s));
    }
}
