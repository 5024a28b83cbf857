//! A hand-built switching linear system with known regimes, and the spike counts it explains.
//!
//! The ground truth ([`GroundTruth`]): `K` stable regimes around distinct expansion points
//! `e_k` (about the origin, pairwise `separation` apart when `K <= d`); in regime `k` the latent state
//! follows `a_t = e_k + F_k (a_{t-1} - e_k) + w_t` with `F_k` a random rotation of damped 2x2
//! rotations (eigenvalue moduli in `rho`, frequencies in `freq_hz`: each regime has its own
//! time constants and oscillations), `w_t ~ N(0, noise_std^2 I)`. Neuron `n` fires
//! `y ~ Poisson(exp(c_n + C_n a_t))` per bin, with a base rate drawn log-uniformly from
//! `base_rate_hz` and a readout whose modulation across the regimes is a factor of about
//! `exp(readout_gain * separation)`. The regime sequence is a series of dwells of
//! `dwell_s` seconds, each in a regime other than the previous one, so switches happen at
//! known bins.
//!
//! The shipped [`SwitchingLinear`] is the estimator of that truth: per regime, the
//! steady-state Kalman filter linearised at `e_k` (see `observer`), folded into the device
//! form, selecting its regime by the nearest expansion point or by a gate learned by
//! multinomial logistic regression of the true regime on the true latent state.

use anyhow::{bail, Result};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Poisson, StandardNormal};
use serde::{Deserialize, Serialize};

use super::linalg::{matmul, matvec, random_orthogonal, transpose};
use super::observer::fold_observer;
use super::{SelectionF32, SwitchingLinear};
use crate::data::Counts;

/// The per-neuron input transform `g(count)` of the shipped system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputTransform {
    /// `g(c) = c`.
    Identity,
    /// `g(c) = sqrt(c)`: compresses bursts.
    Sqrt,
    /// `g(c) = ln(1 + c)`.
    Log1p,
}

impl InputTransform {
    fn apply(self, c: f64) -> f64 {
        match self {
            InputTransform::Identity => c,
            InputTransform::Sqrt => c.sqrt(),
            InputTransform::Log1p => c.ln_1p(),
        }
    }
}

/// How the shipped system selects its regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelectionKind {
    /// Nearest expansion point.
    Nearest,
    /// A linear gate fitted to the ground truth (multinomial logistic regression).
    Gate,
}

/// Parameters of [`simulate`]. `Default` is the reference system: N = 64, d = 16, K = 8,
/// 10 ms bins, 120 s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimConfig {
    /// Neurons `N`.
    pub neurons: usize,
    /// Latent dimension `d` (at least 1).
    pub latent: usize,
    /// Regimes `K` (2..=255).
    pub regimes: usize,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Number of bins to simulate.
    pub n_bins: usize,
    /// Dwell time in one regime, seconds, uniform in `[min, max]`.
    pub dwell_s: (f64, f64),
    /// Distance between expansion points (latent units).
    pub separation: f64,
    /// Standard deviation of the latent process noise per bin and dimension.
    pub noise_std: f64,
    /// Moduli of the eigenvalues of `F_k`, uniform in `[min, max]` (below 1: stable).
    pub rho: (f64, f64),
    /// Rotation frequencies of `F_k`, Hz, uniform in `[min, max]`.
    pub freq_hz: (f64, f64),
    /// Standard deviation of `C_n v` for a unit vector `v`.
    pub readout_gain: f64,
    /// Base firing rates, Hz, log-uniform in `[min, max]`.
    pub base_rate_hz: (f64, f64),
    /// Input transform of the shipped estimator.
    pub input: InputTransform,
    /// Entries of the input table (counts `0..table_len`; larger counts saturate).
    pub table_len: usize,
    /// Selection rule of the shipped estimator.
    pub selection: SelectionKind,
    /// Hysteresis of the shipped estimator, bins.
    pub hysteresis: u16,
    /// Process variance the estimator is designed for, as a multiple of `noise_std^2`
    /// (larger: follows switches faster, jitters more).
    pub design_noise_factor: f64,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            neurons: 64,
            latent: 16,
            regimes: 8,
            bin_s: 0.01,
            n_bins: 12_000,
            dwell_s: (1.0, 4.0),
            separation: 2.0,
            noise_std: 0.1,
            rho: (0.85, 0.97),
            freq_hz: (0.5, 8.0),
            readout_gain: 0.7,
            base_rate_hz: (2.0, 20.0),
            input: InputTransform::Sqrt,
            table_len: 16,
            selection: SelectionKind::Nearest,
            hysteresis: 3,
            design_noise_factor: 4.0,
        }
    }
}

