//! Peak stack use, by stack painting: cortex-m-rt (`paint-stack` feature) fills the whole stack
//! region with `0xCCCC_CCCC` before `main`; the deepest word no longer holding that value marks
//! the high-water mark.

use core::ptr::{addr_of, read_volatile};

extern "C" {
    /// Lowest address of the stack region (end of .bss/heap start), from cortex-m-rt's link.x.
    static _stack_end: u32;
    /// Initial stack pointer (top of RAM).
    static _stack_start: u32;
}

const PAINT: u32 = cortex_m_rt::STACK_PAINT_VALUE;

/// Bytes of stack used so far (from the top of RAM to the deepest overwritten word).
pub fn peak_bytes() -> usize {
    // SAFETY: only the symbols' addresses are taken; the words between them are RAM that
    // cortex-m-rt painted and that belongs to the stack, read with aligned volatile loads.
    unsafe {
        let bottom = addr_of!(_stack_end) as usize;
        let top = addr_of!(_stack_start) as usize;
        let mut p = bottom;
        while p < top && read_volatile(p as *const u32) == PAINT {
            p += 4;
        }
        top - p
    }
}

/// Paints the free stack again (from the bottom of the stack region up to just below the
/// current stack pointer), so that a later [`peak_bytes`] measures the deepest use from here
/// on: how the firmware separates its one-time start-up (model parsing, building the window
/// state) from the steady state of the bin loop.
#[inline(never)]
pub fn repaint() {
    let sp = cortex_m::register::msp::read() as usize;
    // SAFETY: the words from the bottom of the stack region to below the current stack
    // pointer (minus a margin for this function's own frame) are unused stack: nothing lives
    // there. Aligned volatile stores of the paint value.
    unsafe {
        let bottom = addr_of!(_stack_end) as usize;
        let mut p = bottom;
        let end = sp.saturating_sub(64) & !3;
        while p < end {
            core::ptr::write_volatile(p as *mut u32, PAINT);
            p += 4;
        }
    }
}
