//! An RHD2000-style acquisition front-end driver over an embedded-hal 1.0 [`SpiDevice`].
//!
//! The Intan RHD2000 chips speak 16-bit SPI words with chip select raised between words, so
//! every command is one SPI transaction of one `u16`. The chip is pipelined: the word clocked
//! out on MISO during command *i* is the result of command *i - 2*. The driver models that
//! honestly: it remembers what the last two commands were ([`Pending`]) and attributes every
//! received word to the command that produced it, so a sampling frame of `C` conversions is
//! followed by two auxiliary commands whose slots carry the last two channel results, and the
//! auxiliary results themselves arrive in the first two words of the next frame (where the
//! driver checks them as a link-integrity probe, as Intan's own controllers do).
//!
//! Command encodings (datasheet, "SPI command words"):
//!
//! | command | word |
//! | --- | --- |
//! | `CONVERT(c)` | `c << 8` (channel in bits 13..8) |
//! | `CALIBRATE` | `0x5500` |
//! | `CLEAR` | `0x6A00` |
//! | `WRITE(r, d)` | `0x8000 \| r << 8 \| d` |
//! | `READ(r)` | `0xC000 \| r << 8` |

use embedded_hal::spi::{Operation, SpiDevice};

/// Pipeline depth of the chip: a result arrives this many commands after its command.
pub const LATENCY: usize = 2;

/// Highest channel index a `CONVERT` word can address (6 bits).
pub const MAX_CHANNELS: usize = 64;

/// ROM registers 40..=44 hold the ASCII string "INTAN".
pub const ROM_INTAN: [u8; 5] = *b"INTAN";

/// First ROM register of the "INTAN" string.
pub const REG_ROM_FIRST: u8 = 40;

/// ROM register with the chip id.
pub const REG_CHIP_ID: u8 = 63;

/// Number of dummy commands the datasheet requires after `CALIBRATE` (the calibration runs
/// during them; their results are meaningless).
pub const CALIBRATE_DUMMIES: usize = 9;

/// ADC zero (offset binary): a raw sample of `0x8000` is 0 V.
pub const ADC_ZERO: i32 = 0x8000;

/// One SPI command word of the RHD2000 protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Convert amplifier channel `c` (0..64); the result is the 16-bit offset-binary sample.
    Convert(u8),
    /// Start the ADC self-calibration; needs [`CALIBRATE_DUMMIES`] commands to complete.
    Calibrate,
    /// Clear the ADC calibration.
    Clear,
    /// Write `value` to register `reg` (0..64); the chip echoes `0xFF00 | value`.
    Write { reg: u8, value: u8 },
    /// Read register `reg` (0..64); the result is `0x00` in the upper byte and the value below.
    Read(u8),
}

impl Command {
    /// The 16-bit word sent on MOSI.
    pub fn word(self) -> u16 {
        match self {
            Command::Convert(c) => u16::from(c & 0x3F) << 8,
            Command::Calibrate => 0x5500,
            Command::Clear => 0x6A00,
            Command::Write { reg, value } => 0x8000 | u16::from(reg & 0x3F) << 8 | u16::from(value),
            Command::Read(reg) => 0xC000 | u16::from(reg & 0x3F) << 8,
        }
    }
}

/// What produced the word that arrives now: the command sent [`LATENCY`] commands ago, or
/// nothing (the first two words after power-up or after [`Rhd2000::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// No command was in flight in this slot.
    Empty,
    /// The word is the result of this command.
    Result(Command),
}

/// Identity of the chip, read from its ROM registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChipInfo {
    /// Register 63: 1 = RHD2132, 2 = RHD2216, 4 = RHD2164.
    pub chip_id: u8,
    /// Number of amplifier channels of that chip.
    pub channels: u8,
}

/// Errors of the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The SPI transfer failed.
    Spi(E),
    /// A ROM register did not hold what the datasheet says (wrong chip, broken link).
    Rom { reg: u8, expected: u8, got: u16 },
    /// A `READ` result did not have the `0x00` upper byte of a register read.
    Read { reg: u8, got: u16 },
    /// Register 63 holds a chip id this driver does not know.
    UnknownChip(u8),
    /// More channels were requested than the chip has or a `CONVERT` word can address.
    Channels { requested: usize, available: usize },
    /// The output buffer is shorter than the number of channels sampled.
    Buffer { needed: usize, got: usize },
}

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Spi(e) => write!(f, "RHD2000: SPI transfer failed: {e:?}"),
            Error::Rom { reg, expected, got } => write!(
                f,
                "RHD2000: ROM register {reg} read {got:#06x}, expected {expected:#04x} \
                 (wrong chip or broken SPI link)"
            ),
            Error::Read { reg, got } => write!(
                f,
                "RHD2000: READ({reg}) answered {got:#06x}, expected 0x00 in the upper byte"
            ),
            Error::UnknownChip(id) => write!(f, "RHD2000: unknown chip id {id} in register 63"),
            Error::Channels {
                requested,
                available,
            } => write!(
                f,
                "RHD2000: {requested} channels requested, the chip has {available}"
            ),
            Error::Buffer { needed, got } => {
                write!(
                    f,
                    "RHD2000: sample buffer holds {got} samples, a frame needs {needed}"
                )
            }
        }
    }
}

