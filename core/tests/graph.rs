//! The streaming graph encoder against exact and f64 references: sums, Q1.30 correlation
//! error bound, threshold and top-k edges (ties included), history node, Â and features;
//! properties over arbitrary counts (no panic, symmetric, |R| <= 1).

use neuroloop_core::graph::{
    normalized_entry, triangle, ConnectivityError, GraphSettings, StreamingConnectivity,
    Symmetrise, TopK, WindowCorrelation, WindowGraph, MAX_COUNT, MAX_WINDOW_BINS, Q14_ONE, Q30_ONE,
};
use proptest::prelude::*;

const N: usize = 12;
const T: usize = triangle(N);
type Sums = StreamingConnectivity<N, T>;
type Corr = WindowCorrelation<N, T>;
type Graph = WindowGraph<N, T>;

/// Deterministic pseudo-random counts: neuron i fires with a rate that depends on i, and
/// neurons 0..4 share a common drive (so some pairs are strongly correlated).
fn counts(bins: usize, seed: u64, scale: u16) -> Vec<[u16; N]> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    (0..bins)
        .map(|_| {
            let drive = rnd() % 4 == 0;
            let mut row = [0u16; N];
            for (i, c) in row.iter_mut().enumerate() {
                let p = if i < 4 && drive { 70 } else { 5 + 3 * i as u64 };
                let fire = rnd() % 100 < p;
                *c = if fire {
                    1 + (rnd() % u64::from(scale)) as u16
                } else {
                    0
                };
            }
            row
        })
        .collect()
}

fn sums_of(rows: &[[u16; N]]) -> Sums {
    let mut s = Sums::new();
    for r in rows {
        s.push(r).unwrap();
    }
    s
}

/// R from the exact integer sums in f64 (the trainer's formula).
fn reference_r(s: &Sums) -> Vec<f64> {
    let n = i128::from(s.n_bins());
    let v: Vec<i128> = (0..N)
        .map(|i| n * i128::from(s.product(i, i)) - i128::from(s.sum(i)).pow(2))
        .collect();
    let mut r = vec![0.0; N * N];
    for i in 0..N {
        for j in 0..N {
            if v[i] == 0 || v[j] == 0 {
                continue;
            }
            if i == j {
                r[i * N + j] = 1.0;
                continue;
            }
            let c = n * i128::from(s.product(i, j)) - i128::from(s.sum(i)) * i128::from(s.sum(j));
            r[i * N + j] =
                (c as f64 / ((v[i] as f64).sqrt() * (v[j] as f64).sqrt())).clamp(-1.0, 1.0);
        }
    }
    r
}

fn corr_of(s: &Sums) -> Corr {
    let mut c = Corr::new();
    c.compute(s);
    c
}

#[test]
fn correlation_is_within_8_lsb_of_the_exact_value() {
    let mut worst = 0.0f64;
    for (seed, bins, scale) in [
        (1, 50, 1),
        (2, 1000, 3),
        (3, 5000, 20),
        (4, 200, 255),
        (5, 7, 2),
    ] {
        let s = sums_of(&counts(bins, seed, scale));
        let c = corr_of(&s);
        let r = reference_r(&s);
        for i in 0..N {
            for j in 0..N {
                let err = (f64::from(c.get(i, j)) - r[i * N + j] * f64::from(Q30_ONE)).abs();
                worst = worst.max(err);
            }
        }
    }
    eprintln!("worst |R_q - R 2^30| = {worst:.2} LSB");
    assert!(worst <= 8.0, "worst error {worst} LSB of Q1.30");
}

