//! A device test case made the way users make one: a switching system simulated by
//! `neuroloop_trainer::slds::simulate` (ground-truth regimes, N = 64, d = 16, K = 8 by
//! default), quantised by the exporter (`neuroloop_trainer::export::quantize_jslds`, calibrated
//! on the simulated counts), as a device-only model file plus the counts to replay.

use neuroloop_core::WeightType;
use neuroloop_trainer::data::Counts;
use neuroloop_trainer::export::{
    device_counts, device_stream, quantize_jslds, ExportOptions, ExportReport,
};
use neuroloop_trainer::slds::{simulate, SelectionKind, SimConfig};

/// Model file bytes, the counts to replay (T x N, saturated to u16) and what the exporter did.
#[derive(Debug, Clone)]
pub struct DeviceCase {
    /// The `.nlm` file, without the f32 reference section (what a device gets).
    pub model: Vec<u8>,
    /// Counts as the device takes them, row-major, `bins x neurons`.
    pub counts: Vec<u16>,
    /// The same counts as the firmware embeds them (`export::device_stream`).
    pub stream: Vec<u8>,
    /// Neurons per bin.
    pub neurons: usize,
    /// Bins in `counts`.
    pub bins: usize,
    /// The exporter's report (tensor types, scales, sizes).
    pub report: ExportReport,
}

/// Simulates `sim_bins` bins of the default system with the given selection rule, exports it
/// calibrated on all of them (with `overrides` forcing single matrices' weight types, e.g.
/// int8 input gains so that both kernel widths run on the device), and keeps the first
/// `replay_bins` bins to replay.
pub fn exported_case(
    selection: SelectionKind,
    sim_bins: usize,
    replay_bins: usize,
    seed: u64,
    overrides: &[(&str, WeightType)],
) -> DeviceCase {
    let cfg = SimConfig {
        n_bins: sim_bins,
        selection,
        ..SimConfig::default()
    };
    let sim = simulate(&cfg, seed).unwrap_or_else(|e| panic!("simulate: {e:#}"));
    let name = match selection {
        SelectionKind::Nearest => "sim-n64-d16-k8-nearest",
        SelectionKind::Gate => "sim-n64-d16-k8-gate",
    };
    let opts = ExportOptions {
        name: name.to_string(),
        include_reference: false,
        weight_overrides: overrides.iter().map(|&(n, t)| (n.to_string(), t)).collect(),
        ..ExportOptions::default()
    };
    let q = quantize_jslds(&sim.system, &sim.counts, &opts)
        .unwrap_or_else(|e| panic!("quantize_jslds: {e:#}"));
    let neurons = sim.counts.n_units();
    let bins = replay_bins.min(sim.counts.n_bins);
    let replayed = Counts {
        n_bins: bins,
        data: sim.counts.data[..bins * neurons].to_vec(),
        ..sim.counts.clone()
    };
    let mut counts = vec![0u16; bins * neurons];
    for (t, row) in counts.chunks_exact_mut(neurons).enumerate() {
        device_counts(replayed.row(t), row);
    }
    DeviceCase {
        model: q.bytes,
        counts,
        stream: device_stream(&replayed),
        neurons,
        bins,
        report: q.report,
    }
}
