//! The firmware on an emulated Cortex-M4 computes the same bits as neuroloop-core on the host.
//!
//! Builds a model file (N = 64 neurons, d = 16 latents, K = 8 regimes) and a count stream,
//! replays them on the host with neuroloop-core, builds the firmware with the same two files
//! embedded (Debian's rustc for thumbv7em-none-eabihf), runs it in QEMU (mps2-an386,
//! `-icount shift=0`) and asserts that the regime sequences (selected and reported) and the
//! CRC-32 of every latent state are identical. Prints the device figures: instructions per
//! estimator step, MACs per step, flash and RAM of the firmware without the model.
//!
//! Needs `qemu-system-arm` and Debian's Rust toolchain; without them it fails with the
//! `apt-get install` line to run (it never skips).

use std::fs;

use neuroloop_tests::firmware::{build_and_run, host_replay};
use neuroloop_tests::handbuilt;

const N: usize = 64;
const D: usize = 16;
const K: usize = 8;
const BINS: usize = 1500;
const HYSTERESIS: u16 = 3;

#[test]
fn firmware_in_qemu_matches_host_bit_for_bit() {
    let sys = handbuilt::system(N, D, K, HYSTERESIS, 7);
    let model = handbuilt::model_file(&sys, "handbuilt-n64-d16-k8");
    let (counts, _hidden) = handbuilt::counts(&sys, BINS, 11);

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("qemu_bit_exact");
    fs::create_dir_all(&dir).unwrap();
    let model_path = dir.join("model.nlm");
    let counts_path = dir.join("counts.u16");
    fs::write(&model_path, &model).unwrap();
    fs::write(&counts_path, handbuilt::counts_bytes(&counts)).unwrap();

    let host = host_replay(&model, &counts, N);
    // The comparison only means something if the regimes actually move.
    assert!(
        host.changes >= 5,
        "hand-built system reports only {} regime changes",
        host.changes
    );

    let run = build_and_run(&model_path, &counts_path, N).unwrap_or_else(|e| panic!("{e}"));
    let dev = &run.summary;
    assert_eq!(
        dev.bins as usize, BINS,
        "the firmware replayed a different number of bins"
    );
    assert_eq!(
        dev.selected, host.selected,
        "selected regime sequence differs (device vs host)"
    );
    assert_eq!(
        dev.reported, host.reported,
        "reported regime sequence differs (device vs host)"
    );
    assert_eq!(
        dev.changes, host.changes,
        "number of reported changes differs"
    );
    assert_eq!(
        dev.latent_crc32, host.latent_crc32,
        "latent-state checksum differs: device {:#010x}, host {:#010x}",
        dev.latent_crc32, host.latent_crc32
    );

    let num = |k: &str| {
        run.number(k)
            .unwrap_or_else(|e| panic!("{e}\n{}", run.output))
    };
    let flash = num("flash_without_model_bytes");
    let ram = num("ram_static_bytes") + num("stack_peak_bytes");
    println!("device figures (N={N}, d={D}, K={K}, {BINS} bins, QEMU mps2-an386 -icount shift=0):");
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
        "  flash without model: {flash} B ({:.1} KiB); RAM: {} B static + {} B peak stack = {:.1} KiB",
        flash / 1024.0,
        num("ram_static_bytes"),
        num("stack_peak_bytes"),
        ram / 1024.0
    );
    println!(
        "  model file: {} B; regime changes: {}; latent crc32 {:#010x}",
        model.len(),
        host.changes,
        host.latent_crc32
    );
    // Sanity of the measurement itself (not the budget: that is a benchmark figure).
    assert!(
        num("step_instructions.median") > 0.0,
        "the step took no measurable time"
    );
}
