//! `neuroloop demo`: the whole loop on simulated data, no download.
//!
//! The demo runs the same commands a user runs, in order, on a `closed-loop` session (latent
//! regimes and behaviour-dependent connectivity on the same neurons, with ground truth):
//!
//! ```text
//! neuroloop simulate closed-loop --out DIR/session
//! neuroloop jslds train    --data DIR/session/phy --out DIR/jslds  (a small budget)
//! neuroloop jslds analyze  --model DIR/jslds --truth DIR/session/truth.json --report ... --plots ...
//! neuroloop tavrnn train   --data DIR/session/phy --labels DIR/session/behavior.csv --out DIR/tavrnn
//! neuroloop tavrnn eval    --model DIR/tavrnn ... --report ... --plots ...
//! neuroloop export         --jslds DIR/jslds --tavrnn DIR/tavrnn --calibrate ... --out DIR/model.nlm
//! neuroloop replay         --model DIR/model.nlm --data DIR/session/phy --report DIR/replay.json
//! ```
//! Each step is parsed from its command line by the subcommand's own argument parser, so the
//! demo cannot drift from what the commands accept; the lines are printed as they run. The
//! summary reads the steps' JSON reports back.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{export, inspect, jslds, replay, simulate, tavrnn};
use crate::export::write_atomic;

/// Arguments of `neuroloop demo`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Output folder: the session, checkpoints, reports, figures, the model file, summary.json.
    #[arg(long, default_value = "neuroloop-demo")]
    pub out: PathBuf,
    /// Seed of the simulated session and of both trainings.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Length of the simulated session, seconds.
    #[arg(long, default_value_t = 360.0)]
    pub duration_s: f64,
    /// JSLDS training steps.
    #[arg(long, default_value_t = DEMO_JSLDS_STEPS)]
    pub jslds_steps: usize,
    /// TAVRNN training epochs.
    #[arg(long, default_value_t = DEMO_TAVRNN_EPOCHS)]
    pub tavrnn_epochs: usize,
}

/// JSLDS budget of the demo: enough for the four wells of the closed-loop session.
pub const DEMO_JSLDS_STEPS: usize = 1500;
/// Hysteresis of the exported estimator, bins: a regime must hold 50 ms to be reported.
pub const DEMO_HYSTERESIS_BINS: u16 = 5;
/// TAVRNN budget of the demo.
pub const DEMO_TAVRNN_EPOCHS: usize = 20;
/// Fraction of bins the device regime mapping is fitted on (the rest is scored).
const MAP_FRACTION: f64 = 0.8;

/// `DIR/summary.json` (keys documented in the README).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Device (fixed-point) regimes vs the true latent regimes: each model regime is mapped to
    /// the true regime it most often coincides with over the first 80 % of the bins, and the
    /// last 20 % (held out from JSLDS training) are scored.
    pub regime_accuracy: f64,
    /// The same score for the JSLDS f32 linear path, from `jslds analyze` (mapping cross-fitted
    /// on its held-out bins).
    pub regime_accuracy_f32: Option<f64>,
    /// The population-rate threshold detector on the same data, from `jslds analyze`.
    pub regime_accuracy_rate_threshold: Option<f64>,
    /// Median delay from a true regime switch to the device reporting it (held-out part), ms.
    pub switch_delay_ms_median: Option<f64>,
    /// Cross-validated behaviour classification accuracy of the TAVRNN window embeddings
    /// (`tavrnn eval`).
    pub behaviour_accuracy: f64,
    /// Chance level of that classification.
    pub behaviour_chance: f64,
    /// Fraction of bins whose quantised regime equals the f32 reference's.
    pub regime_agreement: f64,
    /// Fraction of windows whose quantised behaviour class equals the f32 reference's.
    pub class_agreement: Option<f64>,
    /// Smallest cosine between the quantised and f32 window embeddings.
    pub embedding_cosine_min: Option<f64>,
    /// Size of the model file (both sections, with the f32 reference), bytes.
    pub model_bytes: u64,
    /// Device RAM for this model's state, from `neuroloop inspect`: the estimator's state plus
    /// the TAVRNN's ring, keys and per-step scratch, bytes (the graph encoder's sums and the
    /// firmware's stack come on top; the whole firmware is measured under QEMU, README).
    pub device_state_ram_bytes: usize,
    /// Regimes the JSLDS found, with the true regime each maps to.
    pub regimes: Vec<Value>,
    /// Wall time of the whole demo, seconds.
    pub elapsed_s: f64,
}

