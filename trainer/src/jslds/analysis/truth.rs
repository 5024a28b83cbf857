//! The ground truth of a simulated session as the analysis uses it: `truth.json`
//! (`docs/truth-json.md`, the simulator's own [`Truth`] type), the latent trajectory
//! (`latent.npy`) and the session's spikes (`phy/`, for the rate-threshold baseline), with
//! the mapping from the model's bins to the truth's bins.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::mat::Mat;
use crate::simulate::Truth;

/// A loaded `truth.json` and the files next to it.
#[derive(Debug, Clone)]
pub struct TruthSession {
    /// `truth.json` itself (for messages).
    pub path: PathBuf,
    /// Its contents.
    pub truth: Truth,
    /// The latent state per truth bin (`n_bins x dim`), for latent scenarios.
    pub latent: Option<Mat>,
}

impl TruthSession {
    /// Reads `path` (a `truth.json`) and, where the scenario has one, its `latent.npy`.
    pub fn read(path: &Path) -> Result<TruthSession> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the truth file", path.display()))?;
        let truth: Truth = serde_json::from_str(&text).with_context(|| {
            format!(
                "{}: not a truth.json of `neuroloop simulate` (docs/truth-json.md)",
                path.display()
            )
        })?;
        check(&truth, path)?;
        let latent = match &truth.latent {
            Some(l) => {
                let file = path.parent().unwrap_or(Path::new(".")).join(&l.latent_file);
                Some(read_f32_matrix(&file, "latent", truth.n_bins, l.dim)?)
            }
            None => None,
        };
        Ok(TruthSession {
            path: path.to_path_buf(),
            truth,
            latent,
        })
    }

    /// The folder of the session (where `truth.json` lies).
    pub fn dir(&self) -> PathBuf {
        self.path.parent().unwrap_or(Path::new(".")).to_path_buf()
    }

    /// The truth bin holding time `t_s` (seconds from the session start), if inside.
    pub fn bin_at(&self, t_s: f64) -> Option<usize> {
        let b = (t_s / self.truth.bin_s).floor();
        (b >= 0.0 && (b as usize) < self.truth.n_bins).then_some(b as usize)
    }

    /// The truth bin of the centre of model bin `bin` (bins of `bin_s` from `start_s`, the
    /// start of the binned session in seconds).
    pub fn bin_of_model_bin(&self, bin: usize, bin_s: f64, start_s: f64) -> Option<usize> {
        self.bin_at(start_s + (bin as f64 + 0.5) * bin_s)
    }

    /// The true regime of model bin `bin` (see [`TruthSession::bin_of_model_bin`]).
    pub fn regime_of_model_bin(&self, bin: usize, bin_s: f64, start_s: f64) -> Option<usize> {
        self.bin_of_model_bin(bin, bin_s, start_s)
            .map(|b| usize::from(self.truth.regime_per_bin[b]))
    }
}

/// The consistency checks the analysis relies on, each naming the key.
fn check(truth: &Truth, path: &Path) -> Result<()> {
    let bad = |field: &str, problem: String| -> Result<()> {
        bail!("{}: {field}: {problem}", path.display())
    };
    if !(truth.bin_s.is_finite() && truth.bin_s > 0.0) {
        return bad(
            "bin_s",
            format!("{} is not a positive bin width", truth.bin_s),
        );
    }
    if truth.regime_per_bin.len() != truth.n_bins {
        return bad(
            "regime_per_bin",
            format!(
                "{} entries, n_bins is {}",
                truth.regime_per_bin.len(),
                truth.n_bins
            ),
        );
    }
    if let Some(r) = truth
        .regime_per_bin
        .iter()
        .find(|&&r| usize::from(r) >= truth.regime_names.len())
    {
        return bad(
            "regime_per_bin",
            format!(
                "regime {r} but only {} regime_names",
                truth.regime_names.len()
            ),
        );
    }
    if let Some(l) = &truth.latent {
        if let Some(fp) = truth
            .fixed_points
            .iter()
            .flatten()
            .find(|fp| fp.point.len() != l.dim)
        {
            return bad(
                "fixed_points",
                format!(
                    "a point has {} values, latent.dim is {}",
                    fp.point.len(),
                    l.dim
                ),
            );
        }
        if let Some(sl) = &truth.switching_linear {
            let d = l.dim;
            if sl.points.iter().any(|p| p.len() != d)
                || sl.dynamics.len() != sl.points.len()
                || sl.dynamics.iter().any(|f| f.len() != d)
                || sl.dynamics.iter().flatten().any(|row| row.len() != d)
            {
                return bad(
                    "switching_linear",
                    format!("points must be K x {d} and dynamics K x {d} x {d} (latent.dim {d})"),
                );
            }
        }
    }
    Ok(())
}

