//! Per-regime reading of the switching linear system: where the expansion point is, how far
//! it is from being a fixed point of the GRU, and what the linear dynamics around it do
//! (eigenvalues of `J_h`: stability, time constants, oscillation frequencies).

use serde::Serialize;

use super::eigen::{eigenvalues, EigenError};
use super::mat::{distance, Mat};

/// One regime of the report (the `regimes` list; keys documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct RegimeReport {
    /// Index `k` of the regime.
    pub regime: usize,
    /// Expansion point `e_k` in the model's latent space.
    pub expansion_point: Vec<f64>,
    /// `|F(e_k, u*) - e_k|` (Euclidean): how far `e_k` is from a fixed point of the GRU.
    pub fixed_point_residual: f64,
    /// Eigenvalues of `J_h(e_k, u*)` as `[re, im]`, by decreasing modulus; a conjugate pair is
    /// adjacent, positive imaginary part first.
    pub eigenvalues: Vec<[f64; 2]>,
    /// One frequency per complex-conjugate pair, `|arg lambda| / (2 pi dt)`, Hz, in the order
    /// of `eigenvalues`.
    pub frequencies_hz: Vec<f64>,
    /// `-dt / ln|lambda|` per eigenvalue, seconds, in the order of `eigenvalues` (negative for
    /// a growing mode, `null` where `|lambda| = 1`).
    pub time_constants_s: Vec<Option<f64>>,
    /// Every `|lambda| < 1`.
    pub stable: bool,
    /// Fraction of the held-out bins in this regime.
    pub occupancy: f64,
    /// Largest `|lambda|` (spectral radius).
    pub spectral_radius: f64,
    /// The fixed-point term held `e_k` to a fixed point in training (false for the free
    /// points of `jslds train --free-regimes`): only pinned regimes count as fixed points.
    pub pinned: bool,
}

/// Everything the report needs about one regime's linearisation.
#[derive(Debug, Clone)]
pub struct Linearisation {
    /// `e_k`.
    pub point: Vec<f64>,
    /// `F(e_k, u*)`.
    pub f_at_point: Vec<f64>,
    /// `J_h(e_k, u*)`, `d x d`.
    pub jh: Mat,
}

/// Reads one regime. `bin_s` is the time step `dt` of the map; `occupancy` is supplied by
/// the caller (it depends on the held-out rollout).
pub fn analyse_regime(
    k: usize,
    lin: &Linearisation,
    bin_s: f64,
    occupancy: f64,
) -> Result<RegimeReport, EigenError> {
    let eig = eigenvalues(&lin.jh)?;
    let two_pi_dt = 2.0 * std::f64::consts::PI * bin_s;
    let frequencies_hz = eig
        .iter()
        .filter(|e| e.im > 0.0)
        .map(|e| e.arg().abs() / two_pi_dt)
        .collect();
    let time_constants_s = eig
        .iter()
        .map(|e| time_constant(e.modulus(), bin_s))
        .collect();
    let spectral_radius = eig.first().map_or(0.0, |e| e.modulus());
    Ok(RegimeReport {
        regime: k,
        expansion_point: lin.point.clone(),
        fixed_point_residual: distance(&lin.f_at_point, &lin.point),
        eigenvalues: eig.iter().map(|e| [e.re, e.im]).collect(),
        frequencies_hz,
        time_constants_s,
        stable: eig.iter().all(|e| e.modulus() < 1.0),
        occupancy,
        spectral_radius,
        pinned: true,
    })
}

/// `-dt / ln|lambda|`: `0` for `lambda = 0`, `None` for `|lambda| = 1` (or not finite).
pub fn time_constant(modulus: f64, bin_s: f64) -> Option<f64> {
    if modulus == 1.0 || !modulus.is_finite() {
        None
    } else if modulus == 0.0 {
        Some(0.0)
    } else {
        Some(-bin_s / modulus.ln())
    }
}

/// Fraction of `regime_per_bin` equal to each of `0..k`.
pub fn occupancy(regime_per_bin: &[usize], k: usize) -> Vec<f64> {
    let mut n = vec![0usize; k];
    for &r in regime_per_bin {
        if r < k {
            n[r] += 1;
        }
    }
    let total = regime_per_bin.len().max(1) as f64;
    n.iter().map(|&c| c as f64 / total).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    #[test]
    fn rotation_at_8_hz_reads_as_8_hz_with_its_time_constant() {
        let dt = 0.005;
        let th = 2.0 * PI * 8.0 * dt;
        let r = 0.98;
        // 3-D: the rotation block plus a real mode at 0.5 decaying.
        let jh = Mat::from_vec(
            3,
            3,
            vec![
                r * th.cos(),
                -r * th.sin(),
                0.0,
                r * th.sin(),
                r * th.cos(),
                0.0,
                0.0,
                0.0,
                0.5,
            ],
        )
        .unwrap();
        let lin = Linearisation {
            point: vec![1.0, 0.0, 0.0],
            f_at_point: vec![1.0, 0.3, 0.4],
            jh,
        };
        let rep = analyse_regime(2, &lin, dt, 0.25).unwrap();
        assert_eq!(rep.regime, 2);
        assert!((rep.fixed_point_residual - 0.5).abs() < 1e-12);
        assert_eq!(rep.frequencies_hz.len(), 1);
        assert!((rep.frequencies_hz[0] - 8.0).abs() < 1e-9, "{rep:?}");
        let tau = -dt / r.ln();
        assert!((rep.time_constants_s[0].unwrap() - tau).abs() < 1e-9);
        assert!((rep.time_constants_s[1].unwrap() - tau).abs() < 1e-9);
        assert!((rep.time_constants_s[2].unwrap() - (-dt / 0.5f64.ln())).abs() < 1e-12);
        assert!(rep.stable);
        assert!((rep.spectral_radius - r).abs() < 1e-12);
        assert_eq!(rep.eigenvalues.len(), 3);
        assert!(rep.eigenvalues[0][1] > 0.0 && rep.eigenvalues[1][1] < 0.0);
        assert_eq!(rep.occupancy, 0.25);
    }

    #[test]
    fn unstable_and_marginal_modes() {
        let lin = Linearisation {
            point: vec![0.0, 0.0],
            f_at_point: vec![0.0, 0.0],
            jh: Mat::from_vec(2, 2, vec![1.1, 0.0, 0.0, 1.0]).unwrap(),
        };
        let rep = analyse_regime(0, &lin, 0.01, 1.0).unwrap();
        assert!(!rep.stable);
        assert!(rep.frequencies_hz.is_empty());
        assert!(rep.time_constants_s[0].unwrap() < 0.0);
        assert_eq!(rep.time_constants_s[1], None);
        assert_eq!(time_constant(0.0, 0.01), Some(0.0));
        // A negative real eigenvalue is not an oscillation pair.
        let lin = Linearisation {
            jh: Mat::from_vec(2, 2, vec![-0.5, 0.0, 0.0, 0.2]).unwrap(),
            ..lin
        };
        assert!(analyse_regime(0, &lin, 0.01, 1.0)
            .unwrap()
            .frequencies_hz
            .is_empty());
    }

    #[test]
    fn occupancy_counts_fractions() {
        let occ = occupancy(&[0, 1, 1, 3], 4);
        assert_eq!(occ, vec![0.25, 0.5, 0.0, 0.25]);
        assert_eq!(occupancy(&[], 2), vec![0.0, 0.0]);
    }
}
