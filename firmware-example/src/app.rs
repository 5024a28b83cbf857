//! The application loop: one count bin in, one estimator step, a GPIO edge when the reported
//! regime changes.

use embedded_hal::digital::OutputPin;
use neuroloop_core::{Estimator, StepError, StepOutput};

use crate::source::CountSource;

/// Wraps each estimator step, so the firmware can time it (SysTick) while host tests pass
/// [`NoMeter`].
pub trait StepMeter {
    /// Runs `step` and returns what it returned; measures it however the meter likes.
    fn measure<R>(&mut self, step: impl FnOnce() -> R) -> R;
}

/// A meter that measures nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMeter;

impl StepMeter for NoMeter {
    fn measure<R>(&mut self, step: impl FnOnce() -> R) -> R {
        step()
    }
}

/// Errors of the application loop, by origin.
#[derive(Debug)]
pub enum AppError<SE, PE> {
    /// The count source failed.
    Source(SE),
    /// The estimator rejected the bin.
    Step(StepError),
    /// Driving the trigger pin failed.
    Pin(PE),
    /// The source produces a different number of neurons than the model expects, or more
    /// than the capacity `N`.
    Neurons {
        model: usize,
        source: usize,
        capacity: usize,
    },
}

impl<SE: core::fmt::Debug, PE: core::fmt::Debug> core::fmt::Display for AppError<SE, PE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AppError::Source(e) => write!(f, "count source failed: {e:?}"),
            AppError::Step(e) => write!(f, "estimator step failed: {e}"),
            AppError::Pin(e) => write!(f, "trigger pin failed: {e:?}"),
            AppError::Neurons {
                model,
                source,
                capacity,
            } => write!(
                f,
                "the model has {model} neurons, the count source {source}, the firmware's \
                 capacity is {capacity}"
            ),
        }
    }
}

/// What one processed bin gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinOutcome {
    /// The estimator's output for the bin.
    pub output: StepOutput,
    /// Index of the bin (0-based).
    pub bin: u32,
}

/// The firmware's main loop state. `D` and `N` are the estimator capacities (latent, neurons).
///
/// The trigger pin is toggled on every change of the reported regime, so each change is one
/// edge on the wire (rising or falling): a stimulator or a DAQ's digital input latches it with
/// no pulse-width timing needed on this side.
pub struct App<'m, S, P, const D: usize, const N: usize> {
    estimator: Estimator<'m, D, N>,
    source: S,
    trigger: P,
    trigger_high: bool,
    counts: [u16; N],
    neurons: usize,
    bins: u32,
    changes: u32,
}

impl<'m, S, P, const D: usize, const N: usize> App<'m, S, P, D, N>
where
    S: CountSource,
    P: OutputPin,
{
    /// Checks that the source delivers `model_neurons` counts per bin (at most `N`) and drives
    /// the trigger low.
    pub fn new(
        estimator: Estimator<'m, D, N>,
        model_neurons: usize,
        source: S,
        mut trigger: P,
    ) -> Result<Self, AppError<S::Error, P::Error>> {
        let src = source.neurons();
        if src != model_neurons || src > N {
            return Err(AppError::Neurons {
                model: model_neurons,
                source: src,
                capacity: N,
            });
        }
        trigger.set_low().map_err(AppError::Pin)?;
        Ok(App {
            estimator,
            source,
            trigger,
            trigger_high: false,
            counts: [0; N],
            neurons: src,
            bins: 0,
            changes: 0,
        })
    }

    /// Reads the next bin, steps the estimator (inside `meter`), toggles the trigger if the
    /// reported regime changed. `Ok(None)` when the source has ended.
    pub fn run_bin<M: StepMeter>(
        &mut self,
        meter: &mut M,
    ) -> Result<Option<BinOutcome>, AppError<S::Error, P::Error>> {
        let counts = &mut self.counts[..self.neurons];
        if !self.source.next_bin(counts).map_err(AppError::Source)? {
            return Ok(None);
        }
        let estimator = &mut self.estimator;
        let output = meter
            .measure(|| estimator.step(counts))
            .map_err(AppError::Step)?;
        if output.changed {
            self.trigger_high = !self.trigger_high;
            if self.trigger_high {
                self.trigger.set_high().map_err(AppError::Pin)?;
            } else {
                self.trigger.set_low().map_err(AppError::Pin)?;
            }
            self.changes += 1;
        }
        let bin = self.bins;
        self.bins += 1;
        Ok(Some(BinOutcome { output, bin }))
    }

    /// The latent state after the last step.
    pub fn latent(&self) -> &[i16] {
        self.estimator.latent()
    }

    /// The counts of the last bin read.
    pub fn counts(&self) -> &[u16] {
        &self.counts[..self.neurons]
    }

    /// Bins processed so far.
    pub fn bins(&self) -> u32 {
        self.bins
    }

    /// Reported regime changes (trigger edges) so far.
    pub fn changes(&self) -> u32 {
        self.changes
    }

    /// Whether the trigger is currently driven high.
    pub fn trigger_high(&self) -> bool {
        self.trigger_high
    }

    /// Gives the parts back.
    pub fn release(self) -> (Estimator<'m, D, N>, S, P) {
        (self.estimator, self.source, self.trigger)
    }
}
