//! The application loop: one count bin in, one estimator step, a GPIO edge when the reported
//! regime changes; with a TAVRNN section, the bin also goes into the window's graph encoder
//! and each window end runs one TAVRNN step, a GPIO edge when the behaviour class changes.

use embedded_hal::digital::{Error as _, ErrorKind, ErrorType, OutputPin};
use neuroloop_core::{Estimator, StepError, StepOutput};

use crate::source::CountSource;
use crate::windows::{WindowError, WindowLoop, WindowOutcome};

/// What a meter is timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// One estimator step (every bin).
    Estimator,
    /// The graph encoder's per-bin update of the running sums.
    GraphBin,
    /// The graph encoder's window end: correlation in place and graph.
    GraphWindow,
    /// One TAVRNN step with the classifier (every window).
    Tavrnn,
}

/// Wraps each step, so the firmware can time it (SysTick) while host tests pass [`NoMeter`].
pub trait StepMeter {
    /// Runs `step` (a piece of `work`) and returns what it returned; measures it however the
    /// meter likes.
    fn measure<R>(&mut self, work: Work, step: impl FnOnce() -> R) -> R;
}

/// A meter that measures nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoMeter;

impl StepMeter for NoMeter {
    fn measure<R>(&mut self, _work: Work, step: impl FnOnce() -> R) -> R {
        step()
    }
}

/// The window half of the loop, as the application drives it: [`WindowLoop`] (which borrows
/// its RAM from where the firmware puts it), or [`NoWindows`] for a model without a TAVRNN
/// section.
pub trait Windows<const N: usize> {
    /// Adds one bin; `Some` at a window end.
    fn push_bin<M: StepMeter>(
        &mut self,
        counts: &[u16; N],
        meter: &mut M,
    ) -> Result<Option<WindowOutcome>, WindowError>;
}

impl<const N: usize, const T: usize, const RING: usize, const KEYS: usize, const S: usize>
    Windows<N> for WindowLoop<'_, '_, N, T, RING, KEYS, S>
{
    fn push_bin<M: StepMeter>(
        &mut self,
        counts: &[u16; N],
        meter: &mut M,
    ) -> Result<Option<WindowOutcome>, WindowError> {
        self.push(counts, meter)
    }
}

/// The window half when the model has one (`Some`), none otherwise: one application type
/// serves both kinds of model file.
impl<W: Windows<N>, const N: usize> Windows<N> for Option<W> {
    fn push_bin<M: StepMeter>(
        &mut self,
        counts: &[u16; N],
        meter: &mut M,
    ) -> Result<Option<WindowOutcome>, WindowError> {
        match self {
            Some(w) => w.push_bin(counts, meter),
            None => Ok(None),
        }
    }
}

/// No window half (a JSLDS-only model).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoWindows;

impl<const N: usize> Windows<N> for NoWindows {
    fn push_bin<M: StepMeter>(
        &mut self,
        _counts: &[u16; N],
        _meter: &mut M,
    ) -> Result<Option<WindowOutcome>, WindowError> {
        Ok(None)
    }
}

/// An output pin that is not wired (the class pin of a JSLDS-only firmware).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoPin;

impl ErrorType for NoPin {
    type Error = core::convert::Infallible;
}

