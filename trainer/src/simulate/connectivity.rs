//! `connectivity`: a linear Hawkes network whose assemblies change with the behavioural state.
//!
//! ```text
//! rate_i(t) = baseline_i + sum_j W^s_ij g_j(t),   g_j(t) = sum_{spikes t' < t of j} exp(-(t - t') / tau) / tau
//! ```
//! with `s` the state at time `t`. In every state the neurons are split into assemblies of
//! equal size (a different random partition per state); within an assembly every neuron
//! excites every other with `W_ij = gain / (size - 1)`, so every row of `W` sums to [`GAIN`]
//! in every state. The stationary rates, `(I - W)^-1 baseline`, are therefore the same on
//! average in every state and the population rate barely moves between states, while the
//! zero-lag correlations (high within an assembly) change completely. The kernel is
//! discretised at the simulation step `h`: a spike adds `(1 - exp(-h / tau)) / h` to `g` at
//! the end of its step (a delay below one step) and `g` decays by `exp(-h / tau)` a step, so the
//! kernel still integrates to 1 and the stationary rates are exact.
//! States follow each other with dwell times uniform in [`DWELL_S`].

use indicatif::ProgressBar;
use rand::seq::SliceRandom;
use rand::Rng;

use super::spikes::PoissonSpiker;
use super::timeline::BinMajority;
use super::truth::{ConnectivityTruth, CouplingState};
use super::{assemble, rng, Parts, Resolved, Session, SimError};

/// Names of the behavioural states.
pub const NAMES: [&str; 3] = ["rest", "explore", "groom"];
/// Sum of each row of the coupling matrix (branching ratio).
pub const GAIN: f64 = 0.85;
/// Synaptic time constant, seconds.
pub const KERNEL_TAU_S: f64 = 0.01;
/// Neurons per assembly (target; assemblies of a state have equal sizes where possible).
pub const ASSEMBLY_SIZE: usize = 16;
/// Range of the dwell time in a state, seconds.
pub const DWELL_S: (f64, f64) = (8.0, 25.0);
/// Range of the baseline intensities, Hz.
pub const BASELINE_HZ: (f64, f64) = (0.6, 2.4);
/// Fewest neurons: two assemblies of eight.
pub const MIN_NEURONS: usize = 16;
/// Most neurons (the coupling matrices are written densely to `truth.json`).
pub const MAX_NEURONS: usize = 512;

/// Assemblies of one state: a random partition of `0..n` into `max(2, n / 16)` groups.
pub(crate) fn partition<R: Rng>(n: usize, rng: &mut R) -> Vec<Vec<u32>> {
    let groups = (n / ASSEMBLY_SIZE).max(2);
    let mut order: Vec<u32> = (0..n as u32).collect();
    order.shuffle(rng);
    let mut out = vec![Vec::new(); groups];
    for (k, u) in order.into_iter().enumerate() {
        out[k % groups].push(u);
    }
    out.iter_mut().for_each(|g| g.sort_unstable());
    out
}

/// Dense coupling of a partition, row-major `n x n`.
pub(crate) fn coupling(n: usize, assemblies: &[Vec<u32>]) -> Vec<f64> {
    let mut w = vec![0.0; n * n];
    for a in assemblies {
        let k = GAIN / (a.len() - 1) as f64;
        for &i in a {
            for &j in a {
                if i != j {
                    w[i as usize * n + j as usize] = k;
                }
            }
        }
    }
    w
}

/// Stationary rates `(I - W)^-1 b` of a partition, in closed form: inside an assembly of size
/// `n` with `k = gain / (n - 1)`, the sum is `S = B / (1 - gain)` and `m_i = (b_i + k S) / (1 + k)`.
pub(crate) fn stationary(baseline: &[f64], assemblies: &[Vec<u32>]) -> Vec<f64> {
    let mut m = vec![0.0; baseline.len()];
    for a in assemblies {
        let k = GAIN / (a.len() - 1) as f64;
        let s = a.iter().map(|&i| baseline[i as usize]).sum::<f64>() / (1.0 - GAIN);
        for &i in a {
            m[i as usize] = (baseline[i as usize] + k * s) / (1.0 + k);
        }
    }
    m
}

/// Behavioural state of every bin: states follow each other (never the same twice in a row)
/// with dwell times uniform in [`DWELL_S`].
pub(crate) fn state_timeline(res: &Resolved, trng: &mut impl Rng) -> Vec<u16> {
    let mut state_of_bin = Vec::with_capacity(res.n_bins);
    let mut s = trng.random_range(0..NAMES.len());
    while state_of_bin.len() < res.n_bins {
        let dwell = trng.random_range(DWELL_S.0..DWELL_S.1);
        let bins = ((dwell / res.bin_s).round() as usize).max(1);
        for _ in 0..bins.min(res.n_bins - state_of_bin.len()) {
            state_of_bin.push(s as u16);
        }
        s = (s + trng.random_range(1..NAMES.len())) % NAMES.len();
    }
    state_of_bin
}

