//! Windows over the bins of a recording.

use serde::{Deserialize, Serialize};

use super::GraphError;

/// Window length and step in bins, derived from seconds and the bin width.
///
/// Rounding: `window_bins = round(window_s / bin_s)` and `step_bins = round(step_s / bin_s)`,
/// to the nearest integer (halves away from zero), so that 10 s at 10 ms is 1000 bins even
/// though `10.0 / 0.01` is `999.999...` in floating point. Both must come out at least 1.
/// Window `m` covers bins `m * step_bins .. m * step_bins + window_bins`; a window that would
/// run past the last bin is dropped, so the tail of a recording shorter than one step may be
/// unused. The spans report the times of the bins actually used, not the requested seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windowing {
    /// Bins in one window.
    pub window_bins: usize,
    /// Bins between the starts of consecutive windows.
    pub step_bins: usize,
}

/// Where one window lies, in bins and in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct WindowSpan {
    /// Position of the window in the sequence.
    pub index: usize,
    /// First bin of the window.
    pub first_bin: usize,
    /// Bins in the window.
    pub n_bins: usize,
    /// Left edge of the first bin, seconds.
    pub start_s: f64,
    /// Right edge of the last bin, seconds. Pass `(start_s, end_s)` to
    /// `Labels::label_span` to label the window.
    pub end_s: f64,
}

impl WindowSpan {
    /// The bins of the window, `first_bin..first_bin + n_bins`.
    pub fn bins(&self) -> std::ops::Range<usize> {
        self.first_bin..self.first_bin + self.n_bins
    }
}

impl Windowing {
    /// Converts seconds into bins (see the type documentation for the rounding).
    pub fn new(bin_s: f64, window_s: f64, step_s: f64) -> Result<Windowing, GraphError> {
        if !(bin_s.is_finite() && bin_s > 0.0) {
            return Err(GraphError::Counts {
                field: "bin_s",
                problem: format!("must be a positive number of seconds, got {bin_s}"),
            });
        }
        let to_bins = |field: &'static str, seconds: f64| -> Result<usize, GraphError> {
            if !(seconds.is_finite() && seconds > 0.0) {
                return Err(GraphError::Config {
                    field,
                    problem: format!("must be a positive number of seconds, got {seconds}"),
                });
            }
            let bins = (seconds / bin_s).round();
            if bins < 1.0 {
                return Err(GraphError::Config {
                    field,
                    problem: format!(
                        "{seconds} s is shorter than half a bin of {bin_s} s; \
                         it must hold at least one bin"
                    ),
                });
            }
            if bins > super::WindowSums::MAX_BINS as f64 {
                return Err(GraphError::Config {
                    field,
                    problem: format!(
                        "{seconds} s is {bins} bins, more than the {} a window may hold",
                        super::WindowSums::MAX_BINS
                    ),
                });
            }
            Ok(bins as usize)
        };
        Ok(Windowing {
            window_bins: to_bins("window_s", window_s)?,
            step_bins: to_bins("step_s", step_s)?,
        })
    }

    /// Number of whole windows in `n_bins` bins.
    pub fn count(&self, n_bins: usize) -> usize {
        if n_bins < self.window_bins {
            0
        } else {
            (n_bins - self.window_bins) / self.step_bins + 1
        }
    }

    /// The spans of all whole windows of a recording of `n_bins` bins of `bin_s` seconds
    /// starting at `start_s`.
    pub fn spans(&self, n_bins: usize, bin_s: f64, start_s: f64) -> Vec<WindowSpan> {
        (0..self.count(n_bins))
            .map(|index| {
                let first_bin = index * self.step_bins;
                WindowSpan {
                    index,
                    first_bin,
                    n_bins: self.window_bins,
                    start_s: start_s + first_bin as f64 * bin_s,
                    end_s: start_s + (first_bin + self.window_bins) as f64 * bin_s,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_seconds_at_ten_ms_is_a_thousand_bins() {
        let w = Windowing::new(0.01, 10.0, 5.0).unwrap();
        assert_eq!(w.window_bins, 1000);
        assert_eq!(w.step_bins, 500);
    }

    #[test]
    fn partial_windows_are_dropped() {
        let w = Windowing::new(1.0, 4.0, 3.0).unwrap();
        // bins 0..11: windows at 0, 3, 6 (6..10); 9..13 runs past the end.
        let spans = w.spans(11, 1.0, 100.0);
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[2].first_bin, 6);
        assert_eq!(spans[2].bins(), 6..10);
        assert_eq!(spans[2].start_s, 106.0);
        assert_eq!(spans[2].end_s, 110.0);
        assert_eq!(w.count(3), 0);
        assert_eq!(w.count(4), 1);
    }

    #[test]
    fn bad_lengths_are_named() {
        let e = Windowing::new(0.01, 0.001, 5.0).unwrap_err();
        assert!(e.to_string().contains("window_s"), "{e}");
        let e = Windowing::new(0.01, 10.0, -1.0).unwrap_err();
        assert!(e.to_string().contains("step_s"), "{e}");
        let e = Windowing::new(f64::NAN, 10.0, 5.0).unwrap_err();
        assert!(e.to_string().contains("bin_s"), "{e}");
    }
}
