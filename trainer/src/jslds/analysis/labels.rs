//! Regimes against behaviour labels (`jslds analyze --labels CSV`, repeatable).
//!
//! A real recording has no true latent, only behaviour intervals (`start_s,end_s,label`, e.g.
//! `behavior.csv` run/rest and `movement.csv` moving/still of `linear-track`). The model is
//! rolled out over the **whole session** ([`crate::jslds::session_regimes`]): the held-out
//! part alone can hold a single behaviour (the last 20 % of `linear-track` is all rest), and
//! the labels never enter training, so scoring the training bins against them is fair. Each
//! bin takes the label of the interval holding its centre (unlabelled bins are skipped).
//!
//! Per label file: the contingency table regime x label, the normalised mutual information,
//! the accuracy of the majority mapping (each regime reports the label it co-occurs with
//! most) fitted and scored on the same bins, the same mapping cross-fitted over alternating
//! [`BLOCK_S`] blocks (fitted on the even blocks, scored on the odd ones, and the other way
//! round, pooled), the held-out bins scored with a mapping fitted on the training bins, and
//! a population-rate threshold detector ([`super::baseline`]) under the same cross-fit.

use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use super::baseline::fit_rate_threshold;
use super::truth_match::majority_mapping;
use crate::data::labels::{read_csv, Labels};
use crate::jslds::SessionRegimes;
use crate::tavrnn::eval::cluster::normalized_mutual_information;

/// Length of the alternating blocks of the cross-fitted scores, seconds. Long against the
/// behaviour's own time scale (movement bouts of ~10 s), so neighbouring bins of one bout
/// rarely fall on both sides.
pub const BLOCK_S: f64 = 60.0;

/// One label file against the regimes (`labels[i]` of the report; keys in the README).
#[derive(Debug, Clone, Serialize)]
pub struct LabelReport {
    /// The CSV file as given.
    pub file: String,
    /// Label names; column `j` of `contingency` is `classes[j]`.
    pub classes: Vec<String>,
    /// Bins of the session rollout (training and held-out).
    pub bins: usize,
    /// Bins inside a labelled interval (the bins scored).
    pub bins_labelled: usize,
    /// `contingency[k][j]`: labelled bins where the linear path used regime `k` and the label
    /// was `classes[j]`; one row per regime.
    pub contingency: Vec<Vec<usize>>,
    /// Share of the labelled bins of each class.
    pub class_share: Vec<f64>,
    /// Share of the largest class: the accuracy of always reporting it.
    pub chance: f64,
    /// Normalised mutual information (arithmetic mean of the entropies) between regime and
    /// label over the labelled bins; 0 independent, 1 one determines the other.
    pub nmi: f64,
    /// For each regime, the label it co-occurs with most (`null` if never on a labelled bin).
    pub majority_mapping: Vec<Option<String>>,
    /// Accuracy of `majority_mapping` on the bins it was fitted on.
    pub majority_accuracy: f64,
    /// Majority mapping fitted on alternating [`BLOCK_S`] blocks, scored on the others (both
    /// ways, pooled); a regime unseen in the fitting blocks scores a miss.
    pub majority_accuracy_crossfit: f64,
    /// Held-out bins only: mapping fitted on the training bins, scored on the held-out bins
    /// (`null` when either part has no labelled bin).
    pub heldout_majority_accuracy: Option<f64>,
    /// Chance on the held-out bins (share of their largest class).
    pub heldout_chance: Option<f64>,
    /// NMI with the nearest expansion point to the GRU state instead of the linear path's
    /// regime.
    pub nmi_gru_nearest: f64,
    /// Cross-fitted majority accuracy of the GRU's nearest expansion point.
    pub majority_accuracy_crossfit_gru_nearest: f64,
    /// The population-rate threshold detector, cross-fitted over the same blocks: fitted on
    /// the even blocks' labelled bins (concatenated), scored on the odd ones, and the other
    /// way round, pooled (`null` with one class).
    pub baseline_rate_threshold_crossfit: Option<f64>,
}

/// Label index of every bin of `s` (by bin centre).
pub fn bin_labels(s: &SessionRegimes, labels: &Labels) -> Vec<Option<usize>> {
    (0..s.regime.len())
        .map(|b| labels.label_at(s.start_s + (b as f64 + 0.5) * s.bin_s))
        .collect()
}

/// Block parity of bin `b`: 0 for even [`BLOCK_S`] blocks, 1 for odd ones.
fn parity(b: usize, bin_s: f64) -> usize {
    ((b as f64 * bin_s / BLOCK_S) as usize) % 2
}

