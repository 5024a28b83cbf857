//! Time to simulate 10 minutes of 64 neurons, per scenario (the README figure).
//!
//! `cargo bench -p neuroloop-trainer --bench simulate`. Measures the simulation in memory
//! (latent dynamics or network, spikes, truth); writing the files is not included (the CLI
//! timing in the README includes it).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use indicatif::ProgressBar;
use neuroloop_trainer::simulate::{simulate, Options, Scenario};

fn ten_minutes_64_neurons(c: &mut Criterion) {
    let mut group = c.benchmark_group("simulate_600s_64n");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    for scenario in Scenario::ALL {
        let opts = Options {
            seed: 1,
            neurons: Some(64),
            duration_s: Some(600.0),
            bin_ms: Some(10.0),
        };
        group.bench_with_input(BenchmarkId::from_parameter(scenario), &opts, |b, o| {
            b.iter(|| black_box(simulate(scenario, o, &ProgressBar::hidden()).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, ten_minutes_64_neurons);
criterion_main!(benches);
