//! The window half of the loop: every bin into the window's running sums, and at each window
//! end the graph encoder (correlation in place, graph) and one TAVRNN step with the behaviour
//! classifier, all from `neuroloop_core`.
//!
//! # Memory
//! One block of RAM serves the whole window ([`WindowMemory`]): the running sums while bins
//! come in; at the window end the correlations, written over the sums
//! ([`StreamingConnectivity::correlate_in_place`]); then, once the graph is built and the sums
//! are dead, the TAVRNN step's scratch. So a window costs `max(sums, scratch)` bytes (11.4 KB
//! at N = 64, H = 32, latent 8) rather than sums + correlation + scratch (28.9 KB).
//!
//! # Windows
//! Window `m` covers bins `m · step .. m · step + window` of the stream (the trainer's
//! `Windowing`, the host replay's spans). One set of sums streams them when
//! `step >= window`. Windows overlapping by half (`window = 2 step`) take a second set (the
//! block being filled; the window memory holds the previous block, and a window is the two
//! merged, exact since sums add); other overlaps would need the sums of each open window at
//! once and are refused by [`WindowLoop::new`] ([`WindowError::Overlap`]).

use neuroloop_core::graph::{GraphSettings, StreamingConnectivity, WindowGraph};
use neuroloop_core::tavrnn::{Tavrnn, TavrnnError, WindowOutput};
use neuroloop_core::{ConnectivityError, Model, ModelError};

use crate::app::{StepMeter, Work};

/// The RAM of one window: its running sums (then its correlations, in place) or, after the
/// graph is built, the TAVRNN step's scratch of `S` values.
#[derive(Debug)]
pub enum WindowMemory<const N: usize, const T: usize, const S: usize> {
    /// Summing bins (or holding the correlations of the window that just ended).
    Sums(StreamingConnectivity<N, T>),
    /// The TAVRNN step's working memory; after a step it begins with the embedding.
    Scratch(Scratch<S>),
}

/// The step's scratch, word aligned: the core's Cortex-M4 dense kernel reads its inputs
/// (`mu` for `phi_z` and the classifier, which lie in the scratch) with `LDM`, which needs
/// word alignment; as a bare `[i16; S]` in the enum it lay at 2 mod 4, and those layers took
/// the general kernels (about 45,000 instructions a window step more at N = 64).
#[derive(Debug)]
#[repr(C, align(4))]
pub struct Scratch<const S: usize>(pub [i16; S]);

/// Why the window half refused a model or a bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowError {
    /// The model file's TAVRNN section does not fit this firmware.
    Model(ModelError),
    /// The model's windows overlap (`step_bins < window_bins`) other than by half, or by half
    /// without the second set of sums.
    Overlap {
        /// Bins in a window.
        window_bins: u16,
        /// Bins between window starts.
        step_bins: u16,
    },
    /// The model's neuron count differs from the firmware's graph capacity `N`.
    Neurons {
        /// The model's neurons.
        model: usize,
        /// The firmware's.
        capacity: usize,
    },
    /// The step needs more scratch than the firmware reserves (`S`).
    Scratch {
        /// Values needed.
        needed: usize,
        /// Values reserved.
        capacity: usize,
    },
    /// The graph encoder refused the bin or the window.
    Graph(ConnectivityError),
    /// The TAVRNN step failed.
    Step(TavrnnError),
}

impl core::fmt::Display for WindowError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WindowError::Model(e) => write!(f, "{e}"),
            WindowError::Overlap {
                window_bins,
                step_bins,
            } => write!(
                f,
                "tavrnn windows of {window_bins} bins every {step_bins} bins overlap; this \
                 firmware streams one window at a time (step_bins >= window_bins)"
            ),
            WindowError::Neurons { model, capacity } => write!(
                f,
                "the model has {model} neurons, the firmware's graph encoder {capacity}"
            ),
            WindowError::Scratch { needed, capacity } => write!(
                f,
                "the tavrnn step needs {needed} scratch values, the firmware reserves {capacity}"
            ),
            WindowError::Graph(e) => write!(f, "graph encoder: {e}"),
            WindowError::Step(e) => write!(f, "tavrnn step: {e}"),
        }
    }
}

/// What a window end gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowOutcome {
    /// The TAVRNN step's output (behaviour class, states attended).
    pub output: WindowOutput,
    /// Index of the window (0-based).
    pub window: u32,
    /// Neuron–neuron edges of the window's graph.
    pub edges: u32,
}

/// The window half's RAM apart from the TAVRNN's own state: the sums-or-scratch block and
/// the graph. `const`-constructible, so a firmware places it in a `static` (in `.bss`, never
/// on the stack).
#[derive(Debug)]
pub struct WindowState<const N: usize, const T: usize, const S: usize> {
    mem: WindowMemory<N, T, S>,
    graph: WindowGraph<N, T>,
}

