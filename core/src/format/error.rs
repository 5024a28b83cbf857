//! Typed errors of the model file: every way a file can be rejected, with enough context
//! (field path, value, bound) for a message that says what to fix.

use core::fmt;

/// Why a model file was rejected (or could not be written).
///
/// Field names are dotted paths into the body, e.g. `"jslds.dynamics.rows"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelError {
    /// The input ends before the header or the body it declares does.
    Truncated {
        /// Bytes the header says are needed (header + body).
        needed: usize,
        /// Bytes present.
        got: usize,
    },
    /// The first four bytes are not [`MAGIC`](crate::format::MAGIC).
    BadMagic {
        /// What was found instead.
        found: [u8; 4],
    },
    /// The file's major version is not the one this core reads.
    UnsupportedVersion {
        /// Major version in the file.
        major: u16,
        /// Minor version in the file.
        minor: u16,
        /// The major version this core reads.
        supported_major: u16,
    },
    /// The schema fingerprint does not match this core's schema for the same major version.
    SchemaMismatch {
        /// Fingerprint this core expects.
        expected: u32,
        /// Fingerprint in the file.
        found: u32,
    },
    /// The header CRC does not match the header bytes.
    HeaderCrc {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the header bytes.
        computed: u32,
    },
    /// Reserved header bytes are not zero.
    Reserved,
    /// The body CRC does not match the body bytes.
    BodyCrc {
        /// CRC stored in the header.
        stored: u32,
        /// CRC computed over the body bytes.
        computed: u32,
    },
    /// The declared body length exceeds [`MAX_BODY_LEN`](crate::format::MAX_BODY_LEN).
    BodyLength {
        /// Body length in the header.
        declared: u32,
        /// Largest body this core accepts.
        max: u32,
    },
    /// The postcard body could not be decoded.
    Decode {
        /// What postcard reported.
        reason: &'static str,
    },
    /// The body has bytes after its last field although its minor version is not newer than
    /// this core's (so nothing can have been appended).
    TrailingBody {
        /// Number of unread bytes.
        extra: usize,
    },
    /// A dimension is outside its allowed range.
    Dimension {
        /// Field path.
        field: &'static str,
        /// Value in the file.
        value: usize,
        /// Smallest allowed value.
        min: usize,
        /// Largest allowed value.
        max: usize,
    },
    /// A blob does not have the length its dimensions imply.
    BlobLength {
        /// Field path.
        field: &'static str,
        /// Length implied by the dimensions, in bytes.
        expected: usize,
        /// Length in the file, in bytes.
        got: usize,
    },
    /// A requantisation shift is outside `SHIFT_MIN..=SHIFT_MAX`.
    Shift {
        /// Field path of the matrix.
        field: &'static str,
        /// Row index.
        row: usize,
        /// Shift in the file.
        shift: i8,
    },
    /// A scalar is not a finite positive number, or otherwise unusable.
    Value {
        /// Field path.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `regime_names` does not hold one name per regime.
    Names {
        /// Number of regimes.
        expected: usize,
        /// Number of names found.
        got: usize,
    },
    /// A dimension exceeds the capacity the estimator was compiled with.
    Capacity {
        /// Field path.
        field: &'static str,
        /// Value in the file.
        value: usize,
        /// Compile-time capacity (`D` or `N`).
        capacity: usize,
    },
    /// A section the caller needs is absent from the file.
    MissingSection {
        /// Section path, e.g. `"jslds"` or `"jslds.reference"`.
        section: &'static str,
    },
    /// The output buffer of [`encode_model`](crate::format::encode_model) is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The body could not be serialised (other than for lack of space).
    Encode {
        /// What postcard reported.
        reason: &'static str,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ModelError::*;
        match *self {
            Truncated { needed, got } => {
                write!(f, "model file truncated: needs {needed} bytes, has {got}")
            }
            BadMagic { found } => write!(
                f,
                "not a neuroloop model file: magic is {found:02x?}, expected \"NLMF\""
            ),
            UnsupportedVersion {
                major,
                minor,
                supported_major,
            } => write!(
                f,
                "model format version {major}.{minor} is not supported (this core reads {supported_major}.x)"
            ),
            SchemaMismatch { expected, found } => write!(
                f,
                "model schema fingerprint {found:#010x} does not match this core's {expected:#010x}"
            ),
            HeaderCrc { stored, computed } => write!(
                f,
                "model header is corrupt: CRC {computed:#010x} != stored {stored:#010x}"
            ),
            Reserved => write!(f, "model header reserved bytes are not zero"),
            BodyCrc { stored, computed } => write!(
                f,
                "model body is corrupt: CRC {computed:#010x} != stored {stored:#010x}"
            ),
            BodyLength { declared, max } => write!(
                f,
                "model body length {declared} exceeds the maximum of {max} bytes"
            ),
            Decode { reason } => write!(f, "model body cannot be decoded: {reason}"),
            TrailingBody { extra } => write!(
                f,
                "model body has {extra} unexpected bytes after its last field"
            ),
            Dimension {
                field,
                value,
                min,
                max,
            } => write!(f, "{field} = {value} is outside {min}..={max}"),
            BlobLength {
                field,
                expected,
                got,
            } => write!(f, "{field} has {got} bytes, its dimensions need {expected}"),
            Shift { field, row, shift } => write!(
                f,
                "{field}: row {row} has requantisation shift {shift}, outside {}..={}",
                crate::fixed::SHIFT_MIN,
                crate::fixed::SHIFT_MAX
            ),
            Value { field, problem } => write!(f, "{field}: {problem}"),
            Names { expected, got } => write!(
                f,
                "jslds.regime_names holds {got} names, the model has {expected} regimes"
            ),
            Capacity {
                field,
                value,
                capacity,
            } => write!(
                f,
                "{field} = {value} exceeds this build's capacity of {capacity}"
            ),
            MissingSection { section } => write!(f, "model file has no {section} section"),
            BufferTooSmall { needed, got } => {
                write!(f, "output buffer too small: needs {needed} bytes, has {got}")
            }
            Encode { reason } => write!(f, "model body cannot be encoded: {reason}"),
        }
    }
}

/// Short description of a postcard error (postcard's own type is not `Copy`).
pub(crate) fn postcard_reason(e: &postcard::Error) -> &'static str {
    use postcard::Error as E;
    match e {
        E::DeserializeUnexpectedEnd => "unexpected end of body",
        E::DeserializeBadVarint => "bad varint",
        E::DeserializeBadBool => "bad bool",
        E::DeserializeBadChar => "bad char",
        E::DeserializeBadUtf8 => "string is not UTF-8",
        E::DeserializeBadOption => "bad option tag",
        E::DeserializeBadEnum => "bad enum discriminant",
        E::DeserializeBadEncoding => "bad encoding",
        E::DeserializeBadCrc => "bad CRC",
        E::SerializeBufferFull => "buffer full",
        E::SerializeSeqLengthUnknown => "sequence length unknown",
        E::WontImplement | E::NotYetImplemented => "unsupported serde feature",
        _ => "postcard error",
    }
}

/// Lets hosts carry the error in `Box<dyn Error>` / `anyhow` chains; `core::error::Error`
/// needs no allocator, so the device build is unaffected.
impl core::error::Error for ModelError {}
