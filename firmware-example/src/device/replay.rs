//! The firmware's job under QEMU: load the embedded model, replay the embedded counts through
//! the application loop, and print what the host test compares bit for bit (regime sequences,
//! latent checksum) and the cost figures (instructions per step, MACs, stack).
//!
//! Output lines (all start with `NL `; parsed by `tests/tests/qemu_bit_exact.rs`):
//! * `NL model name=.. neurons=N latent=d regimes=K hysteresis=m bins=T`
//! * `NL k V xR` / `NL r V xR`: runs of the selected regime `k_t` / the reported regime, in
//!   order (value V for R consecutive bins);
//! * `NL bins=T changes=C` and `NL latent_crc32=0x..` (CRC-32 over the i16 LE latent state
//!   after every step, in order);
//! * `NL step_ticks ..`, `NL step_instructions min=.. median=.. max=.. mean=..`, `NL step_macs=..`;
//! * `NL stack_peak_bytes=.. instrumentation_bytes=..` (the step-cost histogram, a static
//!   counted in the ELF's .bss), then `NL done`.
//!
//! With a TAVRNN section, also (before `NL done`):
//! * `NL tavrnn hidden=H latent=.. phi=.. enc=.. window=w classes=C window_bins=.. step_bins=..`;
//! * `NL c V xR`: runs of the behaviour class, one value a window, in order;
//! * `NL windows=M class_changes=C` and `NL embedding_crc32=0x..` (CRC-32 over the i16 LE
//!   window embedding after every window, in order);
//! * `NL graph_bin_instructions ..`, `NL graph_window_instructions ..`,
//!   `NL tavrnn_instructions min=.. max=.. mean=.. last=..` and
//!   `NL tavrnn_macs dense=.. propagation=.. other=.. total=.. instructions_per_mac=..` (the
//!   last window's step, with a full ring once `w` windows have passed);
//! * `NL window_ram sums_or_scratch=.. graph=.. tavrnn=.. estimator=..` (bytes of the parts).

use cortex_m_semihosting::hprintln;
use neuroloop_core::crc32::Crc32;
use neuroloop_core::graph::WindowGraph;
use neuroloop_core::tavrnn::Tavrnn;
use neuroloop_core::{Estimator, Model};
use neuroloop_firmware::app::App;
use neuroloop_firmware::source::ReplaySource;
use neuroloop_firmware::stats::{macs_per_step, tavrnn_macs, RunLength};
use neuroloop_firmware::windows::{WindowMemory, WindowOutcome};

use super::embedded::{NEUROLOOP_COUNTS, NEURONS};
use super::led::FpgaLed;
use super::setup::{load_model, windows_in_place, Windows, D_CAP, KEYS, N_CAP, RING, SCRATCH, TRI};
use super::systick::{SysTickMeter, INSTRUCTIONS_PER_TICK};
use super::{stack, Failed};

#[optimize(size)]
fn print_run(tag: &str, run: Option<(u8, u32)>) {
    if let Some((value, len)) = run {
        hprintln!("NL {} {} x{}", tag, value, len);
    }
}

/// Replays the embedded counts; prints the report. `Err` after printing an `NL error` line.
///
/// Three frames one after the other, so that the stack holds each one's temporaries only
/// while needed: the model's parse ([`load_model`]), the window half's construction
/// ([`windows_in_place`]), then the bin loop ([`run_loop`]).
#[inline(never)]
#[optimize(size)]
pub fn replay(meter: &mut SysTickMeter) -> Result<(), Failed> {
    // Borrowed out of the `Result`, not moved: the parsed model then lives once in this frame.
    let loaded = load_model();
    let model = match &loaded {
        Ok(m) => m,
        Err(e) => {
            hprintln!("NL error: embedded model: {}", e);
            return Err(Failed);
        }
    };
    hprintln!("NL stack_load_peak_bytes={}", stack::peak_bytes());
    // The window half lives in .bss (not in this frame): its sums-or-scratch block, graph and
    // TAVRNN ring are the bulk of the firmware's RAM.
    let windows: Option<Windows> = match model.tavrnn() {
        None => None,
        Some(t) => {
            hprintln!(
                "NL tavrnn hidden={} latent={} phi={} enc={} window={} classes={} window_bins={} \
                 step_bins={}",
                t.hidden,
                t.latent,
                t.phi,
                t.enc,
                t.window,
                t.classes,
                t.window_bins,
                t.step_bins
            );
            match windows_in_place(model) {
                Ok(w) => Some(w),
                Err(e) => {
                    hprintln!("NL error: tavrnn: {}", e);
                    return Err(Failed);
                }
            }
        }
    };
    hprintln!("NL stack_setup_peak_bytes={}", stack::peak_bytes());
    stack::repaint();
    run_loop(meter, model, windows)
}