/// Parses `argv` with the argument parser of a subcommand (`A`).
fn parse<A: clap::Args + clap::FromArgMatches>(name: &'static str, argv: &[OsString]) -> Result<A> {
    let cmd = A::augment_args(clap::Command::new(name).no_binary_name(true));
    let matches = cmd
        .try_get_matches_from(argv)
        .with_context(|| format!("demo: bad arguments for `neuroloop {name}`"))?;
    Ok(A::from_arg_matches(&matches)?)
}

/// Prints the command line of a step and returns its arguments.
fn step(n: usize, what: &str, cmd: &str, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Vec<OsString> {
    let argv: Vec<OsString> = args.iter().map(|a| a.as_ref().to_os_string()).collect();
    let line: Vec<String> = argv
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    println!(
        "\n[{n}/7] {what}\n      $ neuroloop {cmd} {}",
        line.join(" ")
    );
    argv
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not JSON", path.display()))
}

/// Runs `neuroloop demo`.
pub fn run(args: Args) -> Result<()> {
    let started = Instant::now();
    if !(args.duration_s.is_finite() && args.duration_s >= 120.0) {
        bail!(
            "--duration-s {}: the demo needs at least 120 s (behaviour dwells 8-25 s)",
            args.duration_s
        );
    }
    let out = &args.out;
    std::fs::create_dir_all(out)
        .with_context(|| format!("{}: cannot create the output folder", out.display()))?;
    let session = out.join("session");
    let phy = session.join("phy");
    let truth = session.join("truth.json");
    let labels = session.join("behavior.csv");
    let figures = out.join("figures");
    let seed = args.seed.to_string();
    let duration = args.duration_s.to_string();

    let a = step(
        1,
        "simulate a session with latent regimes and behaviour-dependent connectivity",
        "simulate",
        &[
            &"closed-loop",
            &"--out",
            &session,
            &"--seed",
            &seed,
            &"--duration-s",
            &duration,
        ],
    );
    simulate::run(parse("simulate", &a)?)?;

    let jslds_ckpt = out.join("jslds");
    let steps = args.jslds_steps.to_string();
    let a = step(
        2,
        "train the JSLDS state estimator (GRU + its switching linear system)",
        "jslds train",
        &[
            &"--data",
            &phy,
            &"--out",
            &jslds_ckpt,
            &"--steps",
            &steps,
            &"--lr",
            &"1e-3",
            &"--seed",
            &seed,
        ],
    );
    jslds::run(parse("jslds", &prepend("train", a))?)?;

    let jslds_report = out.join("jslds-report.json");
    let a = step(
        3,
        "analyse it: fixed points, eigenmodes, regimes vs the truth",
        "jslds analyze",
        &[
            &"--model",
            &jslds_ckpt,
            &"--report",
            &jslds_report,
            &"--plots",
            &figures.join("jslds"),
            &"--truth",
            &truth,
        ],
    );
    jslds::run(parse("jslds", &prepend("analyze", a))?)?;

    let tavrnn_ckpt = out.join("tavrnn");
    let epochs = args.tavrnn_epochs.to_string();
    let a = step(
        4,
        "train TAVRNN on the connectivity graphs (labels only checked, not used)",
        "tavrnn train",
        &[
            &"--data",
            &phy,
            &"--labels",
            &labels,
            &"--out",
            &tavrnn_ckpt,
            &"--latent",
            &"8",
            &"--hidden",
            &"32",
            &"--attention-window",
            &"8",
            &"--epochs",
            &epochs,
            &"--seed",
            &seed,
            &"--quiet",
        ],
    );
    tavrnn::run(parse("tavrnn", &prepend("train", a))?)?;

    let tavrnn_report = out.join("tavrnn-report.json");
    let a = step(
        5,
        "score the window embeddings against behaviour, next to the baselines",
        "tavrnn eval",
        &[
            &"--model",
            &tavrnn_ckpt,
            &"--data",
            &phy,
            &"--labels",
            &labels,
            &"--report",
            &tavrnn_report,
            &"--plots",
            &figures.join("tavrnn"),
        ],
    );
    tavrnn::run(parse("tavrnn", &prepend("eval", a))?)?;

    let model = out.join("model.nlm");
    let a = step(
        6,
        "quantise both models into one model file",
        "export",
        &[
            &"--jslds",
            &jslds_ckpt,
            &"--tavrnn",
            &tavrnn_ckpt,
            &"--hysteresis",
            &DEMO_HYSTERESIS_BINS.to_string(),
            &"--calibrate",
            &phy,
            &"--out",
            &model,
        ],
    );
    export::run(parse("export", &a)?)?;

    let replay_report = out.join("replay.json");
    let a = step(
        7,
        "replay the session on neuroloop-core (fixed point) beside the f32 reference",
        "replay",
        &[
            &"--model",
            &model,
            &"--data",
            &phy,
            &"--labels",
            &labels,
            &"--report",
            &replay_report,
        ],
    );
    replay::run(parse("replay", &a)?)?;

    let summary = summarise(
        &read_json(&truth)?,
        &read_json(&jslds_report)?,
        &read_json(&tavrnn_report)?,
        &read_json(&replay_report)?,
        std::fs::metadata(&model)
            .with_context(|| format!("{}: cannot stat", model.display()))?
            .len(),
        device_state_ram(&inspect::inspect(&model)?),
        started.elapsed().as_secs_f64(),
    )?;
    write_atomic(
        &out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?.as_bytes(),
    )?;
    print_summary(&summary, out);
    Ok(())
}

fn prepend(sub: &str, mut argv: Vec<OsString>) -> Vec<OsString> {
    argv.insert(0, sub.into());
    argv
}

fn f64_at(v: &Value, path: &[&str]) -> Option<f64> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_f64()
}

