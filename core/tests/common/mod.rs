//! Test support: a small f32 switching linear system and a straightforward quantiser that
//! turns it into a model body (what the exporter does, minus calibration).
#![allow(dead_code)]

use neuroloop_core::fixed::Requant;
use neuroloop_core::format::{
    Header, JsldsReference, JsldsSection, Meta, ModelBody, QMatrix, Selection, WeightType,
    FORMAT_MAJOR, HEADER_LEN, SCHEMA_FINGERPRINT,
};

/// f32 system in the contract's folded layout.
#[derive(Clone, Debug)]
pub struct System {
    pub d: usize,
    pub k: usize,
    pub n: usize,
    pub table: Vec<f32>,
    pub nearest: bool,
    pub points: Vec<f32>,
    pub gate_w: Vec<f32>,
    pub gate_b: Vec<f32>,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
    pub off: Vec<f32>,
    pub c: Vec<f32>,
    pub cb: Vec<f32>,
    pub hysteresis: u16,
}

/// Two regimes, two latents, four neurons. Regime 0 lives around (-1, 0), regime 1 around
/// (1, 0); neurons 0 and 1 push the state right, neurons 2 and 3 push it left.
pub fn two_regime(nearest: bool, hysteresis: u16) -> System {
    let d = 2;
    let k = 2;
    let n = 4;
    let table: Vec<f32> = (0..16).map(|c| (c as f32).sqrt()).collect();
    let points = vec![-1.0, 0.0, 1.0, 0.0];
    // Gate equivalent to "nearest" for points symmetric about the origin: score_k = e_k · a.
    let gate_w = vec![-1.0, 0.0, 1.0, 0.0];
    let gate_b = vec![0.0, 0.0];
    // A_0 rotates slightly, A_1 is a contraction.
    let a = vec![
        0.8, -0.1, 0.1, 0.8, //
        0.7, 0.0, 0.0, 0.75,
    ];
    let mut b = vec![0.0f32; k * d * n];
    for kk in 0..k {
        let r = kk * d;
        b[r * n..r * n + n].copy_from_slice(&[0.15, 0.1, -0.15, -0.1]);
        b[(r + 1) * n..(r + 1) * n + n].copy_from_slice(&[0.02, -0.02, 0.03, -0.01]);
    }
    let off = vec![-0.2, 0.05, 0.25, -0.05];
    let c = vec![0.5, 0.1, 0.4, -0.2, -0.5, 0.3, -0.3, 0.0];
    let cb = vec![1.0, 0.5, -0.5, 0.0];
    System {
        d,
        k,
        n,
        table,
        nearest,
        points,
        gate_w,
        gate_b,
        a,
        b,
        off,
        c,
        cb,
        hysteresis,
    }
}

pub struct QMat {
    pub rows: usize,
    pub cols: usize,
    pub wtype: WeightType,
    pub data: Vec<u8>,
    pub mult: Vec<u8>,
    pub shift: Vec<u8>,
}

