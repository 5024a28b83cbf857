//! A hand-built switching linear system of any size, its quantised model file, and a count
//! stream simulated from known regimes. Used where a test needs a realistic model without
//! training one (the device-cost figures are quoted for N = 64, d = 16, K = 8).
//!
//! The system: K expansion points `e_k` on distinct pairs of latent axes; regime `k` is a
//! damped rotation around `e_k` (`A_k = 0.85 R(theta_k)` on its own plane, 0.85 elsewhere);
//! neuron group `j` (N/K neurons) pushes the state towards `e_j`; the offset folds in the
//! fixed point and the mean input, as the exporter's folded form does. Counts come from a
//! hidden regime sequence (segments of 30..120 bins): the active group fires at a high rate,
//! the others at a low one, so the estimator's regime follows the hidden one with switches.

use neuroloop_core::fixed::Requant;
use neuroloop_core::{encode_model, JsldsSection, Meta, ModelBody, QMatrix, Selection, WeightType};

/// Largest count the input table covers (larger counts saturate to the last entry).
pub const TABLE_MAX: usize = 31;

/// A small deterministic generator (SplitMix64), so tests need no RNG crate and are
/// reproducible on every machine.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Poisson sample (Knuth; fine for the small rates used here).
    pub fn poisson(&mut self, lambda: f64) -> u16 {
        let l = (-lambda).exp();
        let mut k = 0u16;
        let mut p = 1.0;
        loop {
            p *= self.uniform();
            if p <= l {
                return k;
            }
            k = k.saturating_add(1);
        }
    }
}

/// The f32 system in the contract's folded layout (row-major, real units).
#[derive(Debug, Clone)]
pub struct HandSystem {
    /// Latent dimension d.
    pub d: usize,
    /// Regimes K.
    pub k: usize,
    /// Neurons N.
    pub n: usize,
    /// g(count) for count = 0..=TABLE_MAX.
    pub table: Vec<f32>,
    /// Expansion points, K x d.
    pub points: Vec<f32>,
    /// Dynamics, (K*d) x d.
    pub a: Vec<f32>,
    /// Input gain, (K*d) x N.
    pub b: Vec<f32>,
    /// Offsets, K*d.
    pub offset: Vec<f32>,
    /// Readout, N x d.
    pub c: Vec<f32>,
    /// Readout bias, N.
    pub cb: Vec<f32>,
    /// Hysteresis m.
    pub hysteresis: u16,
}

/// Rates (counts a bin) of the active and the silent neuron groups.
const RATE_ACTIVE: f64 = 5.0;
const RATE_QUIET: f64 = 0.4;

/// Builds the system (with `d < 2K` the regime planes wrap around and share axes).
pub fn system(n: usize, d: usize, k: usize, hysteresis: u16, seed: u64) -> HandSystem {
    assert!(n >= k && d >= 2 && k >= 2, "need N >= K, d >= 2, K >= 2");
    let mut rng = SplitMix::new(seed);
    let table: Vec<f32> = (0..=TABLE_MAX).map(|c| (c as f32).sqrt()).collect();
    let axes = |kk: usize| ((2 * kk) % d, (2 * kk + 1) % d);
    let mut points = vec![0f32; k * d];
    for kk in 0..k {
        let (i, j) = axes(kk);
        points[kk * d + i] = 1.5;
        points[kk * d + j] = 1.0;
    }
    let group = |neuron: usize| neuron * k / n;
    // Mean input of a neuron: the active rate 1/K of the time.
    let mean_g = {
        let mean_sqrt = |lambda: f64| {
            // E[sqrt(Poisson(lambda))] by summing the pmf.
            let mut p = (-lambda).exp();
            let mut s = 0.0;
            for c in 0..=TABLE_MAX {
                s += p * (c as f64).sqrt();
                p *= lambda / (c + 1) as f64;
            }
            s
        };
        (mean_sqrt(RATE_ACTIVE) + (k as f64 - 1.0) * mean_sqrt(RATE_QUIET)) / k as f64
    };
    let mut a = vec![0f32; k * d * d];
    let mut b = vec![0f32; k * d * n];
    let mut offset = vec![0f32; k * d];
    for kk in 0..k {
        let theta = 0.05 + 0.03 * kk as f32;
        let (i, j) = axes(kk);
        let base = kk * d * d;
        for r in 0..d {
            a[base + r * d + r] = 0.85;
        }
        a[base + i * d + i] = 0.85 * theta.cos();
        a[base + i * d + j] = -0.85 * theta.sin();
        a[base + j * d + i] = 0.85 * theta.sin();
        a[base + j * d + j] = 0.85 * theta.cos();
        for r in 0..d {
            for col in 0..n {
                let (gi, gj) = axes(group(col));
                let w = if r == gi {
                    0.12
                } else if r == gj {
                    0.08
                } else {
                    0.0
                };
                b[(kk * d + r) * n + col] = w + (rng.uniform() as f32 - 0.5) * 0.01;
            }
        }
        // Fold: b_k = (I - A_k) e_k - B_k * mean(g), so without input deviations the state
        // relaxes to e_k.
        for r in 0..d {
            let mut v = points[kk * d + r];
            for col in 0..d {
                v -= a[base + r * d + col] * points[kk * d + col];
            }
            let bsum: f32 = (0..n).map(|col| b[(kk * d + r) * n + col]).sum();
            offset[kk * d + r] = v - bsum * mean_g as f32;
        }
    }
    let c: Vec<f32> = (0..n * d)
        .map(|_| (rng.uniform() as f32 - 0.5) * 0.4)
        .collect();
    let cb: Vec<f32> = (0..n).map(|_| (rng.uniform() as f32 - 0.5) * 2.0).collect();
    HandSystem {
        d,
        k,
        n,
        table,
        points,
        a,
        b,
        offset,
        c,
        cb,
        hysteresis,
    }
}

