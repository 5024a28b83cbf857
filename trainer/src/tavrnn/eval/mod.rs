//! Evaluation of window features against behaviour labels, the same for TAVRNN and every
//! baseline (plain f64 Rust, no Burn):
//! * classification: a linear classifier ([`ridge`]) under purged, segment-stratified k-fold
//!   cross-validation ([`folds`]): accuracy, macro-F1, per-class precision/recall/F1;
//! * clustering: k-means with k = the number of classes on the standardised features of the
//!   labelled windows ([`kmeans`]): ARI and NMI against the labels, silhouette of the
//!   clusters ([`cluster`]).

pub mod cluster;
pub mod folds;
pub mod kmeans;
pub mod metrics;
pub mod ridge;
pub mod standardize;

use serde::{Deserialize, Serialize};

pub use folds::{purge_gap, segment_folds, Fold};
pub use metrics::ClassScores;

/// k-means restarts and iteration cap.
const KMEANS_RESTARTS: usize = 8;
const KMEANS_ITERATIONS: usize = 100;

/// Scores of one kind of window feature (one entry of the report).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MethodScores {
    /// Cross-validated accuracy of the linear classifier.
    pub accuracy: f64,
    /// Cross-validated macro-F1.
    pub macro_f1: f64,
    /// Adjusted Rand index of k-means clusters vs labels.
    pub ari: f64,
    /// Normalised mutual information of k-means clusters vs labels.
    pub nmi: f64,
    /// Silhouette of the k-means clusters.
    pub silhouette: f64,
    /// Per-class scores of the classifier.
    pub per_class: Vec<ClassScores>,
    /// Feature count of a window.
    pub dims: usize,
    /// Ridge penalty chosen in each outer fold (times the feature count).
    pub lambdas: Vec<f64>,
}

/// Classification and clustering scores of features `x` (one row per window, time order).
pub fn score_features(
    x: &[Vec<f64>],
    labels: &[Option<usize>],
    class_names: &[String],
    folds: &[Fold],
    gap: usize,
    seed: u64,
) -> MethodScores {
    let cls = ridge::cross_validate(x, labels, class_names, folds, gap);
    let labelled: Vec<usize> = (0..labels.len()).filter(|&w| labels[w].is_some()).collect();
    let truth: Vec<usize> = labelled.iter().filter_map(|&w| labels[w]).collect();
    let (mean, sd) = standardize::stats(x, &labelled);
    let z = standardize::apply(x, &labelled, &mean, &sd);
    let clusters = kmeans::kmeans(
        &z,
        class_names.len(),
        KMEANS_RESTARTS,
        KMEANS_ITERATIONS,
        seed,
    );
    MethodScores {
        accuracy: cls.accuracy,
        macro_f1: cls.macro_f1,
        ari: cluster::adjusted_rand_index(&truth, &clusters),
        nmi: cluster::normalized_mutual_information(&truth, &clusters),
        silhouette: cluster::silhouette(&z, &clusters),
        per_class: cls.per_class,
        dims: x.first().map_or(0, Vec::len),
        lambdas: cls.lambdas,
    }
}
