//! Behaviour labels: intervals `start_s,end_s,label` from a CSV file.
//!
//! Format: a header row naming the columns `start_s`, `end_s` and `label` (in any order; other
//! columns are ignored), then one interval a row. Cells may be quoted (`"a, b"`, with `""` for
//! a quote). Blank lines are skipped; a UTF-8 byte-order mark is allowed.
//!
//! Rules: times are finite, non-negative seconds; `end_s > start_s`; intervals may come in any
//! order but must not overlap (touching is fine): an overlap would give a bin two labels, and
//! silently picking one would train on wrong labels. An interval is half-open,
//! `[start_s, end_s)`. Times outside every interval are unlabelled.

use std::path::Path;

use super::DataError;

/// One labelled interval, `[start_s, end_s)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    /// Start, seconds (inclusive).
    pub start_s: f64,
    /// End, seconds (exclusive).
    pub end_s: f64,
    /// The behaviour.
    pub label: String,
}

/// Labelled intervals, sorted by start, with the distinct labels as classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Labels {
    /// Non-overlapping intervals, sorted by `start_s`.
    pub intervals: Vec<Interval>,
    /// Distinct labels in order of first appearance in the file; a class index is a position
    /// here.
    pub classes: Vec<String>,
}

/// Reads a labels CSV file.
pub fn read_csv(path: &Path) -> Result<Labels, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, "labels CSV", e))?;
    parse_csv(&bytes, path)
}

/// Parses the bytes of a labels CSV file; `path` only names it in errors.
pub fn parse_csv(bytes: &[u8], path: &Path) -> Result<Labels, DataError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        DataError::malformed(
            path,
            "text",
            format!("not UTF-8 (byte {})", e.valid_up_to()),
        )
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .split('\n')
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty());
    let (header_line, header) = lines
        .next()
        .ok_or_else(|| DataError::empty(path, "header", "the file is empty"))?;
    let columns = split_row(header)
        .map_err(|p| DataError::malformed(path, format!("line {header_line} (header)"), p))?;
    let col = |name: &str| {
        columns.iter().position(|c| c.trim() == name).ok_or_else(|| {
            DataError::malformed(
                path,
                format!("line {header_line} (header)"),
                format!("no '{name}' column; expected the header start_s,end_s,label, found {columns:?}"),
            )
        })
    };
    let (start_col, end_col, label_col) = (col("start_s")?, col("end_s")?, col("label")?);

    // (line, interval)
    let mut rows: Vec<(usize, Interval)> = Vec::new();
    for (line, text) in lines {
        let field = |name: &str| format!("line {line}, {name}");
        let cells =
            split_row(text).map_err(|p| DataError::malformed(path, format!("line {line}"), p))?;
        if cells.len() != columns.len() {
            return Err(DataError::malformed(
                path,
                format!("line {line}"),
                format!("{} cells, the header has {}", cells.len(), columns.len()),
            ));
        }
        let time = |c: usize, name: &str| -> Result<f64, DataError> {
            let raw = cells[c].trim();
            let v: f64 = raw.parse().map_err(|_| {
                DataError::invalid(
                    path,
                    field(name),
                    format!("'{raw}' is not a number of seconds"),
                )
            })?;
            if !v.is_finite() {
                return Err(DataError::NotFinite {
                    path: path.into(),
                    field: field(name),
                    index: rows.len(),
                    value: raw.into(),
                });
            }
            if v < 0.0 {
                return Err(DataError::Negative {
                    path: path.into(),
                    field: field(name),
                    index: rows.len(),
                    value: raw.into(),
                });
            }
            Ok(v)
        };
        let start_s = time(start_col, "start_s")?;
        let end_s = time(end_col, "end_s")?;
        if end_s <= start_s {
            return Err(DataError::invalid(
                path,
                format!("line {line}"),
                format!("end_s {end_s} is not after start_s {start_s}"),
            ));
        }
        let label = cells[label_col].trim().to_string();
        if label.is_empty() {
            return Err(DataError::invalid(path, field("label"), "empty label"));
        }
        rows.push((
            line,
            Interval {
                start_s,
                end_s,
                label,
            },
        ));
    }
    if rows.is_empty() {
        return Err(DataError::empty(
            path,
            "rows",
            "the file has a header but no interval",
        ));
    }

    let mut classes: Vec<String> = Vec::new();
    for (_, iv) in &rows {
        if !classes.contains(&iv.label) {
            classes.push(iv.label.clone());
        }
    }
    rows.sort_by(|a, b| a.1.start_s.total_cmp(&b.1.start_s));
    for pair in rows.windows(2) {
        let ((la, a), (lb, b)) = (&pair[0], &pair[1]);
        if b.start_s < a.end_s {
            return Err(DataError::invalid(
                path,
                format!("lines {la} and {lb}"),
                format!(
                    "intervals overlap: [{}, {}) '{}' and [{}, {}) '{}'",
                    a.start_s, a.end_s, a.label, b.start_s, b.end_s, b.label
                ),
            ));
        }
    }
    Ok(Labels {
        intervals: rows.into_iter().map(|(_, iv)| iv).collect(),
        classes,
    })
}

