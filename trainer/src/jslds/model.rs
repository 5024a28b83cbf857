//! The JSLDS model (DESIGN.md § JSLDS): a GRU state estimator, a Poisson readout, K learned
//! expansion points with an input anchor u*, and the parameter-tied switching linear system
//! built from the GRU's own Jacobians at those points, rolled out beside the GRU.
//!
//! ```text
//! h_t = F(h_{t-1}, u_t)                                    GRU path
//! k_t = select(a_{t-1})                                    nearest e_k, or argmax of a linear gate
//! a_t = F(e_k, u*) + J_h(e_k, u*) (a_{t-1} - e_k) + J_u(e_k, u*) (u_t - u*)   linear path
//! log lambda_{t+1} = C h_t + c   (and C a_t + c for the linear path)
//! ```
//! The selection is an index (argmin / argmax), not differentiable: gradients flow through the
//! selected regime's F, J_h, J_u, e_k (and through a_{t-1}), never through the choice itself.
//! It is applied as a one-hot mask over all K candidate next states, computed from detached
//! values, so no tracked tensor is sliced inside the time loop.
//!
//! All K candidate next states come from one matmul per step: with row vectors,
//! `a_t^(k) = a_{t-1} Jh_k^T + u_t Ju_k^T + (F_k - e_k Jh_k^T - u* Ju_k^T)`, and the K blocks
//! are laid side by side (`[d, K d]`). This is also exactly the folded form of the device.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Int, Tensor};

use super::gru::GruCell;
use super::jacobian::{linearise, Linearisation};

/// Sizes and options of a JSLDS model.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct JsldsConfig {
    /// Inputs per bin (neurons after the count transform).
    pub inputs: usize,
    /// Predicted neurons (readout size).
    pub outputs: usize,
    /// Latent size d.
    pub latent: usize,
    /// Number of expansion points K.
    pub regimes: usize,
    /// Learn the input anchor u* (otherwise it stays at the mean input, 0 after standardising).
    pub learn_anchor: bool,
    /// Select the regime with a learned linear gate instead of the nearest expansion point.
    pub gate: bool,
}

/// The JSLDS model.
#[derive(Module, Debug)]
pub struct Jslds {
    /// The state estimator F.
    pub gru: GruCell,
    /// Poisson readout, weight `[d, N]`: log-rate of the next bin.
    pub readout: Linear,
    /// Expansion points e_k, `[K, d]`.
    pub points: Param<Tensor<2>>,
    /// Input anchor u*, `[1, n_in]` (standardised input units).
    pub anchor: Param<Tensor<2>>,
    /// Optional gate, weight `[d, K]`: `k = argmax(a W_g + b_g)`.
    pub gate: Option<Linear>,
    /// Whether u* is trained.
    pub learn_anchor: bool,
    /// Whether `gate` (rather than the nearest point) selects the regime.
    pub use_gate: bool,
}

/// The switching linear system in the latent's row convention, all K regimes side by side.
pub struct Switching {
    /// `[d, K d]`: block k is `J_h(e_k)^T`.
    pub dynamics: Tensor<2>,
    /// `[n_in, K d]`: block k is `J_u(e_k)^T`.
    pub input_gain: Tensor<2>,
    /// `[1, K d]`: block k is `F_k - e_k J_h^T - u* J_u^T`.
    pub offset: Tensor<2>,
    /// K.
    pub regimes: usize,
    /// d.
    pub latent: usize,
}

impl Switching {
    /// Builds the side-by-side form from a linearisation at `points` (`[K, d]`), `anchor`
    /// (`[1, n_in]`).
    pub fn new(lin: &Linearisation, points: Tensor<2>, anchor: Tensor<2>) -> Self {
        let [k, d, _] = lin.jh_t.dims();
        let n_in = lin.ju_t.dims()[1];
        // e_k Jh_k^T and u* Ju_k^T as broadcast products summed over the row index j.
        let e_jh = (points.reshape([k, d, 1]) * lin.jh_t.clone())
            .sum_dim(1)
            .reshape([k, d]);
        let u_ju = (anchor.reshape([1, n_in, 1]) * lin.ju_t.clone())
            .sum_dim(1)
            .reshape([k, d]);
        let offset = (lin.f.clone() - e_jh - u_ju).reshape([1, k * d]);
        let side = |t: Tensor<3>, rows: usize| t.swap_dims(0, 1).reshape([rows, k * d]);
        Self {
            dynamics: side(lin.jh_t.clone(), d),
            input_gain: side(lin.ju_t.clone(), n_in),
            offset,
            regimes: k,
            latent: d,
        }
    }

