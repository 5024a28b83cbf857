//! `neuroloop jslds`: train (`train`) and analyse (`analyze`) the JSLDS state estimator.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::data_args::Selection;
use crate::data::{load_counts, Counts};
use crate::jslds::analysis::{run_analyze, AnalyzeArgs};
use crate::jslds::checkpoint::{self, DataSource};
use crate::jslds::config::{Anchor, Backend, SelectionKind, TrainConfig};
use crate::jslds::loss::LossWeights;
use crate::jslds::train::Trainer;

/// Arguments of `neuroloop jslds`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Train a JSLDS on binned spike counts and write a checkpoint folder.
    Train(TrainArgs),
    /// Analyse a trained JSLDS (fixed points, eigenmodes, regimes, co-smoothing, figures).
    Analyze(AnalyzeArgs),
}

/// Which neurons drive the GRU (every neuron is predicted).
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// The input units listed in the session's `truth.json` (`flipflop.input_units`) when
    /// there is one next to the data, else every unit.
    Auto,
    /// Every unit.
    All,
    /// The input units of the session's `truth.json`; an error when there is none.
    Truth,
    /// The last `n` units.
    Last(usize),
    /// These unit ids.
    Units(Vec<u32>),
}

fn parse_inputs(s: &str) -> Result<Inputs, String> {
    match s {
        "auto" => Ok(Inputs::Auto),
        "all" => Ok(Inputs::All),
        "truth" | "pulse" => Ok(Inputs::Truth),
        _ => {
            if let Some(n) = s.strip_prefix("last:") {
                return n
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .map(Inputs::Last)
                    .ok_or_else(|| format!("{s:?}: `last:N` needs a positive N"));
            }
            s.split(',')
                .map(|x| x.trim().parse::<u32>())
                .collect::<Result<Vec<_>, _>>()
                .map(Inputs::Units)
                .map_err(|_| {
                    format!(
                        "{s:?}: expected auto, all, truth (or pulse), last:N or unit ids ID,ID,..."
                    )
                })
        }
    }
}

