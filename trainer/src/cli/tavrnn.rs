//! `neuroloop tavrnn`: train (`train`) and evaluate (`eval`) the TAVRNN connectivity model.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::data_args::Selection;
use crate::data::labels;
use crate::export::write_atomic;
use crate::graph::{FeatureKind, GraphConfig, Symmetrise, TopK};
use crate::tavrnn::checkpoint::{self, DataInfo};
use crate::tavrnn::embed::embed;
use crate::tavrnn::report::{evaluate, EvalOptions, ModelInfo, ModelRun};
use crate::tavrnn::session::Session;
use crate::tavrnn::{plots, Backend, TrainConfig, Trainer};

/// Arguments of `neuroloop tavrnn`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train TAVRNN (or VGRNN with --no-attention) on the graph sequence of a recording.
    Train(TrainArgs),
    /// Score window embeddings against behaviour, next to VGRNN, correlation and PCA baselines.
    Eval(EvalArgs),
}

/// Node features of the graphs.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum Features {
    /// One-hot identity.
    Identity,
    /// The rows of |R|.
    Correlation,
}

/// How windows and graphs are made.
#[derive(clap::Args, Debug, Clone)]
struct GraphArgs {
    /// Bin width, ms.
    #[arg(long, default_value_t = 10.0)]
    bin_ms: f64,
    /// Window length, s.
    #[arg(long, default_value_t = 4.0)]
    window_s: f64,
    /// Step between windows, s.
    #[arg(long, default_value_t = 2.0)]
    step_s: f64,
    /// Edge where |R| >= this (default: 0 with top-k, 0.1 without).
    #[arg(long)]
    threshold: Option<f64>,
    /// Keep the k strongest edges of each node (union); 0 = off (default 8 unless only
    /// --threshold is given).
    #[arg(long)]
    top_k: Option<usize>,
    /// Node features.
    #[arg(long, value_enum, default_value_t = Features::Identity)]
    features: Features,
}

impl GraphArgs {
    fn config(&self) -> GraphConfig {
        let top_k = match (self.top_k, self.threshold) {
            (Some(0), _) | (None, Some(_)) => None,
            (Some(k), _) => Some(k),
            (None, None) => Some(8),
        };
        let theta = self
            .threshold
            .unwrap_or(if top_k.is_some() { 0.0 } else { 0.1 });
        GraphConfig {
            window_s: self.window_s,
            step_s: self.step_s,
            theta,
            top_k: top_k.map(|k| TopK {
                k,
                symmetrise: Symmetrise::Union,
            }),
            surrogate: None,
            history_node: true,
            features: match self.features {
                Features::Identity => FeatureKind::Identity,
                Features::Correlation => FeatureKind::AbsCorrelation,
            },
        }
    }
}

#[derive(clap::Args, Debug)]
struct TrainArgs {
    /// Phy folder, NWB file or binned .npy counts.
    #[arg(long)]
    data: PathBuf,
    /// Behaviour labels CSV (checked and summarised; never used to train).
    #[arg(long)]
    labels: Option<PathBuf>,
    /// Checkpoint to write (also CKPT.optim and CKPT.json).
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    graph: GraphArgs,
    #[command(flatten)]
    selection: Selection,
    /// Latent size per neuron.
    #[arg(long, default_value_t = 16)]
    latent: usize,
    /// Hidden state size per node.
    #[arg(long, default_value_t = 64)]
    hidden: usize,
    /// Attention window w (windows).
    #[arg(long, default_value_t = 4)]
    attention_window: usize,
    /// Epochs (each visits every window once); the total when resuming.
    #[arg(long, default_value_t = 200)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 5e-3)]
    lr: f64,
    /// Windows per training chunk (truncated backpropagation length).
    #[arg(long, default_value_t = 16)]
    chunk: usize,
    /// Chunks per minibatch.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Seed (weights, chunk order, posterior samples).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Train the VGRNN ablation (no temporal attention).
    #[arg(long)]
    no_attention: bool,
    /// CPU backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// Write a checkpoint every this many epochs (and at the end).
    #[arg(long, default_value_t = 25)]
    checkpoint_every: usize,
    /// Continue from the checkpoint at --out (same data and settings; --epochs may grow).
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args, Debug)]
struct EvalArgs {
    /// Checkpoint written by `tavrnn train`.
    #[arg(long)]
    model: PathBuf,
    /// The recording (the same units as in training).
    #[arg(long)]
    data: PathBuf,
    /// Behaviour labels CSV.
    #[arg(long)]
    labels: PathBuf,
    /// JSON report to write.
    #[arg(long)]
    report: PathBuf,
    /// Folder for the SVG figures.
    #[arg(long)]
    plots: Option<PathBuf>,
    /// A VGRNN checkpoint (`tavrnn train --no-attention`) for the baseline; without it a
    /// VGRNN is trained here with the TAVRNN checkpoint's settings, attention off.
    #[arg(long)]
    baseline_model: Option<PathBuf>,
    #[command(flatten)]
    selection: Selection,
    /// Outer cross-validation folds.
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// CPU backend.
    #[arg(long, value_enum, default_value_t = Backend::Flex)]
    backend: Backend,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

/// Runs `neuroloop tavrnn`.
pub fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Train(a) => train(a),
        Command::Eval(a) => eval(a),
    }
}

