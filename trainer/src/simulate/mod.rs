//! Simulated sessions with known ground truth.
//!
//! `neuroloop simulate SCENARIO --out DIR` writes, for every scenario, a Phy folder
//! (`DIR/phy/`), behaviour labels (`DIR/behavior.csv`) and the ground truth
//! (`DIR/truth.json`, keys in `docs/truth-json.md`), in the formats users bring, so that the
//! models are checked on the same path real data take. A session is deterministic for a seed.
//!
//! Scenarios (one module each):
//! * [`regimes`]: a 2-D latent system with four attractors and noise-driven switches;
//! * [`flipflop`]: a 3-bit flip-flop driven by input pulses that input units make visible;
//! * [`ring_theta`]: a ring attractor carrying a running position, plus an 8 Hz limit cycle;
//! * [`connectivity`]: a Hawkes network whose assemblies change with the behavioural state;
//! * [`switching_linear`]: a switching linear system of [`crate::slds`], with its counts;
//! * [`closed_loop`]: the demo session, latent regimes and behaviour-dependent connectivity
//!   on the same neurons.
//!
//! The latent scenarios share [`latent`]: the latent state is integrated at a step of at most
//! 1 ms (a whole number of steps per bin), rates are `exp(C x + c)`, spikes are Poisson with
//! the step's rate ([`spikes`]).

pub mod closed_loop;
pub mod connectivity;
mod error;
pub mod flipflop;
pub mod latent;
pub mod regimes;
pub mod ring_theta;
pub mod rng;
pub mod spikes;
pub mod switching_linear;
pub mod timeline;
pub mod truth;
mod write;

use std::fmt;

use indicatif::ProgressBar;

use crate::data::{SpikeTrains, Unit};
pub use error::SimError;
pub use truth::Truth;
pub use write::write_session;

/// The simulated scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Latent attractors with noise-driven switches between them.
    Regimes,
    /// 3-bit flip-flop driven by input pulses.
    Flipflop,
    /// Ring attractor carrying a moving position, with an 8 Hz oscillation.
    RingTheta,
    /// Spiking network whose coupling changes with the behavioural state.
    Connectivity,
    /// Switching linear system of `neuroloop_trainer::slds`, with its binned counts.
    SwitchingLinear,
    /// The demo session: latent regimes and behaviour-dependent connectivity at once.
    ClosedLoop,
}

impl Scenario {
    /// Every scenario.
    pub const ALL: [Scenario; 6] = [
        Scenario::Regimes,
        Scenario::Flipflop,
        Scenario::RingTheta,
        Scenario::Connectivity,
        Scenario::SwitchingLinear,
        Scenario::ClosedLoop,
    ];

    /// Name on the command line and in `truth.json`.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Regimes => "regimes",
            Scenario::Flipflop => "flipflop",
            Scenario::RingTheta => "ring-theta",
            Scenario::Connectivity => "connectivity",
            Scenario::SwitchingLinear => "switching-linear",
            Scenario::ClosedLoop => "closed-loop",
        }
    }

    /// Default session length, seconds.
    pub fn default_duration_s(self) -> f64 {
        match self {
            Scenario::Regimes | Scenario::Flipflop | Scenario::SwitchingLinear => 300.0,
            Scenario::RingTheta => 120.0,
            Scenario::Connectivity | Scenario::ClosedLoop => 600.0,
        }
    }

    /// Fewest neurons the scenario can be simulated with.
    pub fn min_neurons(self) -> usize {
        match self {
            Scenario::Regimes | Scenario::RingTheta => 8,
            Scenario::Flipflop => flipflop::MIN_NEURONS,
            Scenario::Connectivity | Scenario::ClosedLoop => connectivity::MIN_NEURONS,
            Scenario::SwitchingLinear => 2,
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Options of a simulation; `None` takes the scenario's default.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Seed of every random stream.
    pub seed: u64,
    /// Number of neurons (default 64).
    pub neurons: Option<usize>,
    /// Session length, seconds (default per scenario).
    pub duration_s: Option<f64>,
    /// Bin width, milliseconds (default 10).
    pub bin_ms: Option<f64>,
}

/// Default number of neurons.
pub const DEFAULT_NEURONS: usize = 64;
/// Default bin width, milliseconds.
pub const DEFAULT_BIN_MS: f64 = 10.0;
/// Most neurons a session may have.
pub const MAX_NEURONS: usize = 4096;
/// Longest session, seconds (one day).
pub const MAX_DURATION_S: f64 = 86_400.0;
/// Most bins a session may have (per-bin truth is held in memory and written to JSON).
pub const MAX_BINS: usize = 10_000_000;
/// Longest simulation step, seconds: bins are split into steps no longer than this.
pub const MAX_STEP_S: f64 = 1e-3;

/// Options checked and completed for one scenario.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Scenario.
    pub scenario: Scenario,
    /// Seed.
    pub seed: u64,
    /// Number of neurons.
    pub neurons: usize,
    /// Bin width, seconds.
    pub bin_s: f64,
    /// Number of bins; the session lasts `n_bins * bin_s`.
    pub n_bins: usize,
    /// Simulation steps per bin.
    pub steps_per_bin: usize,
    /// Simulation step, seconds.
    pub step_s: f64,
}

