//! `neuroloop inspect` (placeholder until its issue lands).

/// Arguments of `neuroloop inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `neuroloop inspect`.
pub fn run(_args: Args) -> anyhow::Result<()> {
    anyhow::bail!("`neuroloop inspect` is not built yet")
}