/// Majority mapping fitted on the bins with `fit(b)` and scored on the bins with `score(b)`:
/// `(hits, scored)`.
fn fit_score(
    regime: &[usize],
    labels: &[Option<usize>],
    k: usize,
    n_labels: usize,
    fit: impl Fn(usize) -> bool,
    score: impl Fn(usize) -> bool,
) -> (usize, usize) {
    let (r_fit, l_fit): (Vec<usize>, Vec<Option<usize>>) = (0..regime.len())
        .filter(|&b| fit(b))
        .map(|b| (regime[b], labels[b]))
        .unzip();
    let mapping = majority_mapping(&r_fit, &l_fit, k, n_labels);
    let (mut hits, mut scored) = (0, 0);
    for b in (0..regime.len()).filter(|&b| score(b)) {
        if let Some(l) = labels[b] {
            scored += 1;
            if mapping.get(regime[b]).copied().flatten() == Some(l) {
                hits += 1;
            }
        }
    }
    (hits, scored)
}

/// Cross-fitted majority accuracy over alternating blocks.
pub fn crossfit_blocks(
    regime: &[usize],
    labels: &[Option<usize>],
    k: usize,
    n_labels: usize,
    bin_s: f64,
) -> f64 {
    let (mut hits, mut scored) = (0, 0);
    for p in 0..2 {
        let (h, s) = fit_score(
            regime,
            labels,
            k,
            n_labels,
            |b| parity(b, bin_s) == p,
            |b| parity(b, bin_s) != p,
        );
        hits += h;
        scored += s;
    }
    hits as f64 / scored.max(1) as f64
}

fn nmi(regime: &[usize], labels: &[Option<usize>]) -> f64 {
    let (t, p): (Vec<usize>, Vec<usize>) = labels
        .iter()
        .zip(regime)
        .filter_map(|(l, &r)| l.map(|l| (l, r)))
        .unzip();
    if t.is_empty() {
        0.0
    } else {
        normalized_mutual_information(&t, &p)
    }
}

fn rate_threshold_crossfit(
    s: &SessionRegimes,
    labels: &[Option<usize>],
    n_labels: usize,
) -> Option<f64> {
    if n_labels < 2 {
        return None;
    }
    let (mut hits, mut scored) = (0.0, 0usize);
    for p in 0..2 {
        // Labelled bins of the fitting blocks first, then those of the scoring blocks.
        let (mut pop, mut lab) = (Vec::new(), Vec::new());
        let mut split = 0;
        for want in [p, 1 - p] {
            for (b, l) in labels.iter().enumerate() {
                if let (Some(l), true) = (*l, parity(b, s.bin_s) == want) {
                    pop.push(s.population[b]);
                    lab.push(l);
                }
            }
            if want == p {
                split = pop.len();
            }
        }
        let r = fit_rate_threshold(&pop, &lab, n_labels, s.bin_s, 0..split, split..pop.len())?;
        hits += r.accuracy * (pop.len() - split) as f64;
        scored += pop.len() - split;
    }
    Some(hits / scored.max(1) as f64)
}

