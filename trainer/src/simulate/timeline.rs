//! Label timelines: per-bin labels, their run-length segments (the rows of `behavior.csv`),
//! and the per-bin majority of a per-step label.

use serde::{Deserialize, Serialize};

/// One interval of constant label, `[start_s, end_s)`, aligned to bin edges.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start, seconds.
    pub start_s: f64,
    /// End, seconds (exclusive).
    pub end_s: f64,
    /// Label name (the `label` column of `behavior.csv`).
    pub label: String,
    /// Index of the label in `regime_names`.
    pub regime: u16,
}

/// Run-length segments of a per-bin label sequence; they tile `[0, n_bins * bin_s)`.
pub fn segments(per_bin: &[u16], names: &[String], bin_s: f64) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=per_bin.len() {
        if i == per_bin.len() || per_bin[i] != per_bin[start] {
            let k = per_bin[start];
            out.push(Segment {
                start_s: start as f64 * bin_s,
                end_s: i as f64 * bin_s,
                label: names[usize::from(k)].clone(),
                regime: k,
            });
            start = i;
        }
    }
    out
}

/// Collects a per-step label into a per-bin label: the label held for most steps of the bin
/// (ties go to the lower index).
#[derive(Debug, Clone)]
pub struct BinMajority {
    counts: Vec<u32>,
    /// Finished bins.
    pub per_bin: Vec<u16>,
}

impl BinMajority {
    /// For labels `0..n_labels`, reserving room for `n_bins` bins.
    pub fn new(n_labels: usize, n_bins: usize) -> Self {
        Self {
            counts: vec![0; n_labels],
            per_bin: Vec::with_capacity(n_bins),
        }
    }

    /// Records the label of one step.
    pub fn push(&mut self, label: u16) {
        self.counts[usize::from(label)] += 1;
    }

    /// Closes the current bin.
    pub fn close_bin(&mut self) {
        let mut best = 0;
        for (k, &c) in self.counts.iter().enumerate() {
            if c > self.counts[best] {
                best = k;
            }
        }
        self.per_bin.push(best as u16);
        self.counts.iter_mut().for_each(|c| *c = 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_tile_the_session() {
        let names = vec!["a".to_string(), "b".to_string()];
        let s = segments(&[0, 0, 1, 1, 1, 0], &names, 0.5);
        assert_eq!(s.len(), 3);
        assert_eq!(
            (s[0].start_s, s[0].end_s, s[0].label.as_str()),
            (0.0, 1.0, "a")
        );
        assert_eq!((s[1].start_s, s[1].end_s, s[1].regime), (1.0, 2.5, 1));
        assert_eq!(s[2].end_s, 3.0);
    }

    #[test]
    fn majority_per_bin() {
        let mut m = BinMajority::new(3, 2);
        for l in [2, 2, 1] {
            m.push(l);
        }
        m.close_bin();
        for l in [0, 1] {
            m.push(l);
        }
        m.close_bin();
        assert_eq!(m.per_bin, vec![2, 0]);
    }
}
