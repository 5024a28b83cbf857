//! Model-file tests: round trip, and every way of breaking a file gives its typed error.

mod common;

use common::*;
use neuroloop_core::format::{
    Header, Model, ModelError, QMatrix, Selection, WeightType, FORMAT_MINOR, HEADER_LEN,
    MAX_BODY_LEN, SCHEMA_FINGERPRINT,
};
use neuroloop_core::{encode_model, Estimator, ReferenceEstimator};

fn good_file() -> (Quantised, Vec<u8>) {
    let q = quantise(&two_regime(true, 2), WeightType::I8);
    let f = encode(&q.body(true));
    (q, f)
}

#[test]
fn round_trip_is_zero_copy_and_equal() {
    for (nearest, wtype) in [
        (true, WeightType::I8),
        (false, WeightType::I16),
        (false, WeightType::I8),
    ] {
        let q = quantise(&two_regime(nearest, 1), wtype);
        let body = q.body(true);
        let file = encode(&body);
        let model = Model::from_bytes(&file).unwrap();
        assert_eq!(model.body, body);
        assert_eq!(model.header.body_len as usize, file.len() - HEADER_LEN);
        assert_eq!(model.header.schema, SCHEMA_FINGERPRINT);
        assert_eq!(model.header.minor, FORMAT_MINOR);
        // Blobs point into the file bytes: nothing was copied.
        let j = model.jslds().unwrap();
        let range = file.as_ptr_range();
        assert!(range.contains(&j.dynamics.data.as_ptr()));
        assert!(range.contains(&j.regime_names.as_ptr()));
        assert_eq!(j.regime_name(1), Some("regime1"));
        // Padding after the body (flash images) is accepted.
        let mut padded = file.clone();
        padded.extend_from_slice(&[0xff; 64]);
        assert_eq!(Model::from_bytes(&padded).unwrap().body, body);
    }
}

#[test]
fn encode_reports_small_buffer() {
    let (q, file) = good_file();
    let mut small = vec![0u8; file.len() - 1];
    assert_eq!(
        encode_model(&q.body(true), &mut small),
        Err(ModelError::BufferTooSmall {
            needed: file.len(),
            got: file.len() - 1
        })
    );
    let mut exact = vec![0u8; file.len()];
    assert_eq!(encode_model(&q.body(true), &mut exact), Ok(file.len()));
    assert_eq!(exact, file);
}

#[test]
fn truncated_at_every_length() {
    let (_, file) = good_file();
    for len in 0..file.len() {
        let err = Model::from_bytes(&file[..len]).unwrap_err();
        let needed = if len < HEADER_LEN {
            HEADER_LEN
        } else {
            file.len()
        };
        assert_eq!(err, ModelError::Truncated { needed, got: len }, "len {len}");
    }
}

#[test]
fn every_single_bit_flip_is_caught() {
    let (_, file) = good_file();
    for byte in 0..file.len() {
        for bit in 0..8 {
            let mut f = file.clone();
            f[byte] ^= 1 << bit;
            let err = Model::from_bytes(&f).unwrap_err();
            match byte {
                0..=3 => assert!(matches!(err, ModelError::BadMagic { .. }), "{err:?}"),
                4..=5 => assert!(
                    matches!(err, ModelError::UnsupportedVersion { .. }),
                    "{err:?}"
                ),
                6..=31 => assert!(matches!(err, ModelError::HeaderCrc { .. }), "{err:?}"),
                _ => assert!(matches!(err, ModelError::BodyCrc { .. }), "{err:?}"),
            }
        }
    }
}

#[test]
fn wrong_magic() {
    let (_, mut file) = good_file();
    file[..4].copy_from_slice(b"PK\x03\x04");
    assert_eq!(
        Model::from_bytes(&file),
        Err(ModelError::BadMagic {
            found: *b"PK\x03\x04"
        })
    );
}

#[test]
fn future_major_version() {
    let (_, mut file) = good_file();
    patch_header(&mut file, |h| h[4..6].copy_from_slice(&2u16.to_le_bytes()));
    assert_eq!(
        Model::from_bytes(&file),
        Err(ModelError::UnsupportedVersion {
            major: 2,
            minor: FORMAT_MINOR,
            supported_major: 1
        })
    );
}

