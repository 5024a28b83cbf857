//! Parses arbitrary bytes as a model file and, when that succeeds, runs both estimators on
//! arbitrary counts, and the fixed-point and f32 TAVRNN steps on graphs built from them by the
//! streaming graph encoder (at 16 neurons, the size of the TAVRNN seeds in `fuzz/seeds/`).
//! Nothing here may panic.
//!
//! Input: `[mode: u8][model_len: u16 LE][model bytes][count bytes...]`.
//! * mode bit 0 clear: the model bytes are parsed as they are (exercises the header checks);
//! * mode bit 0 set: the model bytes are a *body*, wrapped in a header with correct CRCs and
//!   minor version `mode >> 1`, so the fuzzer reaches the postcard decoder, the validation
//!   and the estimator instead of stopping at the checksums.
#![no_main]

use libfuzzer_sys::fuzz_target;
use neuroloop_core::crc32::checksum;
use neuroloop_core::format::{Header, Model, FORMAT_MAJOR, SCHEMA_FINGERPRINT};
use neuroloop_core::graph::{triangle, StreamingConnectivity, WindowCorrelation, WindowGraph};
use neuroloop_core::tavrnn::{keys_len, ring_len, ring_len_f32, ReferenceTavrnn, Tavrnn};
use neuroloop_core::{Estimator, ReferenceEstimator};

const D: usize = 256;
const N: usize = 1024;
/// TAVRNN capacities: neurons of the graphs, and a ring and keys for up to 64 nodes, hidden 32,
/// window 8 (a mutated section that needs more is refused with `Capacity`, which is tested too).
const G: usize = 16;
const GT: usize = triangle(G);
const RING: usize = ring_len(64, 32, 8);
const RING_F: usize = ring_len_f32(64, 32, 8);
const KEYS: usize = keys_len(32, 8);

fuzz_target!(|data: &[u8]| {
    let [mode, l0, l1, rest @ ..] = data else {
        let _ = Model::from_bytes(data);
        return;
    };
    let len = (u16::from_le_bytes([*l0, *l1]) as usize).min(rest.len());
    let (model_bytes, count_bytes) = rest.split_at(len);
    let file: Vec<u8> = if mode & 1 == 0 {
        model_bytes.to_vec()
    } else {
        let header = Header {
            major: FORMAT_MAJOR,
            minor: (mode >> 1) as u16,
            schema: SCHEMA_FINGERPRINT,
            body_len: model_bytes.len() as u32,
            body_crc: checksum(model_bytes),
        };
        let mut f = header.to_bytes().to_vec();
        f.extend_from_slice(model_bytes);
        f
    };
    let Ok(model) = Model::from_bytes(&file) else {
        return;
    };
    let _ = model
        .jslds()
        .map(|j| (j.state_ram_bytes(), j.weight_bytes(), j.regime_name(0)));
    let counts: Vec<u16> = count_bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let n = model.body.meta.neurons as usize;
    if let Ok(mut est) = Estimator::<D, N>::new(&model) {
        let _ = est.step(&counts[..counts.len().min(n.saturating_sub(1))]);
        let mut out = [0i16; N];
        for bin in counts.chunks(n.max(1)).take(64) {
            let _ = est.step(bin);
            let _ = est.log_rates(&mut out);
            let _ = est.latent();
        }
        let _ = est.log_rates(&mut out[..n / 2]);
        est.reset();
    }
    if let Ok(mut est) = ReferenceEstimator::<D, N>::new(&model) {
        let mut out = [0f32; N];
        for bin in counts.chunks(n.max(1)).take(64) {
            let _ = est.step(bin);
            let _ = est.log_rates(&mut out);
        }
        est.reset();
    }
    tavrnn_windows(&model, &counts);
});

/// Two windows of `G` neurons from the counts, each through the graph encoder and both TAVRNN
/// steps.
fn tavrnn_windows(model: &Model<'_>, counts: &[u16]) {
    let Some(section) = model.tavrnn() else {
        return;
    };
    let settings = section.graph_settings();
    let mut fixed = Tavrnn::<RING, KEYS>::new(model).ok();
    let mut reference = ReferenceTavrnn::<RING_F, KEYS>::new(model).ok();
    let mut sq = vec![0i16; fixed.as_ref().map_or(0, |t| t.scratch_len())];
    let mut sf = vec![0f32; reference.as_ref().map_or(0, |t| t.scratch_len())];
    for window in counts.chunks(G * 32).take(2) {
        let mut sums = StreamingConnectivity::<G, GT>::default();
        for bin in window.chunks(G) {
            let _ = sums.push_slice(bin);
        }
        let mut corr = WindowCorrelation::<G, GT>::default();
        corr.compute(&sums);
        let mut graph = WindowGraph::<G, GT>::new();
        if graph.build(&corr, &settings).is_err() {
            continue;
        }
        if let Some(t) = fixed.as_mut() {
            let _ = t.step(&graph, &mut sq);
            let _ = t.embedding(&sq);
        }
        if let Some(t) = reference.as_mut() {
            let _ = t.step(&graph, &mut sf);
        }
    }
}
