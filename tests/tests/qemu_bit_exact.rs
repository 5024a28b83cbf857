//! The firmware on an emulated Cortex-M4 computes the same bits as neuroloop-core on the host.
//!
//! Each case builds a model file and a count stream, replays them on the host with
//! neuroloop-core, builds the firmware with the same two files embedded (Debian's rustc for
//! thumbv7em-none-eabihf, `scripts/firmware.sh`), runs it in QEMU (mps2-an386,
//! `-icount shift=0`) and asserts that the selected and reported regime sequences and the
//! CRC-32 of every latent state are identical. The cases (all N = 64, d = 16, K = 8):
//!
//! * a system simulated by `slds::simulate` and quantised by the exporter, nearest-point
//!   selection; prints the device figures (instructions per step, MACs, flash, RAM);
//! * the same with the learned linear gate;
//! * the nearest-point system exported with int8 input gains and readout forced
//!   (`ExportOptions::weight_overrides`), so both kernel widths run on the device whatever the
//!   error budget would choose;
//! * both models in one file: that JSLDS plus a TAVRNN trained for a few epochs on the same
//!   session (hidden 32, latent 8, attention window 8, windows of 1 s), whose behaviour class
//!   per window and window embeddings (CRC-32) must equal the host replay's
//!   (`neuroloop replay`'s code: neuroloop-core's graph encoder and TAVRNN on x86); prints the
//!   window step's instructions and multiply-accumulates;
//! * the same two models with windows overlapping by half, and the same file re-encoded
//!   without the exporter's alignment padding (an older file: the device's unaligned paths).
//!
//! Needs `qemu-system-arm` and Debian's Rust toolchain; without them it fails with the
//! `apt-get install` line to run (it never skips).

use std::fs;

use neuroloop_core::WeightType;
use neuroloop_tests::firmware::{
    build_and_run, build_and_run_deployed, build_and_run_with, firmware_loop_on_host, host_replay,
    host_tavrnn, FirmwareRun,
};
use neuroloop_tests::simulated::{both_sections_case, exported_case, DeviceCase};
use neuroloop_trainer::slds::SelectionKind;

const N: usize = 64;
const D: usize = 16;
const K: usize = 8;
/// Bins replayed on both sides (30 s of 10 ms bins).
const BINS: usize = 3000;

/// Host replay, firmware run, bit-exact comparison; returns the firmware's report.
fn check_bit_exact(case: &str, c: &DeviceCase) -> FirmwareRun {
    check_bit_exact_with(case, c, "")
}

/// [`check_bit_exact`] on a firmware built with cargo `features`.
fn check_bit_exact_with(case: &str, c: &DeviceCase, features: &str) -> FirmwareRun {
    let (model, counts, neurons) = (&c.model[..], &c.counts[..], c.neurons);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("qemu_bit_exact")
        .join(case);
    fs::create_dir_all(&dir).unwrap();
    let model_path = dir.join("model.nlm");
    let counts_path = dir.join("counts.u16");
    fs::write(&model_path, model).unwrap();
    fs::write(&counts_path, &c.stream).unwrap();

    let host = host_replay(model, counts, neurons);
    // The comparison only means something if the regimes actually move.
    assert!(
        host.changes >= 5,
        "{case}: only {} reported regime changes",
        host.changes
    );

    let run = build_and_run_with(&model_path, &counts_path, neurons, features)
        .unwrap_or_else(|e| panic!("{e}"));
    let dev = &run.summary;
    assert_eq!(
        dev.bins, host.bins,
        "{case}: the firmware replayed a different number of bins"
    );
    assert_eq!(
        dev.selected, host.selected,
        "{case}: selected regime sequence differs"
    );
    assert_eq!(
        dev.reported, host.reported,
        "{case}: reported regime sequence differs"
    );
    assert_eq!(
        dev.changes, host.changes,
        "{case}: number of reported changes differs"
    );
    assert_eq!(
        dev.latent_crc32, host.latent_crc32,
        "{case}: latent-state checksum differs: device {:#010x}, host {:#010x}",
        dev.latent_crc32, host.latent_crc32
    );
    print_figures(case, &run, model.len(), host.changes);
    run
}

