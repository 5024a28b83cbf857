//! The TAVRNN section (format 1.1): the graph encoder's mean path in its quantised device
//! form, appended after the 1.0 body as `Option<TavrnnSection>`.
//!
//! Every dense layer is a [`QLayer`]: a [`QMatrix`] whose rows are the layer's **outputs**
//! (the transpose of the trainer's `[in, out]` layout) plus an `i16` bias in the output's
//! format. Fixed activation formats: the hidden state, the gates and the ring are Q15
//! (`1.0 = 32768`, saturated), gate pre-activations and the attention scores Q12 (the input
//! format of [`crate::lut`]); the other activations have calibrated scales stored as `f32`
//! (real value of one LSB), used only by hosts to dequantise. `docs/FORMAT.md` §6 is the
//! byte-level specification.

use serde::{Deserialize, Serialize};

use super::body::QMatrix;
use super::error::ModelError;
use super::validate::{blob, dim, name_count, qmatrix_named, scale};
use crate::blob as b;
use crate::fixed::{Requant, SHIFT_MAX, SHIFT_MIN};
use crate::graph::{GraphSettings, Symmetrise, TopK};

/// Largest hidden width `H` of the TAVRNN section.
pub const MAX_TAVRNN_HIDDEN: usize = 64;
/// Largest latent size (embedding width per node).
pub const MAX_TAVRNN_LATENT: usize = 32;
/// Largest `d_phi` (width of `phi_x` and of `phi_z`).
pub const MAX_TAVRNN_PHI: usize = 32;
/// Largest encoder width `d_enc`.
pub const MAX_TAVRNN_ENC: usize = 64;
/// Largest attention window `w`.
pub const MAX_TAVRNN_WINDOW: usize = 16;
/// Largest number of behaviour classes.
pub const MAX_TAVRNN_CLASSES: usize = 64;

/// A dense layer `out = W x + bias`: `weights` rows = outputs, `bias` `rows × i16` LE in the
/// output's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QLayer<'a> {
    /// Weights and per-output requantisation.
    #[serde(borrow)]
    pub weights: QMatrix<'a>,
    /// `rows × i16` LE.
    pub bias: &'a [u8],
}

/// A dense layer in f32: `weights` `rows × cols` row-major (rows = outputs), `bias` `rows`,
/// both f32 LE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FLayer<'a> {
    /// `rows · cols` f32 LE.
    pub weights: &'a [u8],
    /// `rows` f32 LE.
    pub bias: &'a [u8],
}

