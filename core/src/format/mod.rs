//! The model file: a fixed header followed by a postcard body whose tensors are byte blobs
//! borrowed from the file. `docs/FORMAT.md` is the byte-level specification.
//!
//! Reading ([`Model::from_bytes`]) checks, in order: header length, magic, major version,
//! header CRC, reserved bytes, schema fingerprint, body-length bound, body presence, body CRC,
//! postcard decoding, trailing bytes, then every dimension. Nothing is copied: the returned
//! [`Model`] borrows from the input, so on a device the weights are read straight from flash.

mod body;
mod error;
mod header;
mod read;
mod schema;
mod tavrnn;
mod validate;

pub use body::{JsldsReference, JsldsSection, Meta, ModelBody, QMatrix, Selection, WeightType};
pub use error::ModelError;
pub use header::{Header, FORMAT_MAJOR, FORMAT_MINOR, HEADER_LEN, MAGIC, MAX_BODY_LEN};
pub use schema::{SCHEMA_FINGERPRINT, SCHEMA_V1};
pub use tavrnn::{
    layer_shapes, validate_tavrnn, FLayer, QLayer, TavrnnDims, TavrnnReference, TavrnnSection,
    MAX_TAVRNN_CLASSES, MAX_TAVRNN_ENC, MAX_TAVRNN_HIDDEN, MAX_TAVRNN_LATENT, MAX_TAVRNN_PHI,
    MAX_TAVRNN_WINDOW,
};
pub use validate::{
    validate_body, validate_jslds, MAX_INPUT_TABLE, MAX_LATENT, MAX_NEURONS, MAX_REGIMES,
};

use crate::crc32::checksum;

/// A validated model borrowed from its file bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Model<'a> {
    /// The fixed header.
    pub header: Header,
    /// The decoded body (blobs borrow from the input).
    pub body: ModelBody<'a>,
    /// The TAVRNN section (format 1.1, appended after the 1.0 body), if present.
    pub tavrnn: Option<TavrnnSection<'a>>,
}

impl<'a> Model<'a> {
    /// Validates header (magic, major/minor, schema fingerprint, header CRC, body length, body
    /// CRC), decodes the postcard body zero-copy, validates every dimension/length/shift.
    ///
    /// Bytes after the declared body are ignored (flash images are often padded). Never
    /// panics and never copies a tensor.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Model<'a>, ModelError> {
        let header = Header::parse(bytes)?;
        let body_len = header.body_len as usize;
        let needed = HEADER_LEN + body_len;
        let body_bytes = bytes.get(HEADER_LEN..needed).ok_or(ModelError::Truncated {
            needed,
            got: bytes.len(),
        })?;
        let computed = checksum(body_bytes);
        if computed != header.body_crc {
            return Err(ModelError::BodyCrc {
                stored: header.body_crc,
                computed,
            });
        }
        // postcard's wire format, read by `read::Reader` (what `postcard::take_from_bytes`
        // would decode, without serde's visitors: 8 KB less firmware flash).
        let mut reader = read::Reader::new(body_bytes);
        let body = reader.body();
        // 1.1 appended `Option<TavrnnSection>`: decoded only when bytes remain, so a 1.0
        // file (which ends after the 1.0 fields) reads as "no TAVRNN section". (After a
        // failure nothing remains: the reader keeps its first failure for `finish`.)
        let tavrnn = if reader.rest().is_empty() || !reader.some() {
            None
        } else {
            Some(reader.tavrnn())
        };
        reader
            .finish()
            .map_err(|reason| ModelError::Decode { reason })?;
        let rest = reader.rest();
        // A newer minor version may have appended optional fields this core does not know;
        // for this or an older minor, leftover bytes mean the body is not what it claims.
        let newer_minor = header.minor > FORMAT_MINOR;
        if !rest.is_empty() && !newer_minor {
            return Err(ModelError::TrailingBody { extra: rest.len() });
        }
        validate_body(&body)?;
        if let Some(t) = &tavrnn {
            validate_tavrnn(t, body.meta.neurons as usize)?;
        }
        Ok(Model {
            header,
            body,
            tavrnn,
        })
    }

    /// The TAVRNN section, if present.
    pub fn tavrnn(&self) -> Option<&TavrnnSection<'a>> {
        self.tavrnn.as_ref()
    }

    /// The switching-linear estimator section, if present.
    pub fn jslds(&self) -> Option<&JsldsSection<'a>> {
        self.body.jslds.as_ref()
    }

    /// Model metadata.
    pub fn meta(&self) -> &Meta<'a> {
        &self.body.meta
    }
}

