//! The device's streaming graph encoder (`neuroloop_core::graph`, integer, Q1.30 / Q1.14)
//! against the trainer's graphs (`GraphSequence::build`, exact sums and f64 correlation) on
//! simulated `connectivity` sessions of 64 neurons, window by window:
//!
//! * the integer sums are the same numbers (both are exact);
//! * R agrees within 1e-6 (f32 storage of the trainer; the core's own error is below 2^-27);
//! * the edges are the same, except pairs whose |R| lies within 1e-6 of the threshold (or of
//!   a top-k tie), and those flips are at most 1 in 10,000 pairs;
//! * where the edges agree, Â agrees within 2^-15 + 1e-6 (the Q1.14 rounding) and the |R|
//!   features within 2^-15 + 1e-6.
//!
//! The test prints the flip counts it saw.

use indicatif::ProgressBar;
use neuroloop_core::graph::{
    self as device, triangle, GraphSettings, StreamingConnectivity, WindowCorrelation, WindowGraph,
    Q14_ONE, Q30_ONE,
};
use neuroloop_trainer::data::{load_counts, Counts, LoadOptions};
use neuroloop_trainer::export::device_counts;
use neuroloop_trainer::graph::{
    FeatureKind, GraphConfig, GraphSequence, Symmetrise, TopK, WindowSums,
};
use neuroloop_trainer::simulate::{self, Options, Scenario};

const N: usize = 64;
const T: usize = triangle(N);

/// A simulated `connectivity` session of 64 neurons, written as a Phy folder and read back
/// with the trainer's loader at 10 ms bins.
fn session(seed: u64, duration_s: f64) -> Counts {
    let opts = Options {
        seed,
        neurons: Some(N),
        duration_s: Some(duration_s),
        ..Options::default()
    };
    let s = simulate::simulate(Scenario::Connectivity, &opts, &ProgressBar::hidden())
        .expect("simulate connectivity");
    let dir = tempfile::tempdir().expect("tempdir");
    simulate::write_session(&s, dir.path()).expect("write session");
    let counts = load_counts(&dir.path().join("phy"), &LoadOptions::new(0.01)).expect("load");
    assert_eq!(counts.n_units(), N, "every simulated neuron has spikes");
    counts
}

fn settings(config: &GraphConfig) -> GraphSettings {
    GraphSettings {
        theta_q30: GraphSettings::theta_q30_from(config.theta).unwrap(),
        top_k: config.top_k.map(|t| device::TopK {
            k: t.k as u16,
            symmetrise: match t.symmetrise {
                Symmetrise::Union => device::Symmetrise::Union,
                Symmetrise::Intersection => device::Symmetrise::Intersection,
            },
        }),
        history_node: config.history_node,
    }
}

#[derive(Default, Debug)]
struct Tally {
    windows: usize,
    pairs: usize,
    edges: usize,
    flips: usize,
    max_r_err: f64,
    max_a_err: f64,
    max_x_err: f64,
}

