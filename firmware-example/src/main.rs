//! The neuroloop firmware example for a Cortex-M4F (`thumbv7em-none-eabihf`, QEMU
//! `mps2-an386`): replays a count stream through the switching-linear estimator of a model file,
//! both embedded at build time, and reports the regime sequence, a checksum of the latent
//! states and the cost of a step through semihosting. See `scripts/firmware.sh`.
//!
//! On the host this binary only says what it is for; the hardware-independent logic lives in
//! the library (`neuroloop_firmware`) and is tested there.
#![cfg_attr(target_os = "none", no_std, no_main)]
// Start-up, reporting and once-a-window code is compiled for size (scripts/firmware.sh builds
// with Debian's rustc and RUSTC_BOOTSTRAP=1); the per-bin path stays at opt-level 3.
#![cfg_attr(target_os = "none", feature(optimize_attribute))]

#[cfg(target_os = "none")]
mod device;

#[cfg(not(target_os = "none"))]
fn main() {
    println!(
        "neuroloop-firmware is built for thumbv7em-none-eabihf (Cortex-M4F, QEMU mps2-an386); \
         build and run it with scripts/firmware.sh"
    );
}
