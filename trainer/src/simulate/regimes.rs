//! `regimes`: a 2-D latent system with four attractors and noise-driven switches.
//!
//! The latent state follows the gradient flow of a smoothed four-well potential,
//! ```text
//! dx = (pbar(x) - x) / tau dt + sigma dW,   pbar(x) = sum_k w_k(x) p_k,
//! w(x) = softmax_k(-|x - p_k|^2 / (2 s^2)),
//! ```
//! whose stable fixed points lie (almost exactly) at the centres `p_k` on the unit circle,
//! with saddles between neighbours and an unstable maximum at the origin. Noise makes the
//! state hop between wells every few seconds. The regime is the well the state last entered
//! (came within [`CORE_RADIUS`] of its fixed point): a "core set" rule that does not flicker
//! on the barrier. The Jacobian is known in closed form, `J = (Cov_w(p) / s^2 - I) / tau`,
//! so the fixed points and their eigenvalues in `truth.json` are exact (Newton to 1e-12).

use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::Rng;
use rand_distr::StandardNormal;

use super::latent::{self, eig2, per_bin, LatentSystem, LogLinear};
use super::truth::{FixedPoint, LatentTruth};
use super::{assemble, rng, Array, ArrayData, Parts, Resolved, Session, SimError};

/// Number of attractors.
pub const K: usize = 4;
/// Names of the regimes, by attractor index.
pub const NAMES: [&str; K] = ["rest", "groom", "explore", "run"];
/// Time constant of the latent flow, seconds.
pub const TAU_S: f64 = 0.05;
/// Width of each well.
pub const WELL_WIDTH: f64 = 0.4;
/// Noise, per sqrt(second).
pub const NOISE_SD: f64 = 1.2;
/// A regime is entered when the state comes this close to its fixed point.
pub const CORE_RADIUS: f64 = 0.35;

/// Centre of attractor `k`: on the unit circle, a quarter turn apart.
pub fn centre(k: usize) -> [f64; 2] {
    let a = std::f64::consts::TAU * k as f64 / K as f64 + std::f64::consts::FRAC_PI_4;
    [a.cos(), a.sin()]
}

/// `pbar(x)` and the weighted covariance of the centres (row-major 2 x 2).
fn pbar_cov(x: &[f64]) -> ([f64; 2], [f64; 4]) {
    let mut logw = [0.0; K];
    for (k, l) in logw.iter_mut().enumerate() {
        let p = centre(k);
        let d2 = (x[0] - p[0]).powi(2) + (x[1] - p[1]).powi(2);
        *l = -d2 / (2.0 * WELL_WIDTH * WELL_WIDTH);
    }
    let mx = logw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut w = logw.map(|l| (l - mx).exp());
    let z: f64 = w.iter().sum();
    w.iter_mut().for_each(|v| *v /= z);
    let mut pb = [0.0; 2];
    for (k, wk) in w.iter().enumerate() {
        let p = centre(k);
        pb[0] += wk * p[0];
        pb[1] += wk * p[1];
    }
    let mut cov = [0.0; 4];
    for (k, wk) in w.iter().enumerate() {
        let p = centre(k);
        let d = [p[0] - pb[0], p[1] - pb[1]];
        cov[0] += wk * d[0] * d[0];
        cov[1] += wk * d[0] * d[1];
        cov[2] += wk * d[1] * d[0];
        cov[3] += wk * d[1] * d[1];
    }
    (pb, cov)
}

/// The flow `f(x)` (per second) and its Jacobian (row-major).
pub fn flow(x: &[f64]) -> ([f64; 2], [f64; 4]) {
    let (pb, cov) = pbar_cov(x);
    let s2 = WELL_WIDTH * WELL_WIDTH;
    let f = [(pb[0] - x[0]) / TAU_S, (pb[1] - x[1]) / TAU_S];
    let j = [
        (cov[0] / s2 - 1.0) / TAU_S,
        cov[1] / s2 / TAU_S,
        cov[2] / s2 / TAU_S,
        (cov[3] / s2 - 1.0) / TAU_S,
    ];
    (f, j)
}

