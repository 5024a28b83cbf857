//! Correlation from running sums: exactness, agreement with a two-pass Pearson, and no NaN or
//! infinity for any counts.

use neuroloop_trainer::data::Counts;
use neuroloop_trainer::graph::{
    adjacency, FeatureKind, GraphConfig, GraphSequence, SurrogateTest, Symmetrise, TopK, WindowSums,
};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson};

/// Poisson counts, `n_bins x rates.len()`, row-major.
fn poisson_rows(rng: &mut StdRng, n_bins: usize, rates: &[f64]) -> Vec<u32> {
    let dists: Vec<Option<Poisson<f64>>> = rates
        .iter()
        .map(|&r| (r > 0.0).then(|| Poisson::new(r).unwrap()))
        .collect();
    let mut rows = Vec::with_capacity(n_bins * rates.len());
    for _ in 0..n_bins {
        for d in &dists {
            rows.push(d.as_ref().map_or(0, |d| d.sample(rng) as u32));
        }
    }
    rows
}

/// Pearson correlation by the textbook two-pass formula, 0 for a constant column.
fn two_pass(rows: &[u32], n: usize, i: usize, j: usize) -> f64 {
    let t = rows.len() / n;
    let col = |k: usize| (0..t).map(move |b| f64::from(rows[b * n + k]));
    let mi = col(i).sum::<f64>() / t as f64;
    let mj = col(j).sum::<f64>() / t as f64;
    let cov: f64 = col(i).zip(col(j)).map(|(a, b)| (a - mi) * (b - mj)).sum();
    let vi: f64 = col(i).map(|a| (a - mi).powi(2)).sum();
    let vj: f64 = col(j).map(|b| (b - mj).powi(2)).sum();
    if vi == 0.0 || vj == 0.0 {
        0.0
    } else {
        cov / (vi * vj).sqrt()
    }
}

#[test]
fn correlation_equals_two_pass_pearson() {
    let mut rng = StdRng::seed_from_u64(1);
    for trial in 0..5 {
        let n = 2 + trial * 5;
        let mut rates: Vec<f64> = (0..n).map(|_| rng.random_range(0.02..4.0)).collect();
        rates[0] = 0.0; // a silent neuron
        let rows = poisson_rows(&mut rng, 500, &rates);
        let c = WindowSums::from_rows(n, &rows).unwrap().correlation();
        for i in 0..n {
            for j in 0..n {
                let want = if i == j {
                    if c.is_active(i) {
                        1.0
                    } else {
                        0.0
                    }
                } else {
                    two_pass(&rows, n, i, j)
                };
                let got = c.get(i, j);
                assert!(
                    (got - want).abs() < 1e-12,
                    "trial {trial} ({i},{j}): {got} vs {want}"
                );
            }
        }
        assert!(!c.is_active(0));
    }
}

#[test]
fn correlation_is_accurate_where_the_one_pass_float_formula_fails() {
    // Large counts with a small spread: n Q - S^2 cancels catastrophically in f64, but the
    // exact integer sums give the same R as counts shifted down to small values.
    let mut rng = StdRng::seed_from_u64(2);
    let small = poisson_rows(&mut rng, 300, &[3.0, 3.0, 5.0]);
    let base = 4_000_000_000u32;
    let big: Vec<u32> = small.iter().map(|&x| base + x).collect();
    let a = WindowSums::from_rows(3, &small).unwrap().correlation();
    let b = WindowSums::from_rows(3, &big).unwrap().correlation();
    for (x, y) in a.values().iter().zip(b.values()) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
}

#[test]
fn sums_are_exact_and_named() {
    let mut rng = StdRng::seed_from_u64(3);
    let n = 7;
    let rows = poisson_rows(&mut rng, 200, &[0.5; 7]);
    let s = WindowSums::from_rows(n, &rows).unwrap();
    assert_eq!(s.n_bins(), 200);
    for i in 0..n {
        let si: u64 = (0..200).map(|t| u64::from(rows[t * n + i])).sum();
        assert_eq!(s.sum(i), si);
        for j in 0..n {
            let p: u128 = (0..200)
                .map(|t| u128::from(rows[t * n + i]) * u128::from(rows[t * n + j]))
                .sum();
            assert_eq!(s.product(i, j), p);
        }
        assert_eq!(s.sum_sq(i), s.product(i, i));
        let sj = i128::from(s.sum(i));
        assert_eq!(s.variance_numerator(i), 200 * s.sum_sq(i) as i128 - sj * sj);
    }
}

