//! Phy/Kilosort output folders.
//!
//! A folder holds `spike_times.npy` (sample index of every spike, any integer type; Kilosort
//! writes uint64, some tools int64, shape `(n,)` or `(n, 1)`), `spike_clusters.npy` (the
//! cluster of every spike, any integer type; int32 or uint32 in practice), `params.py` (a
//! Python file whose `sample_rate = ...` gives samples per second) and, after manual curation,
//! `cluster_group.tsv` (`cluster_id<TAB>group`, group `good`, `mua` or `noise`).
//!
//! Rules: spike times must be non-negative and sorted (Kilosort writes them sorted; a file
//! that is not is corrupt or mismatched, so it is an error rather than silently re-sorted);
//! both arrays must have the same length; units come out in increasing cluster id. The start
//! of the recording is taken as the first spike: sample 0 is often not the start of the
//! session (the shared linear-track folder counts samples from the acquisition clock), and
//! the end as the last spike.

use std::collections::BTreeMap;
use std::path::Path;

use super::npy::{Kind, Npy, Number};
use super::{DataError, SpikeTrains, Unit};

/// Reads the folder `dir`; with `good_only`, keeps the clusters labelled `good` in
/// `cluster_group.tsv` (which must then exist).
pub fn read(dir: &Path, good_only: bool) -> Result<SpikeTrains, DataError> {
    let meta = std::fs::metadata(dir).map_err(|e| DataError::io(dir, "Phy folder", e))?;
    if !meta.is_dir() {
        return Err(DataError::invalid(
            dir,
            "Phy folder",
            "is a file; a Phy/Kilosort output is a folder",
        ));
    }
    let params = dir.join("params.py");
    let text =
        std::fs::read_to_string(&params).map_err(|e| DataError::io(&params, "params.py", e))?;
    let sample_rate = sample_rate(&text, &params)?;

    let times_path = dir.join("spike_times.npy");
    let times = Npy::read(&times_path, "spike_times")?;
    let n = integer_vector(
        &times,
        &times_path,
        "spike_times",
        "uint64 or int64 sample indices",
    )?;
    let clusters_path = dir.join("spike_clusters.npy");
    let clusters = Npy::read(&clusters_path, "spike_clusters")?;
    let n_clusters = integer_vector(
        &clusters,
        &clusters_path,
        "spike_clusters",
        "int32 or uint32 cluster ids",
    )?;
    if n != n_clusters {
        return Err(DataError::shape(
            &clusters_path,
            "spike_clusters",
            format!("{n_clusters} entries, but spike_times.npy in the same folder has {n} spikes"),
        ));
    }
    if n == 0 {
        return Err(DataError::empty(
            &times_path,
            "spike_times",
            "the folder holds no spikes",
        ));
    }

    let mut groups = Groups::default();
    let mut previous: i128 = 0;
    for i in 0..n {
        let Number::Int(sample) = times.get(i) else {
            unreachable!("integer_vector checked the kind")
        };
        if sample < 0 {
            return Err(DataError::Negative {
                path: times_path,
                field: "spike_times".into(),
                index: i,
                value: sample.to_string(),
            });
        }
        if i > 0 && sample < previous {
            return Err(DataError::Unsorted {
                path: times_path,
                field: "spike_times".into(),
                index: i,
                value: sample.to_string(),
                previous: previous.to_string(),
            });
        }
        previous = sample;
        let Number::Int(cluster) = clusters.get(i) else {
            unreachable!("integer_vector checked the kind")
        };
        let cluster = u32::try_from(cluster).map_err(|_| {
            if cluster < 0 {
                DataError::Negative {
                    path: clusters_path.clone(),
                    field: "spike_clusters".into(),
                    index: i,
                    value: cluster.to_string(),
                }
            } else {
                DataError::invalid(
                    &clusters_path,
                    format!("spike_clusters[{i}]"),
                    format!("cluster id {cluster} does not fit in 32 bits"),
                )
            }
        })?;
        groups.push(cluster, sample as f64 / sample_rate);
    }
    let mut by_cluster = groups.into_map();

    if good_only {
        let good = good_clusters(dir)?;
        let tsv = dir.join("cluster_group.tsv");
        if let Some(id) = good.iter().find(|id| !by_cluster.contains_key(id)) {
            return Err(DataError::empty(
                &tsv,
                format!("cluster {id}"),
                "labelled good but has no spike in spike_clusters.npy (mismatched files?)",
            ));
        }
        by_cluster.retain(|id, _| good.contains(id));
        if by_cluster.is_empty() {
            return Err(DataError::empty(
                &tsv,
                "group",
                "no cluster is labelled good",
            ));
        }
    }

    let units: Vec<Unit> = by_cluster
        .into_iter()
        .map(|(id, times_s)| Unit { id, times_s })
        .collect();
    let start_s = units
        .iter()
        .map(|u| u.times_s[0])
        .fold(f64::INFINITY, f64::min);
    let end_s = units
        .iter()
        .map(|u| u.times_s[u.times_s.len() - 1])
        .fold(f64::NEG_INFINITY, f64::max);
    Ok(SpikeTrains {
        units,
        start_s,
        end_s,
    })
}