#[test]
fn extreme_window_keeps_exact_sums_and_bounded_r() {
    // The longest window with the largest counts: every sum at its u32 bound.
    let mut s = StreamingConnectivity::<2, 3>::new();
    for t in 0..MAX_WINDOW_BINS {
        let a = if t % 3 == 0 { 0 } else { u16::MAX };
        s.push(&[a, MAX_COUNT]).unwrap();
    }
    assert_eq!(
        s.push(&[1, 1]),
        Err(ConnectivityError::WindowFull { max: 65_535 })
    );
    assert_eq!(s.product(0, 1), 43_690 * 255 * 255);
    assert_eq!(s.product(1, 1), 65_535 * 255 * 255);
    assert_eq!(s.saturated(), 43_690);
    let mut c = WindowCorrelation::<2, 3>::new();
    c.compute(&s);
    // Neuron 1 is constant: no correlation.
    assert_eq!(c.get(0, 1), 0);
    assert!(c.is_active(0) && !c.is_active(1));
}

#[test]
fn merge_equals_pushing_every_bin() {
    let rows = counts(300, 9, 4);
    let whole = sums_of(&rows);
    let mut a = sums_of(&rows[..120]);
    a.merge(&sums_of(&rows[120..])).unwrap();
    assert_eq!(a.sums(), whole.sums());
    assert_eq!(a.products(), whole.products());
    assert_eq!(a.n_bins(), 300);
}

#[test]
fn slice_length_is_checked() {
    let mut s = Sums::new();
    assert_eq!(
        s.push_slice(&[1, 2]),
        Err(ConnectivityError::Length {
            what: "count vector",
            expected: N,
            got: 2
        })
    );
    assert_eq!(s.n_bins(), 0);
}

/// Reference selection: the trainer's algorithm on integer R (stable sort by |R| desc).
fn reference_edges(c: &Corr, theta: i32, top: Option<TopK>) -> Vec<bool> {
    let cand = |i: usize, j: usize| {
        i != j && c.get(i, j) != 0 && c.get(i, j).unsigned_abs() >= theta as u32
    };
    let mut e = vec![false; N * N];
    match top {
        None => {
            for i in 0..N {
                for j in 0..N {
                    e[i * N + j] = cand(i, j);
                }
            }
        }
        Some(t) => {
            let mut sel = [false; N * N];
            for i in 0..N {
                let mut v: Vec<(u32, usize)> = (0..N)
                    .filter(|&j| cand(i, j))
                    .map(|j| (c.get(i, j).unsigned_abs(), j))
                    .collect();
                // Stable: equal |R| keep the ascending index order.
                v.sort_by_key(|&(a, _)| std::cmp::Reverse(a));
                for &(_, j) in v.iter().take(usize::from(t.k)) {
                    sel[i * N + j] = true;
                }
            }
            for i in 0..N {
                for j in 0..N {
                    let (a, b) = (sel[i * N + j], sel[j * N + i]);
                    e[i * N + j] = match t.symmetrise {
                        Symmetrise::Union => a || b,
                        Symmetrise::Intersection => a && b,
                    };
                }
            }
        }
    }
    e
}

fn check_graph(c: &Corr, settings: GraphSettings) -> Graph {
    let mut g = Graph::new();
    g.build(c, &settings).unwrap();
    let want = reference_edges(c, settings.theta_q30, settings.top_k);
    let mut count = 0;
    for i in 0..N {
        for j in 0..N {
            assert_eq!(g.contains(i, j), want[i * N + j], "({i},{j}) {settings:?}");
            count += usize::from(i < j && want[i * N + j]);
        }
    }
    assert_eq!(g.edge_count() as usize, count);
    g
}

#[test]
fn threshold_and_top_k_match_the_reference_selection() {
    for seed in 0..6 {
        let c = corr_of(&sums_of(&counts(400, seed, 3)));
        for theta in [0.0, 0.05, 0.1, 0.3] {
            let theta_q30 = GraphSettings::theta_q30_from(theta).unwrap();
            for top_k in [
                None,
                Some(TopK {
                    k: 1,
                    symmetrise: Symmetrise::Union,
                }),
                Some(TopK {
                    k: 3,
                    symmetrise: Symmetrise::Union,
                }),
                Some(TopK {
                    k: 3,
                    symmetrise: Symmetrise::Intersection,
                }),
                Some(TopK {
                    k: 20,
                    symmetrise: Symmetrise::Intersection,
                }),
            ] {
                check_graph(
                    &c,
                    GraphSettings {
                        theta_q30,
                        top_k,
                        history_node: true,
                    },
                );
            }
        }
    }
}

