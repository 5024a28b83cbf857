//! Graph construction: known structure, top-k, history node, normalised adjacency, surrogate
//! test, windows and the sequence.

use std::path::Path;

use neuroloop_trainer::data::{labels, Counts};
use neuroloop_trainer::graph::{
    select_edges, surrogate, Correlation, FeatureKind, GraphConfig, GraphError, GraphSequence,
    GraphWindow, SurrogateTest, Symmetrise, TopK, WindowSums,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Poisson};

/// Counts of `groups.len()` groups of neurons: every neuron of group g fires
/// `L_g(t) + noise_i(t)`, with `L_g ~ Poisson(shared)` common to the group and
/// `noise_i ~ Poisson(private)` its own; the within-group correlation is
/// `shared / (shared + private)` and neurons of different groups are independent.
fn grouped(seed: u64, n_bins: usize, groups: &[usize], shared: f64, private: f64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let common = Poisson::new(shared).unwrap();
    let own = Poisson::new(private).unwrap();
    let mut rows = Vec::new();
    for _ in 0..n_bins {
        for &size in groups {
            let l = common.sample(&mut rng) as u32;
            for _ in 0..size {
                rows.push(l + own.sample(&mut rng) as u32);
            }
        }
    }
    rows
}

fn counts(n_units: usize, data: Vec<u32>, bin_s: f64) -> Counts {
    Counts {
        bin_s,
        start_s: 0.0,
        unit_ids: (100..100 + n_units as u32).collect(),
        n_bins: data.len() / n_units,
        data,
    }
}

fn group_of(i: usize) -> usize {
    usize::from(i >= 6)
}

#[test]
fn two_correlated_groups_give_exactly_the_within_group_edges() {
    let rows = grouped(1, 1000, &[6, 6], 2.0, 0.5);
    let c = WindowSums::from_rows(12, &rows).unwrap().correlation();
    let e = select_edges(&c, 0.3, None, None);
    for i in 0..12 {
        for j in 0..12 {
            let want = i != j && group_of(i) == group_of(j);
            assert_eq!(e.contains(i, j), want, "({i},{j}) R = {}", c.get(i, j));
        }
        assert_eq!(e.degree(i), 5);
    }
    assert_eq!(e.count(), 2 * 15);
}

fn random_correlation(seed: u64, n: usize) -> Correlation {
    // Four groups of varying size give a spread of |R|.
    let rows = grouped(seed, 400, &[n / 4, n / 4, n / 4, n - 3 * (n / 4)], 0.4, 1.0);
    WindowSums::from_rows(n, &rows).unwrap().correlation()
}

/// The k candidates of largest |R| of node i (ties to the lower index).
fn top(c: &Correlation, i: usize, k: usize) -> Vec<usize> {
    let mut js: Vec<usize> = (0..c.n_units())
        .filter(|&j| j != i && c.get(i, j) != 0.0)
        .collect();
    js.sort_by(|&a, &b| {
        c.get(i, b)
            .abs()
            .total_cmp(&c.get(i, a).abs())
            .then(a.cmp(&b))
    });
    js.truncate(k);
    js
}

#[test]
fn top_k_degrees_and_selections() {
    for (seed, n, k) in [(1, 20, 1), (2, 20, 3), (3, 33, 5)] {
        let c = random_correlation(seed, n);
        let sel = |s| select_edges(&c, 0.0, Some(TopK { k, symmetrise: s }), None);
        let union = sel(Symmetrise::Union);
        let inter = sel(Symmetrise::Intersection);
        for i in 0..n {
            assert!(union.degree(i) >= k, "union degree of {i}");
            assert!(inter.degree(i) <= k, "intersection degree of {i}");
            for j in top(&c, i, k) {
                assert!(union.contains(i, j), "{i} selected {j}");
            }
            for j in 0..n {
                assert!(!inter.contains(i, j) || union.contains(i, j));
                let mutual = top(&c, i, k).contains(&j) && top(&c, j, k).contains(&i);
                assert_eq!(inter.contains(i, j), mutual, "({i},{j})");
                let either = top(&c, i, k).contains(&j) || top(&c, j, k).contains(&i);
                assert_eq!(union.contains(i, j), either, "({i},{j})");
            }
        }
        // With k = n - 1 top-k selects every candidate.
        let all = select_edges(
            &c,
            0.0,
            Some(TopK {
                k: n - 1,
                symmetrise: Symmetrise::Intersection,
            }),
            None,
        );
        assert_eq!(all, select_edges(&c, 0.0, None, None));
    }
}

