//! The deployed firmware (built without the `report` feature): the same loop as the
//! instrumented build (`replay`), with no SysTick timing, no step-cost histogram and no text
//! formatting (`core::fmt` is not linked). What it would not have on a real board: the count
//! stream is the embedded replay instead of the RHD2000 front-end, and it ends with a few
//! numbers on the semihosting console so that the QEMU test can check it ran the same stream to
//! the same outcome.
//!
//! Output (parsed by `tests/tests/qemu_bit_exact.rs`): `NL deployed bins=.. changes=..
//! windows=.. class_changes=..`, `NL stack_setup_peak_bytes=..`, `NL stack_peak_bytes=..`,
//! `NL done`; on a failure one `NL error: <what>` line naming the stage, and exit status 1.

use cortex_m_semihosting::hio;
use neuroloop_core::{Estimator, Model};
use neuroloop_firmware::app::{App, NoMeter};
use neuroloop_firmware::source::ReplaySource;

use super::embedded::{NEUROLOOP_COUNTS, NEURONS};
use super::led::{self, FpgaLed};
use super::setup::{load_model, windows_in_place, Windows, D_CAP, N_CAP};
use super::{stack, Failed};

/// Writes `bytes` to the semihosting console (no formatting machinery). Not inlined: each
/// inlined copy opens the console again.
#[inline(never)]
#[optimize(size)]
pub fn say(bytes: &[u8]) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

/// `NL error: <what>` and the failure marker.
#[cold]
#[inline(never)]
#[optimize(size)]
fn fail(what: &[u8]) -> Failed {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(b"NL error: ");
        let _ = out.write_all(what);
        let _ = out.write_all(b"\n");
    }
    Failed
}

/// Prints `NL<tag> key=value ...` (decimal values), with no formatting machinery.
#[inline(never)]
#[optimize(size)]
fn report(tag: &[u8], fields: &[(&[u8], usize)]) {
    let Ok(mut out) = hio::hstdout() else {
        return;
    };
    let _ = out.write_all(b"NL");
    let _ = out.write_all(tag);
    for &(key, value) in fields {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        let mut v = value;
        while at > 0 {
            at -= 1;
            digits[at] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        let _ = out.write_all(b" ");
        let _ = out.write_all(key);
        let _ = out.write_all(b"=");
        let _ = out.write_all(&digits[at..]);
    }
    let _ = out.write_all(b"\n");
}

/// Parses the model, builds the window half, then runs every bin ([`run_loop`]); `Err` after an `NL error` line.
#[inline(never)]
#[optimize(size)]
pub fn run() -> Result<(), Failed> {
    // Borrowed out of the `Result`, not moved: the parsed model (a few hundred bytes of
    // slices and dimensions) then lives once in this frame for the whole run.
    let loaded = load_model();
    let Ok(model) = &loaded else {
        return Err(fail(b"embedded model refused"));
    };
    let windows: Option<Windows> = match model.tavrnn() {
        None => None,
        Some(_) => Some(windows_in_place(model).map_err(|_| fail(b"tavrnn refused"))?),
    };
    let setup_peak = stack::peak_bytes();
    stack::repaint();
    run_loop(model, windows, setup_peak)
}

/// The application: estimator, replay source, window half and the two pins.
type DeployedApp =
    App<'static, ReplaySource<'static>, FpgaLed, D_CAP, N_CAP, Option<Windows>, FpgaLed>;

/// Builds the application (not inlined: the intermediate values stay in this frame, gone
/// before the bin loop). `Err` after an `NL error` line.
#[inline(never)]
#[optimize(size)]
fn build_app(model: &Model<'static>, windows: Option<Windows>) -> Result<DeployedApp, Failed> {
    let estimator =
        Estimator::<D_CAP, N_CAP>::new(model).map_err(|_| fail(b"estimator refused"))?;
    let source = ReplaySource::new(&NEUROLOOP_COUNTS, NEURONS)
        .map_err(|_| fail(b"embedded counts refused"))?;
    let neurons = usize::from(model.meta().neurons);
    App::new(estimator, neurons, source, FpgaLed::take_once(0))
        .map_err(|_| fail(b"app refused"))?
        .with_windows(windows, FpgaLed::take_once(1))
        .map_err(|_| fail(b"window half refused"))
}

/// The bin loop, in its own frame (not inlined): the start-up's temporaries are gone by then.
#[inline(never)]
#[optimize(size)]
fn run_loop(
    model: &Model<'static>,
    windows: Option<Windows>,
    setup_peak: usize,
) -> Result<(), Failed> {
    // Built in its own frame and borrowed out of the `Result`: the estimator's moves through
    // `Estimator::new`, `App::new` and `App::with_windows` leave no copies in this frame, which
    // the bin loop keeps for the whole run.
    let mut built = build_app(model, windows);
    let Ok(app) = &mut built else {
        return Err(Failed);
    };
    while app
        .run_bin(&mut NoMeter)
        .map_err(|_| fail(b"bin failed"))?
        .is_some()
    {}
    let (bins, changes, trigger_high) = (app.bins(), app.changes(), app.trigger_high());
    let (class_changes, class_high) = (app.class_changes(), app.class_high());
    let windows = app.windows().as_ref().map_or(0, |w| w.windows());
    // The pins must show one edge per change, as in the instrumented build. Read from the
    // register (not by releasing the app: that moves its state into another stack slot).
    if led::is_set(0) != trigger_high || trigger_high != (changes % 2 == 1) {
        return Err(fail(b"trigger LED does not match the changes"));
    }
    if led::is_set(1) != class_high || class_high != (class_changes % 2 == 1) {
        return Err(fail(b"class LED does not match the changes"));
    }
    report(
        b" deployed",
        &[
            (b"bins", bins as usize),
            (b"changes", changes as usize),
            (b"windows", windows as usize),
            (b"class_changes", class_changes as usize),
        ],
    );
    report(b"", &[(b"stack_setup_peak_bytes", setup_peak)]);
    report(b"", &[(b"stack_peak_bytes", stack::peak_bytes())]);
    say(b"NL done\n");
    Ok(())
}