#[test]
fn top_k_ties_go_to_the_lower_index() {
    // Neurons 1, 2, 3 are exact copies: R(0,1) = R(0,2) = R(0,3). With k = 1 neuron 0 picks 1.
    let mut s = Sums::new();
    for (t, row) in counts(200, 4, 3).iter().enumerate() {
        let mut r = *row;
        let x = (t % 3) as u16 + r[0] % 2;
        r[1] = x;
        r[2] = x;
        r[3] = x;
        s.push(&r).unwrap();
    }
    let c = corr_of(&s);
    assert_eq!(c.get(0, 1), c.get(0, 2));
    let g = check_graph(
        &c,
        GraphSettings {
            theta_q30: 0,
            top_k: Some(TopK {
                k: 1,
                symmetrise: Symmetrise::Intersection,
            }),
            history_node: false,
        },
    );
    // 1, 2 and 3 pick each other (R = 1): 1 picks 2, 2 picks 1, 3 picks 1.
    assert!(g.contains(1, 2));
    assert!(!g.contains(1, 3));
}

#[test]
fn settings_are_checked() {
    let c = Corr::new();
    let mut g = Graph::new();
    let bad = GraphSettings {
        theta_q30: Q30_ONE + 1,
        top_k: None,
        history_node: false,
    };
    assert!(matches!(
        g.build(&c, &bad),
        Err(ConnectivityError::Setting {
            field: "theta_q30",
            ..
        })
    ));
    let bad = GraphSettings {
        theta_q30: 0,
        top_k: Some(TopK {
            k: 0,
            symmetrise: Symmetrise::Union,
        }),
        history_node: false,
    };
    assert!(matches!(
        g.build(&c, &bad),
        Err(ConnectivityError::Setting {
            field: "top_k.k",
            ..
        })
    ));
    assert!(GraphSettings::theta_q30_from(1.5).is_err());
    assert_eq!(GraphSettings::theta_q30_from(0.1).unwrap(), 107_374_183);
}