/// Arguments of `neuroloop jslds train`.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Spike data: a Phy/Kilosort folder, an .nwb file or a binned count .npy (T x N).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// Checkpoint folder to write (model and optimiser burnpacks + checkpoint.json).
    #[arg(long, value_name = "CKPT")]
    pub out: PathBuf,
    #[command(flatten)]
    pub selection: Selection,
    /// Bin width, ms.
    #[arg(long, default_value_t = 10.0)]
    pub bin_ms: f64,
    /// Latent size d.
    #[arg(long, default_value_t = 16)]
    pub latent: usize,
    /// Number of expansion points (regimes) K.
    #[arg(long, default_value_t = 8)]
    pub regimes: usize,
    /// Optimiser steps (total, counting the steps of a resumed checkpoint).
    #[arg(long, default_value_t = 4000)]
    pub steps: usize,
    /// Train for this many epochs instead (an epoch walks every stream once through its
    /// stretch of the training bins).
    #[arg(long, conflicts_with = "steps")]
    pub epochs: Option<usize>,
    /// Seed of the initial weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// CPU backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    pub backend: Backend,
    /// Neurons that drive the GRU: auto, all, truth (= pulse: the input units of the
    /// session's truth.json), last:N, or unit ids ID,ID,... Every neuron is predicted.
    #[arg(long, default_value = "auto", value_parser = parse_inputs)]
    pub inputs: Inputs,
    /// Regime selection of the linear path.
    #[arg(long, value_enum, default_value_t = SelectionKind::Nearest)]
    pub selection_rule: SelectionKind,
    /// Input anchor u* (default: silent when the inputs are a subset of the units, else mean).
    #[arg(long, value_enum)]
    pub anchor: Option<Anchor>,
    /// Bins per chunk of truncated backpropagation (states carry over between chunks).
    #[arg(long, default_value_t = 64)]
    pub chunk: usize,
    /// Parallel streams (batch rows).
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Learning rate at the last step, as a fraction of --lr (half-cosine decay; 1 = constant).
    #[arg(long, default_value_t = 1.0)]
    pub lr_final: f64,
    /// Weight of the fixed-point term.
    #[arg(long, default_value_t = 100.0)]
    pub l_fp: f32,
    /// Weight of the approximation term |h - a|^2.
    #[arg(long, default_value_t = 10.0)]
    pub l_a: f32,
    /// Make the approximation term scale-free: |h - a|^2 / |h|^2 over the batch (the GRU
    /// cannot lower it by shrinking its states).
    #[arg(long)]
    pub approx_relative: bool,
    /// Train the linear path one step at a time from the GRU's previous state (regime picked
    /// from it too) instead of freely; the held-out evaluation still runs it freely. An
    /// ablation: on `flipflop` it fits each step (relative one-step error ~0.08) but the free
    /// rollout drifts away (held-out relative error ~1.0 at 5250 steps).
    #[arg(long)]
    pub approx_one_step: bool,
    /// Weight of the open-gate term mean relu(z - z_max)^2 on the GRU's update gate z at the
    /// expansion points (0: off): a saturated gate makes J_u vanish there, so input pulses
    /// cannot move the linear path across a region boundary.
    #[arg(long, default_value_t = 0.0)]
    pub l_z: f32,
    /// Largest update gate at the expansion points before --l-z applies.
    #[arg(long, default_value_t = 0.5)]
    pub z_max: f32,
    /// Weight of a one-step approximation term |h_t - lin_k(h_{t-1}, u_t)|^2 (regime chosen
    /// from h_{t-1} by the model's rule) added to the free-path term --l-a (0: off).
    #[arg(long, default_value_t = 0.0)]
    pub l_a1: f32,
    /// Leave the last N expansion points out of the fixed-point term (free points that can
    /// sit between fixed points; 0: all pinned).
    #[arg(long, default_value_t = 0)]
    pub free_regimes: usize,
    /// Weight of the contraction term sum_k |J_h(e_k)^8|_F^2 over the pinned expansion points
    /// (0: off): slow modes at the fixed points keep the error a transition leaves between the
    /// two paths for the whole quiet stretch after it.
    #[arg(long, default_value_t = 0.0)]
    pub l_c: f32,
    /// Weight of the regime-match term: cross-entropy of softmax(-|a_t - e_j|^2) against the
    /// expansion point nearest to the GRU state h_t (0: off). It weighs by which side of a
    /// regime boundary the linear path is on, where the rare missed flips of `flipflop` are.
    #[arg(long, default_value_t = 0.0)]
    pub l_s: f32,
    /// Weight of the linear path's Poisson NLL.
    #[arg(long, default_value_t = 1.0)]
    pub l_lin: f32,
    /// Warm-up steps of the linear path: `l_lin`, `l_a`, `l_a1`, `l_c` and `l_s` rise linearly
    /// from 0 over these steps, and the linear path restarts at the GRU state each chunk until
    /// then (0: off).
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,
    /// Every this many steps, move expansion points that no bin of the batch selected onto
    /// GRU states of the batch (0: never).
    #[arg(long, default_value_t = 50)]
    pub reseed_every: usize,
    /// Last step of dead-point reseeding.
    #[arg(long, default_value_t = 1000)]
    pub reseed_until: usize,
    /// At each reseeding step, also run the GRU at the input anchor from the batch's states
    /// until they come to rest, and give each attractor found a pinned expansion point (the
    /// nearest one snaps onto it, or a redundant one moves there).
    #[arg(long)]
    pub cover_attractors: bool,
    /// Probability that a stream restarts from the zero state at a chunk (0: only at the start
    /// of its stretch). The held-out and validation pieces start from zero; this trains those
    /// starts.
    #[arg(long, default_value_t = 0.0)]
    pub reset_prob: f64,
    /// Held-out fraction (the last bins).
    #[arg(long, default_value_t = 0.2)]
    pub heldout: f64,
    /// Validation fraction, the bins just before the held-out ones (0: none). With it the
    /// checkpoint keeps, beside the last state, the model of lowest validation relative error
    /// after the warm-up, and `analyze` and `export` read that one.
    #[arg(long, default_value_t = 0.0)]
    pub validation: f64,
    /// Evaluate on the held-out bins and checkpoint every this many steps.
    #[arg(long, default_value_t = 250)]
    pub eval_every: usize,
    /// Continue the checkpoint in --out (same data and options) up to --steps.
    #[arg(long)]
    pub resume: bool,
    /// No progress bar; one line per evaluation instead.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `neuroloop jslds`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Train(a) => train(a),
        Command::Analyze(a) => run_analyze(a),
    }
}

/// `truth.json` of the session at `data`: the folder itself, or the folder above a `phy/`
/// folder or a file.
fn find_truth(data: &Path) -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if data.is_dir() {
        candidates.push(data.join("truth.json"));
    }
    if let Some(p) = data.parent() {
        candidates.push(p.join("truth.json"));
    }
    candidates.into_iter().find(|p| p.is_file())
}