/// The estimator and the window half over the embedded counts, and the report.
#[inline(never)]
#[optimize(size)]
fn run_loop(
    meter: &mut SysTickMeter,
    model: &Model<'static>,
    windows: Option<Windows>,
) -> Result<(), Failed> {
    let Some(section) = model.jslds() else {
        hprintln!("NL error: embedded model has no JSLDS section");
        return Err(Failed);
    };
    let neurons = usize::from(model.meta().neurons);
    let macs = macs_per_step(section, neurons);
    let estimator = Estimator::<D_CAP, N_CAP>::new(model).map_err(|e| {
        hprintln!("NL error: estimator: {}", e);
        Failed
    })?;
    let source = ReplaySource::new(&NEUROLOOP_COUNTS, NEURONS).map_err(|e| {
        hprintln!("NL error: embedded counts: {}", e);
        Failed
    })?;
    hprintln!(
        "NL model name={} neurons={} latent={} regimes={} hysteresis={} bins={}",
        model.meta().name,
        neurons,
        section.latent,
        section.regimes,
        section.hysteresis,
        source.bins()
    );
    let app = App::new(estimator, neurons, source, FpgaLed::take_once(0)).map_err(|e| {
        hprintln!("NL error: {}", e);
        Failed
    })?;
    let mut app = app
        .with_windows(windows, FpgaLed::take_once(1))
        .map_err(|e| {
            hprintln!("NL error: {}", e);
            Failed
        })?;

    let mut crc = Crc32::new();
    let mut emb_crc = Crc32::new();
    let mut selected = RunLength::new();
    let mut reported = RunLength::new();
    let mut classes = RunLength::new();
    let mut last_window = None;
    loop {
        match app.run_bin(meter) {
            Ok(Some(outcome)) => {
                crc.update_i16(app.latent());
                print_run("k", selected.push(outcome.output.regime));
                print_run("r", reported.push(outcome.output.reported));
                if let (Some(w), Some(win)) = (outcome.window, app.windows()) {
                    emb_crc.update_i16(win.embedding());
                    print_run("c", classes.push(w.output.class));
                    last_window = Some(w);
                }
            }
            Ok(None) => break,
            Err(e) => {
                hprintln!("NL error: bin {}: {}", app.bins(), e);
                return Err(Failed);
            }
        }
    }
    print_run("k", selected.finish());
    print_run("r", reported.finish());
    print_run("c", classes.finish());
    let (bins, changes, trigger_high) = (app.bins(), app.changes(), app.trigger_high());
    let (class_changes, class_high) = (app.class_changes(), app.class_high());
    let (_, _, led, windows, class_led) = app.release_all();
    hprintln!("NL bins={} changes={}", bins, changes);
    hprintln!("NL latent_crc32={:#010x}", crc.finish());
    if let Some(win) = &windows {
        hprintln!(
            "NL windows={} class_changes={}",
            win.windows(),
            class_changes
        );
        hprintln!("NL embedding_crc32={:#010x}", emb_crc.finish());
        if class_led.is_set() != class_high || class_high != (class_changes % 2 == 1) {
            hprintln!(
                "NL error: class LED reads {} after {} changes",
                class_led.is_set(),
                class_changes
            );
            return Err(Failed);
        }
        report_windows(meter, win, last_window);
    }

    // The trigger LED must show one edge per reported change.
    if led.is_set() != trigger_high || trigger_high != (changes % 2 == 1) {
        hprintln!(
            "NL error: trigger LED reads {} after {} changes",
            led.is_set(),
            changes
        );
        return Err(Failed);
    }

    let s = &meter.stats;
    let (Some(min), Some(max)) = (s.min(), s.max()) else {
        hprintln!("NL error: no step was measured (empty count stream)");
        return Err(Failed);
    };
    let Some(median) = s.median() else {
        hprintln!(
            "NL error: median step exceeds the histogram range ({} ticks max)",
            max
        );
        return Err(Failed);
    };
    let ipt = u64::from(INSTRUCTIONS_PER_TICK);
    let mean_x10 = s.sum() * ipt * 10 / u64::from(s.count());
    hprintln!(
        "NL step_ticks min={} median={} max={} sum={} count={}",
        min,
        median,
        max,
        s.sum(),
        s.count()
    );
    hprintln!(
        "NL step_instructions min={} median={} max={} mean={}.{} resolution={}",
        u64::from(min) * ipt,
        u64::from(median) * ipt,
        u64::from(max) * ipt,
        mean_x10 / 10,
        mean_x10 % 10,
        ipt
    );
    let ipm_x100 = u64::from(median) * ipt * 100 / (macs as u64).max(1);
    hprintln!(
        "NL step_macs={} instructions_per_mac={}.{:02}",
        macs,
        ipm_x100 / 100,
        ipm_x100 % 100
    );
    hprintln!(
        "NL estimator_ram_bytes={}",
        core::mem::size_of::<Estimator<'static, D_CAP, N_CAP>>()
    );
    // The meter (its histogram, in .bss) is instrumentation, not firmware: reported apart.
    // stack_peak_bytes: the bin loop's peak (the stack was repainted after start-up), which
    // with stack_setup_peak_bytes gives the stack the firmware needs: the larger of the two.
    hprintln!(
        "NL stack_peak_bytes={} instrumentation_bytes={}",
        stack::peak_bytes(),
        core::mem::size_of::<SysTickMeter>()
    );
    Ok(())
}

