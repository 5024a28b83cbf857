//! The body's reader: postcard's wire format decoded field by field, zero-copy.
//!
//! The body types derive serde's `Serialize` (the exporter writes them with postcard) and
//! `Deserialize`, but [`Model::from_bytes`](super::Model::from_bytes) reads them here instead
//! of through serde: serde's generic visitors, one per type and field, cost about 8 KB of
//! firmware flash, which this reader does in a fraction. It accepts exactly what
//! `postcard::take_from_bytes` accepts, decodes the same values and rejects the rest with the
//! same reason (postcard 1.x, `docs/FORMAT.md`), so nothing about the format changes; the
//! tests below compare the two on valid bodies and on every truncation and byte change.
//!
//! Wire rules used: unsigned integers are LEB128 varints of at most `ceil(bits / 7)` bytes
//! whose last byte may not carry bits beyond the type; `i32` is zigzag then varint; `i8` one
//! byte; `f32` 4 bytes LE; `bool` one byte 0 or 1; `Option` a tag byte 0 or 1; an enum a
//! varint `u32` variant index; byte slices and strings a varint `usize` length then the bytes
//! (strings must be UTF-8); struct fields in declaration order with no names.

use super::body::{JsldsReference, JsldsSection, Meta, ModelBody, QMatrix, Selection, WeightType};
use super::tavrnn::{FLayer, QLayer, TavrnnReference, TavrnnSection};

/// Why a body was refused: the reason postcard gives for the same bytes.
pub(super) type Reason = &'static str;

const END: Reason = "unexpected end of body";
const VARINT: Reason = "bad varint";
const BOOL: Reason = "bad bool";
const UTF8: Reason = "string is not UTF-8";
const OPTION: Reason = "bad option tag";
/// An enum variant index out of range: serde's `invalid_value`, which postcard reports as its
/// custom error.
const VARIANT: Reason = "postcard error";

