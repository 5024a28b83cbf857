//! `flipflop`: a 3-bit flip-flop driven by input pulses.
//!
//! Each latent dimension is bistable, `dx_i = (x_i - x_i^3 + u_i(t)) / tau dt + sigma dW`:
//! without input the fixed points are the 27 points of `{-1, 0, 1}^3`, of which the 8 corners
//! are stable (Jacobian `-2 / tau` on every axis) and the rest unstable. A pulse on channel `i`
//! (`u_i = +-A` for [`PULSE_S`]) sets (`+`) or clears (`-`) bit `i`; pulses arrive at random
//! times with random signs, so many leave the bit as it was.
//!
//! How a model sees the inputs: `2 * m` input units per channel (`m = max(1, neurons / 32)`,
//! the last units of the session) fire at [`INPUT_BASE_HZ`] between pulses and at
//! [`INPUT_PULSE_HZ`] during a pulse of their sign; the other units read the latent state
//! through `exp(C x + c)`. The state is the corner the latent last came within
//! [`CORE_HALF_WIDTH`] of (on every axis); its name is `s` followed by the bits of channels
//! 0, 1, 2 (`s101`: bits 0 and 2 set), its index is `bit0 + 2 bit1 + 4 bit2`.

use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::{Exp, StandardNormal};

use super::latent::{self, per_bin, LatentSystem, LogLinear};
use super::truth::{FixedPoint, FlipflopTruth, InputUnit, LatentTruth, Pulse};
use super::{assemble, rng, Array, ArrayData, Parts, Resolved, Session, SimError};

/// Input channels (bits).
pub const CHANNELS: usize = 3;
/// Time constant, seconds.
pub const TAU_S: f64 = 0.05;
/// Noise, per sqrt(second).
pub const NOISE_SD: f64 = 0.5;
/// Pulse amplitude in the latent equation.
pub const PULSE_AMPLITUDE: f64 = 2.0;
/// Pulse duration, seconds.
pub const PULSE_S: f64 = 0.05;
/// Shortest gap between pulse onsets on one channel, seconds.
pub const MIN_GAP_S: f64 = 0.3;
/// Mean gap between pulse onsets on one channel, seconds.
pub const MEAN_GAP_S: f64 = 2.0;
/// Input-unit rate between pulses, Hz.
pub const INPUT_BASE_HZ: f64 = 4.0;
/// Input-unit rate during a pulse of its sign, Hz.
pub const INPUT_PULSE_HZ: f64 = 120.0;
/// A state is entered when every coordinate is within this distance of the corner.
pub const CORE_HALF_WIDTH: f64 = 0.5;
/// Fewest neurons: 6 input units and 8 latent units.
pub const MIN_NEURONS: usize = 14;

/// Name of state `k`.
pub fn state_name(k: usize) -> String {
    format!("s{}{}{}", k & 1, (k >> 1) & 1, (k >> 2) & 1)
}

/// Input units per channel and sign.
pub fn inputs_per_sign(neurons: usize) -> usize {
    (neurons / 32).max(1)
}

/// The 27 fixed points without input.
pub fn fixed_points(h: f64, m: usize) -> Vec<FixedPoint> {
    let mut out = Vec::new();
    for code in 0..27usize {
        let p = [
            (code % 3) as f64 - 1.0,
            ((code / 3) % 3) as f64 - 1.0,
            (code / 9) as f64 - 1.0,
        ];
        let eig: Vec<[f64; 2]> = p
            .iter()
            .map(|x| [(1.0 - 3.0 * x * x) / TAU_S, 0.0])
            .collect();
        let stable = p.iter().all(|x| *x != 0.0);
        let regime = stable.then(|| {
            p.iter()
                .enumerate()
                .map(|(i, x)| if *x > 0.0 { 1u16 << i } else { 0 })
                .sum::<u16>()
        });
        out.push(FixedPoint {
            point: p.to_vec(),
            stable,
            regime,
            eigenvalues_per_bin: eig.iter().map(|&e| per_bin(e, h, m)).collect(),
            eigenvalues_per_s: eig,
        });
    }
    out
}

/// A scheduled pulse, in simulation steps.
#[derive(Debug, Clone, Copy)]
struct Scheduled {
    start: usize,
    end: usize,
    sign: i8,
}