    /// One step of every regime, masked to the selected one: `a` `[B, d]`, `u` `[B, n_in]`,
    /// `one_hot` `[B, K]` (untracked) -> `[B, d]`.
    pub fn step(&self, a: Tensor<2>, u: Tensor<2>, one_hot: Tensor<2>) -> Tensor<2> {
        let b = a.dims()[0];
        let all = a.matmul(self.dynamics.clone())
            + u.matmul(self.input_gain.clone())
            + self.offset.clone();
        (all.reshape([b, self.regimes, self.latent]) * one_hot.unsqueeze_dim::<3>(2))
            .sum_dim(1)
            .reshape([b, self.latent])
    }
}

/// Everything a rollout produces.
pub struct Rollout {
    /// GRU states `[B, T, d]`.
    pub h: Tensor<3>,
    /// Linear-path states `[B, T, d]`.
    pub a: Tensor<3>,
    /// Regime used for step t (selected from `a_{t-1}`), `[B, T]`.
    pub regime: Tensor<2, Int>,
    /// Nearest expansion point to `a_{t-1}`, `[B, T]` (the gate's training label).
    pub nearest: Tensor<2, Int>,
    /// Gate logits `[B, T, K]` when the model has a gate.
    pub gate_logits: Option<Tensor<3>>,
    /// The linearisation used (for the fixed-point loss).
    pub lin: Linearisation,
    /// With the one-step term: the linear step from the GRU's previous state,
    /// `lin_k(h_{t-1}, u_t)` with `k` chosen from `h_{t-1}` by the model's rule (nearest
    /// point, or the gate once it selects), `[B, T, d]`.
    pub one_step: Option<Tensor<3>>,
    /// GRU state after the last bin, `[B, d]` (tracked; detach to carry it on).
    pub h_last: Tensor<2>,
    /// Linear-path state after the last bin, `[B, d]` (tracked).
    pub a_last: Tensor<2>,
}

impl JsldsConfig {
    /// A model with random GRU/readout weights and expansion points drawn from N(0, 0.1^2).
    pub fn init(&self, device: &Device) -> Jslds {
        let points = Tensor::<2>::random(
            [self.regimes, self.latent],
            Distribution::Normal(0.0, 0.1),
            device,
        );
        Jslds {
            gru: GruCell::new(self.inputs, self.latent, device),
            readout: LinearConfig::new(self.latent, self.outputs).init(device),
            points: Param::from_tensor(points),
            anchor: Param::from_tensor(Tensor::zeros([1, self.inputs], device)),
            gate: self
                .gate
                .then(|| LinearConfig::new(self.latent, self.regimes).init(device)),
            learn_anchor: self.learn_anchor,
            use_gate: self.gate,
        }
    }
}

impl Jslds {
    /// Latent size d.
    pub fn latent(&self) -> usize {
        self.gru.latent
    }
    /// Number of expansion points K.
    pub fn regimes(&self) -> usize {
        self.points.dims()[0]
    }

    /// u*, detached when it is not learned.
    pub fn anchor_val(&self) -> Tensor<2> {
        if self.learn_anchor {
            self.anchor.val()
        } else {
            self.anchor.val().detach()
        }
    }

    /// The linearisation at the current expansion points and its side-by-side form.
    pub fn switching(&self) -> (Linearisation, Switching) {
        let lin = linearise(&self.gru, self.points.val(), self.anchor_val());
        let sw = Switching::new(&lin, self.points.val(), self.anchor_val());
        (lin, sw)
    }

    /// Index of the nearest expansion point to each row of `a` (`[B, d]`, detached), `[B]`.
    pub fn nearest(a: Tensor<2>, points: Tensor<2>) -> Tensor<1, Int> {
        let [b, d] = a.dims();
        let k = points.dims()[0];
        let dist = (a.reshape([b, 1, d]) - points.reshape([1, k, d]))
            .square()
            .sum_dim(2)
            .reshape([b, k]);
        dist.argmin(1).reshape([b])
    }

