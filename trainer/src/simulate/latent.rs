//! The shared engine of the latent scenarios: a latent state integrated by Euler–Maruyama at a
//! step of at most one millisecond, firing rates through a log-linear map, Poisson spikes.

use indicatif::ProgressBar;
use rand::rngs::StdRng;

use super::spikes::PoissonSpiker;
use super::timeline::BinMajority;
use super::{rng, Resolved};

/// A latent system: dynamics, labels and the firing rates they produce.
pub trait LatentSystem {
    /// Dimension of the latent state.
    fn dim(&self) -> usize;
    /// Number of labels [`LatentSystem::label`] can return.
    fn n_labels(&self) -> usize;
    /// Initial state.
    fn init(&mut self, x: &mut [f64], rng: &mut StdRng);
    /// One Euler–Maruyama step of length `h` from time `t` (`step` counts steps from 0).
    fn advance(&mut self, x: &mut [f64], step: usize, t: f64, h: f64, rng: &mut StdRng);
    /// Label of the current state (may keep memory, e.g. the last attractor visited).
    fn label(&mut self, x: &[f64]) -> u16;
    /// Intensity of every neuron at state `x` during step `step`, Hz.
    fn rates(&self, x: &[f64], step: usize, out: &mut [f64]);
}

/// What a latent run produced.
pub struct LatentRun {
    /// Mean latent state over each bin, `n_bins x dim`.
    pub latent_per_bin: Vec<f32>,
    /// Label per bin.
    pub label_per_bin: Vec<u16>,
    /// Spike times per neuron.
    pub times: Vec<Vec<f64>>,
}

/// Runs a latent system over the session described by `res`.
pub fn run<S: LatentSystem>(sys: &mut S, res: &Resolved, progress: &ProgressBar) -> LatentRun {
    let d = sys.dim();
    let n = res.neurons;
    let mut noise = rng::stream(res.seed, "latent-noise");
    let mut spike_rng = rng::stream(res.seed, "spikes");
    let mut x = vec![0.0; d];
    sys.init(&mut x, &mut noise);
    let mut spiker = PoissonSpiker::new(n, &mut spike_rng);
    let mut rates = vec![0.0; n];
    let mut labels = BinMajority::new(sys.n_labels(), res.n_bins);
    let mut latent = Vec::with_capacity(res.n_bins * d);
    let mut acc = vec![0.0; d];
    let m = res.steps_per_bin;
    let h = res.step_s;
    for b in 0..res.n_bins {
        acc.iter_mut().for_each(|a| *a = 0.0);
        for s in 0..m {
            let step = b * m + s;
            let t = step as f64 * h;
            labels.push(sys.label(&x));
            for (a, xi) in acc.iter_mut().zip(&x) {
                *a += xi;
            }
            sys.rates(&x, step, &mut rates);
            for (i, &r) in rates.iter().enumerate() {
                spiker.step(i, t, h, r, &mut spike_rng);
            }
            sys.advance(&mut x, step, t, h, &mut noise);
        }
        labels.close_bin();
        latent.extend(acc.iter().map(|a| (a / m as f64) as f32));
        if b % 256 == 0 {
            progress.set_position(b as u64);
        }
    }
    progress.set_position(res.n_bins as u64);
    LatentRun {
        latent_per_bin: latent,
        label_per_bin: labels.per_bin,
        times: spiker.times,
    }
}

/// Log-linear readout `rate_hz = exp(C x + c)`.
#[derive(Debug, Clone)]
pub struct LogLinear {
    /// `C`, `neurons x dim`, row-major.
    pub c_mat: Vec<f64>,
    /// `c`, natural log of Hz.
    pub bias: Vec<f64>,
    /// Latent dimension.
    pub dim: usize,
}

impl LogLinear {
    /// Writes `exp(C x + c)` for the neurons `0..bias.len()` into `out`.
    pub fn rates(&self, x: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate().take(self.bias.len()) {
            let row = &self.c_mat[i * self.dim..(i + 1) * self.dim];
            let z: f64 = row.iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + self.bias[i];
            *o = z.exp();
        }
    }

    /// `C` as rows, for `truth.json`.
    pub fn rows(&self) -> Vec<Vec<f64>> {
        self.c_mat.chunks(self.dim).map(<[f64]>::to_vec).collect()
    }
}

/// Eigenvalues of a real 2 x 2 matrix `[[a, b], [c, d]]`, as `[re, im]`.
pub fn eig2(a: f64, b: f64, c: f64, d: f64) -> [[f64; 2]; 2] {
    let tr = a + d;
    let det = a * d - b * c;
    let disc = tr * tr / 4.0 - det;
    if disc >= 0.0 {
        let s = disc.sqrt();
        [[tr / 2.0 - s, 0.0], [tr / 2.0 + s, 0.0]]
    } else {
        let s = (-disc).sqrt();
        [[tr / 2.0, -s], [tr / 2.0, s]]
    }
}

/// Eigenvalue of the map over one bin of `m` Euler steps of length `h`, given the
/// continuous-time eigenvalue `lam` (`[re, im]`): `(1 + h lam)^m`.
pub fn per_bin(lam: [f64; 2], h: f64, m: usize) -> [f64; 2] {
    let (re, im) = (1.0 + h * lam[0], h * lam[1]);
    let r = (re * re + im * im).sqrt().powi(m as i32);
    let phi = im.atan2(re) * m as f64;
    [r * phi.cos(), r * phi.sin()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eig2_real_and_complex() {
        assert_eq!(eig2(2.0, 0.0, 0.0, 3.0), [[2.0, 0.0], [3.0, 0.0]]);
        let e = eig2(0.0, -1.0, 1.0, 0.0);
        assert!((e[1][1] - 1.0).abs() < 1e-12 && e[1][0].abs() < 1e-12);
    }

    #[test]
    fn per_bin_composes_steps() {
        let e = per_bin([-10.0, 0.0], 1e-3, 10);
        assert!((e[0] - 0.99f64.powi(10)).abs() < 1e-12);
        let e = per_bin([0.0, 1.0], 0.1, 2);
        // (1 + 0.1i)^2 = 0.99 + 0.2i
        assert!((e[0] - 0.99).abs() < 1e-12 && (e[1] - 0.2).abs() < 1e-12);
    }
}
