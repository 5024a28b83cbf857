//! Held-out evaluation: full rollouts of both paths over the held-out bins.
//!
//! The held-out bins are cut into `segments` contiguous pieces; both paths start from zero at
//! the first bin of each piece and run freely to its end. The relative error is
//! `||H - A||_F / ||H||_F` over every held-out bin; the Poisson NLL scores each path's
//! prediction of bin `t` from the state after bin `t - 1`.

use burn::tensor::Tensor;

use super::loss::MAX_LOG_RATE;
use super::model::Jslds;
use super::session::Session;

/// Both paths rolled out over the held-out bins (plain numbers).
#[derive(Debug, Clone)]
pub struct HeldOutRollout {
    /// Session bin of held-out bin 0.
    pub first_bin: usize,
    /// Pieces.
    pub segments: usize,
    /// Bins a piece.
    pub segment_len: usize,
    /// Latent size.
    pub latent: usize,
    /// GRU states `[bins, d]`.
    pub h: Vec<f32>,
    /// Linear-path states `[bins, d]`.
    pub a: Vec<f32>,
    /// Regime used for each bin.
    pub regime: Vec<u16>,
    /// Expected counts of each bin from the GRU path `[bins, N]`.
    pub rates: Vec<f32>,
    /// Expected counts of each bin from the linear path `[bins, N]`.
    pub rates_linear: Vec<f32>,
}

/// Summary of a held-out evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Eval {
    /// `||H - A||_F / ||H||_F`.
    pub relative_error: f32,
    /// Poisson NLL a bin (without `log y!`) of the GRU path.
    pub nll: f32,
    /// Same for the linear path.
    pub nll_linear: f32,
}

fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.try_into_vec_as::<f32>().unwrap_or_default()
}

/// Rolls `model` (on a plain device) out over bins `[from, session.bins)` in `segments`
/// pieces. `None` when a piece would hold fewer than 2 bins.
pub fn heldout_rollout(
    model: &Jslds,
    session: &Session,
    from: usize,
    segments: usize,
) -> Option<HeldOutRollout> {
    rollout_range(model, session, from..session.bins, segments)
}

/// [`heldout_rollout`] over the bins `range` (the validation split). `None` when the range
/// is not inside the session or a piece would hold fewer than 2 bins.
pub fn rollout_range(
    model: &Jslds,
    session: &Session,
    range: std::ops::Range<usize>,
    segments: usize,
) -> Option<HeldOutRollout> {
    let from = range.start;
    if range.end > session.bins {
        return None;
    }
    let total = range.end.checked_sub(from)?;
    let segments = segments.max(1);
    let len = total / segments;
    if len < 2 {
        return None;
    }
    let device = model.points.device();
    let d = model.latent();
    let n = session.neurons;
    let m = session.n_in;
    let mut u = Vec::with_capacity(segments * len * m);
    for s in 0..segments {
        let b = from + s * len;
        u.extend_from_slice(&session.inputs[b * m..(b + len) * m]);
    }
    let u = Tensor::<3>::from_data(
        burn::tensor::TensorData::new(u, [segments, len, m]),
        &device,
    );
    let zeros = Tensor::<2>::zeros([segments, d], &device);
    let roll = model.rollout(u, zeros.clone(), zeros);
    // Prediction of bin t from the state after bin t - 1 (from the zero state for t = 0).
    let shifted = |x: Tensor<3>| {
        let first = Tensor::<3>::zeros([segments, 1, d], &device);
        Tensor::cat(vec![first, x.narrow(1, 0, len - 1)], 1)
    };
    let rates = |x: Tensor<3>| to_vec(model.log_rates(shifted(x)).clamp_max(MAX_LOG_RATE).exp());
    Some(HeldOutRollout {
        first_bin: from,
        segments,
        segment_len: len,
        latent: d,
        rates: rates(roll.h.clone()),
        rates_linear: rates(roll.a.clone()),
        h: to_vec(roll.h),
        a: to_vec(roll.a),
        regime: roll
            .regime
            .try_into_vec_as::<i64>()
            .unwrap_or_default()
            .into_iter()
            .map(|k| k as u16)
            .collect(),
    })
    .filter(|r| r.rates.len() == segments * len * n)
}

impl HeldOutRollout {
    /// Number of bins.
    pub fn bins(&self) -> usize {
        self.segments * self.segment_len
    }

    /// Session bin of rollout bin `t`.
    pub fn session_bin(&self, t: usize) -> usize {
        self.first_bin + t
    }

    /// The summary against the session's counts.
    pub fn eval(&self, session: &Session) -> Eval {
        let (num, den) = squared_error(&self.h, &self.a);
        let n = session.neurons;
        let (mut nll, mut nll_lin) = (0f64, 0f64);
        for t in 0..self.bins() {
            let b = self.session_bin(t);
            for i in 0..n {
                let y = session.counts[b * n + i] as f64;
                let (l, ll) = (
                    self.rates[t * n + i] as f64,
                    self.rates_linear[t * n + i] as f64,
                );
                nll += l - y * l.max(1e-30).ln();
                nll_lin += ll - y * ll.max(1e-30).ln();
            }
        }
        let bins = self.bins().max(1) as f64;
        Eval {
            relative_error: (num.sqrt() / den.sqrt().max(1e-12)) as f32,
            nll: (nll / bins) as f32,
            nll_linear: (nll_lin / bins) as f32,
        }
    }
}

