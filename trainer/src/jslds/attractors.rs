//! The GRU's attractors, and keeping a pinned expansion point on each of them.
//!
//! The fixed-point term holds a pinned point to whichever fixed point it is near, and dead-point
//! reseeding moves only points no bin selects; neither spreads the pinned points over the
//! attractors the GRU has. Measured on `flipflop` (256 neurons, 1800 s, seeds 1 and 5 of the
//! recommended command): iterating `h <- F(h, u*)` from the held-out states converged to all 8
//! corners (within 0.04-0.28 of the true ones, tolerance 0.5), while 7 of the 16 pinned points
//! sat at one corner and two or three corners had none (free points covered them instead).
//!
//! [`find`] runs the GRU at the input anchor from a batch of states until they come to rest
//! and groups the resting states; [`cover`] gives each attractor a pinned point, snapping the
//! nearest one onto it or moving a redundant one there. Both work in units of the states'
//! spread (RMS distance from their mean), so that they need no tuning to the latent scale.

use burn::tensor::{Tensor, TensorData};

use super::gru::GruCell;

/// Iterations of `h <- F(h, u*)` when covering attractors in training (every reseeding step,
/// on one batch of 1,024 states): enough for the corners of `flipflop`, where it adds about 16 %
/// to the training time at every 50 steps.
pub const TRAIN_ITERATIONS: usize = 200;
/// Iterations in the analysis, run once (40 s at 20 ms bins): a slow point that holds for the
/// few seconds of [`TRAIN_ITERATIONS`] but drifts off over tens of seconds does not count.
/// Measured on `flipflop` (seed 1, covering without snapping): 6 attractors after 200 steps,
/// 5 after 2000, while its pinned expansion points sat on all 8 corners.
pub const ANALYSIS_ITERATIONS: usize = 2000;
/// A state is at rest when its last step is below this fraction of the spread.
pub const REST_FRACTION: f32 = 1e-3;
/// Resting states within this fraction of the spread are one attractor.
pub const GROUP_FRACTION: f32 = 0.05;
/// A pinned point within this fraction of the spread of an attractor is moved onto it.
pub const SNAP_FRACTION: f32 = 0.25;
/// An attractor is covered when a pinned point lies within this fraction of the spread
/// (on `flipflop` the corners are about one spread apart, and the match tolerance of the
/// analysis, a quarter of the corner distance, is about a third of a spread).
pub const COVER_FRACTION: f32 = 0.1;
/// An attractor needs at least this share of the resting states (and two of them) to count.
pub const MIN_SHARE: f32 = 0.01;

/// One attractor: where the states came to rest, and how many did.
#[derive(Debug, Clone, PartialEq)]
pub struct Attractor {
    /// The mean resting state, `d` long.
    pub point: Vec<f32>,
    /// How many of the starting states came to rest here.
    pub basin: usize,
}

/// RMS distance of the rows of `states` (`n x d`, row-major) from their mean.
pub fn spread(states: &[f32], d: usize) -> f32 {
    let n = states.len() / d.max(1);
    if n == 0 {
        return 0.0;
    }
    let mut mean = vec![0.0f64; d];
    for row in states.chunks_exact(d) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += f64::from(x);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let ss: f64 = states
        .chunks_exact(d)
        .map(|row| {
            row.iter()
                .zip(&mean)
                .map(|(&x, m)| (f64::from(x) - m).powi(2))
                .sum::<f64>()
        })
        .sum();
    (ss / n as f64).sqrt() as f32
}

/// Runs `h <- F(h, u*)` from each row of `states` (`[n, d]`, plain backend) for `iterations`
/// steps; returns the final states (`n x d`) and each row's last step size.
pub fn iterate_to_rest(
    gru: &GruCell,
    anchor: Tensor<2>,
    states: Tensor<2>,
    iterations: usize,
) -> (Vec<f32>, Vec<f32>) {
    let gx = gru.input.forward(anchor);
    let mut h = states;
    let mut last = h.clone();
    for _ in 0..iterations {
        last = h.clone();
        h = gru.parts(gx.clone(), h).next;
    }
    let step = (h.clone() - last)
        .square()
        .sum_dim(1)
        .sqrt()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    (h.try_into_vec_as::<f32>().unwrap_or_default(), step)
}

