//! Regime hysteresis: the reported regime changes to `k` only once `k` has been selected in
//! `m + 1` consecutive bins, i.e. the report lags the first bin of a new regime by exactly
//! `m` bins. With `m = 0` every selection is reported at once. A regime that flickers for
//! fewer bins never reaches the output, which is what keeps a stimulus trigger from chattering.

/// Hysteresis state (4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hysteresis {
    reported: u8,
    candidate: u8,
    /// Consecutive bins the candidate has held, after its first one (saturating).
    run: u16,
}

impl Hysteresis {
    /// Starts reporting `initial` (the regime selected from the reset state).
    pub(crate) fn new(initial: u8) -> Self {
        Hysteresis {
            reported: initial,
            candidate: initial,
            run: 0,
        }
    }

    /// The currently reported regime.
    pub(crate) fn reported(&self) -> u8 {
        self.reported
    }

    /// Feeds this bin's selected regime; returns `true` when the report changed.
    pub(crate) fn update(&mut self, k: u8, hold: u16) -> bool {
        if k == self.reported {
            self.candidate = k;
            self.run = 0;
            return false;
        }
        if k == self.candidate {
            self.run = self.run.saturating_add(1);
        } else {
            self.candidate = k;
            self.run = 0;
        }
        if self.run >= hold {
            self.reported = k;
            self.run = 0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    fn run(seq: &[u8], hold: u16) -> (Vec<u8>, Vec<u8>) {
        let mut h = Hysteresis::new(seq[0]);
        let mut rep = Vec::new();
        let mut ch = Vec::new();
        for &k in seq {
            ch.push(h.update(k, hold) as u8);
            rep.push(h.reported());
        }
        (rep, ch)
    }

    #[test]
    fn zero_hold_reports_at_once() {
        let (rep, ch) = run(&[0, 1, 0, 2], 0);
        assert_eq!(rep, [0, 1, 0, 2]);
        assert_eq!(ch, [0, 1, 1, 1]);
    }

    #[test]
    fn change_lags_by_exactly_m() {
        for m in 0u16..5 {
            let mut seq = [0u8; 16];
            seq[4..].fill(1);
            let (rep, ch) = run(&seq, m);
            let first = rep.iter().position(|&r| r == 1).unwrap();
            assert_eq!(first, 4 + m as usize, "m = {m}");
            assert_eq!(ch.iter().filter(|&&c| c == 1).count(), 1);
        }
    }

    #[test]
    fn flicker_shorter_than_hold_is_suppressed() {
        let (rep, _) = run(&[0, 1, 1, 0, 2, 1, 1, 1, 0], 2);
        assert_eq!(rep, [0, 0, 0, 0, 0, 0, 0, 1, 1]);
    }

    #[test]
    fn run_saturates() {
        let mut h = Hysteresis::new(0);
        for _ in 0..70_000 {
            h.update(1, u16::MAX);
        }
        assert_eq!(h.reported(), 1);
    }
}
