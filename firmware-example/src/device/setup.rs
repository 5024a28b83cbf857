//! What the instrumented (`report`) and the deployed firmware share: the capacities, the
//! model's parse in place and the window half built over its statics.

use neuroloop_core::graph::{triangle, StreamingConnectivity};
use neuroloop_core::tavrnn::{keys_len, ring_len, Tavrnn};
use neuroloop_core::{Model, ModelError};
use neuroloop_firmware::windows::{WindowError, WindowLoop, WindowState};

use super::embedded::{NEUROLOOP_MODEL, NEURONS};

/// Latent capacity of the firmware's estimator.
pub const D_CAP: usize = 32;
/// Neurons: the estimator's and the graph encoder's capacity is the stream's count.
pub const N_CAP: usize = NEURONS;
/// Packed triangle of the graph encoder.
pub const TRI: usize = triangle(N_CAP);
/// TAVRNN capacities: hidden width, attention window, and the scratch of a step
/// (`nodes · (latent + phi + H + max(H, enc))` with latent 8, phi 16, H 32, enc <= 32).
pub const H_CAP: usize = 32;
pub const W_CAP: usize = 8;
pub const RING: usize = ring_len(N_CAP + 1, H_CAP, W_CAP);
pub const KEYS: usize = keys_len(H_CAP, W_CAP);
pub const SCRATCH: usize = (N_CAP + 1) * (8 + 16 + H_CAP + H_CAP);

pub type Windows = WindowLoop<'static, 'static, N_CAP, TRI, RING, KEYS, SCRATCH>;
pub type State = WindowState<N_CAP, TRI, SCRATCH>;
pub type Tav = Tavrnn<'static, RING, KEYS>;

/// Parses the embedded model. Not inlined: the parser's temporaries then live in this
/// frame, gone before the bin loop, instead of in the loop's caller for the whole run.
#[inline(never)]
#[optimize(size)]
pub fn load_model() -> Result<Model<'static>, ModelError> {
    // The model is read where it lies in flash: `from_bytes` borrows, never copies. The
    // compiler must not see its bytes (it would fold the parser for this one file, and the
    // flash figure would not be the firmware's): `black_box` hides them. The static is word
    // aligned, so the exporter's word-aligned blobs are too (build.rs).
    let bytes: &'static [u8] = core::hint::black_box(&NEUROLOOP_MODEL.0[..]);
    Model::from_bytes(bytes)
}

/// Builds the window half over its statics, once: the graph and sums-or-scratch block are a
/// `const` static (`.bss`, never on the stack); the TAVRNN state is written into its static
/// (`MaybeUninit`, also `.bss`) by the infallible `Tavrnn::from_checked` after the fallible
/// `Tavrnn::check`: through `Tavrnn::new`'s `Result` the 10.6 KB state went over this frame
/// first (start-up stack 11,740 B; 4,496 B now, measured as `stack_setup_peak_bytes`).
#[inline(never)]
#[optimize(size)]
pub fn windows_in_place(model: &Model<'static>) -> Result<Windows, WindowError> {
    use core::mem::MaybeUninit;
    use core::sync::atomic::{AtomicBool, Ordering};
    static TAKEN: AtomicBool = AtomicBool::new(false);
    static mut TAVRNN: MaybeUninit<Tav> = MaybeUninit::uninit();
    static mut STATE: State = State::new();
    if TAKEN.swap(true, Ordering::AcqRel) {
        return Err(WindowError::Model(ModelError::MissingSection {
            section: "tavrnn (the window state is taken)",
        }));
    }
    // SAFETY: `TAKEN` lets exactly one call through, so these are the only references to the
    // two statics ever made; TAVRNN is initialised by `write` before it is read.
    let (tavrnn, state) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(TAVRNN),
            &mut *core::ptr::addr_of_mut!(STATE),
        )
    };
    let checked = Tav::check(model).map_err(WindowError::Model)?;
    let tavrnn = tavrnn.write(Tav::from_checked(checked));
    WindowLoop::new(model, tavrnn, state, overlap_block())
}

/// The second set of sums that overlapping windows (`window = 2 step`) need: 9.1 KB of RAM at
/// N = 64, reserved only in a build with the `overlapping-windows` feature
/// (`scripts/firmware.sh --features overlapping-windows`).
#[cfg(feature = "overlapping-windows")]
fn overlap_block() -> Option<&'static mut StreamingConnectivity<N_CAP, TRI>> {
    cortex_m::singleton!(: StreamingConnectivity<N_CAP, TRI> = StreamingConnectivity::new())
}

#[cfg(not(feature = "overlapping-windows"))]
fn overlap_block() -> Option<&'static mut StreamingConnectivity<N_CAP, TRI>> {
    None
}
