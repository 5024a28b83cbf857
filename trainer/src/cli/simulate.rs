//! `neuroloop simulate` (placeholder until its issue lands).

/// Arguments of `neuroloop simulate`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `neuroloop simulate`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`neuroloop simulate` is not built yet")
}
