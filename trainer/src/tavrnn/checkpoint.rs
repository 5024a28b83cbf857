//! Checkpoints: three files next to each other, each written atomically.
//!
//! * `CKPT` — the model's parameters, Burn's burnpack format (`Module::into_record`);
//! * `CKPT.optim` — Adam's state (burnpack), so that a resumed run continues exactly;
//! * `CKPT.json` — the [`Sidecar`]: graph settings, bin width, unit ids, model sizes, training
//!   settings, epochs done and the loss history. It is written last: it is what says which
//!   epoch the other two files hold.
//!
//! A checkpoint is written every `--checkpoint-every` epochs and at the end, so an
//! interrupted run resumes (`--resume`) from its last completed checkpoint.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use burn::module::Module;
use burn::store::ModuleRecord;
use burn::tensor::Bytes;
use serde::{Deserialize, Serialize};

use crate::export::write_atomic;
use crate::graph::GraphConfig;
use crate::tavrnn::backend::Backend;
use crate::tavrnn::model::{Tavrnn, TavrnnConfig};
use crate::tavrnn::train::{Progress, TrainConfig, Trainer};

/// Identifies the sidecar format.
pub const FORMAT: &str = "neuroloop-tavrnn-checkpoint";
/// Version of the sidecar format.
pub const VERSION: u32 = 1;

/// Everything about a checkpoint except its tensors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sidecar {
    /// [`FORMAT`].
    pub format: String,
    /// [`VERSION`].
    pub version: u32,
    /// The data trained on, as given.
    pub data: String,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// How the graphs were built.
    pub graph: GraphConfig,
    /// Unit ids in node order (node i is unit `unit_ids[i]`); eval reads the same units.
    pub unit_ids: Vec<u32>,
    /// Windows of the training sequence.
    pub windows: usize,
    /// Model sizes.
    pub model: TavrnnConfig,
    /// Training settings.
    pub train: TrainConfig,
    /// Epochs completed.
    pub epochs_done: usize,
    /// Seconds spent in optimiser steps.
    pub train_seconds: f64,
    /// One entry per optimiser step.
    pub history: Vec<Progress>,
}

/// Path of the optimiser state of checkpoint `ckpt`.
pub fn optim_path(ckpt: &Path) -> PathBuf {
    with_suffix(ckpt, ".optim")
}

/// Path of the sidecar of checkpoint `ckpt`.
pub fn sidecar_path(ckpt: &Path) -> PathBuf {
    with_suffix(ckpt, ".json")
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// What the sidecar says about the data, besides the trainer's own state.
#[derive(Clone, Debug)]
pub struct DataInfo {
    /// The data path as given.
    pub data: String,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Graph settings.
    pub graph: GraphConfig,
    /// Unit ids in node order.
    pub unit_ids: Vec<u32>,
    /// Windows in the sequence.
    pub windows: usize,
}

/// Writes the checkpoint of `trainer` to `ckpt` (+ `.optim`, `.json`).
pub fn save(ckpt: &Path, trainer: &Trainer, info: &DataInfo) -> Result<()> {
    let optim = trainer.optim.into_bytes().map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot serialise the optimiser state: {e:?}",
            ckpt.display()
        )
    })?;
    write_atomic(&optim_path(ckpt), &optim)?;
    let model = trainer
        .model()
        .clone()
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow::anyhow!("{}: cannot serialise the model: {e:?}", ckpt.display()))?;
    write_atomic(ckpt, &model)?;
    let sidecar = Sidecar {
        format: FORMAT.into(),
        version: VERSION,
        data: info.data.clone(),
        bin_s: info.bin_s,
        graph: info.graph.clone(),
        unit_ids: info.unit_ids.clone(),
        windows: info.windows,
        model: trainer.model_cfg.clone(),
        train: trainer.cfg.clone(),
        epochs_done: trainer.epochs_done,
        train_seconds: trainer.train_seconds,
        history: trainer.history.clone(),
    };
    let json = serde_json::to_vec_pretty(&sidecar).context("serialising the checkpoint sidecar")?;
    write_atomic(&sidecar_path(ckpt), &json)
}

/// Reads and checks the sidecar of `ckpt`.
pub fn read_sidecar(ckpt: &Path) -> Result<Sidecar> {
    let path = sidecar_path(ckpt);
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "{}: cannot read the checkpoint sidecar (written next to the model by `neuroloop \
             tavrnn train`)",
            path.display()
        )
    })?;
    let s: Sidecar = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not a TAVRNN checkpoint sidecar", path.display()))?;
    crate::sidecar::check_identity(&path, &s.format, s.version, FORMAT, VERSION)?;
    if s.model.n_nodes != s.unit_ids.len() + usize::from(s.graph.history_node) {
        bail!(
            "{}: field `model.n_nodes` is {} but there are {} unit ids",
            path.display(),
            s.model.n_nodes,
            s.unit_ids.len()
        );
    }
    Ok(s)
}

fn read_record(path: &Path) -> Result<ModuleRecord> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    ModuleRecord::from_bytes(Bytes::from_bytes_vec(bytes))
        .map_err(|e| anyhow::anyhow!("{}: not a burnpack model file: {e:?}", path.display()))
}

/// Loads a checkpoint's model for inference on `backend` (plain device).
pub fn load_model(ckpt: &Path, backend: Backend) -> Result<(Sidecar, Tavrnn)> {
    let side = read_sidecar(ckpt)?;
    let fresh = crate::burn_rng::init(None, || side.model.init(&backend.device()));
    let model = fresh.try_load_record(read_record(ckpt)?).map_err(|e| {
        anyhow::anyhow!(
            "{}: the parameters do not fit the sizes in its sidecar: {e:?}",
            ckpt.display()
        )
    })?;
    Ok((side, model))
}

/// Restores `trainer` (built for the same data and settings) from checkpoint `ckpt`.
pub fn restore(ckpt: &Path, trainer: &mut Trainer, info: &DataInfo) -> Result<()> {
    let side = read_sidecar(ckpt)?;
    let path = sidecar_path(ckpt);
    if side.graph != info.graph || side.bin_s != info.bin_s {
        bail!(
            "{}: the checkpoint's graphs were built with other settings (bin {} s, {:?}); \
             resume with the same --bin-ms/--window-s/--step-s/--threshold/--top-k/--features",
            path.display(),
            side.bin_s,
            side.graph
        );
    }
    if side.unit_ids != info.unit_ids {
        bail!(
            "{}: field `unit_ids` differs from the units of {}",
            path.display(),
            info.data
        );
    }
    let mut want = trainer.cfg.clone();
    want.epochs = side.train.epochs;
    if side.train != want {
        bail!(
            "{}: field `train` differs from the settings given (only --epochs may change on \
             resume): checkpoint {:?}",
            path.display(),
            side.train
        );
    }
    let model = trainer
        .fresh_model()
        .try_load_record(read_record(ckpt)?)
        .map_err(|e| anyhow::anyhow!("{}: cannot load the model: {e:?}", ckpt.display()))?;
    let optim = trainer.optim.clone().load(optim_path(ckpt)).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot load the optimiser state: {e:?}",
            optim_path(ckpt).display()
        )
    })?;
    trainer.restore(
        model,
        optim,
        side.epochs_done,
        side.history,
        side.train_seconds,
    );
    Ok(())
}
