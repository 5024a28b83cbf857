//! The JSLDS loss:
//! `NLL(GRU path) + l_lin NLL(linear path) + l_fp sum_k |F(e_k,u*) - e_k|^2 +
//!  l_a mean_t |h_t - a_t|^2 + l2 |W|^2 (+ l_gate CE(gate, nearest)) (+ l_z open-gate term)`,
//! the open-gate term being `mean_{k,i} relu(z_{k,i} - z_max)^2` over the GRU's update gate at
//! the expansion points.
//!
//! Scales: the Poisson NLL is summed over neurons and averaged over bins, the approximation
//! term summed over latent units and averaged over bins, the fixed-point term summed over the K
//! points (as in DESIGN.md). The selection of the regime is an argmin/argmax index, so no
//! gradient flows through the choice (see `model.rs`). The optional gate is trained to
//! reproduce the nearest-point rule from `a_{t-1}` (a distillation, cross-entropy), since its
//! argmax has no gradient either.

use burn::tensor::activation::log_softmax;
use burn::tensor::Tensor;

use super::model::{Jslds, Rollout};

/// Weights of the loss terms. Defaults: the reference weights of the paper's code.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossWeights {
    /// `l_lin`: Poisson NLL of the linear path.
    pub lin: f32,
    /// `l_fp`: fixed-point term `sum_k |F(e_k, u*) - e_k|^2`.
    pub fixed_point: f32,
    /// `l_a`: approximation term `mean_t |h_t - a_t|^2`.
    pub approx: f32,
    /// L2 on the GRU weights.
    pub l2: f32,
    /// Cross-entropy of the gate against the nearest-point label (gate selection only).
    pub gate: f32,
    /// Scale-free approximation term: `mean_t |h_t - a_t|^2 / mean_t |h_t|^2` over the batch
    /// (the training form of the held-out relative error). The plain term can be lowered by
    /// shrinking the GRU's states (the readout rescales them); measured on `flipflop` with
    /// `l_a = 100`: the median |h| fell to 0.54 while the relative error stayed at 0.25.
    /// Older checkpoints: off.
    #[serde(default)]
    pub approx_relative: bool,
    /// Train the linear path one step at a time from the GRU's previous state (see
    /// [`super::model::Jslds::rollout_with`]); evaluation always runs it freely. Older
    /// checkpoints: off.
    #[serde(default)]
    pub approx_one_step: bool,
    /// `l_z`: weight of the open-gate term `mean_{k,i} relu(z_{k,i} - z_max)^2`, the GRU's
    /// update gate at the expansion points. Where `z` saturates at 1 the GRU holds its state by
    /// gating, `J_u(e_k)` vanishes and the linear path cannot be moved across a region boundary
    /// by an input pulse, although the GRU flips (measured on `flipflop`). 0 = off (older
    /// checkpoints: off).
    #[serde(default)]
    pub gate_open: f32,
    /// Largest update gate at the expansion points before `gate_open` applies.
    #[serde(default = "default_z_max")]
    pub z_max: f32,
    /// `l_a1`: one-step approximation term `mean_t |h_t - lin_k(h_{t-1}, u_t)|^2`, `k` chosen
    /// from `h_{t-1}` by the model's rule, added to (not replacing) the free-path term `l_a`; scaled
    /// like it (`approx_relative`) and ramped with it during the warm-up. 0 = off (older
    /// checkpoints: off).
    #[serde(default)]
    pub approx_step: f32,
    /// The last this many expansion points are free: the fixed-point term leaves them out, so
    /// they can sit on the paths between fixed points (a flip's transit) rather than on fixed
    /// points. 0 = every point pinned (older checkpoints: 0).
    #[serde(default)]
    pub free_points: usize,
    /// `l_c`: weight of the contraction term `sum_k |J_h(e_k)^8|_F^2` over the pinned
    /// points. A mode of `J_h` with `|lambda|` near 1 holds whatever offset a transition left
    /// between the two paths (both integrate it), so the free rollout keeps that error for the
    /// whole quiet stretch that follows; the flip-flop's true corners contract
    /// (`exp(-2 dt / tau)` = 0.45 at 20 ms). The eighth power weighs slow modes (0.99^16 =
    /// 0.85) far above fast ones (0.6^16 = 3e-4). Ramped with `l_a` in the warm-up. 0 = off
    /// (older checkpoints: off).
    #[serde(default)]
    pub contraction: f32,
    /// `l_s`: weight of the regime-match term, the cross-entropy of
    /// `softmax_j(-|a_t - e_j|^2)` against the expansion point nearest to the GRU's `h_t`
    /// (the cells are held fixed: only `a_t` carries a gradient). The free rollout's error on
    /// `flipflop` comes from a few events in which the linear path ends up in another point's
    /// cell than the GRU (a pulse that kicks it short of the boundary, a drift across it) and
    /// then follows that regime's dynamics for hundreds of bins; `|h - a|^2` weighs such a bin like any other bin at the
    /// same distance, this term by which side of the boundary it is on. Ramped with `l_a`
    /// in the warm-up. 0 = off (older checkpoints: off).
    #[serde(default)]
    pub regime_match: f32,
}