/// Instructions of `s` (ticks) as `min max mean last`.
#[optimize(size)]
fn print_cost(tag: &str, s: &super::systick::Summary) {
    let ipt = u64::from(INSTRUCTIONS_PER_TICK);
    let mean_x10 = s.sum * ipt * 10 / u64::from(s.count.max(1));
    hprintln!(
        "NL {} min={} max={} mean={}.{} last={} count={}",
        tag,
        u64::from(s.min) * ipt,
        u64::from(s.max) * ipt,
        mean_x10 / 10,
        mean_x10 % 10,
        u64::from(s.last) * ipt,
        s.count
    );
}

/// The window half's costs and RAM.
#[optimize(size)]
fn report_windows(meter: &SysTickMeter, win: &Windows, last: Option<WindowOutcome>) {
    print_cost("graph_bin_instructions", &meter.graph_bin);
    print_cost("graph_window_instructions", &meter.graph_window);
    print_cost("tavrnn_instructions", &meter.tavrnn);
    let tav = win.tavrnn();
    let (last_edges, attended) = last.map_or((0, 0), |w| (w.edges, usize::from(w.output.attended)));
    let macs = tavrnn_macs(tav.dims(), last_edges as usize, attended);
    let ipt = u64::from(INSTRUCTIONS_PER_TICK);
    let ipm_x100 = u64::from(meter.tavrnn.last) * ipt * 100 / (macs.total() as u64).max(1);
    hprintln!(
        "NL tavrnn_macs dense={} propagation={} other={} total={} edges={} attended={} \
         instructions_per_mac={}.{:02}",
        macs.dense,
        macs.propagation,
        macs.other,
        macs.total(),
        last_edges,
        attended,
        ipm_x100 / 100,
        ipm_x100 % 100
    );
    hprintln!(
        "NL window_ram sums_or_scratch={} graph={} tavrnn={} window_loop={}",
        core::mem::size_of::<WindowMemory<N_CAP, TRI, SCRATCH>>(),
        core::mem::size_of::<WindowGraph<N_CAP, TRI>>(),
        core::mem::size_of::<Tavrnn<'static, RING, KEYS>>(),
        core::mem::size_of::<Windows>()
    );
}
