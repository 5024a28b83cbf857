//! `neuroloop export` (placeholder until its issue lands).

/// Arguments of `neuroloop export`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `neuroloop export`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`neuroloop export` is not built yet")
}
