//! A session prepared for training: standardised inputs, float counts, the held-out split,
//! and the streams of truncated backpropagation through time.
//!
//! **Why streams.** A chunk that restarts the state at zero cannot learn a memory longer than
//! the chunk: in `flipflop` a pulse arrives every ~2 s (200 bins of 10 ms), so inside a chunk
//! of 64 bins the state is mostly unknowable from zero. Instead each batch row owns one
//! contiguous stretch of the training bins and walks through it chunk after chunk, carrying
//! its GRU and linear-path states (detached) from one chunk to the next; a row restarts from
//! zero only when it wraps round to the start of its stretch. Rows are staggered by one chunk,
//! so they do not all restart at the same step.

use burn::tensor::{Device, Tensor, TensorData};

use super::input::InputTransform;

/// Mean count a bin of each of `neurons` neurons over the first `bins` bins of `counts`
/// (`[T, neurons]`): the mean-rate model of the training bins.
pub fn mean_counts(counts: &[u32], neurons: usize, bins: usize) -> Vec<f64> {
    (0..neurons)
        .map(|i| {
            (0..bins)
                .map(|t| counts[t * neurons + i] as f64)
                .sum::<f64>()
                / bins.max(1) as f64
        })
        .collect()
}

/// Columns `index` of a `[T, neurons]` count matrix.
pub fn select_columns(counts: &[u32], neurons: usize, index: &[usize]) -> Vec<u32> {
    counts
        .chunks_exact(neurons)
        .flat_map(|row| index.iter().map(move |&i| row[i]))
        .collect()
}

/// Standardised inputs `[T, n_in]` and float counts `[T, neurons]` of a whole session.
pub struct Session {
    /// Standardised inputs, row-major `[bins, n_in]`.
    pub inputs: Vec<f32>,
    /// Counts as floats, row-major `[bins, neurons]`.
    pub counts: Vec<f32>,
    /// Inputs per bin.
    pub n_in: usize,
    /// Neurons per bin.
    pub neurons: usize,
    /// Number of bins.
    pub bins: usize,
}

impl Session {
    /// Prepares `counts` (`[T, neurons]`) with the input columns `inputs` through `transform`.
    pub fn new(
        counts: &[u32],
        neurons: usize,
        inputs: &[usize],
        transform: &InputTransform,
    ) -> Self {
        Self {
            inputs: transform.apply(&select_columns(counts, neurons, inputs)),
            counts: counts.iter().map(|&c| c as f32).collect(),
            n_in: inputs.len(),
            neurons,
            bins: counts.len() / neurons.max(1),
        }
    }

    /// Inputs of bins `s..s+len` and counts of bins `s+1..s+len+1` for each start, as
    /// `[B, len, n]` tensors (`h_t`, after the input of bin `t`, predicts bin `t + 1`).
    pub fn batch(&self, starts: &[usize], len: usize, device: &Device) -> (Tensor<3>, Tensor<3>) {
        let (n, m) = (self.neurons, self.n_in);
        let mut u = Vec::with_capacity(starts.len() * len * m);
        let mut y = Vec::with_capacity(starts.len() * len * n);
        for &s in starts {
            u.extend_from_slice(&self.inputs[s * m..(s + len) * m]);
            y.extend_from_slice(&self.counts[(s + 1) * n..(s + len + 1) * n]);
        }
        (
            Tensor::from_data(TensorData::new(u, [starts.len(), len, m]), device),
            Tensor::from_data(TensorData::new(y, [starts.len(), len, n]), device),
        )
    }
}

/// Where each batch row reads its chunk at a given step.
#[derive(Debug, Clone, PartialEq)]
pub struct Streams {
    /// Rows.
    pub rows: usize,
    /// Bins per chunk.
    pub chunk_len: usize,
    /// Bins of each row's stretch.
    pub stretch: usize,
    /// Chunks per stretch (one epoch is this many steps).
    pub chunks: usize,
}

impl Streams {
    /// Streams over the training bins `0..train_bins` (the last training bin is only a
    /// target). `None` when a stretch would hold fewer than two chunks.
    pub fn new(train_bins: usize, rows: usize, chunk_len: usize) -> Option<Self> {
        let usable = train_bins.checked_sub(1)?;
        let stretch = usable / rows.max(1);
        let chunks = stretch / chunk_len.max(1);
        (rows > 0 && chunk_len > 0 && chunks >= 2).then_some(Self {
            rows,
            chunk_len,
            stretch,
            chunks,
        })
    }

    /// For optimiser step `step` (0-based): the first bin of each row's chunk, and whether the
    /// row restarts from zero state at this chunk.
    pub fn at(&self, step: usize) -> (Vec<usize>, Vec<bool>) {
        (0..self.rows)
            .map(|r| {
                let c = (step + r) % self.chunks;
                (r * self.stretch + c * self.chunk_len, c == 0)
            })
            .unzip()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_walk_contiguously_and_restart_at_wrap() {
        let s = Streams::new(1001, 4, 10).unwrap();
        assert_eq!((s.stretch, s.chunks), (250, 25));
        for step in 0..100 {
            let (a, _) = s.at(step);
            let (b, rb) = s.at(step + 1);
            for r in 0..4 {
                // Each row stays inside its own stretch (chunk and its next-bin target).
                assert!(a[r] >= r * 250 && a[r] + 10 < (r + 1) * 250 + 1);
                if rb[r] {
                    assert_eq!(b[r], r * 250);
                } else {
                    assert_eq!(b[r], a[r] + 10, "row {r} skips at step {step}");
                }
            }
        }
        assert!(Streams::new(30, 4, 10).is_none());
    }
}