fn print_figures(case: &str, run: &FirmwareRun, model_bytes: usize, changes: u32) {
    let num = |k: &str| {
        run.number(k)
            .unwrap_or_else(|e| panic!("{e}\n{}", run.output))
    };
    let flash = num("flash_without_model_bytes");
    // The stack the firmware needs: the deeper of start-up (parsing, building the state) and
    // the bin loop (the firmware repaints the stack in between and reports both).
    let stack = num("stack_setup_peak_bytes").max(num("stack_peak_bytes"));
    let ram = num("ram_static_bytes") + stack;
    let instr = num("instrumentation_bytes");
    println!(
        "[{case}] device figures (N={}, d={D}, K={K}, {} bins, QEMU mps2-an386 -icount shift=0):",
        num("model.neurons"),
        num("bins")
    );
    println!(
        "  instructions per estimator step: min {} median {} max {} mean {} (resolution {})",
        num("step_instructions.min"),
        num("step_instructions.median"),
        num("step_instructions.max"),
        num("step_instructions.mean"),
        num("step_instructions.resolution"),
    );
    println!(
        "  MACs per step: {}  instructions/MAC (median): {}",
        num("step_macs"),
        num("instructions_per_mac")
    );
    println!(
        "  flash without model: {flash} B ({:.1} KiB); RAM: {} B static + {stack} B stack \
         (peak of start-up {} B, of the bin loop {} B) = {:.1} KiB ({:.1} KiB without the \
         {instr} B step-cost histogram)",
        flash / 1024.0,
        num("ram_static_bytes"),
        num("stack_setup_peak_bytes"),
        num("stack_peak_bytes"),
        ram / 1024.0,
        (ram - instr) / 1024.0
    );
    println!("  model file: {model_bytes} B; reported regime changes: {changes}");
    // Sanity of the measurement itself (the budget is a benchmark figure, not a test).
    assert!(
        num("step_instructions.median") > 0.0,
        "{case}: the step took no measurable time"
    );
}

#[test]
fn exported_nearest_model_matches_host_bit_for_bit() {
    let case = exported_case(SelectionKind::Nearest, 6000, BINS, 7, &[]);
    assert_eq!(case.neurons, N);
    let r = &case.report;
    let types: Vec<String> = r
        .tensors
        .iter()
        .map(|t| format!("{} {}", t.name, t.wtype))
        .collect();
    println!(
        "exporter: {}; weights {} B, file {} B device-only / {} B with the f32 reference, \
         estimator state {} B",
        types.join(", "),
        r.weight_bytes,
        r.file_bytes_device_only,
        r.file_bytes_with_reference,
        r.state_ram_bytes
    );
    check_bit_exact("exported-nearest", &case);
}

#[test]
fn exported_gate_model_matches_host_bit_for_bit() {
    let case = exported_case(SelectionKind::Gate, 6000, BINS, 8, &[]);
    assert_eq!(case.neurons, N);
    check_bit_exact("exported-gate", &case);
}

/// Both kernel widths on the device: int16 dynamics, int8 input gains and readout.
const MIXED: [(&str, WeightType); 2] = [
    ("jslds.input_gain", WeightType::I8),
    ("jslds.readout", WeightType::I8),
];

#[test]
fn mixed_width_model_matches_host_bit_for_bit() {
    let case = exported_case(SelectionKind::Nearest, 6000, BINS, 7, &MIXED);
    let ty = |name: &str| {
        case.report
            .tensors
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.wtype.clone())
            .unwrap()
    };
    assert_eq!(
        (ty("jslds.dynamics"), ty("jslds.input_gain")),
        ("i16".to_string(), "i8".to_string())
    );
    check_bit_exact("mixed-width", &case);
}

