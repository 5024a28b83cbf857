//! Tests of the closed-form Jacobians, the fold, and backend agreement.

use burn::tensor::{Device, Distribution, Tensor, TensorData};

use crate::fold::fold;
use crate::gru::GruCell;
use crate::input::InputTransform;
use crate::jacobian::linearise;
use crate::model::JsldsConfig;
use crate::train::{Backend, TrainConfig, train};

/// Burn's seeded RNG is process-global per backend: tests that seed it must not run at once
/// (cargo runs tests on parallel threads), or each consumes the other's random stream.
static SEEDED: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn seeded() -> std::sync::MutexGuard<'static, ()> {
    SEEDED.lock().unwrap_or_else(|e| e.into_inner())
}

fn vec_of<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
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
            }
            for j in 0..n_in {
                worst = worst.max((gu[j] - ju_t[(kk * n_in + j) * d + i]).abs());
            }
        }
    }
    eprintln!("closed-form vs autodiff Jacobian: max abs diff {worst:e}");
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

/// The folded f32 recurrence reproduces the model's own linear path.
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
    let counts: Vec<u32> = (0..t * n)
        .map(|i| ((i * 7919 + i / 3) % 5) as u32)
        .collect();
    let sel = crate::train::select_columns(&counts, n, &inputs);
    let transform = InputTransform::fit(&sel, n_in);
    let u = transform.apply(&sel);
    let roll = model.rollout(
        Tensor::from_data(TensorData::new(u, [1, t, n_in]), &device),
        Tensor::zeros([1, d], &device),
    );
    let a_model = vec_of(roll.a);
    let regimes = roll.regime.try_into_vec_as::<i64>().unwrap();
    let sys = fold(&model, &transform, &inputs, n, 8, 0.01);
    assert_eq!(
        matches!(sys.selection, crate::fold::SelectionF32::Gate { .. }),
        gate
    );
    let mut a = vec![0f32; d];
    let mut worst: f32 = 0.0;
    let mut used = vec![false; k];
    for step in 0..t {
        let kk = sys.step(&mut a, &counts[step * n..(step + 1) * n]);
        assert_eq!(kk as i64, regimes[step], "regime differs at bin {step}");
        used[kk] = true;
        for i in 0..d {
            worst = worst.max((a[i] - a_model[step * d + i]).abs());
        }
    }
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

/// flex and ndarray give the same losses for the same seed.
#[test]
fn backends_agree() {
    let _guard = seeded();
    let cfg = crate::flipflop::FlipFlopConfig {
        bins: 3000,
        ..Default::default()
    };
    let ff = crate::flipflop::generate(&cfg);
    let run = |backend| {
        let tc = TrainConfig {
            steps: 4,
            batch: 4,
            chunk_len: 32,
            eval_every: 1000,
            eval_len: 100,
            backend,
            ..Default::default()
        };
        let mut losses = Vec::new();
        train(&ff.counts, ff.neurons, &tc, &mut |p, _| {
            losses.push(p.loss);
            true
        })
        .unwrap();
        losses
    };
    let a = run(Backend::Flex);
    let b = run(Backend::Ndarray);
    assert_eq!(a.len(), 4);
    for (x, y) in a.iter().zip(&b) {
        for (p, q) in x.iter().zip(y) {
            assert!(
                (p - q).abs() <= 1e-5 * p.abs().max(1.0),
                "flex {x:?} vs ndarray {y:?}"
            );
        }
    }
    eprintln!("flex {a:?}\nndarray {b:?}");
}
