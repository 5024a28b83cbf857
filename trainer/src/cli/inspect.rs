//! `neuroloop inspect`: what a model file holds — header, sections, dimensions, weight types
//! and sizes per tensor, and the RAM the device state needs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use neuroloop_core::format::{Header, FORMAT_MAJOR, FORMAT_MINOR, HEADER_LEN, SCHEMA_FINGERPRINT};
use neuroloop_core::tavrnn::{keys_len, ring_len, scratch_len};
use neuroloop_core::{JsldsSection, Model, QMatrix, Selection, TavrnnSection, WeightType};
use serde::Serialize;

use crate::export::core_err;

/// Arguments of `neuroloop inspect`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Model file (.nlm).
    #[arg(value_name = "model.nlm")]
    pub model: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// One tensor of a section.
#[derive(Debug, Serialize)]
pub struct TensorInfo {
    /// Field path.
    pub name: String,
    /// `i8`, `i16` or `f32`.
    pub dtype: String,
    /// Rows x cols (vectors: n x 1).
    pub shape: [usize; 2],
    /// Bytes in the file (weights plus per-row requantisation).
    pub bytes: usize,
}

/// The JSLDS section.
#[derive(Debug, Serialize)]
pub struct JsldsInfo {
    /// Latent dimension.
    pub latent: usize,
    /// Regimes.
    pub regimes: usize,
    /// `nearest` or `gate`.
    pub selection: String,
    /// Hysteresis, bins.
    pub hysteresis: u16,
    /// Regime names.
    pub regime_names: Vec<String>,
    /// Real value of one state LSB.
    pub state_scale: f32,
    /// Real value of one input LSB.
    pub input_scale: f32,
    /// Real value of one log-rate LSB.
    pub log_rate_scale: f32,
    /// Input table entries (largest count before saturation + 1).
    pub input_table_entries: usize,
    /// Quantised tensors.
    pub tensors: Vec<TensorInfo>,
    /// Bytes of the quantised tensors.
    pub weight_bytes: usize,
    /// Whether the f32 reference section is present.
    pub has_reference: bool,
    /// Bytes of the f32 reference blobs.
    pub reference_bytes: usize,
    /// RAM the device estimator state needs.
    pub state_ram_bytes: usize,
}

/// Everything `inspect` reports.
#[derive(Debug, Serialize)]
pub struct Inspection {
    /// The file.
    pub file: String,
    /// File size in bytes.
    pub file_bytes: usize,
    /// `major.minor`.
    pub version: String,
    /// Schema fingerprint in the file.
    pub schema_fingerprint: String,
    /// Whether it is this build's.
    pub schema_matches: bool,
    /// Header CRC verified.
    pub header_crc_ok: bool,
    /// Body CRC verified.
    pub body_crc_ok: bool,
    /// Body length, bytes.
    pub body_bytes: u32,
    /// Model name.
    pub name: String,
    /// Neurons.
    pub neurons: u16,
    /// Bin width, microseconds.
    pub bin_us: u32,
    /// Sections present.
    pub sections: Vec<String>,
    /// The JSLDS section.
    pub jslds: Option<JsldsInfo>,
    /// The TAVRNN section (format 1.1).
    pub tavrnn: Option<TavrnnInfo>,
}

/// The TAVRNN section.
#[derive(Debug, Serialize)]
pub struct TavrnnInfo {
    /// Hidden width H per node.
    pub hidden: usize,
    /// Latent size per node.
    pub latent: usize,
    /// `d_phi`.
    pub phi: usize,
    /// `d_enc`.
    pub enc: usize,
    /// Attention window w.
    pub window: usize,
    /// Graph window, bins.
    pub window_bins: u16,
    /// Bins between window starts.
    pub step_bins: u16,
    /// Edge threshold `|R| >= theta` (from its Q1.30 value).
    pub theta: f64,
    /// Top-k per node (0: none) and how selections combine.
    pub top_k: u16,
    /// `union` or `intersection` (meaningful with top-k).
    pub top_k_rule: String,
    /// Behaviour class names (empty: unnamed).
    pub classes: Vec<String>,
    /// Number of classes.
    pub n_classes: usize,
    /// Window embedding length (neurons x latent).
    pub embedding_len: usize,
    /// Quantised tensors.
    pub tensors: Vec<TensorInfo>,
    /// Bytes of the quantised tensors.
    pub weight_bytes: usize,
    /// Whether the f32 reference is present.
    pub has_reference: bool,
    /// Device RAM: the 4-bit ring of past GRU outputs, bytes.
    pub ring_ram_bytes: usize,
    /// Device RAM: keys and query (i16), bytes.
    pub keys_ram_bytes: usize,
    /// Device RAM: per-step scratch (i16; shareable with other window-end work), bytes.
    pub scratch_ram_bytes: usize,
}