/// The generative model and the hidden trajectory behind simulated counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroundTruth {
    /// Expansion points `e_k`, `K x d`.
    pub points: Vec<f32>,
    /// `F_k`, rows `K*d`, cols `d` (dynamics of `a - e_k`).
    pub dynamics: Vec<f32>,
    /// Process noise standard deviation per bin and dimension.
    pub noise_std: f64,
    /// `C`, `N x d`.
    pub readout: Vec<f32>,
    /// `c`, `N`: log of the base expected count per bin.
    pub readout_bias: Vec<f32>,
    /// The latent trajectory, `n_bins x d`.
    pub latents: Vec<f32>,
    /// Bins at which the regime changes (first bin of each new dwell).
    pub switch_bins: Vec<usize>,
}

/// A simulated session: the shipped estimator, the counts and the true regime of every bin.
#[derive(Debug, Clone)]
pub struct SimulatedSlds {
    /// The estimator to export (folded device form).
    pub system: SwitchingLinear,
    /// Spike counts, `n_bins x N`, unit ids `0..N`.
    pub counts: Counts,
    /// The true regime of every bin.
    pub regimes: Vec<u8>,
    /// Generative model and latent trajectory.
    pub truth: GroundTruth,
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, (lo, hi): (f64, f64)) -> f64 {
    if hi > lo {
        rng.random_range(lo..hi)
    } else {
        lo
    }
}

fn check(cfg: &SimConfig) -> Result<()> {
    let pos = |x: f64| x.is_finite() && x > 0.0;
    let range = |(lo, hi): (f64, f64)| lo.is_finite() && hi.is_finite() && lo <= hi;
    if cfg.neurons == 0 || cfg.neurons > u16::MAX as usize {
        bail!("neurons: {} is outside 1..=65535", cfg.neurons);
    }
    if cfg.latent == 0 || cfg.latent > 1024 {
        bail!("latent: {} is outside 1..=1024", cfg.latent);
    }
    if cfg.regimes < 2 || cfg.regimes > 255 {
        bail!("regimes: {} is outside 2..=255", cfg.regimes);
    }
    if !pos(cfg.bin_s) || cfg.n_bins == 0 {
        bail!("bin_s and n_bins must be positive");
    }
    if !range(cfg.dwell_s) || cfg.dwell_s.0 < cfg.bin_s {
        bail!(
            "dwell_s: {:?} must be an ordered range of at least one bin",
            cfg.dwell_s
        );
    }
    if !range(cfg.rho) || cfg.rho.0 < 0.0 || cfg.rho.1 >= 1.0 {
        bail!("rho: {:?} must lie in [0, 1) (stable regimes)", cfg.rho);
    }
    if !range(cfg.freq_hz) || cfg.freq_hz.0 < 0.0 || cfg.freq_hz.1 > 0.5 / cfg.bin_s {
        bail!("freq_hz: {:?} must lie in [0, Nyquist]", cfg.freq_hz);
    }
    if !range(cfg.base_rate_hz) || cfg.base_rate_hz.0 <= 0.0 {
        bail!(
            "base_rate_hz: {:?} must be a positive range",
            cfg.base_rate_hz
        );
    }
    if !pos(cfg.separation) || !pos(cfg.noise_std) || !pos(cfg.readout_gain) {
        bail!("separation, noise_std and readout_gain must be positive");
    }
    if !pos(cfg.design_noise_factor) {
        bail!("design_noise_factor must be positive");
    }
    if cfg.table_len < 2 || cfg.table_len > 65_536 {
        bail!("table_len: {} is outside 2..=65536", cfg.table_len);
    }
    Ok(())
}

