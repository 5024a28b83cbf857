//! Summaries the firmware prints: run-length encoded regime sequences, the distribution of
//! per-step costs, and the multiply-accumulate count of one estimator step.

use neuroloop_core::format::TavrnnDims;
use neuroloop_core::JsldsSection;

/// Run-length encoder for a sequence of small integers (regime indices): consecutive equal
/// values become one `(value, run)` pair, which keeps the printed sequence short.
#[derive(Debug, Clone, Default)]
pub struct RunLength {
    current: Option<(u8, u32)>,
}

impl RunLength {
    /// An empty encoder.
    pub const fn new() -> Self {
        RunLength { current: None }
    }

    /// Adds one value; returns the run it closed, if any.
    pub fn push(&mut self, value: u8) -> Option<(u8, u32)> {
        match &mut self.current {
            Some((v, run)) if *v == value => {
                *run += 1;
                None
            }
            _ => self.current.replace((value, 1)),
        }
    }

    /// Closes the last run.
    pub fn finish(&mut self) -> Option<(u8, u32)> {
        self.current.take()
    }
}

/// Distribution of a per-step cost (e.g. SysTick ticks) over many steps: exact minimum,
/// maximum and sum, and the median from a histogram of `B` unit-wide buckets (values `>= B-1`
/// share the last bucket), so no per-step storage is needed.
#[derive(Debug, Clone)]
pub struct CostStats<const B: usize> {
    histogram: [u32; B],
    count: u32,
    min: u32,
    max: u32,
    sum: u64,
}

impl<const B: usize> Default for CostStats<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const B: usize> CostStats<B> {
    /// No samples yet.
    pub const fn new() -> Self {
        CostStats {
            histogram: [0; B],
            count: 0,
            min: u32::MAX,
            max: 0,
            sum: 0,
        }
    }

    /// Records one sample.
    pub fn record(&mut self, value: u32) {
        let bucket = (value as usize).min(B.saturating_sub(1));
        if let Some(h) = self.histogram.get_mut(bucket) {
            *h += 1;
        }
        self.count += 1;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += u64::from(value);
    }

    /// Number of samples.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Smallest sample (`None` without samples).
    pub fn min(&self) -> Option<u32> {
        (self.count > 0).then_some(self.min)
    }

    /// Largest sample (`None` without samples).
    pub fn max(&self) -> Option<u32> {
        (self.count > 0).then_some(self.max)
    }

    /// Sum of all samples.
    pub fn sum(&self) -> u64 {
        self.sum
    }

    /// The lower median (the `(count-1)/2`-th smallest sample). `None` without samples or if
    /// it falls into the overflow bucket.
    pub fn median(&self) -> Option<u32> {
        if self.count == 0 {
            return None;
        }
        let rank = (self.count - 1) / 2;
        let mut seen = 0u32;
        for (value, &n) in self.histogram.iter().enumerate() {
            seen += n;
            if seen > rank {
                return (value + 1 < B).then_some(value as u32);
            }
        }
        None
    }
}

/// Multiply-accumulates of one estimator step of `section`: the regime selection (`K x d`:
/// a gate row dot product, or a squared distance to each expansion point), then one `d x d`
/// dynamics and one `d x N` input product for the selected regime. The input table look-up,
/// offsets, saturation and requantisation are not MACs.
pub fn macs_per_step(section: &JsldsSection<'_>, neurons: usize) -> usize {
    let d = usize::from(section.latent);
    let k = usize::from(section.regimes);
    // Both selection rules cost K x d: a gate row dot product or a squared distance per regime.
    k * d + d * d + d * neurons
}

/// Multiply-accumulates of one TAVRNN window step, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TavrnnMacs {
    /// Products with weights: every dense layer (encoder, `mu`, `phi_z`, the GRU's input,
    /// hidden and candidate gates, the attention's value, key and query, the classifier).
    pub dense: usize,
    /// Graph propagation `Â X`: one product per non-zero `Â_ij` and input column.
    pub propagation: usize,
    /// Attention over the ring (scores and the mix of the stored states) and the GRU's
    /// elementwise `r h` and `u (h − c)`.
    pub other: usize,
}

impl TavrnnMacs {
    /// All of them.
    pub fn total(&self) -> usize {
        self.dense + self.propagation + self.other
    }
}

/// Multiply-accumulates of one TAVRNN step of a model of dimensions `d` on a window graph
/// with `edges` neuron–neuron edges (and the history node), attending over `attended` past
/// states, as `neuroloop_core::tavrnn` computes it (see its module equations):
///
/// * propagation: `Â` has `nnz = 3 N + 1 + 2 edges` non-zeros (each neuron: itself, its
///   neighbours, the history node; the history node: every node); the step propagates
///   `[phi_x || h]` (`phi + H` columns), `E` (`enc`), `[phi_x || phi_z || h]` twice
///   (`2 phi + H`, GRU passes 1 and 2) and `r h` (`H`);
/// * dense, per node: `enc (phi + H)`, `latent · enc`, `phi · latent`, `3 H · 2 phi` (the
///   input gates), `3 H · H` (hidden `r`, `u` and candidate), and `H · H` for the value
///   when `attended > 0`; once: `2 H · H` (key and query of the history node) and
///   `classes · N · latent` (classifier);
/// * other: `attended · H` scores and `nodes · attended · H` for the mix, `2 nodes · H` for
///   the GRU's products.
pub fn tavrnn_macs(d: &TavrnnDims, edges: usize, attended: usize) -> TavrnnMacs {
    let (n, nodes, h) = (d.neurons, d.nodes, d.hidden);
    let (lat, phi, enc) = (d.latent, d.phi, d.enc);
    let nnz = 3 * n + 1 + 2 * edges;
    let propagation = nnz * ((phi + h) + enc + 2 * (2 * phi + h) + h);
    let value = if attended > 0 { h * h } else { 0 };
    let per_node = enc * (phi + h) + lat * enc + phi * lat + 3 * h * 2 * phi + 3 * h * h + value;
    let dense = nodes * per_node + 2 * h * h + d.classes * n * lat;
    let other = attended * h + nodes * attended * h + 2 * nodes * h;
    TavrnnMacs {
        dense,
        propagation,
        other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_length_groups_equal_values() {
        let mut rle = RunLength::new();
        let mut runs = std::vec::Vec::new();
        for v in [3, 3, 3, 1, 0, 0] {
            runs.extend(rle.push(v));
        }
        runs.extend(rle.finish());
        assert_eq!(runs, [(3, 3), (1, 1), (0, 2)]);
        assert_eq!(rle.finish(), None);
    }

    #[test]
    fn cost_stats_min_median_max() {
        let mut s = CostStats::<16>::new();
        assert_eq!(s.median(), None);
        for v in [7, 3, 9, 3, 5] {
            s.record(v);
        }
        assert_eq!((s.min(), s.median(), s.max()), (Some(3), Some(5), Some(9)));
        assert_eq!(s.sum(), 27);
        s.record(4);
        // sorted 3 3 4 5 7 9: lower median is 4
        assert_eq!(s.median(), Some(4));
    }

    #[test]
    fn cost_stats_overflow_bucket_has_no_median() {
        let mut s = CostStats::<4>::new();
        for v in [10, 20, 1] {
            s.record(v);
        }
        assert_eq!(s.median(), None);
        assert_eq!(s.max(), Some(20));
    }
}