#[test]
fn history_node_adjacency_and_features() {
    let c = corr_of(&sums_of(&counts(500, 11, 2)));
    let settings = GraphSettings {
        theta_q30: GraphSettings::theta_q30_from(0.1).unwrap(),
        top_k: None,
        history_node: true,
    };
    let g = check_graph(&c, settings);
    let nodes = N + 1;
    assert_eq!(g.n_nodes(), nodes);
    assert_eq!(g.node_degree(N), 1 + N as u32);
    let mut row = vec![0i16; nodes];
    for i in 0..nodes {
        assert!(g.linked(i, N) == (i != N));
        g.normalized_row(i, &mut row).unwrap();
        let di = f64::from(g.node_degree(i));
        // Â D^1/2 1 = D^1/2 1, up to the Q1.14 rounding.
        let lhs: f64 = (0..nodes)
            .map(|j| f64::from(row[j]) / f64::from(Q14_ONE) * f64::from(g.node_degree(j)).sqrt())
            .sum();
        assert!(
            (lhs - di.sqrt()).abs() < 0.5 / 16384.0 * nodes as f64 * 12.0,
            "{i}: {lhs}"
        );
        for (j, &v) in row.iter().enumerate() {
            assert_eq!(v, g.normalized(j, i), "symmetric");
            let exact = if i == j || g.linked(i, j) {
                16384.0 / (di * f64::from(g.node_degree(j))).sqrt()
            } else {
                0.0
            };
            assert!((f64::from(v) - exact).abs() <= 0.5, "({i},{j})");
        }
        g.abs_correlation_row(&c, i, &mut row).unwrap();
        for (j, &v) in row.iter().enumerate() {
            let want = if i < N && j < N {
                (f64::from(c.get(i, j)).abs() / 65536.0).round()
            } else if i == j {
                16384.0
            } else {
                0.0
            };
            assert!((f64::from(v) - want).abs() <= 0.5);
        }
    }
    assert_eq!(normalized_entry(1, 1), Q14_ONE);
    let mut short = [0i16; 3];
    assert!(matches!(
        g.normalized_row(0, &mut short),
        Err(ConnectivityError::Length { .. })
    ));
    assert!(matches!(
        g.normalized_row(nodes, &mut row),
        Err(ConnectivityError::Node { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn any_counts_give_exact_sums_and_a_valid_graph(
        rows in prop::collection::vec(prop::array::uniform12(any::<u16>()), 1..40),
        sparse in prop::collection::vec(prop::array::uniform12(0u16..3), 0..40),
        theta in 0i32..=Q30_ONE,
        k in 1u16..14,
        inter in any::<bool>(),
    ) {
        let mut s = Sums::new();
        let all: Vec<[u16; N]> = rows.iter().chain(&sparse).copied().collect();
        for r in &all {
            s.push(r).unwrap();
        }
        let sat = |x: u16| u64::from(x.min(MAX_COUNT));
        for i in 0..N {
            prop_assert_eq!(u64::from(s.sum(i)), all.iter().map(|r| sat(r[i])).sum::<u64>());
            for j in 0..N {
                let m: u64 = all.iter().map(|r| sat(r[i]) * sat(r[j])).sum();
                prop_assert_eq!(u64::from(s.product(i, j)), m);
            }
        }
        let c = corr_of(&s);
        let r = reference_r(&s);
        for i in 0..N {
            for j in 0..N {
                let v = c.get(i, j);
                prop_assert!(v.abs() <= Q30_ONE);
                prop_assert_eq!(v, c.get(j, i));
                prop_assert!((f64::from(v) - r[i * N + j] * f64::from(Q30_ONE)).abs() <= 8.0);
            }
        }
        let symmetrise = if inter { Symmetrise::Intersection } else { Symmetrise::Union };
        for top_k in [None, Some(TopK { k, symmetrise })] {
            let g = check_graph(&c, GraphSettings { theta_q30: theta, top_k, history_node: inter });
            for i in 0..g.n_nodes() {
                for j in 0..g.n_nodes() {
                    let a = g.normalized(i, j);
                    prop_assert!((0..=Q14_ONE).contains(&a));
                    prop_assert_eq!(a, g.normalized(j, i));
                }
            }
        }
    }
}

/// The first window of the `p0.10` case of `firmware-example/src/bin/graph_bench.rs`,
/// regenerated here with the same generator: the checksums of R (Q1.30) and Â (Q1.14) must
/// equal the ones the firmware printed under QEMU (`scripts/firmware-graph-bench.sh`,
/// `NLG window_end source=p0.10 ... r_crc32=.. a_hat_crc32=..`): bit-exact host and
/// Cortex-M4.
#[test]
fn host_matches_the_cortex_m4_bench_bit_for_bit() {
    const N: usize = 64;
    const T: usize = triangle(N);
    let mut state = 0x1234_5678u32 ^ 100;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut sums = StreamingConnectivity::<N, T>::new();
    let mut row = [0u16; N];
    for _ in 0..1000 {
        for c in row.iter_mut() {
            *c = if next() % 1000 < 100 {
                1 + u16::from(next() % 4 == 0)
            } else {
                0
            };
        }
        sums.push(&row).unwrap();
    }
    let mut corr = WindowCorrelation::<N, T>::new();
    corr.compute(&sums);
    let mut graph = WindowGraph::<N, T>::new();
    let settings = GraphSettings {
        theta_q30: 107_374_183,
        top_k: None,
        history_node: true,
    };
    graph.build(&corr, &settings).unwrap();
    let mut r = neuroloop_core::crc32::Crc32::new();
    for v in corr.packed() {
        r.update(&v.to_le_bytes());
    }
    let mut a = neuroloop_core::crc32::Crc32::new();
    let mut out = [0i16; N + 1];
    for i in 0..=N {
        graph.normalized_row(i, &mut out).unwrap();
        a.update_i16(&out);
    }
    assert_eq!(graph.edge_count(), 8);
    assert_eq!(r.finish(), 0x1e7b_fb0d, "R differs from the Cortex-M4 run");
    assert_eq!(a.finish(), 0x212c_26d7, "Â differs from the Cortex-M4 run");
}

/// `correlate_in_place` + `build_from_sums` against `compute` + `build`, for one `N`.
fn in_place_matches<const M: usize, const U: usize>(seed: u64, scale: u16) {
    let mut s = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) | 1;
    let mut rnd = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s
    };
    let mut sums = StreamingConnectivity::<M, U>::new();
    for _ in 0..300 {
        let drive = rnd() % 3 == 0;
        let mut row = [0u16; M];
        for (i, c) in row.iter_mut().enumerate() {
            // Neuron 1 stays silent: a constant neuron's row is all zeros.
            let p = if i == 1 {
                0
            } else if i % 3 == 0 && drive {
                60
            } else {
                8
            };
            *c = if rnd() % 100 < p {
                1 + (rnd() % u64::from(scale)) as u16
            } else {
                0
            };
        }
        sums.push(&row).unwrap();
    }
    let mut corr = WindowCorrelation::<M, U>::new();
    corr.compute(&sums);
    let settings = [
        GraphSettings {
            theta_q30: GraphSettings::theta_q30_from(0.05).unwrap(),
            top_k: None,
            history_node: true,
        },
        GraphSettings {
            theta_q30: GraphSettings::theta_q30_from(0.02).unwrap(),
            top_k: Some(TopK {
                k: 2,
                symmetrise: Symmetrise::Union,
            }),
            history_node: false,
        },
    ];
    let mut want = [WindowGraph::<M, U>::new(), WindowGraph::<M, U>::new()];
    for (g, st) in want.iter_mut().zip(&settings) {
        g.build(&corr, st).unwrap();
    }
    // Not yet correlated: no graph from sums.
    assert_eq!(
        WindowGraph::<M, U>::new().build_from_sums(&sums, &settings[0]),
        Err(ConnectivityError::Correlated)
    );
    let n_bins = sums.n_bins();
    assert_eq!(sums.correlate_in_place(), corr.active());
    assert_eq!(
        sums.correlate_in_place(),
        corr.active(),
        "a second call changes nothing"
    );
    let bits: Vec<i32> = sums
        .correlations()
        .unwrap()
        .iter()
        .map(|&v| v as i32)
        .collect();
    assert_eq!(&bits[..], &corr.packed()[..], "M = {M}, seed {seed}");
    for i in 0..M {
        for j in 0..M {
            assert_eq!(sums.correlation(i, j), Some(corr.get(i, j)));
        }
    }
    assert_eq!(sums.n_bins(), n_bins);
    for (g, st) in want.iter().zip(&settings) {
        let mut got = WindowGraph::<M, U>::new();
        got.build_from_sums(&sums, st).unwrap();
        assert_eq!(got.edge_count(), g.edge_count());
        for i in 0..=M {
            assert_eq!(got.node_degree(i), g.node_degree(i));
            for j in 0..=M {
                assert_eq!(got.linked(i, j), g.linked(i, j));
                assert_eq!(got.normalized(i, j), g.normalized(i, j));
            }
        }
    }
    // The storage holds R now: bins and merges wait for a reset.
    assert_eq!(sums.push(&[1; M]), Err(ConnectivityError::Correlated));
    let other = StreamingConnectivity::<M, U>::new();
    assert_eq!(sums.merge(&other), Err(ConnectivityError::Correlated));
    sums.reset();
    assert!(!sums.is_correlated() && sums.correlations().is_none());
    assert_eq!(sums.push(&[1; M]), Ok(M));
}

#[test]
fn correlation_in_place_equals_compute_bit_for_bit() {
    for seed in 0..4 {
        in_place_matches::<12, { triangle(12) }>(seed, 3);
        in_place_matches::<7, { triangle(7) }>(seed, 5);
        in_place_matches::<64, { triangle(64) }>(seed, 2);
        in_place_matches::<1, { triangle(1) }>(seed, 2);
    }
}
