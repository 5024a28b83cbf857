//! `neuroloop tavrnn`: train and evaluate the TAVRNN model.

use anyhow::{bail, Result};

/// Arguments of `neuroloop tavrnn`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `neuroloop tavrnn`.
pub fn run(_args: Args) -> Result<()> {
    bail!("neuroloop tavrnn is not built yet")
}