/// Fixed points: Newton from the centres (stable), the midpoints between neighbours
/// (saddles) and the origin (unstable).
pub fn fixed_points(h: f64, m: usize) -> Vec<FixedPoint> {
    let mut starts: Vec<([f64; 2], Option<u16>)> =
        (0..K).map(|k| (centre(k), Some(k as u16))).collect();
    for k in 0..K {
        let (a, b) = (centre(k), centre((k + 1) % K));
        starts.push(([(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0], None));
    }
    starts.push(([0.0, 0.0], None));
    let mut out: Vec<FixedPoint> = Vec::new();
    for (start, regime) in starts {
        let mut x = start;
        for _ in 0..100 {
            let (f, j) = flow(&x);
            let det = j[0] * j[3] - j[1] * j[2];
            if det.abs() < 1e-300 {
                break;
            }
            let dx = [
                (j[3] * f[0] - j[1] * f[1]) / det,
                (-j[2] * f[0] + j[0] * f[1]) / det,
            ];
            x = [x[0] - dx[0], x[1] - dx[1]];
            if dx[0].abs().max(dx[1].abs()) < 1e-13 {
                break;
            }
        }
        let (_, j) = flow(&x);
        let eig = eig2(j[0], j[1], j[2], j[3]);
        let stable = eig.iter().all(|e| e[0] < 0.0);
        let dup = out
            .iter()
            .any(|p| (p.point[0] - x[0]).hypot(p.point[1] - x[1]) < 1e-6);
        if !dup {
            out.push(FixedPoint {
                point: x.to_vec(),
                stable,
                regime: if stable { regime } else { None },
                eigenvalues_per_s: eig.to_vec(),
                eigenvalues_per_bin: eig.iter().map(|&e| per_bin(e, h, m)).collect(),
            });
        }
    }
    out
}

struct Regimes {
    readout: LogLinear,
    attractors: Vec<[f64; 2]>,
    current: u16,
}

impl LatentSystem for Regimes {
    fn dim(&self) -> usize {
        2
    }
    fn n_labels(&self) -> usize {
        K
    }
    fn init(&mut self, x: &mut [f64], _rng: &mut StdRng) {
        x.copy_from_slice(&self.attractors[0]);
    }
    fn advance(&mut self, x: &mut [f64], _step: usize, _t: f64, h: f64, rng: &mut StdRng) {
        let (f, _) = flow(x);
        let sd = NOISE_SD * h.sqrt();
        for (xi, fi) in x.iter_mut().zip(f) {
            *xi += h * fi + sd * rng.sample::<f64, _>(StandardNormal);
        }
    }
    fn label(&mut self, x: &[f64]) -> u16 {
        for (k, p) in self.attractors.iter().enumerate() {
            if (x[0] - p[0]).hypot(x[1] - p[1]) < CORE_RADIUS {
                self.current = k as u16;
            }
        }
        self.current
    }
    fn rates(&self, x: &[f64], _step: usize, out: &mut [f64]) {
        self.readout.rates(x, out);
    }
}

/// Simulates the `regimes` scenario.
pub fn simulate(res: &Resolved, progress: &ProgressBar) -> Result<Session, SimError> {
    let n = res.neurons;
    let mut prng = rng::stream(res.seed, "regimes-readout");
    let c_mat: Vec<f64> = (0..n * 2)
        .map(|_| 0.8 * prng.sample::<f64, _>(StandardNormal))
        .collect();
    let bias: Vec<f64> = (0..n)
        .map(|_| prng.random_range(3.0f64..10.0).ln())
        .collect();
    let readout = LogLinear {
        c_mat,
        bias,
        dim: 2,
    };
    let fps = fixed_points(res.step_s, res.steps_per_bin);
    let mut attractors = vec![[0.0; 2]; K];
    for p in &fps {
        if let Some(k) = p.regime {
            attractors[usize::from(k)] = [p.point[0], p.point[1]];
        }
    }
    let mut sys = Regimes {
        readout,
        attractors,
        current: 0,
    };
    let run = latent::run(&mut sys, res, progress);
    let latent_truth = LatentTruth {
        dim: 2,
        dim_names: vec!["x0".into(), "x1".into()],
        dynamics: "dx = (sum_k w_k(x) p_k - x) / tau dt + noise_sd dW, \
                   w(x) = softmax_k(-|x - p_k|^2 / (2 s^2)), p_k = (cos a_k, sin a_k), \
                   a_k = 2 pi k / 4 + pi / 4, s = 0.4"
            .into(),
        tau_s: TAU_S,
        noise_sd: NOISE_SD,
        readout: sys.readout.rows(),
        readout_bias: sys.readout.bias.clone(),
        latent_file: "latent.npy".into(),
    };
    let parts = Parts {
        times: run.times,
        names: NAMES.iter().map(|s| s.to_string()).collect(),
        label_per_bin: run.label_per_bin,
        arrays: vec![Array {
            file: "latent.npy".into(),
            shape: vec![res.n_bins as u64, 2],
            data: ArrayData::F32(run.latent_per_bin),
        }],
    };
    Ok(assemble(res, parts, |t| {
        t.latent = Some(latent_truth);
        t.fixed_points = Some(fps);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_stable_points_near_the_centres_and_saddles_between() {
        let fps = fixed_points(1e-3, 10);
        let stable: Vec<_> = fps.iter().filter(|p| p.stable).collect();
        assert_eq!(stable.len(), K);
        for p in &stable {
            let c = centre(usize::from(p.regime.unwrap()));
            assert!((p.point[0] - c[0]).hypot(p.point[1] - c[1]) < 0.05);
            let (f, _) = flow(&p.point);
            assert!(f[0].abs() + f[1].abs() < 1e-9);
        }
        assert_eq!(fps.len(), 2 * K + 1, "4 stable, 4 saddles, the origin");
    }

    #[test]
    fn jacobian_matches_finite_differences() {
        let x = [0.3, -0.2];
        let (_, j) = flow(&x);
        let e = 1e-6;
        for c in 0..2 {
            let mut xp = x;
            let mut xm = x;
            xp[c] += e;
            xm[c] -= e;
            let (fp, _) = flow(&xp);
            let (fm, _) = flow(&xm);
            for r in 0..2 {
                let fd = (fp[r] - fm[r]) / (2.0 * e);
                assert!(
                    (fd - j[r * 2 + c]).abs() < 1e-4 * (1.0 + fd.abs()),
                    "{r}{c}"
                );
            }
        }
    }
}
