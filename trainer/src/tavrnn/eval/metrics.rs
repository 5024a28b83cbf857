//! Classification scores of pooled cross-validated predictions.

use serde::{Deserialize, Serialize};

/// Precision, recall, F1 and support of one class.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// Class name.
    pub class: String,
    /// Windows of this class that were scored.
    pub support: usize,
    /// Fraction of the windows predicted as this class that are of it (0 when none is).
    pub precision: f64,
    /// Fraction of this class's windows predicted as it.
    pub recall: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
}

/// Accuracy, macro-F1 (mean over classes with support) and per-class scores.
pub fn classification_scores(
    truth: &[usize],
    pred: &[usize],
    class_names: &[String],
) -> (f64, f64, Vec<ClassScores>) {
    let correct = truth.iter().zip(pred).filter(|(a, b)| a == b).count();
    let accuracy = correct as f64 / truth.len().max(1) as f64;
    let mut per_class = Vec::new();
    for (c, name) in class_names.iter().enumerate() {
        let tp = truth
            .iter()
            .zip(pred)
            .filter(|&(&t, &p)| t == c && p == c)
            .count() as f64;
        let support = truth.iter().filter(|&&t| t == c).count();
        let predicted = pred.iter().filter(|&&p| p == c).count() as f64;
        let precision = if predicted > 0.0 { tp / predicted } else { 0.0 };
        let recall = if support > 0 {
            tp / support as f64
        } else {
            0.0
        };
        let f1 = if tp > 0.0 {
            2.0 * tp / (support as f64 + predicted)
        } else {
            0.0
        };
        per_class.push(ClassScores {
            class: name.clone(),
            support,
            precision,
            recall,
            f1,
        });
    }
    let with_support: Vec<f64> = per_class
        .iter()
        .filter(|c| c.support > 0)
        .map(|c| c.f1)
        .collect();
    let macro_f1 = with_support.iter().sum::<f64>() / with_support.len().max(1) as f64;
    (accuracy, macro_f1, per_class)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_hand_values() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        // truth a a a b, pred a a b b: acc 3/4; a: p 1 r 2/3 f1 0.8; b: p 1/2 r 1 f1 2/3
        let (acc, f1, per) = classification_scores(&[0, 0, 0, 1], &[0, 0, 1, 1], &names);
        assert!((acc - 0.75).abs() < 1e-12);
        assert!((per[0].f1 - 0.8).abs() < 1e-12 && (per[1].f1 - 2.0 / 3.0).abs() < 1e-12);
        assert!((f1 - (0.8 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!((per[0].support, per[1].support), (3, 1));
    }
}
