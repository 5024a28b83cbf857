//! `closed-loop`: the demo session, in which both models have something to find.
//!
//! Two mechanisms act on the same neurons, on two time scales:
//!
//! * **dynamics regimes** (for JSLDS): the 2-D four-well latent flow of [`super::regimes`]
//!   (same equation, fixed points and core-set regime rule) modulates every neuron's baseline
//!   intensity log-linearly, `b_i(t) = exp(C_i x(t) + c_i)`; the latent hops between wells
//!   every few seconds;
//! * **behaviour-dependent connectivity** (for TAVRNN): a behavioural state (`rest`,
//!   `explore`, `groom`, dwell times uniform in [`super::connectivity::DWELL_S`]) selects the
//!   Hawkes coupling of [`super::connectivity`] (a different partition into assemblies per
//!   state, every row summing to the same gain).
//!
//! ```text
//! rate_i(t) = exp(C_i x(t) + c_i) + sum_j W^s(t)_ij g_j(t)
//! ```
//! The two timelines are independent, so neither model can score by reading the other's
//! signal. `truth.json` holds the latent regimes in `regime_per_bin` (with the latent, its
//! fixed points and `latent.npy`, as `regimes` does; the wells are named `well0`..`well3` in
//! the order of `regimes`) and the behaviour in `behaviour`;
//! `behavior.csv` holds the behaviour, the labels a lab would bring.

use indicatif::ProgressBar;
use rand::Rng;
use rand_distr::StandardNormal;

use super::connectivity::{self, coupling, partition, KERNEL_TAU_S};
use super::regimes::{self, flow};
use super::spikes::PoissonSpiker;
use super::timeline::{self, BinMajority};
use super::truth::{BehaviourTruth, ConnectivityTruth, LatentTruth};
use super::{assemble, rng, Array, ArrayData, Parts, Resolved, Session, SimError};

/// Standard deviation of the entries of `C` (latent to log-intensity).
pub const READOUT_SD: f64 = 1.0;
/// Range of the baseline intensities at the origin of the latent space, Hz.
pub const BASELINE_HZ: (f64, f64) = (0.6, 2.4);

