//! Correlation + graph construction for one window of 1000 bins, N = 64 and N = 128.
//!
//! `cargo bench -p neuroloop-trainer --bench graph`. Counts are independent Poisson with a
//! mean of 0.1 per bin (10 Hz in 10 ms bins, typical cortex) and 1.0 per bin (dense: high
//! rates or wide bins); the cost of the sums grows with the square of the non-zero counts
//! per bin, so the two bracket realistic data.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use neuroloop_trainer::graph::{
    surrogate, GraphConfig, GraphWindow, SurrogateTest, WindowSpan, WindowSums,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Poisson};
use std::hint::black_box;
use std::time::Duration;

const BINS: usize = 1000;

fn poisson_rows(n: usize, mean: f64, seed: u64) -> Vec<u32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let d = Poisson::new(mean).unwrap();
    (0..BINS * n).map(|_| d.sample(&mut rng) as u32).collect()
}

fn span() -> WindowSpan {
    WindowSpan {
        index: 0,
        first_bin: 0,
        n_bins: BINS,
        start_s: 0.0,
        end_s: 10.0,
    }
}

fn window_graph(c: &mut Criterion) {
    let config = GraphConfig::default();
    let mut group = c.benchmark_group("graph_window_1000_bins");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [64usize, 128] {
        for mean in [0.1, 1.0] {
            let rows = poisson_rows(n, mean, n as u64);
            let id = format!("N{n}/mean{mean}");
            group.bench_with_input(BenchmarkId::new("sums", &id), &rows, |b, rows| {
                b.iter(|| WindowSums::from_rows(n, black_box(rows)).unwrap())
            });
            group.bench_with_input(
                BenchmarkId::new("correlation+graph", &id),
                &rows,
                |b, rows| {
                    b.iter(|| {
                        let corr = WindowSums::from_rows(n, black_box(rows))
                            .unwrap()
                            .correlation();
                        GraphWindow::from_correlation(span(), &corr, None, &config)
                    })
                },
            );
        }
    }
    group.finish();
}

fn surrogate_test(c: &mut Criterion) {
    let test = SurrogateTest::default();
    let mut group = c.benchmark_group("surrogate_99_window_1000_bins");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    for n in [64usize, 128] {
        let rows = poisson_rows(n, 0.1, 7);
        let corr = WindowSums::from_rows(n, &rows).unwrap().correlation();
        group.bench_with_input(BenchmarkId::new("mean0.1", n), &rows, |b, rows| {
            b.iter(|| surrogate::significant_pairs(n, black_box(rows), &corr, &test, 0).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, window_graph, surrogate_test);
criterion_main!(benches);