struct Flipflop {
    readout: LogLinear,
    /// Pulses per channel, sorted by start.
    pulses: Vec<Vec<Scheduled>>,
    /// First input unit; units `first_input..` are input units, `m` per channel and sign.
    first_input: usize,
    m: usize,
    current: u16,
    init_state: u16,
}

impl Flipflop {
    /// Input of channel `c` during step `step`.
    fn input(&self, c: usize, step: usize) -> i8 {
        let p = &self.pulses[c];
        let i = p.partition_point(|q| q.start <= step);
        if i > 0 && step < p[i - 1].end {
            p[i - 1].sign
        } else {
            0
        }
    }
}

impl LatentSystem for Flipflop {
    fn dim(&self) -> usize {
        CHANNELS
    }
    fn n_labels(&self) -> usize {
        1 << CHANNELS
    }
    fn init(&mut self, x: &mut [f64], _rng: &mut StdRng) {
        for (i, xi) in x.iter_mut().enumerate() {
            *xi = if self.init_state >> i & 1 == 1 {
                1.0
            } else {
                -1.0
            };
        }
        self.current = self.init_state;
    }
    fn advance(&mut self, x: &mut [f64], step: usize, _t: f64, h: f64, rng: &mut StdRng) {
        let sd = NOISE_SD * h.sqrt();
        for (c, xi) in x.iter_mut().enumerate() {
            let u = PULSE_AMPLITUDE * f64::from(self.input(c, step));
            let f = (*xi - *xi * *xi * *xi + u) / TAU_S;
            *xi += h * f + sd * rng.sample::<f64, _>(StandardNormal);
        }
    }
    fn label(&mut self, x: &[f64]) -> u16 {
        if x.iter().all(|v| (v.abs() - 1.0).abs() < CORE_HALF_WIDTH) {
            self.current = x
                .iter()
                .enumerate()
                .map(|(i, v)| if *v > 0.0 { 1u16 << i } else { 0 })
                .sum();
        }
        self.current
    }
    fn rates(&self, x: &[f64], step: usize, out: &mut [f64]) {
        self.readout.rates(x, &mut out[..self.first_input]);
        let boost = (INPUT_PULSE_HZ / INPUT_BASE_HZ).ln();
        for c in 0..CHANNELS {
            let u = self.input(c, step);
            for (s, sign) in [1i8, -1].into_iter().enumerate() {
                let on = if u == sign { boost } else { 0.0 };
                let first = self.first_input + (c * 2 + s) * self.m;
                for o in &mut out[first..first + self.m] {
                    *o = INPUT_BASE_HZ * on.exp();
                }
            }
        }
    }
}

