//! The ground truth of a simulated session, written to `truth.json`.
//!
//! The keys are documented in `docs/truth-json.md`; they are stable: models are scored
//! against them. Every scenario fills the common part; the scenario-specific parts are present
//! only where they apply.

use serde::{Deserialize, Serialize};

use super::timeline::Segment;

/// Version of the `truth.json` layout; bumped when a key changes meaning.
pub const TRUTH_VERSION: u32 = 1;

/// Contents of `truth.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Truth {
    /// Layout version ([`TRUTH_VERSION`]).
    pub truth_version: u32,
    /// Scenario name (`regimes`, `flipflop`, `ring-theta`, `connectivity`, `switching-linear`).
    pub scenario: String,
    /// Seed the session was simulated with.
    pub seed: u64,
    /// Number of neurons (Phy clusters `0..neurons`).
    pub neurons: usize,
    /// Length of the session, seconds (a whole number of bins).
    pub duration_s: f64,
    /// Bin width of every per-bin quantity, seconds.
    pub bin_s: f64,
    /// Number of bins.
    pub n_bins: usize,
    /// Integration step of the simulation, seconds (intensities are constant over a step).
    pub sim_step_s: f64,
    /// Sampling rate of `phy/spike_times.npy`, Hz.
    pub sample_rate: f64,
    /// Names of the regimes (states, sectors): the labels of `behavior.csv`, by index.
    pub regime_names: Vec<String>,
    /// Regime index of every bin (the majority over the bin's simulation steps).
    pub regime_per_bin: Vec<u16>,
    /// Run-length segments of `regime_per_bin`: the rows of `behavior.csv`.
    pub segments: Vec<Segment>,
    /// Firing rate of every neuron over the session, Hz (spikes / duration).
    pub mean_rate_hz: Vec<f64>,
    /// Extra files of the session, relative to the session folder.
    pub files: Vec<String>,
    /// Latent state and the map from latent to firing rates (latent scenarios).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latent: Option<LatentTruth>,
    /// Fixed points of the latent dynamics without input (regimes, flipflop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_points: Option<Vec<FixedPoint>>,
    /// Inputs of the 3-bit flip-flop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flipflop: Option<FlipflopTruth>,
    /// Ring attractor and the position it encodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<RingTruth>,
    /// Oscillation in the latent state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oscillation: Option<OscillationTruth>,
    /// Coupling matrices of the spiking network, per state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connectivity: Option<ConnectivityTruth>,
    /// Behavioural states, where they differ from the regimes (closed-loop): then
    /// `behavior.csv` holds these, and `regime_per_bin` the latent regimes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behaviour: Option<BehaviourTruth>,
    /// Switching linear system that generated the counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switching_linear: Option<SwitchingLinearTruth>,
}

/// Latent state `x` (dimension `dim`) and the log-linear map to firing rates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentTruth {
    /// Dimension of the latent state.
    pub dim: usize,
    /// What each latent dimension is.
    pub dim_names: Vec<String>,
    /// The dynamics, as an equation (continuous time, integrated by Euler–Maruyama at
    /// `sim_step_s`).
    pub dynamics: String,
    /// Time constant of the dynamics, seconds.
    pub tau_s: f64,
    /// Standard deviation of the white noise driving each latent dimension, per sqrt(second).
    pub noise_sd: f64,
    /// `C`, one row per neuron (`neurons x dim`): `rate_hz[i] = exp(C[i] . x + c[i])`. Rows of
    /// neurons that do not read the latent (flip-flop input units) are zero.
    pub readout: Vec<Vec<f64>>,
    /// `c`, one per neuron, natural log of Hz.
    pub readout_bias: Vec<f64>,
    /// File with the latent state per bin (`n_bins x dim`, f32, mean over the bin's steps).
    pub latent_file: String,
}

/// A fixed point of the latent dynamics (without input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixedPoint {
    /// Position in latent space.
    pub point: Vec<f64>,
    /// All eigenvalues of the Jacobian have negative real part.
    pub stable: bool,
    /// Regime index whose attractor this is (stable points only).
    pub regime: Option<u16>,
    /// Eigenvalues of the continuous-time Jacobian, per second, `[re, im]`.
    pub eigenvalues_per_s: Vec<[f64; 2]>,
    /// Eigenvalues of the map over one bin (the Euler steps of a bin composed), `[re, im]`.
    pub eigenvalues_per_bin: Vec<[f64; 2]>,
}

/// Pulses and input units of the flip-flop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlipflopTruth {
    /// Number of input channels (3).
    pub channels: usize,
    /// Amplitude of a pulse in the latent equation.
    pub pulse_amplitude: f64,
    /// Duration of a pulse, seconds.
    pub pulse_duration_s: f64,
    /// Every pulse, in time order.
    pub pulses: Vec<Pulse>,
    /// Units that fire with the pulses: how a model sees the inputs.
    pub input_units: Vec<InputUnit>,
    /// File with the input per bin (`n_bins x channels`, f32, mean over the bin's steps).
    pub input_file: String,
}

