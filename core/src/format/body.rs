//! The postcard body: serde types whose tensors are byte blobs borrowed from the file.
//!
//! Field order is the wire order (postcard writes struct fields in declaration order, without
//! names); `docs/FORMAT.md` spells it out. Changing anything here changes the format: bump
//! [`FORMAT_MAJOR`](super::FORMAT_MAJOR) and the schema description in `schema.rs`, or append
//! an optional field in a new minor version.

use serde::{Deserialize, Serialize};

use crate::blob;
use crate::fixed::Requant;

/// The whole body of a model file.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelBody<'a> {
    /// What the model is and how its input is binned.
    #[serde(borrow)]
    pub meta: Meta<'a>,
    /// The switching-linear estimator, if the file has one.
    #[serde(borrow)]
    pub jslds: Option<JsldsSection<'a>>,
    // Format minor versions append optional sections here (the TAVRNN encoder comes in 1.1).
}

/// Model metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta<'a> {
    /// Free-form model name (UTF-8).
    pub name: &'a str,
    /// Number of recorded neurons the model expects per bin.
    pub neurons: u16,
    /// Bin width in microseconds.
    pub bin_us: u32,
}

/// Element type of a [`QMatrix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WeightType {
    /// One byte per weight, two's complement.
    I8,
    /// Two bytes per weight, little-endian two's complement.
    I16,
}

impl WeightType {
    /// Bytes per weight.
    pub const fn bytes(self) -> usize {
        match self {
            WeightType::I8 => 1,
            WeightType::I16 => 2,
        }
    }
}

/// Quantised weight matrix, row-major little-endian, with one requantisation per row.
///
/// Row `r` maps an `i16` input vector `x` to `Requant{mult[r], shift[r]}.apply(Σ_c W[r][c]·x[c])`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QMatrix<'a> {
    /// Number of rows.
    pub rows: u16,
    /// Number of columns.
    pub cols: u16,
    /// Element type of `data`.
    pub wtype: WeightType,
    /// `rows·cols·wtype.bytes()` bytes, row-major.
    pub data: &'a [u8],
    /// `rows` × `i32` LE: [`Requant::mult`] of each row.
    pub mult: &'a [u8],
    /// `rows` × `i8`: [`Requant::shift`] of each row.
    pub shift: &'a [u8],
}

impl<'a> QMatrix<'a> {
    /// Requantisation of row `r` (zero multiplier when out of range).
    #[inline]
    pub fn requant(&self, r: usize) -> Requant {
        Requant {
            mult: blob::i32_at(self.mult, r),
            shift: blob::i8_at(self.shift, r),
        }
    }

    /// The weight bytes of row `r` (empty when out of range).
    #[inline]
    pub fn row_bytes(&self, r: usize) -> &'a [u8] {
        let w = self.cols as usize * self.wtype.bytes();
        blob::sub(self.data, r, 1, w)
    }

    /// Raw accumulator `Σ_c W[r][c]·x[c]` of row `r` (see [`crate::kernels`] for bounds).
    #[inline]
    pub fn dot_row(&self, r: usize, x: &[i16]) -> i64 {
        crate::kernels::dot(self.wtype, self.row_bytes(r), x)
    }

    /// Requantised output of row `r`: `requant(r).apply(dot_row(r, x))`.
    #[inline]
    pub fn row_output(&self, r: usize, x: &[i16]) -> i32 {
        self.requant(r).apply(self.dot_row(r, x))
    }

    /// Bytes of flash this matrix occupies (weights and requantisation).
    pub fn size_bytes(&self) -> usize {
        self.data.len() + self.mult.len() + self.shift.len()
    }
}

