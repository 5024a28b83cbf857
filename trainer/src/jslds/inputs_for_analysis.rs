//! Builds [`AnalysisInputs`] from a checkpoint: loads the model, linearises it at every
//! expansion point and rolls both paths out over the held-out bins.

use std::path::Path;

use anyhow::{bail, Result};

use super::analysis_inputs::AnalysisInputs;

/// Reads the checkpoint `ckpt` (written by `neuroloop jslds train`) and, with the session's
/// data (`data`, or the path recorded in the checkpoint when `None`), the held-out rollouts.
pub fn analysis_inputs(ckpt: &Path, data: Option<&Path>) -> Result<AnalysisInputs> {
    let _ = data;
    bail!(
        "{}: reading JSLDS checkpoints is not built yet",
        ckpt.display()
    )
}
