//! Bare-metal part of the firmware: start-up, semihosting output and exit, SysTick timing.
//!
//! Two builds. The instrumented one (cargo feature `report`, the default; what the QEMU tests
//! run) times every step with SysTick and prints the report (`replay`). The deployed one
//! (`--no-default-features`, `scripts/firmware.sh --deployed`) runs the same loop with no
//! timing and no text formatting: it drives the pins and, to be checkable under QEMU, ends
//! with a few numbers written without `core::fmt` (`deployed`).

#[cfg(not(feature = "report"))]
mod deployed;
mod embedded;
mod led;
#[cfg(feature = "report")]
mod replay;
mod setup;
mod stack;
#[cfg(feature = "report")]
mod systick;

use core::panic::PanicInfo;

use cortex_m_rt::{entry, exception, ExceptionFrame};
use cortex_m_semihosting::debug;
#[cfg(feature = "report")]
use cortex_m_semihosting::hprintln;

/// Marker for a failure that was already reported on the console.
struct Failed;

#[entry]
fn main() -> ! {
    let code = match run() {
        Ok(()) => debug::EXIT_SUCCESS,
        Err(Failed) => debug::EXIT_FAILURE,
    };
    debug::exit(code);
    loop {
        cortex_m::asm::bkpt();
    }
}

#[cfg(not(feature = "report"))]
fn run() -> Result<(), Failed> {
    deployed::run()
}

#[cfg(feature = "report")]
#[inline(never)]
#[optimize(size)]
fn run() -> Result<(), Failed> {
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        hprintln!("NL error: core peripherals already taken");
        return Err(Failed);
    };
    systick::start(&mut cp.SYST);
    let cal = systick::calibrate();
    let milli = cal.milli_instructions_per_tick();
    hprintln!(
        "NL calibration instructions={} ticks={} instructions_per_tick={}.{:03}",
        cal.instructions,
        cal.ticks,
        milli / 1000,
        milli % 1000
    );
    if !cal.confirms_factor() {
        hprintln!(
            "NL error: SysTick does not count one tick per {} instructions; run QEMU with \
             -icount shift=0 on mps2-an386",
            systick::INSTRUCTIONS_PER_TICK
        );
        return Err(Failed);
    }
    // The meter's histogram lives in .bss, not in main's stack frame: a frame beyond 4 KiB
    // makes every spill slot cost an extra address computation in the inlined step.
    let Some(meter) = cortex_m::singleton!(: systick::SysTickMeter = systick::SysTickMeter::new())
    else {
        hprintln!("NL error: step meter already taken");
        return Err(Failed);
    };
    replay::replay(meter)?;
    hprintln!("NL done");
    Ok(())
}

#[panic_handler]
fn panic(_info: &PanicInfo) -> ! {
    #[cfg(feature = "report")]
    hprintln!("NL error: panic: {}", _info);
    #[cfg(not(feature = "report"))]
    deployed::say(b"NL error: panic\n");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}

#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    #[cfg(feature = "report")]
    hprintln!("NL error: hard fault at pc={:#010x}", _frame.pc());
    #[cfg(not(feature = "report"))]
    deployed::say(b"NL error: hard fault\n");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::bkpt();
    }
}