/// The device TAVRNN (mean path, one step per window) and its behaviour classifier.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TavrnnSection<'a> {
    /// Hidden width `H` per node.
    pub hidden: u16,
    /// Latent size per node (the embedding is `neurons · latent` values).
    pub latent: u16,
    /// Width `d_phi` of `phi_x` and `phi_z`.
    pub phi: u16,
    /// Encoder width `d_enc`.
    pub enc: u16,
    /// Attention window `w` (states attended over, the newest included).
    pub window: u16,
    /// Graph window length in bins.
    pub window_bins: u16,
    /// Bins between window starts.
    pub step_bins: u16,
    /// Edge threshold `ceil(theta · 2^30)` on `|R|` in Q1.30 (`docs/GRAPH.md` §3).
    pub theta_q30: u32,
    /// Top-k per node (0: none).
    pub top_k: u16,
    /// Top-k selections combined by intersection (`true`) or union.
    pub top_k_intersection: bool,
    /// Number of behaviour classes.
    pub classes: u16,
    /// Real value of one LSB of `phi_x`.
    pub phi_x_scale: f32,
    /// ... of the encoder activation `E`.
    pub enc_scale: f32,
    /// ... of the node means `mu` (the embedding).
    pub mu_scale: f32,
    /// ... of `phi_z`.
    pub phi_z_scale: f32,
    /// ... of the attention query.
    pub query_scale: f32,
    /// ... of the attention keys.
    pub key_scale: f32,
    /// ... of the classifier scores.
    pub score_scale: f32,
    /// Requantisation of `q · k` (exact `i64`) to the Q12 attention score `q·k / sqrt(H)`.
    pub attn_mult: i32,
    /// Its shift, `-31..=30`.
    pub attn_shift: i8,
    /// `ReLU(W_x + b_x)` of every node (identity features): `nodes × phi` `i16` LE.
    pub phi_x: &'a [u8],
    /// `E = ReLU((Â [phi_x || h]) W_e + b_e)`: rows `enc`, cols `phi + H`.
    #[serde(borrow)]
    pub encoder_hidden: QLayer<'a>,
    /// `mu = (Â E) W_mu + b_mu`: rows `latent`, cols `enc`.
    #[serde(borrow)]
    pub encoder_mu: QLayer<'a>,
    /// `phi_z = ReLU(mu W_z + b_z)`: rows `phi`, cols `latent`.
    #[serde(borrow)]
    pub phi_z: QLayer<'a>,
    /// GRU input gates `r | u | c` on `Â [phi_x || phi_z]`: rows `3H`, cols `2 phi`, Q12 out.
    #[serde(borrow)]
    pub gru_input: QLayer<'a>,
    /// GRU hidden gates `r | u` on `Â h`: rows `2H`, cols `H`, Q12 out.
    #[serde(borrow)]
    pub gru_hidden_ru: QLayer<'a>,
    /// GRU candidate on `Â (r * h)`: rows `H`, cols `H`, Q12 out.
    #[serde(borrow)]
    pub gru_hidden_c: QLayer<'a>,
    /// Attention query at the history node: rows `H`, cols `H`.
    #[serde(borrow)]
    pub query: QLayer<'a>,
    /// Attention key at the history node: rows `H`, cols `H`.
    #[serde(borrow)]
    pub key: QLayer<'a>,
    /// Attention value on the mixed state, Q12 out (then `tanh`): rows `H`, cols `H`.
    #[serde(borrow)]
    pub value: QLayer<'a>,
    /// Behaviour classifier on the embedding: rows `classes`, cols `neurons · latent`.
    #[serde(borrow)]
    pub classifier: QLayer<'a>,
    /// `classes` names separated by `'\n'`, or `""`.
    pub class_names: &'a str,
    /// The same model in f32, for host-side checks.
    #[serde(borrow)]
    pub reference: Option<TavrnnReference<'a>>,
}

/// The TAVRNN in f32 real units, layer by layer with the layout of the quantised layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TavrnnReference<'a> {
    /// `nodes × phi` f32 LE.
    pub phi_x: &'a [u8],
    /// As [`TavrnnSection::encoder_hidden`].
    #[serde(borrow)]
    pub encoder_hidden: FLayer<'a>,
    /// As [`TavrnnSection::encoder_mu`].
    #[serde(borrow)]
    pub encoder_mu: FLayer<'a>,
    /// As [`TavrnnSection::phi_z`].
    #[serde(borrow)]
    pub phi_z: FLayer<'a>,
    /// As [`TavrnnSection::gru_input`].
    #[serde(borrow)]
    pub gru_input: FLayer<'a>,
    /// As [`TavrnnSection::gru_hidden_ru`].
    #[serde(borrow)]
    pub gru_hidden_ru: FLayer<'a>,
    /// As [`TavrnnSection::gru_hidden_c`].
    #[serde(borrow)]
    pub gru_hidden_c: FLayer<'a>,
    /// As [`TavrnnSection::query`].
    #[serde(borrow)]
    pub query: FLayer<'a>,
    /// As [`TavrnnSection::key`].
    #[serde(borrow)]
    pub key: FLayer<'a>,
    /// As [`TavrnnSection::value`].
    #[serde(borrow)]
    pub value: FLayer<'a>,
    /// As [`TavrnnSection::classifier`].
    #[serde(borrow)]
    pub classifier: FLayer<'a>,
}

