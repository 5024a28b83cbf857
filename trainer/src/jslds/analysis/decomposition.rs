//! Where the linear path's error comes from: the choice of regime, or the linearisation itself.
//!
//! The held-out relative error `||H - A|| / ||H||` of the free rollout mixes two causes: the
//! linear path may sit in another region than the GRU and so take the wrong regime's dynamics
//! (selection), and even the right regime's affine map differs from the GRU away from its
//! expansion point (linearisation). Five reruns of the linear path over the same held-out bins
//! and inputs separate them; each is reported as `sqrt(sum |x_t - h_t|^2 / sum |h_t|^2)`, the
//! scale of `relative_error`:
//!
//! * `free_rollout`: the model's own rollout (regime chosen from `a_{t-1}`) rerun in f64: it
//!   equals `relative_error` up to f32 rounding, which checks that the reruns below see the
//!   same system and inputs as the model did.
//! * `selection_from_gru`: the linear path runs freely from zero at each piece, but the regime
//!   of step `t` is chosen by the model's own rule from the GRU's state `h_{t-1}` instead of
//!   `a_{t-1}`. The gap to `relative_error` is what the linear path loses by choosing from its
//!   own, drifted state.
//! * `best_selection`: the linear path runs freely, and each step takes the regime whose next
//!   state lands nearest to `h_t` (a greedy oracle that sees the GRU's answer). Greedy, it is
//!   not a bound: a step's best regime can lead somewhere worse later, so it can even exceed
//!   `relative_error`. Read it with the one-step figures: when it stays far above the target
//!   while the one-step error is large too, the regimes' dynamics limit the model more than
//!   the rule that chooses among them.
//! * `one_step`: one linear step from the GRU's own state, `x_t = lin_k(h_{t-1}, u_t)` with
//!   `k` chosen from `h_{t-1}`: the linearisation error of a single step, nothing accumulated.
//! * `one_step_best`: the same with the best regime for each step (`<= one_step`).
//!
//! Two figures say how the free rollout's error is spread over the bins, which tells a missed
//! flip (the linear path in the wrong corner for a whole quiet stretch: bins whose error is as
//! large as the state) from errors confined to the transitions:
//!
//! * `worst_bins_share`: the share of `sum_t |a_t - h_t|^2` in the worst 5 % of bins.
//! * `worst_bin_error`: the largest bin's `|a_t - h_t|`, relative to the RMS state
//!   `sqrt(sum_t |h_t|^2 / T)` (a bin in the wrong corner of a flip-flop scores of the order of
//!   1: the distance between two corners over the RMS state).
//!
//! `lin_k(x, u) = F(e_k, u*) + J_h (x - e_k) + J_u (u - u*)`, computed in f64 from the
//! linearisations the checkpoint hands over ([`AnalysisInputs`]).

use serde::Serialize;

use crate::jslds::analysis_inputs::{AnalysisInputs, GateWeights, RegimeLinearisation};

/// The five reruns; see the module documentation. Report key `error_decomposition`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorDecomposition {
    /// Free rollout, regime chosen from the linear path's own state (the model's rule).
    pub free_rollout: f64,
    /// Free rollout, regime chosen from the GRU's previous state.
    pub selection_from_gru: f64,
    /// Free rollout, the regime whose next state is nearest the GRU's chosen at each step.
    pub best_selection: f64,
    /// One step from the GRU's state, regime chosen from it.
    pub one_step: f64,
    /// One step from the GRU's state, best regime.
    pub one_step_best: f64,
    /// Share of the free rollout's squared error in its worst [`WORST_FRACTION`] of bins.
    pub worst_bins_share: f64,
    /// The free rollout's largest one-bin error over the RMS state.
    pub worst_bin_error: f64,
}

/// The fraction of bins [`ErrorDecomposition::worst_bins_share`] sums over.
pub const WORST_FRACTION: f64 = 0.05;