/// Expansion points: orthonormal directions scaled to `separation / sqrt 2` (pairwise
/// distance `separation`) when `K <= d`, random unit directions otherwise; centred, then
/// moved so that the origin is clearly nearest to `e_0`.
fn expansion_points<R: Rng + ?Sized>(rng: &mut R, k: usize, d: usize, sep: f64) -> Vec<f64> {
    let scale = sep / std::f64::consts::SQRT_2;
    let mut points = vec![0.0; k * d];
    if k <= d {
        let q = random_orthogonal(rng, d);
        for i in 0..k {
            for j in 0..d {
                points[i * d + j] = scale * q[i * d + j];
            }
        }
    } else {
        for i in 0..k {
            let v: Vec<f64> = (0..d).map(|_| StandardNormal.sample(rng)).collect();
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-9);
            for j in 0..d {
                points[i * d + j] = scale * v[j] / norm;
            }
        }
    }
    for j in 0..d {
        let mean = (0..k).map(|i| points[i * d + j]).sum::<f64>() / k as f64;
        for i in 0..k {
            points[i * d + j] -= mean;
        }
    }
    // Centred points are (nearly) equidistant from the origin, which is where the estimator
    // starts: a tie that f32 and fixed point would break differently. Moving every point by
    // a quarter of e_0 makes regime 0 the clear nearest one at the origin.
    let e0: Vec<f64> = points[..d].to_vec();
    for i in 0..k {
        for j in 0..d {
            points[i * d + j] -= 0.25 * e0[j];
        }
    }
    points
}

/// `F = Q R Q^T` with `R` block-diagonal damped rotations: stable, normal, oscillatory.
fn regime_dynamics<R: Rng + ?Sized>(rng: &mut R, cfg: &SimConfig) -> Vec<f64> {
    let d = cfg.latent;
    let mut r = vec![0.0; d * d];
    let mut i = 0;
    while i < d {
        let rho = uniform(rng, cfg.rho);
        if i + 1 < d {
            let theta = 2.0 * std::f64::consts::PI * uniform(rng, cfg.freq_hz) * cfg.bin_s;
            let (s, c) = theta.sin_cos();
            r[i * d + i] = rho * c;
            r[i * d + i + 1] = -rho * s;
            r[(i + 1) * d + i] = rho * s;
            r[(i + 1) * d + i + 1] = rho * c;
            i += 2;
        } else {
            r[i * d + i] = rho;
            i += 1;
        }
    }
    let q = random_orthogonal(rng, d);
    matmul(&matmul(&q, &r, d, d, d), &transpose(&q, d, d), d, d, d)
}

/// A sequence of dwells: the regime of every bin and the bins where it changes.
fn regime_schedule<R: Rng + ?Sized>(rng: &mut R, cfg: &SimConfig) -> (Vec<u8>, Vec<usize>) {
    let k = cfg.regimes;
    let mut regimes = Vec::with_capacity(cfg.n_bins);
    let mut switches = Vec::new();
    let mut current = rng.random_range(0..k);
    while regimes.len() < cfg.n_bins {
        let bins = ((uniform(rng, cfg.dwell_s) / cfg.bin_s).round() as usize).max(1);
        let take = bins.min(cfg.n_bins - regimes.len());
        regimes.extend(std::iter::repeat_n(current as u8, take));
        if regimes.len() < cfg.n_bins {
            switches.push(regimes.len());
            let next = rng.random_range(0..k - 1);
            current = if next >= current { next + 1 } else { next };
        }
    }
    (regimes, switches)
}

