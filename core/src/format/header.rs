//! The fixed 32-byte header in front of the postcard body.
//!
//! ```text
//! offset size field
//!  0     4    magic            b"NLMF"
//!  4     2    major (u16 LE)   readers reject any major they do not know
//!  6     2    minor (u16 LE)   newer minors only append optional fields to the body
//!  8     4    schema (u32 LE)  CRC-32 of the schema description of this major version
//! 12     4    body_len (u32 LE)
//! 16     4    body_crc (u32 LE) CRC-32 of the body bytes
//! 20     8    reserved, zero
//! 28     4    header_crc (u32 LE) CRC-32 of bytes 0..28
//! ```
//!
//! Bytes 0..8 (magic and version) keep their meaning in every future major version, so any
//! reader can tell "not a model" from "a model from the future" before trusting the rest.

use super::error::ModelError;
use crate::crc32::checksum;

/// File magic.
pub const MAGIC: [u8; 4] = *b"NLMF";
/// Header length in bytes.
pub const HEADER_LEN: usize = 32;
/// The format major version this core reads and writes.
pub const FORMAT_MAJOR: u16 = 1;
/// The format minor version this core writes (and the newest whose fields it knows): 1.1
/// appends the optional TAVRNN section.
pub const FORMAT_MINOR: u16 = 1;
/// Largest body this core accepts (16 MiB): a corrupted length must not make a reader wait
/// for, or a tool allocate, gigabytes.
pub const MAX_BODY_LEN: u32 = 16 << 20;

/// The decoded fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Format major version.
    pub major: u16,
    /// Format minor version.
    pub minor: u16,
    /// Schema fingerprint (see [`SCHEMA_FINGERPRINT`](super::SCHEMA_FINGERPRINT)).
    pub schema: u32,
    /// Body length in bytes.
    pub body_len: u32,
    /// CRC-32 of the body.
    pub body_crc: u32,
}

fn u16_at(b: &[u8; HEADER_LEN], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8; HEADER_LEN], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl Header {
    /// Parses and checks the header at the start of `bytes`: length, magic, major version,
    /// header CRC, reserved bytes, schema fingerprint and body-length bound, in that order.
    /// Does not look at the body.
    pub fn parse(bytes: &[u8]) -> Result<Header, ModelError> {
        let raw: &[u8; HEADER_LEN] =
            match bytes.get(..HEADER_LEN).map(<&[u8; HEADER_LEN]>::try_from) {
                Some(Ok(raw)) => raw,
                _ => {
                    return Err(ModelError::Truncated {
                        needed: HEADER_LEN,
                        got: bytes.len(),
                    })
                }
            };
        let magic = [raw[0], raw[1], raw[2], raw[3]];
        if magic != MAGIC {
            return Err(ModelError::BadMagic { found: magic });
        }
        let major = u16_at(raw, 4);
        let minor = u16_at(raw, 6);
        if major != FORMAT_MAJOR {
            return Err(ModelError::UnsupportedVersion {
                major,
                minor,
                supported_major: FORMAT_MAJOR,
            });
        }
        let stored = u32_at(raw, 28);
        let computed = checksum(&raw[..28]);
        if stored != computed {
            return Err(ModelError::HeaderCrc { stored, computed });
        }
        if raw[20..28].iter().any(|&b| b != 0) {
            return Err(ModelError::Reserved);
        }
        let schema = u32_at(raw, 8);
        if schema != super::SCHEMA_FINGERPRINT {
            return Err(ModelError::SchemaMismatch {
                expected: super::SCHEMA_FINGERPRINT,
                found: schema,
            });
        }
        let body_len = u32_at(raw, 12);
        if body_len > MAX_BODY_LEN {
            return Err(ModelError::BodyLength {
                declared: body_len,
                max: MAX_BODY_LEN,
            });
        }
        Ok(Header {
            major,
            minor,
            schema,
            body_len,
            body_crc: u32_at(raw, 16),
        })
    }

    /// The 32 header bytes, with the header CRC filled in.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4..6].copy_from_slice(&self.major.to_le_bytes());
        b[6..8].copy_from_slice(&self.minor.to_le_bytes());
        b[8..12].copy_from_slice(&self.schema.to_le_bytes());
        b[12..16].copy_from_slice(&self.body_len.to_le_bytes());
        b[16..20].copy_from_slice(&self.body_crc.to_le_bytes());
        let crc = checksum(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }
}