/// The truth of every state: its coupling, assemblies and stationary rates given `baseline`.
pub(crate) fn coupling_states(
    baseline: &[f64],
    assemblies: &[Vec<Vec<u32>>],
    weights: &[Vec<f64>],
) -> Vec<CouplingState> {
    let n = baseline.len();
    NAMES
        .iter()
        .zip(assemblies)
        .zip(weights)
        .map(|((name, a), w)| {
            let rates = stationary(baseline, a);
            CouplingState {
                name: (*name).to_string(),
                coupling: w.chunks(n).map(<[f64]>::to_vec).collect(),
                assemblies: a.clone(),
                expected_population_rate_hz: rates.iter().sum(),
                expected_rate_hz: rates,
            }
        })
        .collect()
}

/// Simulates the `connectivity` scenario.
pub fn simulate(res: &Resolved, progress: &ProgressBar) -> Result<Session, SimError> {
    let n = res.neurons;
    res.require(
        n <= MAX_NEURONS,
        "--neurons",
        n,
        format!("the connectivity scenario supports at most {MAX_NEURONS} neurons"),
    )?;
    let mut prng = rng::stream(res.seed, "connectivity-network");
    let baseline: Vec<f64> = (0..n)
        .map(|_| prng.random_range(BASELINE_HZ.0..BASELINE_HZ.1))
        .collect();
    let assemblies: Vec<Vec<Vec<u32>>> = NAMES.iter().map(|_| partition(n, &mut prng)).collect();
    let weights: Vec<Vec<f64>> = assemblies.iter().map(|a| coupling(n, a)).collect();

    let state_of_bin = state_timeline(res, &mut rng::stream(res.seed, "connectivity-states"));

    // Network.
    let mut spike_rng = rng::stream(res.seed, "spikes");
    let mut spiker = PoissonSpiker::new(n, &mut spike_rng);
    let h = res.step_s;
    let decay = (-h / KERNEL_TAU_S).exp();
    // Jump of g_j per spike: the discretised kernel sums to exactly 1 over the steps that
    // follow a spike (sum_k jump * decay^k * h = 1), so the stationary rates are exact.
    let jump = (1.0 - decay) / h;
    let mut trace = vec![0.0f64; n]; // g_j
    let mut drive = vec![0.0f64; n]; // sum_j W_ij g_j
    let mut fired: Vec<usize> = Vec::new();
    let mut labels = BinMajority::new(NAMES.len(), res.n_bins);
    let mut current = usize::MAX;
    for (b, &state) in state_of_bin.iter().enumerate() {
        let st = usize::from(state);
        if st != current {
            current = st;
            let w = &weights[st];
            for (i, d) in drive.iter_mut().enumerate() {
                *d = w[i * n..(i + 1) * n]
                    .iter()
                    .zip(&trace)
                    .map(|(a, g)| a * g)
                    .sum();
            }
        }
        let w = &weights[st];
        for s in 0..res.steps_per_bin {
            let t = (b * res.steps_per_bin + s) as f64 * h;
            labels.push(st as u16);
            fired.clear();
            for i in 0..n {
                let k = spiker.step(i, t, h, baseline[i] + drive[i], &mut spike_rng);
                for _ in 0..k {
                    fired.push(i);
                }
            }
            trace.iter_mut().for_each(|g| *g *= decay);
            drive.iter_mut().for_each(|d| *d *= decay);
            for &j in &fired {
                trace[j] += jump;
                for (i, d) in drive.iter_mut().enumerate() {
                    *d += w[i * n + j] * jump;
                }
            }
        }
        labels.close_bin();
        if b % 256 == 0 {
            progress.set_position(b as u64);
        }
    }
    progress.set_position(res.n_bins as u64);

    let states = coupling_states(&baseline, &assemblies, &weights);
    let conn = ConnectivityTruth {
        model: "rate_i(t) = baseline_i + sum_j W^s_ij g_j(t), g_j(t) = sum over spikes t' < t of \
                neuron j of exp(-(t - t') / kernel_tau) / kernel_tau (discretised at sim_step_s: \
                a spike adds (1 - exp(-h / kernel_tau)) / h to g_j at the end of its step); s the \
                state at t"
            .into(),
        kernel_tau_s: KERNEL_TAU_S,
        baseline_hz: baseline,
        states,
    };
    let parts = Parts {
        times: spiker.times,
        names: NAMES.iter().map(|s| s.to_string()).collect(),
        label_per_bin: labels.per_bin,
        arrays: Vec::new(),
    };
    Ok(assemble(res, parts, |t| t.connectivity = Some(conn)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stationary_rates_solve_the_linear_system() {
        let mut r = rng::stream(1, "t");
        let n = 20;
        let a = partition(n, &mut r);
        let b: Vec<f64> = (0..n).map(|i| 1.0 + i as f64 * 0.1).collect();
        let m = stationary(&b, &a);
        let w = coupling(n, &a);
        for i in 0..n {
            let wm: f64 = (0..n).map(|j| w[i * n + j] * m[j]).sum();
            assert!((m[i] - wm - b[i]).abs() < 1e-9);
        }
        for i in 0..n {
            let row: f64 = w[i * n..(i + 1) * n].iter().sum();
            assert!((row - GAIN).abs() < 1e-12);
        }
    }
}
