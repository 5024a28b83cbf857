//! Tests of the validation split: where its bins lie, which model it selects, and that the
//! checkpoint keeps, reloads and resumes with that choice.

use burn::tensor::Tensor;

use super::checkpoint;
use super::config::{Backend, TrainConfig};
use super::tests::{seeded, tiny_config, toy_counts, toy_source};
use super::train::{Prepared, Trainer};

fn values(t: Tensor<2>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap()
}

fn config() -> TrainConfig {
    TrainConfig {
        validation_frac: 0.2,
        warmup: 2,
        ..tiny_config(Backend::Flex)
    }
}

/// The validation bins sit between the training and the held-out bins: the streams, the
/// input transform and the mean rates see only the training bins; the pieces are as long as
/// the held-out ones; impossible fractions are refused with the field named.
#[test]
fn the_split_keeps_validation_bins_out_of_training() {
    let (t, n) = (1200, 9);
    let mut counts = toy_counts(t, n);
    // Mark the validation bins: a training statistic that saw them would move.
    for c in &mut counts[720 * n..960 * n] {
        *c = 40;
    }
    let cfg = config();
    let p = Prepared::new(&counts, n, &cfg, None).unwrap();
    assert_eq!((p.validation_start, p.heldout_start), (720, 960));
    assert_eq!(p.validation_segments, 2, "240 bins in pieces of 240 / 2");
    let s = &p.streams;
    assert!(
        s.stretch * cfg.batch <= 720,
        "streams reach into validation"
    );
    assert!(p.train_mean_counts.iter().all(|&m| m < 5.0));
    let plain = Prepared::new(&counts, n, &tiny_config(Backend::Flex), None).unwrap();
    assert_eq!(
        (plain.validation_start, plain.validation_segments),
        (960, 0)
    );
    assert!(plain.train_mean_counts.iter().all(|&m| m > 5.0));
    for bad in [-0.1, 0.8, f64::NAN] {
        let err = Prepared::new(
            &counts,
            n,
            &TrainConfig {
                validation_frac: bad,
                ..config()
            },
            None,
        )
        .err()
        .expect("accepted a bad validation fraction");
        assert!(err.to_string().contains("validation fraction"), "{err}");
    }
}

/// The selected model is the one of lowest validation error among the evaluations after the
/// warm-up; the checkpoint writes it beside the last state, `load` returns it (not the last
/// model), a resumed run keeps it, and replaced selections leave no stale file behind.
#[test]
fn the_checkpoint_keeps_the_model_of_lowest_validation_error() {
    let _guard = seeded();
    let (t, n) = (1200, 9);
    let counts = toy_counts(t, n);
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let src = toy_source(t, n);
    let mut tr = Trainer::new(&counts, n, &cfg).unwrap();
    // Train until the last model is not the selected one (else `load` could return either).
    while tr.step < 60 {
        tr.train_step().unwrap();
        tr.evaluate().unwrap();
        checkpoint::save(dir.path(), &mut tr, &src).unwrap();
        if tr
            .selected
            .as_ref()
            .is_some_and(|(_, s)| s.step + 2 < tr.step)
        {
            break;
        }
    }
    let last = tr.step;
    let scored: Vec<(usize, f32)> = tr
        .curves
        .eval
        .iter()
        .filter_map(|p| p.validation_relative_error.map(|v| (p.step, v)))
        .collect();
    assert_eq!(
        scored.iter().map(|s| s.0).collect::<Vec<_>>(),
        (2..=last).collect::<Vec<_>>(),
        "validation is scored from the end of the warm-up on"
    );
    let best = scored
        .iter()
        .copied()
        .reduce(|a, b| if b.1 < a.1 { b } else { a })
        .unwrap();
    let (selected, sel) = tr.selected.clone().expect("nothing selected");
    assert_eq!((sel.step, sel.validation_relative_error), best);
    assert!(
        best.0 < last,
        "degenerate: the last model is the best one, the test could not tell them apart"
    );
    let loaded = checkpoint::load(dir.path()).unwrap();
    let want = values(selected.points.val());
    assert_eq!(values(loaded.model.points.val()), want);
    assert_ne!(values(tr.model.points.val()), want);
    let bpk: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".bpk"))
        .collect();
    assert_eq!(
        bpk.len(),
        3,
        "one model, one optimiser, one selected: {bpk:?}"
    );
    assert!(bpk.contains(&format!("selected-{:07}.bpk", best.0)));
    // A resumed run starts from the last state and keeps the choice so far.
    let resumed = checkpoint::resume(dir.path(), &counts, n, last + 2).unwrap();
    assert_eq!(resumed.step, last);
    let (m, s) = resumed
        .selected
        .expect("the resumed run lost the selection");
    assert_eq!(s, sel);
    assert_eq!(values(m.points.val()), want);
}