impl Resolved {
    /// Checks `opts` against what `scenario` supports.
    pub fn new(scenario: Scenario, opts: &Options) -> Result<Self, SimError> {
        let bad = |option: &'static str, value: String, reason: String| SimError::Option {
            scenario: scenario.name(),
            option,
            value,
            reason,
        };
        let neurons = opts.neurons.unwrap_or(DEFAULT_NEURONS);
        let min = scenario.min_neurons();
        if neurons < min || neurons > MAX_NEURONS {
            return Err(bad(
                "--neurons",
                neurons.to_string(),
                format!("this scenario needs between {min} and {MAX_NEURONS} neurons"),
            ));
        }
        let bin_ms = opts.bin_ms.unwrap_or(DEFAULT_BIN_MS);
        if !(bin_ms.is_finite() && (0.1..=1000.0).contains(&bin_ms)) {
            return Err(bad(
                "--bin-ms",
                bin_ms.to_string(),
                "the bin width must be between 0.1 and 1000 ms".into(),
            ));
        }
        let bin_s = bin_ms / 1000.0;
        let duration_s = opts
            .duration_s
            .unwrap_or_else(|| scenario.default_duration_s());
        if !(duration_s.is_finite() && duration_s > 0.0 && duration_s <= MAX_DURATION_S) {
            return Err(bad(
                "--duration-s",
                duration_s.to_string(),
                format!("the duration must be positive and at most {MAX_DURATION_S} s"),
            ));
        }
        // Whole bins only; the tolerance keeps 0.3 s / 0.01 s from losing a bin to rounding.
        let n_bins = (duration_s / bin_s + 1e-6).floor() as usize;
        if n_bins < 10 {
            return Err(bad(
                "--duration-s",
                duration_s.to_string(),
                format!("the session must hold at least 10 bins of {bin_ms} ms"),
            ));
        }
        if n_bins > MAX_BINS {
            return Err(bad(
                "--duration-s",
                duration_s.to_string(),
                format!("the session may hold at most {MAX_BINS} bins of {bin_ms} ms"),
            ));
        }
        let steps_per_bin = (bin_s / MAX_STEP_S - 1e-9).ceil().max(1.0) as usize;
        Ok(Self {
            scenario,
            seed: opts.seed,
            neurons,
            bin_s,
            n_bins,
            steps_per_bin,
            step_s: bin_s / steps_per_bin as f64,
        })
    }

    /// Session length, seconds.
    pub fn duration_s(&self) -> f64 {
        self.n_bins as f64 * self.bin_s
    }

    /// Total number of simulation steps.
    pub fn total_steps(&self) -> usize {
        self.n_bins * self.steps_per_bin
    }

    /// Fails with a clear message unless `cond` holds.
    pub(crate) fn require(
        &self,
        cond: bool,
        option: &'static str,
        value: impl fmt::Display,
        reason: impl Into<String>,
    ) -> Result<(), SimError> {
        if cond {
            Ok(())
        } else {
            Err(SimError::Option {
                scenario: self.scenario.name(),
                option,
                value: value.to_string(),
                reason: reason.into(),
            })
        }
    }
}

