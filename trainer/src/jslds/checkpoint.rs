//! Checkpoints: a folder with the model and Adam's state as Burn burnpack files and a JSON
//! sidecar with everything else (options, input transform, input units, the data it was
//! trained on, the step, the states the streams carry, the curves).
//!
//! ```text
//! CKPT/checkpoint.json       the sidecar (written last: it names the burnpack files it goes with)
//! CKPT/model-<step>.bpk      Module::save_file
//! CKPT/optim-<step>.bpk      ModuleOptimizer::save (Adam moments, keyed by ParamId)
//! CKPT/curves.json           the training curves alone, for figures
//! ```
//! Burnpack keeps each parameter's ParamId, so Adam's state re-attaches on load and a resumed
//! run continues exactly where it stopped. Every file is written to a temporary name and
//! renamed; the burnpack files of older steps are removed after the sidecar moved on.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use burn::module::Module;
use serde::{Deserialize, Serialize};

use super::analysis_inputs::TrainingCurves;
use super::config::TrainConfig;
use super::input::InputTransform;
use super::model::Jslds;
use super::train::{model_config, optimiser, RunState, Trainer};
use crate::export::write_atomic;

/// Sidecar format name.
pub const FORMAT: &str = "neuroloop-jslds-checkpoint";
/// Sidecar layout version.
pub const VERSION: u32 = 1;
/// Sidecar file name inside the checkpoint folder.
pub const SIDECAR: &str = "checkpoint.json";

/// Where the training data came from, so that `analyze` and `--resume` can read it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSource {
    /// The `--data` path (absolute when it could be made so).
    pub path: PathBuf,
    /// Phy `good` units only.
    pub good_only: bool,
    /// Unit ids selected, in order (`None`: all).
    pub units: Option<Vec<u32>>,
    /// Time range read, seconds.
    pub range_s: Option<(f64, f64)>,
    /// Unit ids of the columns actually trained on.
    pub unit_ids: Vec<u32>,
    /// Bins read.
    pub bins: usize,
}

/// The JSON sidecar.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The data trained on.
    pub data: DataSource,
    /// Neurons (readout width).
    pub neurons: usize,
    /// Options.
    pub config: TrainConfig,
    /// Input transform fitted on the training bins.
    pub transform: InputTransform,
    /// Columns of the input neurons.
    pub inputs: Vec<usize>,
    /// First held-out bin.
    pub heldout_start: usize,
    /// Burnpack file of the model, relative to the folder.
    pub model_file: String,
    /// Burnpack file of Adam's state, relative to the folder.
    pub optim_file: String,
    /// Step, carried states, curves.
    pub run: RunState,
}

fn read_sidecar(dir: &Path) -> Result<Sidecar> {
    let path = dir.join(SIDECAR);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "{}: cannot read the checkpoint sidecar (is {} a folder written by `neuroloop jslds train`?)",
            path.display(),
            dir.display()
        )
    })?;
    let s: Sidecar = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSLDS checkpoint sidecar", path.display()))?;
    crate::sidecar::check_identity(&path, &s.format, s.version, FORMAT, VERSION)?;
    Ok(s)
}

