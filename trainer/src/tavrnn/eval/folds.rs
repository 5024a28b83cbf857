//! Cross-validation folds that keep neighbouring windows apart.
//!
//! Windows overlap (a 4 s window every 2 s shares half its bins with the next one) and
//! behaviour is slow, so a random split would test on windows nearly identical to training
//! windows. Instead:
//! * the labelled windows are cut into **segments**: maximal runs of consecutive windows with
//!   the same label, and a segment longer than `ceil(labelled / 4k)` windows is cut into
//!   blocks of about that length (a behaviour recorded as one long block, like `run` in
//!   `linear-track/behavior.csv`, would otherwise sit whole in one test fold, with no window
//!   of its class left to train on);
//! * each class's segments, in time order, are dealt to the k folds in turn (segment i of
//!   class c goes to fold (i + c) mod k): every fold holds every class in about the same
//!   proportion (stratified, as far as the number of segments allows) and a segment is never
//!   split between test and training;
//! * a training window closer than `gap` windows (window index distance `<= gap`) to any test
//!   window is dropped (**purged**). With `gap = ceil(window / step)` no training window shares
//!   a single bin with a test window.

use std::collections::HashMap;

/// One fold: window indices (time order) to train on and to test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fold {
    /// Training windows (labelled, outside the test segments and the purge gap).
    pub train: Vec<usize>,
    /// Test windows.
    pub test: Vec<usize>,
}

/// The purge gap, in windows, that keeps every training window's bins disjoint from every
/// test window's: `ceil(window_bins / step_bins)`.
pub fn purge_gap(window_bins: usize, step_bins: usize) -> usize {
    window_bins.div_ceil(step_bins.max(1))
}

/// `labels[i]` is the class of window i (time order) or None (unlabelled, never used);
/// returns `k` folds.
pub fn segment_folds(labels: &[Option<usize>], k: usize, gap: usize) -> Vec<Fold> {
    let k = k.max(1);
    let mut segments: Vec<(usize, Vec<usize>)> = Vec::new();
    for (i, l) in labels.iter().enumerate() {
        let Some(c) = *l else { continue };
        match segments.last_mut() {
            Some((pc, idx)) if *pc == c && idx.last() == Some(&(i.wrapping_sub(1))) => idx.push(i),
            _ => segments.push((c, vec![i])),
        }
    }
    let labelled: usize = segments.iter().map(|s| s.1.len()).sum();
    let max_len = labelled.div_ceil(4 * k).max(1);
    let segments: Vec<(usize, Vec<usize>)> = segments
        .into_iter()
        .flat_map(|(c, idx)| {
            let pieces = idx.len().div_ceil(max_len);
            let size = idx.len().div_ceil(pieces);
            idx.chunks(size)
                .map(|b| (c, b.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect();
    let mut seen: HashMap<usize, usize> = HashMap::new();
    let mut fold_of = vec![usize::MAX; labels.len()];
    for (c, idx) in &segments {
        let i = seen.entry(*c).or_insert(0);
        let f = (*i + *c) % k;
        *i += 1;
        for &w in idx {
            fold_of[w] = f;
        }
    }
    (0..k)
        .map(|f| {
            let test: Vec<usize> = (0..labels.len()).filter(|&w| fold_of[w] == f).collect();
            let mut near = vec![false; labels.len()];
            for &t in &test {
                for flag in &mut near[t.saturating_sub(gap)..=(t + gap).min(labels.len() - 1)] {
                    *flag = true;
                }
            }
            let train = (0..labels.len())
                .filter(|&w| fold_of[w] != usize::MAX && fold_of[w] != f && !near[w])
                .collect();
            Fold { train, test }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_are_stratified_purged_and_cover_every_labelled_window_once() {
        // 3 classes in segments of 7 windows, 12 segments, an unlabelled window after some
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
            assert_eq!(tested[i], usize::from(l.is_some()), "window {i}");
        }
    }

    #[test]
    fn one_long_block_per_class_is_cut_so_every_fold_trains_on_every_class() {
        let mut labels = vec![Some(0); 100];
        labels.extend(vec![Some(1); 100]);
        for f in segment_folds(&labels, 5, 2) {
            for c in 0..2 {
                assert!(f.test.iter().any(|&i| labels[i] == Some(c)));
                assert!(f.train.iter().any(|&i| labels[i] == Some(c)));
            }
        }
    }

    #[test]
    fn purge_gap_covers_the_overlap() {
        assert_eq!(purge_gap(400, 200), 2);
        assert_eq!(purge_gap(400, 300), 2);
        assert_eq!(purge_gap(400, 400), 1);
    }
}
