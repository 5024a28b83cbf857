//! The estimator a hand-built system ships: per regime, the steady-state Kalman filter of the
//! generative model linearised at that regime's expansion point, folded into the device form.
//!
//! Generative model in regime `k`: `a_t = e_k + F_k (a_{t-1} - e_k) + w_t`, `w_t ~ N(0, q I)`,
//! counts `y_n ~ Poisson(exp(c_n + C_n a_t))`, observed through `g = table(y)`. Linearised at
//! `e_k`: `E[g | a] ~ m_k + H_k (a - e_k)`, `Var[g_n] ~ r_n`. The steady-state gain `K_k`
//! gives the update
//!
//! ```text
//! a_t = e_k + F_k (a_{t-1} - e_k) + K_k (g_t - m_k - H_k F_k (a_{t-1} - e_k))
//!     = (I - K_k H_k) F_k a_{t-1} + K_k g_t + [e_k - (I - K_k H_k) F_k e_k - K_k m_k]
//! ```
//!
//! which is the device's `A_k a + B_k g + b_k`: the expansion point and the input anchor are
//! folded into `b_k`. Designing the filter with a process noise larger than the true one
//! (`q_design > q`) makes it follow regime switches faster at the price of more jitter.

use super::linalg::{identity, matmul, matvec, spd_inverse, transpose};

/// Mean, variance and derivative of the mean with respect to the rate, of `g(y)` for
/// `y ~ Poisson(lambda)` and `g(c) = table[min(c, len-1)]`.
pub(crate) fn transformed_poisson_moments(table: &[f64], lambda: f64) -> (f64, f64, f64) {
    let last = table.len() - 1;
    let g = |c: usize| table[c.min(last)];
    let upper = (lambda + 12.0 * lambda.sqrt() + 30.0).ceil() as usize;
    let mut p = (-lambda).exp();
    let (mut m, mut m2, mut dm) = (0.0, 0.0, 0.0);
    for c in 0..=upper {
        let v = g(c);
        m += p * v;
        m2 += p * v * v;
        // d/dlambda P(c) = P(c) (c / lambda - 1)
        dm += p * v * (c as f64 / lambda - 1.0);
        p *= lambda / (c as f64 + 1.0);
    }
    (m, (m2 - m * m).max(0.0), dm)
}

/// One regime's folded observer.
pub(crate) struct Folded {
    /// `(I - K H) F`, `d x d`.
    pub dynamics: Vec<f64>,
    /// `K`, `d x N`.
    pub input_gain: Vec<f64>,
    /// `e - (I - K H) F e - K m`, `d`.
    pub offset: Vec<f64>,
}