/// The regimes in the shape one step needs.
struct Regimes<'a> {
    d: usize,
    n_in: usize,
    regimes: &'a [RegimeLinearisation],
    gate: Option<&'a GateWeights>,
    /// `F(e_k, u*) - J_h e_k - J_u u*` for every regime, `K x d`: the part of a step that
    /// depends on neither the state nor the input, computed once.
    constant: Vec<f64>,
}

impl<'a> Regimes<'a> {
    fn new(
        d: usize,
        n_in: usize,
        regimes: &'a [RegimeLinearisation],
        anchor: &[f64],
        gate: Option<&'a GateWeights>,
    ) -> Self {
        let mut constant = Vec::with_capacity(regimes.len() * d);
        for r in regimes {
            for i in 0..d {
                let jh = &r.jh[i * d..(i + 1) * d];
                let ju = &r.ju[i * n_in..(i + 1) * n_in];
                let je: f64 = jh.iter().zip(&r.expansion_point).map(|(j, e)| j * e).sum();
                let ja: f64 = ju.iter().zip(anchor).map(|(j, s)| j * s).sum();
                constant.push(r.f_at_point[i] - je - ja);
            }
        }
        Self {
            d,
            n_in,
            regimes,
            gate,
            constant,
        }
    }

    /// The regime the model's rule picks from state `x`: the nearest expansion point, or the
    /// largest gate logit (first index on ties, as the device's argmin/argmax).
    fn select(&self, x: &[f64]) -> usize {
        let score = |k: usize| -> f64 {
            match self.gate {
                Some(g) => {
                    let w = &g.weights[k * self.d..(k + 1) * self.d];
                    -(g.bias[k] + w.iter().zip(x).map(|(w, x)| w * x).sum::<f64>())
                }
                None => {
                    let e = &self.regimes[k].expansion_point;
                    e.iter().zip(x).map(|(e, x)| (x - e) * (x - e)).sum()
                }
            }
        };
        argmin((0..self.regimes.len()).map(score))
    }

    /// `F(e_k, u*) - J_h e_k + J_u (u - u*)` for every regime: the part of a step that does
    /// not depend on the state, `K x d`.
    fn offsets(&self, u: &[f64], out: &mut [f64]) {
        let (d, n_in) = (self.d, self.n_in);
        for (k, r) in self.regimes.iter().enumerate() {
            for i in 0..d {
                let ju = &r.ju[i * n_in..(i + 1) * n_in];
                let drive: f64 = ju.iter().zip(u).map(|(j, u)| j * u).sum();
                out[k * d + i] = self.constant[k * d + i] + drive;
            }
        }
    }

    /// `lin_k(x, u)` given the regime's offset from [`Self::offsets`].
    fn step(&self, k: usize, offset: &[f64], x: &[f64], out: &mut [f64]) {
        let d = self.d;
        let jh = &self.regimes[k].jh;
        for i in 0..d {
            out[i] = offset[k * d + i]
                + jh[i * d..(i + 1) * d]
                    .iter()
                    .zip(x)
                    .map(|(j, x)| j * x)
                    .sum::<f64>();
        }
    }

    /// The regime whose step from `x` lands nearest `target`, with that step.
    fn best(&self, offset: &[f64], x: &[f64], target: &[f64], out: &mut [f64]) -> f64 {
        let mut cand = vec![0.0; self.d];
        let mut best = f64::INFINITY;
        for k in 0..self.regimes.len() {
            self.step(k, offset, x, &mut cand);
            let e = sqdist(&cand, target);
            if e < best {
                best = e;
                out.copy_from_slice(&cand);
            }
        }
        best
    }
}

fn sqdist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| (a - b) * (a - b)).sum()
}

