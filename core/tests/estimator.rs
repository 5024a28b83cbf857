//! Estimator tests on a hand-built two-regime system: the fixed-point and f32 paths agree,
//! hysteresis lags the reported change by exactly m bins, counts saturate, errors are typed.

mod common;

use common::*;
use neuroloop_core::format::{Model, WeightType};
use neuroloop_core::{Estimator, ReferenceEstimator, StepError, StepOutput};

/// Deterministic counts: `phases` of (bins, which side fires). Side 0 drives the state to
/// regime 0 (neurons 2, 3), side 1 to regime 1 (neurons 0, 1); background 0..=2.
fn counts(phases: &[(usize, usize)]) -> Vec<[u16; 4]> {
    let mut seed = 0x1234_5678u32;
    let mut rnd = move |m: u32| {
        seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (seed >> 16) % m
    };
    let mut out = Vec::new();
    for &(bins, side) in phases {
        for _ in 0..bins {
            let mut c = [0u16; 4];
            for (i, v) in c.iter_mut().enumerate() {
                let active = (side == 1 && i < 2) || (side == 0 && i >= 2);
                *v = if active { 6 + rnd(8) } else { rnd(3) } as u16;
            }
            out.push(c);
        }
    }
    out
}

fn run_both(
    nearest: bool,
    hysteresis: u16,
    wtype: WeightType,
    input: &[[u16; 4]],
) -> (Vec<StepOutput>, Vec<StepOutput>, f32) {
    let q = quantise(&two_regime(nearest, hysteresis), wtype);
    let file = encode(&q.body(true));
    let model = Model::from_bytes(&file).unwrap();
    let mut fx = Estimator::<4, 8>::new(&model).unwrap();
    let mut rf = ReferenceEstimator::<4, 8>::new(&model).unwrap();
    let ss = model.jslds().unwrap().state_scale;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let mut max_err = 0f32;
    for c in input {
        a.push(fx.step(c).unwrap());
        b.push(rf.step(c).unwrap());
        for (&x, &y) in fx.latent().iter().zip(rf.latent()) {
            max_err = max_err.max((x as f32 * ss - y).abs());
        }
    }
    (a, b, max_err)
}

#[test]
fn quantised_and_f32_agree() {
    let input = counts(&[(40, 0), (40, 1), (40, 0), (40, 1)]);
    for nearest in [true, false] {
        for wtype in [WeightType::I8, WeightType::I16] {
            let (fx, rf, err) = run_both(nearest, 2, wtype, &input);
            assert_eq!(fx, rf, "nearest={nearest} {wtype:?}");
            // Both regimes are visited.
            assert!(fx.iter().any(|o| o.regime == 0) && fx.iter().any(|o| o.regime == 1));
            // i8 weights: relative weight error up to 1/254 of the row max; i16: 1/65534.
            let bound = if wtype == WeightType::I8 { 0.05 } else { 0.002 };
            assert!(
                err < bound,
                "max latent error {err} (nearest={nearest} {wtype:?})"
            );
        }
    }
}

#[test]
fn hysteresis_delays_the_reported_change_by_exactly_m() {
    let input = counts(&[(40, 0), (40, 1)]);
    let (base, _, _) = run_both(true, 0, WeightType::I16, &input);
    // With m = 0 the report follows the selection.
    assert!(base.iter().all(|o| o.reported == o.regime));
    let first_change = base.iter().position(|o| o.regime == 1).unwrap();
    // The selection stays in regime 1 once it gets there (otherwise the test proves nothing).
    assert!(base[first_change..].iter().all(|o| o.regime == 1));
    for m in 0..6u16 {
        let (fx, rf, _) = run_both(true, m, WeightType::I16, &input);
        assert_eq!(fx, rf);
        let reported = fx.iter().position(|o| o.reported == 1).unwrap();
        assert_eq!(reported, first_change + m as usize, "m = {m}");
        assert!(fx[reported].changed);
        assert_eq!(fx.iter().filter(|o| o.changed).count(), 1, "m = {m}");
        // The selection itself does not depend on m.
        assert!(fx.iter().zip(&base).all(|(a, b)| a.regime == b.regime));
    }
}