/// Multinomial logistic regression of the regime on the latent state, started from the gate
/// that is equivalent to nearest-point selection (`W_k = 2 e_k`, `b_k = -|e_k|^2`).
fn fit_gate(points: &[f64], latents: &[f64], regimes: &[u8], k: usize, d: usize) -> Vec<f64> {
    // Parameters: K rows of (d weights, 1 bias).
    let w = d + 1;
    let mut theta = vec![0.0; k * w];
    for i in 0..k {
        let e = &points[i * d..(i + 1) * d];
        for j in 0..d {
            theta[i * w + j] = 2.0 * e[j];
        }
        theta[i * w + d] = -e.iter().map(|x| x * x).sum::<f64>();
    }
    // A subsample keeps this cheap; consecutive bins are strongly correlated anyway.
    let stride = (regimes.len() / 4000).max(1);
    let samples: Vec<usize> = (0..regimes.len()).step_by(stride).collect();
    let (lr, l2) = (0.5, 1e-4);
    let mut logits = vec![0.0; k];
    for _ in 0..150 {
        let mut grad = vec![0.0; k * w];
        for &t in &samples {
            let a = &latents[t * d..(t + 1) * d];
            for (i, l) in logits.iter_mut().enumerate() {
                let row = &theta[i * w..(i + 1) * w];
                *l = row[d] + row[..d].iter().zip(a).map(|(x, y)| x * y).sum::<f64>();
            }
            let max = logits.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let z: f64 = logits.iter().map(|l| (l - max).exp()).sum();
            for i in 0..k {
                let p = (logits[i] - max).exp() / z;
                let err = p - if regimes[t] as usize == i { 1.0 } else { 0.0 };
                for j in 0..d {
                    grad[i * w + j] += err * a[j];
                }
                grad[i * w + d] += err;
            }
        }
        let scale = 1.0 / samples.len() as f64;
        for (t, g) in theta.iter_mut().zip(&grad) {
            *t -= lr * (g * scale + l2 * *t);
        }
    }
    theta
}

