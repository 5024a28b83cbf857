//! The f32 reference TAVRNN: the same step logic over the `reference` layers, in real units,
//! with a full-precision ring. It separates quantisation error from implementation error.

use super::error::TavrnnError;
use super::fixed::checked_section;
use super::step::{scratch_len, Backend, Layer, StepCore, WindowOutput};
use core::cell::Cell;

use crate::blob::{self, f32_at};
use crate::format::{FLayer, Model, ModelError, TavrnnDims, TavrnnReference};
use crate::graph::WindowGraph;
use crate::kernels::{unpack_neighbor, Neighbors};

/// The `RING` capacity (f32 values) a [`ReferenceTavrnn`] needs.
pub const fn ring_len_f32(nodes: usize, hidden: usize, window: usize) -> usize {
    window * nodes * hidden
}

/// f32 backend over the reference layers.
#[derive(Debug, Clone)]
pub(crate) struct FloatBackend<'m> {
    r: TavrnnReference<'m>,
    d: TavrnnDims,
    inv_sqrt_h: f32,
    /// Largest `|output|` of each dense layer seen (before activations), for calibration.
    ranges: Cell<LayerRanges>,
}

/// Largest `|W x + b|` of each dense layer seen by a [`ReferenceTavrnn`] since its creation
/// (or [`ReferenceTavrnn::clear_ranges`]): what the exporter calibrates the activation
/// scales on.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LayerRanges {
    /// Encoder hidden `E` (before ReLU).
    pub enc: f32,
    /// `mu`.
    pub mu: f32,
    /// `phi_z` (before ReLU).
    pub phi_z: f32,
    /// GRU input gates.
    pub gru_input: f32,
    /// GRU hidden gates r, u.
    pub gru_hidden_ru: f32,
    /// GRU candidate hidden part.
    pub gru_hidden_c: f32,
    /// Attention query.
    pub query: f32,
    /// Attention keys.
    pub key: f32,
    /// Attention value (before tanh).
    pub value: f32,
    /// Classifier scores.
    pub score: f32,
    /// Attention scores `q · k / sqrt(H)`.
    pub attn: f32,
}

impl LayerRanges {
    fn slot(&mut self, l: Layer) -> &mut f32 {
        match l {
            Layer::EncHidden => &mut self.enc,
            Layer::EncMu => &mut self.mu,
            Layer::PhiZ => &mut self.phi_z,
            Layer::GruIn => &mut self.gru_input,
            Layer::GruRu => &mut self.gru_hidden_ru,
            Layer::GruC => &mut self.gru_hidden_c,
            Layer::Query => &mut self.query,
            Layer::Key => &mut self.key,
            Layer::Value => &mut self.value,
            Layer::Classifier => &mut self.score,
        }
    }
}

impl<'m> FloatBackend<'m> {
    /// `acc += Â_ij · v` with `Â_ij` in Q1.14.
    #[inline(always)]
    fn acc(acc: &mut f32, a_q14: i16, v: f32) {
        *acc += a_q14 as f32 / 16384.0 * v;
    }

    fn layer(&self, l: Layer) -> (&FLayer<'m>, usize) {
        let (r, d) = (&self.r, &self.d);
        let (h, phi) = (d.hidden, d.phi);
        match l {
            Layer::EncHidden => (&r.encoder_hidden, phi + h),
            Layer::EncMu => (&r.encoder_mu, d.enc),
            Layer::PhiZ => (&r.phi_z, d.latent),
            Layer::GruIn => (&r.gru_input, 2 * phi),
            Layer::GruRu => (&r.gru_hidden_ru, h),
            Layer::GruC => (&r.gru_hidden_c, h),
            Layer::Query => (&r.query, h),
            Layer::Key => (&r.key, h),
            Layer::Value => (&r.value, h),
            Layer::Classifier => (&r.classifier, d.neurons * d.latent),
        }
    }
}