/// Runs the device encoder over the trainer's windows of `counts` and compares.
fn compare(counts: &Counts, config: &GraphConfig, tally: &mut Tally) {
    let seq = GraphSequence::build(counts, config).expect("trainer graphs");
    let set = settings(config);
    let mut sums = StreamingConnectivity::<N, T>::new();
    let mut corr = WindowCorrelation::<N, T>::new();
    let mut graph = WindowGraph::<N, T>::new();
    let mut row = [0u16; N];
    let nodes = seq.n_nodes();
    let mut out = vec![0i16; nodes];
    for w in &seq.windows {
        sums.reset();
        let mut exact = WindowSums::new(N);
        for b in w.span.bins() {
            device_counts(counts.row(b), &mut row);
            sums.push(&row).expect("window fits");
            exact.push(counts.row(b)).unwrap();
        }
        for i in 0..N {
            assert_eq!(u64::from(sums.sum(i)), exact.sum(i), "S_{i}");
            for j in i..N {
                assert_eq!(u128::from(sums.product(i, j)), exact.product(i, j));
            }
        }
        corr.compute(&sums);
        graph.build(&corr, &set).unwrap();
        assert_eq!(graph.n_nodes(), nodes);
        tally.windows += 1;
        let mut window_flips = 0;
        for i in 0..N {
            for j in 0..N {
                let r_dev = f64::from(corr.get(i, j)) / f64::from(Q30_ONE);
                let r_host = f64::from(w.correlation[i * N + j]);
                let err = (r_dev - r_host).abs();
                tally.max_r_err = tally.max_r_err.max(err);
                assert!(
                    err <= 1e-6,
                    "window {} R({i},{j}): {r_dev} vs {r_host}",
                    w.span.index
                );
                if i < j {
                    tally.pairs += 1;
                    let host = w.adjacency[i * nodes + j] != 0.0;
                    tally.edges += usize::from(host);
                    if host != graph.contains(i, j) {
                        window_flips += 1;
                        // A flip is only allowed at the threshold (top-k near-ties are
                        // counted in the fraction below).
                        if config.top_k.is_none() {
                            assert!(
                                (r_host.abs() - config.theta).abs() <= 1e-6,
                                "window {} pair ({i},{j}) flipped with |R| = {r_host}",
                                w.span.index
                            );
                        }
                    }
                }
            }
        }
        tally.flips += window_flips;
        if window_flips > 0 {
            continue;
        }
        for i in 0..nodes {
            graph.normalized_row(i, &mut out).unwrap();
            for (j, &v) in out.iter().enumerate() {
                let a = f64::from(v) / f64::from(Q14_ONE);
                let err = (a - f64::from(w.normalized[i * nodes + j])).abs();
                tally.max_a_err = tally.max_a_err.max(err);
                assert!(
                    err <= 1.0 / 32768.0 + 1e-6,
                    "Â({i},{j}) {a} vs {}",
                    w.normalized[i * nodes + j]
                );
                let linked = w.adjacency[i * nodes + j] != 0.0;
                assert_eq!(graph.linked(i, j), linked, "A({i},{j})");
            }
            if config.features == FeatureKind::AbsCorrelation {
                graph.abs_correlation_row(&corr, i, &mut out).unwrap();
                for (j, &v) in out.iter().enumerate() {
                    let x = f64::from(v) / f64::from(Q14_ONE);
                    let err = (x - f64::from(w.features[i * nodes + j])).abs();
                    tally.max_x_err = tally.max_x_err.max(err);
                    assert!(err <= 1.0 / 32768.0 + 1e-6, "X({i},{j})");
                }
            }
        }
    }
}

#[test]
fn device_graphs_match_the_trainer_on_simulated_sessions() {
    let configs = [
        GraphConfig::default(),
        GraphConfig {
            theta: 0.05,
            top_k: Some(TopK {
                k: 5,
                symmetrise: Symmetrise::Union,
            }),
            features: FeatureKind::AbsCorrelation,
            ..GraphConfig::default()
        },
        GraphConfig {
            theta: 0.2,
            top_k: Some(TopK {
                k: 3,
                symmetrise: Symmetrise::Intersection,
            }),
            history_node: false,
            ..GraphConfig::default()
        },
    ];
    for seed in [1, 2] {
        let counts = session(seed, 200.0);
        for config in &configs {
            let mut tally = Tally::default();
            compare(&counts, config, &mut tally);
            eprintln!(
                "seed {seed} theta {} top_k {:?}: {tally:?}",
                config.theta, config.top_k
            );
            assert!(tally.windows >= 30, "{tally:?}");
            assert!(tally.edges > 0, "the sessions have edges: {tally:?}");
            assert!(
                tally.flips * 10_000 <= tally.pairs,
                "more than 1 in 10,000 pairs flipped: {tally:?}"
            );
        }
    }
}
