//! neuroloop-core's estimators on the host, over binned counts: the fixed-point one (what the
//! device runs, bit for bit) and the f32 reference, side by side. Calibration and replay both
//! go through here, so the f32 path used anywhere on the host is the core's.

use anyhow::{anyhow, bail, Result};
use neuroloop_core::format::{MAX_LATENT, MAX_NEURONS};
use neuroloop_core::{Estimator, Model, ReferenceEstimator, StepOutput};

use crate::data::Counts;

/// The fixed-point estimator at the largest capacities a model file may have.
pub type HostEstimator<'m> = Estimator<'m, MAX_LATENT, MAX_NEURONS>;
/// The f32 reference estimator at the largest capacities a model file may have.
pub type HostReference<'m> = ReferenceEstimator<'m, MAX_LATENT, MAX_NEURONS>;

/// One bin of a paired run.
pub struct Bin<'a, 'm> {
    /// Bin index.
    pub t: usize,
    /// The fixed-point estimator's output.
    pub fixed: StepOutput,
    /// Its latent state, state-scale LSBs.
    pub fixed_latent: &'a [i16],
    /// The reference's output and latent state (real units), if it runs.
    pub reference: Option<(StepOutput, &'a [f32])>,
    /// The estimators themselves, for readouts.
    pub fixed_est: &'a HostEstimator<'m>,
    /// The reference estimator, if it runs.
    pub reference_est: Option<&'a HostReference<'m>>,
}

/// A core error (`no_std`: `Display` only) as an `anyhow` error.
pub fn core_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

/// Checks that `counts` fits `model` (unit count).
pub fn check_counts(model: &Model<'_>, counts: &Counts) -> Result<()> {
    let n = model.meta().neurons as usize;
    if counts.n_units() != n {
        bail!(
            "the data has {} units, the model expects {n} neurons",
            counts.n_units()
        );
    }
    Ok(())
}

/// Runs the fixed-point estimator, and the reference when `with_reference`, from the reset
/// state over every bin of `counts`, calling `each` after every bin. Counts above `u16::MAX`
/// saturate (the input table saturates far below that anyway).
pub fn run_paired<'m>(
    model: &Model<'m>,
    counts: &Counts,
    with_reference: bool,
    mut each: impl FnMut(&Bin<'_, '_>),
) -> Result<()> {
    check_counts(model, counts)?;
    let mut fixed: Box<HostEstimator<'m>> = Box::new(Estimator::new(model).map_err(core_err)?);
    let mut reference: Option<Box<HostReference<'m>>> = if with_reference {
        Some(Box::new(ReferenceEstimator::new(model).map_err(core_err)?))
    } else {
        None
    };
    let mut row = vec![0u16; counts.n_units()];
    for t in 0..counts.n_bins {
        device_counts(counts.row(t), &mut row);
        let f = fixed.step(&row).map_err(core_err)?;
        let r = match reference.as_mut() {
            Some(r) => Some(r.step(&row).map_err(core_err)?),
            None => None,
        };
        each(&Bin {
            t,
            fixed: f,
            fixed_latent: fixed.latent(),
            reference: r.zip(reference.as_deref().map(|x| x.latent())),
            fixed_est: &fixed,
            reference_est: reference.as_deref(),
        });
    }
    Ok(())
}

/// Runs only the reference (calibration), calling `each(output, latent)` after every bin.
pub fn run_reference(
    model: &Model<'_>,
    counts: &Counts,
    mut each: impl FnMut(&StepOutput, &HostReference<'_>),
) -> Result<()> {
    check_counts(model, counts)?;
    let mut reference: Box<HostReference<'_>> =
        Box::new(ReferenceEstimator::new(model).map_err(core_err)?);
    let mut row = vec![0u16; counts.n_units()];
    for t in 0..counts.n_bins {
        device_counts(counts.row(t), &mut row);
        let out = reference.step(&row).map_err(core_err)?;
        each(&out, &reference);
    }
    Ok(())
}

/// One bin's counts as the device takes them: `u16`, saturating. (The core's input table
/// saturates far below 65,535 spikes a bin, so the clamp changes no output.)
pub fn device_counts(row: &[u32], out: &mut [u16]) {
    for (o, &c) in out.iter_mut().zip(row) {
        *o = c.min(u16::MAX as u32) as u16;
    }
}

/// The whole recording as the firmware's replay source embeds it (`NEUROLOOP_COUNTS` of
/// `scripts/firmware.sh`): `u16` little-endian, one row of `n_units` a bin, saturating as
/// [`device_counts`] does, so the device replays exactly the bins the host replayed.
pub fn device_stream(counts: &Counts) -> Vec<u8> {
    let mut row = vec![0u16; counts.n_units()];
    let mut out = Vec::with_capacity(2 * counts.data.len());
    for t in 0..counts.n_bins {
        device_counts(counts.row(t), &mut row);
        out.extend(row.iter().flat_map(|c| c.to_le_bytes()));
    }
    out
}