#[test]
fn top_k_applies_after_the_threshold() {
    let rows = grouped(5, 1000, &[6, 6], 2.0, 0.5);
    let c = WindowSums::from_rows(12, &rows).unwrap().correlation();
    let e = select_edges(
        &c,
        0.3,
        Some(TopK {
            k: 8,
            symmetrise: Symmetrise::Union,
        }),
        None,
    );
    // Only 5 candidates per node survive the threshold: k = 8 cannot add cross-group edges.
    assert_eq!(e, select_edges(&c, 0.3, None, None));
}

fn window_of(cfg: &GraphConfig, rows: Vec<u32>, n: usize) -> (GraphSequence, GraphWindow) {
    let seq = GraphSequence::build(&counts(n, rows, 0.01), cfg).unwrap();
    let w = seq.windows[0].clone();
    (seq, w)
}

#[test]
fn history_node_is_linked_to_every_neuron() {
    let cfg = GraphConfig {
        window_s: 10.0,
        ..GraphConfig::default()
    };
    let mut rows = grouped(2, 1000, &[4, 4], 2.0, 0.5);
    // Neuron 7 silent: it has no correlation edges but keeps its history link.
    for row in rows.chunks_exact_mut(8) {
        row[7] = 0;
    }
    let (seq, w) = window_of(&cfg, rows, 8);
    let nodes = seq.n_nodes();
    assert_eq!(nodes, 9);
    let h = seq.history_node().unwrap();
    assert_eq!(h, 8);
    for i in 0..nodes {
        assert_eq!(w.adjacency[i * nodes + i], 0.0, "self loop at {i}");
        for j in 0..nodes {
            assert_eq!(w.adjacency[i * nodes + j], w.adjacency[j * nodes + i]);
        }
        if i != h {
            assert_eq!(w.adjacency[i * nodes + h], 1.0);
        }
    }
    let deg = |i: usize| w.adjacency[i * nodes..(i + 1) * nodes].iter().sum::<f32>();
    assert_eq!(deg(h), 8.0);
    assert_eq!(deg(7), 1.0);
    assert_eq!(deg(0), 4.0); // 3 group mates + history
    assert_eq!(w.edges, 6 + 3);

    let no_history = GraphConfig {
        history_node: false,
        ..cfg
    };
    let rows = grouped(2, 1000, &[4, 4], 2.0, 0.5);
    let (seq, w) = window_of(&no_history, rows, 8);
    assert_eq!(seq.n_nodes(), 8);
    assert_eq!(seq.history_node(), None);
    assert_eq!(w.adjacency.len(), 64);
}

#[test]
fn normalised_adjacency_is_symmetric_with_the_documented_row_sums() {
    for history_node in [true, false] {
        let cfg = GraphConfig {
            theta: 0.0,
            top_k: Some(TopK {
                k: 3,
                symmetrise: Symmetrise::Union,
            }),
            history_node,
            ..GraphConfig::default()
        };
        let (seq, w) = window_of(&cfg, grouped(3, 1000, &[5, 7, 4], 0.5, 1.0), 16);
        let n = seq.n_nodes();
        let d: Vec<f64> = (0..n)
            .map(|i| {
                1.0 + w.adjacency[i * n..(i + 1) * n]
                    .iter()
                    .map(|&v| f64::from(v))
                    .sum::<f64>()
            })
            .collect();
        for i in 0..n {
            let mut weighted = 0.0;
            for j in 0..n {
                let a = w.normalized[i * n + j];
                assert_eq!(a, w.normalized[j * n + i]);
                let a_plus_i = f64::from(w.adjacency[i * n + j]) + if i == j { 1.0 } else { 0.0 };
                let want = a_plus_i / (d[i] * d[j]).sqrt();
                assert!((f64::from(a) - want).abs() < 1e-6);
                weighted += f64::from(a) * d[j].sqrt();
            }
            // sum_j Â_ij sqrt(d_j) = sqrt(d_i)
            assert!((weighted - d[i].sqrt()).abs() < 1e-5, "row {i}");
        }
    }
}

