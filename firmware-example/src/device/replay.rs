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

use cortex_m_semihosting::hprintln;
use neuroloop_core::crc32::Crc32;
use neuroloop_core::{Estimator, Model};
use neuroloop_firmware::app::App;
use neuroloop_firmware::source::ReplaySource;
use neuroloop_firmware::stats::{macs_per_step, RunLength};

use super::embedded::{NEUROLOOP_COUNTS, NEUROLOOP_MODEL, NEURONS};
use super::led::FpgaLed;
use super::systick::{SysTickMeter, INSTRUCTIONS_PER_TICK};
use super::{stack, Failed};

/// Latent capacity of the firmware's estimator.
const D_CAP: usize = 32;
/// Neuron capacity of the firmware's estimator.
const N_CAP: usize = 128;

fn print_run(tag: &str, run: Option<(u8, u32)>) {
    if let Some((value, len)) = run {
        hprintln!("NL {} {} x{}", tag, value, len);
    }
}

/// Replays the embedded counts; prints the report. `Err` after printing an `NL error` line.
pub fn replay(meter: &mut SysTickMeter) -> Result<(), Failed> {
    // The model is read where it lies in flash: `from_bytes` borrows, never copies.
    let model = Model::from_bytes(&NEUROLOOP_MODEL).map_err(|e| {
        hprintln!("NL error: embedded model: {}", e);
        Failed
    })?;
    let Some(section) = model.jslds() else {
        hprintln!("NL error: embedded model has no JSLDS section");
        return Err(Failed);
    };
    let neurons = usize::from(model.meta().neurons);
    let macs = macs_per_step(section, neurons);
    let estimator = Estimator::<D_CAP, N_CAP>::new(&model).map_err(|e| {
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
    let mut app = App::new(estimator, neurons, source, FpgaLed::take_once()).map_err(|e| {
        hprintln!("NL error: {}", e);
        Failed
    })?;

    let mut crc = Crc32::new();
    let mut selected = RunLength::new();
    let mut reported = RunLength::new();
    loop {
        match app.run_bin(meter) {
            Ok(Some(outcome)) => {
                crc.update_i16(app.latent());
                print_run("k", selected.push(outcome.output.regime));
                print_run("r", reported.push(outcome.output.reported));
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
    let (bins, changes, trigger_high) = (app.bins(), app.changes(), app.trigger_high());
    let (_, _, led) = app.release();
    hprintln!("NL bins={} changes={}", bins, changes);
    hprintln!("NL latent_crc32={:#010x}", crc.finish());

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
    // The meter (its histogram, in .bss) is instrumentation, not firmware: reported apart.
    hprintln!(
        "NL stack_peak_bytes={} instrumentation_bytes={}",
        stack::peak_bytes(),
        core::mem::size_of::<SysTickMeter>()
    );
    Ok(())
}