fn bar(quiet: bool, total: u64, prefix: String) -> Result<ProgressBar> {
    if quiet {
        return Ok(ProgressBar::hidden());
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps, {per_sec}, eta {eta} {msg}",
        )
        .context("progress bar template")?
        .progress_chars("=> "),
    );
    bar.set_prefix(prefix);
    Ok(bar)
}

/// Trains `trainer` up to its configured epochs; `after_epoch` runs after each one.
fn train_epochs(
    trainer: &mut Trainer,
    session: &Session,
    quiet: bool,
    name: &str,
    mut after_epoch: impl FnMut(&Trainer) -> Result<()>,
) -> Result<()> {
    let per_epoch = trainer.steps_per_epoch(&session.data) as u64;
    let total = per_epoch * trainer.cfg.epochs as u64;
    let pb = bar(quiet, total, name.to_string())?;
    pb.set_position(per_epoch * trainer.epochs_done as u64);
    while trainer.epochs_done < trainer.cfg.epochs {
        let epoch = trainer.epochs_done + 1;
        trainer.run_epoch(&session.data, &mut |p| {
            pb.inc(1);
            pb.set_message(format!(
                "epoch {epoch} loss {:.4} (bce {:.4} kl {:.3})",
                p.loss, p.bce, p.kl
            ));
        })?;
        after_epoch(trainer)?;
    }
    pb.finish_and_clear();
    Ok(())
}

/// Checks that the model's one-chain pass over the whole recording stays finite (chunked
/// training never sees long unrolls; the prototype once blew up there with a finite loss).
fn check_chain(trainer: &Trainer, session: &Session) -> Result<()> {
    embed(&trainer.inference_model(), &session.data)
        .check_finite()
        .map_err(|e| anyhow::anyhow!("training diverged after epoch {}: {e}", trainer.epochs_done))
}

fn summarise_labels(path: &Path, session: &Session) -> Result<()> {
    let labs = labels::read_csv(path)?;
    let wl = session.seq.labels(&labs);
    let mut counts = vec![0usize; labs.classes.len()];
    wl.iter().flatten().for_each(|&c| counts[c] += 1);
    let parts: Vec<String> = labs
        .classes
        .iter()
        .zip(&counts)
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    eprintln!(
        "labels (not used to train): windows inside one label: {}",
        parts.join(", ")
    );
    Ok(())
}

fn train(a: TrainArgs) -> Result<()> {
    let graph = a.graph.config();
    let bin_s = a.graph.bin_ms / 1000.0;
    let t0 = Instant::now();
    let session = Session::load(&a.data, &a.selection.load_options(bin_s)?, &graph)?;
    eprintln!(
        "{}: {} neurons, {} windows of {} s every {} s, {:.1} edges per window ({:.1} s)",
        a.data.display(),
        session.seq.n_units(),
        session.seq.len(),
        graph.window_s,
        graph.step_s,
        session.mean_edges(),
        t0.elapsed().as_secs_f64()
    );
    if let Some(l) = &a.labels {
        summarise_labels(l, &session)?;
    }
    let cfg = TrainConfig {
        hidden: a.hidden,
        latent: a.latent,
        attention: !a.no_attention,
        window: a.attention_window,
        chunk_len: a.chunk,
        batch: a.batch,
        epochs: a.epochs,
        lr: a.lr,
        seed: a.seed,
        backend: a.backend,
        ..TrainConfig::default()
    };
    let info = DataInfo {
        data: a.data.display().to_string(),
        bin_s,
        graph: graph.clone(),
        unit_ids: session.seq.unit_ids.clone(),
        windows: session.seq.len(),
    };
    let mut trainer = Trainer::new(&session.data, &cfg)?;
    if a.resume {
        checkpoint::restore(&a.out, &mut trainer, &info)?;
        eprintln!(
            "resuming {} at epoch {} of {}",
            a.out.display(),
            trainer.epochs_done,
            cfg.epochs
        );
    }
    let name = if cfg.attention { "tavrnn" } else { "vgrnn" };
    let every = a.checkpoint_every.max(1);
    train_epochs(&mut trainer, &session, a.quiet, name, |t| {
        if t.epochs_done % every == 0 || t.epochs_done == t.cfg.epochs {
            check_chain(t, &session)?;
            checkpoint::save(&a.out, t, &info)?;
        }
        Ok(())
    })?;
    let last = trainer.history.last();
    eprintln!(
        "{name}: {} epochs, {} steps in {:.1} s ({:.2} steps/s); final loss {:.4} (bce {:.4}, \
         kl {:.3}); wrote {} (+ .optim, .json)",
        trainer.epochs_done,
        trainer.history.len(),
        trainer.train_seconds,
        trainer.history.len() as f64 / trainer.train_seconds.max(1e-9),
        last.map_or(f32::NAN, |p| p.loss),
        last.map_or(f32::NAN, |p| p.bce),
        last.map_or(f32::NAN, |p| p.kl),
        a.out.display()
    );
    Ok(())
}

