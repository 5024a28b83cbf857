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

/// A device case with both sections: the JSLDS of [`exported_case`] (nearest-point selection)
/// and a TAVRNN **trained** by the trainer's Burn code for a few epochs on the same simulated
/// counts (N = 64, hidden 32, latent 8, attention window 8: the sizes), its
/// behaviour classifier fitted at export on labels that are the simulation's
/// true regimes (one interval per dwell); windows of `window_bins` every `step_bins`.
/// Returns the case with the combined file.
pub fn both_sections_case(
    sim_bins: usize,
    replay_bins: usize,
    window_bins: usize,
    step_bins: usize,
    epochs: usize,
    seed: u64,
) -> DeviceCase {
    use neuroloop_trainer::data::labels::{Interval, Labels};
    use neuroloop_trainer::export::tavrnn::{combine, quantize_tavrnn};
    use neuroloop_trainer::graph::{GraphConfig, GraphSequence};
    use neuroloop_trainer::tavrnn::input::WindowData;
    use neuroloop_trainer::tavrnn::weights::from_model;
    use neuroloop_trainer::tavrnn::{Backend, TrainConfig, Trainer};

    let base = exported_case(SelectionKind::Nearest, sim_bins, replay_bins, seed, &[]);
    let cfg = SimConfig {
        n_bins: sim_bins,
        selection: SelectionKind::Nearest,
        ..SimConfig::default()
    };
    let sim = simulate(&cfg, seed).unwrap_or_else(|e| panic!("simulate: {e:#}"));
    let counts = &sim.counts;
    let bin_s = counts.bin_s;
    // Labels: the true regime of each dwell.
    let mut intervals: Vec<Interval> = Vec::new();
    for (t, &r) in sim.regimes.iter().enumerate() {
        let label = format!("regime{r}");
        match intervals.last_mut() {
            Some(last) if last.label == label => last.end_s = (t + 1) as f64 * bin_s,
            _ => intervals.push(Interval {
                start_s: counts.start_s + t as f64 * bin_s,
                end_s: counts.start_s + (t + 1) as f64 * bin_s,
                label,
            }),
        }
    }
    let mut classes: Vec<String> = Vec::new();
    for i in &intervals {
        if !classes.contains(&i.label) {
            classes.push(i.label.clone());
        }
    }
    let labels = Labels { intervals, classes };
    let graph = GraphConfig {
        window_s: window_bins as f64 * bin_s,
        step_s: step_bins as f64 * bin_s,
        theta: 0.1,
        ..GraphConfig::default()
    };
    let seq = GraphSequence::build(counts, &graph).unwrap_or_else(|e| panic!("graphs: {e:#}"));
    let data = WindowData::from_sequence(&seq).unwrap_or_else(|e| panic!("window data: {e:#}"));
    let tcfg = TrainConfig {
        hidden: 32,
        latent: 8,
        d_phi: 16,
        d_enc: 16,
        attention: true,
        window: 8,
        chunk_len: 8,
        batch: 4,
        epochs,
        seed,
        backend: Backend::Flex,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(&data, &tcfg).unwrap_or_else(|e| panic!("tavrnn: {e:#}"));
    for _ in 0..epochs {
        trainer
            .run_epoch(&data, &mut |_| {})
            .unwrap_or_else(|e| panic!("tavrnn epoch: {e:#}"));
    }
    let model = trainer.inference_model();
    let weights = from_model(
        &model,
        &tcfg.model_config(&data),
        &graph,
        bin_s,
        &counts.unit_ids,
    );
    let opts = ExportOptions {
        name: "sim-n64-jslds-tavrnn".to_string(),
        include_reference: false,
        ..ExportOptions::default()
    };
    let (owned, _report) = quantize_tavrnn(&weights, counts, &labels, &opts)
        .unwrap_or_else(|e| panic!("quantize_tavrnn: {e:#}"));
    let bin_us = (bin_s * 1e6).round() as u32;
    let model = combine(Some(&base.model), &owned, false, &opts.name, bin_us)
        .unwrap_or_else(|e| panic!("combine: {e:#}"));
    DeviceCase { model, ..base }
}