impl QMat {
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

/// Per-row symmetric quantisation of `w` (rows × cols) mapping inputs of scale `s_in` to
/// outputs of scale `s_out`.
pub fn quantise_matrix(
    w: &[f32],
    rows: usize,
    cols: usize,
    s_in: f64,
    s_out: f64,
    wtype: WeightType,
) -> QMat {
    let qmax = match wtype {
        WeightType::I8 => 127.0,
        WeightType::I16 => 32767.0,
    };
    let mut data = Vec::new();
    let mut mult = Vec::new();
    let mut shift = Vec::new();
    for r in 0..rows {
        let row = &w[r * cols..(r + 1) * cols];
        let max = row.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
        let ws = if max > 0.0 { max / qmax } else { 1.0 };
        for &v in row {
            let q = (v as f64 / ws).round() as i64;
            match wtype {
                WeightType::I8 => data.push(q as i8 as u8),
                WeightType::I16 => data.extend_from_slice(&(q as i16).to_le_bytes()),
            }
        }
        let rq = Requant::from_f64(ws * s_in / s_out).unwrap();
        mult.extend_from_slice(&rq.mult.to_le_bytes());
        shift.push(rq.shift as u8);
    }
    QMat {
        rows,
        cols,
        wtype,
        data,
        mult,
        shift,
    }
}

pub fn q16(v: &[f32], scale: f64) -> Vec<u8> {
    v.iter()
        .flat_map(|&x| ((x as f64 / scale).round().clamp(-32768.0, 32767.0) as i16).to_le_bytes())
        .collect()
}

pub fn f32s(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Owned blobs of a quantised system.
pub struct Quantised {
    pub sys: System,
    pub state_scale: f32,
    pub input_scale: f32,
    pub log_rate_scale: f32,
    pub table: Vec<u8>,
    pub points: Vec<u8>,
    pub gate: QMat,
    pub gate_bias: Vec<u8>,
    pub a: QMat,
    pub b: QMat,
    pub off: Vec<u8>,
    pub c: QMat,
    pub cb: Vec<u8>,
    pub names: String,
    pub r_table: Vec<u8>,
    pub r_points: Vec<u8>,
    pub r_gate_w: Vec<u8>,
    pub r_gate_b: Vec<u8>,
    pub r_a: Vec<u8>,
    pub r_b: Vec<u8>,
    pub r_off: Vec<u8>,
    pub r_c: Vec<u8>,
    pub r_cb: Vec<u8>,
}

pub fn quantise(sys: &System, wtype: WeightType) -> Quantised {
    let ss = 1.0 / 4096.0; // state: Q12
    let is = 1.0 / 4096.0; // input: Q12
    let ls = 1.0 / 1024.0; // log-rates: Q10
    let score_scale = ss; // gate scores in state scale
    let (d, k, n) = (sys.d, sys.k, sys.n);
    Quantised {
        sys: sys.clone(),
        state_scale: ss as f32,
        input_scale: is as f32,
        log_rate_scale: ls as f32,
        table: q16(&sys.table, is),
        points: q16(&sys.points, ss),
        gate: quantise_matrix(&sys.gate_w, k, d, ss, score_scale, wtype),
        gate_bias: q16(&sys.gate_b, score_scale),
        a: quantise_matrix(&sys.a, k * d, d, ss, ss, wtype),
        b: quantise_matrix(&sys.b, k * d, n, is, ss, wtype),
        off: q16(&sys.off, ss),
        c: quantise_matrix(&sys.c, n, d, ss, ls, wtype),
        cb: q16(&sys.cb, ls),
        names: (0..k)
            .map(|i| format!("regime{i}"))
            .collect::<Vec<_>>()
            .join("\n"),
        r_table: f32s(&sys.table),
        r_points: if sys.nearest {
            f32s(&sys.points)
        } else {
            vec![]
        },
        r_gate_w: if sys.nearest {
            vec![]
        } else {
            f32s(&sys.gate_w)
        },
        r_gate_b: if sys.nearest {
            vec![]
        } else {
            f32s(&sys.gate_b)
        },
        r_a: f32s(&sys.a),
        r_b: f32s(&sys.b),
        r_off: f32s(&sys.off),
        r_c: f32s(&sys.c),
        r_cb: f32s(&sys.cb),
    }
}

impl Quantised {
    pub fn section(&self, with_reference: bool) -> JsldsSection<'_> {
        let selection = if self.sys.nearest {
            Selection::Nearest {
                points: &self.points,
            }
        } else {
            Selection::Gate {
                weights: self.gate.view(),
                bias: &self.gate_bias,
            }
        };
        JsldsSection {
            latent: self.sys.d as u16,
            regimes: self.sys.k as u16,
            state_scale: self.state_scale,
            input_scale: self.input_scale,
            log_rate_scale: self.log_rate_scale,
            input_table: &self.table,
            selection,
            dynamics: self.a.view(),
            input_gain: self.b.view(),
            offset: &self.off,
            readout: self.c.view(),
            readout_bias: &self.cb,
            hysteresis: self.sys.hysteresis,
            regime_names: &self.names,
            reference: with_reference.then_some(JsldsReference {
                input_table: &self.r_table,
                points: &self.r_points,
                gate_weights: &self.r_gate_w,
                gate_bias: &self.r_gate_b,
                dynamics: &self.r_a,
                input_gain: &self.r_b,
                offset: &self.r_off,
                readout: &self.r_c,
                readout_bias: &self.r_cb,
            }),
        }
    }

    pub fn body(&self, with_reference: bool) -> ModelBody<'_> {
        ModelBody {
            meta: Meta {
                name: "two-regime test system",
                neurons: self.sys.n as u16,
                bin_us: 10_000,
            },
            jslds: Some(self.section(with_reference)),
        }
    }
}

/// Encodes through the public encoder.
pub fn encode(body: &ModelBody<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let n = neuroloop_core::encode_model(body, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Writes a file without validating the body (to produce invalid files), with a chosen
/// version and optional extra body bytes.
pub fn raw_file(body: &ModelBody<'_>, minor: u16, extra: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 1 << 16];
    let used = postcard::to_slice(body, &mut buf).unwrap().len();
    buf.truncate(used);
    buf.extend_from_slice(extra);
    let header = Header {
        major: FORMAT_MAJOR,
        minor,
        schema: SCHEMA_FINGERPRINT,
        body_len: buf.len() as u32,
        body_crc: neuroloop_core::crc32::checksum(&buf),
    };
    let mut file = header.to_bytes().to_vec();
    assert_eq!(file.len(), HEADER_LEN);
    file.extend_from_slice(&buf);
    file
}

/// Rewrites header bytes 0..28 with `edit` and fixes the header CRC.
pub fn patch_header(file: &mut [u8], edit: impl FnOnce(&mut [u8])) {
    edit(&mut file[..28]);
    let crc = neuroloop_core::crc32::checksum(&file[..28]);
    file[28..32].copy_from_slice(&crc.to_le_bytes());
}