#[test]
fn oversized_body_length() {
    let (_, mut file) = good_file();
    patch_header(&mut file, |h| {
        h[12..16].copy_from_slice(&(MAX_BODY_LEN + 1).to_le_bytes())
    });
    assert_eq!(
        Model::from_bytes(&file),
        Err(ModelError::BodyLength {
            declared: MAX_BODY_LEN + 1,
            max: MAX_BODY_LEN
        })
    );
    // Within the bound but longer than the input: truncated.
    let (_, mut file) = good_file();
    let len = file.len();
    patch_header(&mut file, |h| {
        h[12..16].copy_from_slice(&((len - HEADER_LEN + 1) as u32).to_le_bytes())
    });
    assert_eq!(
        Model::from_bytes(&file),
        Err(ModelError::Truncated {
            needed: len + 1,
            got: len
        })
    );
}

#[test]
fn schema_and_reserved() {
    let (_, mut file) = good_file();
    patch_header(&mut file, |h| h[8] ^= 1);
    assert_eq!(
        Model::from_bytes(&file),
        Err(ModelError::SchemaMismatch {
            expected: SCHEMA_FINGERPRINT,
            found: SCHEMA_FINGERPRINT ^ 1
        })
    );
    let (_, mut file) = good_file();
    patch_header(&mut file, |h| h[23] = 7);
    assert_eq!(Model::from_bytes(&file), Err(ModelError::Reserved));
}

#[test]
fn newer_minor_may_append_fields_same_minor_may_not() {
    let (q, _) = good_file();
    let body = q.body(true);
    // postcard itself ignores trailing bytes: the documented basis of minor versions.
    assert_eq!(postcard::from_bytes::<u16>(&[5, 0, 9, 9]), Ok(5));
    // A newer minor's appended bytes follow 1.1's `Option<TavrnnSection>` (here: None).
    let newer = raw_file(&body, FORMAT_MINOR + 1, &[0, 1, 2, 3]);
    let m = Model::from_bytes(&newer).unwrap();
    assert_eq!(m.body, body);
    assert_eq!(m.header.minor, FORMAT_MINOR + 1);
    let same = raw_file(&body, FORMAT_MINOR, &[0, 1, 2, 3]);
    assert_eq!(
        Model::from_bytes(&same),
        Err(ModelError::TrailingBody { extra: 3 })
    );
}

#[test]
fn undecodable_body() {
    let file = {
        let body = [0xffu8; 12]; // varint that never ends
        let header = Header {
            major: 1,
            minor: 0,
            schema: SCHEMA_FINGERPRINT,
            body_len: body.len() as u32,
            body_crc: neuroloop_core::crc32::checksum(&body),
        };
        let mut f = header.to_bytes().to_vec();
        f.extend_from_slice(&body);
        f
    };
    assert!(matches!(
        Model::from_bytes(&file),
        Err(ModelError::Decode { .. })
    ));
}

#[test]
fn out_of_range_dimensions() {
    let (q, _) = good_file();
    for (latent, value) in [(0u16, 0usize), (300, 300)] {
        let mut body = q.body(true);
        body.jslds.as_mut().unwrap().latent = latent;
        let file = raw_file(&body, FORMAT_MINOR, &[]);
        assert_eq!(
            Model::from_bytes(&file),
            Err(ModelError::Dimension {
                field: "jslds.latent",
                value,
                min: 1,
                max: 256
            })
        );
        // The encoder refuses the same body.
        assert!(matches!(
            encode_model(&body, &mut [0u8; 4096]),
            Err(ModelError::Dimension { .. })
        ));
    }
    let mut body = q.body(true);
    body.meta.neurons = 2000;
    assert!(matches!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::Dimension {
            field: "meta.neurons",
            ..
        })
    ));
    // A latent within range but inconsistent with the matrices.
    let mut body = q.body(true);
    body.jslds.as_mut().unwrap().latent = 3;
    assert!(matches!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::BlobLength { .. } | ModelError::Dimension { .. })
    ));
    let mut body = q.body(true);
    body.jslds.as_mut().unwrap().dynamics.rows = 3;
    assert_eq!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::Dimension {
            field: "jslds.dynamics.rows",
            value: 3,
            min: 4,
            max: 4
        })
    );
}

