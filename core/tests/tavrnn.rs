//! The device TAVRNN on a SYNTHETIC model (random weights, calibrated and quantised by the
//! small per-row int16 quantiser below, test-only; the trainer's exporter is the real one):
//! fixed point against the f32 reference through the same step code, the format section
//! (round trip, 1.0 files, bad sections), capacities and refusals, and the RAM of the
//! N = 64, H = 32, latent 8, w = 8 configuration.
//!
//! The recurrent layers of the synthetic model have gain 1: with gain 2 the random GRU is
//! chaotic (measured: the f32 model itself amplifies a 1e-4 perturbation until the cosine
//! falls to 0.90 after 20 windows), which tests the random model, not the quantisation.

use neuroloop_core::crc32::Crc32;
use neuroloop_core::format::{
    encode_model_with, encoded_len_with, FLayer, TavrnnReference, TavrnnSection,
};
use neuroloop_core::graph::{triangle, StreamingConnectivity, WindowCorrelation, WindowGraph};
use neuroloop_core::tavrnn::{
    keys_len, propagation_shift, ring_len, ring_len_f32, LayerRanges, ReferenceTavrnn, Tavrnn,
    TavrnnError,
};
use neuroloop_core::{Meta, Model, ModelBody, ModelError, QLayer, QMatrix, Requant, WeightType};

const N: usize = 16;
const T: usize = triangle(N);
const NODES: usize = N + 1;
const H: usize = 8;
const LAT: usize = 4;
const PHI: usize = 4;
const ENC: usize = 8;
const W: usize = 4;
const CLASSES: usize = 3;
const G_IN: f32 = 2.0;
const G_REC: f32 = 1.0;
const RING: usize = ring_len(NODES, H, W);
const RING_F: usize = ring_len_f32(NODES, H, W);
const KEYS: usize = keys_len(H, W);

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn uniform(&mut self) -> f32 {
        (self.next() >> 11) as f32 / (1u64 << 53) as f32 * 2.0 - 1.0
    }
}

/// One f32 dense layer, rows = outputs.
#[derive(Clone)]
struct F32Layer {
    rows: usize,
    cols: usize,
    w: Vec<f32>,
    b: Vec<f32>,
}

impl F32Layer {
    fn random(rng: &mut Rng, rows: usize, cols: usize, gain: f32) -> Self {
        let s = gain / (cols as f32).sqrt();
        F32Layer {
            rows,
            cols,
            w: (0..rows * cols).map(|_| rng.uniform() * s * 1.7).collect(),
            b: (0..rows).map(|_| rng.uniform() * 0.1).collect(),
        }
    }
}