impl OutputPin for NoPin {
    fn set_low(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
    fn set_high(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Errors of the application loop, by origin.
#[derive(Debug)]
pub enum AppError<SE, PE> {
    /// The count source failed.
    Source(SE),
    /// The estimator rejected the bin.
    Step(StepError),
    /// The graph encoder or the TAVRNN step failed.
    Window(WindowError),
    /// Driving the trigger pin failed.
    Pin(PE),
    /// Driving the class pin failed (its error, by kind: the pin may be of another type).
    ClassPin(ErrorKind),
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
            AppError::Window(e) => write!(f, "window step failed: {e}"),
            AppError::Pin(e) => write!(f, "trigger pin failed: {e:?}"),
            AppError::ClassPin(e) => write!(f, "class pin failed: {e:?}"),
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

/// A result of the application whose error names the source's and the trigger pin's errors.
pub type AppResult<T, S, P> =
    Result<T, AppError<<S as CountSource>::Error, <P as ErrorType>::Error>>;

/// What one processed bin gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BinOutcome {
    /// The estimator's output for the bin.
    pub output: StepOutput,
    /// Index of the bin (0-based).
    pub bin: u32,
    /// The window step's outcome when this bin ended a window.
    pub window: Option<WindowOutcome>,
}

/// The firmware's main loop state. `D` and `N` are the estimator capacities (latent, neurons).
///
/// The trigger pin is toggled on every change of the reported regime, so each change is one
/// edge on the wire (rising or falling): a stimulator or a DAQ's digital input latches it with
/// no pulse-width timing needed on this side. The class pin (`Q`, with the window half `W`,
/// see [`App::with_windows`]) is toggled the same way on every change of the behaviour class
/// from one window to the next (the class before the first window counts as 0).
pub struct App<'m, S, P, const D: usize, const N: usize, W = NoWindows, Q = NoPin> {
    estimator: Estimator<'m, D, N>,
    source: S,
    trigger: P,
    trigger_high: bool,
    windows: W,
    class_pin: Q,
    class_high: bool,
    class: u8,
    class_changes: u32,
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
            windows: NoWindows,
            class_pin: NoPin,
            class_high: false,
            class: 0,
            class_changes: 0,
            counts: [0; N],
            neurons: src,
            bins: 0,
            changes: 0,
        })
    }

    /// Adds the window half (graph encoder and TAVRNN) and its class pin, driven low. The
    /// window half takes the same counts as the estimator, so its `N` is the model's neuron
    /// count (checked by [`WindowLoop::new`]).
    pub fn with_windows<W: Windows<N>, Q: OutputPin>(
        self,
        windows: W,
        mut class_pin: Q,
    ) -> AppResult<App<'m, S, P, D, N, W, Q>, S, P> {
        class_pin
            .set_low()
            .map_err(|e| AppError::ClassPin(e.kind()))?;
        Ok(App {
            estimator: self.estimator,
            source: self.source,
            trigger: self.trigger,
            trigger_high: self.trigger_high,
            windows,
            class_pin,
            class_high: false,
            class: 0,
            class_changes: 0,
            counts: self.counts,
            neurons: self.neurons,
            bins: self.bins,
            changes: self.changes,
        })
    }
}

impl<'m, S, P, const D: usize, const N: usize, W, Q> App<'m, S, P, D, N, W, Q>
where
    S: CountSource,
    P: OutputPin,
    W: Windows<N>,
    Q: OutputPin,
{
    /// Reads the next bin, steps the estimator (inside `meter`), toggles the trigger if the
    /// reported regime changed. `Ok(None)` when the source has ended.
    ///
    /// Not inlined, so that the per-bin path keeps its own (speed) optimisation whatever the
    /// caller is compiled for.
    #[inline(never)]
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
            .measure(Work::Estimator, || estimator.step(counts))
            .map_err(AppError::Step)?;
        if output.changed {
            self.trigger_high = !self.trigger_high;
            set(&mut self.trigger, self.trigger_high).map_err(AppError::Pin)?;
            self.changes += 1;
        }
        let window = self
            .windows
            .push_bin(&self.counts, meter)
            .map_err(AppError::Window)?;
        if let Some(w) = window {
            if w.output.class != self.class {
                self.class = w.output.class;
                self.class_high = !self.class_high;
                set(&mut self.class_pin, self.class_high)
                    .map_err(|e| AppError::ClassPin(e.kind()))?;
                self.class_changes += 1;
            }
        }
        let bin = self.bins;
        self.bins += 1;
        Ok(Some(BinOutcome {
            output,
            bin,
            window,
        }))
    }

    /// Behaviour class changes (class pin edges) so far.
    pub fn class_changes(&self) -> u32 {
        self.class_changes
    }

    /// Whether the class pin is currently driven high.
    pub fn class_high(&self) -> bool {
        self.class_high
    }

    /// The window half.
    pub fn windows(&self) -> &W {
        &self.windows
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

    /// Gives the parts back, the window half and the class pin included.
    pub fn release_all(self) -> (Estimator<'m, D, N>, S, P, W, Q) {
        (
            self.estimator,
            self.source,
            self.trigger,
            self.windows,
            self.class_pin,
        )
    }
}

fn set<P: OutputPin>(pin: &mut P, high: bool) -> Result<(), P::Error> {
    if high {
        pin.set_high()
    } else {
        pin.set_low()
    }
}