/// Groups the resting rows of `finals` (`step` below `rest`) greedily: each ungrouped resting
/// state opens a group of every resting state within `radius` of it. Groups smaller than
/// [`MIN_SHARE`] of the resting states, or than two, are dropped. Largest basin first.
pub fn group(finals: &[f32], step: &[f32], d: usize, rest: f32, radius: f32) -> Vec<Attractor> {
    let resting: Vec<&[f32]> = finals
        .chunks_exact(d)
        .zip(step)
        .filter(|(_, &s)| s.is_finite() && s < rest)
        .map(|(row, _)| row)
        .collect();
    let min_basin = ((MIN_SHARE * resting.len() as f32).ceil() as usize).max(2);
    let mut taken = vec![false; resting.len()];
    let mut out = Vec::new();
    for i in 0..resting.len() {
        if taken[i] {
            continue;
        }
        let mut sum = vec![0.0f32; d];
        let mut basin = 0;
        for j in i..resting.len() {
            if !taken[j] && distance(resting[i], resting[j]) <= radius {
                taken[j] = true;
                basin += 1;
                sum.iter_mut().zip(resting[j]).for_each(|(s, &x)| *s += x);
            }
        }
        if basin >= min_basin {
            out.push(Attractor {
                point: sum.iter().map(|s| s / basin as f32).collect(),
                basin,
            });
        }
    }
    out.sort_by_key(|a| std::cmp::Reverse(a.basin));
    out
}

/// The attractors the GRU reaches at the input anchor within `iterations` steps from the rows
/// of `states` (`n x d`, row-major; a partial last row is ignored), largest basin first, and
/// the spread of `states` they were grouped at. The GRU runs on `anchor`'s device.
pub fn find(
    gru: &GruCell,
    anchor: Tensor<2>,
    states: &[f32],
    iterations: usize,
) -> (Vec<Attractor>, f32) {
    let d = gru.latent;
    let n = states.len() / d.max(1);
    let states = &states[..n * d];
    let s = spread(states, d);
    if n == 0 || !(s.is_finite() && s > 0.0) {
        return (Vec::new(), s);
    }
    let t = Tensor::<2>::from_data(TensorData::new(states.to_vec(), [n, d]), &anchor.device());
    let (finals, step) = iterate_to_rest(gru, anchor, t, iterations);
    (
        group(&finals, &step, d, REST_FRACTION * s, GROUP_FRACTION * s),
        s,
    )
}

/// Puts a pinned point (of the first `pinned` rows of `points`, `K x d`) on each attractor,
/// largest basin first:
/// * the nearest pinned point, when it lies within `snap` and has not been placed on another
///   attractor in this call, moves onto it (a point near an attractor but off it sits on a
///   slow manifold, where the fixed-point term holds it only loosely);
/// * else, when no pinned point lies within `radius`, the most redundant one (closest to another
///   pinned point) among those not placed in this call moves onto it, but only when it is closer
///   to its neighbour than the attractor is to its nearest pinned point, so that every such move
///   narrows the largest gap.
///
/// Returns `(point, attractor)` for each move.
pub fn cover(
    points: &mut [f32],
    d: usize,
    pinned: usize,
    attractors: &[Attractor],
    radius: f32,
    snap: f32,
) -> Vec<(usize, usize)> {
    let pinned = pinned.min(points.len() / d.max(1));
    let mut moved = vec![false; pinned];
    let mut moves = Vec::new();
    if pinned < 2 {
        return moves;
    }
    for (ai, a) in attractors.iter().enumerate() {
        let (nearest, gap) = (0..pinned)
            .map(|k| (k, distance(&points[k * d..(k + 1) * d], &a.point)))
            .fold((0, f32::INFINITY), |b, c| if c.1 < b.1 { c } else { b });
        if gap <= snap && !moved[nearest] {
            moved[nearest] = true;
            if gap > 0.0 {
                points[nearest * d..(nearest + 1) * d].copy_from_slice(&a.point);
                moves.push((nearest, ai));
            }
            continue;
        }
        if gap <= radius {
            continue;
        }
        let redundant = (0..pinned)
            .filter(|&k| !moved[k])
            .map(|k| {
                let nn = (0..pinned)
                    .filter(|&j| j != k)
                    .map(|j| distance(&points[k * d..(k + 1) * d], &points[j * d..(j + 1) * d]))
                    .fold(f32::INFINITY, f32::min);
                (k, nn)
            })
            .min_by(|x, y| x.1.total_cmp(&y.1));
        if let Some((k, nn)) = redundant {
            if nn < gap {
                points[k * d..(k + 1) * d].copy_from_slice(&a.point);
                moved[k] = true;
                moves.push((k, ai));
            }
        }
    }
    moves
}

fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// Runs [`find`] and [`cover`] on `points` (`K x d`, row-major) with the states of a batch
/// (`n x d`, row-major). Returns the number of points moved.
pub fn cover_from_states(
    gru: &GruCell,
    anchor: Tensor<2>,
    states: &[f32],
    points: &mut [f32],
    pinned: usize,
) -> usize {
    let (attractors, s) = find(gru, anchor, states, TRAIN_ITERATIONS);
    cover(
        points,
        gru.latent,
        pinned,
        &attractors,
        COVER_FRACTION * s,
        SNAP_FRACTION * s,
    )
    .len()
}

/// A GRU whose weights are zero except the candidate's input bias `b`: `r = z = 1/2`,
/// `n = tanh(b)`, so `F(h) = (tanh(b) + h) / 2` contracts to the single fixed point `tanh(b)`.
#[cfg(test)]
pub(crate) fn contracting_gru(n_in: usize, b: &[f32], device: &burn::tensor::Device) -> GruCell {
    use burn::module::Param;
    let d = b.len();
    let mut gru = GruCell::new(n_in, d, device);
    let zero = |p: Param<Tensor<2>>| p.map(|w| w.zeros_like());
    gru.input.weight = zero(gru.input.weight);
    gru.hidden.weight = zero(gru.hidden.weight);
    gru.hidden.bias = gru.hidden.bias.map(|p| p.map(|w| w.zeros_like()));
    let mut bias = vec![0.0; 3 * d];
    bias[2 * d..].copy_from_slice(b);
    let bias = Tensor::<1>::from_data(TensorData::new(bias, [3 * d]), device);
    gru.input.bias = gru.input.bias.map(|p| p.map(|_| bias));
    gru
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn att(point: &[f32], basin: usize) -> Attractor {
        Attractor {
            point: point.to_vec(),
            basin,
        }
    }

    #[test]
    fn spread_is_the_rms_distance_from_the_mean() {
        // Rows (0,0) and (2,0): mean (1,0), each 1 away.
        assert!((spread(&[0.0, 0.0, 2.0, 0.0], 2) - 1.0).abs() < 1e-6);
        assert_eq!(spread(&[], 2), 0.0);
    }

    #[test]
    fn group_merges_nearby_resting_states_and_drops_moving_and_rare_ones() {
        let d = 2;
        let mut finals = Vec::new();
        let mut step = Vec::new();
        for i in 0..50 {
            let e = i as f32 * 1e-4;
            finals.extend([1.0 + e, 0.0]);
            step.push(0.0);
            finals.extend([-1.0, e]);
            step.push(0.0);
        }
        // A moving state (not at rest) and a lone resting one: neither is an attractor.
        finals.extend([5.0, 5.0]);
        step.push(1.0);
        finals.extend([0.0, 3.0]);
        step.push(0.0);
        let a = group(&finals, &step, d, 1e-3, 0.1);
        assert_eq!(a.len(), 2, "{a:?}");
        assert_eq!(a[0].basin + a[1].basin, 100);
        let mut xs: Vec<f32> = a.iter().map(|a| a.point[0]).collect();
        xs.sort_by(f32::total_cmp);
        assert!((xs[0] + 1.0).abs() < 1e-2 && (xs[1] - 1.0).abs() < 1e-2);
    }

    #[test]
    fn cover_moves_the_most_redundant_pinned_point_onto_an_uncovered_attractor() {
        let d = 2;
        // Pinned: two at (1,0) (redundant), one at (-1,0); free: one at (0,1).
        let mut points = vec![1.0, 0.0, 1.01, 0.0, -1.0, 0.0, 0.0, 1.0];
        let attractors = [
            att(&[1.0, 0.0], 10),
            att(&[-1.0, 0.0], 9),
            att(&[0.0, -1.0], 5),
        ];
        let moves = cover(&mut points, d, 3, &attractors, 0.25, 0.0);
        assert_eq!(moves.len(), 1);
        let (k, a) = moves[0];
        assert_eq!(a, 2);
        assert!(k < 2, "moved the lone point {k}");
        assert_eq!(&points[k * d..(k + 1) * d], &[0.0, -1.0]);
        // The free point is never moved; the point kept at (1,0) still covers it.
        assert_eq!(&points[6..8], &[0.0, 1.0]);
        // Every attractor is now covered: a second call moves nothing.
        assert!(cover(&mut points, d, 3, &attractors, 0.25, 0.0).is_empty());
    }

    #[test]
    fn find_runs_the_gru_to_its_fixed_point_and_cover_puts_a_pinned_point_there() {
        let device = Device::flex();
        let b = [0.5f32, -1.0, 0.2];
        let gru = contracting_gru(2, &b, &device);
        let anchor = Tensor::<2>::zeros([1, 2], &device);
        // Start states scattered over [-1, 1]^3.
        let states: Vec<f32> = (0..40 * 3)
            .map(|i| ((i * 37 % 101) as f32 / 50.0) - 1.0)
            .collect();
        let (found, s) = find(&gru, anchor.clone(), &states, TRAIN_ITERATIONS);
        assert!(s > 0.1);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].basin, 40);
        for (x, bb) in found[0].point.iter().zip(b) {
            assert!((x - bb.tanh()).abs() < 1e-4, "{x} vs tanh({bb})");
        }
        // Pinned points 0 and 1 on top of each other, 2 elsewhere, 3 free: one of the pair
        // moves onto the fixed point.
        let mut points = vec![
            0.9, 0.9, 0.9, 0.9, 0.9, 0.91, -0.9, 0.9, -0.9, 0.0, 0.0, 0.0,
        ];
        assert_eq!(cover_from_states(&gru, anchor, &states, &mut points, 3), 1);
        let moved = (0..2)
            .find(|&k| (0..3).all(|i| (points[k * 3 + i] - b[i].tanh()).abs() < 1e-4))
            .expect("neither of the redundant pair moved to the fixed point");
        assert_eq!(&points[(1 - moved) * 3..(1 - moved) * 3 + 2], &[0.9, 0.9]);
        assert_eq!(&points[9..], &[0.0, 0.0, 0.0]);
    }

    #[test]
    fn cover_snaps_a_nearby_pinned_point_onto_its_attractor_once() {
        let d = 2;
        // Pinned 0 near attractor 0, pinned 1 near both (but nearer attractor 1).
        let mut points = vec![0.05, 0.0, 1.0, 0.04, 9.0, 9.0];
        let attractors = [att(&[0.0, 0.0], 10), att(&[1.0, 0.0], 5)];
        let moves = cover(&mut points, d, 2, &attractors, 0.01, 0.1);
        assert_eq!(moves, [(0, 0), (1, 1)]);
        assert_eq!(&points[..4], &[0.0, 0.0, 1.0, 0.0]);
        // The free point is left alone, and on the attractors nothing moves again.
        assert_eq!(&points[4..], &[9.0, 9.0]);
        assert!(cover(&mut points, d, 2, &attractors, 0.01, 0.1).is_empty());
        // One point near two attractors is placed on the larger basin's only.
        let mut one = vec![0.5, 0.0, 9.0, 9.0];
        let near_both = [att(&[0.45, 0.0], 10), att(&[0.55, 0.0], 5)];
        assert_eq!(cover(&mut one, d, 2, &near_both, 0.01, 0.1), [(0, 0)]);
        assert_eq!(&one[..2], &[0.45, 0.0]);
    }

    #[test]
    fn cover_leaves_points_that_are_each_alone_on_an_attractor() {
        let d = 1;
        let mut points = vec![-1.0, 1.0];
        let before = points.clone();
        // A third attractor at 0 is closer to both points (1) than they are to each other (2):
        // moving either would open a larger gap than it closes.
        let attractors = [att(&[-1.0], 3), att(&[1.0], 3), att(&[0.0], 3)];
        assert!(cover(&mut points, d, 2, &attractors, 0.1, 0.1).is_empty());
        assert_eq!(points, before);
        // With one pinned point there is nothing to give up.
        assert!(cover(&mut points, d, 1, &[att(&[5.0], 3)], 0.1, 0.1).is_empty());
    }
}
