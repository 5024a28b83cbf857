//! Checkpoints: a folder with the model and Adam's state as Burn burnpack files and a JSON
//! sidecar with everything else (options, input transform, input units, the data it was
//! trained on, the step, the states the streams carry, the curves).
//!
//! ```text
//! CKPT/checkpoint.json       the sidecar (written last: it names the burnpack files it goes with)
//! CKPT/model-<step>.bpk      Module::save_file
//! CKPT/optim-<step>.bpk      ModuleOptimizer::save (Adam moments, keyed by ParamId)
//! CKPT/selected-<step>.bpk   with a validation split: the model of lowest validation error
//! CKPT/curves.json           the training curves alone, for figures
//! ```
//! `model-` and `optim-` are the state a resume continues from; the model that `analyze` and
//! `export` read ([`load`]) is `selected-` when the run has a validation split, else `model-`.
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
use super::train::{model_config, optimiser, RunState, Selected, Trainer};
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
    /// First validation bin (the training bins end there); absent in older checkpoints and
    /// equal to `heldout_start` without a validation split.
    #[serde(default)]
    pub validation_start: Option<usize>,
    /// The model chosen on the validation split, when the run has one and it has evaluated
    /// after the warm-up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selected: Option<SelectedFile>,
}

/// The burnpack file of the selected model and what it was selected on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectedFile {
    /// Burnpack file of the model, relative to the folder.
    pub file: String,
    /// Its step and validation error.
    #[serde(flatten)]
    pub selected: Selected,
}

impl Sidecar {
    /// End of the training bins: the validation split's start, or the held-out start.
    pub fn training_bins(&self) -> usize {
        self.validation_start.unwrap_or(self.heldout_start)
    }
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

/// Writes `trainer`'s state into the folder `dir` (created if needed), and its selected
/// model when that changed since the last write.
pub fn save(dir: &Path, trainer: &mut Trainer, data: &DataSource) -> Result<()> {
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
    let kept = previous.as_ref().and_then(|p| p.selected.clone());
    let selected = match &trainer.selected {
        None => None,
        Some((_, sel))
            if !trainer.selected_unsaved && kept.as_ref().is_some_and(|k| k.selected == *sel) =>
        {
            kept
        }
        Some((model, sel)) => {
            let file = format!("selected-{:07}.bpk", sel.step);
            model
                .clone()
                .save_file(tmp(&file))
                .map_err(|e| anyhow!("{}: writing the selected model: {e:?}", dir.display()))?;
            std::fs::rename(tmp(&file), dir.join(&file))
                .with_context(|| format!("{}: renaming the selected model", dir.display()))?;
            Some(SelectedFile {
                file,
                selected: *sel,
            })
        }
    };
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
        validation_start: Some(trainer.prep.validation_start),
        selected: selected.clone(),
    };
    write_atomic(&dir.join(SIDECAR), &serde_json::to_vec_pretty(&sidecar)?)?;
    trainer.selected_unsaved = false;
    write_atomic(
        &dir.join("curves.json"),
        &serde_json::to_vec_pretty(&trainer.curves)?,
    )?;
    if let Some(p) = previous {
        let keep = selected.map(|s| s.file);
        let old = [p.model_file, p.optim_file]
            .into_iter()
            .chain(p.selected.map(|s| s.file));
        for f in old {
            if f != model_file && f != optim_file && Some(&f) != keep.as_ref() {
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

/// Loads the burnpack `file` of `dir`, a model of step `step`.
fn load_model(
    dir: &Path,
    s: &Sidecar,
    device: &burn::tensor::Device,
    file: &str,
    step: usize,
) -> Result<Jslds> {
    let mut model = crate::burn_rng::init(None, || {
        model_config(&s.config, s.inputs.len(), s.neurons).init(device)
    });
    // `use_gate` is not a parameter: restore it from the options and the step.
    model.use_gate =
        s.config.selection == super::config::SelectionKind::Gate && step >= s.config.gate_after;
    let path = dir.join(file);
    let use_gate = model.use_gate;
    let mut model = model
        .try_load_file(&path)
        .map_err(|e| anyhow!("{}: cannot load the model: {e:?}", path.display()))?;
    model.use_gate = use_gate;
    Ok(model)
}

/// Loads the checkpoint folder `dir` for inference: its selected model when the run had a
/// validation split, else the model of the last step.
pub fn load(dir: &Path) -> Result<Loaded> {
    let sidecar = read_sidecar(dir)?;
    let (file, step) = match &sidecar.selected {
        Some(sel) => (sel.file.as_str(), sel.selected.step),
        None => (sidecar.model_file.as_str(), sidecar.run.step),
    };
    let model = load_model(dir, &sidecar, &sidecar.config.backend.device(), file, step)?;
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
    let model = load_model(dir, &s, &device, &s.model_file, s.run.step)?;
    let selected = match &s.selected {
        None => None,
        Some(sel) => Some((
            load_model(dir, &s, &device, &sel.file, sel.selected.step)?,
            sel.selected,
        )),
    };
    let path = dir.join(&s.optim_file);
    let optim = optimiser(&s.config)
        .load(&path)
        .map_err(|e| anyhow!("{}: cannot load the optimiser state: {e:?}", path.display()))?;
    let mut cfg = s.config.clone();
    cfg.steps = steps;
    Trainer::restore(
        counts,
        neurons,
        &cfg,
        s.transform,
        model,
        optim,
        s.run,
        selected,
    )
    .map_err(|e| anyhow!("{}: {e}", dir.display()))
}

/// Reads only the training curves of a checkpoint.
pub fn curves(dir: &Path) -> Result<TrainingCurves> {
    Ok(read_sidecar(dir)?.run.curves)
}
