//! `neuroloop replay` (placeholder until its issue lands).

/// Arguments of `neuroloop replay`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `neuroloop replay`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`neuroloop replay` is not built yet")
}