fn tavrnn_info(t: &TavrnnSection<'_>, neurons: usize) -> TavrnnInfo {
    let d = t.dims(neurons);
    let mut tensors = vec![vec16("tavrnn.phi_x", t.phi_x)];
    for (name, l) in t.layers() {
        tensors.push(qm(name, &l.weights));
        tensors.push(vec16(&format!("{name}.bias"), l.bias));
    }
    TavrnnInfo {
        hidden: d.hidden,
        latent: d.latent,
        phi: d.phi,
        enc: d.enc,
        window: d.window,
        window_bins: t.window_bins,
        step_bins: t.step_bins,
        theta: t.theta_q30 as f64 / (1u64 << 30) as f64,
        top_k: t.top_k,
        top_k_rule: if t.top_k_intersection {
            "intersection"
        } else {
            "union"
        }
        .to_string(),
        classes: if t.class_names.is_empty() {
            vec![]
        } else {
            t.class_names.split('\n').map(str::to_string).collect()
        },
        n_classes: d.classes,
        embedding_len: d.neurons * d.latent,
        tensors,
        weight_bytes: t.weight_bytes(),
        has_reference: t.reference.is_some(),
        ring_ram_bytes: ring_len(d.nodes, d.hidden, d.window),
        keys_ram_bytes: 2 * keys_len(d.hidden, d.window),
        scratch_ram_bytes: 2 * scratch_len(&d),
    }
}

fn qm(name: &str, m: &QMatrix<'_>) -> TensorInfo {
    TensorInfo {
        name: name.to_string(),
        dtype: match m.wtype {
            WeightType::I8 => "i8",
            WeightType::I16 => "i16",
        }
        .to_string(),
        shape: [m.rows as usize, m.cols as usize],
        bytes: m.size_bytes(),
    }
}

fn vec16(name: &str, blob: &[u8]) -> TensorInfo {
    TensorInfo {
        name: name.to_string(),
        dtype: "i16".to_string(),
        shape: [blob.len() / 2, 1],
        bytes: blob.len(),
    }
}

fn jslds_info(j: &JsldsSection<'_>) -> JsldsInfo {
    let mut tensors = vec![vec16("jslds.input_table", j.input_table)];
    let selection = match &j.selection {
        Selection::Nearest { points } => {
            tensors.push(vec16("jslds.selection.points", points));
            "nearest"
        }
        Selection::Gate { weights, bias } => {
            tensors.push(qm("jslds.selection.weights", weights));
            tensors.push(vec16("jslds.selection.bias", bias));
            "gate"
        }
    };
    tensors.push(qm("jslds.dynamics", &j.dynamics));
    tensors.push(qm("jslds.input_gain", &j.input_gain));
    tensors.push(vec16("jslds.offset", j.offset));
    tensors.push(qm("jslds.readout", &j.readout));
    tensors.push(vec16("jslds.readout_bias", j.readout_bias));
    let reference_bytes = j.reference.map_or(0, |r| {
        r.input_table.len()
            + r.points.len()
            + r.gate_weights.len()
            + r.gate_bias.len()
            + r.dynamics.len()
            + r.input_gain.len()
            + r.offset.len()
            + r.readout.len()
            + r.readout_bias.len()
    });
    JsldsInfo {
        latent: j.latent as usize,
        regimes: j.regimes as usize,
        selection: selection.to_string(),
        hysteresis: j.hysteresis,
        regime_names: if j.regime_names.is_empty() {
            vec![]
        } else {
            j.regime_names.split('\n').map(str::to_string).collect()
        },
        state_scale: j.state_scale,
        input_scale: j.input_scale,
        log_rate_scale: j.log_rate_scale,
        input_table_entries: j.input_table.len() / 2,
        tensors,
        weight_bytes: j.weight_bytes(),
        has_reference: j.reference.is_some(),
        reference_bytes,
        state_ram_bytes: j.state_ram_bytes(),
    }
}