fn default_z_max() -> f32 {
    0.5
}

impl Default for LossWeights {
    fn default() -> Self {
        Self {
            lin: 1.0,
            fixed_point: 100.0,
            approx: 10.0,
            l2: 1e-5,
            gate: 1.0,
            approx_relative: false,
            approx_one_step: false,
            gate_open: 0.0,
            z_max: default_z_max(),
            approx_step: 0.0,
            free_points: 0,
            contraction: 0.0,
            regime_match: 0.0,
        }
    }
}

/// How many of `k` expansion points the fixed-point term holds when `free` are asked to be
/// free: the first `k - free`, and always at least one. The analysis marks the same regimes
/// `pinned`.
pub fn pinned_points(k: usize, free: usize) -> usize {
    k.saturating_sub(free).max(1)
}

/// The loss and its parts (unweighted), as scalar tensors `[1]`.
pub struct LossParts {
    /// Weighted sum, what is minimised.
    pub total: Tensor<1>,
    /// Poisson NLL a bin of the GRU path.
    pub nll: Tensor<1>,
    /// Poisson NLL a bin of the linear path.
    pub nll_lin: Tensor<1>,
    /// `sum_k |F(e_k, u*) - e_k|^2`.
    pub fixed_point: Tensor<1>,
    /// `mean_t |h_t - a_t|^2` (divided by `mean_t |h_t|^2` with `approx_relative`).
    pub approx: Tensor<1>,
}

/// Largest log-rate fed to `exp` (e^12 ~ 1.6e5 spikes a bin): keeps an early bad step finite.
pub const MAX_LOG_RATE: f32 = 12.0;

/// Poisson negative log-likelihood without the `log y!` constant: `exp(eta) - y eta`, summed
/// over neurons, averaged over bins.
pub fn poisson_nll(log_rate: Tensor<3>, counts: Tensor<3>) -> Tensor<1> {
    let eta = log_rate.clamp_max(MAX_LOG_RATE);
    (eta.clone().exp() - counts * eta).sum_dim(2).mean()
}

/// Computes the loss of a rollout against the next-bin `counts` (`[B, T, N]`).
pub fn jslds_loss(model: &Jslds, roll: &Rollout, counts: Tensor<3>, w: &LossWeights) -> LossParts {
    let nll = poisson_nll(model.log_rates(roll.h.clone()), counts.clone());
    let nll_lin = poisson_nll(model.log_rates(roll.a.clone()), counts);
    let pinned = pinned_points(model.regimes(), w.free_points);
    let fixed_point = (roll.lin.f.clone() - model.points.val())
        .narrow(0, 0, pinned)
        .square()
        .sum();
    let mut approx = (roll.h.clone() - roll.a.clone()).square().sum_dim(2).mean();
    if w.approx_relative {
        let norm = roll.h.clone().square().sum_dim(2).mean().clamp_min(1e-6);
        approx = approx / norm;
    }
    let l2 =
        model.gru.input.weight.val().square().sum() + model.gru.hidden.weight.val().square().sum();
    let mut total = nll.clone()
        + nll_lin.clone().mul_scalar(w.lin)
        + fixed_point.clone().mul_scalar(w.fixed_point)
        + approx.clone().mul_scalar(w.approx)
        + l2.mul_scalar(w.l2);
    if let (Some(a1), true) = (&roll.one_step, w.approx_step > 0.0) {
        let mut term = (roll.h.clone() - a1.clone()).square().sum_dim(2).mean();
        if w.approx_relative {
            term = term / roll.h.clone().square().sum_dim(2).mean().clamp_min(1e-6);
        }
        total = total + term.mul_scalar(w.approx_step);
    }
    if w.contraction > 0.0 {
        total = total + contraction(&roll.lin.jh_t, pinned).mul_scalar(w.contraction);
    }
    if w.regime_match > 0.0 {
        total =
            total + regime_match(&roll.h, &roll.a, model.points.val()).mul_scalar(w.regime_match);
    }
    if w.gate_open > 0.0 {
        let over = (roll.lin.z.clone() - w.z_max).clamp_min(0.0);
        total = total + over.square().mean().mul_scalar(w.gate_open);
    }
    if let Some(logits) = &roll.gate_logits {
        let k = logits.dims()[2];
        let target: Tensor<3> = roll.nearest.clone().float().one_hot(k);
        let ce = (log_softmax(logits.clone(), 2) * target)
            .sum_dim(2)
            .mean()
            .neg();
        total = total + ce.mul_scalar(w.gate);
    }
    LossParts {
        total,
        nll,
        nll_lin,
        fixed_point,
        approx,
    }
}

