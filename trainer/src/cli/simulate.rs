//! `neuroloop simulate`: write a simulated session with known ground truth.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::simulate::{self, Options, Scenario};

/// Arguments of `neuroloop simulate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Scenario to simulate.
    #[arg(value_enum)]
    pub scenario: Scenario,
    /// Output folder: receives phy/, behavior.csv, truth.json and the scenario's extra files.
    #[arg(long)]
    pub out: PathBuf,
    /// Seed; the same seed gives the same session.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Number of neurons (default 64).
    #[arg(long)]
    pub neurons: Option<usize>,
    /// Session length in seconds (default: 300, ring-theta 120, connectivity 600).
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Bin width in milliseconds of the per-bin truth (default 10).
    #[arg(long)]
    pub bin_ms: Option<f64>,
    /// Do not show a progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs `neuroloop simulate`.
pub fn run(args: Args) -> anyhow::Result<()> {
    let opts = Options {
        seed: args.seed,
        neurons: args.neurons,
        duration_s: args.duration_s,
        bin_ms: args.bin_ms,
    };
    let started = Instant::now();
    let progress = if args.quiet {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3}% bins, eta {eta}")
                .context("progress bar template")?
                .progress_chars("=> "),
        );
        bar.set_prefix(format!("simulate {}", args.scenario));
        bar
    };
    let session = simulate::simulate(args.scenario, &opts, &progress)?;
    progress.finish_and_clear();
    simulate::write_session(&session, &args.out)?;
    let t = &session.truth;
    let mean_rate = t.mean_rate_hz.iter().sum::<f64>() / t.neurons as f64;
    println!(
        "{}: {} neurons, {} s, {} spikes (mean {:.1} Hz), {} bins of {} ms, {} segments -> {} ({:.2} s)",
        t.scenario,
        t.neurons,
        t.duration_s,
        session.n_spikes(),
        mean_rate,
        t.n_bins,
        t.bin_s * 1000.0,
        t.segments.len(),
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