/// Builds the summary from the reports of the steps.
fn summarise(
    truth: &Value,
    jslds: &Value,
    tavrnn: &Value,
    replay: &Value,
    model_bytes: u64,
    device_state_ram_bytes: usize,
    elapsed_s: f64,
) -> Result<Summary> {
    let true_regimes = u16_list(truth, "regime_per_bin").context("truth.json: regime_per_bin")?;
    let device = u16_list(replay, "regimes").context("replay.json: regimes")?;
    let bin_s = f64_at(truth, &["bin_s"]).context("truth.json: bin_s")?;
    let score = score_mapped(&device, &true_regimes, MAP_FRACTION, bin_s)
        .context("replay.json: regimes: no bins to score")?;
    let names: Vec<String> = truth["regime_names"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let regimes = score
        .mapping
        .iter()
        .enumerate()
        .filter_map(|(k, m)| {
            m.map(|t| {
                serde_json::json!({
                    "regime": k,
                    "maps_to": names.get(usize::from(t)).cloned().unwrap_or_else(|| t.to_string()),
                    "occupancy": score.occupancy[k],
                })
            })
        })
        .collect();
    Ok(Summary {
        regime_accuracy: score.accuracy,
        regime_accuracy_f32: f64_at(jslds, &["truth_match", "regime_accuracy_crossfit"]),
        regime_accuracy_rate_threshold: f64_at(
            jslds,
            &["truth_match", "baseline_rate_threshold_accuracy"],
        ),
        switch_delay_ms_median: score.delay_ms_median,
        behaviour_accuracy: f64_at(tavrnn, &["tavrnn", "accuracy"])
            .context("tavrnn-report.json: tavrnn.accuracy")?,
        behaviour_chance: f64_at(tavrnn, &["chance"]).context("tavrnn-report.json: chance")?,
        regime_agreement: f64_at(replay, &["regime_agreement"])
            .context("replay.json: regime_agreement (the model file has no f32 reference)")?,
        class_agreement: f64_at(replay, &["class_agreement"]),
        embedding_cosine_min: f64_at(replay, &["embedding_cosine_min"]),
        model_bytes,
        device_state_ram_bytes,
        regimes,
        elapsed_s,
    })
}

/// The model's device state in RAM, from its inspection (see [`Summary`]).
fn device_state_ram(i: &inspect::Inspection) -> usize {
    let jslds = i.jslds.as_ref().map_or(0, |j| j.state_ram_bytes);
    let tavrnn = i.tavrnn.as_ref().map_or(0, |t| {
        t.ring_ram_bytes + t.keys_ram_bytes + t.scratch_ram_bytes
    });
    jslds + tavrnn
}

fn u16_list(v: &Value, key: &str) -> Option<Vec<u16>> {
    v.get(key)?
        .as_array()?
        .iter()
        .map(|x| x.as_u64().and_then(|r| u16::try_from(r).ok()))
        .collect()
}

/// Held-out score of model regimes against true ones through a majority mapping.
struct MappedScore {
    accuracy: f64,
    delay_ms_median: Option<f64>,
    /// True regime of each model regime (`None`: unused in the fitting part).
    mapping: Vec<Option<u16>>,
    /// Fraction of all bins in each model regime.
    occupancy: Vec<f64>,
}

/// Maps each model regime to the true regime it most often coincides with over the first
/// `fit` fraction of the bins, then scores the rest: accuracy, and for each true switch the
/// delay until the mapped model regime shows the new one (within the new dwell). A switch the
/// model already showed on the bin before it is not a detection (it would count as 0 ms when
/// several model regimes map to one true regime), so it has no delay.
fn score_mapped(model: &[u16], truth: &[u16], fit: f64, bin_s: f64) -> Option<MappedScore> {
    let n = model.len().min(truth.len());
    let split = ((n as f64 * fit) as usize).min(n);
    if split == n {
        return None;
    }
    let k_model = usize::from(*model[..n].iter().max()?) + 1;
    let k_true = usize::from(*truth[..n].iter().max()?) + 1;
    let mut table = vec![0usize; k_model * k_true];
    for t in 0..split {
        table[usize::from(model[t]) * k_true + usize::from(truth[t])] += 1;
    }
    let mapping: Vec<Option<u16>> = table
        .chunks(k_true)
        .map(|row| {
            let (best, count) = row.iter().enumerate().max_by_key(|(_, c)| **c)?;
            (*count > 0).then_some(best as u16)
        })
        .collect();
    let mapped = |t: usize| mapping[usize::from(model[t])];
    let hits = (split..n).filter(|&t| mapped(t) == Some(truth[t])).count();
    let switches: Vec<usize> = (split.max(1)..n)
        .filter(|&t| truth[t] != truth[t - 1])
        .collect();
    let mut delays = Vec::new();
    for (i, &s) in switches.iter().enumerate() {
        if mapped(s - 1) == Some(truth[s]) {
            continue;
        }
        let end = switches.get(i + 1).copied().unwrap_or(n);
        if let Some(d) = (s..end).position(|t| mapped(t) == Some(truth[s])) {
            delays.push(d as f64 * bin_s * 1e3);
        }
    }
    delays.sort_by(f64::total_cmp);
    let mut occupancy = vec![0.0; k_model];
    for &m in &model[..n] {
        occupancy[usize::from(m)] += 1.0 / n as f64;
    }
    Some(MappedScore {
        accuracy: hits as f64 / (n - split) as f64,
        delay_ms_median: (!delays.is_empty()).then(|| delays[delays.len() / 2]),
        mapping,
        occupancy,
    })
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.1} %", 100.0 * v))
        .unwrap_or_else(|| "n/a".into())
}

