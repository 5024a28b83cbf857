//! `ring-theta`: a ring attractor carrying a running position, with an 8 Hz limit cycle.
//!
//! Latent dimensions 0, 1 hold the ring: `x = centre + r (cos theta, sin theta)`, where the
//! radius relaxes to [`RADIUS`] (`dr = (R - r) / tau_r dt + sigma_r dW`) and the angle is the
//! position of an animal running round a circular track, `dtheta = v dt + sigma_theta dW`,
//! its speed an Ornstein–Uhlenbeck process around [`MEAN_SPEED_RAD_S`]. Without input every
//! point of the ring is a fixed point (a continuous attractor).
//!
//! Latent dimensions 2, 3 hold a Hopf limit cycle, `dz = (mu (1 - |z|^2 / A^2) + i omega) z dt
//! + sigma_z dW` with `omega = 2 pi 8 Hz`; the rotation is integrated exactly, so the
//! frequency is 8 Hz whatever the step. Its centre is an unstable focus with eigenvalues
//! `mu +- i omega`.
//!
//! Neurons: `rate = exp(C x + c)`, which on the ring is a von Mises tuning curve in position
//! (`base exp(kappa cos(theta - phi))`, phi the preferred position) times a theta-phase
//! modulation whose preferred phases cluster near 0, so the population rate oscillates at 8 Hz.
//! Labels: the track sector of the position (4 quarters of the circle).

use std::f64::consts::TAU;

use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::StandardNormal;

use super::latent::{self, LatentSystem, LogLinear};
use super::truth::{LatentTruth, OscillationTruth, RingTruth};
use super::{assemble, rng, Array, ArrayData, Parts, Resolved, Session, SimError};

/// Oscillation frequency, Hz.
pub const THETA_HZ: f64 = 8.0;
/// Growth rate of the limit cycle at its centre, per second.
pub const THETA_MU: f64 = 10.0;
/// Radius of the limit cycle.
pub const THETA_AMPLITUDE: f64 = 1.0;
/// Noise on the oscillation plane, per sqrt(second).
pub const THETA_NOISE_SD: f64 = 0.3;
/// Ring centre in latent dimensions 0, 1.
pub const CENTRE: [f64; 2] = [0.5, -0.3];
/// Ring radius.
pub const RADIUS: f64 = 1.0;
/// Radial time constant, seconds.
pub const RADIAL_TAU_S: f64 = 0.05;
/// Radial noise, per sqrt(second).
pub const RADIAL_NOISE_SD: f64 = 0.3;
/// Mean running speed, radians per second (a lap in about 8 s).
pub const MEAN_SPEED_RAD_S: f64 = 0.8;
/// Standard deviation of the running speed, radians per second.
pub const SPEED_SD_RAD_S: f64 = 0.5;
/// Correlation time of the running speed, seconds.
pub const SPEED_TAU_S: f64 = 2.0;
/// Angular diffusion, radians per sqrt(second).
pub const ANGLE_NOISE_SD: f64 = 0.05;
/// Number of track sectors (labels).
pub const SECTORS: usize = 4;

struct RingTheta {
    readout: LogLinear,
    r: f64,
    theta: f64,
    speed: f64,
    z: [f64; 2],
}

impl RingTheta {
    fn write(&self, x: &mut [f64]) {
        x[0] = CENTRE[0] + self.r * self.theta.cos();
        x[1] = CENTRE[1] + self.r * self.theta.sin();
        x[2] = self.z[0];
        x[3] = self.z[1];
    }
}

/// Angle of a ring point, in `[0, 2 pi)`.
fn position(x0: f64, x1: f64) -> f64 {
    (x1 - CENTRE[1]).atan2(x0 - CENTRE[0]).rem_euclid(TAU)
}

impl LatentSystem for RingTheta {
    fn dim(&self) -> usize {
        4
    }
    fn n_labels(&self) -> usize {
        SECTORS
    }
    fn init(&mut self, x: &mut [f64], rng: &mut StdRng) {
        self.theta = rng.random_range(0.0..TAU);
        self.write(x);
    }
    fn advance(&mut self, x: &mut [f64], _step: usize, _t: f64, h: f64, rng: &mut StdRng) {
        let sq = h.sqrt();
        let mut n = || rng.sample::<f64, _>(StandardNormal);
        let speed_noise = SPEED_SD_RAD_S * (2.0 / SPEED_TAU_S).sqrt();
        self.theta = (self.theta + h * self.speed + ANGLE_NOISE_SD * sq * n()).rem_euclid(TAU);
        self.speed += h * (MEAN_SPEED_RAD_S - self.speed) / SPEED_TAU_S + speed_noise * sq * n();
        self.r += h * (RADIUS - self.r) / RADIAL_TAU_S + RADIAL_NOISE_SD * sq * n();
        // Radial part of the Hopf flow by Euler, rotation exactly.
        let [a, b] = self.z;
        let g = 1.0 + h * THETA_MU * (1.0 - (a * a + b * b) / (THETA_AMPLITUDE * THETA_AMPLITUDE));
        let (s, c) = (TAU * THETA_HZ * h).sin_cos();
        let (a, b) = (g * a, g * b);
        self.z = [
            c * a - s * b + THETA_NOISE_SD * sq * n(),
            s * a + c * b + THETA_NOISE_SD * sq * n(),
        ];
        self.write(x);
    }
    fn label(&mut self, x: &[f64]) -> u16 {
        ((position(x[0], x[1]) / TAU * SECTORS as f64) as usize).min(SECTORS - 1) as u16
    }
    fn rates(&self, x: &[f64], _step: usize, out: &mut [f64]) {
        self.readout.rates(x, out);
    }
}