/// An extra array file of a session (`.npy`).
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// File name, relative to the session folder.
    pub file: String,
    /// Shape (row-major).
    pub shape: Vec<u64>,
    /// Values.
    pub data: ArrayData,
}

/// Values of an [`Array`].
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 32-bit unsigned integers.
    U32(Vec<u32>),
}

/// A simulated session, in memory.
#[derive(Debug, Clone)]
pub struct Session {
    /// Ground truth (`truth.json`).
    pub truth: Truth,
    /// Spike trains, times quantised to the samples written to the Phy folder.
    pub spikes: SpikeTrains,
    /// `phy/spike_times.npy`: sample indices, sorted.
    pub spike_samples: Vec<u64>,
    /// `phy/spike_clusters.npy`: the cluster of every spike.
    pub spike_clusters: Vec<i32>,
    /// Extra `.npy` files.
    pub arrays: Vec<Array>,
    /// Switching linear system written to `system.json` (switching-linear scenario).
    pub system: Option<crate::slds::SwitchingLinear>,
}

impl Session {
    /// Number of spikes.
    pub fn n_spikes(&self) -> usize {
        self.spike_samples.len()
    }
}

/// Simulates `scenario` with `opts`; `progress` (length: bins) follows the simulation.
pub fn simulate(
    scenario: Scenario,
    opts: &Options,
    progress: &ProgressBar,
) -> Result<Session, SimError> {
    let res = Resolved::new(scenario, opts)?;
    progress.set_length(res.n_bins as u64);
    match scenario {
        Scenario::Regimes => regimes::simulate(&res, progress),
        Scenario::Flipflop => flipflop::simulate(&res, progress),
        Scenario::RingTheta => ring_theta::simulate(&res, progress),
        Scenario::Connectivity => connectivity::simulate(&res, progress),
        Scenario::SwitchingLinear => switching_linear::simulate(&res, progress),
        Scenario::ClosedLoop => closed_loop::simulate(&res, progress),
    }
}

/// The parts of a session every scenario has; [`assemble`] completes them into a [`Session`].
pub(crate) struct Parts {
    /// Spike times per neuron, seconds.
    pub times: Vec<Vec<f64>>,
    /// Label names.
    pub names: Vec<String>,
    /// Label per bin.
    pub label_per_bin: Vec<u16>,
    /// Extra arrays.
    pub arrays: Vec<Array>,
}

/// Quantises the spikes, derives segments and rates, and fills the common part of the truth;
/// `fill` adds the scenario's part.
pub(crate) fn assemble(res: &Resolved, mut parts: Parts, fill: impl FnOnce(&mut Truth)) -> Session {
    let (spike_samples, spike_clusters) = spikes::quantise(&mut parts.times);
    let duration_s = res.duration_s();
    let mean_rate_hz = parts
        .times
        .iter()
        .map(|t| t.len() as f64 / duration_s)
        .collect();
    let units = parts
        .times
        .into_iter()
        .enumerate()
        .map(|(i, times_s)| Unit {
            id: i as u32,
            times_s,
        })
        .collect();
    let segments = timeline::segments(&parts.label_per_bin, &parts.names, res.bin_s);
    let mut truth = Truth {
        truth_version: truth::TRUTH_VERSION,
        scenario: res.scenario.name().to_string(),
        seed: res.seed,
        neurons: res.neurons,
        duration_s,
        bin_s: res.bin_s,
        n_bins: res.n_bins,
        sim_step_s: res.step_s,
        sample_rate: spikes::SAMPLE_RATE,
        regime_names: parts.names,
        regime_per_bin: parts.label_per_bin,
        segments,
        mean_rate_hz,
        files: parts.arrays.iter().map(|a| a.file.clone()).collect(),
        latent: None,
        fixed_points: None,
        flipflop: None,
        ring: None,
        oscillation: None,
        connectivity: None,
        behaviour: None,
        switching_linear: None,
    };
    fill(&mut truth);
    Session {
        truth,
        spikes: SpikeTrains {
            units,
            start_s: 0.0,
            end_s: duration_s,
        },
        spike_samples,
        spike_clusters,
        arrays: parts.arrays,
        system: None,
    }
}