/// One input pulse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pulse {
    /// Onset, seconds.
    pub time_s: f64,
    /// Channel `0..3` (bit of the state).
    pub channel: usize,
    /// +1 sets the bit, -1 clears it.
    pub sign: i8,
    /// The pulse changed the bit (it was not already in the pulsed state).
    pub flipped: bool,
}

/// A unit whose rate follows one sign of one input channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputUnit {
    /// Phy cluster id.
    pub unit: u32,
    /// Channel it follows.
    pub channel: usize,
    /// Sign of the pulses it fires with.
    pub sign: i8,
    /// Rate between pulses, Hz.
    pub base_rate_hz: f64,
    /// Rate during a pulse of its sign, Hz.
    pub pulse_rate_hz: f64,
}

/// Ring attractor: the position is the angle on a circle in two latent dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RingTruth {
    /// Latent dimensions of the ring plane.
    pub dims: [usize; 2],
    /// Centre of the ring in those dimensions.
    pub centre: [f64; 2],
    /// Radius of the ring.
    pub radius: f64,
    /// Decay rate of a radial deviation, per second (the ring's stable direction).
    pub radial_eigenvalue_per_s: f64,
    /// Position (angle on the ring, radians in `[0, 2 pi)`) per bin: circular mean over the
    /// bin's steps.
    pub position_rad_per_bin: Vec<f32>,
    /// Mean running speed, radians per second.
    pub mean_speed_rad_s: f64,
    /// Preferred position of each neuron, radians (its tuning-curve peak).
    pub preferred_position_rad: Vec<f64>,
    /// Sector labels: sector `k` is positions in `[k, k + 1) * 2 pi / sectors`.
    pub sectors: usize,
}

/// A limit-cycle oscillation in two latent dimensions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OscillationTruth {
    /// Frequency, Hz (exact: the angular speed on and off the cycle).
    pub frequency_hz: f64,
    /// Latent dimensions of the oscillation plane.
    pub dims: [usize; 2],
    /// Radius of the limit cycle.
    pub amplitude: f64,
    /// Growth rate at the centre, per second (`mu` of the Hopf normal form).
    pub growth_rate_per_s: f64,
    /// Eigenvalues at the centre (an unstable focus), per second, `[re, im]`.
    pub eigenvalues_per_s: Vec<[f64; 2]>,
    /// The same over one bin, `[re, im]`.
    pub eigenvalues_per_bin: Vec<[f64; 2]>,
    /// Phase of the oscillation at which each neuron fires most, radians.
    pub preferred_phase_rad: Vec<f64>,
}

/// Spiking network with state-dependent coupling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectivityTruth {
    /// The model, as an equation.
    pub model: String,
    /// Time constant of the exponential synaptic kernel, seconds.
    pub kernel_tau_s: f64,
    /// Baseline intensity of each neuron, Hz.
    pub baseline_hz: Vec<f64>,
    /// One entry per state (same order as `regime_names`).
    pub states: Vec<CouplingState>,
}

/// Coupling of one behavioural state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CouplingState {
    /// State name.
    pub name: String,
    /// `W[i][j]`: expected number of spikes of neuron `i` caused by one spike of neuron `j`.
    pub coupling: Vec<Vec<f64>>,
    /// The assemblies (groups of mutually coupled units) of this state.
    pub assemblies: Vec<Vec<u32>>,
    /// Stationary rate of each neuron in this state, `(I - W)^-1 baseline`, Hz.
    pub expected_rate_hz: Vec<f64>,
    /// Sum of `expected_rate_hz`, Hz.
    pub expected_population_rate_hz: f64,
}

/// The switching linear system of the `switching-linear` scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchingLinearTruth {
    /// The estimator to ship (`slds::write_system_json`), relative to the session folder.
    pub system_file: String,
    /// The binned counts it generated (`n_bins x neurons`, uint32).
    pub counts_file: String,
    /// Number of regimes `K`.
    pub regimes: usize,
    /// Expansion points `e_k` of the generating system, `K x dim` (the fixed point of regime
    /// `k`: `a = e_k` when the noise is off).
    pub points: Vec<Vec<f64>>,
    /// `F_k`, `K x dim x dim`: dynamics of `a - e_k` per bin in regime `k`.
    pub dynamics: Vec<Vec<Vec<f64>>>,
    /// Bins at which the regime changes.
    pub switch_bins: Vec<usize>,
}

/// Behavioural states of a session whose behaviour is not its latent regime (closed-loop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BehaviourTruth {
    /// Names of the states, by index (the labels of `behavior.csv`).
    pub names: Vec<String>,
    /// State of every bin.
    pub per_bin: Vec<u16>,
    /// Run-length segments of `per_bin`: the rows of `behavior.csv`.
    pub segments: Vec<Segment>,
}
