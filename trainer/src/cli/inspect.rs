//! `neuroloop inspect`: what a model file holds — header, sections, dimensions, weight types
//! and sizes per tensor, and the RAM the device state needs.

use std::path::PathBuf;

use anyhow::{Context, Result};
use neuroloop_core::format::{Header, FORMAT_MAJOR, FORMAT_MINOR, HEADER_LEN, SCHEMA_FINGERPRINT};
use neuroloop_core::{JsldsSection, Model, QMatrix, Selection, WeightType};
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
    Ok(())
}