/// Writes `trainer`'s state into the folder `dir` (created if needed).
pub fn save(dir: &Path, trainer: &Trainer, data: &DataSource) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the checkpoint folder", dir.display()))?;
    let step = trainer.step;
    let model_file = format!("model-{step:07}.bpk");
    let optim_file = format!("optim-{step:07}.bpk");
    let tmp = |name: &str| dir.join(format!(".{name}.tmp"));
    trainer
        .model
        .clone()
        .save_file(tmp(&model_file))
        .map_err(|e| anyhow!("{}: writing the model: {e:?}", dir.display()))?;
    std::fs::rename(tmp(&model_file), dir.join(&model_file))
        .with_context(|| format!("{}: renaming the model file", dir.display()))?;
    trainer
        .optim
        .save(tmp(&optim_file))
        .map_err(|e| anyhow!("{}: writing the optimiser state: {e:?}", dir.display()))?;
    std::fs::rename(tmp(&optim_file), dir.join(&optim_file))
        .with_context(|| format!("{}: renaming the optimiser file", dir.display()))?;
    let previous = read_sidecar(dir).ok();
    let sidecar = Sidecar {
        format: FORMAT.into(),
        version: VERSION,
        data: data.clone(),
        neurons: trainer.prep.session.neurons,
        config: trainer.cfg.clone(),
        transform: trainer.prep.transform.clone(),
        inputs: trainer.prep.inputs.clone(),
        heldout_start: trainer.prep.heldout_start,
        model_file: model_file.clone(),
        optim_file: optim_file.clone(),
        run: trainer.run_state(),
    };
    write_atomic(&dir.join(SIDECAR), &serde_json::to_vec_pretty(&sidecar)?)?;
    write_atomic(
        &dir.join("curves.json"),
        &serde_json::to_vec_pretty(&trainer.curves)?,
    )?;
    if let Some(p) = previous {
        for f in [p.model_file, p.optim_file] {
            if f != model_file && f != optim_file {
                let _ = std::fs::remove_file(dir.join(f));
            }
        }
    }
    Ok(())
}

/// A checkpoint loaded for inference: the sidecar and the model on the plain device of its
/// backend.
pub struct Loaded {
    /// The sidecar.
    pub sidecar: Sidecar,
    /// The model (plain device).
    pub model: Jslds,
}

fn load_model(dir: &Path, s: &Sidecar, device: &burn::tensor::Device) -> Result<Jslds> {
    let mut model = crate::burn_rng::init(None, || {
        model_config(&s.config, s.inputs.len(), s.neurons).init(device)
    });
    // `use_gate` is not a parameter: restore it from the options and the step.
    model.use_gate = s.config.selection == super::config::SelectionKind::Gate
        && s.run.step >= s.config.gate_after;
    let path = dir.join(&s.model_file);
    let use_gate = model.use_gate;
    let mut model = model
        .try_load_file(&path)
        .map_err(|e| anyhow!("{}: cannot load the model: {e:?}", path.display()))?;
    model.use_gate = use_gate;
    Ok(model)
}

/// Loads the checkpoint folder `dir` for inference.
pub fn load(dir: &Path) -> Result<Loaded> {
    let sidecar = read_sidecar(dir)?;
    let model = load_model(dir, &sidecar, &sidecar.config.backend.device())?;
    Ok(Loaded { sidecar, model })
}

/// Restores a [`Trainer`] from `dir` on `counts` (which must be the data it was trained on:
/// same shape). `steps` replaces the configured number of steps.
pub fn resume(dir: &Path, counts: &[u32], neurons: usize, steps: usize) -> Result<Trainer> {
    let s = read_sidecar(dir)?;
    if neurons != s.neurons || counts.len() / neurons.max(1) != s.data.bins {
        bail!(
            "{}: the checkpoint was trained on {} bins of {} neurons, the data has {} bins of {}",
            dir.display(),
            s.data.bins,
            s.neurons,
            counts.len() / neurons.max(1),
            neurons
        );
    }
    let device = s.config.backend.device().autodiff();
    let model = load_model(dir, &s, &device)?;
    let path = dir.join(&s.optim_file);
    let optim = optimiser(&s.config)
        .load(&path)
        .map_err(|e| anyhow!("{}: cannot load the optimiser state: {e:?}", path.display()))?;
    let mut cfg = s.config.clone();
    cfg.steps = steps;
    Trainer::restore(counts, neurons, &cfg, s.transform, model, optim, s.run)
        .map_err(|e| anyhow!("{}: {e}", dir.display()))
}

/// Reads only the training curves of a checkpoint.
pub fn curves(dir: &Path) -> Result<TrainingCurves> {
    Ok(read_sidecar(dir)?.run.curves)
}
