//! One TAVRNN training step (forward over a minibatch of 8 chunks x 16 windows, backward,
//! global-norm clipping, Adam) at N = 64 and N = 128 neurons, and the one-chain inference
//! over a whole sequence (147 windows).
//!
//! `cargo bench -p neuroloop-trainer --bench tavrnn`. Graphs: `simulate connectivity`
//! (seed 1, 150 s) binned at 10 ms, windows of 4 s every 1 s, top-k 8, identity features;
//! the model at the CLI defaults (hidden 64, latent 16, attention window 4), flex backend.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use indicatif::ProgressBar;
use neuroloop_trainer::data::binning::bin;
use neuroloop_trainer::graph::{GraphConfig, GraphSequence, Symmetrise, TopK};
use neuroloop_trainer::simulate::{simulate, Options, Scenario};
use neuroloop_trainer::tavrnn::embed::embed;
use neuroloop_trainer::tavrnn::input::WindowData;
use neuroloop_trainer::tavrnn::{TrainConfig, Trainer};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn data(n: usize) -> WindowData {
    let opts = Options {
        seed: 1,
        neurons: Some(n),
        duration_s: Some(150.0),
        bin_ms: Some(10.0),
    };
    let s = simulate(Scenario::Connectivity, &opts, &ProgressBar::hidden()).unwrap();
    let counts = bin(&s.spikes, 0.01, None).unwrap();
    let cfg = GraphConfig {
        window_s: 4.0,
        step_s: 1.0,
        theta: 0.0,
        top_k: Some(TopK {
            k: 8,
            symmetrise: Symmetrise::Union,
        }),
        ..GraphConfig::default()
    };
    let seq = GraphSequence::build(&counts, &cfg).unwrap();
    WindowData::from_sequence(&seq).unwrap()
}

fn step(c: &mut Criterion) {
    let mut group = c.benchmark_group("tavrnn");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(15));
    for n in [64usize, 128] {
        let d = data(n);
        let cfg = TrainConfig::default();
        let mut trainer = Trainer::new(&d, &cfg).unwrap();
        let mut rng = StdRng::seed_from_u64(0);
        let starts: Vec<usize> = (0..cfg.batch)
            .map(|b| b * cfg.chunk_len % (d.windows - cfg.chunk_len))
            .collect();
        group.bench_with_input(BenchmarkId::new("train_step_8x16", n), &starts, |b, s| {
            b.iter(|| trainer.step(black_box(&d), s, 1, &mut rng).unwrap())
        });
        let model = trainer.inference_model();
        group.bench_with_input(BenchmarkId::new("embed_sequence", n), &d, |b, d| {
            b.iter(|| {
                let e = embed(&model, black_box(d));
                e.nodes.len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