/// Simulates the switching system of `cfg` with the random seed `seed` (same seed, same
/// output) and returns the estimator to ship, the counts and the ground truth.
pub fn simulate(cfg: &SimConfig, seed: u64) -> Result<SimulatedSlds> {
    check(cfg)?;
    let (n, d, k) = (cfg.neurons, cfg.latent, cfg.regimes);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let points = expansion_points(&mut rng, k, d, cfg.separation);
    let dyn_f: Vec<Vec<f64>> = (0..k).map(|_| regime_dynamics(&mut rng, cfg)).collect();
    let readout: Vec<f64> = (0..n * d)
        .map(|_| {
            let x: f64 = StandardNormal.sample(&mut rng);
            cfg.readout_gain * x
        })
        .collect();
    let (lo, hi) = (cfg.base_rate_hz.0.ln(), cfg.base_rate_hz.1.ln());
    let readout_bias: Vec<f64> = (0..n)
        .map(|_| uniform(&mut rng, (lo, hi)).exp() * cfg.bin_s)
        .map(f64::ln)
        .collect();

    // Latent trajectory and counts.
    let (regimes, switch_bins) = regime_schedule(&mut rng, cfg);
    let mut latents = vec![0.0; cfg.n_bins * d];
    let mut data = vec![0u32; cfg.n_bins * n];
    let mut a: Vec<f64> = points[regimes[0] as usize * d..][..d].to_vec();
    // Expected counts are capped far above any realistic rate so that Poisson sampling
    // stays well defined however the parameters are chosen.
    let max_log_rate = (1000.0 * cfg.bin_s).ln();
    for t in 0..cfg.n_bins {
        let z = regimes[t] as usize;
        let e = &points[z * d..(z + 1) * d];
        let dev: Vec<f64> = a.iter().zip(e).map(|(x, y)| x - y).collect();
        let fd = matvec(&dyn_f[z], &dev, d, d);
        for j in 0..d {
            let w: f64 = StandardNormal.sample(&mut rng);
            a[j] = e[j] + fd[j] + cfg.noise_std * w;
        }
        latents[t * d..(t + 1) * d].copy_from_slice(&a);
        let lr = matvec(&readout, &a, n, d);
        for i in 0..n {
            let lambda = (readout_bias[i] + lr[i]).min(max_log_rate).exp();
            let y = if lambda > 0.0 {
                Poisson::new(lambda)
                    .map(|p| p.sample(&mut rng))
                    .unwrap_or(0.0)
            } else {
                0.0
            };
            data[t * n + i] = y as u32;
        }
    }

    // The shipped estimator.
    let table: Vec<f64> = (0..cfg.table_len)
        .map(|c| cfg.input.apply(c as f64))
        .collect();
    let q_design = cfg.design_noise_factor * cfg.noise_std * cfg.noise_std;
    let (mut dynamics, mut input_gain, mut offset) = (vec![], vec![], vec![]);
    for (z, f) in dyn_f.iter().enumerate() {
        let e = &points[z * d..(z + 1) * d];
        let Some(folded) = fold_observer(e, f, q_design, &readout, &readout_bias, &table) else {
            bail!("regime {z}: the observer's Riccati iteration did not stay positive definite");
        };
        dynamics.extend(folded.dynamics);
        input_gain.extend(folded.input_gain);
        offset.extend(folded.offset);
    }
    let to32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<f32>>();
    let selection = match cfg.selection {
        SelectionKind::Nearest => SelectionF32::Nearest {
            points: to32(&points),
        },
        SelectionKind::Gate => {
            let theta = fit_gate(&points, &latents, &regimes, k, d);
            let w = d + 1;
            SelectionF32::Gate {
                weights: (0..k)
                    .flat_map(|i| theta[i * w..i * w + d].to_vec())
                    .map(|x| x as f32)
                    .collect(),
                bias: (0..k).map(|i| theta[i * w + d] as f32).collect(),
            }
        }
    };
    let system = SwitchingLinear {
        latent: d,
        regimes: k,
        neurons: n,
        input_table: to32(&table),
        selection,
        dynamics: to32(&dynamics),
        input_gain: to32(&input_gain),
        offset: to32(&offset),
        readout: to32(&readout),
        readout_bias: to32(&readout_bias),
        hysteresis: cfg.hysteresis,
        regime_names: (0..k).map(|i| format!("regime{i}")).collect(),
        bin_s: cfg.bin_s,
    };
    system.validate()?;
    let counts = Counts {
        bin_s: cfg.bin_s,
        start_s: 0.0,
        unit_ids: (0..n as u32).collect(),
        n_bins: cfg.n_bins,
        data,
    };
    let truth = GroundTruth {
        points: to32(&points),
        dynamics: dyn_f.iter().flat_map(|f| to32(f)).collect(),
        noise_std: cfg.noise_std,
        readout: to32(&readout),
        readout_bias: to32(&readout_bias),
        latents: to32(&latents),
        switch_bins,
    };
    Ok(SimulatedSlds {
        system,
        counts,
        regimes,
        truth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> SimConfig {
        SimConfig {
            n_bins: 3000,
            ..SimConfig::default()
        }
    }

    #[test]
    fn deterministic_per_seed_and_shaped() {
        let cfg = small();
        let a = simulate(&cfg, 7).unwrap();
        let b = simulate(&cfg, 7).unwrap();
        let c = simulate(&cfg, 8).unwrap();
        assert_eq!(a.counts, b.counts);
        assert_eq!(a.system, b.system);
        assert_ne!(a.counts.data, c.counts.data);
        assert_eq!(a.counts.n_bins, 3000);
        assert_eq!(a.counts.n_units(), 64);
        assert_eq!(a.regimes.len(), 3000);
        assert_eq!(a.truth.latents.len(), 3000 * 16);
        assert_eq!(a.system.validate(), Ok(()));
        // Switches are where the regime changes, and only there.
        for t in 1..3000 {
            let switched = a.regimes[t] != a.regimes[t - 1];
            assert_eq!(switched, a.truth.switch_bins.contains(&t), "bin {t}");
        }
    }

    #[test]
    fn rates_are_realistic() {
        let sim = simulate(&small(), 1).unwrap();
        let n = sim.counts.n_units();
        let dur = sim.counts.n_bins as f64 * sim.counts.bin_s;
        let rates: Vec<f64> = (0..n)
            .map(|i| {
                (0..sim.counts.n_bins)
                    .map(|t| sim.counts.row(t)[i] as f64)
                    .sum::<f64>()
                    / dur
            })
            .collect();
        let in_band = rates.iter().filter(|&&r| (1.0..=30.0).contains(&r)).count();
        assert!(in_band * 10 >= n * 8, "{in_band}/{n} in 1-30 Hz: {rates:?}");
    }

    #[test]
    fn regimes_are_stable_and_distinct() {
        let cfg = small();
        let sim = simulate(&cfg, 2).unwrap();
        let (d, k) = (cfg.latent, cfg.regimes);
        let p = &sim.truth.points;
        for i in 0..k {
            for j in 0..i {
                let dist: f32 = (0..d)
                    .map(|x| (p[i * d + x] - p[j * d + x]).powi(2))
                    .sum::<f32>()
                    .sqrt();
                assert!((dist as f64 - cfg.separation).abs() < 1e-4, "{dist}");
            }
        }
        // F_k is normal with spectral norm max rho < 1: |F v| < |v|.
        for z in 0..k {
            let f: Vec<f64> = sim.truth.dynamics[z * d * d..(z + 1) * d * d]
                .iter()
                .map(|&x| x as f64)
                .collect();
            let v: Vec<f64> = (0..d).map(|i| (i as f64 + 1.0).sin()).collect();
            let fv = matvec(&f, &v, d, d);
            let norm = |x: &[f64]| x.iter().map(|y| y * y).sum::<f64>().sqrt();
            assert!(norm(&fv) <= cfg.rho.1 * norm(&v) + 1e-9);
        }
        // Every regime is visited in 30 s with dwells of 1-4 s.
        let mut seen = vec![false; k];
        sim.regimes.iter().for_each(|&r| seen[r as usize] = true);
        assert!(seen.iter().filter(|s| **s).count() >= k - 1, "{seen:?}");
    }

    #[test]
    fn gate_fits_the_true_regime() {
        let cfg = SimConfig {
            selection: SelectionKind::Gate,
            ..small()
        };
        let sim = simulate(&cfg, 3).unwrap();
        let SelectionF32::Gate { weights, bias } = &sim.system.selection else {
            panic!("expected a gate");
        };
        let d = cfg.latent;
        let mut right = 0;
        for t in 0..cfg.n_bins {
            let a = &sim.truth.latents[t * d..(t + 1) * d];
            let score = |i: usize| bias[i] + (0..d).map(|j| weights[i * d + j] * a[j]).sum::<f32>();
            let best = (0..cfg.regimes)
                .max_by(|&x, &y| score(x).total_cmp(&score(y)).then(y.cmp(&x)))
                .unwrap();
            right += (best == sim.regimes[t] as usize) as usize;
        }
        assert!(right as f64 >= 0.95 * cfg.n_bins as f64, "{right}");
    }

    #[test]
    fn bad_config_is_refused() {
        let cfg = SimConfig {
            rho: (0.9, 1.1),
            ..small()
        };
        assert!(simulate(&cfg, 1).unwrap_err().to_string().contains("rho"));
        let cfg = SimConfig {
            regimes: 1,
            ..small()
        };
        assert!(simulate(&cfg, 1)
            .unwrap_err()
            .to_string()
            .contains("regimes"));
    }
}
