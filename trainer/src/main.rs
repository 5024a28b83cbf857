//! The `neuroloop` command line.
use clap::{Parser, Subcommand};
use neuroloop_trainer::cli;

/// neuroloop: learn how a neural population's dynamics and connectivity change with
/// behaviour, and run what was learned on a microcontroller.
#[derive(Parser)]
#[command(name = "neuroloop", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole loop on simulated data: simulate, quantise, replay on the core, score.
    Demo(cli::demo::Args),
    /// Write a simulated session with known ground truth (Phy folder, behavior.csv, truth.json).
    Simulate(cli::simulate::Args),
    /// Train (`jslds train`) and analyse (`jslds analyze`) the JSLDS state estimator.
    Jslds(cli::jslds::Args),
    /// Train (`tavrnn train`) and evaluate (`tavrnn eval`) the TAVRNN connectivity model.
    Tavrnn(cli::tavrnn::Args),
    /// Quantise models to fixed point and write a model file (.nlm).
    Export(cli::export::Args),
    /// Show what a model file holds: header, sections, dimensions, sizes, device RAM.
    Inspect(cli::inspect::Args),
    /// Run neuroloop-core on the host over a recording and report its outputs.
    Replay(cli::replay::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(a) => cli::demo::run(a),
        Command::Simulate(a) => cli::simulate::run(a),
        Command::Jslds(a) => cli::jslds::run(a),
        Command::Tavrnn(a) => cli::tavrnn::run(a),
        Command::Export(a) => cli::export::run(a),
        Command::Inspect(a) => cli::inspect::run(a),
        Command::Replay(a) => cli::replay::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("neuroloop: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
