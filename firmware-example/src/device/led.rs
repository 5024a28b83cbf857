//! The outputs: user LEDs 0 and 1 of the mps2 FPGA IO block (`FPGAIO->LED0`, bits 0 and 1),
//! which QEMU models as a read/write register. They stand in for the GPIO lines that would
//! drive a stimulator (regime trigger, bit 0) and report the behaviour class (bit 1); the
//! firmware reads them back at the end to check the edges it made.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use embedded_hal::digital::{ErrorType, OutputPin};

/// `FPGAIO` base on mps2-an385/an386 (LED0 register at offset 0).
const FPGAIO_LED0: *mut u32 = 0x4002_8000 as *mut u32;

/// One LED of the FPGA IO block (bit `bit` of `LED0`: 0 and 1 exist) as an [`OutputPin`].
pub struct FpgaLed {
    mask: u32,
}

impl FpgaLed {
    /// Takes LED `bit`. Only one instance per bit may exist (the firmware creates each once,
    /// in `main`; the trigger is bit 0, the behaviour class pin bit 1).
    pub fn take_once(bit: u8) -> Self {
        FpgaLed {
            mask: 1 << (bit & 1),
        }
    }

    /// Whether the LED register currently has this LED's bit set.
    #[cfg_attr(not(feature = "report"), allow(dead_code))]
    pub fn is_set(&self) -> bool {
        // SAFETY: an aligned MMIO register of the FPGA IO block, always mapped on mps2.
        unsafe { read_volatile(FPGAIO_LED0) & self.mask != 0 }
    }

    fn write(&mut self, on: bool) {
        // SAFETY: as above; read-modify-write of our own bit by its only instance (the
        // firmware is single-threaded and no interrupt touches the LEDs).
        unsafe {
            let v = read_volatile(FPGAIO_LED0);
            write_volatile(FPGAIO_LED0, if on { v | self.mask } else { v & !self.mask });
        }
    }
}

/// Whether LED `bit` (0 or 1) is on, read from the register (no instance needed: reading
/// does not drive the pin).
#[cfg_attr(feature = "report", allow(dead_code))]
pub fn is_set(bit: u8) -> bool {
    // SAFETY: as in `FpgaLed::is_set`.
    unsafe { read_volatile(FPGAIO_LED0) & (1 << (bit & 1)) != 0 }
}

impl ErrorType for FpgaLed {
    type Error = Infallible;
}

impl OutputPin for FpgaLed {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.write(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.write(true);
        Ok(())
    }
}