/// Spike times grouped by cluster. Cluster ids are small in practice, so a dense table maps
/// them to groups (a tree lookup per spike was most of the reading time); large ids fall back
/// to a map.
#[derive(Default)]
struct Groups {
    dense: Vec<usize>,
    sparse: BTreeMap<u32, usize>,
    groups: Vec<(u32, Vec<f64>)>,
}

impl Groups {
    /// Ids below this use the dense table.
    const DENSE: u32 = 1 << 16;

    fn push(&mut self, cluster: u32, t: f64) {
        let slot = if cluster < Self::DENSE {
            let c = cluster as usize;
            if c >= self.dense.len() {
                self.dense.resize(c + 1, usize::MAX);
            }
            if self.dense[c] == usize::MAX {
                self.dense[c] = self.groups.len();
                self.groups.push((cluster, Vec::new()));
            }
            self.dense[c]
        } else {
            let next = self.groups.len();
            let slot = *self.sparse.entry(cluster).or_insert(next);
            if slot == next {
                self.groups.push((cluster, Vec::new()));
            }
            slot
        };
        self.groups[slot].1.push(t);
    }

    fn into_map(self) -> BTreeMap<u32, Vec<f64>> {
        self.groups.into_iter().collect()
    }
}

/// Checks that `npy` is an integer vector and returns its length.
fn integer_vector(npy: &Npy, path: &Path, field: &str, expected: &str) -> Result<usize, DataError> {
    if npy.kind == Kind::Float {
        return Err(DataError::Dtype {
            path: path.into(),
            field: field.into(),
            found: format!("'{}'", npy.descr),
            expected: expected.into(),
        });
    }
    npy.vector_len(path, field)
}

/// The value of `sample_rate` in the text of a `params.py`: the last top-level assignment
/// wins, as in Python. Accepts `30000.`, `3e4`, `30_000`, `float(30000)`, trailing comments.
pub fn sample_rate(text: &str, path: &Path) -> Result<f64, DataError> {
    let mut found: Option<(usize, String)> = None;
    for (lineno, line) in text.lines().enumerate() {
        let code = strip_comment(line);
        for statement in code.split(';') {
            if let Some((name, value)) = statement.split_once('=') {
                let name = name.trim();
                let value = value.trim();
                // `==` comparisons and keyword arguments are not assignments of sample_rate.
                if name == "sample_rate" && !value.starts_with('=') && !line.starts_with(' ') {
                    found = Some((lineno + 1, value.to_string()));
                }
            }
        }
    }
    let (lineno, value) = found.ok_or_else(|| {
        DataError::invalid(path, "sample_rate", "params.py assigns no sample_rate")
    })?;
    let field = format!("sample_rate (line {lineno})");
    let mut literal = value.as_str();
    for wrapper in ["float(", "int("] {
        if let Some(inner) = literal
            .strip_prefix(wrapper)
            .and_then(|r| r.strip_suffix(')'))
        {
            literal = inner.trim();
        }
    }
    let rate: f64 = literal
        .replace('_', "")
        .parse()
        .map_err(|_| DataError::invalid(path, &field, format!("'{value}' is not a number")))?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(DataError::invalid(
            path,
            &field,
            format!("{rate} is not a positive number of samples per second"),
        ));
    }
    Ok(rate)
}

/// The line without a `#` comment (a `#` inside a quoted string is kept).
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '#') => return &line[..i],
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            _ => {}
        }
    }
    line
}

/// Cluster ids labelled `good` in `cluster_group.tsv`.
fn good_clusters(dir: &Path) -> Result<Vec<u32>, DataError> {
    let path = dir.join("cluster_group.tsv");
    let text = std::fs::read_to_string(&path).map_err(|e| {
        DataError::io(
            &path,
            "cluster_group.tsv (needed to keep good units only)",
            e,
        )
    })?;
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| DataError::empty(&path, "header", "the file is empty"))?;
    let columns: Vec<&str> = header.split('\t').map(str::trim).collect();
    let col = |name: &str| {
        columns.iter().position(|c| *c == name).ok_or_else(|| {
            DataError::malformed(
                &path,
                "header",
                format!("no '{name}' column (found {columns:?})"),
            )
        })
    };
    let (id_col, group_col) = (col("cluster_id")?, col("group")?);
    let mut good = Vec::new();
    for (lineno, line) in lines {
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        let field = format!("line {}", lineno + 1);
        let (Some(id), Some(group)) = (cells.get(id_col), cells.get(group_col)) else {
            return Err(DataError::malformed(
                &path,
                field,
                format!(
                    "expected {} tab-separated cells, found {}",
                    columns.len(),
                    cells.len()
                ),
            ));
        };
        let id: u32 = id.parse().map_err(|_| {
            DataError::invalid(
                &path,
                &field,
                format!("cluster_id '{id}' is not a cluster id"),
            )
        })?;
        if *group == "good" && !good.contains(&id) {
            good.push(id);
        }
    }
    Ok(good)
}
