//! Tests of the model and its training: gradients reach every weight, the attention window is
//! applied, the loss matches hand-computed values, training resumes bit for bit from a
//! checkpoint, both backends agree, and the plain f32 forward of [`super::weights`] matches
//! Burn's inference.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};

use crate::burn_rng;
use crate::data::Counts;
use crate::graph::{FeatureKind, GraphConfig, GraphSequence};
use crate::tavrnn::checkpoint::{self, DataInfo};
use crate::tavrnn::embed::embed;
use crate::tavrnn::encoder::Gaussian;
use crate::tavrnn::input::WindowData;
use crate::tavrnn::loss::{edge_weights, kl_gaussian, weighted_bce};
use crate::tavrnn::model::State;
use crate::tavrnn::train::{chunk_loss, epoch_plan};
use crate::tavrnn::{weights, Backend, TrainConfig, Trainer};

/// 6 neurons, 400 bins of 10 ms: neurons 0-2 share a drive in the first half, 3-5 in the second.
pub(crate) fn tiny_sequence(features: FeatureKind) -> GraphSequence {
    let (n, bins) = (6usize, 400usize);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let mut data = Vec::with_capacity(n * bins);
    for b in 0..bins {
        let shared = rng.random_range(0..3u32);
        for i in 0..n {
            let grp = if b < bins / 2 { i < 3 } else { i >= 3 };
            data.push(rng.random_range(0..2u32) + if grp { shared } else { 0 });
        }
    }
    let counts = Counts {
        bin_s: 0.01,
        start_s: 0.0,
        unit_ids: (0..n as u32).collect(),
        n_bins: bins,
        data,
    };
    let cfg = GraphConfig {
        window_s: 0.4,
        step_s: 0.1,
        theta: 0.2,
        features,
        ..GraphConfig::default()
    };
    GraphSequence::build(&counts, &cfg).expect("tiny graphs")
}

fn small(attention: bool) -> TrainConfig {
    TrainConfig {
        attention,
        window: 3,
        hidden: 8,
        latent: 4,
        d_phi: 8,
        d_enc: 8,
        chunk_len: 6,
        batch: 2,
        epochs: 2,
        ..TrainConfig::default()
    }
}

struct GradCheck<'a> {
    grads: &'a GradientsParams,
    missing: usize,
    zero: usize,
    total: usize,
}

impl ModuleVisitor for GradCheck<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.total += 1;
        match self.grads.get::<D>(param.id) {
            None => self.missing += 1,
            Some(g) => {
                if g.abs().sum().into_scalar::<f32>() == 0.0 {
                    self.zero += 1;
                }
            }
        }
    }
}

fn check_all_weights_get_gradients(attention: bool) {
    let seq = tiny_sequence(FeatureKind::Identity);
    let data = WindowData::from_sequence(&seq).unwrap();
    let cfg = small(attention);
    let _guard = burn_rng::lock();
    let plain = Backend::Flex.device();
    plain.seed(1);
    let device = plain.autodiff();
    let model = cfg.model_config(&data).init(&device);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let (total, _, _) = chunk_loss(&model, &data, &[0, 3], 6, 0.1, &mut rng, &device);
    let grads = GradientsParams::from_grads(total.backward(), &model);
    let mut check = GradCheck {
        grads: &grads,
        missing: 0,
        zero: 0,
        total: 0,
    };
    model.visit(&mut check);
    // phi_x, phi_z: 2 x 2; encoder 3 GCNs x 2; prior 3 x 2; GRU 3 GCNs x 2;
    // attention: query, key (no bias), value (+ bias) = 4
    let expected = if attention { 26 } else { 22 };
    assert_eq!(check.total, expected, "parameter count");
    assert_eq!(check.missing, 0, "parameters without a gradient");
    assert_eq!(check.zero, 0, "parameters with an all-zero gradient");
}

#[test]
fn every_weight_gets_a_gradient_tavrnn() {
    check_all_weights_get_gradients(true);
}

#[test]
fn every_weight_gets_a_gradient_vgrnn() {
    check_all_weights_get_gradients(false);
}

#[test]
fn attention_window_is_applied() {
    let seq = tiny_sequence(FeatureKind::AbsCorrelation);
    let data = WindowData::from_sequence(&seq).unwrap();
    let cfg = small(true);
    let device = Backend::Flex.device();
    let model = burn_rng::init(None, || cfg.model_config(&data).init(&device));
    let mut state = State::zeros(2, data.n_nodes, 8, &device);
    let mut lens = Vec::new();
    for t in 0..6 {
        let out = model.step(&data.step(&[t, t + 1], &device), &mut state, None);
        let a = out.alpha.unwrap();
        lens.push(a.dims()[1]);
        let sums = a.sum_dim(1).into_data().try_to_vec::<f32>().unwrap();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5), "{sums:?}");
    }
    assert_eq!(lens, vec![1, 2, 3, 3, 3, 3]);
    assert_eq!(state.recent.len(), 3);
}

