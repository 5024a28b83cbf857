//! Tests of the prototype: gradients reach every weight, the attention window is applied, the
//! loss matches hand-computed values, folds keep test windows apart, the classifier works.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use neuroloop_trainer::data::Counts;
use neuroloop_trainer::graph::{FeatureKind, GraphConfig, GraphSequence};
use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::encoder::Gaussian;
use crate::eval::{cross_validate, segment_folds};
use crate::input::WindowData;
use crate::loss::{edge_weights, kl_gaussian, weighted_bce};
use crate::model::State;
use crate::train::{Backend, TrainConfig, chunk_loss};

fn tiny_sequence(features: FeatureKind) -> GraphSequence {
    let (n, bins) = (6usize, 400usize);
    let mut rng = StdRng::seed_from_u64(3);
    let mut data = Vec::with_capacity(n * bins);
    for b in 0..bins {
        let shared = rng.random_range(0..3u32);
        for i in 0..n {
            // first half: neurons 0-2 share a drive; second half: 3-5
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
        step_s: 0.2,
        theta: 0.2,
        features,
        ..GraphConfig::default()
    };
    GraphSequence::build(&counts, &cfg).unwrap()
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
    let cfg = TrainConfig {
        attention,
        window: 3,
        hidden: 8,
        latent: 4,
        d_phi: 8,
        d_enc: 8,
        ..Default::default()
    };
    let plain = Backend::Flex.device();
    plain.seed(1);
    let device = plain.autodiff();
    let model = cfg.model_config(&data).init(&device);
    let (total, _, _) = chunk_loss(&model, &data, &[0, 3], 6, 0.1, &device);
    let grads = GradientsParams::from_grads(total.backward(), &model);
    let mut check = GradCheck {
        grads: &grads,
        missing: 0,
        zero: 0,
        total: 0,
    };
    model.visit(&mut check);
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
    let cfg = TrainConfig {
        window: 3,
        hidden: 8,
        latent: 4,
        d_phi: 8,
        d_enc: 8,
        ..Default::default()
    };
    let device = Backend::Flex.device();
    let model = cfg.model_config(&data).init(&device);
    let mut state = State::zeros(2, data.n_nodes, 8, &device);
    let mut lens = Vec::new();
    for t in 0..6 {
        let out = model.step(&data.step(&[t, t + 1], &device), &mut state, false);
        let a = out.alpha.unwrap();
        lens.push(a.dims()[1]);
        let sums = a.sum_dim(1).try_into_vec_as::<f32>().unwrap();
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
fn folds_are_stratified_and_purged() {
    // 3 classes in segments of 7 windows, 12 segments, two unlabelled windows between some
    let mut labels = Vec::new();
    for s in 0..12 {
        labels.extend(std::iter::repeat_n(Some(s % 3), 7));
        if s % 4 == 0 {
            labels.push(None);
        }
    }
    let gap = 2;
    let folds = segment_folds(&labels, 4, gap);
    let mut tested = vec![0; labels.len()];
    for f in &folds {
        for c in 0..3 {
            assert!(
                f.test.iter().any(|&i| labels[i] == Some(c)),
                "class {c} missing from a test fold"
            );
        }
        for &tr in &f.train {
            assert!(
                f.test.iter().all(|&te| tr.abs_diff(te) > gap),
                "train {tr} too close to a test window"
            );
            assert!(labels[tr].is_some());
        }
        f.test.iter().for_each(|&i| tested[i] += 1);
    }
    for (i, l) in labels.iter().enumerate() {
        assert_eq!(
            tested[i],
            usize::from(l.is_some()),
            "window {i} tested {} times",
            tested[i]
        );
    }
}

#[test]
fn ridge_classifier_separates_separable_classes() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut labels = Vec::new();
    let mut x = Vec::new();
    for s in 0..30 {
        let c = s % 3;
        for _ in 0..5 {
            labels.push(Some(c));
            let mut v: Vec<f64> = (0..10).map(|_| rng.random_range(-1.0..1.0)).collect();
            v[c] += 4.0;
            x.push(v);
        }
    }
    let folds = segment_folds(&labels, 5, 1);
    let s = cross_validate(&x, &labels, 3, &folds, 1);
    assert!(s.accuracy > 0.97 && s.macro_f1 > 0.97, "{s:?}");
    // and shuffled features give about chance
    let noise: Vec<Vec<f64>> = (0..x.len())
        .map(|_| (0..10).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let s = cross_validate(&noise, &labels, 3, &folds, 1);
    assert!(s.accuracy < 0.6, "{s:?}");
}