fn model_info(source: String, side: &checkpoint::Sidecar) -> ModelInfo {
    ModelInfo {
        source,
        epochs: side.epochs_done,
        steps: side.history.len(),
        train_seconds: side.train_seconds,
        final_loss: side.history.last().map(|p| p.loss),
    }
}

fn eval(a: EvalArgs) -> Result<()> {
    let t0 = Instant::now();
    let (side, model) = checkpoint::load_model(&a.model, a.backend)?;
    let mut opts = a.selection.load_options(side.bin_s)?;
    if opts.units.is_none() {
        opts.units = Some(side.unit_ids.clone());
    }
    let session = Session::load(&a.data, &opts, &side.graph)?;
    if session.seq.unit_ids != side.unit_ids {
        bail!(
            "{}: units {:?} differ from those the model was trained on ({:?}, {})",
            a.data.display(),
            session.seq.unit_ids,
            side.unit_ids,
            checkpoint::sidecar_path(&a.model).display()
        );
    }
    let labs = labels::read_csv(&a.labels)?;
    if !side.model.attention {
        eprintln!(
            "note: {} is a model without attention (VGRNN); it is scored as `tavrnn`",
            a.model.display()
        );
    }
    let tavrnn = ModelRun {
        model,
        history: side.history.clone(),
        info: model_info(a.model.display().to_string(), &side),
    };
    let vgrnn = match &a.baseline_model {
        Some(path) => {
            let (vside, vmodel) = checkpoint::load_model(path, a.backend)?;
            if vside.graph != side.graph
                || vside.bin_s != side.bin_s
                || vside.unit_ids != side.unit_ids
            {
                bail!(
                    "{}: the baseline model was trained on other graphs or units than {}",
                    path.display(),
                    a.model.display()
                );
            }
            if vside.model.attention {
                bail!(
                    "{}: the baseline model has attention; train it with --no-attention",
                    path.display()
                );
            }
            ModelRun {
                model: vmodel,
                history: vside.history.clone(),
                info: model_info(path.display().to_string(), &vside),
            }
        }
        None => {
            let cfg = TrainConfig {
                attention: false,
                backend: a.backend,
                ..side.train.clone()
            };
            let mut trainer = Trainer::new(&session.data, &cfg)?;
            train_epochs(&mut trainer, &session, a.quiet, "vgrnn (baseline)", |_| {
                Ok(())
            })?;
            ModelRun {
                model: trainer.inference_model(),
                history: trainer.history.clone(),
                info: ModelInfo {
                    source: "trained by eval: the TAVRNN checkpoint's settings and seed, \
                             attention off"
                        .into(),
                    epochs: trainer.epochs_done,
                    steps: trainer.history.len(),
                    train_seconds: trainer.train_seconds,
                    final_loss: trainer.history.last().map(|p| p.loss),
                },
            }
        }
    };
    let out = evaluate(
        &session,
        &labs,
        &tavrnn,
        &vgrnn,
        &EvalOptions {
            folds: a.folds,
            ..EvalOptions::default()
        },
    )?;
    let r = &out.report;
    let json = serde_json::to_vec_pretty(r).context("serialising the report")?;
    write_atomic(&a.report, &json)?;
    if let Some(dir) = &a.plots {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create the plots folder", dir.display()))?;
        plots::embeddings(
            &dir.join("embeddings.svg"),
            &out.tavrnn,
            &out.vgrnn,
            &out.labels,
            &r.classes,
        )?;
        plots::attention(
            &dir.join("attention.svg"),
            &out.tavrnn.attention,
            side.graph.window_s,
            side.graph.step_s,
        )?;
        plots::similarity(
            &dir.join("similarity.svg"),
            &out.tavrnn,
            &out.labels,
            &r.classes,
        )?;
        plots::training(
            &dir.join("training.svg"),
            &[("tavrnn", &tavrnn.history), ("vgrnn", &vgrnn.history)],
        )?;
    }
    let balance: Vec<String> = r
        .class_balance
        .iter()
        .map(|c| format!("{} {}", c.class, c.windows))
        .collect();
    println!(
        "{} windows scored of {} ({}); chance {:.3}; {} folds, purge gap {} windows",
        r.windows,
        r.windows_total,
        balance.join(", "),
        r.chance,
        r.folds.k,
        r.folds.purge_gap_windows
    );
    println!("method               accuracy  macro_f1   ari     nmi   silhouette");
    for (name, s) in [
        ("tavrnn", &r.tavrnn),
        ("tavrnn_mean_pool", &r.tavrnn_mean_pool),
        ("vgrnn", &r.baselines.vgrnn),
        ("vgrnn_mean_pool", &r.vgrnn_mean_pool),
        ("correlation", &r.baselines.correlation),
        ("pca", &r.baselines.pca),
    ] {
        println!(
            "{name:<20} {:>8.3} {:>9.3} {:>7.3} {:>7.3} {:>8.3}",
            s.accuracy, s.macro_f1, s.ari, s.nmi, s.silhouette
        );
    }
    eprintln!(
        "wrote {} in {:.1} s",
        a.report.display(),
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}