/// A cursor over the body bytes; every value read borrows from them.
///
/// The first failure is kept and every later read returns a default without consuming
/// anything (the bytes are dropped), so the section readers are plain sequences of field
/// reads with no branch per field, and [`Reader::finish`] reports that first failure: the
/// reason postcard gives, which also stops at the first.
pub(super) struct Reader<'a> {
    rest: &'a [u8],
    failed: Option<Reason>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Reader {
            rest: bytes,
            failed: None,
        }
    }

    /// The bytes not read yet (none after a failure).
    pub(super) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    /// `Err` with the first failure's reason, if a read failed.
    pub(super) fn finish(&self) -> Result<(), Reason> {
        match self.failed {
            None => Ok(()),
            Some(reason) => Err(reason),
        }
    }

    #[inline(never)]
    fn fail(&mut self, reason: Reason) {
        if self.failed.is_none() {
            self.failed = Some(reason);
        }
        self.rest = &[];
    }

    #[inline(never)]
    fn take(&mut self, n: usize) -> &'a [u8] {
        match self.rest.split_at_checked(n) {
            Some((head, tail)) => {
                self.rest = tail;
                head
            }
            None => {
                self.fail(END);
                &[]
            }
        }
    }

    #[inline(never)]
    fn byte(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    /// A varint of a `bits`-wide unsigned type: 16, 32 or `usize::BITS` (`usize` holds all
    /// three, so a 32-bit target does no 64-bit arithmetic here).
    #[inline(never)]
    fn varint(&mut self, bits: u32) -> usize {
        let max_bytes = bits.div_ceil(7);
        let last_max = (1u8 << (bits % 7)) - 1;
        let mut out = 0usize;
        for i in 0..max_bytes {
            let b = self.byte();
            out |= usize::from(b & 0x7F) << (7 * i);
            if b & 0x80 == 0 {
                if i == max_bytes - 1 && b > last_max {
                    break;
                }
                return out;
            }
        }
        self.fail(VARINT);
        0
    }

    #[inline(never)]
    fn u16(&mut self) -> u16 {
        self.varint(16) as u16
    }

    #[inline(never)]
    fn u32(&mut self) -> u32 {
        self.varint(32) as u32
    }

    fn i32(&mut self) -> i32 {
        let n = self.u32();
        ((n >> 1) as i32) ^ -((n & 1) as i32)
    }

    fn i8(&mut self) -> i8 {
        self.byte() as i8
    }

    #[inline(never)]
    fn f32(&mut self) -> f32 {
        match *self.take(4) {
            [a, b, c, d] => f32::from_le_bytes([a, b, c, d]),
            _ => 0.0,
        }
    }

    /// A byte that must be 0 or 1, else `reason`.
    #[inline(never)]
    fn flag(&mut self, reason: Reason) -> bool {
        match self.byte() {
            0 => false,
            1 => true,
            _ => {
                self.fail(reason);
                false
            }
        }
    }

    fn bool(&mut self) -> bool {
        self.flag(BOOL)
    }

    /// An `Option`'s tag: `true` when a value follows.
    pub(super) fn some(&mut self) -> bool {
        self.flag(OPTION)
    }

    /// An enum's variant index, `< variants` (0 after a failure).
    #[inline(never)]
    fn variant(&mut self, variants: u32) -> u32 {
        let v = self.u32();
        if v < variants {
            v
        } else {
            self.fail(VARIANT);
            0
        }
    }

    /// A length-prefixed byte slice (the length is a `usize` varint, as postcard writes it on
    /// this target).
    #[inline(never)]
    fn bytes(&mut self) -> &'a [u8] {
        let n = self.varint(usize::BITS);
        self.take(n)
    }

    #[inline(never)]
    fn str(&mut self) -> &'a str {
        let b = self.bytes();
        core::str::from_utf8(b).unwrap_or_else(|_| {
            self.fail(UTF8);
            ""
        })
    }

    /// The 1.0 body.
    pub(super) fn body(&mut self) -> ModelBody<'a> {
        let meta = Meta {
            name: self.str(),
            neurons: self.u16(),
            bin_us: self.u32(),
        };
        let jslds = if self.some() {
            Some(self.jslds())
        } else {
            None
        };
        ModelBody { meta, jslds }
    }

    fn jslds(&mut self) -> JsldsSection<'a> {
        JsldsSection {
            latent: self.u16(),
            regimes: self.u16(),
            state_scale: self.f32(),
            input_scale: self.f32(),
            log_rate_scale: self.f32(),
            input_table: self.bytes(),
            selection: match self.variant(2) {
                0 => Selection::Nearest {
                    points: self.bytes(),
                },
                _ => Selection::Gate {
                    weights: self.qmatrix(),
                    bias: self.bytes(),
                },
            },
            dynamics: self.qmatrix(),
            input_gain: self.qmatrix(),
            offset: self.bytes(),
            readout: self.qmatrix(),
            readout_bias: self.bytes(),
            hysteresis: self.u16(),
            regime_names: self.str(),
            reference: if self.some() {
                Some(JsldsReference {
                    input_table: self.bytes(),
                    points: self.bytes(),
                    gate_weights: self.bytes(),
                    gate_bias: self.bytes(),
                    dynamics: self.bytes(),
                    input_gain: self.bytes(),
                    offset: self.bytes(),
                    readout: self.bytes(),
                    readout_bias: self.bytes(),
                })
            } else {
                None
            },
        }
    }

    #[inline(never)]
    fn qmatrix(&mut self) -> QMatrix<'a> {
        QMatrix {
            rows: self.u16(),
            cols: self.u16(),
            wtype: match self.variant(2) {
                0 => WeightType::I8,
                _ => WeightType::I16,
            },
            data: self.bytes(),
            mult: self.bytes(),
            shift: self.bytes(),
        }
    }

    #[inline(never)]
    fn qlayer(&mut self) -> QLayer<'a> {
        QLayer {
            weights: self.qmatrix(),
            bias: self.bytes(),
        }
    }

    #[inline(never)]
    fn flayer(&mut self) -> FLayer<'a> {
        FLayer {
            weights: self.bytes(),
            bias: self.bytes(),
        }
    }

    /// The TAVRNN section (format 1.1), without its `Option` tag.
    pub(super) fn tavrnn(&mut self) -> TavrnnSection<'a> {
        TavrnnSection {
            hidden: self.u16(),
            latent: self.u16(),
            phi: self.u16(),
            enc: self.u16(),
            window: self.u16(),
            window_bins: self.u16(),
            step_bins: self.u16(),
            theta_q30: self.u32(),
            top_k: self.u16(),
            top_k_intersection: self.bool(),
            classes: self.u16(),
            phi_x_scale: self.f32(),
            enc_scale: self.f32(),
            mu_scale: self.f32(),
            phi_z_scale: self.f32(),
            query_scale: self.f32(),
            key_scale: self.f32(),
            score_scale: self.f32(),
            attn_mult: self.i32(),
            attn_shift: self.i8(),
            phi_x: self.bytes(),
            encoder_hidden: self.qlayer(),
            encoder_mu: self.qlayer(),
            phi_z: self.qlayer(),
            gru_input: self.qlayer(),
            gru_hidden_ru: self.qlayer(),
            gru_hidden_c: self.qlayer(),
            query: self.qlayer(),
            key: self.qlayer(),
            value: self.qlayer(),
            classifier: self.qlayer(),
            class_names: self.str(),
            reference: if self.some() {
                Some(TavrnnReference {
                    phi_x: self.bytes(),
                    encoder_hidden: self.flayer(),
                    encoder_mu: self.flayer(),
                    phi_z: self.flayer(),
                    gru_input: self.flayer(),
                    gru_hidden_ru: self.flayer(),
                    gru_hidden_c: self.flayer(),
                    query: self.flayer(),
                    key: self.flayer(),
                    value: self.flayer(),
                    classifier: self.flayer(),
                })
            } else {
                None
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use std::vec::Vec;

    use super::super::error::postcard_reason;
    use super::*;

    /// Arbitrary blob contents: every reader rule is exercised, validity is not needed.
    fn blob(tag: u8, len: usize) -> &'static [u8] {
        let v: Vec<u8> = (0..len)
            .map(|i| tag.wrapping_mul(31).wrapping_add(i as u8))
            .collect();
        Vec::leak(v)
    }

    fn qm(tag: u8, wtype: WeightType) -> QMatrix<'static> {
        QMatrix {
            rows: 3 + tag as u16,
            cols: 200 + tag as u16,
            wtype,
            data: blob(tag, 5),
            mult: blob(tag + 1, 130),
            shift: blob(tag + 2, 2),
        }
    }

    fn bodies() -> Vec<(ModelBody<'static>, Option<TavrnnSection<'static>>)> {
        let meta = Meta {
            name: "r\u{e9}gime model",
            neurons: 300,
            bin_us: 70_000,
        };
        let jslds = |selection, reference| JsldsSection {
            latent: 16,
            regimes: 8,
            state_scale: 0.25,
            input_scale: -1.5e-3,
            log_rate_scale: f32::MAX,
            input_table: blob(1, 7),
            selection,
            dynamics: qm(2, WeightType::I16),
            input_gain: qm(3, WeightType::I8),
            offset: blob(4, 0),
            readout: qm(5, WeightType::I16),
            readout_bias: blob(6, 129),
            hysteresis: 65535,
            regime_names: "a\nb\n\u{1F600}",
            reference,
        };
        let jref = JsldsReference {
            input_table: blob(7, 1),
            points: blob(8, 2),
            gate_weights: blob(9, 0),
            gate_bias: blob(10, 3),
            dynamics: blob(11, 4),
            input_gain: blob(12, 300),
            offset: blob(13, 5),
            readout: blob(14, 6),
            readout_bias: blob(15, 7),
        };
        let ql = |t: u8| QLayer {
            weights: qm(
                t,
                if t.is_multiple_of(2) {
                    WeightType::I8
                } else {
                    WeightType::I16
                },
            ),
            bias: blob(t + 40, t as usize),
        };
        let fl = |t: u8| FLayer {
            weights: blob(t, 9),
            bias: blob(t + 1, 2),
        };
        let tav = |reference| TavrnnSection {
            hidden: 32,
            latent: 8,
            phi: 16,
            enc: 300,
            window: 8,
            window_bins: 100,
            step_bins: 20_000,
            theta_q30: 1 << 30,
            top_k: 5,
            top_k_intersection: true,
            classes: 3,
            phi_x_scale: 1.0,
            enc_scale: 2.0,
            mu_scale: 3.0,
            phi_z_scale: 4.0,
            query_scale: 5.0,
            key_scale: 6.0,
            score_scale: 7.0,
            attn_mult: -1_234_567,
            attn_shift: -7,
            phi_x: blob(20, 11),
            encoder_hidden: ql(21),
            encoder_mu: ql(22),
            phi_z: ql(23),
            gru_input: ql(24),
            gru_hidden_ru: ql(25),
            gru_hidden_c: ql(26),
            query: ql(27),
            key: ql(28),
            value: ql(29),
            classifier: ql(30),
            class_names: "left\nright\nstill",
            reference,
        };
        let tref = TavrnnReference {
            phi_x: blob(50, 3),
            encoder_hidden: fl(51),
            encoder_mu: fl(52),
            phi_z: fl(53),
            gru_input: fl(54),
            gru_hidden_ru: fl(55),
            gru_hidden_c: fl(56),
            query: fl(57),
            key: fl(58),
            value: fl(59),
            classifier: fl(60),
        };
        let nearest = Selection::Nearest {
            points: blob(16, 3),
        };
        let gate = Selection::Gate {
            weights: qm(17, WeightType::I8),
            bias: blob(18, 4),
        };
        vec![
            (ModelBody { meta, jslds: None }, None),
            (
                ModelBody {
                    meta,
                    jslds: Some(jslds(nearest, None)),
                },
                Some(tav(None)),
            ),
            (
                ModelBody {
                    meta,
                    jslds: Some(jslds(gate, Some(jref))),
                },
                Some(tav(Some(tref))),
            ),
        ]
    }

    fn encode(body: &ModelBody<'_>, tav: Option<&TavrnnSection<'_>>) -> Vec<u8> {
        let mut buf = [0u8; 8192];
        let mut v = postcard::to_slice(body, &mut buf).unwrap().to_vec();
        if let Some(t) = tav {
            v.extend_from_slice(postcard::to_slice(&Some(*t), &mut buf).unwrap());
        }
        v
    }

    /// Decoded by postcard: the body, then (if bytes remain) `Option<TavrnnSection>`.
    type Decoded<'a> = (ModelBody<'a>, Option<TavrnnSection<'a>>, &'a [u8]);

    fn by_postcard(bytes: &[u8]) -> Result<Decoded<'_>, Reason> {
        let (body, rest): (ModelBody, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|e| postcard_reason(&e))?;
        if rest.is_empty() {
            return Ok((body, None, rest));
        }
        let (tav, rest): (Option<TavrnnSection>, &[u8]) =
            postcard::take_from_bytes(rest).map_err(|e| postcard_reason(&e))?;
        Ok((body, tav, rest))
    }

    fn by_reader(bytes: &[u8]) -> Result<Decoded<'_>, Reason> {
        let mut r = Reader::new(bytes);
        let body = r.body();
        let tav = if r.rest().is_empty() || !r.some() {
            None
        } else {
            Some(r.tavrnn())
        };
        r.finish()?;
        Ok((body, tav, r.rest()))
    }

    /// Same result: the same values (compared through `Debug`, so that NaN scales compare),
    /// the same unread rest, or the same reason.
    fn same(bytes: &[u8]) {
        let (a, b) = (by_postcard(bytes), by_reader(bytes));
        match (&a, &b) {
            (Ok(x), Ok(y)) => {
                if x != y {
                    assert_eq!(format!("{x:?}"), format!("{y:?}"), "bytes {bytes:02x?}");
                }
                assert_eq!(x.2.as_ptr(), y.2.as_ptr());
            }
            _ => assert_eq!(a, b, "bytes {bytes:02x?}"),
        }
    }

    #[test]
    fn valid_bodies_read_as_postcard_reads_them() {
        for (body, tav) in bodies() {
            let bytes = encode(&body, tav.as_ref());
            let (b, t, rest) = by_reader(&bytes).unwrap();
            assert_eq!(b, body);
            assert_eq!(t, tav);
            assert!(rest.is_empty());
            same(&bytes);
            // Padding after the section is left unread by both.
            let mut padded = bytes.clone();
            padded.extend([0u8, 7, 0xFF]);
            same(&padded);
        }
    }

    #[test]
    fn every_truncation_and_byte_change_is_refused_or_read_alike() {
        for (body, tav) in bodies() {
            let bytes = encode(&body, tav.as_ref());
            for len in 0..bytes.len() {
                same(&bytes[..len]);
            }
            let mut m = bytes.clone();
            for i in 0..m.len() {
                let keep = m[i];
                for v in [0x00, 0x01, 0x02, 0x7F, 0x80, 0x81, 0xFF, keep ^ 0x04] {
                    m[i] = v;
                    same(&m);
                }
                m[i] = keep;
            }
        }
    }

    #[test]
    fn varint_limits_match_postcard() {
        // u16 `neurons` after an empty name: 3 bytes, the last at most 0x03.
        for tail in [
            &[0xFF, 0xFF, 0x03][..],
            &[0xFF, 0xFF, 0x04],
            &[0x80, 0x80, 0x80, 0x00],
            &[0x80, 0x00],
        ] {
            let mut b = vec![0u8];
            b.extend_from_slice(tail);
            b.extend([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00]);
            same(&b);
            b.truncate(b.len() - 2);
            b.extend([0x10, 0x00]);
            same(&b);
        }
        // A blob length beyond the input.
        same(&[0x00, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00]);
        let mut long = vec![0x00, 0x01, 0x01, 0x01];
        long.extend([0xFF; 9]);
        long.push(0x01);
        same(&long);
    }
}
