//! The step logic, written once and shared by the fixed-point estimator and its f32
//! reference: both are [`StepCore`]s over a different [`Backend`]. Keeping a single copy is
//! what lets a disagreement between the two be blamed on quantisation, never on a
//! difference in the algorithm (regime order, tie breaking, hysteresis, saturation of counts).

use super::error::{StepError, StepOutput};
use super::hysteresis::Hysteresis;

/// The numeric half of the estimator: how inputs, selection scores, state updates and the
/// readout are computed. Implemented for `i16` (kernels, [`super::fixed`]) and `f32`
/// ([`super::reference`]).
pub(crate) trait Backend {
    /// Element of the state and input vectors.
    type Value: Copy + Default;

    /// Latent dimension `d`.
    fn latent(&self) -> usize;
    /// Neuron count `N`.
    fn neurons(&self) -> usize;
    /// Hysteresis `m`.
    fn hysteresis(&self) -> u16;
    /// Input transform of one count; counts above the table saturate to its last entry.
    fn input(&self, count: u16) -> Self::Value;
    /// `g[j] = input(counts[j])` over the common length (a backend may do it in one tight
    /// loop; the values must be those of [`Backend::input`]).
    fn inputs(&self, counts: &[u16], g: &mut [Self::Value]) {
        for (g, &c) in g.iter_mut().zip(counts) {
            *g = self.input(c);
        }
    }
    /// Regime for state `a`: the first lowest of the per-regime scores, via [`first_min`]
    /// (gate scores are negated, so "lowest" is right for both rules).
    fn select(&self, a: &[Self::Value]) -> usize;
    /// `out = A_k a + B_k g + b_k` (one entry per latent row).
    fn update(&self, k: usize, a: &[Self::Value], g: &[Self::Value], out: &mut [Self::Value]);
    /// `out[j] = (C a + c)_j` for every `j < out.len()`.
    fn readout(&self, a: &[Self::Value], out: &mut [Self::Value]);
}

/// Index of the first smallest score (ties: lowest index; NaN scores never win unless all
/// are NaN, then 0).
/// Both backends select through this, so their tie-breaking is the same by construction.
#[inline]
pub(crate) fn first_min<S: PartialOrd>(scores: impl Iterator<Item = S>) -> usize {
    let mut best: Option<S> = None;
    let mut best_k = 0;
    for (k, s) in scores.enumerate() {
        let better = match &best {
            None => true,
            // A NaN best (incomparable with itself) yields to any comparable score.
            Some(b) => s < *b || (b.partial_cmp(b).is_none() && s.partial_cmp(&s).is_some()),
        };
        if better {
            best = Some(s);
            best_k = k;
        }
    }
    best_k
}

/// `slice[..n]`, or the whole slice when shorter (capacities are checked at construction,
/// so the fallback is never taken; it exists so that no path can panic).
#[inline]
pub(crate) fn prefix<T>(s: &[T], n: usize) -> &[T] {
    s.get(..n).unwrap_or(s)
}

/// State and step logic over a backend; `D`, `N` are capacities.
#[derive(Debug, Clone)]
pub(crate) struct StepCore<B: Backend, const D: usize, const N: usize> {
    pub(crate) backend: B,
    /// The state `a_t` and the buffer the next step writes: `bufs[cur]` is the state.
    /// Flipping `cur` replaces swapping the two arrays (a copy of `2·D` values a step).
    bufs: [[B::Value; D]; 2],
    cur: bool,
    g: [B::Value; N],
    hyst: Hysteresis,
}

impl<B: Backend, const D: usize, const N: usize> StepCore<B, D, N> {
    /// A core in the reset state. The caller has checked `latent <= D`, `neurons <= N`.
    pub(crate) fn new(backend: B) -> Self {
        let mut core = StepCore {
            backend,
            bufs: [[B::Value::default(); D]; 2],
            cur: false,
            g: [B::Value::default(); N],
            hyst: Hysteresis::new(0),
        };
        core.reset();
        core
    }

    /// `a = 0`; the reported regime becomes the one selected from the zero state (which is
    /// the regime the first step will use, so the first step never reports a change).
    pub(crate) fn reset(&mut self) {
        self.bufs = [[B::Value::default(); D]; 2];
        self.cur = false;
        let k0 = self.select();
        self.hyst = Hysteresis::new(k0);
    }

    /// `k = select(a_{t-1})`; `K <= MAX_REGIMES = 64` by validation, so it fits a `u8`.
    fn select(&self) -> u8 {
        let k = self.backend.select(self.latent());
        k.min(u8::MAX as usize) as u8
    }

    /// One bin: input transform, regime selection from `a_{t-1}`, update, hysteresis.
    pub(crate) fn step(&mut self, counts: &[u16]) -> Result<StepOutput, StepError> {
        let n = self.backend.neurons();
        if counts.len() != n {
            return Err(StepError::CountLength {
                expected: n,
                got: counts.len(),
            });
        }
        self.backend.inputs(counts, &mut self.g);
        let k = self.select();
        let d = self.backend.latent();
        let [b0, b1] = &mut self.bufs;
        let (a, next) = if self.cur { (b1, b0) } else { (b0, b1) };
        let a = prefix(a, d);
        let g = prefix(&self.g, n);
        let next = match next.get_mut(..d) {
            Some(n) => n,
            None => next,
        };
        self.backend.update(k as usize, a, g, next);
        self.cur = !self.cur;
        let changed = self.hyst.update(k, self.backend.hysteresis());
        Ok(StepOutput {
            regime: k,
            reported: self.hyst.reported(),
            changed,
        })
    }

    /// The current state `a_t` (`d` entries).
    pub(crate) fn latent(&self) -> &[B::Value] {
        let [b0, b1] = &self.bufs;
        prefix(if self.cur { b1 } else { b0 }, self.backend.latent())
    }

    /// The currently reported regime.
    pub(crate) fn reported(&self) -> u8 {
        self.hyst.reported()
    }

    /// `C a + c` into `out[..N]`.
    pub(crate) fn log_rates<'o>(
        &self,
        out: &'o mut [B::Value],
    ) -> Result<&'o [B::Value], StepError> {
        let n = self.backend.neurons();
        let got = out.len();
        match out.get_mut(..n) {
            Some(o) => {
                self.backend.readout(self.latent(), o);
                Ok(o)
            }
            None => Err(StepError::OutputLength { expected: n, got }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::first_min;

    #[test]
    fn first_min_ties_and_nan() {
        assert_eq!(first_min([3i64, 1, 1, 2].into_iter()), 1);
        assert_eq!(first_min(core::iter::empty::<i64>()), 0);
        assert_eq!(first_min([2.0f32, f32::NAN, 1.0].into_iter()), 2);
        assert_eq!(first_min([f32::NAN, 1.0].into_iter()), 1);
        assert_eq!(first_min([-0.0f32, 0.0].into_iter()), 0);
    }
}