#[test]
fn counts_above_the_table_saturate() {
    let q = quantise(&two_regime(true, 0), WeightType::I8);
    let file = encode(&q.body(true));
    let model = Model::from_bytes(&file).unwrap();
    let last = (q.sys.table.len() - 1) as u16;
    let mut a = Estimator::<2, 4>::new(&model).unwrap();
    let mut b = Estimator::<2, 4>::new(&model).unwrap();
    let mut ra = ReferenceEstimator::<2, 4>::new(&model).unwrap();
    let mut rb = ReferenceEstimator::<2, 4>::new(&model).unwrap();
    for _ in 0..10 {
        assert_eq!(
            a.step(&[u16::MAX, 300, last + 1, 0]).unwrap(),
            b.step(&[last, last, last, 0]).unwrap()
        );
        ra.step(&[u16::MAX, 300, last + 1, 0]).unwrap();
        rb.step(&[last, last, last, 0]).unwrap();
        assert_eq!(a.latent(), b.latent());
        assert_eq!(ra.latent(), rb.latent());
    }
}

#[test]
fn wrong_count_length_is_an_error_and_leaves_the_state() {
    let q = quantise(&two_regime(true, 0), WeightType::I8);
    let file = encode(&q.body(true));
    let model = Model::from_bytes(&file).unwrap();
    let mut e = Estimator::<8, 8>::new(&model).unwrap();
    e.step(&[5, 5, 0, 0]).unwrap();
    let before = e.latent().to_vec();
    assert_eq!(
        e.step(&[1, 2, 3]),
        Err(StepError::CountLength {
            expected: 4,
            got: 3
        })
    );
    assert_eq!(
        e.step(&[1; 8]),
        Err(StepError::CountLength {
            expected: 4,
            got: 8
        })
    );
    assert_eq!(e.latent(), &before[..]);
    let mut r = ReferenceEstimator::<8, 8>::new(&model).unwrap();
    assert!(matches!(r.step(&[]), Err(StepError::CountLength { .. })));
}

#[test]
fn log_rates_match_and_check_the_buffer() {
    let q = quantise(&two_regime(true, 0), WeightType::I16);
    let file = encode(&q.body(true));
    let model = Model::from_bytes(&file).unwrap();
    let ls = model.jslds().unwrap().log_rate_scale;
    let mut e = Estimator::<2, 4>::new(&model).unwrap();
    let mut r = ReferenceEstimator::<2, 4>::new(&model).unwrap();
    for c in counts(&[(20, 1)]) {
        e.step(&c).unwrap();
        r.step(&c).unwrap();
    }
    let mut qo = [0i16; 6];
    let mut fo = [0f32; 4];
    let qo = e.log_rates(&mut qo).unwrap();
    let fo = r.log_rates(&mut fo).unwrap();
    assert_eq!(qo.len(), 4);
    for (&x, &y) in qo.iter().zip(fo) {
        assert!((x as f32 * ls - y).abs() < 0.01, "{x} {y}");
    }
    assert_eq!(
        e.log_rates(&mut [0i16; 3]),
        Err(StepError::OutputLength {
            expected: 4,
            got: 3
        })
    );
    assert!(r.log_rates(&mut [0f32; 2]).is_err());
}

#[test]
fn reset_restores_the_initial_state() {
    let q = quantise(&two_regime(false, 3), WeightType::I8);
    let file = encode(&q.body(true));
    let model = Model::from_bytes(&file).unwrap();
    let mut e = Estimator::<2, 4>::new(&model).unwrap();
    let input = counts(&[(10, 1), (10, 0)]);
    let first: Vec<_> = input.iter().map(|c| e.step(c).unwrap()).collect();
    let checksum = e.latent().to_vec();
    e.reset();
    assert_eq!(e.latent(), &[0, 0]);
    let second: Vec<_> = input.iter().map(|c| e.step(c).unwrap()).collect();
    assert_eq!(first, second);
    assert_eq!(e.latent(), &checksum[..]);
    // The first step never reports a change: the reported regime starts as select(a_0).
    assert!(!first[0].changed);
}

#[test]
fn state_ram_estimate_covers_the_estimator() {
    // The estimator is the state `state_ram_bytes` counts plus the borrowed section view and
    // a few words of bookkeeping; nothing else lives in it.
    let q = quantise(&two_regime(true, 0), WeightType::I16);
    let file = encode(&q.body(true));
    let model = Model::from_bytes(&file).unwrap();
    let ram = model.jslds().unwrap().state_ram_bytes();
    let size = core::mem::size_of::<Estimator<2, 4>>();
    let view = core::mem::size_of::<neuroloop_core::JsldsSection>();
    assert!(size >= ram - 8, "{size} < {ram}");
    assert!(
        size <= ram + view + 8 * core::mem::size_of::<usize>(),
        "{size} vs {ram} + {view}"
    );
}