/// A model that fails its checksum on the device makes the firmware exit with failure and
/// say why; the script passes that on as a non-zero status.
#[test]
fn a_corrupt_model_fails_on_the_device() {
    let case = exported_case(SelectionKind::Nearest, 200, 10, 7, &[]);
    let mut model = case.model.clone();
    let last = model.len() - 1;
    model[last] ^= 0x01; // inside the body: the body CRC no longer matches
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu_bit_exact/corrupt");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("model.nlm"), &model).unwrap();
    fs::write(dir.join("counts.u16"), &case.stream).unwrap();
    let err = build_and_run(&dir.join("model.nlm"), &dir.join("counts.u16"), N)
        .expect_err("the firmware must fail on a corrupt model");
    assert!(
        err.contains("NL error: embedded model") && err.contains("firmware exited with status 1"),
        "unexpected failure report:\n{err}"
    );
}

/// Bins of a TAVRNN window in the two-model case (1 s at the simulation's 10 ms bins).
const WINDOW_BINS: usize = 100;

/// Both models in one file: the estimator every bin (regime pin) and, every window, the graph
/// encoder and one TAVRNN step (class pin), bit for bit against the host replay.
#[test]
fn both_models_match_host_bit_for_bit() {
    let (case, run) = both_models("both-models", WINDOW_BINS, "", Layout::Aligned);
    deployed_runs_the_same("both-models", &case, &run);
}

/// The deployed firmware (`scripts/firmware.sh --deployed`: no `report` feature, so no step
/// timing, no cost histogram, no `core::fmt`) on the same two files: the same bins, regime
/// changes, windows and class changes as the instrumented run (which matched the host bit for
/// bit), its pins checked on the device; prints its flash and RAM next to the instrumented
/// build's.
fn deployed_runs_the_same(name: &str, case: &DeviceCase, instrumented: &FirmwareRun) {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("qemu_bit_exact")
        .join(name);
    let dep = build_and_run_deployed(
        &dir.join("model.nlm"),
        &dir.join("counts.u16"),
        case.neurons,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let d = |k: &str| {
        dep.number(k)
            .unwrap_or_else(|e| panic!("{e}\n{}", dep.output))
    };
    let i = |k: &str| {
        instrumented
            .number(k)
            .unwrap_or_else(|e| panic!("{e}\n{}", instrumented.output))
    };
    for (deployed, same) in [
        ("deployed.bins", "bins"),
        ("deployed.changes", "changes"),
        ("deployed.windows", "windows"),
        ("deployed.class_changes", "class_changes"),
    ] {
        assert_eq!(
            d(deployed),
            i(same),
            "[{name}] deployed build: {same} differs"
        );
    }
    // Without the report the text formatting and the histogram are gone: if the deployed
    // build is not smaller, the feature does not separate what it claims to.
    assert!(
        d("flash_without_model_bytes") < i("flash_without_model_bytes"),
        "[{name}] deployed flash is not below the instrumented build's"
    );
    assert!(d("ram_static_bytes") < i("ram_static_bytes"));
    let ram = |static_b: f64, setup: f64, run: f64| static_b + setup.max(run);
    let inst_ram = ram(
        i("ram_static_bytes") - i("instrumentation_bytes"),
        i("stack_setup_peak_bytes"),
        i("stack_peak_bytes"),
    );
    let dep_ram = ram(
        d("ram_static_bytes"),
        d("stack_setup_peak_bytes"),
        d("stack_peak_bytes"),
    );
    // Issue 6's RAM budget at N = 64 with both models: the deployed firmware's static RAM and
    // its deeper stack peak together.
    assert!(
        dep_ram <= 32.0 * 1024.0,
        "[{name}] deployed RAM {dep_ram} B is over 32 KiB"
    );
    println!(
        "[{name}] flash without model: deployed {} B ({:.1} KiB), instrumented {} B ({:.1} \
         KiB); RAM: deployed {} B static + stack {} B start-up / {} B bin loop = {dep_ram} B \
         ({:.1} KiB), instrumented without its histogram {inst_ram} B ({:.1} KiB)",
        d("flash_without_model_bytes"),
        d("flash_without_model_bytes") / 1024.0,
        i("flash_without_model_bytes"),
        i("flash_without_model_bytes") / 1024.0,
        d("ram_static_bytes"),
        d("stack_setup_peak_bytes"),
        d("stack_peak_bytes"),
        dep_ram / 1024.0,
        inst_ram / 1024.0,
    );
}

/// The same with windows overlapping by half, the shape of the trainer's default (10 s every
/// 5 s; here 100 bins every 50): the firmware built with `overlapping-windows` streams them
/// as blocks of 50 bins, two merged a window.
#[test]
fn overlapping_windows_match_host_bit_for_bit() {
    let _ = both_models(
        "overlapping-windows",
        WINDOW_BINS / 2,
        "overlapping-windows",
        Layout::Aligned,
    );
}

/// A file as exporters before the alignment padding wrote it (docs/FORMAT.md §2): the same
/// values with the varints minimal, so weight blobs lie at any offset. The device must take
/// its unaligned paths (single-word loads, the portable propagation) and still match the
/// host bit for bit: old files keep working.
#[test]
fn unpadded_model_matches_host_bit_for_bit() {
    let _ = both_models("unpadded", WINDOW_BINS, "", Layout::Minimal);
}

/// The two-model file with its graph settings changed to threshold 1 and no top-k (only
/// the self loops and the history node's links), aligned as the exporter writes it. Every
/// neuron then has degree 2, so the history node's row sums 65 entries of about 1,437
/// (`Σ |a|` about 92,000): over the bound of the propagation's `i32` sums, it takes the
/// general path, runs summed in `i64` (the `i64` exit of `nl_prop8_rows` on the device),
/// which the denser graphs of the other cases never reach.
#[test]
fn sparse_graph_model_matches_host_bit_for_bit() {
    let (_, run) = both_models("sparse-graph", WINDOW_BINS, "", Layout::Sparse);
    let edges = run
        .number("tavrnn_macs.edges")
        .unwrap_or_else(|e| panic!("{e}\n{}", run.output));
    assert!(
        edges <= 2.0 * N as f64,
        "the sparse case's last graph has {edges} edges: not sparse"
    );
}

/// How the two-model case's file lays out its weight blobs.
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// As the exporter writes it: every `i16` blob and `phi_x` word aligned.
    Aligned,
    /// Re-encoded with minimal varints, as before the padding.
    Minimal,
    /// Aligned, with the graph settings changed to threshold 1 and no top-k.
    Sparse,
}