    /// Runs both paths over standardised inputs `u` (`[B, T, n_in]`, untracked) from the
    /// initial states `h0` (GRU) and `a0` (linear path), `[B, d]` each.
    pub fn rollout(&self, u: Tensor<3>, h0: Tensor<2>, a0: Tensor<2>) -> Rollout {
        self.rollout_with(u, h0, a0, false)
    }

    /// [`Self::rollout`], or with `one_step` the one-step form of the linear path used in
    /// training by `--approx-one-step`: each step is taken from the GRU's previous state,
    /// `a_t = lin_k(h_{t-1}, u_t)` with `k` selected from `h_{t-1}`, so that the linear system
    /// learns to reproduce every GRU step (flips included) instead of being scored only along
    /// its own, possibly diverged, path. `a0` is unused then.
    pub fn rollout_with(
        &self,
        u: Tensor<3>,
        h0: Tensor<2>,
        a0: Tensor<2>,
        one_step: bool,
    ) -> Rollout {
        self.rollout_full(u, h0, a0, one_step, false)
    }

    /// [`Self::rollout_with`], and with `step_term` also [`Rollout::one_step`]: the linear
    /// step taken from the GRU's previous state beside the free path (`--l-a1`).
    pub fn rollout_full(
        &self,
        u: Tensor<3>,
        h0: Tensor<2>,
        a0: Tensor<2>,
        one_step: bool,
        step_term: bool,
    ) -> Rollout {
        let [b, t, n_in] = u.dims();
        let k = self.regimes();
        let (lin, sw) = self.switching();
        let points = self.points.val().detach();
        let mut h = h0;
        let mut a = a0;
        let (mut hs, mut as_) = (Vec::with_capacity(t), Vec::with_capacity(t));
        let (mut regimes, mut nearests, mut logits) = (Vec::new(), Vec::new(), Vec::new());
        let mut steps = Vec::new();
        for ut in u.chunk(t, 1) {
            let ut = ut.reshape([b, n_in]);
            if one_step {
                a = h.clone();
            }
            let a_prev = a.clone().detach();
            let nearest = Self::nearest(a_prev.clone(), points.clone());
            let regime = match (&self.gate, self.use_gate) {
                (Some(gate), true) => {
                    let l = gate.forward(a_prev);
                    let choice = l.clone().detach().argmax(1).reshape([b]);
                    logits.push(l);
                    choice
                }
                (Some(gate), false) => {
                    logits.push(gate.forward(a_prev));
                    nearest.clone()
                }
                _ => nearest.clone(),
            };
            let one_hot: Tensor<2> = regime.clone().float().one_hot(k);
            if step_term {
                // The regime the model's own rule picks from h_{t-1}: the analysis's
                // `one_step` scores the same step.
                let h_prev = h.clone().detach();
                let from_h = match (&self.gate, self.use_gate) {
                    (Some(gate), true) => gate.forward(h_prev).argmax(1).reshape([b]),
                    _ => Self::nearest(h_prev, points.clone()),
                };
                let from_h: Tensor<2> = from_h.float().one_hot(k);
                steps.push(sw.step(h.clone(), ut.clone(), from_h));
            }
            h = self.gru.step(ut.clone(), h);
            a = sw.step(a, ut, one_hot);
            hs.push(h.clone());
            as_.push(a.clone());
            regimes.push(regime);
            nearests.push(nearest);
        }
        Rollout {
            h: Tensor::stack(hs, 1),
            a: Tensor::stack(as_, 1),
            regime: Tensor::stack(regimes, 1),
            nearest: Tensor::stack(nearests, 1),
            gate_logits: (!logits.is_empty()).then(|| Tensor::stack(logits, 1)),
            one_step: (!steps.is_empty()).then(|| Tensor::stack(steps, 1)),
            lin,
            h_last: h,
            a_last: a,
        }
    }

    /// Log-rates of the next bin from states `[B, T, d]` -> `[B, T, N]`.
    pub fn log_rates(&self, states: Tensor<3>) -> Tensor<3> {
        self.readout.forward(states)
    }
}
