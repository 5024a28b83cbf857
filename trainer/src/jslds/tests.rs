//! Tests of the closed-form Jacobians, the fold (against the core's f32 reference estimator),
//! backend agreement and exact resume.

use burn::tensor::{Device, Distribution, Tensor, TensorData};
use neuroloop_core::Model;

use super::config::{Backend, SelectionKind, TrainConfig};
use super::fold::fold;
use super::gru::GruCell;
use super::input::InputTransform;
use super::jacobian::linearise;
use super::model::JsldsConfig;
use super::session::select_columns;
use super::train::Trainer;
use crate::data::Counts;
use crate::export::{quantize_jslds, run_reference, ExportOptions};

/// Burn's seeded RNG is process-global: a test that seeds it and draws test tensors holds the
/// crate's one lock ([`crate::burn_rng`]) for the whole scenario, so no model initialised or
/// loaded on another test thread draws in between.
pub(crate) fn seeded() -> crate::burn_rng::Guard {
    crate::burn_rng::lock()
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

/// Deterministic pseudo-random counts `[t, n]` with some structure.
pub(crate) fn toy_counts(t: usize, n: usize) -> Vec<u32> {
    (0..t * n)
        .map(|i| {
            let (b, u) = (i / n, i % n);
            let phase = ((b / 37 + u) % 4) as u32;
            (((i * 7919 + i / 3) % 5) as u32 + phase) % 5
        })
        .collect()
}

/// J_h and J_u from the closed form against autodiff, one backward pass per output element.
#[test]
fn jacobians_match_autodiff() {
    let _guard = seeded();
    let device = Device::flex().autodiff();
    device.seed(3);
    let (n_in, d, k) = (5, 6, 3);
    let gru = GruCell::new(n_in, d, &device);
    let points = Tensor::<2>::random([k, d], Distribution::Normal(0.0, 1.0), &device);
    let anchor = Tensor::<2>::random([1, n_in], Distribution::Normal(0.0, 1.0), &device);
    let lin = linearise(&gru, points.clone(), anchor.clone());
    let jh_t = vec_of(lin.jh_t.detach());
    let ju_t = vec_of(lin.ju_t.detach());
    let mut worst: f32 = 0.0;
    let mut largest: f32 = 0.0;
    for kk in 0..k {
        // Autodiff needs each point separately, since the anchor is shared by all K.
        let x = points.clone().detach().narrow(0, kk, 1).require_grad();
        let u = anchor.clone().detach().require_grad();
        for i in 0..d {
            let next = gru.step(u.clone(), x.clone());
            let mut mask = vec![0f32; d];
            mask[i] = 1.0;
            let mask = Tensor::<2>::from_data(TensorData::new(mask, [1, d]), &device);
            let grads = (next * mask).sum().backward();
            let gx = vec_of(x.grad(&grads).unwrap());
            let gu = vec_of(u.grad(&grads).unwrap());
            for j in 0..d {
                worst = worst.max((gx[j] - jh_t[(kk * d + j) * d + i]).abs());
                largest = largest.max(gx[j].abs());
            }
            for j in 0..n_in {
                worst = worst.max((gu[j] - ju_t[(kk * n_in + j) * d + i]).abs());
            }
        }
    }
    eprintln!("closed-form vs autodiff Jacobian: max abs diff {worst:e} (largest entry {largest})");
    assert!(
        largest > 0.05,
        "degenerate test: Jacobian entries all near zero"
    );
    assert!(
        worst < 1e-5,
        "closed-form Jacobian differs from autodiff by {worst}"
    );
}

/// The loss reaches the GRU weights through the Jacobians alone.
#[test]
fn jacobian_gradients_reach_gru_weights() {
    let _guard = seeded();
    let device = Device::flex().autodiff();
    device.seed(4);
    let gru = GruCell::new(4, 5, &device);
    let points = Tensor::<2>::random([2, 5], Distribution::Normal(0.0, 1.0), &device);
    let anchor = Tensor::<2>::zeros([1, 4], &device);
    let lin = linearise(&gru, points, anchor);
    let grads = (lin.jh_t.square().sum() + lin.ju_t.square().sum()).backward();
    for (name, w) in [
        ("hidden", gru.hidden.weight.val()),
        ("input", gru.input.weight.val()),
    ] {
        let g = vec_of(w.grad(&grads).expect("gradient reaches the weight"));
        let norm: f32 = g.iter().map(|x| x * x).sum();
        assert!(
            norm > 1e-8,
            "{name} weight gets no gradient from the Jacobians"
        );
    }
}

/// The folded system, run by neuroloop-core's f32 reference estimator, reproduces the
/// model's own linear path: same regime every bin, same state.
fn check_fold(gate: bool, input_subset: bool) {
    let _guard = seeded();
    let device = Device::flex();
    device.seed(5);
    let (n, d, k, t) = (7, 5, 4, 200);
    let inputs: Vec<usize> = if input_subset {
        vec![1, 3, 4, 6]
    } else {
        (0..n).collect()
    };
    let n_in = inputs.len();
    let mut model = JsldsConfig {
        inputs: n_in,
        outputs: n,
        latent: d,
        regimes: k,
        learn_anchor: true,
        gate,
    }
    .init(&device);
    // Spread points and move the anchor off zero so that several regimes and all fold terms matter.
    let pts = Tensor::<2>::random([k, d], Distribution::Normal(0.0, 0.5), &device);
    model.points = model.points.map(|_| pts);
    let anc = Tensor::<2>::random([1, n_in], Distribution::Normal(0.0, 0.3), &device);
    model.anchor = model.anchor.map(|_| anc);
    model.use_gate = gate;
    let counts = toy_counts(t, n);
    let sel = select_columns(&counts, n, &inputs);
    let transform = InputTransform::fit(&sel, n_in);
    let u = transform.apply(&sel);
    let zeros = Tensor::zeros([1, d], &device);
    let roll = model.rollout(
        Tensor::from_data(TensorData::new(u, [1, t, n_in]), &device),
        zeros.clone(),
        zeros,
    );
    let a_model = vec_of(roll.a);
    let regimes = roll.regime.try_into_vec_as::<i64>().unwrap();
    let sys = fold(&model, &transform, &inputs, n, 8, 0.01);
    assert_eq!(
        matches!(sys.selection, crate::slds::SelectionF32::Gate { .. }),
        gate
    );
    let data = Counts {
        bin_s: 0.01,
        start_s: 0.0,
        unit_ids: (0..n as u32).collect(),
        n_bins: t,
        data: counts,
    };
    let q = quantize_jslds(&sys, &data, &ExportOptions::default()).unwrap();
    let file = Model::from_bytes(&q.bytes).unwrap();
    let (mut step, mut worst, mut used) = (0usize, 0f32, vec![false; k]);
    run_reference(&file, &data, |out, r| {
        assert_eq!(
            out.regime as i64, regimes[step],
            "regime differs at bin {step}"
        );
        used[out.regime as usize] = true;
        for (i, &x) in r.latent().iter().enumerate() {
            worst = worst.max((x - a_model[step * d + i]).abs());
        }
        step += 1;
    })
    .unwrap();
    assert_eq!(step, t);
    assert!(
        used.iter().filter(|&&u| u).count() >= 2,
        "test did not exercise switching"
    );
    eprintln!("fold (gate {gate}, subset {input_subset}): max abs diff {worst:e}");
    assert!(
        worst < 1e-4,
        "folded recurrence differs from the linear path by {worst}"
    );
}

#[test]
fn fold_matches_linear_path() {
    check_fold(false, false);
}

#[test]
fn fold_matches_linear_path_with_gate_and_input_subset() {
    check_fold(true, true);
}

/// The data source a checkpoint of [`toy_counts`] names.
pub(crate) fn toy_source(t: usize, n: usize) -> super::checkpoint::DataSource {
    super::checkpoint::DataSource {
        path: "toy".into(),
        good_only: false,
        units: None,
        range_s: None,
        unit_ids: (0..n as u32).collect(),
        bins: t,
    }
}

pub(crate) fn tiny_config(backend: Backend) -> TrainConfig {
    TrainConfig {
        latent: 6,
        regimes: 4,
        batch: 4,
        chunk_len: 16,
        eval_segments: 2,
        eval_every: 1000,
        reseed_every: 3,
        reseed_until: 100,
        backend,
        ..Default::default()
    }
}

fn run_steps(trainer: &mut Trainer, steps: usize) -> Vec<[f32; 5]> {
    (0..steps)
        .map(|_| trainer.train_step().unwrap().loss)
        .collect()
}

/// flex and ndarray give the same losses for the same seed.
#[test]
fn backends_agree() {
    let _guard = seeded();
    let (t, n) = (1200, 9);
    let counts = toy_counts(t, n);
    let run = |backend| {
        let mut tr = Trainer::new(&counts, n, &tiny_config(backend)).unwrap();
        run_steps(&mut tr, 4)
    };
    let a = run(Backend::Flex);
    let b = run(Backend::Ndarray);
    for (x, y) in a.iter().zip(&b) {
        for (p, q) in x.iter().zip(y) {
            assert!(
                (p - q).abs() <= 1e-4 * p.abs().max(1.0),
                "flex {x:?} vs ndarray {y:?}"
            );
        }
    }
}

/// Training 3 + 3 steps through a checkpoint equals training 6 steps: the model, Adam's
/// state and the streams' carried states all survive the round trip.
#[test]
fn resume_is_exact() {
    let _guard = seeded();
    let (t, n) = (1200, 9);
    let counts = toy_counts(t, n);
    let mut cfg = tiny_config(Backend::Flex);
    cfg.selection = SelectionKind::Gate;
    cfg.gate_after = 4;
    let mut straight = Trainer::new(&counts, n, &cfg).unwrap();
    let all = run_steps(&mut straight, 6);
    let dir = tempfile::tempdir().unwrap();
    let src = toy_source(t, n);
    let mut first = Trainer::new(&counts, n, &cfg).unwrap();
    let mut got = run_steps(&mut first, 3);
    super::checkpoint::save(dir.path(), &mut first, &src).unwrap();
    drop(first);
    let mut second = super::checkpoint::resume(dir.path(), &counts, n, 6).unwrap();
    assert_eq!(second.step, 3);
    got.extend(run_steps(&mut second, 3));
    for (s, (x, y)) in all.iter().zip(&got).enumerate() {
        for (p, q) in x.iter().zip(y) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "step {}: straight {x:?} vs resumed {y:?}",
                s + 1
            );
        }
    }
    // The losses move: the test would not notice a resume that trains nothing.
    assert!(all[0][0] != all[5][0]);
}
