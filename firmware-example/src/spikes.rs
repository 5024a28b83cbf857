//! Threshold-crossing spike detection with a dead time, and binning into per-bin counts.
//!
//! Extracellular spikes are negative-going, so a spike is a *downward crossing* of a negative
//! threshold: the previous sample above it, the current one at or below. After a spike the
//! channel is blind for `dead_samples` samples (the waveform's own trough and rebound must not
//! count twice); a crossing inside the dead time is dropped, and a signal that is still below
//! threshold when the dead time ends does not count until it has gone back above.

use crate::rhd2000::signed_sample;

/// Per-channel spike detector for up to `C` channels.
#[derive(Debug, Clone)]
pub struct SpikeDetector<const C: usize> {
    threshold: i32,
    dead_samples: u16,
    /// Samples of dead time left per channel.
    holdoff: [u16; C],
    /// Whether the previous sample was above the threshold.
    above: [bool; C],
}

impl<const C: usize> SpikeDetector<C> {
    /// `threshold` in signed ADC units (negative, e.g. -50 uV / 0.195 uV = -256);
    /// `dead_samples` samples of dead time after each detected spike.
    pub fn new(threshold: i32, dead_samples: u16) -> Self {
        SpikeDetector {
            threshold,
            dead_samples,
            holdoff: [0; C],
            // Start disarmed: a channel must be seen above threshold before it can fire.
            above: [false; C],
        }
    }

    /// Processes one frame of raw offset-binary samples (channel `i` = `raw[i]`, at most `C`)
    /// and adds one to `counts[i]` (saturating) for every channel that spiked.
    pub fn process(&mut self, raw: &[u16], counts: &mut [u16]) {
        for (((&sample, count), holdoff), above) in raw
            .iter()
            .zip(counts.iter_mut())
            .zip(self.holdoff.iter_mut())
            .zip(self.above.iter_mut())
        {
            let v = signed_sample(sample);
            let crossed = *above && v <= self.threshold;
            if *holdoff > 0 {
                *holdoff -= 1;
            } else if crossed {
                *count = count.saturating_add(1);
                *holdoff = self.dead_samples;
            }
            *above = v > self.threshold;
        }
    }
}

/// Accumulates per-channel spike counts over `frames_per_bin` sampling frames.
#[derive(Debug, Clone)]
pub struct Binner<const C: usize> {
    frames_per_bin: u32,
    frames: u32,
    counts: [u16; C],
}

impl<const C: usize> Binner<C> {
    /// A binner closing a bin every `frames_per_bin` frames (at least 1).
    pub fn new(frames_per_bin: u32) -> Self {
        Binner {
            frames_per_bin: frames_per_bin.max(1),
            frames: 0,
            counts: [0; C],
        }
    }

    /// The counts of the bin being filled, for the detector to add to.
    pub fn counts_mut(&mut self) -> &mut [u16; C] {
        &mut self.counts
    }

    /// Marks one frame as done. When that closes the bin, copies its counts into `out`
    /// (the first `out.len()` channels), starts a new bin and returns `true`.
    pub fn end_frame(&mut self, out: &mut [u16]) -> bool {
        self.frames += 1;
        if self.frames < self.frames_per_bin {
            return false;
        }
        for (o, c) in out.iter_mut().zip(self.counts.iter()) {
            *o = *c;
        }
        self.counts = [0; C];
        self.frames = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(v: i32) -> u16 {
        (v + crate::rhd2000::ADC_ZERO) as u16
    }

    #[test]
    fn detects_downward_crossings_with_dead_time() {
        let mut det = SpikeDetector::<1>::new(-100, 3);
        let mut counts = [0u16; 1];
        // idx:      0    1     2     3    4     5    6     7    8
        let trace = [0, -150, -200, 0, -150, 0, 0, -120, -120];
        let mut fired = [false; 9];
        for (i, &v) in trace.iter().enumerate() {
            let before = counts[0];
            det.process(&[raw(v)], &mut counts);
            fired[i] = counts[0] != before;
        }
        // 1: crossing -> spike; 2..4: dead time (the crossing at 4 is dropped);
        // 7: new crossing after the dead time -> spike; 8: still below, no new crossing.
        assert_eq!(
            fired,
            [false, true, false, false, false, false, false, true, false]
        );
        assert_eq!(counts[0], 2);
    }

    #[test]
    fn a_channel_below_threshold_at_start_does_not_fire() {
        let mut det = SpikeDetector::<2>::new(-100, 0);
        let mut counts = [0u16; 2];
        det.process(&[raw(-500), raw(0)], &mut counts);
        det.process(&[raw(-500), raw(-101)], &mut counts);
        assert_eq!(counts, [0, 1]);
    }

    #[test]
    fn threshold_is_inclusive_and_counts_saturate() {
        let mut det = SpikeDetector::<1>::new(-100, 0);
        let mut counts = [u16::MAX - 1];
        for _ in 0..3 {
            det.process(&[raw(0)], &mut counts);
            det.process(&[raw(-100)], &mut counts);
        }
        assert_eq!(counts[0], u16::MAX);
    }

    #[test]
    fn binner_closes_a_bin_every_n_frames() {
        let mut b = Binner::<2>::new(3);
        let mut out = [9u16; 2];
        b.counts_mut()[0] += 2;
        assert!(!b.end_frame(&mut out));
        b.counts_mut()[1] += 1;
        assert!(!b.end_frame(&mut out));
        assert_eq!(out, [9, 9]);
        assert!(b.end_frame(&mut out));
        assert_eq!(out, [2, 1]);
        assert!(!b.end_frame(&mut out));
        assert!(!b.end_frame(&mut out));
        assert!(b.end_frame(&mut out));
        assert_eq!(out, [0, 0]);
    }
}