impl<const N: usize, const T: usize, const S: usize> Default for WindowState<N, T, S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const T: usize, const S: usize> WindowState<N, T, S> {
    /// Empty sums, no graph.
    pub const fn new() -> Self {
        WindowState {
            mem: WindowMemory::Sums(StreamingConnectivity::new()),
            graph: WindowGraph::new(),
        }
    }
}

/// Graph encoder and TAVRNN of a model, for `N` neurons (`T = triangle(N)`), a ring of `RING`
/// bytes, `KEYS` key values and `S` scratch values. It borrows its two large parts, the
/// [`Tavrnn`] (ring and keys) and the [`WindowState`], so that the firmware decides where
/// they live (statics, built in place) and no stack frame has to hold them.
pub struct WindowLoop<
    'm,
    'w,
    const N: usize,
    const T: usize,
    const RING: usize,
    const KEYS: usize,
    const S: usize,
> {
    tavrnn: &'w mut Tavrnn<'m, RING, KEYS>,
    state: &'w mut WindowState<N, T, S>,
    /// Overlapping windows (`window = 2 step`): the sums of the block being filled; the
    /// window memory then holds the previous block's, and a window is the two merged.
    block: Option<&'w mut StreamingConnectivity<N, T>>,
    /// Blocks completed (saturating), in overlapping mode.
    blocks: u32,
    settings: GraphSettings,
    window_bins: u32,
    step_bins: u32,
    /// Position of the next bin in the current step period (`0..step_bins`).
    phase: u32,
    windows: u32,
}