#[test]
fn bce_and_kl_match_hand_values() {
    let device = Device::flex();
    // n = 2: target [[1,1],[1,0]] -> E = 3 of 4: pos_weight 1/3, norm 4 / (2 * 1) = 2
    let target = vec![1.0, 1.0, 1.0, 0.0];
    let (pw, norm) = edge_weights(&target, 2);
    assert!((pw - 1.0 / 3.0).abs() < 1e-6 && (norm - 2.0).abs() < 1e-6);
    let x = [0.5f32, -1.0, 2.0, 0.3];
    let t3 = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [1, 2, 2]), &device);
    let got = weighted_bce(
        t3(x.to_vec()),
        t3(target.clone()),
        Tensor::from_data(TensorData::new(vec![pw], [1]), &device),
        Tensor::from_data(TensorData::new(vec![norm], [1]), &device),
    )
    .into_scalar::<f32>();
    let sp = |v: f32| (1.0 + v.exp()).ln();
    let want: f32 = x
        .iter()
        .zip(&target)
        .map(|(&xi, &y)| y * pw * sp(-xi) + (1.0 - y) * sp(xi))
        .sum::<f32>()
        / 4.0
        * norm;
    assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    let g = |mu: f32, s: f32| Gaussian {
        mu: t3(vec![mu; 4]),
        sigma: t3(vec![s; 4]),
    };
    let kl = kl_gaussian(&g(1.0, 0.5), &g(0.0, 1.0)).into_scalar::<f32>();
    // per unit: ln(1/0.5) + (0.25 + 1)/2 - 0.5 ; 2 units a node
    let want = 2.0 * ((2.0f32).ln() + 1.25 / 2.0 - 0.5);
    assert!((kl - want).abs() < 1e-5, "{kl} vs {want}");
}

#[test]
fn an_epoch_visits_every_window_once_at_most() {
    for epoch in 1..5 {
        let plan = epoch_plan(100, 16, 4, 7, epoch);
        let mut seen = vec![0; 100];
        for b in &plan {
            assert!(b.len() <= 4);
            for &s in b {
                (s..s + 16).for_each(|w| seen[w] += 1);
            }
        }
        assert!(seen.iter().all(|&c| c <= 1));
        assert!(seen.iter().sum::<usize>() >= 100 - 2 * 16);
    }
    assert_ne!(epoch_plan(100, 16, 4, 7, 1), epoch_plan(100, 16, 4, 7, 2));
    assert_eq!(epoch_plan(100, 16, 4, 7, 1), epoch_plan(100, 16, 4, 7, 1));
}

fn losses(t: &Trainer) -> Vec<f32> {
    t.history.iter().map(|p| p.loss).collect()
}

fn info(seq: &GraphSequence) -> DataInfo {
    DataInfo {
        data: "tiny".into(),
        bin_s: seq.bin_s,
        graph: seq.config.clone(),
        unit_ids: seq.unit_ids.clone(),
        windows: seq.len(),
    }
}

#[test]
fn training_lowers_the_loss_and_resumes_bit_for_bit() {
    let seq = tiny_sequence(FeatureKind::Identity);
    let data = WindowData::from_sequence(&seq).unwrap();
    let cfg = TrainConfig {
        epochs: 16,
        lr: 0.02,
        ..small(true)
    };
    // straight through 16 epochs
    let mut a = Trainer::new(&data, &cfg).unwrap();
    for _ in 0..16 {
        a.run_epoch(&data, &mut |_| {}).unwrap();
    }
    let epoch_mean = |e: usize| {
        let l: Vec<f32> = a
            .history
            .iter()
            .filter(|p| p.epoch == e)
            .map(|p| p.loss)
            .collect();
        l.iter().sum::<f32>() / l.len() as f32
    };
    let (first, last) = (epoch_mean(1), epoch_mean(8));
    assert!(
        last < first,
        "mean loss of epoch 1 {first} -> epoch 8 {last}"
    );
    // 8 epochs, checkpoint, a fresh trainer resumes for 8 more
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.bpk");
    let mut b = Trainer::new(&data, &cfg).unwrap();
    for _ in 0..8 {
        b.run_epoch(&data, &mut |_| {}).unwrap();
    }
    checkpoint::save(&ckpt, &b, &info(&seq)).unwrap();
    let mut c = Trainer::new(&data, &cfg).unwrap();
    checkpoint::restore(&ckpt, &mut c, &info(&seq)).unwrap();
    assert_eq!(c.epochs_done, 8);
    for _ in 0..8 {
        c.run_epoch(&data, &mut |_| {}).unwrap();
    }
    assert_eq!(losses(&a), losses(&c), "resumed training differs");
    // and the saved-then-loaded inference model gives the same embeddings
    let (_, loaded) = checkpoint::load_model(&ckpt, Backend::Flex).unwrap();
    let e1 = embed(&b.inference_model(), &data);
    let e2 = embed(&loaded, &data);
    assert_eq!(e1.nodes, e2.nodes);
}