/// Auxiliary commands that close every sampling frame: they flush the last two conversions
/// out of the pipeline and read two ROM characters whose results (arriving at the start of
/// the next frame) prove the link still works.
const FRAME_AUX: [Command; LATENCY] = [
    Command::Read(REG_ROM_FIRST),
    Command::Read(REG_ROM_FIRST + 1),
];

/// The RHD2000 driver. `SPI` is the chip's [`SpiDevice`] (it owns chip select).
#[derive(Debug)]
pub struct Rhd2000<SPI> {
    spi: SPI,
    /// `in_flight[0]` was sent two commands ago, `in_flight[1]` one command ago.
    in_flight: [Pending; LATENCY],
    channels: u8,
}

impl<SPI: SpiDevice<u16>> Rhd2000<SPI> {
    /// A driver with an empty pipeline. Call [`Rhd2000::init`] before sampling.
    pub fn new(spi: SPI) -> Self {
        Rhd2000 {
            spi,
            in_flight: [Pending::Empty; LATENCY],
            channels: 0,
        }
    }

    /// Gives the SPI device back.
    pub fn release(self) -> SPI {
        self.spi
    }

    /// Number of channels [`Rhd2000::init`] found (0 before).
    pub fn channels(&self) -> u8 {
        self.channels
    }

    /// Sends one command and returns the word that arrived with it, together with what
    /// produced that word (the command sent [`LATENCY`] commands earlier).
    pub fn command(&mut self, cmd: Command) -> Result<(Pending, u16), Error<SPI::Error>> {
        let mut word = [cmd.word()];
        self.spi
            .transaction(&mut [Operation::TransferInPlace(&mut word)])
            .map_err(Error::Spi)?;
        let origin = self.in_flight[0];
        self.in_flight[0] = self.in_flight[1];
        self.in_flight[1] = Pending::Result(cmd);
        Ok((origin, word[0]))
    }

    /// Reads one register: the `READ` command, then [`LATENCY`] dummy reads of the chip id
    /// register to clock its result out of the pipeline; the last dummy carries it.
    pub fn read_register(&mut self, reg: u8) -> Result<u8, Error<SPI::Error>> {
        self.command(Command::Read(reg))?;
        let mut last = (Pending::Empty, 0);
        for _ in 0..LATENCY {
            last = self.command(Command::Read(REG_CHIP_ID))?;
        }
        let (origin, word) = last;
        // A READ answers 0x00 in the upper byte; anything else is a framing error.
        if origin != Pending::Result(Command::Read(reg)) || word > 0xFF {
            return Err(Error::Read { reg, got: word });
        }
        Ok(word as u8)
    }

    /// Checks the "INTAN" ROM string, reads the chip id and runs the ADC calibration.
    pub fn init(&mut self) -> Result<ChipInfo, Error<SPI::Error>> {
        for (i, &expected) in ROM_INTAN.iter().enumerate() {
            let reg = REG_ROM_FIRST + i as u8;
            let got = self.read_register(reg)?;
            if got != expected {
                return Err(Error::Rom {
                    reg,
                    expected,
                    got: u16::from(got),
                });
            }
        }
        let chip_id = self.read_register(REG_CHIP_ID)?;
        let channels = match chip_id {
            1 => 32,
            2 => 16,
            4 => 64,
            other => return Err(Error::UnknownChip(other)),
        };
        self.command(Command::Calibrate)?;
        for _ in 0..CALIBRATE_DUMMIES {
            self.command(Command::Read(REG_CHIP_ID))?;
        }
        self.channels = channels;
        Ok(ChipInfo { chip_id, channels })
    }

    /// Samples channels `0..out.len()` once: `CONVERT(0) .. CONVERT(C-1)` followed by the two
    /// auxiliary ROM reads. Every received word is routed by its origin: conversions into
    /// `out`, auxiliary results of the previous frame into the link check.
    pub fn sample_frame(&mut self, out: &mut [u16]) -> Result<(), Error<SPI::Error>> {
        let c = out.len();
        let available = usize::from(self.channels).min(MAX_CHANNELS);
        if c > available {
            return Err(Error::Channels {
                requested: c,
                available,
            });
        }
        let mut seen = 0usize;
        for i in 0..c + LATENCY {
            let cmd = if i < c {
                Command::Convert(i as u8)
            } else {
                FRAME_AUX[i - c]
            };
            let (origin, word) = self.command(cmd)?;
            match origin {
                Pending::Result(Command::Convert(ch)) => {
                    if let Some(slot) = out.get_mut(usize::from(ch)) {
                        *slot = word;
                        seen += 1;
                    }
                }
                Pending::Result(Command::Read(reg)) => check_rom(reg, word)?,
                _ => {}
            }
        }
        if seen != c {
            return Err(Error::Buffer {
                needed: c,
                got: seen,
            });
        }
        Ok(())
    }
}

/// Checks a `READ` result of a ROM register against the datasheet (other registers pass).
fn check_rom<E>(reg: u8, word: u16) -> Result<(), Error<E>> {
    let idx = usize::from(reg.wrapping_sub(REG_ROM_FIRST));
    match ROM_INTAN.get(idx) {
        Some(&expected) if word != u16::from(expected) => Err(Error::Rom {
            reg,
            expected,
            got: word,
        }),
        _ => Ok(()),
    }
}

/// Converts an offset-binary sample to a signed ADC value (0 V = 0).
pub fn signed_sample(raw: u16) -> i32 {
    i32::from(raw) - ADC_ZERO
}
