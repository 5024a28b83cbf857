//! Circular-shift surrogate significance test of correlations (see [`SurrogateTest`]).

use super::rng::SplitMix64;
use super::{Correlation, GraphError, SurrogateTest, WindowSums};

/// Number of surrogates `n - m` that may reach |R| for an edge to be kept, with
/// `m = ceil((1 - alpha) n)`. A tolerance of 1e-9 keeps `(1 - 0.05) * 100` at 95, not 96.
pub fn allowed_exceedances(test: &SurrogateTest) -> usize {
    let n = test.surrogates as f64;
    let m = ((1.0 - test.alpha) * n - 1e-9).ceil().max(0.0) as usize;
    test.surrogates.saturating_sub(m)
}

/// The pairs whose correlation passes the surrogate test, as a symmetric row-major
/// `n_units^2` mask (false on the diagonal and for pairs with `R = 0`, which are never
/// edges).
///
/// `rows` are the counts of the window (row-major, one row a bin) and `corr` their
/// correlation; `stream` selects the random stream (the window index in a sequence), so
/// that a window's mask depends only on `(test.seed, stream)` and its counts. Each
/// surrogate rotates neuron `i`'s counts by an offset `o_i` uniform in `0..n_bins`:
/// `x'_i(t) = x_i((t + o_i) mod n_bins)`.
pub fn significant_pairs(
    n_units: usize,
    rows: &[u32],
    corr: &Correlation,
    test: &SurrogateTest,
    stream: u64,
) -> Result<Vec<bool>, GraphError> {
    if corr.n_units() != n_units {
        return Err(GraphError::Config {
            field: "correlation",
            problem: format!("has {} units, the window has {n_units}", corr.n_units()),
        });
    }
    let mut mask = vec![false; n_units * n_units];
    if n_units == 0 {
        return Ok(mask);
    }
    let n_bins = super::correlation::check_whole_rows(n_units, rows)?;
    if n_bins as u64 > WindowSums::MAX_BINS {
        return Err(GraphError::WindowTooLong {
            max: WindowSums::MAX_BINS,
        });
    }
    // The non-zero counts as events (bin, unit, count), unit-major: rotating a neuron moves
    // its events, so a surrogate costs O(events + bins), not O(bins x units).
    let mut events: Vec<(usize, usize, u64)> = Vec::new();
    for i in 0..n_units {
        for t in 0..n_bins {
            let x = rows[t * n_units + i];
            if x != 0 {
                events.push((t, i, u64::from(x)));
            }
        }
    }
    let mut rng = SplitMix64::for_stream(test.seed, stream);
    // exceed[i * n + j], i < j: surrogates with |R_s| >= |R|.
    let mut exceed = vec![0u32; n_units * n_units];
    let mut sums = WindowSums::new(n_units);
    let mut offsets = vec![0usize; n_units];
    let mut start = vec![0usize; n_bins + 1];
    let mut next = vec![0usize; n_bins + 1];
    let mut placed = vec![(0usize, 0u64); events.len()];
    let sd = WindowSums::from_rows(n_units, rows)?.scaled_sd();
    let shifted = |t: usize, o: usize| if t >= o { t - o } else { t + n_bins - o };
    for _ in 0..test.surrogates {
        for o in offsets.iter_mut() {
            *o = rng.below(n_bins as u64) as usize;
        }
        // x'_i(t) = x_i((t + o_i) mod n): the event at bin s moves to (s - o_i) mod n.
        // Counting sort by new bin; placing in unit-major order keeps units increasing
        // within a bin.
        start.fill(0);
        for &(t, i, _) in &events {
            start[shifted(t, offsets[i]) + 1] += 1;
        }
        for t in 0..n_bins {
            start[t + 1] += start[t];
        }
        next.copy_from_slice(&start);
        for &(t, i, x) in &events {
            let b = shifted(t, offsets[i]);
            placed[next[b]] = (i, x);
            next[b] += 1;
        }
        sums.reset();
        for t in 0..n_bins {
            sums.push_nonzero(&placed[start[t]..start[t + 1]]);
        }
        // Rotation keeps S_i and Q_i, so sd is the data's; pairs with R = 0 are never edges
        // and are not tested.
        for i in 0..n_units {
            for j in i + 1..n_units {
                let r = corr.get(i, j).abs();
                if r != 0.0 && sums.pair_correlation(&sd, i, j).abs() >= r {
                    exceed[i * n_units + j] += 1;
                }
            }
        }
    }
    let allowed = allowed_exceedances(test) as u32;
    for i in 0..n_units {
        for j in i + 1..n_units {
            if corr.get(i, j) != 0.0 && exceed[i * n_units + j] <= allowed {
                mask[i * n_units + j] = true;
                mask[j * n_units + i] = true;
            }
        }
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_exceedances_follow_the_quantile() {
        let t = |surrogates, alpha| SurrogateTest {
            surrogates,
            alpha,
            seed: 0,
        };
        assert_eq!(allowed_exceedances(&t(99, 0.05)), 4);
        assert_eq!(allowed_exceedances(&t(100, 0.05)), 5);
        assert_eq!(allowed_exceedances(&t(19, 0.05)), 0);
        assert_eq!(allowed_exceedances(&t(1000, 0.01)), 10);
        assert_eq!(allowed_exceedances(&t(10, 0.5)), 5);
    }
}
