//! A checked reader of NumPy `.npy` files holding plain numeric arrays.
//!
//! Why not `npyz`'s reader: on crafted input it can panic (the product of the shape overflows
//! `u64` in debug builds) and its header parser recurses without bound on nested brackets, and
//! the readers of this crate must never panic. The header of a plain array is a tiny Python
//! dict literal (`{'descr': '<u8', 'fortran_order': False, 'shape': (28829,), }`), so it is
//! parsed here with every size checked before anything is allocated. `npyz` still writes the
//! files of the tests, which makes the round trips a check against an independent
//! implementation.

use std::path::Path;

use super::DataError;

/// Deepest bracket nesting accepted in a header (structured dtypes nest; plain ones do not).
const MAX_DEPTH: usize = 8;

/// Kind of the array's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Signed integer (`i1`, `i2`, `i4`, `i8`).
    Int,
    /// Unsigned integer (`u1`, `u2`, `u4`, `u8`).
    UInt,
    /// IEEE float (`f4`, `f8`).
    Float,
}

/// One element, widened without loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// Any integer type (i64 and u64 both fit).
    Int(i128),
    /// Any float type.
    Float(f64),
}

impl std::fmt::Display for Number {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Number::Int(v) => write!(f, "{v}"),
            Number::Float(v) => write!(f, "{v}"),
        }
    }
}

/// A parsed `.npy` file: header plus the raw data bytes, decoded on access.
#[derive(Debug, Clone)]
pub(crate) struct Npy {
    /// Dimensions, as written in the header.
    pub shape: Vec<usize>,
    /// Whether the data are stored column-major.
    pub fortran_order: bool,
    /// The dtype string as written (`<u8`, `|i1`, ...), for messages.
    pub descr: String,
    /// Element kind.
    pub kind: Kind,
    little_endian: bool,
    size: usize,
    bytes: Vec<u8>,
    data_offset: usize,
    len: usize,
}

impl Npy {
    /// Reads and checks a whole `.npy` file. `field` names the array in messages.
    pub fn read(path: &Path, field: &str) -> Result<Npy, DataError> {
        let bytes = std::fs::read(path).map_err(|e| DataError::io(path, field, e))?;
        Npy::parse(bytes, path, field)
    }

    /// Checks `bytes` as the contents of `path`.
    pub fn parse(bytes: Vec<u8>, path: &Path, field: &str) -> Result<Npy, DataError> {
        let bad = |problem: String| DataError::malformed(path, field, problem);
        if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
            return Err(bad("not a .npy file (no \\x93NUMPY magic)".into()));
        }
        let (major, minor) = (bytes[6], bytes[7]);
        let (header_len, text_start): (usize, usize) = match major {
            1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
            2 | 3 => {
                if bytes.len() < 12 {
                    return Err(bad("file ends inside the header length".into()));
                }
                let n = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
                (usize::try_from(n).unwrap_or(usize::MAX), 12)
            }
            _ => {
                return Err(DataError::unsupported(
                    path,
                    field,
                    format!(".npy format version {major}.{minor} (known: 1.0, 2.0, 3.0)"),
                ))
            }
        };
        let data_offset = text_start
            .checked_add(header_len)
            .filter(|&end| end <= bytes.len())
            .ok_or_else(|| {
                bad(format!(
                    "header of {header_len} bytes runs past the end of the {}-byte file",
                    bytes.len()
                ))
            })?;
        let header = parse_header(&bytes[text_start..data_offset]).map_err(&bad)?;