impl Backend for FloatBackend<'_> {
    type V = f32;
    type Acc = f32;
    type Cell = f32;

    fn dims(&self) -> &TavrnnDims {
        &self.d
    }
    fn ring_row_cells(&self) -> usize {
        self.d.hidden
    }
    /// Column by column, each sum from `0.0` (or the batch before) in neighbour order: the
    /// same `f32` operations, in the same order, as adding neighbour by neighbour.
    fn prop(&self, nb: &Neighbors<'_>, x: &[f32], width: usize, acc: &mut [f32], first: bool) {
        for (c, out) in acc.iter_mut().enumerate() {
            let mut s = if first { 0.0 } else { *out };
            for &e in nb.entries() {
                let (j, w) = unpack_neighbor(e);
                if let Some(&v) = x.get(j * width + c) {
                    Self::acc(&mut s, w, v);
                }
            }
            *out = s;
        }
    }
    fn prop_phi_x(&self, nb: &Neighbors<'_>, acc: &mut [f32], first: bool) {
        let phi = self.d.phi;
        for (c, out) in acc.iter_mut().enumerate() {
            let mut s = if first { 0.0 } else { *out };
            for &e in nb.entries() {
                let (j, w) = unpack_neighbor(e);
                let at = (j * phi + c) * 4;
                if let Some(b) = self.r.phi_x.get(at..).and_then(|b| b.first_chunk::<4>()) {
                    Self::acc(&mut s, w, f32::from_le_bytes(*b));
                }
            }
            *out = s;
        }
    }
    fn finish(&self, acc: &[f32], out: &mut [f32]) {
        for (o, &a) in out.iter_mut().zip(acc) {
            *o = a;
        }
    }
    fn dense(&self, layer: Layer, row0: usize, x: &[f32], out: &mut [f32]) {
        let (l, cols) = self.layer(layer);
        for (i, o) in out.iter_mut().enumerate() {
            let r = row0 + i;
            let w = blob::sub(l.weights, r, 1, 4 * cols);
            let dot: f32 = w
                .chunks_exact(4)
                .zip(x)
                .map(|(b, &xv)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * xv)
                .sum();
            *o = dot + f32_at(l.bias, r);
        }
        let mut ranges = self.ranges.get();
        let slot = ranges.slot(layer);
        *slot = out.iter().fold(*slot, |m, v| m.max(v.abs()));
        self.ranges.set(ranges);
    }
    fn relu(v: f32) -> f32 {
        v.max(0.0)
    }
    fn sigmoid(a: f32, b: f32) -> f32 {
        1.0 / (1.0 + libm::expf(-(a + b)))
    }
    fn tanh(a: f32, b: f32) -> f32 {
        libm::tanhf(a + b)
    }
    fn mul(a: f32, b: f32) -> f32 {
        a * b
    }
    fn blend(c: f32, u: f32, h: f32) -> f32 {
        c + u * (h - c)
    }
    /// Unused: the `f32` ring keeps the values themselves, no scale.
    fn magnitude(_v: f32) -> u32 {
        0
    }
    fn ring_store(&self, _slot: usize, cells: &mut [f32], row: &[f32], _max_abs: u32) {
        for (c, &v) in cells.iter_mut().zip(row) {
            *c = v;
        }
    }
    fn ring_mix(&self, _slot: usize, cells: &[f32], alpha: f32, acc: &mut [f32]) {
        for (a, &v) in acc.iter_mut().zip(cells) {
            *a += alpha * v;
        }
    }
    fn mix_finish(acc: f32) -> f32 {
        acc
    }
    fn score(&self, q: &[f32], k: &[f32]) -> f32 {
        let s = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>() * self.inv_sqrt_h;
        let mut ranges = self.ranges.get();
        ranges.attn = ranges.attn.max(s.abs());
        self.ranges.set(ranges);
        s
    }
    fn softmax(scores: &[f32], alpha: &mut [f32]) {
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for (a, &s) in alpha.iter_mut().zip(scores) {
            *a = libm::expf(s - max);
            sum += *a;
        }
        for a in alpha.iter_mut() {
            *a /= sum;
        }
    }
}

/// f32 reference of [`Tavrnn`](super::Tavrnn): the same step logic over the file's
/// `reference` layers, real units, full-precision ring. `RING` = [`ring_len_f32`], `KEYS` =
/// [`keys_len`](super::keys_len).
#[derive(Debug, Clone)]
pub struct ReferenceTavrnn<'m, const RING: usize, const KEYS: usize> {
    core: StepCore<FloatBackend<'m>, RING, KEYS>,
}

impl<'m, const RING: usize, const KEYS: usize> ReferenceTavrnn<'m, RING, KEYS> {
    /// Errors with [`ModelError::MissingSection`] without `tavrnn.reference`.
    pub fn new(model: &Model<'m>) -> Result<Self, ModelError> {
        let hidden = model.tavrnn().map_or(0, |t| t.hidden as usize);
        let (s, d) = checked_section(model, hidden, RING, KEYS)?;
        let r = s.reference.ok_or(ModelError::MissingSection {
            section: "tavrnn.reference",
        })?;
        Ok(ReferenceTavrnn {
            core: StepCore::new(FloatBackend {
                r,
                d,
                inv_sqrt_h: 1.0 / libm::sqrtf(d.hidden as f32),
                ranges: Cell::new(LayerRanges::default()),
            }),
        })
    }

    /// The model's dimensions.
    pub fn dims(&self) -> &TavrnnDims {
        self.core.backend.dims()
    }

    /// f32s of scratch a step needs.
    pub fn scratch_len(&self) -> usize {
        scratch_len(self.dims())
    }

    /// One window; see [`Tavrnn::step`](super::Tavrnn::step).
    pub fn step<const N: usize, const T: usize>(
        &mut self,
        graph: &WindowGraph<N, T>,
        scratch: &mut [f32],
    ) -> Result<WindowOutput, TavrnnError> {
        self.core.step(graph, scratch)
    }

    /// The window embedding (real units) left in `scratch` by the last step.
    pub fn embedding<'s>(&self, scratch: &'s [f32]) -> &'s [f32] {
        let d = self.dims();
        scratch.get(..d.neurons * d.latent).unwrap_or(&[])
    }

    /// Back to the start of a recording.
    pub fn reset(&mut self) {
        self.core.reset()
    }

    /// Largest layer outputs seen so far (calibration).
    pub fn ranges(&self) -> LayerRanges {
        self.core.backend.ranges.get()
    }

    /// Forgets the ranges seen.
    pub fn clear_ranges(&mut self) {
        self.core.backend.ranges.set(LayerRanges::default())
    }
}