/// `file` with the TAVRNN section's graph settings at threshold 1 (`|R| = 1` only) and no
/// top-k, re-encoded and word aligned again by the exporter's padding.
fn sparse_graph(file: &[u8]) -> Vec<u8> {
    use neuroloop_core::format::{encode_model_with, encoded_len_with};
    let m = neuroloop_core::Model::from_bytes(file).unwrap_or_else(|e| panic!("{e}"));
    let mut t = *m.tavrnn().expect("the two-model case has a TAVRNN section");
    t.theta_q30 = 1 << 30;
    t.top_k = 0;
    let mut out = vec![0u8; encoded_len_with(&m.body, Some(&t)).unwrap()];
    let n = encode_model_with(&m.body, Some(&t), &mut out).unwrap_or_else(|e| panic!("{e}"));
    out.truncate(n);
    neuroloop_trainer::export::align_blobs(&out).unwrap_or_else(|e| panic!("{e:#}"))
}

/// `file` re-encoded by the core's writer with minimal varints (no alignment padding).
fn minimal_varints(file: &[u8]) -> Vec<u8> {
    use neuroloop_core::format::{encode_model_with, encoded_len_with};
    let m = neuroloop_core::Model::from_bytes(file).unwrap_or_else(|e| panic!("{e}"));
    let t = m.tavrnn().expect("the two-model case has a TAVRNN section");
    let mut out = vec![0u8; encoded_len_with(&m.body, Some(t)).unwrap()];
    let n = encode_model_with(&m.body, Some(t), &mut out).unwrap_or_else(|e| panic!("{e}"));
    out.truncate(n);
    out
}

