//! The trigger output: user LED 0 of the mps2 FPGA IO block (`FPGAIO->LED0`, bit 0), which
//! QEMU models as a read/write register. It stands in for the GPIO line that would drive a
//! stimulator; the firmware reads it back at the end to check the edges it made.

use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use embedded_hal::digital::{ErrorType, OutputPin};

/// `FPGAIO` base on mps2-an385/an386 (LED0 register at offset 0).
const FPGAIO_LED0: *mut u32 = 0x4002_8000 as *mut u32;

/// LED 0 of the FPGA IO block as an [`OutputPin`].
pub struct FpgaLed {
    _private: (),
}

impl FpgaLed {
    /// Takes the LED. Only one instance may exist (the firmware creates it once in `main`).
    pub fn take_once() -> Self {
        FpgaLed { _private: () }
    }

    /// Whether the LED register currently has bit 0 set.
    pub fn is_set(&self) -> bool {
        // SAFETY: an aligned MMIO register of the FPGA IO block, always mapped on mps2.
        unsafe { read_volatile(FPGAIO_LED0) & 1 != 0 }
    }

    fn write(&mut self, on: bool) {
        // SAFETY: as above; read-modify-write of our own bit by the only instance.
        unsafe {
            let v = read_volatile(FPGAIO_LED0);
            write_volatile(FPGAIO_LED0, if on { v | 1 } else { v & !1 });
        }
    }
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
