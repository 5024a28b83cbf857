//! `simulate connectivity`: correlation structure changes between states, population rate
//! does not.
mod simulate_common;

use neuroloop_trainer::simulate::Scenario;
use simulate_common::*;

/// Zero-lag correlation matrix (`n x n`) of the counts over the bins labelled `state`.
fn correlation(rb: &ReadBack, state: u16) -> Vec<f64> {
    let bins: Vec<usize> = (0..rb.n_bins)
        .filter(|&b| rb.truth.regime_per_bin[b] == state)
        .collect();
    correlation_of(rb, bins.into_iter())
}

/// Mean correlation over pairs inside one assembly of `assemblies`, and over the other pairs.
fn within_between(r: &[f64], n: usize, assemblies: &[Vec<u32>]) -> (f64, f64) {
    let mut group = vec![0; n];
    for (g, a) in assemblies.iter().enumerate() {
        for &u in a {
            group[u as usize] = g;
        }
    }
    let (mut within, mut nw, mut between, mut nb) = (0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        for j in 0..n {
            if i == j {
                continue;
            }
            if group[i] == group[j] {
                within += r[i * n + j];
                nw += 1.0;
            } else {
                between += r[i * n + j];
                nb += 1.0;
            }
        }
    }
    (within / nw, between / nb)
}

/// Zero-lag correlation matrix of the bins `bins`.
fn correlation_of(rb: &ReadBack, bins: impl Iterator<Item = usize> + Clone) -> Vec<f64> {
    let n = rb.n;
    let m = bins.clone().count() as f64;
    let mut mean = vec![0.0; n];
    for b in bins.clone() {
        for (mi, c) in mean.iter_mut().zip(&rb.counts[b * n..(b + 1) * n]) {
            *mi += c / m;
        }
    }
    let mut cov = vec![0.0; n * n];
    let mut d = vec![0.0; n];
    for b in bins {
        for ((di, c), mi) in d.iter_mut().zip(&rb.counts[b * n..(b + 1) * n]).zip(&mean) {
            *di = c - mi;
        }
        for (row, &di) in cov.chunks_mut(n).zip(&d) {
            if di != 0.0 {
                for (cij, dj) in row.iter_mut().zip(&d) {
                    *cij += di * dj;
                }
            }
        }
    }
    let var: Vec<f64> = (0..n).map(|i| cov[i * n + i].max(1e-12)).collect();
    cov.chunks(n)
        .zip(&var)
        .flat_map(|(row, vi)| {
            row.iter()
                .zip(&var)
                .map(move |(c, vj)| c / (vi * vj).sqrt())
        })
        .collect()
}

#[test]
fn connectivity_states_differ_in_correlation_not_rate() {
    let rb = simulate_and_read(Scenario::Connectivity, 3, 240.0);
    let t = &rb.truth;
    assert_labels_cover(&rb);
    assert_rates_realistic(&rb, 0.8);
    let conn = t.connectivity.as_ref().unwrap();
    let k = conn.states.len();
    assert_eq!(k, t.regime_names.len());

    // Population rates agree across states (within 10 %) and with the stationary rates.
    let pop = population_rate_per_label(&rb);
    let lo = pop.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = pop.iter().copied().fold(0.0, f64::max);
    assert!(hi / lo < 1.1, "population rates per state {pop:?}");
    for (p, st) in pop.iter().zip(&conn.states) {
        let e = st.expected_population_rate_hz;
        assert!(
            (p / e - 1.0).abs() < 0.1,
            "{}: {p:.1} Hz, expected {e:.1}",
            st.name
        );
    }

    // In its own state an assembly is correlated; in the other states the same pairs are not.
    let corr: Vec<Vec<f64>> = (0..k).map(|s| correlation(&rb, s as u16)).collect();
    for (s, st) in conn.states.iter().enumerate() {
        let (own, between) = within_between(&corr[s], rb.n, &st.assemblies);
        assert!(
            own > 0.08 && own > 5.0 * between.abs(),
            "{}: within {own:.3}, between {between:.3}",
            st.name
        );
        for other in (0..k).filter(|&o| o != s) {
            let (there, _) = within_between(&corr[other], rb.n, &st.assemblies);
            assert!(
                own > 2.0 * there,
                "assemblies of {} correlate {own:.3} in it and {there:.3} in {}",
                st.name,
                conn.states[other].name
            );
        }
        // The coupling matrix is the assembly structure.
        for (i, row) in st.coupling.iter().enumerate() {
            let sum: f64 = row.iter().sum();
            assert!((sum - 0.85).abs() < 1e-9, "row {i} sums to {sum}");
        }
    }

    // Two-second windows are classified by whose assemblies correlate most in them: the
    // structure is visible window by window, not only over a whole state.
    let w = (2.0 / t.bin_s).round() as usize;
    let (mut right, mut total) = (0, 0);
    for b0 in (0..rb.n_bins - w).step_by(w) {
        let state = t.regime_per_bin[b0];
        if t.regime_per_bin[b0..b0 + w].iter().any(|&r| r != state) {
            continue;
        }
        let r = correlation_of(&rb, b0..b0 + w);
        let scores: Vec<f64> = conn
            .states
            .iter()
            .map(|st| within_between(&r, rb.n, &st.assemblies).0)
            .collect();
        let best = (0..k)
            .max_by(|&a, &b| scores[a].total_cmp(&scores[b]))
            .unwrap();
        right += usize::from(best == usize::from(state));
        total += 1;
    }
    assert!(
        total > 50 && right as f64 >= 0.95 * total as f64,
        "{right} of {total} windows"
    );
}