/// Cells of one CSV row; quoted cells may hold commas and doubled quotes.
fn split_row(line: &str) -> Result<Vec<String>, String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    cell.push('"');
                } else {
                    quoted = false;
                }
            }
            (true, c) => cell.push(c),
            (false, '"') if cell.trim().is_empty() && !was_quoted => {
                cell.clear();
                quoted = true;
                was_quoted = true;
            }
            (false, '"') => return Err("a quote in the middle of a cell".into()),
            (false, ',') => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
            }
            (false, c) => {
                if was_quoted && !c.is_whitespace() {
                    return Err("text after a closing quote".into());
                }
                cell.push(c);
            }
        }
    }
    if quoted {
        return Err("unterminated quote".into());
    }
    cells.push(cell);
    Ok(cells)
}

impl Labels {
    /// Class index of the label of time `t_s`, or None when no interval covers it.
    pub fn label_at(&self, t_s: f64) -> Option<usize> {
        let i = self.interval_at(t_s)?;
        self.class_index(&self.intervals[i].label)
    }

    /// Class index of the label that covers the whole window `[a_s, b_s]`, or None when the
    /// window is not inside labelled time of a single class. Touching intervals of the same
    /// label count as one (a window across two adjacent `still` intervals is `still`).
    pub fn label_span(&self, a_s: f64, b_s: f64) -> Option<usize> {
        if a_s.partial_cmp(&b_s).is_none_or(|o| o.is_gt()) {
            return None;
        }
        let mut i = self.interval_at(a_s)?;
        let label = &self.intervals[i].label;
        while self.intervals[i].end_s < b_s {
            let next = self.intervals.get(i + 1)?;
            if next.start_s != self.intervals[i].end_s || next.label != *label {
                return None;
            }
            i += 1;
        }
        self.class_index(label)
    }

    /// Position of `label` in [`Labels::classes`] (None for a label that is not a class,
    /// which only a hand-built `Labels` can have).
    pub fn class_index(&self, label: &str) -> Option<usize> {
        self.classes.iter().position(|c| c == label)
    }

    /// Index of the interval holding `t_s`.
    fn interval_at(&self, t_s: f64) -> Option<usize> {
        let after = self.intervals.partition_point(|iv| iv.start_s <= t_s);
        let i = after.checked_sub(1)?;
        (t_s < self.intervals[i].end_s).then_some(i)
    }

    /// Writes the intervals as a CSV file that [`read_csv`] reads back unchanged (labels
    /// are trimmed on reading, so labels with outer spaces or line breaks do not survive).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("start_s,end_s,label\n");
        for iv in &self.intervals {
            let label = if iv.label.contains([',', '"']) {
                format!("\"{}\"", iv.label.replace('"', "\"\""))
            } else {
                iv.label.clone()
            };
            out.push_str(&format!("{},{},{}\n", iv.start_s, iv.end_s, label));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rows() {
        assert_eq!(split_row("1,2,still").unwrap(), vec!["1", "2", "still"]);
        assert_eq!(
            split_row("1,2,\"a, \"\"b\"\"\"").unwrap(),
            vec!["1", "2", "a, \"b\""]
        );
        assert!(split_row("1,2,\"a").is_err());
        assert!(split_row("1,2,a\"b").is_err());
        assert!(split_row("1,2,\"a\"b").is_err());
    }
}