/// Writes header + postcard body into `out`; returns the bytes written. Used by the exporter.
///
/// The body is validated first, so a file this writes is one [`Model::from_bytes`] accepts.
/// Written as format `FORMAT_MAJOR.FORMAT_MINOR`.
pub fn encode_model(body: &ModelBody<'_>, out: &mut [u8]) -> Result<usize, ModelError> {
    encode_model_with(body, None, out)
}

/// [`encode_model`] with an optional TAVRNN section appended after the 1.0 body (format
/// 1.1). Without one nothing is appended, so the body is byte-for-byte a 1.0 body.
pub fn encode_model_with(
    body: &ModelBody<'_>,
    tavrnn: Option<&TavrnnSection<'_>>,
    out: &mut [u8],
) -> Result<usize, ModelError> {
    validate_body(body)?;
    if let Some(t) = tavrnn {
        validate_tavrnn(t, body.meta.neurons as usize)?;
    }
    let body_len = body_size(body, tavrnn).map_err(|e| ModelError::Encode {
        reason: error::postcard_reason(&e),
    })?;
    let needed = HEADER_LEN + body_len;
    if out.len() < needed {
        return Err(ModelError::BufferTooSmall {
            needed,
            got: out.len(),
        });
    }
    let declared = u32::try_from(body_len)
        .ok()
        .filter(|&l| l <= MAX_BODY_LEN)
        .ok_or(ModelError::BodyLength {
            declared: u32::try_from(body_len).unwrap_or(u32::MAX),
            max: MAX_BODY_LEN,
        })?;
    let (head, rest) = out.split_at_mut(HEADER_LEN);
    let first = postcard::to_slice(body, rest)
        .map_err(|e| ModelError::Encode {
            reason: error::postcard_reason(&e),
        })?
        .len();
    let second = match tavrnn {
        None => 0,
        Some(t) => {
            let tail = rest.get_mut(first..).unwrap_or(&mut []);
            postcard::to_slice(&Some(*t), tail)
                .map_err(|e| ModelError::Encode {
                    reason: error::postcard_reason(&e),
                })?
                .len()
        }
    };
    let written = first + second;
    let used = rest.get(..written).unwrap_or(&[]);
    let header = Header {
        major: FORMAT_MAJOR,
        minor: FORMAT_MINOR,
        schema: SCHEMA_FINGERPRINT,
        // `used` is exactly what `serialized_size` measured.
        body_len: declared,
        body_crc: checksum(used),
    };
    head.copy_from_slice(&header.to_bytes());
    Ok(HEADER_LEN + written)
}

/// Size in bytes of the file [`encode_model`] would write for `body`.
pub fn encoded_len(body: &ModelBody<'_>) -> Result<usize, ModelError> {
    encoded_len_with(body, None)
}

/// Size in bytes of the file [`encode_model_with`] would write.
pub fn encoded_len_with(
    body: &ModelBody<'_>,
    tavrnn: Option<&TavrnnSection<'_>>,
) -> Result<usize, ModelError> {
    body_size(body, tavrnn)
        .map(|n| n + HEADER_LEN)
        .map_err(|e| ModelError::Encode {
            reason: error::postcard_reason(&e),
        })
}

/// Postcard size of the body, measured with postcard's counting flavor.
fn body_size(body: &ModelBody<'_>, tavrnn: Option<&TavrnnSection<'_>>) -> postcard::Result<usize> {
    let first = postcard::serialize_with_flavor(body, postcard::ser_flavors::Size::default())?;
    let second = match tavrnn {
        None => 0,
        Some(t) => {
            postcard::serialize_with_flavor(&Some(*t), postcard::ser_flavors::Size::default())?
        }
    };
    Ok(first + second)
}