/// Unit ids of `flipflop.input_units` in `truth`, `None` when the session has none.
fn truth_inputs(truth: &Path) -> Result<Option<Vec<u32>>> {
    let text = std::fs::read_to_string(truth)
        .with_context(|| format!("{}: cannot read", truth.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not JSON", truth.display()))?;
    let Some(list) = v.pointer("/flipflop/input_units") else {
        return Ok(None);
    };
    let list = list.as_array().with_context(|| {
        format!(
            "{}: field `flipflop.input_units` is not a list",
            truth.display()
        )
    })?;
    list.iter()
        .enumerate()
        .map(|(i, u)| {
            u.get("unit")
                .and_then(|x| x.as_u64())
                .and_then(|x| u32::try_from(x).ok())
                .with_context(|| {
                    format!(
                        "{}: field `flipflop.input_units[{i}].unit` is not a unit id",
                        truth.display()
                    )
                })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Column indices of the input units.
fn resolve_inputs(inputs: &Inputs, data: &Path, counts: &Counts) -> Result<Option<Vec<usize>>> {
    let columns = |ids: &[u32], what: &str| -> Result<Vec<usize>> {
        ids.iter()
            .map(|id| {
                counts
                    .unit_ids
                    .iter()
                    .position(|u| u == id)
                    .with_context(|| format!("--inputs: unit id {id} ({what}) is not in the data"))
            })
            .collect()
    };
    let n = counts.n_units();
    Ok(match inputs {
        Inputs::All => None,
        Inputs::Last(k) => {
            if *k >= n {
                bail!("--inputs last:{k}: the data has only {n} units");
            }
            Some((n - k..n).collect())
        }
        Inputs::Units(ids) => Some(columns(ids, "listed")?),
        Inputs::Truth | Inputs::Auto => {
            let found = match find_truth(data) {
                Some(t) => truth_inputs(&t)?.map(|ids| (t, ids)),
                None => None,
            };
            match (found, inputs) {
                (Some((t, ids)), _) => {
                    let cols = columns(&ids, &format!("from {}", t.display()))?;
                    eprintln!(
                        "inputs: the {} input units listed in {}",
                        cols.len(),
                        t.display()
                    );
                    Some(cols)
                }
                (None, Inputs::Truth) => bail!(
                    "--inputs truth: no truth.json with `flipflop.input_units` next to {}",
                    data.display()
                ),
                (None, _) => None,
            }
        }
    })
}

fn train(a: TrainArgs) -> Result<()> {
    if !(a.bin_ms.is_finite() && a.bin_ms > 0.0) {
        bail!("--bin-ms {}: must be positive", a.bin_ms);
    }
    let bin_s = a.bin_ms / 1e3;
    let opts = a.selection.load_options(bin_s)?;
    let counts = load_counts(&a.data, &opts).context("training data")?;
    let n = counts.n_units();
    let inputs = resolve_inputs(&a.inputs, &a.data, &counts)?;
    let subset = inputs.as_ref().is_some_and(|v| v.len() < n);
    let mut cfg = TrainConfig {
        bin_s,
        latent: a.latent,
        regimes: a.regimes,
        selection: a.selection_rule,
        anchor: a
            .anchor
            .unwrap_or(if subset { Anchor::Silent } else { Anchor::Mean }),
        inputs,
        chunk_len: a.chunk,
        batch: a.batch,
        steps: a.steps,
        lr: a.lr,
        weights: LossWeights {
            fixed_point: a.l_fp,
            approx: a.l_a,
            lin: a.l_lin,
            approx_relative: a.approx_relative,
            approx_one_step: a.approx_one_step,
            gate_open: a.l_z,
            approx_step: a.l_a1,
            free_points: a.free_regimes,
            contraction: a.l_c,
            regime_match: a.l_s,
            z_max: a.z_max,
            ..LossWeights::default()
        },
        heldout_frac: a.heldout,
        validation_frac: a.validation,
        eval_every: a.eval_every.max(1),
        warmup: a.warmup,
        lr_final: a.lr_final,
        reseed_every: a.reseed_every,
        reseed_until: a.reseed_until,
        cover_attractors: a.cover_attractors,
        reset_prob: a.reset_prob,
        seed: a.seed,
        backend: a.backend,
        ..TrainConfig::default()
    };
    let source = DataSource {
        path: std::fs::canonicalize(&a.data).unwrap_or_else(|_| a.data.clone()),
        good_only: opts.good_only,
        units: opts.units.clone(),
        range_s: opts.range_s,
        unit_ids: counts.unit_ids.clone(),
        bins: counts.n_bins,
    };
    let mut trainer = if a.resume {
        let t = checkpoint::resume(&a.out, &counts.data, n, cfg.steps)?;
        eprintln!("resuming {} at step {}", a.out.display(), t.step);
        t
    } else {
        Trainer::new(&counts.data, n, &cfg)?
    };
    if let Some(e) = a.epochs {
        cfg.steps = e * trainer.prep.streams.chunks;
        trainer.cfg.steps = cfg.steps;
    }
    let total = trainer.cfg.steps;
    eprintln!(
        "training: {} bins ({} held out from bin {}{}), {} neurons, {} inputs, d={} K={} anchor {:?}, {} streams of {} bins in chunks of {} ({} steps an epoch), {} steps, backend {:?}",
        counts.n_bins,
        counts.n_bins - trainer.prep.heldout_start,
        trainer.prep.heldout_start,
        if trainer.prep.validation_segments > 0 {
            format!(
                ", {} for validation from bin {}",
                trainer.prep.heldout_start - trainer.prep.validation_start,
                trainer.prep.validation_start
            )
        } else {
            String::new()
        },
        n,
        trainer.prep.inputs.len(),
        trainer.cfg.latent,
        trainer.cfg.regimes,
        trainer.cfg.anchor,
        trainer.cfg.batch,
        trainer.prep.streams.stretch,
        trainer.cfg.chunk_len,
        trainer.prep.streams.chunks,
        total,
        trainer.cfg.backend
    );
    let bar = if a.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} {per_sec} eta {eta} {msg}")
                .context("progress bar template")?
                .progress_chars("=> "),
        );
        bar.set_position(trainer.step as u64);
        bar
    };
    let started = Instant::now();
    let mut last_eval = String::from("held-out rel.err -");
    while trainer.step < total {
        let r = match trainer.train_step() {
            Ok(r) => r,
            Err(e) => {
                bar.abandon();
                let selected = trainer
                    .selected
                    .as_ref()
                    .map(|(_, s)| {
                        format!(
                            "; its model selected on the validation bins, of step {}, is what \
                             analyze and export read",
                            s.step
                        )
                    })
                    .unwrap_or_default();
                match trainer.curves.eval.last() {
                    Some(last) => bail!(
                        "{e}\n(the last good checkpoint, step {}, is in {}{selected})",
                        last.step,
                        a.out.display()
                    ),
                    None => bail!(
                        "{e}\n(no checkpoint was written: the first is at step {})",
                        trainer.cfg.eval_every.min(total)
                    ),
                }
            }
        };
        if r.step.is_multiple_of(trainer.cfg.eval_every) || r.step == total {
            if let Some(e) = trainer.evaluate() {
                last_eval = format!(
                    "held-out rel.err {:.4} nll {:.3}/{:.3}{}",
                    e.relative_error,
                    e.nll,
                    e.nll_linear,
                    trainer
                        .curves
                        .eval
                        .last()
                        .and_then(|p| p.validation_relative_error)
                        .map(|v| format!("; validation rel.err {v:.4}"))
                        .unwrap_or_default()
                );
                if !e.relative_error.is_finite() || !e.nll_linear.is_finite() {
                    eprintln!(
                        "warning: step {}: the held-out linear path is not finite (rel.err {}, nll {})",
                        r.step, e.relative_error, e.nll_linear
                    );
                }
                if a.quiet {
                    eprintln!(
                        "step {} ({:.1} st/s): loss {:.4} nll {:.4} lin {:.4} fp {:.2e} approx {:.2e}; {last_eval}",
                        r.step, r.steps_per_s, r.loss[0], r.loss[1], r.loss[2], r.loss[3], r.loss[4]
                    );
                }
            }
            checkpoint::save(&a.out, &mut trainer, &source)?;
        }
        bar.set_position(r.step as u64);
        bar.set_message(format!(
            "loss {:.3} nll {:.3} lin {:.3} fp {:.1e} apx {:.1e} | {last_eval}",
            r.loss[0], r.loss[1], r.loss[2], r.loss[3], r.loss[4]
        ));
    }
    bar.finish_and_clear();
    let e = trainer.curves.eval.last();
    println!(
        "wrote {}: {} steps, {:.1} s training ({:.1} steps/s, {:.1} s wall this run); held-out relative error {}, NLL a bin {} (GRU) / {} (linear)",
        a.out.display(),
        trainer.step,
        trainer.train_seconds,
        trainer.step as f64 / trainer.train_seconds.max(1e-9),
        started.elapsed().as_secs_f64(),
        e.map(|e| format!("{:.4}", e.relative_error)).unwrap_or("-".into()),
        e.map(|e| format!("{:.4}", e.nll)).unwrap_or("-".into()),
        e.map(|e| format!("{:.4}", e.nll_linear)).unwrap_or("-".into()),
    );
    if let Some((_, sel)) = &trainer.selected {
        let held = trainer
            .curves
            .eval
            .iter()
            .rfind(|p| p.step == sel.step)
            .map(|p| format!("{:.4}", p.relative_error))
            .unwrap_or("-".into());
        println!(
            "selected on the validation bins: the model of step {} (validation relative error {:.4}, held-out {held}); analyze and export read it",
            sel.step, sel.validation_relative_error
        );
    } else if trainer.prep.validation_segments > 0 {
        println!(
            "no model selected yet: the validation split is scored from the end of the warm-up (step {})",
            trainer.cfg.warmup
        );
    }
    Ok(())
}
