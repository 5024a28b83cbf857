//! Do the expansion points lie on a ring? A ring attractor (the `ring-theta` scenario's
//! position code) should be tiled by expansion points at a common distance from a centre and
//! all the way round it. Measured in a plane (the true ring plane after the affine map, or
//! the top two principal components of the points):
//!
//! * `radius_cv`: coefficient of variation (sd / mean) of the distances to the centre — 0 on
//!   a perfect circle, about 0.5 or more for points filling a disc;
//! * `angular_coverage`: `1 - largest angular gap / 2 pi` — `1 - 1/n` for `n` evenly spaced
//!   points, small when they cluster on one side;
//! * `sectors_occupied`: of 8 equal angular sectors, how many hold a point.

use serde::Serialize;

use super::mat::Mat;
use super::pca::Pca;

/// Angular sectors counted by `sectors_occupied`.
pub const SECTORS: usize = 8;

/// The ring measure of a set of 2-D points.
#[derive(Debug, Clone, Serialize)]
pub struct RingMeasure {
    /// Which plane: `"truth ring plane (affine map)"` or `"top-2 principal components"`.
    pub plane: String,
    /// Points measured (the occupied regimes' expansion points).
    pub points: usize,
    /// Centre used (the true ring centre, or the centroid of the points).
    pub centre: [f64; 2],
    /// Mean distance to the centre.
    pub radius_mean: f64,
    /// sd / mean of the distances to the centre.
    pub radius_cv: f64,
    /// `1 - largest angular gap / 2 pi`.
    pub angular_coverage: f64,
    /// Of [`SECTORS`] equal sectors, the number holding a point.
    pub sectors_occupied: usize,
}

/// Measures `points` (2-D) about `centre`, or about their centroid when `None`.
pub fn ring_measure(points: &[[f64; 2]], centre: Option<[f64; 2]>, plane: &str) -> RingMeasure {
    let n = points.len();
    let centre = centre.unwrap_or_else(|| {
        let m = n.max(1) as f64;
        [
            points.iter().map(|p| p[0]).sum::<f64>() / m,
            points.iter().map(|p| p[1]).sum::<f64>() / m,
        ]
    });
    let radii: Vec<f64> = points
        .iter()
        .map(|p| (p[0] - centre[0]).hypot(p[1] - centre[1]))
        .collect();
    let mean = radii.iter().sum::<f64>() / n.max(1) as f64;
    let var = radii.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
    let tau = std::f64::consts::TAU;
    let mut angles: Vec<f64> = points
        .iter()
        .map(|p| (p[1] - centre[1]).atan2(p[0] - centre[0]).rem_euclid(tau))
        .collect();
    angles.sort_by(f64::total_cmp);
    let max_gap = match angles.len() {
        0 => tau,
        len => {
            let wrap = angles[0] + tau - angles[len - 1];
            angles.windows(2).map(|w| w[1] - w[0]).fold(wrap, f64::max)
        }
    };
    let mut occupied = [false; SECTORS];
    for a in &angles {
        occupied[((a / tau * SECTORS as f64) as usize).min(SECTORS - 1)] = true;
    }
    RingMeasure {
        plane: plane.to_string(),
        points: n,
        centre,
        radius_mean: mean,
        radius_cv: if mean > 0.0 { var.sqrt() / mean } else { 0.0 },
        angular_coverage: 1.0 - max_gap / tau,
        sectors_occupied: occupied.iter().filter(|&&o| o).count(),
    }
}

/// The ring measure of `points` (rows, any dimension) in their own top two principal
/// components, about their centroid. `None` with fewer than 3 points.
pub fn ring_in_pcs(points: &Mat) -> Option<RingMeasure> {
    if points.rows < 3 || points.cols < 2 {
        return None;
    }
    let pca = Pca::fit(points, 2);
    let plane: Vec<[f64; 2]> = (0..points.rows)
        .map(|i| {
            let p = pca.project(points.row(i));
            [p[0], p[1]]
        })
        .collect();
    Some(ring_measure(&plane, None, "top-2 principal components"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evenly_spaced_circle_is_a_ring() {
        let pts: Vec<[f64; 2]> = (0..16)
            .map(|i| {
                let a = i as f64 / 16.0 * std::f64::consts::TAU;
                [0.5 + 2.0 * a.cos(), -0.3 + 2.0 * a.sin()]
            })
            .collect();
        let r = ring_measure(&pts, Some([0.5, -0.3]), "t");
        assert!((r.radius_mean - 2.0).abs() < 1e-12);
        assert!(r.radius_cv < 1e-12);
        assert!((r.angular_coverage - 15.0 / 16.0).abs() < 1e-12);
        assert_eq!(r.sectors_occupied, 8);
        // Same about the centroid, and embedded in 5-D through an offset plane.
        let c = ring_measure(&pts, None, "t");
        assert!(c.radius_cv < 1e-12 && (c.centre[0] - 0.5).abs() < 1e-12);
        let rows: Vec<f64> = pts
            .iter()
            .flat_map(|p| [p[0], 1.0, p[1], p[0] + p[1], 3.0])
            .collect();
        let m = Mat::from_vec(16, 5, rows).unwrap();
        let r = ring_in_pcs(&m).unwrap();
        // The embedding (x, y, x + y) is not an isometry: an ellipse, still all round.
        assert!(r.angular_coverage > 0.8 && r.sectors_occupied == 8, "{r:?}");
    }

    #[test]
    fn a_clump_and_a_disc_are_not_rings() {
        let clump: Vec<[f64; 2]> = (0..10)
            .map(|i| {
                let a = i as f64 * 0.05;
                [a.cos(), a.sin()]
            })
            .collect();
        let r = ring_measure(&clump, Some([0.0, 0.0]), "t");
        assert!(r.angular_coverage < 0.1 && r.sectors_occupied == 1, "{r:?}");
        // A filled disc: radii spread from 0.1 to 1.
        let disc: Vec<[f64; 2]> = (0..40)
            .map(|i| {
                let a = i as f64 * 2.399963; // golden angle
                let rad = 0.1 + 0.9 * (i as f64 / 39.0);
                [rad * a.cos(), rad * a.sin()]
            })
            .collect();
        let r = ring_measure(&disc, Some([0.0, 0.0]), "t");
        assert!(r.radius_cv > 0.4, "{r:?}");
        assert!(ring_in_pcs(&Mat::zeros(2, 3)).is_none());
    }
}