/// Reads a 2-D float array (`rows x cols`, C or Fortran order, f32 or f64) and checks its
/// shape. Errors name the file and `field`.
pub fn read_f32_matrix(path: &Path, field: &str, rows: usize, cols: usize) -> Result<Mat> {
    let bytes =
        std::fs::read(path).with_context(|| format!("{}: {field}: cannot read", path.display()))?;
    let npy = npyz::NpyFile::new(&bytes[..])
        .with_context(|| format!("{}: {field}: not a .npy file", path.display()))?;
    let shape: Vec<u64> = npy.shape().to_vec();
    if shape != [rows as u64, cols as u64] {
        bail!(
            "{}: {field}: shape {shape:?}, expected [{rows}, {cols}] (n_bins x dim of truth.json)",
            path.display()
        );
    }
    let fortran = npy.order() == npyz::Order::Fortran;
    let descr = npy.dtype().descr().trim_matches('\'').to_string();
    let values: Vec<f64> = match descr.as_str() {
        "<f4" => npy
            .into_vec::<f32>()
            .map(|v| v.into_iter().map(f64::from).collect()),
        "<f8" => npy.into_vec::<f64>(),
        other => bail!(
            "{}: {field}: dtype {other}, expected float32 (<f4) or float64 (<f8)",
            path.display()
        ),
    }
    .with_context(|| format!("{}: {field}: cannot decode the data", path.display()))?;
    if values.len() != rows * cols {
        bail!(
            "{}: {field}: {} values for shape [{rows}, {cols}]",
            path.display(),
            values.len()
        );
    }
    let mut m = Mat::zeros(rows, cols);
    for i in 0..rows {
        for j in 0..cols {
            let v = if fortran {
                values[j * rows + i]
            } else {
                values[i * cols + j]
            };
            if !v.is_finite() {
                bail!("{}: {field}: element ({i}, {j}) is {v}", path.display());
            }
            *m.at_mut(i, j) = v;
        }
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use npyz::WriterBuilder;

    fn write_npy(path: &Path, shape: &[u64], data: &[f32]) {
        let mut out = Vec::new();
        {
            let mut w = npyz::WriteOptions::new()
                .default_dtype()
                .shape(shape)
                .writer(&mut out)
                .begin_nd()
                .unwrap();
            w.extend(data.iter().copied()).unwrap();
            w.finish().unwrap();
        }
        std::fs::write(path, out).unwrap();
    }

    #[test]
    fn latent_matrix_reads_and_bad_shapes_name_file_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("latent.npy");
        write_npy(&p, &[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let m = read_f32_matrix(&p, "latent", 3, 2).unwrap();
        assert_eq!(m.row(1), &[3.0, 4.0]);
        let e = format!("{:#}", read_f32_matrix(&p, "latent", 4, 2).unwrap_err());
        assert!(
            e.contains("latent.npy") && e.contains("latent") && e.contains("[4, 2]"),
            "{e}"
        );
        let e = format!(
            "{:#}",
            read_f32_matrix(&dir.path().join("none.npy"), "latent", 1, 1).unwrap_err()
        );
        assert!(e.contains("none.npy") && e.contains("cannot read"), "{e}");
        std::fs::write(&p, b"not npy").unwrap();
        let e = format!("{:#}", read_f32_matrix(&p, "latent", 3, 2).unwrap_err());
        assert!(e.contains("latent.npy"), "{e}");
    }
}
