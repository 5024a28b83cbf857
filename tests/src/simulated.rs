//! A device test case made the way users make one: a switching system simulated by
//! `neuroloop_trainer::slds::simulate` (ground-truth regimes, N = 64, d = 16, K = 8 by
//! default), quantised by the exporter (`neuroloop_trainer::export::quantize_jslds`, calibrated
//! on the simulated counts), as a device-only model file plus the counts to replay.

use neuroloop_trainer::export::{quantize_jslds, ExportOptions, ExportReport};
use neuroloop_trainer::slds::{simulate, SelectionKind, SimConfig};

/// Model file bytes, the counts to replay (T x N, saturated to u16) and what the exporter did.
#[derive(Debug, Clone)]
pub struct DeviceCase {
    /// The `.nlm` file, without the f32 reference section (what a device gets).
    pub model: Vec<u8>,
    /// Counts, row-major, `bins x neurons`.
    pub counts: Vec<u16>,
    /// Neurons per bin.
    pub neurons: usize,
    /// Bins in `counts`.
    pub bins: usize,
    /// The exporter's report (tensor types, scales, sizes).
    pub report: ExportReport,
}

/// Simulates `sim_bins` bins of the default system with the given selection rule, exports it
/// calibrated on all of them, and keeps the first `replay_bins` bins to replay.
pub fn exported_case(
    selection: SelectionKind,
    sim_bins: usize,
    replay_bins: usize,
    seed: u64,
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
        ..ExportOptions::default()
    };
    let q = quantize_jslds(&sim.system, &sim.counts, &opts)
        .unwrap_or_else(|e| panic!("quantize_jslds: {e:#}"));
    let neurons = sim.counts.n_units();
    let bins = replay_bins.min(sim.counts.n_bins);
    let counts = sim.counts.data[..bins * neurons]
        .iter()
        .map(|&c| u16::try_from(c).unwrap_or(u16::MAX))
        .collect();
    DeviceCase {
        model: q.bytes,
        counts,
        neurons,
        bins,
        report: q.report,
    }
}