fn print_summary(s: &Summary, out: &Path) {
    println!();
    println!(
        "neuroloop demo — summary ({})",
        out.join("summary.json").display()
    );
    println!(
        "  regimes found                       : {} used, mapped to {}",
        s.regimes.len(),
        s.regimes
            .iter()
            .filter_map(|r| r["maps_to"].as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  regime accuracy, device vs truth    : {} (f32 JSLDS {}, rate-threshold detector {})",
        pct(Some(s.regime_accuracy)),
        pct(s.regime_accuracy_f32),
        pct(s.regime_accuracy_rate_threshold)
    );
    if let Some(d) = s.switch_delay_ms_median {
        println!("  median delay after a true switch    : {d:.0} ms");
    }
    println!(
        "  behaviour accuracy (TAVRNN, CV)     : {} (chance {})",
        pct(Some(s.behaviour_accuracy)),
        pct(Some(s.behaviour_chance))
    );
    println!(
        "  quantised vs f32                    : regimes {}, classes {}, embedding cosine >= {}",
        pct(Some(s.regime_agreement)),
        pct(s.class_agreement),
        s.embedding_cosine_min
            .map(|c| format!("{c:.4}"))
            .unwrap_or_else(|| "n/a".into())
    );
    println!(
        "  model file                          : {} B",
        s.model_bytes
    );
    println!(
        "  device state in RAM (this model)    : {} B (estimator state, TAVRNN ring, keys, scratch)",
        s.device_state_ram_bytes
    );
    println!(
        "  device instructions (Cortex-M4)     : measured under QEMU by scripts/firmware-profile.sh \
         and scripts/firmware-tavrnn-bench.sh (README, device table)"
    );
    println!(
        "  elapsed                             : {:.1} s",
        s.elapsed_s
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_is_fitted_before_the_split_and_scored_after() {
        // Model regimes 5 and 7 stand for true 0 and 1; regime 7 is wrong after the split.
        let truth = [0, 0, 1, 1, 0, 0, 1, 1, 0, 1];
        let model = [5, 5, 7, 7, 5, 5, 7, 7, 5, 5];
        let s = score_mapped(&model, &truth, 0.8, 0.01).unwrap();
        assert_eq!(s.mapping[5], Some(0));
        assert_eq!(s.mapping[7], Some(1));
        assert_eq!(s.mapping[0], None);
        assert!((s.accuracy - 0.5).abs() < 1e-12);
        assert!(score_mapped(&model, &truth, 1.0, 0.01).is_none());
    }

    #[test]
    fn delays_count_only_switches_the_model_had_not_shown_already() {
        // Fit on the first half: model 1 and 2 both stand for true 1, model 0 for true 0.
        let truth = [
            0, 0, 1, 1, 0, 0, 1, 1, /* scored: */ 0, 0, 1, 1, 1, 0, 1, 1,
        ];
        let model = [
            0, 0, 1, 2, 0, 0, 2, 1, /* scored: */ 0, 0, 0, 2, 2, 1, 1, 1,
        ];
        let s = score_mapped(&model, &truth, 0.5, 0.01).unwrap();
        // Mapped model over the scored bins 8..16: [0, 0, 0, 1, 1, 1, 1, 1]. Switches: at 8
        // (seen at once, 0 ms), at 10 (seen one bin late, 10 ms), at 13 (never seen in its
        // dwell) and at 14, which the model showed already on bin 13: not a detection.
        // Counting it would give delays [0, 0, 10] and a median of 0 ms.
        assert_eq!(s.mapping[1], Some(1));
        assert_eq!(s.mapping[2], Some(1));
        assert_eq!(s.delay_ms_median, Some(10.0));
    }

    #[test]
    fn step_arguments_parse_with_the_subcommands_own_parsers() {
        let a: replay::Args = parse(
            "replay",
            &["--model", "m.nlm", "--data", "d", "--report", "r.json"].map(OsString::from),
        )
        .unwrap();
        assert_eq!(a.model, PathBuf::from("m.nlm"));
        let e = parse::<replay::Args>("replay", &[OsString::from("--nope")]);
        assert!(e.is_err());
    }
}