/// Simulates the `closed-loop` scenario.
pub fn simulate(res: &Resolved, progress: &ProgressBar) -> Result<Session, SimError> {
    let n = res.neurons;
    res.require(
        n <= connectivity::MAX_NEURONS,
        "--neurons",
        n,
        format!(
            "the closed-loop scenario supports at most {} neurons",
            connectivity::MAX_NEURONS
        ),
    )?;
    let names = connectivity::NAMES;
    let mut prng = rng::stream(res.seed, "closed-loop-network");
    let c_mat: Vec<f64> = (0..n * 2)
        .map(|_| READOUT_SD * prng.sample::<f64, _>(StandardNormal))
        .collect();
    let bias: Vec<f64> = (0..n)
        .map(|_| prng.random_range(BASELINE_HZ.0..BASELINE_HZ.1).ln())
        .collect();
    let assemblies: Vec<Vec<Vec<u32>>> = names.iter().map(|_| partition(n, &mut prng)).collect();
    let weights: Vec<Vec<f64>> = assemblies.iter().map(|a| coupling(n, a)).collect();

    let state_of_bin =
        connectivity::state_timeline(res, &mut rng::stream(res.seed, "closed-loop-behaviour"));

    let fps = regimes::fixed_points(res.step_s, res.steps_per_bin);
    let mut attractors = [[0.0f64; 2]; regimes::K];
    for p in &fps {
        if let Some(k) = p.regime {
            attractors[usize::from(k)] = [p.point[0], p.point[1]];
        }
    }

    let mut noise = rng::stream(res.seed, "latent-noise");
    let mut spike_rng = rng::stream(res.seed, "spikes");
    let mut spiker = PoissonSpiker::new(n, &mut spike_rng);
    let h = res.step_s;
    let sd = regimes::NOISE_SD * h.sqrt();
    let decay = (-h / KERNEL_TAU_S).exp();
    let jump = (1.0 - decay) / h;
    let mut x = attractors[0];
    let mut regime = 0u16;
    let mut trace = vec![0.0f64; n];
    let mut drive = vec![0.0f64; n];
    let mut fired: Vec<usize> = Vec::new();
    let mut regime_labels = BinMajority::new(regimes::K, res.n_bins);
    let mut latent = Vec::with_capacity(res.n_bins * 2);
    let mut current = usize::MAX;
    for (b, &state) in state_of_bin.iter().enumerate() {
        let st = usize::from(state);
        let w = &weights[st];
        if st != current {
            current = st;
            for (i, d) in drive.iter_mut().enumerate() {
                *d = w[i * n..(i + 1) * n]
                    .iter()
                    .zip(&trace)
                    .map(|(a, g)| a * g)
                    .sum();
            }
        }
        let mut acc = [0.0f64; 2];
        for s in 0..res.steps_per_bin {
            let t = (b * res.steps_per_bin + s) as f64 * h;
            for (k, p) in attractors.iter().enumerate() {
                if (x[0] - p[0]).hypot(x[1] - p[1]) < regimes::CORE_RADIUS {
                    regime = k as u16;
                }
            }
            regime_labels.push(regime);
            acc[0] += x[0];
            acc[1] += x[1];
            fired.clear();
            for i in 0..n {
                let z = c_mat[2 * i] * x[0] + c_mat[2 * i + 1] * x[1] + bias[i];
                let k = spiker.step(i, t, h, z.exp() + drive[i], &mut spike_rng);
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
            let (f, _) = flow(&x);
            for (xi, fi) in x.iter_mut().zip(f) {
                *xi += h * fi + sd * noise.sample::<f64, _>(StandardNormal);
            }
        }
        regime_labels.close_bin();
        let m = res.steps_per_bin as f64;
        latent.extend([(acc[0] / m) as f32, (acc[1] / m) as f32]);
        if b % 256 == 0 {
            progress.set_position(b as u64);
        }
    }
    progress.set_position(res.n_bins as u64);

    let baseline_hz: Vec<f64> = bias.iter().map(|c| c.exp()).collect();
    let states = connectivity::coupling_states(&baseline_hz, &assemblies, &weights);
    let conn = ConnectivityTruth {
        model: "rate_i(t) = exp(C_i x(t) + c_i) + sum_j W^s_ij g_j(t) (closed-loop: x the \
                four-well latent of `latent`, s the behaviour of `behaviour`; g as in the \
                connectivity scenario); baseline_hz = exp(c_i), the intensity at x = 0, and the \
                expected rates are those at x = 0"
            .into(),
        kernel_tau_s: KERNEL_TAU_S,
        baseline_hz,
        states,
    };
    let behaviour_names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let behaviour = BehaviourTruth {
        segments: timeline::segments(&state_of_bin, &behaviour_names, res.bin_s),
        names: behaviour_names,
        per_bin: state_of_bin,
    };
    let latent_truth = LatentTruth {
        dim: 2,
        dim_names: vec!["x0".into(), "x1".into()],
        dynamics: "as in the regimes scenario: dx = (sum_k w_k(x) p_k - x) / tau dt + noise_sd dW"
            .into(),
        tau_s: regimes::TAU_S,
        noise_sd: regimes::NOISE_SD,
        readout: c_mat.chunks(2).map(<[f64]>::to_vec).collect(),
        readout_bias: bias,
        latent_file: "latent.npy".into(),
    };
    let parts = Parts {
        times: spiker.times,
        names: (0..regimes::K).map(|k| format!("well{k}")).collect(),
        label_per_bin: regime_labels.per_bin,
        arrays: vec![Array {
            file: "latent.npy".into(),
            shape: vec![res.n_bins as u64, 2],
            data: ArrayData::F32(latent),
        }],
    };
    Ok(assemble(res, parts, |t| {
        t.latent = Some(latent_truth);
        t.fixed_points = Some(fps);
        t.connectivity = Some(conn);
        t.behaviour = Some(behaviour);
    }))
}

#[cfg(test)]
mod tests {
    use super::super::{simulate as run, Options, Scenario};
    use indicatif::ProgressBar;

    #[test]
    fn both_timelines_are_present_and_independent() {
        let opts = Options {
            seed: 3,
            neurons: Some(32),
            duration_s: Some(120.0),
            bin_ms: None,
        };
        let s = run(Scenario::ClosedLoop, &opts, &ProgressBar::hidden()).unwrap();
        let t = &s.truth;
        let b = t.behaviour.as_ref().expect("behaviour truth");
        assert_eq!(b.per_bin.len(), t.n_bins);
        assert_eq!(t.regime_per_bin.len(), t.n_bins);
        assert_eq!(t.regime_names.len(), super::regimes::K);
        // Regimes hop every few seconds; behaviour dwells 8-25 s.
        let switches = |v: &[u16]| v.windows(2).filter(|w| w[0] != w[1]).count();
        assert!(switches(&t.regime_per_bin) > 2 * switches(&b.per_bin));
        assert!(switches(&b.per_bin) >= 3);
        // The two timelines are not the same labelling.
        let same = t
            .regime_per_bin
            .iter()
            .zip(&b.per_bin)
            .filter(|(a, b)| a == b)
            .count();
        assert!(same < t.n_bins * 3 / 4);
        assert!(t.connectivity.is_some() && t.latent.is_some() && t.fixed_points.is_some());
        assert!(s.n_spikes() > 32 * 120);
    }
}
