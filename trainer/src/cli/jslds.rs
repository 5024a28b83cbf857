//! `neuroloop jslds`: train and evaluate the JSLDS model.

use anyhow::{bail, Result};

/// Arguments of `neuroloop jslds`.
#[derive(clap::Args, Debug)]
pub struct Args {}

/// Runs `neuroloop jslds`.
pub fn run(_args: Args) -> Result<()> {
    bail!("neuroloop jslds is not built yet")
}