/// Trains, exports and compares one two-model case with windows of `WINDOW_BINS` every
/// `step` bins on a firmware built with `features`; returns the case and the firmware's report.
fn both_models(
    name: &str,
    step: usize,
    features: &str,
    layout: Layout,
) -> (DeviceCase, FirmwareRun) {
    let mut case = both_sections_case(6000, BINS, WINDOW_BINS, step, 3, 7);
    assert_eq!(case.neurons, N);
    if layout == Layout::Sparse {
        case.model = sparse_graph(&case.model);
    }
    let bin_s = 0.01;
    let (classes, emb_crc, windows) = host_tavrnn(&case.model, &case.counts, N, bin_s);
    if layout == Layout::Minimal {
        let plain = minimal_varints(&case.model);
        // Without padding to remove, this case would test the aligned file again.
        assert!(
            plain.len() < case.model.len(),
            "the exported file has no alignment padding ({} B)",
            plain.len()
        );
        assert_eq!(
            host_tavrnn(&plain, &case.counts, N, bin_s),
            (classes.clone(), emb_crc, windows),
            "host replay of the unpadded file differs from the padded file's"
        );
        case.model = plain;
    }
    assert_eq!(windows, (BINS - WINDOW_BINS) / step + 1);
    let distinct: std::collections::BTreeSet<u8> = classes.iter().map(|&(c, _)| c).collect();
    println!(
        "host: {windows} windows, class runs {classes:?}, embedding CRC {emb_crc:#010x}, model {} B",
        case.model.len()
    );
    // The firmware's own loop on the host agrees with the host replay first.
    let on_host = firmware_loop_on_host(&case.model, &case.stream);
    assert_eq!(
        on_host.classes, classes,
        "firmware loop on the host: classes differ"
    );
    assert_eq!(
        on_host.embedding_crc32,
        Some(emb_crc),
        "firmware loop on the host: embeddings differ"
    );
    let jslds = host_replay(&case.model, &case.counts, N);
    assert_eq!(
        (on_host.reported.clone(), on_host.latent_crc32),
        (jslds.reported, jslds.latent_crc32),
        "firmware loop on the host: estimator differs"
    );
    let run = check_bit_exact_with(name, &case, features);
    let dev = &run.summary;
    assert_eq!(
        dev.classes, classes,
        "behaviour class per window differs (device vs host replay)"
    );
    assert_eq!(
        dev.embedding_crc32,
        Some(emb_crc),
        "window embedding checksum differs: device {:?}, host {emb_crc:#010x}",
        dev.embedding_crc32
    );
    let num = |k: &str| {
        run.number(k)
            .unwrap_or_else(|e| panic!("{e}\n{}", run.output))
    };
    assert_eq!(num("windows") as usize, windows);
    println!(
        "[{name}] TAVRNN window step (N=64, H=32, latent 8, w=8, phi 16, enc 16): \
         instructions min {} max {} last {}; MACs of the last step: dense {} + propagation {} + \
         other {} = {} ({} edges, {} states attended): {} instructions/MAC (device, truncated; \
         {:.3} from the counts)",
        num("tavrnn_instructions.min"),
        num("tavrnn_instructions.max"),
        num("tavrnn_instructions.last"),
        num("tavrnn_macs.dense"),
        num("tavrnn_macs.propagation"),
        num("tavrnn_macs.other"),
        num("tavrnn_macs.total"),
        num("tavrnn_macs.edges"),
        num("tavrnn_macs.attended"),
        num("tavrnn_macs.instructions_per_mac"),
        num("tavrnn_instructions.last") / num("tavrnn_macs.total").max(1.0),
    );
    println!(
        "[{name}] graph encoder: per-bin update mean {} max {}; window end (R in place + \
         graph) mean {}; RAM: window block {} B, graph {} B, TAVRNN {} B, estimator {} B; \
         class changes {} over {} distinct classes",
        num("graph_bin_instructions.mean"),
        num("graph_bin_instructions.max"),
        num("graph_window_instructions.mean"),
        num("window_ram.sums_or_scratch"),
        num("window_ram.graph"),
        num("window_ram.tavrnn"),
        num("estimator_ram_bytes"),
        num("class_changes"),
        distinct.len()
    );
    (case, run)
}