/// Simulates the `flipflop` scenario.
pub fn simulate(res: &Resolved, progress: &ProgressBar) -> Result<Session, SimError> {
    let n = res.neurons;
    let m = inputs_per_sign(n);
    let n_inputs = 2 * CHANNELS * m;
    let first_input = n - n_inputs;
    res.require(
        res.bin_s <= 0.25,
        "--bin-ms",
        res.bin_s * 1000.0,
        "flip-flop pulses last 50 ms; bins longer than 250 ms would hide them",
    )?;
    let mut prng = rng::stream(res.seed, "flipflop-readout");
    let mut c_mat = vec![0.0; n * CHANNELS];
    for v in c_mat.iter_mut().take(first_input * CHANNELS) {
        *v = 0.5 * prng.sample::<f64, _>(StandardNormal);
    }
    let mut bias: Vec<f64> = (0..first_input)
        .map(|_| prng.random_range(3.0f64..10.0).ln())
        .collect();
    bias.extend(std::iter::repeat_n(INPUT_BASE_HZ.ln(), n_inputs));
    let readout = LogLinear {
        c_mat,
        bias,
        dim: CHANNELS,
    };
    // Pulse schedule, in steps.
    let mut srng = rng::stream(res.seed, "flipflop-pulses");
    let gap = Exp::new(1.0 / (MEAN_GAP_S - MIN_GAP_S)).expect("positive rate");
    let total = res.total_steps();
    let pulse_steps = (PULSE_S / res.step_s).round().max(1.0) as usize;
    let mut pulses = Vec::with_capacity(CHANNELS);
    for _ in 0..CHANNELS {
        let mut list = Vec::new();
        let mut t = MIN_GAP_S + srng.sample(gap);
        loop {
            let start = (t / res.step_s).round() as usize;
            if start + pulse_steps > total {
                break;
            }
            let sign = if srng.random::<bool>() { 1 } else { -1 };
            list.push(Scheduled {
                start,
                end: start + pulse_steps,
                sign,
            });
            t += MIN_GAP_S + srng.sample(gap);
        }
        pulses.push(list);
    }
    let init_state = srng.random_range(0..8u16);
    let mut sys = Flipflop {
        readout,
        pulses,
        first_input,
        m,
        current: init_state,
        init_state,
    };
    let run = latent::run(&mut sys, res, progress);

    // Input per bin, and which pulses found the bit in the other state.
    let spb = res.steps_per_bin;
    let mut inputs = vec![0.0f32; res.n_bins * CHANNELS];
    let mut truth_pulses = Vec::new();
    for (c, list) in sys.pulses.iter().enumerate() {
        for p in list {
            for step in p.start..p.end {
                inputs[(step / spb) * CHANNELS + c] += f32::from(p.sign) / spb as f32;
            }
            let bin = p.start / spb;
            let before = if bin == 0 {
                init_state
            } else {
                run.label_per_bin[bin - 1]
            };
            let bit_set = before >> c & 1 == 1;
            truth_pulses.push(Pulse {
                time_s: p.start as f64 * res.step_s,
                channel: c,
                sign: p.sign,
                flipped: bit_set != (p.sign > 0),
            });
        }
    }
    truth_pulses.sort_by(|a, b| {
        a.time_s
            .total_cmp(&b.time_s)
            .then(a.channel.cmp(&b.channel))
    });
    let mut input_units = Vec::new();
    for c in 0..CHANNELS {
        for (s, sign) in [1i8, -1].into_iter().enumerate() {
            let first = first_input + (c * 2 + s) * m;
            for u in first..first + m {
                input_units.push(InputUnit {
                    unit: u as u32,
                    channel: c,
                    sign,
                    base_rate_hz: INPUT_BASE_HZ,
                    pulse_rate_hz: INPUT_PULSE_HZ,
                });
            }
        }
    }
    let flip = FlipflopTruth {
        channels: CHANNELS,
        pulse_amplitude: PULSE_AMPLITUDE,
        pulse_duration_s: pulse_steps as f64 * res.step_s,
        pulses: truth_pulses,
        input_units,
        input_file: "inputs.npy".into(),
    };
    let latent_truth = LatentTruth {
        dim: CHANNELS,
        dim_names: (0..CHANNELS).map(|c| format!("bit{c}")).collect(),
        dynamics: "dx_i = (x_i - x_i^3 + pulse_amplitude * u_i(t)) / tau dt + noise_sd dW, \
                   u_i(t) in {-1, 0, 1}"
            .into(),
        tau_s: TAU_S,
        noise_sd: NOISE_SD,
        readout: sys.readout.rows(),
        readout_bias: sys.readout.bias.clone(),
        latent_file: "latent.npy".into(),
    };
    let parts = Parts {
        times: run.times,
        names: (0..8).map(state_name).collect(),
        label_per_bin: run.label_per_bin,
        arrays: vec![
            Array {
                file: "latent.npy".into(),
                shape: vec![res.n_bins as u64, CHANNELS as u64],
                data: ArrayData::F32(run.latent_per_bin),
            },
            Array {
                file: "inputs.npy".into(),
                shape: vec![res.n_bins as u64, CHANNELS as u64],
                data: ArrayData::F32(inputs),
            },
        ],
    };
    let fps = fixed_points(res.step_s, res.steps_per_bin);
    Ok(assemble(res, parts, |t| {
        t.latent = Some(latent_truth);
        t.fixed_points = Some(fps);
        t.flipflop = Some(flip);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_stable_corners() {
        let fps = fixed_points(1e-3, 10);
        assert_eq!(fps.len(), 27);
        let stable: Vec<_> = fps.iter().filter(|p| p.stable).collect();
        assert_eq!(stable.len(), 8);
        let mut regimes: Vec<u16> = stable.iter().map(|p| p.regime.unwrap()).collect();
        regimes.sort_unstable();
        assert_eq!(regimes, (0..8).collect::<Vec<u16>>());
        assert_eq!(state_name(5), "s101");
    }
}