        let (kind, little_endian, size) =
            parse_descr(&header.descr).ok_or_else(|| DataError::Dtype {
                path: path.into(),
                field: field.into(),
                found: format!("'{}'", header.descr),
                expected: "a plain integer (i1, i2, i4, i8, u1, u2, u4, u8) or float (f4, f8)"
                    .into(),
            })?;
        let len = header
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| bad(format!("shape {:?} has too many elements", header.shape)))?;
        let data_len = len
            .checked_mul(size)
            .ok_or_else(|| bad(format!("shape {:?} has too many bytes", header.shape)))?;
        let available = bytes.len() - data_offset;
        if data_len != available {
            return Err(bad(format!(
                "shape {:?} of '{}' needs {data_len} data bytes, the file holds {available}",
                header.shape, header.descr
            )));
        }
        Ok(Npy {
            shape: header.shape,
            fortran_order: header.fortran_order,
            descr: header.descr,
            kind,
            little_endian,
            size,
            bytes,
            data_offset,
            len,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Element `i` in storage order. `i` must be below [`Npy::len`].
    pub fn get(&self, i: usize) -> Number {
        let start = self.data_offset + i * self.size;
        let mut buf = [0u8; 8];
        buf[..self.size].copy_from_slice(&self.bytes[start..start + self.size]);
        if !self.little_endian {
            buf[..self.size].reverse();
        }
        let raw = u64::from_le_bytes(buf);
        match self.kind {
            Kind::UInt => Number::Int(raw as i128),
            Kind::Int => {
                let shift = 64 - 8 * self.size as u32;
                Number::Int((((raw << shift) as i64) >> shift) as i128)
            }
            Kind::Float => {
                if self.size == 4 {
                    Number::Float(f32::from_bits(raw as u32) as f64)
                } else {
                    Number::Float(f64::from_bits(raw))
                }
            }
        }
    }

    /// Storage index of element `(row, col)` of a 2-D array with `cols` columns and `rows`
    /// rows, whatever the storage order.
    pub fn index_2d(&self, row: usize, col: usize, rows: usize, cols: usize) -> usize {
        if self.fortran_order {
            col * rows + row
        } else {
            row * cols + col
        }
    }

    /// Length of a 1-D array, also accepting `(n, 1)` and `(1, n)` (Kilosort writes
    /// `spike_times.npy` as a column).
    pub fn vector_len(&self, path: &Path, field: &str) -> Result<usize, DataError> {
        match self.shape.as_slice() {
            [n] => Ok(*n),
            [n, 1] | [1, n] => Ok(*n),
            _ => Err(DataError::shape(
                path,
                field,
                format!(
                    "expected a vector (n,) or (n, 1), found {}",
                    shape_text(&self.shape)
                ),
            )),
        }
    }
}

/// `(3, 4)` style text of a shape.
pub(crate) fn shape_text(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The three keys of a `.npy` header.
struct Header {
    descr: String,
    fortran_order: bool,
    shape: Vec<usize>,
}

/// A value of the Python literal subset used by `.npy` headers.
#[derive(Debug)]
enum Value {
    Str(String),
    Bool(bool),
    Int(i128),
    Seq(Vec<Value>),
    Nothing,
}

fn parse_header(text: &[u8]) -> Result<Header, String> {
    let mut p = Parser { s: text, pos: 0 };
    let dict = p.dict()?;
    p.ws();
    if p.pos != p.s.len() {
        return Err(format!(
            "unexpected text after the header dict at byte {}",
            p.pos
        ));
    }
    let mut descr = None;
    let mut fortran_order = None;
    let mut shape = None;
    for (key, value) in dict {
        match (key.as_str(), value) {
            ("descr", Value::Str(s)) => descr = Some(s),
            ("descr", Value::Seq(_)) => {
                return Err("structured (record) dtype; expected a plain numeric array".into())
            }
            ("fortran_order", Value::Bool(b)) => fortran_order = Some(b),
            ("shape", Value::Seq(dims)) => {
                let mut out = Vec::with_capacity(dims.len());
                for d in dims {
                    match d {
                        Value::Int(v) if v >= 0 => out.push(
                            usize::try_from(v).map_err(|_| format!("dimension {v} too large"))?,
                        ),
                        other => return Err(format!("shape holds {other:?}, not a size")),
                    }
                }
                shape = Some(out);
            }
            ("descr" | "fortran_order" | "shape", other) => {
                return Err(format!("key '{key}' has an unexpected value {other:?}"))
            }
            _ => {}
        }
    }
    Ok(Header {
        descr: descr.ok_or("header has no 'descr'")?,
        fortran_order: fortran_order.ok_or("header has no 'fortran_order'")?,
        shape: shape.ok_or("header has no 'shape'")?,
    })
}

/// Kind, endianness and size of a plain numeric dtype string, or None for anything else.
fn parse_descr(descr: &str) -> Option<(Kind, bool, usize)> {
    let b = descr.as_bytes();
    if b.len() < 3 {
        return None;
    }
    let little = match b[0] {
        b'<' => true,
        b'>' => false,
        b'|' | b'=' => cfg!(target_endian = "little"),
        _ => return None,
    };
    let size: usize = descr[2..].parse().ok()?;
    let kind = match (b[1], size) {
        (b'i', 1 | 2 | 4 | 8) => Kind::Int,
        (b'u', 1 | 2 | 4 | 8) => Kind::UInt,
        (b'f', 4 | 8) => Kind::Float,
        _ => return None,
    };
    if b[0] == b'|' && size != 1 {
        return None;
    }
    Some((kind, little, size))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "expected '{}' at byte {} of the header",
                c as char, self.pos
            ))
        }
    }

    fn dict(&mut self) -> Result<Vec<(String, Value)>, String> {
        self.expect(b'{')?;
        let mut out = Vec::new();
        loop {
            self.ws();
            if self.peek() == Some(b'}') {
                self.pos += 1;
                return Ok(out);
            }
            let key = match self.value(1)? {
                Value::Str(k) => k,
                other => return Err(format!("header key {other:?} is not a string")),
            };
            self.expect(b':')?;
            let value = self.value(1)?;
            out.push((key, value));
            self.ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {}
                _ => return Err(format!("expected ',' or '}}' at byte {}", self.pos)),
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Value, String> {
        if depth > MAX_DEPTH {
            return Err("header nests too deeply".into());
        }
        self.ws();
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos] != q {
                    if self.s[self.pos] == b'\\' {
                        return Err("escapes in header strings are not supported".into());
                    }
                    self.pos += 1;
                }
                if self.pos >= self.s.len() {
                    return Err("unterminated string in header".into());
                }
                let text = std::str::from_utf8(&self.s[start..self.pos])
                    .map_err(|_| "header string is not UTF-8".to_string())?
                    .to_string();
                self.pos += 1;
                Ok(Value::Str(text))
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Value::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => return Err(format!("expected ',' or bracket at byte {}", self.pos)),
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == b'-' => {
                let start = self.pos;
                self.pos += 1;
                while self.pos < self.s.len() && self.s[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
                let v: i128 = text
                    .parse()
                    .map_err(|_| format!("bad integer '{text}' in header"))?;
                // Python 2 wrote long integers with an L suffix.
                if matches!(self.peek(), Some(b'L' | b'l')) {
                    self.pos += 1;
                }
                Ok(Value::Int(v))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.pos;
                while self.pos < self.s.len() && self.s[self.pos].is_ascii_alphanumeric() {
                    self.pos += 1;
                }
                match &self.s[start..self.pos] {
                    b"True" => Ok(Value::Bool(true)),
                    b"False" => Ok(Value::Bool(false)),
                    b"None" => Ok(Value::Nothing),
                    other => Err(format!(
                        "unknown name '{}' in header",
                        String::from_utf8_lossy(other)
                    )),
                }
            }
            Some(c) => Err(format!(
                "unexpected character {:?} at byte {} of the header",
                c as char, self.pos
            )),
            None => Err("header ends early".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_numpy_header() {
        let h = parse_header(b"{'descr': '<u8', 'fortran_order': False, 'shape': (28829,), }   \n")
            .unwrap();
        assert_eq!(h.descr, "<u8");
        assert!(!h.fortran_order);
        assert_eq!(h.shape, vec![28829]);
        let h = parse_header(b"{'descr':'>f4','fortran_order':True,'shape':(3L, 4L)}").unwrap();
        assert_eq!(h.shape, vec![3, 4]);
        assert!(h.fortran_order);
    }

    #[test]
    fn rejects_deep_nesting_and_junk() {
        let deep = format!("{{'shape': {}}}", "(".repeat(10_000));
        assert!(parse_header(deep.as_bytes()).is_err());
        assert!(parse_header(b"{'descr': '<u8'} junk").is_err());
        assert!(parse_header(b"{'shape': (-1,), 'descr': '<u8', 'fortran_order': False}").is_err());
    }

    #[test]
    fn descr_kinds() {
        assert_eq!(parse_descr("<u8"), Some((Kind::UInt, true, 8)));
        assert_eq!(parse_descr(">i2"), Some((Kind::Int, false, 2)));
        assert_eq!(parse_descr("|u1").map(|d| d.0), Some(Kind::UInt));
        assert_eq!(parse_descr("<f2"), None);
        assert_eq!(parse_descr("|b1"), None);
        assert_eq!(parse_descr("|u8"), None);
        assert_eq!(parse_descr("<U10"), None);
    }
}
