//! Synthetic 3-bit flip-flop session for the prototype only (the project's simulator is
//! written elsewhere): 3 pulse channels set the bits of a state s in {-1, +1}^3 (8 corner fixed
//! points); N neurons spike (Poisson) per bin. `pulse_neurons` of them report the pulses
//! (one group per channel and sign), the rest follow the state through a log-linear map
//! `log rate = c + C s`.

use rand::{Rng, SeedableRng, rngs::StdRng};
use rand_distr::{Distribution, Normal, Poisson};

#[derive(Clone, Debug)]
pub struct FlipFlopConfig {
    pub bins: usize,
    pub neurons: usize,
    /// Neurons per (channel, sign) pulse group; 6 groups.
    pub per_pulse_group: usize,
    /// Probability per bin and channel of a pulse.
    pub pulse_prob: f64,
    /// Expected spikes a bin of a pulse neuron during its pulse / otherwise.
    pub pulse_rate: f64,
    pub pulse_baseline: f64,
    /// State neurons: baseline rate a bin and modulation sd of C.
    pub state_rate: f64,
    pub state_gain_sd: f64,
    pub seed: u64,
}

impl Default for FlipFlopConfig {
    fn default() -> Self {
        Self {
            bins: 60_000,
            neurons: 50,
            per_pulse_group: 2,
            pulse_prob: 0.01,
            pulse_rate: 3.0,
            pulse_baseline: 0.05,
            state_rate: 0.2,
            state_gain_sd: 0.4,
            seed: 7,
        }
    }
}

/// A generated session.
pub struct FlipFlop {
    /// `[bins, neurons]` row-major.
    pub counts: Vec<u32>,
    /// True state `[bins, 3]` row-major (after the bin's pulse).
    pub state: Vec<f32>,
    /// True expected counts `[bins, neurons]` (the Poisson rates used).
    pub rates: Vec<f32>,
    pub neurons: usize,
}

pub fn generate(cfg: &FlipFlopConfig) -> FlipFlop {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let n_pulse = 6 * cfg.per_pulse_group;
    assert!(
        cfg.neurons > n_pulse,
        "flip-flop needs more neurons than pulse neurons"
    );
    let n_state = cfg.neurons - n_pulse;
    let gain = Normal::new(0.0, cfg.state_gain_sd).expect("valid sd");
    let c: Vec<[f64; 3]> = (0..n_state)
        .map(|_| {
            [
                gain.sample(&mut rng),
                gain.sample(&mut rng),
                gain.sample(&mut rng),
            ]
        })
        .collect();
    let base = cfg.state_rate.ln();
    let mut s = [1f64, -1.0, 1.0];
    let mut counts = Vec::with_capacity(cfg.bins * cfg.neurons);
    let mut state = Vec::with_capacity(cfg.bins * 3);
    let mut rates = Vec::with_capacity(cfg.bins * cfg.neurons);
    let poisson = |rate: f64, rng: &mut StdRng| -> u32 {
        Poisson::new(rate)
            .map(|p| p.sample(rng) as u32)
            .unwrap_or(0)
    };
    for _ in 0..cfg.bins {
        let mut pulse = [0i8; 3];
        for ch in 0..3 {
            if rng.random::<f64>() < cfg.pulse_prob {
                pulse[ch] = if rng.random::<bool>() { 1 } else { -1 };
                s[ch] = pulse[ch] as f64;
            }
        }
        for ch in 0..3 {
            for sign in [1i8, -1] {
                let on = pulse[ch] == sign;
                for _ in 0..cfg.per_pulse_group {
                    let r = if on {
                        cfg.pulse_rate
                    } else {
                        cfg.pulse_baseline
                    };
                    rates.push(r as f32);
                    counts.push(poisson(r, &mut rng));
                }
            }
        }
        for ci in &c {
            let eta = base + ci[0] * s[0] + ci[1] * s[1] + ci[2] * s[2];
            rates.push(eta.exp() as f32);
            counts.push(poisson(eta.exp(), &mut rng));
        }
        state.extend(s.iter().map(|&x| x as f32));
    }
    FlipFlop {
        counts,
        state,
        rates,
        neurons: cfg.neurons,
    }
}