/// The dimensions of a validated section, as `usize`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TavrnnDims {
    /// Neurons `N`.
    pub neurons: usize,
    /// Nodes `N + 1` (the history node is the last).
    pub nodes: usize,
    /// `H`.
    pub hidden: usize,
    /// Latent size.
    pub latent: usize,
    /// `d_phi`.
    pub phi: usize,
    /// `d_enc`.
    pub enc: usize,
    /// Attention window `w`.
    pub window: usize,
    /// Classes.
    pub classes: usize,
}

impl TavrnnSection<'_> {
    /// The dimensions for a model of `neurons` neurons (unvalidated values as stored).
    pub fn dims(&self, neurons: usize) -> TavrnnDims {
        TavrnnDims {
            neurons,
            nodes: neurons + 1,
            hidden: self.hidden as usize,
            latent: self.latent as usize,
            phi: self.phi as usize,
            enc: self.enc as usize,
            window: self.window as usize,
            classes: self.classes as usize,
        }
    }

    /// The graph settings of the device's window graph (threshold, top-k, history node).
    pub fn graph_settings(&self) -> GraphSettings {
        GraphSettings {
            theta_q30: self.theta_q30.min(1 << 30) as i32,
            top_k: (self.top_k > 0).then_some(TopK {
                k: self.top_k,
                symmetrise: if self.top_k_intersection {
                    Symmetrise::Intersection
                } else {
                    Symmetrise::Union
                },
            }),
            history_node: true,
        }
    }

    /// The attention score requantisation.
    pub fn attn_requant(&self) -> Requant {
        Requant {
            mult: self.attn_mult,
            shift: self.attn_shift,
        }
    }

    /// Name of class `k`, if the file names its classes.
    pub fn class_name(&self, k: usize) -> Option<&str> {
        if self.class_names.is_empty() {
            return None;
        }
        self.class_names.split('\n').nth(k)
    }

    /// The quantised layers with their field names, in file order.
    pub fn layers(&self) -> [(&'static str, &QLayer<'_>); 10] {
        let layers = self.layer_refs();
        core::array::from_fn(|i| (LAYER_FIELDS[i], layers[i]))
    }

    /// The quantised layers in file order (their names: [`LAYER_FIELDS`]).
    fn layer_refs(&self) -> [&QLayer<'_>; 10] {
        [
            &self.encoder_hidden,
            &self.encoder_mu,
            &self.phi_z,
            &self.gru_input,
            &self.gru_hidden_ru,
            &self.gru_hidden_c,
            &self.query,
            &self.key,
            &self.value,
            &self.classifier,
        ]
    }

    /// Bytes of flash the quantised tensors occupy.
    pub fn weight_bytes(&self) -> usize {
        self.phi_x.len()
            + self
                .layers()
                .iter()
                .map(|(_, l)| l.weights.size_bytes() + l.bias.len())
                .sum::<usize>()
    }

    /// The `i16` value of `phi_x` for node `i`, column `c`.
    #[inline]
    pub fn phi_x_q(&self, i: usize, c: usize) -> i16 {
        b::i16_at(self.phi_x, i * self.phi as usize + c)
    }
}

/// Field paths of the quantised layers, in file order.
const LAYER_FIELDS: [&str; 10] = [
    "tavrnn.encoder_hidden",
    "tavrnn.encoder_mu",
    "tavrnn.phi_z",
    "tavrnn.gru_input",
    "tavrnn.gru_hidden_ru",
    "tavrnn.gru_hidden_c",
    "tavrnn.query",
    "tavrnn.key",
    "tavrnn.value",
    "tavrnn.classifier",
];

/// Field paths of the activation scales, in file order.
const SCALE_FIELDS: [&str; 7] = [
    "tavrnn.phi_x_scale",
    "tavrnn.enc_scale",
    "tavrnn.mu_scale",
    "tavrnn.phi_z_scale",
    "tavrnn.query_scale",
    "tavrnn.key_scale",
    "tavrnn.score_scale",
];

/// `(rows, cols)` of each layer, in [`TavrnnSection::layers`] order.
pub fn layer_shapes(d: &TavrnnDims) -> [(usize, usize); 10] {
    let h = d.hidden;
    [
        (d.enc, d.phi + h),
        (d.latent, d.enc),
        (d.phi, d.latent),
        (3 * h, 2 * d.phi),
        (2 * h, h),
        (h, h),
        (h, h),
        (h, h),
        (h, h),
        (d.classes, d.neurons * d.latent),
    ]
}

