//! Where the per-bin spike counts come from: a live RHD2000 front-end, or a replay of counts
//! embedded at build time (what the firmware uses under QEMU, which has no amplifier chip).

use embedded_hal::delay::DelayNs;
use embedded_hal::spi::SpiDevice;

use crate::rhd2000::{self, Rhd2000};
use crate::spikes::{Binner, SpikeDetector};

/// A stream of spike-count bins, one `u16` per neuron.
pub trait CountSource {
    /// What can go wrong while producing a bin.
    type Error: core::fmt::Debug;

    /// Number of neurons (counts per bin) this source produces.
    fn neurons(&self) -> usize;

    /// Fills `out` (exactly [`CountSource::neurons`] long) with the next bin's counts.
    /// Returns `Ok(false)` once the stream has ended (and leaves `out` untouched).
    fn next_bin(&mut self, out: &mut [u16]) -> Result<bool, Self::Error>;
}

/// Errors of [`ReplaySource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// The neuron count is zero.
    NoNeurons,
    /// The byte stream is not a whole number of bins of `neurons` little-endian `u16`s.
    Length { bytes: usize, neurons: usize },
    /// The output buffer does not have one slot per neuron.
    Buffer { expected: usize, got: usize },
}

impl core::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReplayError::NoNeurons => write!(f, "replay: the count stream has 0 neurons"),
            ReplayError::Length { bytes, neurons } => write!(
                f,
                "replay: {bytes} bytes of counts is not a whole number of bins of {neurons} \
                 u16 LE counts ({} bytes each)",
                neurons * 2
            ),
            ReplayError::Buffer { expected, got } => {
                write!(
                    f,
                    "replay: bin buffer has {got} slots, the stream has {expected} neurons"
                )
            }
        }
    }
}

/// Replays a count stream stored as raw `u16` little-endian values, `T x N` row-major (one row
/// a bin), borrowed from flash. It stands in for the front-end under QEMU.
#[derive(Debug, Clone)]
pub struct ReplaySource<'a> {
    bytes: &'a [u8],
    neurons: usize,
    next: usize,
}

impl<'a> ReplaySource<'a> {
    /// Checks that `bytes` holds whole bins of `neurons` counts.
    pub fn new(bytes: &'a [u8], neurons: usize) -> Result<Self, ReplayError> {
        if neurons == 0 {
            return Err(ReplayError::NoNeurons);
        }
        if !bytes.len().is_multiple_of(neurons * 2) {
            return Err(ReplayError::Length {
                bytes: bytes.len(),
                neurons,
            });
        }
        Ok(ReplaySource {
            bytes,
            neurons,
            next: 0,
        })
    }

    /// Number of bins in the stream.
    pub fn bins(&self) -> usize {
        self.bytes.len() / (self.neurons * 2)
    }
}

impl CountSource for ReplaySource<'_> {
    type Error = ReplayError;

    fn neurons(&self) -> usize {
        self.neurons
    }

    fn next_bin(&mut self, out: &mut [u16]) -> Result<bool, ReplayError> {
        if out.len() != self.neurons {
            return Err(ReplayError::Buffer {
                expected: self.neurons,
                got: out.len(),
            });
        }
        let row_bytes = self.neurons * 2;
        let Some(row) = self.bytes.get(self.next..self.next + row_bytes) else {
            return Ok(false);
        };
        for (o, pair) in out.iter_mut().zip(row.chunks_exact(2)) {
            *o = u16::from_le_bytes([pair[0], pair[1]]);
        }
        self.next += row_bytes;
        Ok(true)
    }
}

/// Timing and detection settings of a live front-end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrontEndConfig {
    /// Channels sampled (= neurons of the model), at most the chip's.
    pub channels: usize,
    /// Time between sampling frames (e.g. 50_000 ns at 20 kS/s).
    pub frame_period_ns: u32,
    /// Frames per count bin (e.g. 200 for 10 ms bins at 20 kS/s).
    pub frames_per_bin: u32,
    /// Spike threshold in signed ADC units (negative; 0.195 uV per unit).
    pub threshold: i32,
    /// Samples of dead time after a spike.
    pub dead_samples: u16,
}