/// `(sum |h - a|^2, sum |h|^2)` over paired states, in f64: the two halves of a relative
/// error, which a rollout run in chunks adds up before taking the ratio.
fn squared_error(h: &[f32], a: &[f32]) -> (f64, f64) {
    h.iter().zip(a).fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + f64::from(x - y).powi(2), den + f64::from(*x).powi(2))
    })
}

/// Bins a [`continuous_relative_error`] rollout runs at a time (its states carry over): bounds
/// the tensors a step list holds without changing the result.
const CONTINUOUS_CHUNK: usize = 4096;

/// `||H - A||_F / ||H||_F` over the bins `[from, session.bins)` of **one** rollout of both
/// paths that starts from zero at the session's first bin and runs through every bin before
/// `from` (training and validation bins included) without a restart: the way a device runs
/// from power-on. The held-out [`heldout_rollout`] instead restarts both paths from zero at
/// each piece, which scores a start from the centre of the state space once a piece. `None`
/// when `from` leaves no bin or `H` is zero there.
pub fn continuous_relative_error(model: &Jslds, session: &Session, from: usize) -> Option<f64> {
    if from >= session.bins {
        return None;
    }
    let device = model.points.device();
    let d = model.latent();
    let m = session.n_in;
    let mut h = Tensor::<2>::zeros([1, d], &device);
    let mut a = Tensor::<2>::zeros([1, d], &device);
    let (mut num, mut den) = (0f64, 0f64);
    let mut start = 0;
    while start < session.bins {
        let len = CONTINUOUS_CHUNK.min(session.bins - start);
        let u = Tensor::<3>::from_data(
            burn::tensor::TensorData::new(
                session.inputs[start * m..(start + len) * m].to_vec(),
                [1, len, m],
            ),
            &device,
        );
        let roll = model.rollout(u, h, a);
        // Bins of this chunk at or after `from`.
        let skip = from.saturating_sub(start).min(len);
        if skip < len {
            let (n, d) = squared_error(
                &to_vec(roll.h.narrow(1, skip, len - skip)),
                &to_vec(roll.a.narrow(1, skip, len - skip)),
            );
            num += n;
            den += d;
        }
        h = roll.h_last.detach();
        a = roll.a_last.detach();
        start += len;
    }
    (den > 0.0).then(|| (num / den).sqrt())
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::jslds::model::JsldsConfig;
    use crate::jslds::tests::seeded;

    /// A random model with spread expansion points and a session of `bins` bins of
    /// pseudo-random inputs.
    fn system(bins: usize) -> (Jslds, Session) {
        let _guard = seeded();
        let device = Device::flex();
        device.seed(11);
        let (m, n, d, k) = (3, 5, 4, 6);
        let mut model = JsldsConfig {
            inputs: m,
            outputs: n,
            latent: d,
            regimes: k,
            learn_anchor: false,
            gate: false,
        }
        .init(&device);
        let pts = Tensor::<2>::random([k, d], Distribution::Normal(0.0, 0.5), &device);
        model.points = model.points.map(|_| pts);
        let mut s = 7u64;
        let inputs = (0..bins * m)
            .map(|_| {
                s = crate::graph::rng::mix64(s);
                (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
            })
            .collect();
        let session = Session {
            inputs,
            counts: vec![0.0; bins * n],
            n_in: m,
            neurons: n,
            bins,
        };
        (model, session)
    }

    /// The continuous score runs in chunks of [`CONTINUOUS_CHUNK`] bins; carrying both states
    /// across the chunks must give the error of one unbroken rollout (here the one-piece
    /// [`rollout_range`]), and it must differ from the held-out pieces' restarts.
    #[test]
    fn continuous_error_is_one_unbroken_rollout() {
        let bins = CONTINUOUS_CHUNK + 700;
        let (model, session) = system(bins);
        let from = CONTINUOUS_CHUNK - 300; // the scored bins straddle a chunk boundary
        let whole = rollout_range(&model, &session, 0..bins, 1).expect("one piece");
        let d = whole.latent;
        let (mut num, mut den) = (0f64, 0f64);
        for (h, a) in whole.h[from * d..].iter().zip(&whole.a[from * d..]) {
            num += f64::from(h - a).powi(2);
            den += f64::from(*h).powi(2);
        }
        let expected = (num / den).sqrt();
        let got = continuous_relative_error(&model, &session, from).expect("bins to score");
        assert!(expected > 1e-3, "the paths differ: {expected}");
        assert!(
            (got - expected).abs() < 1e-4 * expected.max(1.0),
            "chunked {got} vs unbroken {expected}"
        );
        let pieces = heldout_rollout(&model, &session, from, 4).expect("pieces");
        let restarted = pieces.eval(&session).relative_error as f64;
        assert!(
            (restarted - got).abs() > 1e-6,
            "restarts from zero give another score ({restarted})"
        );
        assert_eq!(continuous_relative_error(&model, &session, bins), None);
    }
}
