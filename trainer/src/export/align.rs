//! Word alignment of the model file's `i16` weight blobs, by padding varints (docs/FORMAT.md
//! §2, "Alignment padding").
//!
//! The device reads the weights where they lie in flash, and its Cortex-M4 dense kernels load
//! a row's weights with one `LDM` (8 weights an instruction) only when the blob starts at an
//! address that is 0 mod 4; at any other address they take single `LDR`s (two weights an
//! instruction, about 13 more instructions a row at 32 columns). postcard packs the body with
//! no padding, so where a blob lands depends on every field before it. The firmware keeps the
//! file word aligned in flash, and the header is 32 bytes, so a blob at body offset 0 mod 4
//! is word aligned on the device.
//!
//! The format needs no change for that: postcard's varints and the core's reader accept a
//! varint written with more bytes than its value needs (`0x81 0x80 0x00` is 1), up to the
//! type's limit (3 bytes for `u16`, 5 for `u32` and for blob lengths on the device). So after
//! serialising, [`align_blobs`] widens, for each blob to align, a varint before it whose
//! distance to the blob's data is fixed (only fixed-size fields between them):
//! * a `QMatrix`'s data: its `wtype` (`u32` variant index 0 or 1: 1 byte, up to 4 more);
//! * the TAVRNN `phi_x` table: its own length varint (`usize`, at most 3 bytes for the sizes
//!   the format allows, so at least 2 more), then `classes` (`u16` <= 64: 1 byte, up to 2
//!   more), which only the seven `f32` scales, `attn_mult` and `attn_shift` follow; the
//!   varint before `phi_x` that a padding would naturally go in, `attn_mult`, is a
//!   requantisation multiplier of magnitude about `2^30` whose zigzag varint already has the
//!   5 bytes a `u32` allows.
//!
//! The padded file decodes to the same values (checked before it is returned: the body and
//! the TAVRNN section read back equal to the unpadded file's, and every aligned blob is at
//! 0 mod 4), so nothing downstream can tell the two apart but the blobs' addresses.

use anyhow::{anyhow, bail, ensure, Result};
use neuroloop_core::crc32::checksum;
use neuroloop_core::format::HEADER_LEN;
use neuroloop_core::{Model, QMatrix, WeightType};

/// A varint field that padding may widen.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    /// File offset of its first byte.
    at: usize,
    /// Its value.
    value: u32,
    /// The most bytes its type allows (3 for `u16`, 5 for `u32` and device `usize`).
    max: usize,
}

/// A blob to word-align and the varints before it that may take its padding, in order of
/// preference.
#[derive(Debug, Clone)]
struct Target {
    /// File offset of the blob's first data byte.
    data: usize,
    anchors: Vec<Anchor>,
    /// Field name, for errors.
    name: String,
}

/// Bytes of the minimal LEB128 encoding of `v`.
fn varint_len(v: u32) -> usize {
    ((32 - v.leading_zeros()).max(1) as usize).div_ceil(7)
}

/// `v` as a LEB128 varint of exactly `n` bytes (`n >= varint_len(v)`): the high bit set on
/// all but the last byte, the bytes beyond the value's zero.
fn varint_bytes(v: u32, n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| {
            let b = ((u64::from(v) >> (7 * i)) & 0x7F) as u8;
            if i + 1 < n {
                b | 0x80
            } else {
                b
            }
        })
        .collect()
}

/// File offset of `blob`, a slice of `file`.
fn offset_in(file: &[u8], blob: &[u8]) -> Result<usize> {
    let off = (blob.as_ptr() as usize).wrapping_sub(file.as_ptr() as usize);
    ensure!(
        off.checked_add(blob.len())
            .is_some_and(|end| end <= file.len()),
        "a blob does not lie in the file"
    );
    Ok(off)
}

/// The target for a weight matrix's data: its `wtype` varint lies right before the data's
/// length varint.
fn matrix_target(file: &[u8], m: &QMatrix<'_>, name: &str) -> Result<Target> {
    let data = offset_in(file, m.data)?;
    let len_bytes = varint_len(m.data.len() as u32);
    let wtype = match m.wtype {
        WeightType::I8 => 0,
        WeightType::I16 => 1,
    };
    let at = data
        .checked_sub(len_bytes + 1)
        .ok_or_else(|| anyhow!("{name}: no room for its wtype"))?;
    Ok(Target {
        data,
        anchors: vec![Anchor {
            at,
            value: wtype,
            max: 5,
        }],
        name: name.to_string(),
    })
}