fn argmin(values: impl Iterator<Item = f64>) -> usize {
    let mut best = (0, f64::INFINITY);
    for (i, v) in values.enumerate() {
        if v < best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// The decomposition over the held-out bins of `inputs`, or `None` when the checkpoint handed
/// over no held-out inputs (older analysis inputs), the GRU path is zero throughout, or a
/// rerun diverges (a non-finite sum: JSON has no number for it). The sizes are those
/// [`super::View::new`] has checked; inconsistent ones give `None`.
pub fn decompose(inputs: &AnalysisInputs) -> Option<ErrorDecomposition> {
    let ho = inputs.heldout.as_ref()?;
    let (d, n_in, k) = (
        inputs.latent,
        inputs.input_units.len(),
        inputs.regimes.len(),
    );
    let bins = ho.segments.checked_mul(ho.segment_len)?;
    let consistent = ho.inputs.len() == bins * n_in
        && ho.h.len() == bins * d
        && inputs.anchor.len() == n_in
        && k > 0
        && inputs.regimes.iter().all(|r| {
            r.expansion_point.len() == d
                && r.f_at_point.len() == d
                && r.jh.len() == d * d
                && r.ju.len() == d * n_in
        })
        && inputs
            .gate
            .as_ref()
            .is_none_or(|g| g.weights.len() == k * d && g.bias.len() == k);
    if !consistent {
        return None;
    }
    let regimes = Regimes::new(
        d,
        n_in,
        &inputs.regimes,
        &inputs.anchor,
        inputs.gate.as_ref().filter(|_| inputs.selection == "gate"),
    );
    let mut offset = vec![0.0; k * d];
    let mut next = vec![0.0; d];
    let mut free_bins = Vec::with_capacity(bins);
    let (mut free, mut sel, mut best, mut one, mut one_best, mut den) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for piece in 0..ho.segments {
        let mut h_prev = vec![0.0; d];
        let mut a_free = vec![0.0; d];
        let mut a_sel = vec![0.0; d];
        let mut a_best = vec![0.0; d];
        for t in piece * ho.segment_len..(piece + 1) * ho.segment_len {
            let u: Vec<f64> = ho.inputs[t * n_in..(t + 1) * n_in]
                .iter()
                .map(|&v| v as f64)
                .collect();
            let h: Vec<f64> = ho.h[t * d..(t + 1) * d].iter().map(|&v| v as f64).collect();
            regimes.offsets(&u, &mut offset);
            let kh = regimes.select(&h_prev);

            regimes.step(kh, &offset, &h_prev, &mut next);
            one += sqdist(&next, &h);
            one_best += regimes.best(&offset, &h_prev, &h, &mut next);

            regimes.step(regimes.select(&a_free), &offset, &a_free, &mut next);
            a_free.copy_from_slice(&next);
            let e = sqdist(&a_free, &h);
            free += e;
            free_bins.push(e);

            regimes.step(kh, &offset, &a_sel, &mut next);
            a_sel.copy_from_slice(&next);
            sel += sqdist(&a_sel, &h);

            best += regimes.best(&offset, &a_best.clone(), &h, &mut a_best);

            den += h.iter().map(|v| v * v).sum::<f64>();
            h_prev = h;
        }
    }
    if den.is_nan() || den <= 0.0 {
        return None;
    }
    if ![free, sel, best, one, one_best]
        .iter()
        .all(|v| v.is_finite())
    {
        return None;
    }
    let rel = |num: f64| (num / den).sqrt();
    let (worst_bins_share, worst_bin_error) = spread_of(&mut free_bins, free, den);
    Some(ErrorDecomposition {
        free_rollout: rel(free),
        selection_from_gru: rel(sel),
        best_selection: rel(best),
        one_step: rel(one),
        one_step_best: rel(one_best),
        worst_bins_share,
        worst_bin_error,
    })
}

/// [`ErrorDecomposition::worst_bins_share`] and [`ErrorDecomposition::worst_bin_error`] from the
/// per-bin squared errors (reordered), their sum and `sum |h_t|^2 > 0`; both finite and
/// non-negative.
fn spread_of(errors: &mut [f64], total: f64, den: f64) -> (f64, f64) {
    errors.sort_unstable_by(|a, b| b.total_cmp(a));
    let worst = ((errors.len() as f64 * WORST_FRACTION).ceil() as usize).max(1);
    let share = if total > 0.0 {
        errors.iter().take(worst).sum::<f64>() / total
    } else {
        0.0
    };
    let largest = errors.first().copied().unwrap_or(0.0);
    (share, (largest * errors.len() as f64 / den).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jslds::analysis_inputs::{HeldOut, TrainingCurves};
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    const D: usize = 3;
    const N_IN: usize = 2;

    fn regime(rng: &mut StdRng, centre: f64) -> RegimeLinearisation {
        let e: Vec<f64> = (0..D).map(|i| centre + 0.1 * i as f64).collect();
        RegimeLinearisation {
            // A fixed point with a contraction around it: F(e) = e.
            f_at_point: e.clone(),
            expansion_point: e,
            jh: (0..D * D)
                .map(|ij| {
                    if ij % (D + 1) == 0 {
                        0.6
                    } else {
                        rng.random_range(-0.1..0.1)
                    }
                })
                .collect(),
            ju: (0..D * N_IN).map(|_| rng.random_range(-0.5..0.5)).collect(),
        }
    }

    /// A model of `regimes` whose GRU path *is* the switching system with its regime chosen
    /// from its own state (plus `noise` on every state), over 2 pieces of 150 bins.
    fn system(k: usize, noise: f64, seed: u64) -> AnalysisInputs {
        let mut rng = StdRng::seed_from_u64(seed);
        let regimes: Vec<_> = (0..k)
            .map(|i| regime(&mut rng, 2.0 * i as f64 - 2.0))
            .collect();
        let anchor = vec![0.1, -0.2];
        let (segments, segment_len) = (2, 150);
        let bins = segments * segment_len;
        let inputs: Vec<f32> = (0..bins * N_IN)
            .map(|_| rng.random_range(-3.0f32..3.0))
            .collect();
        let mut ai = AnalysisInputs {
            bin_s: 0.01,
            latent: D,
            neurons: N_IN,
            input_units: (0..N_IN).collect(),
            anchor,
            selection: "nearest".into(),
            gate: None,
            regimes,
            free_points: 0,
            heldout: None,
            curves: TrainingCurves::default(),
            model_step: None,
            validation_relative_error: None,
            attractors: Vec::new(),
            attractor_iterations: 0,
        };
        let mut h = Vec::with_capacity(bins * D);
        {
            let r = Regimes::new(D, N_IN, &ai.regimes, &ai.anchor, None);
            let mut offset = vec![0.0; k * D];
            let mut next = vec![0.0; D];
            for t in 0..bins {
                let mut prev = vec![0.0; D];
                if t % segment_len != 0 {
                    prev = h[(t - 1) * D..t * D]
                        .iter()
                        .map(|&v: &f32| v as f64)
                        .collect();
                }
                let u: Vec<f64> = inputs[t * N_IN..(t + 1) * N_IN]
                    .iter()
                    .map(|&v| v as f64)
                    .collect();
                r.offsets(&u, &mut offset);
                r.step(r.select(&prev), &offset, &prev, &mut next);
                h.extend(
                    next.iter()
                        .map(|&v| (v + noise * rng.random_range(-1.0..1.0)) as f32),
                );
            }
        }
        ai.heldout = Some(HeldOut {
            first_bin: 0,
            bins,
            segments,
            segment_len,
            a: h.clone(),
            h,
            regime: vec![0; bins],
            rates: Vec::new(),
            rates_linear: Vec::new(),
            counts: Vec::new(),
            train_mean_counts: Vec::new(),
            inputs,
            continuous_relative_error: None,
        });
        ai
    }

    /// When the GRU is exactly the switching system (its regime chosen from its own state),
    /// every rerun reproduces it: all five parts vanish (up to f32 rounding of the states).
    #[test]
    fn an_exact_switching_system_has_no_error_of_either_kind() {
        let ai = system(3, 0.0, 1);
        let r = decompose(&ai).expect("decomposition");
        for (name, v) in [
            ("free_rollout", r.free_rollout),
            ("selection_from_gru", r.selection_from_gru),
            ("best_selection", r.best_selection),
            ("one_step", r.one_step),
            ("one_step_best", r.one_step_best),
        ] {
            assert!(v < 1e-5, "{name} = {v} for an exact system ({r:?})");
        }
    }

    /// With noise on the GRU's states every part is positive, and the best regime of a step is
    /// never worse than the chosen one.
    #[test]
    fn noise_shows_in_every_part_and_the_best_step_is_no_worse() {
        let ai = system(3, 0.05, 2);
        let r = decompose(&ai).expect("decomposition");
        assert!(r.one_step > 1e-3 && r.selection_from_gru > 1e-3, "{r:?}");
        assert!(r.one_step_best <= r.one_step + 1e-12, "{r:?}");
    }

    /// The spread figures: an error confined to one bin puts all of it in the worst bins, an
    /// even error puts 5 % there, and a bin as far off as the RMS state scores 1.
    #[test]
    fn the_spread_tells_one_event_from_an_even_error() {
        let mut one = vec![0.0; 100];
        one[37] = 4.0;
        // sum |h|^2 = 400 over 100 bins: RMS state 2, the bad bin 2 off.
        assert_eq!(spread_of(&mut one, 4.0, 400.0), (1.0, 1.0));
        let mut even = vec![1.0; 100];
        let (share, worst) = spread_of(&mut even, 100.0, 400.0);
        assert!((share - 0.05).abs() < 1e-12 && (worst - 0.5).abs() < 1e-12);
        assert_eq!(spread_of(&mut [0.0; 10], 0.0, 1.0), (0.0, 0.0));
    }

    /// An exact system's rollout has no error to spread; a noisy one reports a share between
    /// the even 5 % and all of it.
    #[test]
    fn the_spread_is_reported_with_the_decomposition() {
        let r = decompose(&system(3, 0.0, 1)).expect("decomposition");
        assert!(r.worst_bin_error < 1e-5, "{r:?}");
        let r = decompose(&system(3, 0.05, 2)).expect("decomposition");
        assert!(
            r.worst_bins_share > WORST_FRACTION && r.worst_bins_share <= 1.0,
            "{r:?}"
        );
        assert!(r.worst_bin_error > r.free_rollout, "{r:?}");
    }

    /// With one regime there is nothing to choose: choosing from the GRU and choosing the best
    /// next state run the same path.
    #[test]
    fn one_regime_leaves_nothing_to_choose() {
        let ai = system(1, 0.05, 3);
        let r = decompose(&ai).expect("decomposition");
        assert!(
            (r.selection_from_gru - r.best_selection).abs() < 1e-12,
            "{r:?}"
        );
        assert!((r.one_step - r.one_step_best).abs() < 1e-12, "{r:?}");
    }

    /// A gate model chooses by its gate: a gate that always prefers regime 0 makes choosing
    /// from the GRU run regime 0 throughout, which an exact 3-regime system punishes.
    #[test]
    fn a_gate_model_chooses_by_its_gate() {
        let mut ai = system(3, 0.0, 4);
        ai.selection = "gate".into();
        ai.gate = Some(GateWeights {
            weights: vec![0.0; 3 * D],
            bias: vec![1.0, 0.0, 0.0],
        });
        let r = decompose(&ai).expect("decomposition");
        assert!(r.selection_from_gru > 0.1, "{r:?}");
        assert!(r.best_selection < 1e-5, "{r:?}");
    }

    /// Analysis inputs written before the held-out inputs were handed over give no
    /// decomposition rather than a wrong one, and so does a rerun that diverges.
    #[test]
    fn missing_inputs_or_a_diverging_rerun_give_none() {
        let mut ai = system(2, 0.0, 5);
        ai.heldout.as_mut().unwrap().inputs.clear();
        assert_eq!(decompose(&ai), None);
        let mut ai = system(2, 0.0, 6);
        for r in &mut ai.regimes {
            r.jh.iter_mut().for_each(|j| *j = 1e200);
        }
        assert_eq!(decompose(&ai), None);
    }
}