/// `sum_k |J_h(e_k)^8|_F^2` over the first `pinned` points of `jh_t` (`[K, d, d]`, the
/// transposes, which have the same powers' norms), by three squarings.
pub fn contraction(jh_t: &Tensor<3>, pinned: usize) -> Tensor<1> {
    let j = jh_t.clone().narrow(0, 0, pinned);
    let j2 = j.clone().matmul(j);
    let j4 = j2.clone().matmul(j2);
    let j8 = j4.clone().matmul(j4);
    j8.square().sum()
}

/// `mean_{b,t} CE(softmax_j(-|a_t - e_j|^2), nearest_j |h_t - e_j|)` for states `h`, `a`
/// (`[B, T, d]`) and points `[K, d]`; the points and the GRU's states enter detached (they
/// set the cells and the target), so the gradient moves the linear path, and through it the
/// GRU's Jacobians and the points it is linearised at.
pub fn regime_match(h: &Tensor<3>, a: &Tensor<3>, points: Tensor<2>) -> Tensor<1> {
    let [b, t, d] = a.dims();
    let k = points.dims()[0];
    let points = points.detach().reshape([1, 1, k, d]);
    let sq = |x: Tensor<3>| {
        (x.reshape([b, t, 1, d]) - points.clone())
            .square()
            .sum_dim(3)
            .reshape([b, t, k])
    };
    let target: Tensor<3> = sq(h.clone().detach())
        .argmin(2)
        .reshape([b, t])
        .one_hot(k)
        .float();
    (log_softmax(sq(a.clone()).neg(), 2) * target)
        .sum_dim(2)
        .mean()
        .neg()
}