/// The switching-linear estimator in its folded, quantised device form.
///
/// Per bin, with counts `y` (N of them): `g = table(y)`, `k = select(a)`,
/// `a ← A_k a + B_k g + b_k` (saturating `i16`), log-rates `C a + c` on demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct JsldsSection<'a> {
    /// Latent dimension `d`.
    pub latent: u16,
    /// Number of regimes `K`.
    pub regimes: u16,
    /// Real value of one latent LSB: `a_real = a_q · state_scale`.
    pub state_scale: f32,
    /// Real value of one input LSB: `g_real = g_q · input_scale`.
    pub input_scale: f32,
    /// Real value of one log-rate LSB.
    pub log_rate_scale: f32,
    /// `i16` LE, `g_q(count)` for count = 0..=max; larger counts use the last entry.
    pub input_table: &'a [u8],
    /// Regime selection rule.
    #[serde(borrow)]
    pub selection: Selection<'a>,
    /// `A`: rows `K·d`, cols `d` (row `k·d+i` = row `i` of `A_k`), to state scale.
    #[serde(borrow)]
    pub dynamics: QMatrix<'a>,
    /// `B`: rows `K·d`, cols `N`, to state scale.
    #[serde(borrow)]
    pub input_gain: QMatrix<'a>,
    /// `b`: `K·d` × `i16` LE, in state scale.
    pub offset: &'a [u8],
    /// `C`: rows `N`, cols `d`, to log-rate scale.
    #[serde(borrow)]
    pub readout: QMatrix<'a>,
    /// `c`: `N` × `i16` LE, in log-rate scale.
    pub readout_bias: &'a [u8],
    /// `m`: a new regime must hold `m` bins before it is reported (0 = report at once).
    pub hysteresis: u16,
    /// `K` names separated by `'\n'`, or `""` for unnamed regimes.
    pub regime_names: &'a str,
    /// The same system in f32 real units, for host-side checks.
    #[serde(borrow)]
    pub reference: Option<JsldsReference<'a>>,
}

/// Regime selection rule, evaluated on the previous state `a_{t-1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Selection<'a> {
    /// `k = argmin_k |a − e_k|²` (ties: lowest k). `K·d` × `i16` LE in state scale.
    Nearest {
        /// Expansion points `e_k`, row-major `K × d`.
        points: &'a [u8],
    },
    /// `k = argmax_k (W a + b)_k` (ties: lowest k). `W`: rows K, cols d, requantised to a common
    /// score scale; `bias`: K × `i16` LE in that scale.
    Gate {
        /// Gate weights.
        #[serde(borrow)]
        weights: QMatrix<'a>,
        /// Gate bias.
        bias: &'a [u8],
    },
}

/// The same system in f32 real units; every blob is f32 LE with the layout of its quantised
/// counterpart. The selection fields of the rule not in use are empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsldsReference<'a> {
    /// `g(count)` for count = 0..=max (same length as the quantised table).
    pub input_table: &'a [u8],
    /// `K·d` expansion points (Nearest) or empty.
    pub points: &'a [u8],
    /// `K·d` gate weights (Gate) or empty.
    pub gate_weights: &'a [u8],
    /// `K` gate biases (Gate) or empty.
    pub gate_bias: &'a [u8],
    /// `K·d·d`, row `k·d+i` = row `i` of `A_k`.
    pub dynamics: &'a [u8],
    /// `K·d·N`.
    pub input_gain: &'a [u8],
    /// `K·d`.
    pub offset: &'a [u8],
    /// `N·d`.
    pub readout: &'a [u8],
    /// `N`.
    pub readout_bias: &'a [u8],
}

impl JsldsSection<'_> {
    /// RAM in bytes that the device estimator state needs for this model when compiled with
    /// exactly-fitting capacities (`D = latent`, `N = neurons`): the `i16` state and its
    /// double buffer (`4·d`), the `i16` input vector (`2·N`), the hysteresis/bookkeeping
    /// words (8) and the fixed-size cache of nearest-point norms that lets a step skip
    /// `Σ e_k²` (136, present in every estimator). The borrowed model itself stays in flash
    /// and is not counted, nor are the few pointers of the borrowed section view (their size
    /// depends on the target).
    pub fn state_ram_bytes(&self) -> usize {
        let d = self.latent as usize;
        let n = self.input_gain.cols as usize;
        4 * d + 2 * n + 8 + crate::estimator::SELECTION_CACHE_BYTES
    }

    /// Name of regime `k`, if the file names its regimes.
    pub fn regime_name(&self, k: usize) -> Option<&str> {
        if self.regime_names.is_empty() {
            return None;
        }
        self.regime_names.split('\n').nth(k)
    }

    /// Input-table entry for `count`, saturating at the last entry.
    #[inline]
    pub fn input_q(&self, count: u16) -> i16 {
        let len = self.input_table.len() / 2;
        let i = (count as usize).min(len.saturating_sub(1));
        blob::i16_at(self.input_table, i)
    }

    /// Bytes of flash the quantised section's tensors occupy.
    pub fn weight_bytes(&self) -> usize {
        let sel = match self.selection {
            Selection::Nearest { points } => points.len(),
            Selection::Gate { weights, bias } => weights.size_bytes() + bias.len(),
        };
        self.input_table.len()
            + sel
            + self.dynamics.size_bytes()
            + self.input_gain.size_bytes()
            + self.offset.len()
            + self.readout.size_bytes()
            + self.readout_bias.len()
    }
}
