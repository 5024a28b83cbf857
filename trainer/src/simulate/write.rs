//! Writing a session to disk: every file goes to a temporary name in its folder first and is
//! renamed into place, so that a reader never sees a half-written file.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use npyz::WriterBuilder;

use super::{spikes, ArrayData, Session, SimError};

/// Writes `session` into `dir` (created if missing): `phy/`, `behavior.csv`, `truth.json` and
/// the scenario's extra files.
pub fn write_session(session: &Session, dir: &Path) -> Result<(), SimError> {
    let phy = dir.join("phy");
    fs::create_dir_all(&phy).map_err(|source| SimError::Write {
        path: phy.clone(),
        source,
    })?;
    let n = session.spike_samples.len() as u64;
    atomic(&phy.join("spike_times.npy"), |w| {
        npy(w, &[n], session.spike_samples.iter().copied())
    })?;
    atomic(&phy.join("spike_clusters.npy"), |w| {
        npy(w, &[n], session.spike_clusters.iter().copied())
    })?;
    atomic(&phy.join("params.py"), |w| {
        write!(
            w,
            "dat_path = 'simulated.dat'\nn_channels_dat = 1\ndtype = 'int16'\noffset = 0\n\
             sample_rate = {:.1}\nhp_filtered = True\n",
            spikes::SAMPLE_RATE
        )
    })?;
    atomic(&phy.join("cluster_group.tsv"), |w| {
        writeln!(w, "cluster_id\tgroup")?;
        for u in 0..session.truth.neurons {
            writeln!(w, "{u}\tgood")?;
        }
        Ok(())
    })?;
    atomic(&dir.join("behavior.csv"), |w| {
        writeln!(w, "start_s,end_s,label")?;
        let segments = match &session.truth.behaviour {
            Some(b) => &b.segments,
            None => &session.truth.segments,
        };
        for s in segments {
            writeln!(w, "{},{},{}", micros(s.start_s), micros(s.end_s), s.label)?;
        }
        Ok(())
    })?;
    for a in &session.arrays {
        atomic(&dir.join(&a.file), |w| match &a.data {
            ArrayData::F32(v) => npy(w, &a.shape, v.iter().copied()),
            ArrayData::U32(v) => npy(w, &a.shape, v.iter().copied()),
        })?;
    }
    if let Some(sys) = &session.system {
        let path = dir.join("system.json");
        let tmp = dir.join(format!(".system.json.tmp-{}", std::process::id()));
        crate::slds::write_system_json(&tmp, sys)
            .and_then(|()| fs::rename(&tmp, &path).map_err(Into::into))
            .map_err(|e| {
                let _ = fs::remove_file(&tmp);
                SimError::Write {
                    path,
                    source: io::Error::other(format!("{e:#}")),
                }
            })?;
    }
    atomic(&dir.join("truth.json"), |w| {
        serde_json::to_writer(&mut *w, &session.truth).map_err(io::Error::other)?;
        writeln!(w)
    })
}

fn npy<T: npyz::AutoSerialize>(
    w: &mut dyn Write,
    shape: &[u64],
    values: impl Iterator<Item = T>,
) -> io::Result<()> {
    let mut out = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(w)
        .begin_nd()?;
    out.extend(values)?;
    out.finish()
}

/// Writes `path` through a temporary file in the same folder and a rename.
fn atomic(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<(), SimError> {
    let err = |source| SimError::Write {
        path: path.to_path_buf(),
        source,
    };
    if crate::export::write::writes_in_place(path) {
        // A device or FIFO: written in place (see `writes_in_place`).
        let result = (|| {
            let mut w = BufWriter::new(fs::OpenOptions::new().write(true).open(path)?);
            body(&mut w)?;
            w.flush()
        })();
        return result.map_err(err);
    }
    let mut tmp = PathBuf::from(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    tmp.set_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut w = BufWriter::new(fs::File::create(&tmp)?);
        body(&mut w)?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(err)
}

/// A bin edge in seconds rounded to the microsecond, so that `behavior.csv` reads `70.57`
/// rather than the product's float noise `70.57000000000001` (the label reader treats a time
/// within a tolerance of a bin edge as on it, so both map to the same bin).
fn micros(t_s: f64) -> f64 {
    (t_s * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::micros;

    #[test]
    fn bin_edges_print_without_float_noise() {
        assert_eq!(format!("{}", 7057.0 * 0.01), "70.57000000000001");
        assert_eq!(format!("{}", micros(7057.0 * 0.01)), "70.57");
        assert_eq!(format!("{}", micros(0.000_001_4)), "0.000001");
    }
}
