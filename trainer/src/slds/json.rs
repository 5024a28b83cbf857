//! `system.json`: a [`SwitchingLinear`] as a JSON file, tagged with a format name and version
//! so that a file of another kind is refused with a clear message rather than misread.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::SwitchingLinear;

/// Value of the `format` key.
const FORMAT: &str = "neuroloop.switching-linear";
/// Value of the `version` key this code writes and reads.
const VERSION: u32 = 1;

#[derive(Serialize)]
struct FileOut<'a> {
    format: &'static str,
    version: u32,
    #[serde(flatten)]
    system: &'a SwitchingLinear,
}

#[derive(Deserialize)]
struct Tag {
    format: Option<String>,
    version: Option<u32>,
}

/// Writes `sys` to `path` as JSON (after [`SwitchingLinear::validate`]).
pub fn write_system_json(path: &Path, sys: &SwitchingLinear) -> Result<()> {
    sys.validate()
        .with_context(|| format!("{}: refusing to write an invalid system", path.display()))?;
    let text = serde_json::to_string_pretty(&FileOut {
        format: FORMAT,
        version: VERSION,
        system: sys,
    })
    .with_context(|| format!("{}: serialising the system", path.display()))?;
    fs::write(path, text).with_context(|| format!("{}: cannot write", path.display()))
}

/// Reads a system written by [`write_system_json`] and validates it. Errors name the file
/// and the field.
pub fn read_system_json(path: &Path) -> Result<SwitchingLinear> {
    let text =
        fs::read_to_string(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let tag: Tag = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a JSON object", path.display()))?;
    match tag.format.as_deref() {
        Some(FORMAT) => {}
        Some(other) => bail!(
            "{}: field `format` is {other:?}, expected {FORMAT:?}",
            path.display()
        ),
        None => bail!(
            "{}: field `format` is missing (expected {FORMAT:?}); not a switching linear system file",
            path.display()
        ),
    }
    if tag.version != Some(VERSION) {
        bail!(
            "{}: field `version` is {:?}, this build reads version {VERSION}",
            path.display(),
            tag.version
        );
    }
    let sys: SwitchingLinear = serde_json::from_str(&text)
        .with_context(|| format!("{}: malformed switching linear system", path.display()))?;
    sys.validate()
        .with_context(|| format!("{}: inconsistent system", path.display()))?;
    Ok(sys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::slds::{simulate, SimConfig};

    #[test]
    fn round_trip_and_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = SimConfig {
            neurons: 8,
            latent: 4,
            regimes: 3,
            n_bins: 200,
            ..SimConfig::default()
        };
        let sim = simulate(&cfg, 1).unwrap();
        let path = dir.path().join("system.json");
        write_system_json(&path, &sim.system).unwrap();
        let back = read_system_json(&path).unwrap();
        assert_eq!(back, sim.system);

        let missing = dir.path().join("nope.json");
        let e = format!("{:#}", read_system_json(&missing).unwrap_err());
        assert!(e.contains("nope.json"), "{e}");

        let text = fs::read_to_string(&path).unwrap();
        let bad = dir.path().join("bad.json");
        fs::write(&bad, text.replace("\"readout_bias\"", "\"readout_bias_x\"")).unwrap();
        let e = format!("{:#}", read_system_json(&bad).unwrap_err());
        assert!(e.contains("bad.json") && e.contains("readout_bias"), "{e}");

        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["offset"].as_array_mut().unwrap().pop();
        fs::write(&bad, v.to_string()).unwrap();
        let e = format!("{:#}", read_system_json(&bad).unwrap_err());
        assert!(e.contains("bad.json") && e.contains("`offset`"), "{e}");

        fs::write(&bad, "{\"format\": \"other\"}").unwrap();
        let e = format!("{:#}", read_system_json(&bad).unwrap_err());
        assert!(e.contains("`format`"), "{e}");
    }
}
