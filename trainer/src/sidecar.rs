//! The JSON sidecars that name what a checkpoint is: one check of their `format` and
//! `version` fields, shared by the JSLDS and TAVRNN checkpoints.

use std::path::Path;

use anyhow::{bail, Result};

/// Refuses a sidecar at `path` whose `format` is not `expected_format` or whose `version` is
/// not the one this build reads, naming the file and the field.
pub fn check_identity(
    path: &Path,
    format: &str,
    version: u32,
    expected_format: &str,
    expected_version: u32,
) -> Result<()> {
    if format != expected_format {
        bail!(
            "{}: field `format` is {format:?}, expected {expected_format:?}",
            path.display()
        );
    }
    if version != expected_version {
        bail!(
            "{}: field `version` is {version}, this build reads version {expected_version}",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_file_and_the_field() {
        let p = Path::new("ckpt/checkpoint.json");
        assert!(check_identity(p, "a", 1, "a", 1).is_ok());
        let e = check_identity(p, "b", 1, "a", 1).unwrap_err().to_string();
        assert!(
            e.contains("ckpt/checkpoint.json") && e.contains("`format`"),
            "{e}"
        );
        let e = check_identity(p, "a", 2, "a", 1).unwrap_err().to_string();
        assert!(
            e.contains("`version` is 2") && e.contains("version 1"),
            "{e}"
        );
    }
}
