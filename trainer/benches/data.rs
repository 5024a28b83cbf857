//! Reading the shared linear-track recording (Phy folder and NWB file) and binning it at
//! 10 ms: the figure of the README.
//!
//! `cargo bench -p neuroloop-trainer --bench data`. Needs `../shared/data/linear-track` from
//! the project root (or `$NEUROLOOP_SHARED_DATA/linear-track`); without it the benchmark prints a loud notice and measures nothing.
//! The sizes (units, spikes, bins) are printed first so that the figure can quote them.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use neuroloop_trainer::data::{binning, load_counts, nwb, phy, LoadOptions};

const BIN_S: f64 = 0.010;

fn linear_track() -> Option<PathBuf> {
    let dir = match std::env::var_os("NEUROLOOP_SHARED_DATA") {
        Some(root) => PathBuf::from(root).join("linear-track"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/linear-track"),
    };
    if dir.join("session.nwb").is_file() && dir.join("phy").is_dir() {
        Some(dir)
    } else {
        let banner = "!".repeat(78);
        eprintln!(
            "\n{banner}\n!!! shared data not found at {}: the data benchmark measured NOTHING\n{banner}\n",
            dir.display()
        );
        None
    }
}

fn read_and_bin(c: &mut Criterion) {
    let Some(dir) = linear_track() else { return };
    let phy_dir = dir.join("phy");
    let nwb_file = dir.join("session.nwb");

    let spikes = phy::read(&phy_dir, false).expect("Phy folder reads");
    let counts = binning::bin(&spikes, BIN_S, None).expect("bins");
    eprintln!(
        "linear-track: {} units, {} spikes, {:.1} s; at {} ms: {} bins x {} units",
        spikes.units.len(),
        spikes.n_spikes(),
        spikes.end_s - spikes.start_s,
        BIN_S * 1e3,
        counts.n_bins,
        counts.n_units()
    );

    let mut group = c.benchmark_group("linear_track");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    group.bench_function("read_phy", |b| {
        b.iter(|| phy::read(black_box(&phy_dir), false).unwrap())
    });
    group.bench_function("read_nwb", |b| {
        b.iter(|| nwb::read(black_box(&nwb_file), None).unwrap())
    });
    group.bench_function("bin_10ms", |b| {
        b.iter(|| binning::bin(black_box(&spikes), BIN_S, None).unwrap())
    });
    let opts = LoadOptions::new(BIN_S);
    group.bench_function("load_counts_phy_10ms", |b| {
        b.iter(|| load_counts(black_box(&phy_dir), &opts).unwrap())
    });
    group.bench_function("load_counts_nwb_10ms", |b| {
        b.iter(|| load_counts(black_box(&nwb_file), &opts).unwrap())
    });
    group.finish();
}

criterion_group!(benches, read_and_bin);
criterion_main!(benches);
