//! Switching linear dynamical systems in f32, in the folded form the device runs.
//!
//! [`SwitchingLinear`] holds exactly what `neuroloop-core`'s estimator needs, in real units,
//! with the same layouts as the model file's `JsldsReference` section: the exporter
//! quantises it, and writes it unchanged as the f32 reference. Per bin, with counts `y_t`:
//!
//! ```text
//! g_t = input_table[min(y_t, len-1)]                 per neuron
//! k_t = select(a_{t-1})                              nearest point, or argmax of a linear gate
//! a_t = A_k a_{t-1} + B_k g_t + b_k                  dynamics, input_gain, offset
//! log_rate_t = C a_t + c                             readout, readout_bias (log spikes per bin)
//! ```
//!
//! Everything that is not in this form (expansion points of the nonlinear model, input
//! anchors, standardisation) has been folded into `B_k` and `b_k` by whoever built the system.
//! [`simulate()`] builds one by hand with known regimes and the spike counts it explains.

mod json;
mod linalg;
mod observer;
pub mod simulate;

pub use json::{read_system_json, write_system_json};
pub use simulate::{
    simulate, GroundTruth, InputTransform, SelectionKind, SimConfig, SimulatedSlds,
};

use serde::{Deserialize, Serialize};

/// How the regime of a bin is chosen from the previous latent state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SelectionF32 {
    /// `k_t = argmin_k |a_{t-1} - e_k|^2`, ties to the lowest `k`. `points`: `K x d`.
    Nearest {
        /// Expansion points `e_k`, row-major `K x d`.
        points: Vec<f32>,
    },
    /// `k_t = argmax_k (W a_{t-1} + b)_k`, ties to the lowest `k`.
    Gate {
        /// `W`, row-major `K x d`.
        weights: Vec<f32>,
        /// `b`, `K`.
        bias: Vec<f32>,
    },
}

/// A switching linear system in the folded device form, f32, real units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SwitchingLinear {
    /// Latent dimension `d`.
    pub latent: usize,
    /// Number of regimes `K` (at most 255: regimes travel as `u8`).
    pub regimes: usize,
    /// Number of neurons `N` (input and readout width).
    pub neurons: usize,
    /// `g(count)` for `count = 0..len`; counts past the end use the last entry.
    pub input_table: Vec<f32>,
    /// Regime selection rule.
    pub selection: SelectionF32,
    /// `A`: rows `K*d`, cols `d` (row `k*d+i` is row `i` of `A_k`).
    pub dynamics: Vec<f32>,
    /// `B`: rows `K*d`, cols `N`.
    pub input_gain: Vec<f32>,
    /// `b`: `K*d`.
    pub offset: Vec<f32>,
    /// `C`: rows `N`, cols `d`; log expected spikes per bin.
    pub readout: Vec<f32>,
    /// `c`: `N`.
    pub readout_bias: Vec<f32>,
    /// A new regime must be selected this many consecutive bins before it is reported.
    pub hysteresis: u16,
    /// `K` names, or empty for unnamed regimes.
    pub regime_names: Vec<String>,
    /// Bin width the system was built for, seconds.
    pub bin_s: f64,
}