/// Errors of [`FrontEndSource`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontEndError<E> {
    /// The driver failed.
    Driver(rhd2000::Error<E>),
    /// The configuration asks for more channels than the source's capacity `C`.
    Capacity { channels: usize, capacity: usize },
    /// The output buffer does not have one slot per channel.
    Buffer { expected: usize, got: usize },
}

/// A live source: an RHD2000 sampled every `frame_period_ns`, spike detection on every channel,
/// counts binned every `frames_per_bin` frames. `C` is the channel capacity.
///
/// Pacing uses [`DelayNs`]: this polled front-end waits one frame period between frames (a
/// production design would trigger frames from a timer or DMA; the delay is where that wait
/// happens here).
#[derive(Debug)]
pub struct FrontEndSource<SPI, D, const C: usize> {
    driver: Rhd2000<SPI>,
    delay: D,
    config: FrontEndConfig,
    detector: SpikeDetector<C>,
    binner: Binner<C>,
    frame: [u16; C],
}

impl<SPI: SpiDevice<u16>, D: DelayNs, const C: usize> FrontEndSource<SPI, D, C> {
    /// Wraps an initialised driver (see [`Rhd2000::init`]).
    pub fn new(
        driver: Rhd2000<SPI>,
        delay: D,
        config: FrontEndConfig,
    ) -> Result<Self, FrontEndError<SPI::Error>> {
        if config.channels > C || config.channels == 0 {
            return Err(FrontEndError::Capacity {
                channels: config.channels,
                capacity: C,
            });
        }
        Ok(FrontEndSource {
            driver,
            delay,
            config,
            detector: SpikeDetector::new(config.threshold, config.dead_samples),
            binner: Binner::new(config.frames_per_bin),
            frame: [0; C],
        })
    }

    /// Gives the driver and the delay back.
    pub fn release(self) -> (Rhd2000<SPI>, D) {
        (self.driver, self.delay)
    }
}

impl<SPI: SpiDevice<u16>, D: DelayNs, const C: usize> CountSource for FrontEndSource<SPI, D, C> {
    type Error = FrontEndError<SPI::Error>;

    fn neurons(&self) -> usize {
        self.config.channels
    }

    /// A live source never ends: it returns `Ok(true)` after each closed bin.
    fn next_bin(&mut self, out: &mut [u16]) -> Result<bool, Self::Error> {
        let c = self.config.channels;
        if out.len() != c {
            return Err(FrontEndError::Buffer {
                expected: c,
                got: out.len(),
            });
        }
        loop {
            self.delay.delay_ns(self.config.frame_period_ns);
            let frame = &mut self.frame[..c];
            self.driver
                .sample_frame(frame)
                .map_err(FrontEndError::Driver)?;
            self.detector
                .process(frame, &mut self.binner.counts_mut()[..c]);
            if self.binner.end_frame(out) {
                return Ok(true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_yields_rows_then_ends() {
        let bytes = [1, 0, 2, 0, 0xFF, 0xFF, 4, 1];
        let mut src = ReplaySource::new(&bytes, 2).unwrap();
        assert_eq!(src.bins(), 2);
        let mut out = [0u16; 2];
        assert_eq!(src.next_bin(&mut out), Ok(true));
        assert_eq!(out, [1, 2]);
        assert_eq!(src.next_bin(&mut out), Ok(true));
        assert_eq!(out, [0xFFFF, 0x0104]);
        assert_eq!(src.next_bin(&mut out), Ok(false));
        assert_eq!(out, [0xFFFF, 0x0104]);
    }

    #[test]
    fn replay_rejects_partial_bins_and_wrong_buffers() {
        assert_eq!(
            ReplaySource::new(&[0; 6], 2).unwrap_err(),
            ReplayError::Length {
                bytes: 6,
                neurons: 2
            }
        );
        assert_eq!(
            ReplaySource::new(&[], 0).unwrap_err(),
            ReplayError::NoNeurons
        );
        let mut src = ReplaySource::new(&[0; 4], 2).unwrap();
        assert_eq!(
            src.next_bin(&mut [0; 3]),
            Err(ReplayError::Buffer {
                expected: 2,
                got: 3
            })
        );
    }
}