/// Scores the session's regimes against the labels in `path`.
pub fn label_report(s: &SessionRegimes, path: &Path) -> Result<LabelReport> {
    let labels = read_csv(path).with_context(|| format!("--labels {}", path.display()))?;
    let lab = bin_labels(s, &labels);
    let n_labels = labels.classes.len();
    let k = s.regimes;
    let regime: Vec<usize> = s.regime.iter().map(|&r| r as usize).collect();
    let nearest: Vec<usize> = s.gru_nearest.iter().map(|&r| r as usize).collect();
    let mut contingency = vec![vec![0usize; n_labels]; k];
    let mut per_class = vec![0usize; n_labels];
    for (&r, l) in regime.iter().zip(&lab) {
        if let Some(l) = *l {
            contingency[r.min(k - 1)][l] += 1;
            per_class[l] += 1;
        }
    }
    let labelled: usize = per_class.iter().sum();
    if labelled == 0 {
        anyhow::bail!(
            "--labels {}: no bin of the session ({:.3}-{:.3} s) falls inside a labelled interval",
            path.display(),
            s.start_s,
            s.start_s + regime.len() as f64 * s.bin_s
        );
    }
    let share: Vec<f64> = per_class
        .iter()
        .map(|&c| c as f64 / labelled as f64)
        .collect();
    let mapping = majority_mapping(&regime, &lab, k, n_labels);
    let (hits, _) = fit_score(&regime, &lab, k, n_labels, |_| true, |_| true);
    let ho = s.heldout_start;
    let (ho_hits, ho_scored) = fit_score(&regime, &lab, k, n_labels, |b| b < ho, |b| b >= ho);
    let fitted_any = lab[..ho.min(lab.len())].iter().any(Option::is_some);
    let heldout_chance = (ho_scored > 0).then(|| {
        let mut c = vec![0usize; n_labels];
        for l in lab[ho.min(lab.len())..].iter().flatten() {
            c[*l] += 1;
        }
        *c.iter().max().unwrap_or(&0) as f64 / ho_scored as f64
    });
    Ok(LabelReport {
        file: path.display().to_string(),
        classes: labels.classes.clone(),
        bins: regime.len(),
        bins_labelled: labelled,
        contingency,
        chance: share.iter().copied().fold(0.0, f64::max),
        class_share: share,
        nmi: nmi(&regime, &lab),
        majority_mapping: mapping
            .iter()
            .map(|m| m.map(|j| labels.classes[j].clone()))
            .collect(),
        majority_accuracy: hits as f64 / labelled as f64,
        majority_accuracy_crossfit: crossfit_blocks(&regime, &lab, k, n_labels, s.bin_s),
        heldout_majority_accuracy: (ho_scored > 0 && fitted_any)
            .then(|| ho_hits as f64 / ho_scored as f64),
        heldout_chance,
        nmi_gru_nearest: nmi(&nearest, &lab),
        majority_accuracy_crossfit_gru_nearest: crossfit_blocks(
            &nearest, &lab, k, n_labels, s.bin_s,
        ),
        baseline_rate_threshold_crossfit: rate_threshold_crossfit(s, &lab, n_labels),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(regime: Vec<u16>, population: Vec<f64>) -> SessionRegimes {
        SessionRegimes {
            bin_s: 1.0,
            start_s: 100.0,
            heldout_start: regime.len() * 3 / 4,
            gru_nearest: regime.clone(),
            population,
            regime,
            regimes: 3,
            pieces: 1,
        }
    }

    #[test]
    fn regimes_that_follow_the_labels_score_one() {
        // 480 one-second bins from t = 100 s; label a/b alternates every 20 s, regime 0/1
        // follows it exactly, regime 2 is never used; the population rate carries nothing.
        let dir = std::env::temp_dir().join(format!("jslds-labels-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("l.csv");
        let mut text = String::from("start_s,end_s,label\n");
        for i in 0..24 {
            let l = if i % 2 == 0 { "a" } else { "b" };
            text += &format!("{},{},{l}\n", 100 + 20 * i, 120 + 20 * i);
        }
        std::fs::write(&csv, text).unwrap();
        let regime: Vec<u16> = (0..480).map(|b| ((b / 20) % 2) as u16).collect();
        let r = label_report(&session(regime, vec![1.0; 480]), &csv).unwrap();
        assert_eq!(r.classes, ["a", "b"]);
        assert_eq!(r.bins_labelled, 480);
        assert_eq!(r.contingency, vec![vec![240, 0], vec![0, 240], vec![0, 0]]);
        assert!((r.nmi - 1.0).abs() < 1e-12);
        assert_eq!(r.majority_accuracy, 1.0);
        assert_eq!(r.majority_accuracy_crossfit, 1.0);
        assert_eq!(r.heldout_majority_accuracy, Some(1.0));
        assert_eq!(
            r.majority_mapping,
            [Some("a".into()), Some("b".into()), None]
        );
        assert_eq!(r.chance, 0.5);
        // A constant rate cannot tell a from b: the baseline reports one label, scoring that
        // label's share of the scoring blocks (near one half).
        let b = r.baseline_rate_threshold_crossfit.unwrap();
        assert!((0.3..=0.7).contains(&b), "baseline {b}");

        // Regimes independent of the labels (period 7 bins): NMI near 0, crossfit near chance.
        let regime: Vec<u16> = (0..480).map(|b| ((b / 7) % 2) as u16).collect();
        let r = label_report(&session(regime, vec![1.0; 480]), &csv).unwrap();
        assert!(r.nmi < 0.01, "nmi {}", r.nmi);
        assert!(r.majority_accuracy_crossfit < 0.6);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn labels_outside_the_session_are_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("jslds-labels-out-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let csv = dir.join("far.csv");
        std::fs::write(&csv, "start_s,end_s,label\n5000,5010,x\n").unwrap();
        let e = label_report(&session(vec![0; 10], vec![0.0; 10]), &csv).unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("far.csv") && msg.contains("no bin"), "{msg}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