#[test]
fn resume_refuses_other_settings() {
    let seq = tiny_sequence(FeatureKind::Identity);
    let data = WindowData::from_sequence(&seq).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.bpk");
    let t = Trainer::new(&data, &small(true)).unwrap();
    checkpoint::save(&ckpt, &t, &info(&seq)).unwrap();
    let mut other = Trainer::new(
        &data,
        &TrainConfig {
            lr: 1e-4,
            ..small(true)
        },
    )
    .unwrap();
    let e = checkpoint::restore(&ckpt, &mut other, &info(&seq)).unwrap_err();
    assert!(format!("{e:#}").contains("field `train`"), "{e:#}");
}

#[test]
fn a_huge_learning_rate_is_reported_as_divergence() {
    let seq = tiny_sequence(FeatureKind::Identity);
    let data = WindowData::from_sequence(&seq).unwrap();
    let cfg = TrainConfig {
        lr: 1e6,
        clip_norm: 1e12,
        epochs: 40,
        divergence_factor: 3.0,
        ..small(true)
    };
    let mut t = Trainer::new(&data, &cfg).unwrap();
    let mut err = None;
    for _ in 0..cfg.epochs {
        if let Err(e) = t.run_epoch(&data, &mut |_| {}) {
            err = Some(e);
            break;
        }
    }
    let diverged = match err {
        Some(e) => e.to_string().contains("diverged"),
        // or the one-chain embedding blew up
        None => embed(&t.inference_model(), &data).check_finite().is_err(),
    };
    assert!(diverged, "lr 1e6 was not detected");
}

#[test]
fn flex_and_ndarray_agree() {
    let seq = tiny_sequence(FeatureKind::AbsCorrelation);
    let data = WindowData::from_sequence(&seq).unwrap();
    let run = |backend| {
        let mut t = Trainer::new(
            &data,
            &TrainConfig {
                backend,
                ..small(true)
            },
        )
        .unwrap();
        t.run_epoch(&data, &mut |_| {}).unwrap();
        (losses(&t), embed(&t.inference_model(), &data).nodes)
    };
    let (lf, ef) = run(Backend::Flex);
    let (ln, en) = run(Backend::Ndarray);
    for (a, b) in lf.iter().zip(&ln) {
        assert!((a - b).abs() < 1e-4, "losses {lf:?} vs {ln:?}");
    }
    let diff = ef
        .iter()
        .flatten()
        .zip(en.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-3, "embeddings differ by {diff}");
}

fn plain_matches_burn(attention: bool, features: FeatureKind) {
    let seq = tiny_sequence(features);
    let data = WindowData::from_sequence(&seq).unwrap();
    let mut t = Trainer::new(&data, &small(attention)).unwrap();
    t.run_epoch(&data, &mut |_| {}).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("m.bpk");
    checkpoint::save(&ckpt, &t, &info(&seq)).unwrap();
    let w = weights(&ckpt).unwrap();
    assert_eq!(w.attention.is_some(), attention);
    assert_eq!(w.named().len(), if attention { 26 } else { 22 });
    assert_eq!(w.encoder_hidden.weight.shape, vec![8 + 8, 8], "[in, out]");
    // Burn's inference, state carried over the whole sequence
    let model = t.inference_model();
    let burn = embed(&model, &data);
    let mut state = w.initial_state();
    let n = seq.n_nodes();
    let mut max_diff = 0f32;
    for win in 0..seq.len() {
        let x = seq.features(win);
        let out = w.step(&seq.windows[win].normalized, &x, &mut state);
        // node-ordered neuron mu of the plain path vs Burn's
        let d = w.config.latent;
        let plain_nodes: Vec<f32> = (0..n - 1)
            .flat_map(|i| out.mu[i * d..(i + 1) * d].to_vec())
            .collect();
        for (a, b) in plain_nodes.iter().zip(&burn.nodes[win]) {
            max_diff = max_diff.max((a - b).abs());
        }
        if attention {
            for (a, b) in out.alpha.iter().zip(&burn.attention[win]) {
                max_diff = max_diff.max((a - b).abs());
            }
        }
    }
    assert!(
        max_diff < 1e-4,
        "plain forward differs from Burn by {max_diff}"
    );
}

#[test]
fn plain_forward_matches_burn_tavrnn() {
    plain_matches_burn(true, FeatureKind::Identity);
}

#[test]
fn plain_forward_matches_burn_vgrnn_with_correlation_features() {
    plain_matches_burn(false, FeatureKind::AbsCorrelation);
}