fn le_f32(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn le_i16(v: &[i16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Owned quantised layer.
struct OwnedQ {
    rows: u16,
    cols: u16,
    data: Vec<u8>,
    mult: Vec<u8>,
    shift: Vec<u8>,
    bias: Vec<u8>,
}

/// Per-row int16 quantisation of `W` with per-column input scales `s_in` and output scale
/// `s_out` (test-only).
fn quantise(l: &F32Layer, s_in: &[f64], s_out: f64) -> OwnedQ {
    let mut data = Vec::new();
    let mut mult = Vec::new();
    let mut shift = Vec::new();
    for r in 0..l.rows {
        let row: Vec<f64> = (0..l.cols)
            .map(|c| l.w[r * l.cols + c] as f64 * s_in[c])
            .collect();
        let m = row.iter().fold(0f64, |a, v| a.max(v.abs())).max(1e-30);
        let s_r = m / 32767.0;
        for v in &row {
            data.extend_from_slice(&((v / s_r).round() as i16).to_le_bytes());
        }
        let rq = Requant::from_f64(s_r / s_out).unwrap();
        mult.extend_from_slice(&rq.mult.to_le_bytes());
        shift.push(rq.shift as u8);
    }
    let bias: Vec<i16> =
        l.b.iter()
            .map(|b| (b / s_out as f32).round().clamp(-32768.0, 32767.0) as i16)
            .collect();
    OwnedQ {
        rows: l.rows as u16,
        cols: l.cols as u16,
        data,
        mult,
        shift,
        bias: le_i16(&bias),
    }
}

impl OwnedQ {
    fn view(&self) -> QLayer<'_> {
        QLayer {
            weights: QMatrix {
                rows: self.rows,
                cols: self.cols,
                wtype: WeightType::I16,
                data: &self.data,
                mult: &self.mult,
                shift: &self.shift,
            },
            bias: &self.bias,
        }
    }
}

/// The synthetic model: f32 layers in section order.
struct Synthetic {
    phi_x: Vec<f32>,
    layers: Vec<F32Layer>,
}

fn synthetic(seed: u64) -> Synthetic {
    let mut rng = Rng(seed | 1);
    let phi_x = (0..NODES * PHI)
        .map(|_| rng.uniform().max(0.0) * 1.5)
        .collect();
    let shapes = [
        (ENC, PHI + H, 1.5),
        (LAT, ENC, 1.5),
        (PHI, LAT, 1.5),
        (3 * H, 2 * PHI, G_IN),
        (2 * H, H, G_REC),
        (H, H, G_REC),
        (H, H, 2.0),
        (H, H, 2.0),
        (H, H, G_REC),
        (CLASSES, N * LAT, 1.0),
    ];
    let layers = shapes
        .iter()
        .map(|&(r, c, g)| F32Layer::random(&mut rng, r, c, g))
        .collect();
    Synthetic { phi_x, layers }
}

/// All blobs of a file, owned.
struct Owned {
    phi_x_q: Vec<u8>,
    q: Vec<OwnedQ>,
    phi_x_f: Vec<u8>,
    f: Vec<(Vec<u8>, Vec<u8>)>,
    scales: [f32; 7],
    attn: Requant,
}

const Q12: f64 = 1.0 / 4096.0;
const Q15: f64 = 1.0 / 32768.0;

/// Quantises `m` with activation ranges `r` (real) widened by 1.25.
fn build(m: &Synthetic, r: &LayerRanges) -> Owned {
    let sc = |v: f32| (v as f64 * 1.25).max(1e-6) / 32767.0;
    let phi_x_max = m.phi_x.iter().fold(0f32, |a, v| a.max(v.abs()));
    let (s_phix, s_enc, s_mu, s_phiz) = (sc(phi_x_max), sc(r.enc), sc(r.mu), sc(r.phi_z));
    let (s_q, s_k, s_score) = (sc(r.query), sc(r.key), sc(r.score));
    let cat = |a: f64, na: usize, b: f64, nb: usize| {
        let mut v = vec![a; na];
        v.extend(vec![b; nb]);
        v
    };
    let l = &m.layers;
    // Propagated inputs come at 2^k times the scale of what was summed.
    let p = f64::from(1u32 << propagation_shift(NODES));
    let q = vec![
        quantise(&l[0], &cat(p * s_phix, PHI, p * Q15, H), s_enc),
        quantise(&l[1], &[p * s_enc; ENC], s_mu),
        quantise(&l[2], &[s_mu; LAT], s_phiz),
        quantise(&l[3], &cat(p * s_phix, PHI, p * s_phiz, PHI), Q12),
        quantise(&l[4], &[p * Q15; H], Q12),
        quantise(&l[5], &[p * Q15; H], Q12),
        quantise(&l[6], &[Q15; H], s_q),
        quantise(&l[7], &[Q15; H], s_k),
        quantise(&l[8], &[Q15; H], Q12),
        quantise(&l[9], &[s_mu; N * LAT], s_score),
    ];
    let phi_x_q: Vec<i16> = m
        .phi_x
        .iter()
        .map(|v| (*v as f64 / s_phix).round() as i16)
        .collect();
    Owned {
        phi_x_q: le_i16(&phi_x_q),
        q,
        phi_x_f: le_f32(&m.phi_x),
        f: l.iter().map(|l| (le_f32(&l.w), le_f32(&l.b))).collect(),
        scales: [s_phix, s_enc, s_mu, s_phiz, s_q, s_k, s_score].map(|v| v as f32),
        attn: Requant::from_f64(s_q * s_k / (H as f64).sqrt() / Q12).unwrap(),
    }
}

impl Owned {
    fn section(&self, with_reference: bool) -> TavrnnSection<'_> {
        let fl = |i: usize| FLayer {
            weights: &self.f[i].0,
            bias: &self.f[i].1,
        };
        let s = &self.scales;
        TavrnnSection {
            hidden: H as u16,
            latent: LAT as u16,
            phi: PHI as u16,
            enc: ENC as u16,
            window: W as u16,
            window_bins: 200,
            step_bins: 100,
            theta_q30: 1 << 27,
            top_k: 0,
            top_k_intersection: false,
            classes: CLASSES as u16,
            phi_x_scale: s[0],
            enc_scale: s[1],
            mu_scale: s[2],
            phi_z_scale: s[3],
            query_scale: s[4],
            key_scale: s[5],
            score_scale: s[6],
            attn_mult: self.attn.mult,
            attn_shift: self.attn.shift,
            phi_x: &self.phi_x_q,
            encoder_hidden: self.q[0].view(),
            encoder_mu: self.q[1].view(),
            phi_z: self.q[2].view(),
            gru_input: self.q[3].view(),
            gru_hidden_ru: self.q[4].view(),
            gru_hidden_c: self.q[5].view(),
            query: self.q[6].view(),
            key: self.q[7].view(),
            value: self.q[8].view(),
            classifier: self.q[9].view(),
            class_names: "rest\nrun\ngroom",
            reference: with_reference.then_some(TavrnnReference {
                phi_x: &self.phi_x_f,
                encoder_hidden: fl(0),
                encoder_mu: fl(1),
                phi_z: fl(2),
                gru_input: fl(3),
                gru_hidden_ru: fl(4),
                gru_hidden_c: fl(5),
                query: fl(6),
                key: fl(7),
                value: fl(8),
                classifier: fl(9),
            }),
        }
    }

    fn file(&self, with_reference: bool) -> Vec<u8> {
        let body = ModelBody {
            meta: Meta {
                name: "synthetic tavrnn",
                neurons: N as u16,
                bin_us: 10_000,
            },
            jslds: None,
        };
        let t = self.section(with_reference);
        let mut out = vec![0u8; encoded_len_with(&body, Some(&t)).unwrap()];
        let n = encode_model_with(&body, Some(&t), &mut out).unwrap();
        out.truncate(n);
        out
    }
}

/// Windows of synthetic counts whose correlation structure switches every 5 windows
/// (assemblies of 4 neurons driven together), as device graphs.
fn graphs(windows: usize, seed: u64) -> Vec<WindowGraph<N, T>> {
    let mut rng = Rng(seed | 1);
    let settings = owned_default().section(false).graph_settings();
    (0..windows)
        .map(|w| {
            let state = (w / 5) % 3;
            let mut sums = StreamingConnectivity::<N, T>::default();
            for _ in 0..200 {
                let drive: Vec<bool> = (0..4).map(|_| rng.next().is_multiple_of(5)).collect();
                let mut row = [0u16; N];
                for (i, c) in row.iter_mut().enumerate() {
                    let group = (i + state * (i % 3)) % 4;
                    let p = if drive[group] { 60 } else { 8 };
                    *c = u16::from(rng.next() % 100 < p);
                }
                sums.push(&row).unwrap();
            }
            let mut corr = WindowCorrelation::<N, T>::default();
            corr.compute(&sums);
            let mut g = WindowGraph::<N, T>::new();
            g.build(&corr, &settings).unwrap();
            g
        })
        .collect()
}

/// A model with unit ranges (for the graph settings and the first calibration run).
fn owned_default() -> Owned {
    let ranges = LayerRanges {
        enc: 1.0,
        mu: 1.0,
        phi_z: 1.0,
        gru_input: 1.0,
        gru_hidden_ru: 1.0,
        gru_hidden_c: 1.0,
        query: 1.0,
        key: 1.0,
        value: 1.0,
        score: 1.0,
        attn: 1.0,
    };
    build(&synthetic(7), &ranges)
}

/// Calibrated on `gs` with the f32 reference, then quantised; the classifier is the
/// nearest-centroid rule of the f32 embeddings of each window's state (`(w / 5) % 3`).
fn calibrated(gs: &[WindowGraph<N, T>]) -> Owned {
    let provisional = owned_default().file(true);
    let model = Model::from_bytes(&provisional).unwrap();
    let mut r = ReferenceTavrnn::<RING_F, KEYS>::new(&model).unwrap();
    let mut scratch = vec![0f32; r.scratch_len()];
    let mut means = vec![vec![0f64; N * LAT]; CLASSES];
    let mut counts = [0usize; CLASSES];
    for (w, g) in gs.iter().enumerate() {
        r.step(g, &mut scratch).unwrap();
        let k = (w / 5) % 3;
        counts[k] += 1;
        for (m, &v) in means[k].iter_mut().zip(r.embedding(&scratch)) {
            *m += v as f64;
        }
    }
    let mut m = synthetic(7);
    let cls = &mut m.layers[9];
    for k in 0..CLASSES {
        let c: Vec<f64> = means[k]
            .iter()
            .map(|v| v / counts[k].max(1) as f64)
            .collect();
        for (j, &v) in c.iter().enumerate() {
            cls.w[k * N * LAT + j] = v as f32;
        }
        cls.b[k] = (-0.5 * c.iter().map(|v| v * v).sum::<f64>()) as f32;
    }
    // Second run for the classifier's score range.
    let provisional = build(&m, &r.ranges()).file(true);
    let model = Model::from_bytes(&provisional).unwrap();
    let mut r = ReferenceTavrnn::<RING_F, KEYS>::new(&model).unwrap();
    for g in gs {
        r.step(g, &mut scratch).unwrap();
    }
    build(&m, &r.ranges())
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

#[test]
fn fixed_point_follows_the_f32_reference() {
    let gs = graphs(60, 3);
    let owned = calibrated(&gs[..30]);
    let bytes = owned.file(true);
    let model = Model::from_bytes(&bytes).unwrap();
    let t = model.tavrnn().unwrap();
    let mut fx = Tavrnn::<RING, KEYS>::new(&model).unwrap();
    let mut rf = ReferenceTavrnn::<RING_F, KEYS>::new(&model).unwrap();
    let mut sq = vec![0i16; fx.scratch_len()];
    let mut sf = vec![0f32; rf.scratch_len()];
    let (mut agree, mut cos_min) = (0usize, 1f64);
    let mut seen = [false; CLASSES];
    for (w, g) in gs.iter().enumerate() {
        let a = fx.step(g, &mut sq).unwrap();
        let b = rf.step(g, &mut sf).unwrap();
        assert_eq!(a.attended as usize, w.min(W));
        agree += usize::from(a.class == b.class);
        seen[b.class as usize] = true;
        let eq: Vec<f64> = fx
            .embedding(&sq)
            .iter()
            .map(|&v| v as f64 * t.mu_scale as f64)
            .collect();
        let ef: Vec<f64> = rf.embedding(&sf).iter().map(|&v| v as f64).collect();
        assert_eq!(eq.len(), N * LAT);
        let c = cosine(&eq, &ef);
        if std::env::var("TAVRNN_DEBUG").is_ok() {
            println!("window {w}: cosine {c:.5} classes {} {}", a.class, b.class);
        }
        cos_min = cos_min.min(c);
    }
    println!(
        "synthetic model: embedding cosine min {cos_min:.5}, class agreement {agree}/{}",
        gs.len()
    );
    assert!(cos_min >= 0.99, "cosine {cos_min}");
    assert!(
        seen.iter().filter(|&&s| s).count() >= 2,
        "one class only: {seen:?}"
    );
    assert!(agree * 100 >= 99 * gs.len(), "agreement {agree}");
}

/// The propagation headroom holds for the worst rows: the history node of a graph without
/// edges (every neuron of degree 2) and the rows of a complete graph.
#[test]
fn propagation_sums_never_exceed_the_headroom() {
    assert_eq!(
        [17, 33, 65, 129].map(propagation_shift),
        [2, 3, 3, 4],
        "shifts"
    );
    fn worst_row<const M: usize, const TT: usize>(corr_all: bool) -> (u64, u32) {
        let mut sums = StreamingConnectivity::<M, TT>::default();
        let mut rng = Rng(5);
        for _ in 0..200 {
            let on = rng.next().is_multiple_of(2);
            let mut row = [0u16; M];
            for c in row.iter_mut() {
                // All neurons together (complete graph) or independent (no edges).
                let bit = if corr_all {
                    on
                } else {
                    rng.next().is_multiple_of(2)
                };
                *c = u16::from(bit);
            }
            sums.push(&row).unwrap();
        }
        let mut corr = WindowCorrelation::<M, TT>::default();
        corr.compute(&sums);
        let mut g = WindowGraph::<M, TT>::new();
        let settings = neuroloop_core::graph::GraphSettings {
            theta_q30: 1 << 29,
            top_k: None,
            history_node: true,
        };
        g.build(&corr, &settings).unwrap();
        let worst = (0..=M)
            .map(|i| (0..=M).map(|j| g.normalized(i, j) as u64).sum::<u64>())
            .max()
            .unwrap();
        (worst, propagation_shift(M + 1))
    }
    for (edgeless, (worst, k)) in [
        (true, worst_row::<16, { triangle(16) }>(false)),
        (false, worst_row::<16, { triangle(16) }>(true)),
        (true, worst_row::<64, { triangle(64) }>(false)),
        (false, worst_row::<64, { triangle(64) }>(true)),
    ] {
        assert!(worst <= 1 << (14 + k), "row sum {worst} over 2^(14+{k})");
        // And the headroom is needed: the history node's sum exceeds the input's own range
        // (k = 0) by far, the pre-fix clamp.
        if edgeless {
            assert!(worst > 1 << (13 + k), "row sum {worst}");
        }
    }
}

#[test]
fn steps_are_deterministic_and_reset_restarts() {
    let gs = graphs(12, 5);
    let owned = calibrated(&gs);
    let bytes = owned.file(false);
    let model = Model::from_bytes(&bytes).unwrap();
    assert!(model.tavrnn().unwrap().reference.is_none());
    let mut fx = Tavrnn::<RING, KEYS>::new(&model).unwrap();
    let mut sq = vec![0i16; fx.scratch_len()];
    let run = |fx: &mut Tavrnn<RING, KEYS>, sq: &mut Vec<i16>| {
        gs.iter()
            .map(|g| {
                let o = fx.step(g, sq).unwrap();
                (o.class, fx.embedding(sq).to_vec())
            })
            .collect::<Vec<_>>()
    };
    let first = run(&mut fx, &mut sq);
    fx.reset();
    assert_eq!(fx.attended(), 0);
    assert_eq!(run(&mut fx, &mut sq), first);
    // Without the reference section there is no f32 model.
    assert_eq!(
        ReferenceTavrnn::<RING_F, KEYS>::new(&model).err(),
        Some(ModelError::MissingSection {
            section: "tavrnn.reference"
        })
    );
}

#[test]
fn refusals_leave_the_state_alone() {
    let gs = graphs(3, 9);
    let owned = calibrated(&gs);
    let bytes = owned.file(true);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut fx = Tavrnn::<RING, KEYS>::new(&model).unwrap();
    let mut small = vec![0i16; fx.scratch_len() - 1];
    assert!(matches!(
        fx.step(&gs[0], &mut small),
        Err(TavrnnError::Scratch { .. })
    ));
    // A graph without the history node.
    let mut sums = StreamingConnectivity::<N, T>::default();
    sums.push(&[1; N]).unwrap();
    let mut corr = WindowCorrelation::<N, T>::default();
    corr.compute(&sums);
    let mut g = WindowGraph::<N, T>::new();
    let mut settings = model.tavrnn().unwrap().graph_settings();
    settings.history_node = false;
    g.build(&corr, &settings).unwrap();
    let mut sq = vec![0i16; fx.scratch_len()];
    assert_eq!(
        fx.step(&g, &mut sq),
        Err(TavrnnError::Graph {
            expected: NODES,
            got: N,
            history_node: false
        })
    );
    assert_eq!(fx.attended(), 0);
    // Capacities too small are refused at load.
    assert!(matches!(
        Tavrnn::<{ RING - 1 }, KEYS>::new(&model),
        Err(ModelError::Capacity { .. })
    ));
    assert!(matches!(
        Tavrnn::<RING, { KEYS - 1 }>::new(&model),
        Err(ModelError::Capacity { .. })
    ));
}

#[test]
fn section_round_trips_and_old_files_have_none() {
    let owned = owned_default();
    let bytes = owned.file(true);
    let model = Model::from_bytes(&bytes).unwrap();
    assert_eq!(model.header.minor, 1);
    assert_eq!(model.tavrnn(), Some(&owned.section(true)));
    assert_eq!(model.tavrnn().unwrap().class_name(1), Some("run"));
    // A body without the section encodes no trailing bytes, as a 1.0 body.
    let body = model.body;
    let mut out = vec![0u8; 4096];
    let n = neuroloop_core::encode_model(&body, &mut out).unwrap();
    let plain = Model::from_bytes(&out[..n]).unwrap();
    assert!(plain.tavrnn().is_none());
    assert!(n < bytes.len());
}

#[test]
fn invalid_sections_are_refused() {
    let owned = owned_default();
    let body = ModelBody {
        meta: Meta {
            name: "x",
            neurons: N as u16,
            bin_us: 10_000,
        },
        jslds: None,
    };
    let mut out = vec![0u8; 1 << 16];
    let mut t = owned.section(true);
    t.hidden = 7;
    assert!(matches!(
        encode_model_with(&body, Some(&t), &mut out),
        Err(ModelError::Value {
            field: "tavrnn.hidden",
            ..
        })
    ));
    let mut t = owned.section(true);
    t.window = 0;
    assert!(matches!(
        encode_model_with(&body, Some(&t), &mut out),
        Err(ModelError::Dimension {
            field: "tavrnn.window",
            ..
        })
    ));
    let mut t = owned.section(true);
    t.phi_x = &[];
    assert!(matches!(
        encode_model_with(&body, Some(&t), &mut out),
        Err(ModelError::BlobLength {
            field: "tavrnn.phi_x",
            ..
        })
    ));
    let mut t = owned.section(true);
    t.class_names = "a\nb";
    assert_eq!(
        encode_model_with(&body, Some(&t), &mut out),
        Err(ModelError::Names {
            expected: 3,
            got: 2
        })
    );
}

#[test]
fn corrupted_sections_never_panic() {
    let gs = graphs(2, 11);
    let owned = owned_default();
    let bytes = owned.file(true);
    let mut rng = Rng(99);
    for _ in 0..3000 {
        let mut b = bytes.clone();
        // Corrupt the body and fix the CRCs so that decoding and validation are exercised.
        let at = 32 + (rng.next() as usize) % (b.len() - 32);
        b[at] ^= 1 << (rng.next() % 8);
        let crc = neuroloop_core::crc32::checksum(&b[32..]);
        b[16..20].copy_from_slice(&crc.to_le_bytes());
        let hcrc = neuroloop_core::crc32::checksum(&b[..28]);
        b[28..32].copy_from_slice(&hcrc.to_le_bytes());
        if let Ok(model) = Model::from_bytes(&b) {
            if let Ok(mut fx) = Tavrnn::<RING, KEYS>::new(&model) {
                let mut sq = vec![0i16; fx.scratch_len()];
                for g in &gs {
                    let _ = fx.step(g, &mut sq);
                }
            }
        }
    }
}

#[test]
fn ram_at_64_neurons_hidden_32_latent_8_window_8() {
    use neuroloop_core::format::TavrnnDims;
    let d = TavrnnDims {
        neurons: 64,
        nodes: 65,
        hidden: 32,
        latent: 8,
        phi: 16,
        enc: 16,
        window: 8,
        classes: 4,
    };
    let ring = ring_len(65, 32, 8);
    let state =
        core::mem::size_of::<Tavrnn<'static, { ring_len(65, 32, 8) }, { keys_len(32, 8) }>>();
    let scratch = neuroloop_core::tavrnn::scratch_len(&d) * 2;
    println!("ring {ring} B, state {state} B, scratch {scratch} B");
    assert_eq!(ring, 8 * 65 * 18);
    // The ring, the keys (288 i16) and the borrowed section view (slices: 16 B each here,
    // 8 B on the Cortex-M4).
    assert!(state < ring + 2 * keys_len(32, 8) + 1300, "state {state}");
    assert_eq!(scratch, 65 * (8 + 16 + 32 + 32) * 2);
}

/// CRC-32 of everything both models leave after each of 40 windows (fixed: class, attended
/// and the whole scratch; f32: class and the embedding's bits) on a calibrated synthetic model.
fn step_digests() -> (u32, u32) {
    let gs = graphs(40, 11);
    let owned = calibrated(&gs[..20]);
    let bytes = owned.file(true);
    let model = Model::from_bytes(&bytes).unwrap();
    let mut fx = Tavrnn::<RING, KEYS>::new(&model).unwrap();
    let mut rf = ReferenceTavrnn::<RING_F, KEYS>::new(&model).unwrap();
    let mut sq = vec![0i16; fx.scratch_len()];
    let mut sf = vec![0f32; rf.scratch_len()];
    let (mut cq, mut cf) = (Crc32::new(), Crc32::new());
    for g in &gs {
        let a = fx.step(g, &mut sq).unwrap();
        cq.update(&[a.class, a.attended]);
        cq.update_i16(&sq);
        let b = rf.step(g, &mut sf).unwrap();
        cf.update(&[b.class, b.attended]);
        for v in rf.embedding(&sf) {
            cf.update(&v.to_bits().to_le_bytes());
        }
    }
    (cq.finish(), cf.finish())
}

/// The step's speed-ups (per-row cache of `Â_ij`, accumulators cleared only where used, the
/// GRU's second pass walking the neighbours once) keep every bit of both models: digests
/// recorded with the step before them (commit 37b1ef3).
#[test]
fn optimisations_keep_the_bits_of_both_models() {
    const GOLDEN_FIXED: u32 = 0x7013_4522;
    const GOLDEN_F32: u32 = 0x170e_77eb;
    let (q, f) = step_digests();
    println!("digests: fixed {q:#010x}, f32 {f:#010x}");
    assert_eq!((q, f), (GOLDEN_FIXED, GOLDEN_F32));
}

/// The fuzzer's TAVRNN seed (`fuzz/seeds/tavrnn-n16.nlm`, copied into the corpus by
/// `fuzz/src/make_seeds.rs`) is this file's synthetic model. A seed the reader no longer
/// accepts would leave the fuzzer stuck at the checksums and the schema, so the committed one
/// must be current: `NEUROLOOP_WRITE_SEEDS=1 cargo test -p neuroloop-core --test tavrnn
/// fuzz_seed` rewrites it.
#[test]
fn fuzz_seed_is_current() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/tavrnn-n16.nlm");
    let want = owned_default().file(false);
    if std::env::var_os("NEUROLOOP_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
    }
    let got = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        got == want,
        "{} is stale ({} bytes, the model is {}): rewrite it with NEUROLOOP_WRITE_SEEDS=1 \
         cargo test -p neuroloop-core --test tavrnn fuzz_seed",
        path.display(),
        got.len(),
        want.len()
    );
    assert!(Model::from_bytes(&got).unwrap().tavrnn().is_some());
}