#[test]
fn blob_lengths_names_scales() {
    let (q, _) = good_file();
    let mut body = q.body(true);
    body.jslds.as_mut().unwrap().offset = &q.off[..6];
    assert_eq!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::BlobLength {
            field: "jslds.offset",
            expected: 8,
            got: 6
        })
    );
    let mut body = q.body(true);
    body.jslds.as_mut().unwrap().regime_names = "a\nb\nc";
    assert_eq!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::Names {
            expected: 2,
            got: 3
        })
    );
    let mut body = q.body(true);
    body.jslds.as_mut().unwrap().state_scale = f32::NAN;
    assert!(matches!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::Value {
            field: "jslds.state_scale",
            ..
        })
    ));
    let mut body = q.body(true);
    body.jslds
        .as_mut()
        .unwrap()
        .reference
        .as_mut()
        .unwrap()
        .gate_weights = &q.r_a;
    assert!(matches!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::BlobLength {
            field: "jslds.reference.gate_weights",
            ..
        })
    ));
}

#[test]
fn bad_shift() {
    let (q, _) = good_file();
    for bad in [31i8, -32, i8::MIN, i8::MAX] {
        let mut shifts = q.b.shift.clone();
        shifts[2] = bad as u8;
        let mut body = q.body(true);
        let j = body.jslds.as_mut().unwrap();
        j.input_gain = QMatrix {
            shift: &shifts,
            ..j.input_gain
        };
        assert_eq!(
            Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
            Err(ModelError::Shift {
                field: "jslds.input_gain.shift",
                row: 2,
                shift: bad
            })
        );
    }
    // Gate matrices are checked too.
    let q = quantise(&two_regime(false, 0), WeightType::I16);
    let mut shifts = q.gate.shift.clone();
    shifts[1] = 100;
    let mut body = q.body(false);
    let j = body.jslds.as_mut().unwrap();
    if let Selection::Gate { weights, .. } = &mut j.selection {
        weights.shift = &shifts;
    }
    assert!(matches!(
        Model::from_bytes(&raw_file(&body, FORMAT_MINOR, &[])),
        Err(ModelError::Shift {
            field: "jslds.selection.weights.shift",
            row: 1,
            shift: 100
        })
    ));
}

#[test]
fn capacity_and_missing_sections() {
    let (q, file) = good_file();
    let model = Model::from_bytes(&file).unwrap();
    assert!(Estimator::<2, 4>::new(&model).is_ok());
    assert_eq!(
        Estimator::<1, 4>::new(&model).unwrap_err(),
        ModelError::Capacity {
            field: "jslds.latent",
            value: 2,
            capacity: 1
        }
    );
    assert_eq!(
        Estimator::<2, 3>::new(&model).unwrap_err(),
        ModelError::Capacity {
            field: "meta.neurons",
            value: 4,
            capacity: 3
        }
    );
    let no_ref = encode(&q.body(false));
    let model = Model::from_bytes(&no_ref).unwrap();
    assert!(Estimator::<2, 4>::new(&model).is_ok());
    assert_eq!(
        ReferenceEstimator::<2, 4>::new(&model).unwrap_err(),
        ModelError::MissingSection {
            section: "jslds.reference"
        }
    );
    let mut body = q.body(false);
    body.jslds = None;
    let empty = encode(&body);
    let model = Model::from_bytes(&empty).unwrap();
    assert_eq!(
        Estimator::<2, 4>::new(&model).unwrap_err(),
        ModelError::MissingSection { section: "jslds" }
    );
}

#[test]
fn hand_made_invalid_model_is_rejected_by_the_estimator() {
    // `Model`'s fields are public; the estimator re-validates instead of trusting them.
    let (q, file) = good_file();
    let mut model = Model::from_bytes(&file).unwrap();
    model.body.jslds.as_mut().unwrap().offset = &q.off[..2];
    assert!(matches!(
        Estimator::<2, 4>::new(&model),
        Err(ModelError::BlobLength { .. })
    ));
}

#[test]
fn errors_display_field_and_problem() {
    let e = ModelError::Dimension {
        field: "jslds.latent",
        value: 300,
        min: 1,
        max: 256,
    };
    assert_eq!(e.to_string(), "jslds.latent = 300 is outside 1..=256");
    let e = ModelError::UnsupportedVersion {
        major: 2,
        minor: 0,
        supported_major: 1,
    };
    assert!(e.to_string().contains("2.0"));
}

#[test]
fn ram_estimate() {
    let (q, _) = good_file();
    // State, input vector, bookkeeping, and the fixed cache of nearest-point norms
    // (`Option<[i64; 16]>`).
    assert_eq!(q.section(true).state_ram_bytes(), 4 * 2 + 2 * 4 + 8 + 136);
}