/// A [`SwitchingLinear`] whose fields do not fit together.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct InvalidSystem {
    /// The offending field (as in the JSON file).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl SwitchingLinear {
    /// Checks every length against `latent`, `regimes` and `neurons`, that every number is
    /// finite, and the limits of the model file (K <= 255, N, d <= 65535, names).
    pub fn validate(&self) -> Result<(), InvalidSystem> {
        let (d, k, n) = (self.latent, self.regimes, self.neurons);
        let bad = |field: &'static str, problem: String| Err(InvalidSystem { field, problem });
        if d == 0 || d > u16::MAX as usize {
            return bad("latent", format!("{d} is outside 1..=65535"));
        }
        if k == 0 || k > u8::MAX as usize {
            return bad("regimes", format!("{k} is outside 1..=255"));
        }
        if n == 0 || n > u16::MAX as usize {
            return bad("neurons", format!("{n} is outside 1..=65535"));
        }
        if !(self.bin_s.is_finite() && self.bin_s > 0.0) {
            return bad(
                "bin_s",
                format!("{} is not a positive bin width", self.bin_s),
            );
        }
        if self.input_table.is_empty() || self.input_table.len() > u16::MAX as usize + 1 {
            return bad(
                "input_table",
                format!("{} entries (needs 1..=65536)", self.input_table.len()),
            );
        }
        let mut lengths: Vec<(&'static str, &[f32], usize)> = vec![
            ("input_table", &self.input_table, self.input_table.len()),
            ("dynamics", &self.dynamics, k * d * d),
            ("input_gain", &self.input_gain, k * d * n),
            ("offset", &self.offset, k * d),
            ("readout", &self.readout, n * d),
            ("readout_bias", &self.readout_bias, n),
        ];
        match &self.selection {
            SelectionF32::Nearest { points } => lengths.push(("selection.points", points, k * d)),
            SelectionF32::Gate { weights, bias } => {
                lengths.push(("selection.weights", weights, k * d));
                lengths.push(("selection.bias", bias, k));
            }
        }
        for (field, values, want) in lengths {
            if values.len() != want {
                return bad(
                    field,
                    format!(
                        "{} values, expected {want} (K={k}, d={d}, N={n})",
                        values.len()
                    ),
                );
            }
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return bad(field, format!("value {i} is {}", values[i]));
            }
        }
        if !self.regime_names.is_empty() {
            if self.regime_names.len() != k {
                return bad(
                    "regime_names",
                    format!("{} names for {k} regimes", self.regime_names.len()),
                );
            }
            if let Some(name) = self.regime_names.iter().find(|s| s.contains('\n')) {
                return bad("regime_names", format!("{name:?} contains a newline"));
            }
        }
        Ok(())
    }

    /// The `d x d` matrix `A_k`, row-major.
    pub fn dynamics_of(&self, k: usize) -> &[f32] {
        let s = self.latent * self.latent;
        &self.dynamics[k * s..(k + 1) * s]
    }

    /// The `d x N` matrix `B_k`, row-major.
    pub fn input_gain_of(&self, k: usize) -> &[f32] {
        let s = self.latent * self.neurons;
        &self.input_gain[k * s..(k + 1) * s]
    }

    /// The offset `b_k`.
    pub fn offset_of(&self, k: usize) -> &[f32] {
        &self.offset[k * self.latent..(k + 1) * self.latent]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> SwitchingLinear {
        SwitchingLinear {
            latent: 2,
            regimes: 2,
            neurons: 3,
            input_table: vec![0.0, 1.0, 1.4],
            selection: SelectionF32::Nearest {
                points: vec![1.0, 0.0, -1.0, 0.0],
            },
            dynamics: vec![0.9, 0.0, 0.0, 0.9, 0.8, 0.1, -0.1, 0.8],
            input_gain: vec![0.1; 12],
            offset: vec![0.0; 4],
            readout: vec![0.5; 6],
            readout_bias: vec![-2.0; 3],
            hysteresis: 2,
            regime_names: vec![],
            bin_s: 0.01,
        }
    }

    #[test]
    fn validate_accepts_consistent_and_names_the_bad_field() {
        assert_eq!(tiny().validate(), Ok(()));
        let mut s = tiny();
        s.input_gain.pop();
        assert_eq!(s.validate().unwrap_err().field, "input_gain");
        let mut s = tiny();
        s.readout[1] = f32::NAN;
        let e = s.validate().unwrap_err();
        assert_eq!(e.field, "readout");
        assert!(e.to_string().contains("value 1 is NaN"), "{e}");
        let mut s = tiny();
        s.regimes = 300;
        assert_eq!(s.validate().unwrap_err().field, "regimes");
        let mut s = tiny();
        s.selection = SelectionF32::Gate {
            weights: vec![0.0; 4],
            bias: vec![0.0; 3],
        };
        assert_eq!(s.validate().unwrap_err().field, "selection.bias");
        let mut s = tiny();
        s.regime_names = vec!["a".into()];
        assert_eq!(s.validate().unwrap_err().field, "regime_names");
    }

    #[test]
    fn per_regime_views() {
        let s = tiny();
        assert_eq!(s.dynamics_of(1), &[0.8, 0.1, -0.1, 0.8]);
        assert_eq!(s.input_gain_of(1).len(), 6);
        assert_eq!(s.offset_of(0), &[0.0, 0.0]);
    }
}