/// Simulated counts (T x N, row-major) and the hidden regime of each bin.
pub fn counts(sys: &HandSystem, bins: usize, seed: u64) -> (Vec<u16>, Vec<u8>) {
    let mut rng = SplitMix::new(seed);
    let mut out = Vec::with_capacity(bins * sys.n);
    let mut hidden = Vec::with_capacity(bins);
    let mut regime = 0usize;
    let mut left = 0usize;
    for _ in 0..bins {
        if left == 0 {
            regime = (regime + 1 + (rng.next_u64() % (sys.k as u64 - 1)) as usize) % sys.k;
            left = 30 + (rng.next_u64() % 91) as usize;
        }
        left -= 1;
        for neuron in 0..sys.n {
            let rate = if neuron * sys.k / sys.n == regime {
                RATE_ACTIVE
            } else {
                RATE_QUIET
            };
            out.push(rng.poisson(rate));
        }
        hidden.push(regime as u8);
    }
    (out, hidden)
}

/// A quantised matrix with owned blobs.
#[derive(Debug, Clone)]
pub struct OwnedQMatrix {
    rows: usize,
    cols: usize,
    wtype: WeightType,
    data: Vec<u8>,
    mult: Vec<u8>,
    shift: Vec<u8>,
}

impl OwnedQMatrix {
    /// Per-row symmetric quantisation of `w` (rows x cols), inputs of scale `s_in` to outputs
    /// of scale `s_out`.
    pub fn quantise(
        w: &[f32],
        rows: usize,
        cols: usize,
        s_in: f64,
        s_out: f64,
        wtype: WeightType,
    ) -> Self {
        let qmax = match wtype {
            WeightType::I8 => 127.0,
            WeightType::I16 => 32767.0,
        };
        let (mut data, mut mult, mut shift) = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..rows {
            let row = &w[r * cols..(r + 1) * cols];
            let max = row.iter().fold(0f64, |m, &v| m.max(f64::from(v).abs()));
            let ws = if max > 0.0 { max / qmax } else { 1.0 };
            for &v in row {
                let q = (f64::from(v) / ws).round() as i64;
                match wtype {
                    WeightType::I8 => data.push(q as i8 as u8),
                    WeightType::I16 => data.extend_from_slice(&(q as i16).to_le_bytes()),
                }
            }
            let rq = Requant::from_f64(ws * s_in / s_out).expect("finite multiplier");
            mult.extend_from_slice(&rq.mult.to_le_bytes());
            shift.push(rq.shift as u8);
        }
        OwnedQMatrix {
            rows,
            cols,
            wtype,
            data,
            mult,
            shift,
        }
    }

    /// Borrowed view for the model body.
    pub fn view(&self) -> QMatrix<'_> {
        QMatrix {
            rows: self.rows as u16,
            cols: self.cols as u16,
            wtype: self.wtype,
            data: &self.data,
            mult: &self.mult,
            shift: &self.shift,
        }
    }
}

fn q16(v: &[f32], scale: f64) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| {
            ((f64::from(x) / scale).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes()
        })
        .collect()
}

/// Quantises `sys` (state Q12, input Q12, log-rates Q10; A in int16, B and C in int8, the
/// per-tensor choice the exporter typically makes for these ranges) and encodes the model
/// file, without the f32 reference section (a device file).
pub fn model_file(sys: &HandSystem, name: &str) -> Vec<u8> {
    let ss = 1.0 / 4096.0;
    let is = 1.0 / 4096.0;
    let ls = 1.0 / 1024.0;
    let (d, k, n) = (sys.d, sys.k, sys.n);
    let table = q16(&sys.table, is);
    let points = q16(&sys.points, ss);
    let a = OwnedQMatrix::quantise(&sys.a, k * d, d, ss, ss, WeightType::I16);
    let b = OwnedQMatrix::quantise(&sys.b, k * d, n, is, ss, WeightType::I8);
    let off = q16(&sys.offset, ss);
    let c = OwnedQMatrix::quantise(&sys.c, n, d, ss, ls, WeightType::I8);
    let cb = q16(&sys.cb, ls);
    let names = (0..k)
        .map(|i| format!("regime{i}"))
        .collect::<Vec<_>>()
        .join("\n");
    let body = ModelBody {
        meta: Meta {
            name,
            neurons: n as u16,
            bin_us: 10_000,
        },
        jslds: Some(JsldsSection {
            latent: d as u16,
            regimes: k as u16,
            state_scale: ss as f32,
            input_scale: is as f32,
            log_rate_scale: ls as f32,
            input_table: &table,
            selection: Selection::Nearest { points: &points },
            dynamics: a.view(),
            input_gain: b.view(),
            offset: &off,
            readout: c.view(),
            readout_bias: &cb,
            hysteresis: sys.hysteresis,
            regime_names: &names,
            reference: None,
        }),
    };
    let mut buf = vec![0u8; 1 << 20];
    let len = encode_model(&body, &mut buf).expect("the hand-built model encodes");
    buf.truncate(len);
    buf
}

/// Counts as the firmware embeds them: u16 little-endian, row-major.
pub fn counts_bytes(counts: &[u16]) -> Vec<u8> {
    counts.iter().flat_map(|c| c.to_le_bytes()).collect()
}