/// Reads and describes a model file. Errors name the file and what is wrong with it.
pub fn inspect(path: &std::path::Path) -> Result<Inspection> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let header = Header::parse(&bytes)
        .map_err(core_err)
        .with_context(|| format!("{}: not a valid model file", path.display()))?;
    let model = Model::from_bytes(&bytes)
        .map_err(core_err)
        .with_context(|| format!("{}: not a valid model file", path.display()))?;
    let mut sections = vec!["meta".to_string()];
    if model.jslds().is_some() {
        sections.push("jslds".to_string());
        if model.jslds().and_then(|j| j.reference).is_some() {
            sections.push("jslds.reference".to_string());
        }
    }
    if let Some(t) = model.tavrnn() {
        sections.push("tavrnn".to_string());
        if t.reference.is_some() {
            sections.push("tavrnn.reference".to_string());
        }
    }
    Ok(Inspection {
        file: path.display().to_string(),
        file_bytes: bytes.len(),
        version: format!("{}.{}", header.major, header.minor),
        schema_fingerprint: format!("{:#010x}", header.schema),
        schema_matches: header.schema == SCHEMA_FINGERPRINT,
        // from_bytes verified both CRCs (it fails otherwise).
        header_crc_ok: true,
        body_crc_ok: true,
        body_bytes: header.body_len,
        name: model.meta().name.to_string(),
        neurons: model.meta().neurons,
        bin_us: model.meta().bin_us,
        sections,
        jslds: model.jslds().map(jslds_info),
        tavrnn: model
            .tavrnn()
            .map(|t| tavrnn_info(t, model.meta().neurons as usize)),
    })
}

/// Runs `neuroloop inspect`.
pub fn run(args: Args) -> Result<()> {
    let info = inspect(&args.model)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&info)?);
        return Ok(());
    }
    println!("{}: neuroloop model, {} bytes", info.file, info.file_bytes);
    println!(
        "  format {} (this build writes {FORMAT_MAJOR}.{FORMAT_MINOR}), schema {} ({}), header {} bytes + body {} bytes, header CRC ok, body CRC ok",
        info.version,
        info.schema_fingerprint,
        if info.schema_matches { "matches" } else { "differs" },
        HEADER_LEN,
        info.body_bytes
    );
    println!(
        "  name {:?}, {} neurons, bin {} us ({} ms)",
        info.name,
        info.neurons,
        info.bin_us,
        info.bin_us as f64 / 1e3
    );
    println!("  sections: {}", info.sections.join(", "));
    if let Some(j) = &info.jslds {
        println!(
            "  jslds: d={} K={} selection={} hysteresis={} bins, input table {} entries",
            j.latent, j.regimes, j.selection, j.hysteresis, j.input_table_entries
        );
        if !j.regime_names.is_empty() {
            println!("    regimes: {}", j.regime_names.join(", "));
        }
        println!(
            "    scales: state {:.4e}, input {:.4e}, log-rate {:.4e}",
            j.state_scale, j.input_scale, j.log_rate_scale
        );
        println!(
            "    {:<26} {:>5} {:>10} {:>8}",
            "tensor", "type", "shape", "bytes"
        );
        for t in &j.tensors {
            println!(
                "    {:<26} {:>5} {:>10} {:>8}",
                t.name,
                t.dtype,
                format!("{}x{}", t.shape[0], t.shape[1]),
                t.bytes
            );
        }
        println!("    quantised tensors: {} bytes", j.weight_bytes);
        if j.has_reference {
            println!("    f32 reference: {} bytes", j.reference_bytes);
        } else {
            println!("    f32 reference: absent (device-only file)");
        }
        println!("    device state RAM: {} bytes", j.state_ram_bytes);
    }
    if let Some(t) = &info.tavrnn {
        println!(
            "  tavrnn: H={} latent={} phi={} enc={} attention window={}, graph windows of {} \
             bins every {}, |R| >= {:.4}{}",
            t.hidden,
            t.latent,
            t.phi,
            t.enc,
            t.window,
            t.window_bins,
            t.step_bins,
            t.theta,
            if t.top_k > 0 {
                format!(", top-{} ({})", t.top_k, t.top_k_rule)
            } else {
                String::new()
            }
        );
        println!(
            "    classifier: {} classes on the {}-value window embedding{}",
            t.n_classes,
            t.embedding_len,
            if t.classes.is_empty() {
                String::new()
            } else {
                format!(" ({})", t.classes.join(", "))
            }
        );
        println!(
            "    {:<26} {:>5} {:>10} {:>8}",
            "tensor", "type", "shape", "bytes"
        );
        for x in &t.tensors {
            println!(
                "    {:<26} {:>5} {:>10} {:>8}",
                x.name,
                x.dtype,
                format!("{}x{}", x.shape[0], x.shape[1]),
                x.bytes
            );
        }
        println!("    quantised tensors: {} bytes", t.weight_bytes);
        println!(
            "    f32 reference: {}",
            if t.has_reference {
                "present"
            } else {
                "absent (device-only file)"
            }
        );
        println!(
            "    device RAM: ring {} bytes (4-bit), keys {} bytes, per-step scratch {} bytes",
            t.ring_ram_bytes, t.keys_ram_bytes, t.scratch_ram_bytes
        );
    }
    Ok(())
}