/// Validates a TAVRNN section for a model of `neurons` neurons.
pub fn validate_tavrnn(t: &TavrnnSection<'_>, neurons: usize) -> Result<(), ModelError> {
    // Embedding rows of the classifier are `neurons · latent` wide; QMatrix cols are u16.
    let n = dim("meta.neurons", neurons, 1, 1024)?;
    dim("tavrnn.hidden", t.hidden as usize, 2, MAX_TAVRNN_HIDDEN)?;
    if !t.hidden.is_multiple_of(2) {
        return Err(ModelError::Value {
            field: "tavrnn.hidden",
            problem: "hidden width must be even (the ring packs two 4-bit values a byte)",
        });
    }
    dim("tavrnn.latent", t.latent as usize, 1, MAX_TAVRNN_LATENT)?;
    dim("tavrnn.phi", t.phi as usize, 1, MAX_TAVRNN_PHI)?;
    dim("tavrnn.enc", t.enc as usize, 1, MAX_TAVRNN_ENC)?;
    dim("tavrnn.window", t.window as usize, 1, MAX_TAVRNN_WINDOW)?;
    dim(
        "tavrnn.window_bins",
        t.window_bins as usize,
        2,
        u16::MAX as usize,
    )?;
    dim(
        "tavrnn.step_bins",
        t.step_bins as usize,
        1,
        u16::MAX as usize,
    )?;
    dim("tavrnn.theta_q30", t.theta_q30 as usize, 0, 1 << 30)?;
    dim("tavrnn.top_k", t.top_k as usize, 0, n)?;
    let k = dim("tavrnn.classes", t.classes as usize, 1, MAX_TAVRNN_CLASSES)?;
    dim(
        "tavrnn.embedding",
        n * t.latent as usize,
        1,
        u16::MAX as usize,
    )?;
    // Names and values zipped from two arrays (not an array of pairs built on the stack).
    let scales = [
        t.phi_x_scale,
        t.enc_scale,
        t.mu_scale,
        t.phi_z_scale,
        t.query_scale,
        t.key_scale,
        t.score_scale,
    ];
    for (field, s) in SCALE_FIELDS.into_iter().zip(scales) {
        scale(field, s)?;
    }
    if !(SHIFT_MIN..=SHIFT_MAX).contains(&t.attn_shift) {
        return Err(ModelError::Shift {
            field: "tavrnn.attn_shift",
            row: 0,
            shift: t.attn_shift,
        });
    }
    let d = t.dims(n);
    blob("tavrnn.phi_x", t.phi_x, d.nodes * d.phi * 2)?;
    let shapes = layer_shapes(&d);
    for ((field, layer), (rows, cols)) in LAYER_FIELDS.into_iter().zip(t.layer_refs()).zip(shapes) {
        qmatrix_named(&layer.weights, rows, cols, field)?;
        blob(field, layer.bias, rows * 2)?;
    }
    if !t.class_names.is_empty() {
        let got = name_count(t.class_names);
        if got != k {
            return Err(ModelError::Names { expected: k, got });
        }
    }
    if let Some(r) = &t.reference {
        blob("tavrnn.reference.phi_x", r.phi_x, d.nodes * d.phi * 4)?;
        let layers = [
            &r.encoder_hidden,
            &r.encoder_mu,
            &r.phi_z,
            &r.gru_input,
            &r.gru_hidden_ru,
            &r.gru_hidden_c,
            &r.query,
            &r.key,
            &r.value,
            &r.classifier,
        ];
        for (l, (rows, cols)) in layers.into_iter().zip(layer_shapes(&d)) {
            blob(
                "tavrnn.reference (layer weights)",
                l.weights,
                rows * cols * 4,
            )?;
            blob("tavrnn.reference (layer bias)", l.bias, rows * 4)?;
        }
    }
    Ok(())
}
