//! `simulate regimes`: the written data reproduce the regime truth.
mod simulate_common;

use neuroloop_trainer::simulate::Scenario;
use simulate_common::*;

#[test]
fn regimes_files_reproduce_the_truth() {
    let rb = simulate_and_read(Scenario::Regimes, 7, 240.0);
    let t = &rb.truth;
    assert_labels_cover(&rb);
    assert_rates_realistic(&rb, 0.8);

    // Every regime is visited, with switches between them.
    let k = t.regime_names.len();
    assert_eq!(k, 4);
    for r in 0..k as u16 {
        let occ = t.regime_per_bin.iter().filter(|&&x| x == r).count();
        assert!(
            occ as f64 > 0.05 * t.n_bins as f64,
            "regime {r} occupies {occ} bins"
        );
    }
    assert!(t.segments.len() >= 8, "only {} segments", t.segments.len());

    // Mean activity patterns differ between regimes far beyond their split-half noise.
    assert_patterns_differ(&rb, 3.0);

    // The latent state sits at the fixed point of the regime it is labelled with.
    let fps = t.fixed_points.as_ref().unwrap();
    let (shape, latent) = read_f32_npy(&rb.dir.path().join("latent.npy"));
    assert_eq!(shape, vec![t.n_bins as u64, 2]);
    for p in fps.iter().filter(|p| p.stable) {
        let r = p.regime.unwrap();
        let (mut sx, mut sy, mut c) = (0.0, 0.0, 0.0);
        for b in (0..t.n_bins).filter(|&b| t.regime_per_bin[b] == r) {
            sx += f64::from(latent[b * 2]);
            sy += f64::from(latent[b * 2 + 1]);
            c += 1.0;
        }
        let d = (sx / c - p.point[0]).hypot(sy / c - p.point[1]);
        assert!(
            d < 0.25,
            "regime {r}: mean latent {d:.3} from its fixed point"
        );
        assert!(p.eigenvalues_per_bin.iter().all(|e| e[0].hypot(e[1]) < 1.0));
    }
    assert_eq!(fps.iter().filter(|p| p.stable).count(), 4);
}