impl LossParts {
    /// The parts as numbers, read in one transfer: `[total, nll, nll_lin, fixed_point, approx]`.
    pub fn values(&self) -> [f32; 5] {
        let all = Tensor::cat(
            vec![
                self.total.clone().detach(),
                self.nll.clone().detach(),
                self.nll_lin.clone().detach(),
                self.fixed_point.clone().detach(),
                self.approx.clone().detach(),
            ],
            0,
        );
        let v = all.try_into_vec_as::<f32>().unwrap_or_default();
        let mut out = [f32::NAN; 5];
        for (o, x) in out.iter_mut().zip(v) {
            *o = x;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::jslds::model::JsldsConfig;
    use crate::jslds::tests::seeded;

    /// A small model (3 inputs, 5 neurons, d = 4, K = 3) and a batch: inputs `u`, counts
    /// `y`, initial state `h0`.
    fn fixtures(seed: u64) -> (Jslds, Tensor<3>, Tensor<3>, Tensor<2>) {
        let device = Device::flex().autodiff();
        device.seed(seed);
        let model = JsldsConfig {
            inputs: 3,
            outputs: 5,
            latent: 4,
            regimes: 3,
            learn_anchor: false,
            gate: false,
        }
        .init(&device);
        let u = Tensor::<3>::random([2, 6, 3], Distribution::Normal(0.0, 1.0), &device);
        let y = Tensor::<3>::random([2, 6, 5], Distribution::Uniform(0.0, 3.0), &device).floor();
        let h0 = Tensor::<2>::random([2, 4], Distribution::Normal(0.0, 0.5), &device);
        (model, u, y, h0)
    }

    /// The values of a tensor, untracked.
    fn plain<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.clone().detach().try_into_vec_as::<f32>().unwrap()
    }

    fn setup() -> (Jslds, Rollout, Tensor<3>) {
        let (model, u, y, h0) = fixtures(11);
        let roll = model.rollout(u, h0.clone(), h0 + 0.3);
        (model, roll, y)
    }

    /// The open-gate term adds `l_z mean relu(z - z_max)^2` over the update gates at the
    /// expansion points, and only that.
    #[test]
    fn open_gate_term_is_the_hinge_on_z() {
        let _guard = seeded();
        let (model, roll, y) = setup();
        let z = plain(&roll.lin.z);
        assert_eq!(z.len(), 3 * 4);
        let z_max = 0.3;
        let expected: f32 =
            z.iter().map(|&v| (v - z_max).max(0.0).powi(2)).sum::<f32>() / z.len() as f32;
        assert!(expected > 1e-4, "degenerate: no gate above {z_max} ({z:?})");
        let base = LossWeights::default();
        let with = LossWeights {
            gate_open: 50.0,
            z_max,
            ..base.clone()
        };
        let a = jslds_loss(&model, &roll, y.clone(), &base).values();
        let b = jslds_loss(&model, &roll, y, &with).values();
        assert!(((b[0] - a[0]) - 50.0 * expected).abs() < 1e-3 * (1.0 + a[0].abs()));
        assert_eq!(a[1..], b[1..], "the reported parts do not change");
    }

    /// The contraction term is `sum_k |J_h(e_k)^8|_F^2` over the pinned points (checked
    /// against plain matrix powers of the closed-form Jacobians), and the loss grows by
    /// `l_c` times it and only that.
    #[test]
    fn contraction_term_is_the_eighth_power_norm_over_pinned_points() {
        let _guard = seeded();
        let (model, roll, y) = setup();
        let d = 4;
        let jh = plain(&roll.lin.jh_t);
        assert_eq!(jh.len(), 3 * d * d);
        let mul = |a: &[f64], b: &[f64]| -> Vec<f64> {
            let mut c = vec![0.0; d * d];
            for i in 0..d {
                for j in 0..d {
                    c[i * d + j] = (0..d).map(|l| a[i * d + l] * b[l * d + j]).sum();
                }
            }
            c
        };
        let norm8 = |k: usize| -> f64 {
            let j: Vec<f64> = jh[k * d * d..(k + 1) * d * d]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let j2 = mul(&j, &j);
            let j4 = mul(&j2, &j2);
            mul(&j4, &j4).iter().map(|v| v * v).sum()
        };
        let per_point: Vec<f64> = (0..3).map(norm8).collect();
        assert!(per_point[2] > 1e-8, "degenerate: {per_point:?}");
        let all = contraction(&roll.lin.jh_t, 3).into_scalar::<f32>() as f64;
        let two = contraction(&roll.lin.jh_t, 2).into_scalar::<f32>() as f64;
        let expected: f64 = per_point.iter().sum();
        assert!(
            (all - expected).abs() < 1e-4 * (1e-3 + expected),
            "{all} vs {expected}"
        );
        assert!((two - per_point[0] - per_point[1]).abs() < 1e-4 * (1e-3 + expected));
        let base = LossWeights::default();
        let with = LossWeights {
            contraction: 1e3,
            free_points: 1,
            ..base.clone()
        };
        let pinned_only = LossWeights {
            free_points: 1,
            ..base.clone()
        };
        let a = jslds_loss(&model, &roll, y.clone(), &pinned_only).values();
        let b = jslds_loss(&model, &roll, y, &with).values();
        let grew = (b[0] - a[0]) as f64;
        assert!(
            (grew - 1e3 * two).abs() < 1e-3 * (1.0 + a[0].abs() as f64),
            "{grew} vs {}",
            1e3 * two
        );
        assert_eq!(a[1..], b[1..], "the reported parts do not change");
    }

    /// The regime-match term is the mean cross-entropy of `softmax_j(-|a_t - e_j|^2)`
    /// against the point nearest to `h_t` (checked by hand over every bin), the loss grows by
    /// `l_s` times it and only that, and its gradient reaches the GRU's weights (through the
    /// linear path).
    #[test]
    fn regime_match_term_is_the_cross_entropy_of_the_linear_state() {
        let _guard = seeded();
        let (model, roll, y) = setup();
        let (h, a) = (plain(&roll.h), plain(&roll.a));
        let e = plain(&model.points.val());
        let (d, k) = (4, 3);
        let sq = |x: &[f32], j: usize| -> f64 {
            (0..d).map(|i| ((x[i] - e[j * d + i]) as f64).powi(2)).sum()
        };
        let bins = h.len() / d;
        let mut ce = 0.0;
        let mut mismatched = 0;
        for n in 0..bins {
            let (hn, an) = (&h[n * d..(n + 1) * d], &a[n * d..(n + 1) * d]);
            let target = (0..k)
                .min_by(|&i, &j| sq(hn, i).total_cmp(&sq(hn, j)))
                .unwrap();
            let nearest_a = (0..k)
                .min_by(|&i, &j| sq(an, i).total_cmp(&sq(an, j)))
                .unwrap();
            mismatched += usize::from(target != nearest_a);
            let lse = (0..k).map(|j| (-sq(an, j)).exp()).sum::<f64>().ln();
            ce += lse + sq(an, target);
        }
        let expected = ce / bins as f64;
        assert!(mismatched > 0, "degenerate: the two paths never disagree");
        let got = regime_match(&roll.h, &roll.a, model.points.val()).into_scalar::<f32>() as f64;
        assert!(
            (got - expected).abs() < 1e-4 * (1.0 + expected),
            "{got} vs {expected}"
        );
        let base = LossWeights::default();
        let with = LossWeights {
            regime_match: 3.0,
            ..base.clone()
        };
        let plain = jslds_loss(&model, &roll, y.clone(), &base).values();
        let parts = jslds_loss(&model, &roll, y, &with);
        let b = parts.values();
        assert!(
            ((b[0] - plain[0]) as f64 - 3.0 * expected).abs()
                < 1e-3 * (1.0 + plain[0].abs() as f64)
        );
        assert_eq!(plain[1..], b[1..], "the reported parts do not change");
        let term = regime_match(&roll.h, &roll.a, model.points.val());
        let grads = term.backward();
        let gru = model
            .gru
            .hidden
            .weight
            .val()
            .grad(&grads)
            .expect("no gradient reaches the GRU");
        assert!(gru.abs().sum().into_scalar::<f32>() > 0.0);
    }

    /// The one-step term: the step from the GRU's previous state is the one the one-step
    /// training form of the linear path takes (two code paths, one value), and the loss grows
    /// by `l_a1 mean_t |h_t - lin(h_{t-1}, u_t)|^2` and only that.
    #[test]
    fn one_step_term_is_the_step_from_the_gru_state() {
        let _guard = seeded();
        let (model, u, y, h0) = fixtures(12);
        let roll = model.rollout_full(u.clone(), h0.clone(), h0.clone() + 0.3, false, true);
        let stepped = model.rollout_full(u, h0.clone(), h0, true, false);
        let a1 = roll.one_step.clone().expect("one-step states").detach();
        let diff: f32 = (a1.clone() - stepped.a.detach()).abs().max().into_scalar();
        assert!(diff < 1e-5, "one-step states differ by {diff}");
        let h = roll.h.clone().detach();
        let expected: f32 = (h.clone() - a1).square().sum_dim(2).mean().into_scalar();
        assert!(expected > 1e-4, "degenerate: {expected}");
        let base = LossWeights::default();
        let with = LossWeights {
            approx_step: 7.0,
            ..base.clone()
        };
        let a = jslds_loss(&model, &roll, y.clone(), &base).values();
        let b = jslds_loss(&model, &roll, y, &with).values();
        assert!(((b[0] - a[0]) - 7.0 * expected).abs() < 1e-3 * (1.0 + a[0].abs()));
        assert_eq!(a[1..], b[1..], "the reported parts do not change");
    }

    /// Free points: the fixed-point term sums `|F(e_k, u*) - e_k|^2` over the pinned points
    /// only (the first `K - free`), and the loss falls by the free points' share and only that.
    #[test]
    fn free_points_leave_the_fixed_point_term() {
        let _guard = seeded();
        let (model, roll, y) = setup();
        let f = plain(&roll.lin.f);
        let e = plain(&model.points.val());
        let per_point: Vec<f32> = f
            .chunks(4)
            .zip(e.chunks(4))
            .map(|(f, e)| f.iter().zip(e).map(|(a, b)| (a - b).powi(2)).sum())
            .collect();
        assert_eq!(per_point.len(), 3);
        assert!(per_point[2] > 1e-4, "degenerate: {per_point:?}");
        let base = LossWeights::default();
        let with = LossWeights {
            free_points: 1,
            ..base.clone()
        };
        let a = jslds_loss(&model, &roll, y.clone(), &base).values();
        let b = jslds_loss(&model, &roll, y.clone(), &with).values();
        assert!((a[3] - per_point.iter().sum::<f32>()).abs() < 1e-4 * (1.0 + a[3]));
        assert!((b[3] - per_point[0] - per_point[1]).abs() < 1e-4 * (1.0 + b[3]));
        let drop = base.fixed_point * per_point[2];
        assert!(((a[0] - b[0]) - drop).abs() < 1e-3 * (1.0 + a[0].abs()));
        assert_eq!(a[1..3], b[1..3]);
        assert_eq!(a[4], b[4]);
        // At least one point stays pinned whatever is asked.
        let all_free = LossWeights {
            free_points: 9,
            ..base
        };
        let c = jslds_loss(&model, &roll, y, &all_free).values();
        assert!((c[3] - per_point[0]).abs() < 1e-4 * (1.0 + c[3]));
    }
}