/// The blobs of `model` (read from `file`) to align, in file order: every `i16` weight
/// matrix's data and the TAVRNN `phi_x` table.
fn targets(file: &[u8], model: &Model<'_>) -> Result<Vec<Target>> {
    let mut out = Vec::new();
    let matrix = |m: &QMatrix<'_>, name: &str, out: &mut Vec<Target>| -> Result<()> {
        if m.wtype == WeightType::I16 && !m.data.is_empty() {
            out.push(matrix_target(file, m, name)?);
        }
        Ok(())
    };
    if let Some(j) = model.jslds() {
        if let neuroloop_core::Selection::Gate { weights, .. } = &j.selection {
            matrix(weights, "jslds.gate", &mut out)?;
        }
        matrix(&j.dynamics, "jslds.dynamics", &mut out)?;
        matrix(&j.input_gain, "jslds.input_gain", &mut out)?;
        matrix(&j.readout, "jslds.readout", &mut out)?;
    }
    if let Some(t) = model.tavrnn() {
        if !t.phi_x.is_empty() {
            // Backwards from the data: its length varint, `attn_shift` (1 byte),
            // `attn_mult` (zigzag varint), the seven f32 scales (28 bytes), `classes`.
            let data = offset_in(file, t.phi_x)?;
            let len = u32::try_from(t.phi_x.len())?;
            let len_at = data - varint_len(len);
            let zigzag = ((t.attn_mult << 1) ^ (t.attn_mult >> 31)) as u32;
            let classes_end = len_at
                .checked_sub(1 + varint_len(zigzag) + 28)
                .ok_or_else(|| anyhow!("tavrnn.phi_x: no room for the fields before it"))?;
            let classes = u32::from(t.classes);
            let classes_at = classes_end
                .checked_sub(varint_len(classes))
                .ok_or_else(|| anyhow!("tavrnn.phi_x: no room for tavrnn.classes"))?;
            out.push(Target {
                data,
                anchors: vec![
                    Anchor {
                        at: classes_at,
                        value: classes,
                        max: 3,
                    },
                    Anchor {
                        at: len_at,
                        value: len,
                        max: 5,
                    },
                ],
                name: "tavrnn.phi_x".to_string(),
            });
        }
        for (name, layer) in t.layers() {
            matrix(&layer.weights, name, &mut out)?;
        }
    }
    Ok(out)
}

/// `file` (a complete model file as `encode_model_with` writes it: minimal varints) with every
/// `i16` weight blob starting at a file offset that is 0 mod 4 (module docs): the varints
/// before them widened, the header's body length and CRC rewritten. Fails if `file` does not
/// read, if a varint is not where the layout puts it, or if the padded file does not read
/// back to the same values.
pub fn align_blobs(file: &[u8]) -> Result<Vec<u8>> {
    let model = Model::from_bytes(file).map_err(|e| anyhow!("the model to align: {e}"))?;
    let blobs = targets(file, &model)?;
    let body_end = HEADER_LEN + model.header.body_len as usize;
    let mut out = Vec::with_capacity(file.len() + 4 * blobs.len());
    out.extend_from_slice(&file[..HEADER_LEN]);
    let mut pos = HEADER_LEN;
    let mut shift = 0usize;
    for t in &blobs {
        let mut need = (4 - (t.data + shift) % 4) % 4;
        for a in &t.anchors {
            let min = varint_len(a.value);
            ensure!(
                a.at >= pos && file.get(a.at..a.at + min) == Some(&varint_bytes(a.value, min)[..]),
                "{}: the varint before it is not where the layout puts it",
                t.name
            );
            let extra = need.min(a.max.saturating_sub(min));
            need -= extra;
            out.extend_from_slice(&file[pos..a.at]);
            out.extend(varint_bytes(a.value, min + extra));
            pos = a.at + min;
            shift += extra;
        }
        if need != 0 {
            bail!("{}: its varints cannot take the padding", t.name);
        }
    }
    out.extend_from_slice(&file[pos..body_end]);
    let mut header = model.header;
    header.body_len = u32::try_from(out.len() - HEADER_LEN)?;
    header.body_crc = checksum(&out[HEADER_LEN..]);
    out[..HEADER_LEN].copy_from_slice(&header.to_bytes());

    let padded = Model::from_bytes(&out).map_err(|e| anyhow!("the aligned model: {e}"))?;
    ensure!(
        padded.body == model.body && padded.tavrnn == model.tavrnn,
        "the aligned model reads back to other values"
    );
    let again = targets(&out, &padded)?;
    ensure!(
        again.len() == blobs.len() && again.iter().all(|t| t.data % 4 == 0),
        "a blob of the aligned model is not word aligned"
    );
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_of_any_width_hold_the_value() {
        for v in [0u32, 1, 127, 128, 16_383, 16_384, u32::MAX] {
            let min = varint_len(v);
            assert_eq!(
                min,
                postcard::to_slice(&v, &mut [0u8; 5]).unwrap().len(),
                "minimal length of {v}"
            );
            for n in min..=5 {
                let b = varint_bytes(v, n);
                assert_eq!(b.len(), n);
                let (back, rest): (u32, &[u8]) = postcard::take_from_bytes(&b).unwrap();
                assert_eq!((back, rest.len()), (v, 0), "{v} in {n} bytes: {b:02x?}");
            }
        }
    }
}