#[test]
fn streaming_push_equals_batch_and_reset_forgets() {
    let mut rng = StdRng::seed_from_u64(4);
    let rows = poisson_rows(&mut rng, 100, &[1.0, 2.0, 0.3, 0.0]);
    let batch = WindowSums::from_rows(4, &rows).unwrap();
    let mut s = WindowSums::new(4);
    s.push(&[9, 9, 9, 9]).unwrap();
    s.reset();
    for row in rows.chunks_exact(4) {
        s.push(row).unwrap();
    }
    assert_eq!(s.correlation(), batch.correlation());
}

fn counts(n_units: usize, data: Vec<u32>, bin_s: f64) -> Counts {
    Counts {
        bin_s,
        start_s: 0.0,
        unit_ids: (0..n_units as u32).collect(),
        n_bins: data.len() / n_units,
        data,
    }
}

fn every_config() -> Vec<GraphConfig> {
    let base = GraphConfig {
        window_s: 4.0,
        step_s: 2.0,
        ..GraphConfig::default()
    };
    vec![
        base.clone(),
        GraphConfig {
            theta: 0.0,
            top_k: Some(TopK {
                k: 2,
                symmetrise: Symmetrise::Union,
            }),
            features: FeatureKind::AbsCorrelation,
            ..base.clone()
        },
        GraphConfig {
            theta: 0.0,
            history_node: false,
            top_k: Some(TopK {
                k: 1,
                symmetrise: Symmetrise::Intersection,
            }),
            surrogate: Some(SurrogateTest {
                surrogates: 5,
                alpha: 0.2,
                seed: 9,
            }),
            ..base
        },
    ]
}

#[test]
fn all_zero_and_constant_counts_give_no_edges() {
    for value in [0u32, 1, 7, u32::MAX] {
        let c = counts(5, vec![value; 5 * 10], 1.0);
        for cfg in every_config() {
            let seq = GraphSequence::build(&c, &cfg).unwrap();
            for w in &seq.windows {
                assert!(w.correlation.iter().all(|&r| r == 0.0));
                assert_eq!(w.edges, 0);
                assert!(w.normalized.iter().all(|v| v.is_finite()));
            }
        }
    }
}

/// Counts that mix zeros, small values, constants and values near u32::MAX.
fn count_value() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => Just(0u32),
        4 => 0u32..5,
        1 => Just(u32::MAX),
        1 => (u32::MAX - 3)..=u32::MAX,
        1 => any::<u32>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_nan_or_inf_for_any_counts(
        n_units in 1usize..6,
        data in prop::collection::vec(count_value(), 0..60),
        constant in prop::option::of(count_value()),
    ) {
        let n_bins = data.len() / n_units;
        let mut data = data[..n_bins * n_units].to_vec();
        if let Some(v) = constant {
            for row in data.chunks_exact_mut(n_units) { row[0] = v; }
        }
        let s = WindowSums::from_rows(n_units, &data).unwrap();
        let c = s.correlation();
        for i in 0..n_units {
            prop_assert!(s.variance_numerator(i) >= 0);
            for j in 0..n_units {
                let r = c.get(i, j);
                prop_assert!(r.is_finite() && (-1.0..=1.0).contains(&r));
                prop_assert_eq!(r, c.get(j, i));
            }
        }
        if n_bins >= 4 {
            for cfg in every_config() {
                let seq = GraphSequence::build(&counts(n_units, data.clone(), 1.0), &cfg).unwrap();
                for w in &seq.windows {
                    for m in [&w.correlation, &w.adjacency, &w.normalized, &w.features] {
                        prop_assert!(m.iter().all(|v| v.is_finite()));
                    }
                    let nodes = seq.n_nodes();
                    prop_assert_eq!(&adjacency::normalize(&w.adjacency, nodes), &w.normalized);
                }
            }
        }
    }
}