#[test]
fn regular_graph_rows_sum_to_one_and_isolated_node_keeps_its_self_loop() {
    // One strongly correlated group: the neuron graph is complete; with the history node every
    // node has degree N, so the graph is regular and each row of Â sums to 1.
    let cfg = GraphConfig::default();
    let (seq, w) = window_of(&cfg, grouped(4, 1000, &[6], 3.0, 0.3), 6);
    let n = seq.n_nodes();
    for i in 0..n {
        let s: f32 = w.normalized[i * n..(i + 1) * n].iter().sum();
        assert!((s - 1.0).abs() < 1e-6, "row {i} sums to {s}");
    }
    // Without the history node a silent neuron is isolated: Â_ii = 1, the rest of its row 0.
    let mut rows = grouped(4, 1000, &[6], 3.0, 0.3);
    for row in rows.chunks_exact_mut(6) {
        row[2] = 0;
    }
    let cfg = GraphConfig {
        history_node: false,
        ..cfg
    };
    let (_, w) = window_of(&cfg, rows, 6);
    let row2 = &w.normalized[2 * 6..3 * 6];
    assert_eq!(row2, &[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn surrogate_test_keeps_strong_edges() {
    let rows = grouped(6, 1000, &[6, 6], 2.0, 0.5);
    let c = WindowSums::from_rows(12, &rows).unwrap().correlation();
    let test = SurrogateTest {
        surrogates: 99,
        alpha: 0.05,
        seed: 11,
    };
    let mask = surrogate::significant_pairs(12, &rows, &c, &test, 0).unwrap();
    for i in 0..12 {
        assert!(!mask[i * 12 + i]);
        for j in 0..12 {
            assert_eq!(mask[i * 12 + j], mask[j * 12 + i]);
            if i != j && group_of(i) == group_of(j) {
                assert!(mask[i * 12 + j], "strong pair ({i},{j}) rejected");
            }
        }
    }
    let with_test = select_edges(&c, 0.3, None, Some(&mask));
    assert_eq!(with_test, select_edges(&c, 0.3, None, None));
    // Deterministic for a seed.
    assert_eq!(
        mask,
        surrogate::significant_pairs(12, &rows, &c, &test, 0).unwrap()
    );
}

#[test]
fn surrogate_test_rejects_independent_poisson_pairs_at_about_alpha() {
    let n = 40;
    let windows = 4;
    let mut rng = StdRng::seed_from_u64(8);
    let rate = Poisson::new(0.4).unwrap();
    let rows: Vec<u32> = (0..windows * 1000 * n)
        .map(|_| rate.sample(&mut rng) as u32)
        .collect();
    let cfg = GraphConfig {
        window_s: 10.0,
        step_s: 10.0,
        theta: 0.0,
        surrogate: Some(SurrogateTest {
            surrogates: 99,
            alpha: 0.05,
            seed: 3,
        }),
        history_node: false,
        ..GraphConfig::default()
    };
    let seq = GraphSequence::build(&counts(n, rows, 0.01), &cfg).unwrap();
    assert_eq!(seq.len(), windows);
    let pairs = windows * n * (n - 1) / 2;
    let kept: usize = seq.windows.iter().map(|w| w.edges).sum();
    let rate = kept as f64 / pairs as f64;
    // 3120 pairs: the binomial standard error at 5 % is 0.4 %.
    assert!(
        (0.035..=0.065).contains(&rate),
        "false-positive rate {rate}"
    );

    // Without the test, theta = 0 links every pair.
    let no_test = GraphConfig {
        surrogate: None,
        ..cfg.clone()
    };
    let rows = seq_rows(8, windows, n);
    let all = GraphSequence::build(&counts(n, rows, 0.01), &no_test).unwrap();
    assert_eq!(all.windows[0].edges, n * (n - 1) / 2);

    // Deterministic for a seed, different for another seed (checked on one window).
    let rows = seq_rows(8, 1, n);
    let c = WindowSums::from_rows(n, &rows).unwrap().correlation();
    let test = cfg.surrogate.unwrap();
    let mask = surrogate::significant_pairs(n, &rows, &c, &test, 0).unwrap();
    assert_eq!(
        mask,
        surrogate::significant_pairs(n, &rows, &c, &test, 0).unwrap()
    );
    let other = SurrogateTest { seed: 4, ..test };
    assert_ne!(
        mask,
        surrogate::significant_pairs(n, &rows, &c, &other, 0).unwrap()
    );
    assert_ne!(
        mask,
        surrogate::significant_pairs(n, &rows, &c, &test, 1).unwrap()
    );
}

fn seq_rows(seed: u64, windows: usize, n: usize) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let rate = Poisson::new(0.4).unwrap();
    (0..windows * 1000 * n)
        .map(|_| rate.sample(&mut rng) as u32)
        .collect()
}

#[test]
fn features_are_identity_or_abs_correlation_rows() {
    let rows = grouped(7, 1000, &[3, 3], 2.0, 0.5);
    let ident = GraphConfig::default();
    let (seq, w) = window_of(&ident, rows.clone(), 6);
    assert!(w.features.is_empty());
    let x = seq.features(0);
    assert_eq!(seq.feature_dim(), 7);
    for i in 0..7 {
        for j in 0..7 {
            assert_eq!(x[i * 7 + j], if i == j { 1.0 } else { 0.0 });
        }
    }
    let absr = GraphConfig {
        features: FeatureKind::AbsCorrelation,
        ..ident
    };
    let (seq, w) = window_of(&absr, rows, 6);
    let x = seq.features(0);
    assert_eq!(x.len(), 49);
    for i in 0..6 {
        for j in 0..6 {
            assert_eq!(x[i * 7 + j], w.correlation[i * 6 + j].abs());
        }
        assert_eq!(x[i * 7 + i], 1.0);
        assert_eq!(x[i * 7 + 6], 0.0);
    }
    assert_eq!(&x[6 * 7..], &[0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
}

#[test]
fn sequence_windows_spans_and_external_correlation() {
    let n = 6;
    // 25.5 s at 10 ms: windows of 10 s every 5 s start at 0, 5, 10, 15 s (15..25);
    // the partial window at 20 s is dropped.
    let rows = grouped(9, 2550, &[3, 3], 1.0, 1.0);
    let mut c = counts(n, rows, 0.01);
    c.start_s = 100.0;
    let seq = GraphSequence::build(&c, &GraphConfig::default()).unwrap();
    assert_eq!(seq.len(), 4);
    assert_eq!(seq.windowing.window_bins, 1000);
    assert_eq!(seq.windowing.step_bins, 500);
    assert_eq!(seq.unit_ids, c.unit_ids);
    for (m, w) in seq.windows.iter().enumerate() {
        assert_eq!(w.span.index, m);
        assert_eq!(w.span.first_bin, 500 * m);
        assert!((w.span.start_s - (100.0 + 5.0 * m as f64)).abs() < 1e-9);
        assert!((w.span.end_s - w.span.start_s - 10.0).abs() < 1e-9);
        // The same window through the public pieces, as a device comparison would run it.
        let rows = &c.data[w.span.bins().start * n..w.span.bins().end * n];
        let corr = WindowSums::from_rows(n, rows).unwrap().correlation();
        let again = Correlation::from_values(n, corr.values().to_vec()).unwrap();
        let g = GraphWindow::from_correlation(w.span, &again, None, &seq.config);
        assert_eq!(&g, w);
    }
    assert_eq!(seq.matrix_bytes(), 4 * 4 * (36 + 49 + 49));

    // Windows at 100-110, 105-115, 110-120, 115-125 s.
    let labels = labels::parse_csv(
        b"start_s,end_s,label\n100,110,run\n110,112,rest\n112,125,rest\n",
        Path::new("behavior.csv"),
    )
    .unwrap();
    assert_eq!(seq.labels(&labels), vec![Some(0), None, Some(1), Some(1)]);
}

#[test]
fn errors_name_the_problem() {
    let c = counts(3, vec![0; 30], 0.01);
    let e = GraphSequence::build(&c, &GraphConfig::default()).unwrap_err();
    assert_eq!(
        e,
        GraphError::TooShort {
            n_bins: 10,
            window_bins: 1000
        }
    );
    let bad = |cfg: GraphConfig| GraphSequence::build(&c, &cfg).unwrap_err().to_string();
    assert!(bad(GraphConfig {
        theta: 1.5,
        ..GraphConfig::default()
    })
    .contains("theta"));
    assert!(bad(GraphConfig {
        top_k: Some(TopK {
            k: 0,
            symmetrise: Symmetrise::Union
        }),
        ..GraphConfig::default()
    })
    .contains("top_k.k"));
    assert!(bad(GraphConfig {
        surrogate: Some(SurrogateTest {
            alpha: 0.0,
            ..SurrogateTest::default()
        }),
        ..GraphConfig::default()
    })
    .contains("surrogate.alpha"));
    assert!(bad(GraphConfig {
        step_s: f64::NAN,
        ..GraphConfig::default()
    })
    .contains("step_s"));
    let mut short = c.clone();
    short.data.pop();
    let e = GraphSequence::build(&short, &GraphConfig::default()).unwrap_err();
    assert!(e.to_string().contains("`data`"), "{e}");
    let empty = counts(1, vec![], 0.01);
    let e = GraphSequence::build(
        &Counts {
            unit_ids: vec![],
            ..empty
        },
        &GraphConfig::default(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("unit_ids"), "{e}");
    assert!(Correlation::from_values(2, vec![1.0, 0.5, 0.4, 1.0]).is_err());
    assert!(Correlation::from_values(2, vec![1.0, 2.0, 2.0, 1.0]).is_err());
}
