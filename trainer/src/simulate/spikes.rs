//! Inhomogeneous Poisson spikes by time rescaling, and their quantisation to Phy samples.
//!
//! Every scenario computes, per simulation step of length `h`, an intensity (Hz) for every
//! neuron that is constant over the step. A Poisson process with such a piecewise-constant
//! intensity is generated exactly by time rescaling: each neuron holds an Exp(1) budget of
//! integrated intensity; a spike falls where the budget runs out, at the position inside the
//! step given by linear interpolation (exact for a constant intensity), and a new budget is
//! drawn. One random draw per spike, none per silent step.

use rand::Rng;
use rand_distr::Exp1;

/// Sampling rate of the Phy folders the simulator writes (samples per second).
pub const SAMPLE_RATE: f64 = 30_000.0;

/// Spike generator for `n` neurons driven by piecewise-constant intensities.
#[derive(Debug, Clone)]
pub struct PoissonSpiker {
    budget: Vec<f64>,
    /// Spike times per neuron, seconds, increasing.
    pub times: Vec<Vec<f64>>,
}

impl PoissonSpiker {
    /// A generator for `n` neurons, drawing its first budgets from `rng`.
    pub fn new<R: Rng>(n: usize, rng: &mut R) -> Self {
        let budget = (0..n).map(|_| rng.sample::<f64, _>(Exp1)).collect();
        Self {
            budget,
            times: vec![Vec::new(); n],
        }
    }

    /// Advances neuron `i` over the step `[t0, t0 + h)` at intensity `rate_hz`; returns the
    /// number of spikes it fired in the step.
    #[inline]
    pub fn step<R: Rng>(&mut self, i: usize, t0: f64, h: f64, rate_hz: f64, rng: &mut R) -> u32 {
        let lam = rate_hz.max(0.0) * h;
        let mut used = 0.0;
        let mut fired = 0;
        while self.budget[i] <= lam - used {
            used += self.budget[i];
            self.times[i].push(t0 + h * used / lam);
            self.budget[i] = rng.sample::<f64, _>(Exp1);
            fired += 1;
        }
        self.budget[i] -= lam - used;
        fired
    }
}

/// Quantises spike times to samples at [`SAMPLE_RATE`] and returns `(spike_times,
/// spike_clusters)` sorted by time (then cluster), the layout of a Phy folder. Cluster `i` is
/// neuron `i`. Spike times in `times` are replaced by their quantised values (`sample /
/// SAMPLE_RATE`), so that the in-memory trains equal what a reader gets back from the files.
pub fn quantise(times: &mut [Vec<f64>]) -> (Vec<u64>, Vec<i32>) {
    let mut pairs: Vec<(u64, i32)> = Vec::with_capacity(times.iter().map(Vec::len).sum());
    for (i, ts) in times.iter_mut().enumerate() {
        for t in ts.iter_mut() {
            // The small tolerance keeps a time that is already a sample (s / fs) on sample s
            // although (s / fs) * fs may round to just below s.
            let s = (*t * SAMPLE_RATE + 1e-6).floor().max(0.0) as u64;
            *t = s as f64 / SAMPLE_RATE;
            pairs.push((s, i as i32));
        }
    }
    pairs.sort_unstable();
    pairs.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn constant_rate_gives_poisson_count_and_sorted_times() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut sp = PoissonSpiker::new(1, &mut rng);
        let h = 1e-3;
        for k in 0..100_000 {
            sp.step(0, k as f64 * h, h, 20.0, &mut rng);
        }
        let n = sp.times[0].len() as f64;
        // 100 s at 20 Hz: 2000 spikes, sd 45.
        assert!((n - 2000.0).abs() < 200.0, "{n}");
        assert!(sp.times[0].windows(2).all(|w| w[0] <= w[1]));
        // Many spikes per step at high rate.
        let mut sp = PoissonSpiker::new(1, &mut rng);
        let mut total = 0;
        for k in 0..1000 {
            total += sp.step(0, k as f64, 1.0, 50.0, &mut rng);
        }
        assert!((f64::from(total) - 50_000.0).abs() < 1_500.0, "{total}");
    }

    #[test]
    fn quantise_sorts_by_time() {
        let mut t = vec![vec![0.5, 0.1], vec![0.3]];
        t[0].sort_by(f64::total_cmp);
        let (s, c) = quantise(&mut t);
        assert_eq!(s, vec![3000, 9000, 15000]);
        assert_eq!(c, vec![0, 1, 0]);
        // Times that are samples stay on their sample.
        let mut t = vec![(0..100_000u64).map(|s| s as f64 / SAMPLE_RATE).collect()];
        let (s, _) = quantise(&mut t);
        assert!(s.iter().enumerate().all(|(i, &x)| x == i as u64));
    }
}