/// Builds the folded steady-state observer of one regime.
///
/// * `point`: `e_k` (d); `dyn_f`: `F_k` (d x d); `q_design`: process variance per dimension;
/// * `readout`: `C` (N x d); `bias`: `c` (N), log spikes per bin; `table`: `g`.
///
/// Returns `None` if the Riccati iteration meets a matrix that is not positive definite.
pub(crate) fn fold_observer(
    point: &[f64],
    dyn_f: &[f64],
    q_design: f64,
    readout: &[f64],
    bias: &[f64],
    table: &[f64],
) -> Option<Folded> {
    let d = point.len();
    let n = bias.len();
    // Linearisation of E[g | a] at e.
    let log_rate = matvec(readout, point, n, d);
    let mut h = vec![0.0; n * d];
    let mut m = vec![0.0; n];
    let mut r_inv = vec![0.0; n];
    for i in 0..n {
        let lambda = (bias[i] + log_rate[i]).exp();
        let (mean, var, dmean) = transformed_poisson_moments(table, lambda);
        m[i] = mean;
        // Floor the variance: a neuron that (almost) never fires carries little information,
        // and its tiny variance must not turn into a huge gain.
        r_inv[i] = 1.0 / var.max(1e-3);
        for j in 0..d {
            h[i * d + j] = dmean * lambda * readout[i * d + j];
        }
    }
    // Information of one observation: H^T R^-1 H (d x d).
    let ht = transpose(&h, n, d);
    let mut ht_rinv = ht.clone();
    for j in 0..d {
        for i in 0..n {
            ht_rinv[j * n + i] *= r_inv[i];
        }
    }
    let info = matmul(&ht_rinv, &h, d, n, d);
    let ft = transpose(dyn_f, d, d);
    // Riccati iteration on the posterior covariance.
    let mut post = identity(d);
    for v in post.iter_mut() {
        *v *= q_design;
    }
    for _ in 0..500 {
        let mut prior = matmul(&matmul(dyn_f, &post, d, d, d), &ft, d, d, d);
        for i in 0..d {
            prior[i * d + i] += q_design;
        }
        let mut prec = spd_inverse(&prior, d)?;
        for (p, x) in prec.iter_mut().zip(&info) {
            *p += x;
        }
        let next = spd_inverse(&prec, d)?;
        let change = next
            .iter()
            .zip(&post)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        post = next;
        if change < 1e-12 {
            break;
        }
    }
    let gain = matmul(&post, &ht_rinv, d, d, n); // K = P H^T R^-1
    let mut i_kh = matmul(&gain, &h, d, n, d);
    for v in i_kh.iter_mut() {
        *v = -*v;
    }
    for i in 0..d {
        i_kh[i * d + i] += 1.0;
    }
    let dynamics = matmul(&i_kh, dyn_f, d, d, d);
    let de = matvec(&dynamics, point, d, d);
    let km = matvec(&gain, &m, d, n);
    let offset = (0..d).map(|i| point[i] - de[i] - km[i]).collect();
    Some(Folded {
        dynamics,
        input_gain: gain,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_identity_table_are_poisson() {
        let table: Vec<f64> = (0..200).map(|c| c as f64).collect();
        for lambda in [0.05, 0.3, 2.0, 10.0] {
            let (m, v, dm) = transformed_poisson_moments(&table, lambda);
            assert!((m - lambda).abs() < 1e-9, "{lambda} {m}");
            assert!((v - lambda).abs() < 1e-9, "{lambda} {v}");
            assert!((dm - 1.0).abs() < 1e-9, "{lambda} {dm}");
        }
        // A saturating table: counts >= 1 all read 1, so the mean is P(y >= 1).
        let (m, _, dm) = transformed_poisson_moments(&[0.0, 1.0], 0.5);
        assert!((m - (1.0 - (-0.5f64).exp())).abs() < 1e-12);
        assert!((dm - (-0.5f64).exp()).abs() < 1e-12);
    }

    #[test]
    fn folded_observer_has_the_expansion_point_as_fixed_point() {
        // With the expected input at e, the folded update maps e to e.
        let d = 2;
        let point = [0.5, -0.3];
        let f = [0.9, 0.1, -0.1, 0.9];
        let readout = [0.4, 0.1, -0.2, 0.5, 0.3, 0.3];
        let bias = [-2.0, -1.5, -3.0];
        let table: Vec<f64> = (0..16).map(|c| (c as f64).sqrt()).collect();
        let fo = fold_observer(&point, &f, 0.01, &readout, &bias, &table).unwrap();
        let lr = matvec(&readout, &point, 3, d);
        let m: Vec<f64> = (0..3)
            .map(|i| transformed_poisson_moments(&table, (bias[i] + lr[i]).exp()).0)
            .collect();
        let next: Vec<f64> = (0..d)
            .map(|i| {
                matvec(&fo.dynamics, &point, d, d)[i]
                    + matvec(&fo.input_gain, &m, d, 3)[i]
                    + fo.offset[i]
            })
            .collect();
        for i in 0..d {
            assert!((next[i] - point[i]).abs() < 1e-12, "{next:?}");
        }
    }
}