impl<
        'm,
        'w,
        const N: usize,
        const T: usize,
        const RING: usize,
        const KEYS: usize,
        const S: usize,
    > WindowLoop<'m, 'w, N, T, RING, KEYS, S>
{
    /// The window half of `model` (which must have a TAVRNN section) over `tavrnn` (made by
    /// `Tavrnn::new(model)`; reset here) and `state` (reset here), at the start of a
    /// recording. `block` (reset here) is a second set of sums for overlapping windows: a
    /// model whose windows are `2 step` long needs it (its windows are then two consecutive
    /// blocks of `step` bins, merged at each block end, `docs/GRAPH.md` §1); without it, or
    /// for any other overlap, the model is refused ([`WindowError::Overlap`]). Windows with
    /// `step >= window` ignore it.
    pub fn new(
        model: &Model<'m>,
        tavrnn: &'w mut Tavrnn<'m, RING, KEYS>,
        state: &'w mut WindowState<N, T, S>,
        block: Option<&'w mut StreamingConnectivity<N, T>>,
    ) -> Result<Self, WindowError> {
        let t = *model
            .tavrnn()
            .ok_or(WindowError::Model(ModelError::MissingSection {
                section: "tavrnn",
            }))?;
        let neurons = usize::from(model.meta().neurons);
        if neurons != N {
            return Err(WindowError::Neurons {
                model: neurons,
                capacity: N,
            });
        }
        let overlap = t.step_bins < t.window_bins;
        if overlap && (u32::from(t.window_bins) != 2 * u32::from(t.step_bins) || block.is_none()) {
            return Err(WindowError::Overlap {
                window_bins: t.window_bins,
                step_bins: t.step_bins,
            });
        }
        let mut block = if overlap { block } else { None };
        let dims = tavrnn.dims();
        let want = t.dims(neurons);
        if (dims.hidden, dims.latent, dims.window, dims.nodes)
            != (want.hidden, want.latent, want.window, want.nodes)
        {
            return Err(WindowError::Model(ModelError::Value {
                field: "tavrnn",
                problem: "the Tavrnn given was made from another model",
            }));
        }
        let needed = tavrnn.scratch_len();
        if needed > S {
            return Err(WindowError::Scratch {
                needed,
                capacity: S,
            });
        }
        tavrnn.reset();
        state.mem = WindowMemory::Sums(StreamingConnectivity::new());
        if let Some(b) = block.as_deref_mut() {
            b.reset();
        }
        Ok(WindowLoop {
            tavrnn,
            state,
            block,
            blocks: 0,
            settings: t.graph_settings(),
            window_bins: u32::from(t.window_bins),
            step_bins: u32::from(t.step_bins),
            phase: 0,
            windows: 0,
        })
    }

    /// Adds one bin. At the end of a window (this bin its last) builds the graph and runs
    /// the TAVRNN step, each inside `meter` ([`Work::GraphWindow`], [`Work::Tavrnn`]); the
    /// per-bin update is measured as [`Work::GraphBin`].
    pub fn push<M: StepMeter>(
        &mut self,
        counts: &[u16; N],
        meter: &mut M,
    ) -> Result<Option<WindowOutcome>, WindowError> {
        let phase = self.phase;
        self.phase = if phase + 1 >= self.step_bins {
            0
        } else {
            phase + 1
        };
        if self.block.is_none() && phase >= self.window_bins {
            return Ok(None); // between windows (step > window)
        }
        if let WindowMemory::Scratch(_) = self.state.mem {
            self.restart_sums()?;
        }
        let sums = match (self.block.as_deref_mut(), &mut self.state.mem) {
            (Some(b), _) => b,
            (None, WindowMemory::Sums(s)) => s,
            (None, WindowMemory::Scratch(_)) => return Ok(None), // unreachable: set above
        };
        meter
            .measure(Work::GraphBin, || sums.push(counts))
            .map_err(WindowError::Graph)?;
        match self.block.as_deref_mut() {
            None if phase + 1 == self.window_bins => self.window_end(meter).map(Some),
            None => Ok(None),
            Some(_) if phase + 1 != self.step_bins => Ok(None),
            Some(_) => self.block_end(meter),
        }
    }

    /// After a window end: the last window's scratch is dead, sums again from zero (with
    /// overlapping windows: plus the block that ended, which the next window starts with).
    /// Once a window, so out of the per-bin path and compiled for size.
    #[cold]
    #[inline(never)]
    #[cfg_attr(target_os = "none", optimize(size))]
    fn restart_sums(&mut self) -> Result<(), WindowError> {
        self.state.mem = WindowMemory::Sums(StreamingConnectivity::new());
        if let (Some(b), WindowMemory::Sums(older)) =
            (self.block.as_deref_mut(), &mut self.state.mem)
        {
            older.merge(b).map_err(WindowError::Graph)?;
            b.reset();
        }
        Ok(())
    }

    /// A block of overlapping windows ended: with the previous one it makes a window. Once a
    /// block, so out of the per-bin path and compiled for size.
    #[cold]
    #[inline(never)]
    #[cfg_attr(target_os = "none", optimize(size))]
    fn block_end<M: StepMeter>(
        &mut self,
        meter: &mut M,
    ) -> Result<Option<WindowOutcome>, WindowError> {
        let (Some(b), WindowMemory::Sums(older)) = (self.block.as_deref_mut(), &mut self.state.mem)
        else {
            return Ok(None); // unreachable: push calls this with a block and sums
        };
        self.blocks = self.blocks.saturating_add(1);
        older.merge(b).map_err(WindowError::Graph)?;
        if self.blocks < 2 {
            // The first block: it is the next window's first half.
            b.reset();
            return Ok(None);
        }
        // `older` holds the window; the block stays for the next window (it is merged into
        // the fresh sums at the next bin, see `restart_sums`).
        self.window_end(meter).map(Some)
    }

    /// The end of a window: correlation in place and graph, then the sums' RAM becomes the
    /// scratch of one TAVRNN step. Not inlined: it runs once a window, and inlining the step
    /// into the per-bin loop would only cost flash.
    #[inline(never)]
    #[cfg_attr(target_os = "none", optimize(size))]
    fn window_end<M: StepMeter>(&mut self, meter: &mut M) -> Result<WindowOutcome, WindowError> {
        let WindowState { mem, graph } = &mut *self.state;
        let WindowMemory::Sums(sums) = mem else {
            return Err(WindowError::Graph(ConnectivityError::Correlated)); // never: see push
        };
        let settings = &self.settings;
        meter
            .measure(Work::GraphWindow, || {
                sums.correlate_in_place();
                graph.build_from_sums(sums, settings)
            })
            .map_err(WindowError::Graph)?;
        *mem = WindowMemory::Scratch(Scratch([0; S]));
        let WindowMemory::Scratch(scratch) = mem else {
            return Err(WindowError::Graph(ConnectivityError::Correlated)); // never: set above
        };
        let (tavrnn, graph) = (&mut *self.tavrnn, &*graph);
        let output = meter
            .measure(Work::Tavrnn, || tavrnn.step(graph, &mut scratch.0))
            .map_err(WindowError::Step)?;
        let window = self.windows;
        self.windows += 1;
        Ok(WindowOutcome {
            output,
            window,
            edges: self.state.graph.edge_count(),
        })
    }

    /// The window embedding of the last step (the neurons' `mu`, `N · latent` values at the
    /// section's `mu_scale`); empty before the first window ends or once the next window's
    /// first bin has arrived.
    pub fn embedding(&self) -> &[i16] {
        match &self.state.mem {
            WindowMemory::Scratch(s) => self.tavrnn.embedding(&s.0),
            WindowMemory::Sums(_) => &[],
        }
    }

    /// The TAVRNN (dimensions, states attended).
    pub fn tavrnn(&self) -> &Tavrnn<'m, RING, KEYS> {
        self.tavrnn
    }

    /// The graph of the last window that ended.
    pub fn graph(&self) -> &WindowGraph<N, T> {
        &self.state.graph
    }

    /// Windows completed.
    pub fn windows(&self) -> u32 {
        self.windows
    }

    /// Bins a window holds and bins between window starts.
    pub fn schedule(&self) -> (u32, u32) {
        (self.window_bins, self.step_bins)
    }
}