/// Simulates the `ring-theta` scenario.
pub fn simulate(res: &Resolved, progress: &ProgressBar) -> Result<Session, SimError> {
    res.require(
        res.bin_s <= 0.025,
        "--bin-ms",
        res.bin_s * 1000.0,
        "an 8 Hz oscillation needs bins of at most 25 ms (Nyquist 20 Hz)",
    )?;
    let n = res.neurons;
    let mut prng = rng::stream(res.seed, "ring-theta-readout");
    let mut c_mat = Vec::with_capacity(n * 4);
    let mut bias = Vec::with_capacity(n);
    let mut preferred_position = Vec::with_capacity(n);
    let mut preferred_phase = Vec::with_capacity(n);
    for i in 0..n {
        // Preferred positions spread evenly round the track, with jitter.
        let phi = ((i as f64 + prng.random_range(0.0..1.0)) / n as f64 * TAU).rem_euclid(TAU);
        let kappa = prng.random_range(1.0..2.5);
        let psi = 0.8 * prng.sample::<f64, _>(StandardNormal);
        let depth = prng.random_range(0.3..0.8);
        let base: f64 = prng.random_range(1.5..4.0);
        let row = [
            kappa / RADIUS * phi.cos(),
            kappa / RADIUS * phi.sin(),
            depth / THETA_AMPLITUDE * psi.cos(),
            depth / THETA_AMPLITUDE * psi.sin(),
        ];
        bias.push(base.ln() - row[0] * CENTRE[0] - row[1] * CENTRE[1]);
        c_mat.extend_from_slice(&row);
        preferred_position.push(phi);
        preferred_phase.push(psi.rem_euclid(TAU));
    }
    let mut sys = RingTheta {
        readout: LogLinear {
            c_mat,
            bias,
            dim: 4,
        },
        r: RADIUS,
        theta: 0.0,
        speed: MEAN_SPEED_RAD_S,
        z: [THETA_AMPLITUDE, 0.0],
    };
    let run = latent::run(&mut sys, res, progress);
    let position_per_bin = run
        .latent_per_bin
        .chunks(4)
        .map(|x| position(f64::from(x[0]), f64::from(x[1])) as f32)
        .collect();
    let (h, m) = (res.step_s, res.steps_per_bin);
    let omega = TAU * THETA_HZ;
    let mag = (1.0 + h * THETA_MU).powi(m as i32);
    let rot = omega * h * m as f64;
    let ring = RingTruth {
        dims: [0, 1],
        centre: CENTRE,
        radius: RADIUS,
        radial_eigenvalue_per_s: -1.0 / RADIAL_TAU_S,
        position_rad_per_bin: position_per_bin,
        mean_speed_rad_s: MEAN_SPEED_RAD_S,
        preferred_position_rad: preferred_position,
        sectors: SECTORS,
    };
    let osc = OscillationTruth {
        frequency_hz: THETA_HZ,
        dims: [2, 3],
        amplitude: THETA_AMPLITUDE,
        growth_rate_per_s: THETA_MU,
        eigenvalues_per_s: vec![[THETA_MU, -omega], [THETA_MU, omega]],
        eigenvalues_per_bin: vec![
            [mag * rot.cos(), -mag * rot.sin()],
            [mag * rot.cos(), mag * rot.sin()],
        ],
        preferred_phase_rad: preferred_phase,
    };
    let latent_truth = LatentTruth {
        dim: 4,
        dim_names: vec![
            "ring_x".into(),
            "ring_y".into(),
            "theta_x".into(),
            "theta_y".into(),
        ],
        dynamics: "ring: (x0, x1) = centre + r (cos theta, sin theta), dr = (radius - r) / tau dt \
                   + noise_sd dW, dtheta = v dt + 0.05 dW, dv = (0.8 - v) / 2 dt + 0.5 dW; \
                   theta: z = x2 + i x3, dz = (mu (1 - |z|^2 / amplitude^2) + i 2 pi 8) z dt \
                   + 0.3 dW"
            .into(),
        tau_s: RADIAL_TAU_S,
        noise_sd: RADIAL_NOISE_SD,
        readout: sys.readout.rows(),
        readout_bias: sys.readout.bias.clone(),
        latent_file: "latent.npy".into(),
    };
    let parts = Parts {
        times: run.times,
        names: (0..SECTORS).map(|k| format!("sector{k}")).collect(),
        label_per_bin: run.label_per_bin,
        arrays: vec![Array {
            file: "latent.npy".into(),
            shape: vec![res.n_bins as u64, 4],
            data: ArrayData::F32(run.latent_per_bin),
        }],
    };
    Ok(assemble(res, parts, |t| {
        t.latent = Some(latent_truth);
        t.ring = Some(ring);
        t.oscillation = Some(osc);
    }))
}
