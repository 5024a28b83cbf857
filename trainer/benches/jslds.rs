//! Criterion benchmark of one JSLDS training step (forward of both paths over a chunk,
//! closed-form Jacobians, four-part loss, backward, Adam) at a small configuration:
//! 32 neurons (all inputs), d = 16, K = 8, 16 streams x 64-bin chunks, flex backend.

use criterion::{criterion_group, criterion_main, Criterion};
use neuroloop_trainer::jslds::train::Trainer;
use neuroloop_trainer::jslds::{Backend, TrainConfig};

fn counts(t: usize, n: usize) -> Vec<u32> {
    (0..t * n)
        .map(|i| (((i * 7919 + i / 3) % 5) as u32 + ((i / n / 37 + i % n) % 4) as u32) % 5)
        .collect()
}

fn bench(c: &mut Criterion) {
    let (t, n) = (20_000, 32);
    let data = counts(t, n);
    let mut group = c.benchmark_group("jslds");
    group.sample_size(20);
    for backend in [Backend::Flex, Backend::Ndarray] {
        let cfg = TrainConfig {
            latent: 16,
            regimes: 8,
            batch: 16,
            chunk_len: 64,
            steps: usize::MAX,
            backend,
            ..TrainConfig::default()
        };
        let mut trainer = Trainer::new(&data, n, &cfg).expect("bench data");
        group.bench_function(format!("train_step_d16_k8_b16x64_{backend:?}"), |b| {
            b.iter(|| trainer.train_step().expect("finite step"))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
