//! Host throughput of one estimator step, N = 64 neurons, d = 16 latents, K = 8 regimes:
//! neuroloop-core's fixed-point `Estimator` (the device algorithm, compiled for the host) and
//! its f32 `ReferenceEstimator`, on the reference switching system exported by the exporter.
//!
//! `cargo bench -p neuroloop-trainer --bench estimator`. Each iteration is one bin; the bins
//! cycle through 2000 simulated bins so that regime switches and the input table are
//! exercised as in a recording. Medians are in
//! `target/criterion/estimator_step_n64_d16_k8/*/new/estimates.json`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use neuroloop_core::format::{MAX_LATENT, MAX_NEURONS};
use neuroloop_core::{Estimator, Model, ReferenceEstimator};
use neuroloop_trainer::export::{quantize_jslds, ExportOptions};
use neuroloop_trainer::slds::{simulate, SelectionKind, SimConfig};
use std::hint::black_box;
use std::time::Duration;

const BINS: usize = 2000;

/// The exported model and its counts (u16, row-major).
fn case(selection: SelectionKind) -> (Vec<u8>, Vec<u16>, usize) {
    let cfg = SimConfig {
        n_bins: BINS,
        selection,
        ..SimConfig::default()
    };
    let sim = simulate(&cfg, 1).expect("simulate");
    let q = quantize_jslds(&sim.system, &sim.counts, &ExportOptions::default()).expect("export");
    let counts = sim
        .counts
        .data
        .iter()
        .map(|&c| c.min(65535) as u16)
        .collect();
    (q.bytes, counts, sim.counts.n_units())
}

fn steps(c: &mut Criterion) {
    for (selection, tag) in [
        (SelectionKind::Nearest, "nearest"),
        (SelectionKind::Gate, "gate"),
    ] {
        let (bytes, counts, n) = case(selection);
        let model = Model::from_bytes(&bytes).expect("model");
        let mut group = c.benchmark_group("estimator_step_n64_d16_k8");
        group
            .throughput(Throughput::Elements(1))
            .sample_size(50)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3));

        // Capacities as a host tool compiles them (the largest a file may have); the step
        // only touches the model's d and N.
        let mut fixed: Box<Estimator<'_, MAX_LATENT, MAX_NEURONS>> =
            Box::new(Estimator::new(&model).expect("estimator"));
        let mut t = 0usize;
        group.bench_function(format!("fixed_point_{tag}"), |b| {
            b.iter(|| {
                let row = &counts[t * n..(t + 1) * n];
                t = (t + 1) % BINS;
                black_box(fixed.step(black_box(row)).expect("step"))
            })
        });

        let mut reference: Box<ReferenceEstimator<'_, MAX_LATENT, MAX_NEURONS>> =
            Box::new(ReferenceEstimator::new(&model).expect("reference"));
        let mut t = 0usize;
        group.bench_function(format!("f32_reference_{tag}"), |b| {
            b.iter(|| {
                let row = &counts[t * n..(t + 1) * n];
                t = (t + 1) % BINS;
                black_box(reference.step(black_box(row)).expect("step"))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, steps);
criterion_main!(benches);
