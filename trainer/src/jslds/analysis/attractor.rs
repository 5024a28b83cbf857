//! The GRU's own attractors beside the expansion points.
//!
//! The regimes report where the JSLDS put its expansion points; the attractors say where the
//! GRU actually comes to rest at the input anchor (found when the inputs were built, see
//! [`crate::jslds::attractors`]). An attractor with no pinned expansion point near it is a
//! stable state the switching linear system has no fixed point for.

use serde::Serialize;

use super::mat::distance;
use super::regime::RegimeReport;
use crate::jslds::analysis_inputs::AttractorInput;

/// One entry of the report's `attractors` list (keys documented in the README).
#[derive(Debug, Clone, Serialize)]
pub struct AttractorReport {
    /// Where the GRU comes to rest, in the model's latent space.
    pub point: Vec<f64>,
    /// Fraction of the held-out starting states that come to rest here.
    pub basin_share: f64,
    /// The pinned regime whose expansion point is nearest (`null` without pinned regimes).
    pub nearest_pinned_regime: Option<usize>,
    /// Its distance from the attractor, latent units.
    pub distance: Option<f64>,
}

/// Pairs each attractor with its nearest pinned expansion point.
pub fn attractor_reports(
    attractors: &[AttractorInput],
    regimes: &[RegimeReport],
) -> Vec<AttractorReport> {
    attractors
        .iter()
        .map(|a| {
            let nearest = regimes
                .iter()
                .filter(|r| r.pinned)
                .map(|r| (r.regime, distance(&r.expansion_point, &a.point)))
                .min_by(|x, y| x.1.total_cmp(&y.1));
            AttractorReport {
                point: a.point.clone(),
                basin_share: a.basin_share,
                nearest_pinned_regime: nearest.map(|n| n.0),
                distance: nearest.map(|n| n.1),
            }
        })
        .collect()
}
