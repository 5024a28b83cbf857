//! NWB Units tables written by an independent HDF5 implementation (`hdf5-pure`), read back
//! by the reader (`hdf5-reader`): every integer width and byte order of the ragged index,
//! chunked and compressed datasets, and every broken table a typed error.

use std::path::Path;

use hdf5_pure::{DatatypeByteOrder, FileBuilder};
use neuroloop_trainer::data::{nwb, DataError, SpikeTrains};
use proptest::prelude::*;

/// How to store `/units/spike_times_index`.
#[derive(Clone, Copy, Debug)]
enum Index {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    U16BigEndian,
    F64,
}

struct Table<'a> {
    times: &'a [f64],
    index: &'a [i64],
    ids: &'a [i64],
    index_type: Index,
    chunked: bool,
    times_f32: bool,
}

impl Default for Table<'_> {
    fn default() -> Self {
        Table {
            times: &TIMES,
            index: &INDEX,
            ids: &IDS,
            index_type: Index::U16,
            chunked: false,
            times_f32: false,
        }
    }
}

/// Three units: id 4 with 2 spikes, id 9 with 3, id 2 with 1.
const TIMES: [f64; 6] = [0.5, 1.25, 0.125, 2.0, 3.5, 10.0];
const INDEX: [i64; 3] = [2, 5, 6];
const IDS: [i64; 3] = [4, 9, 2];

fn nwb_bytes(t: &Table) -> Vec<u8> {
    let mut b = FileBuilder::new();
    b.set_attr("nwb_version", hdf5_pure::AttrValue::String("2.8.0".into()));
    let mut units = b.create_group("units");
    {
        let ds = units.create_dataset("spike_times");
        if t.times_f32 {
            ds.with_f32_data(&t.times.iter().map(|&v| v as f32).collect::<Vec<_>>());
        } else {
            ds.with_f64_data(t.times);
        }
        if t.chunked && !t.times.is_empty() {
            ds.with_chunks(&[2]).with_deflate(6);
        }
    }
    {
        let ds = units.create_dataset("spike_times_index");
        let ix = t.index;
        match t.index_type {
            Index::U8 => ds.with_u8_data(&ix.iter().map(|&v| v as u8).collect::<Vec<_>>()),
            Index::U16 => ds.with_u16_data(&ix.iter().map(|&v| v as u16).collect::<Vec<_>>()),
            Index::U32 => ds.with_u32_data(&ix.iter().map(|&v| v as u32).collect::<Vec<_>>()),
            Index::U64 => ds.with_u64_data(&ix.iter().map(|&v| v as u64).collect::<Vec<_>>()),
            Index::I8 => ds.with_i8_data(&ix.iter().map(|&v| v as i8).collect::<Vec<_>>()),
            Index::I16 => ds.with_i16_data(&ix.iter().map(|&v| v as i16).collect::<Vec<_>>()),
            Index::I32 => ds.with_i32_data(&ix.iter().map(|&v| v as i32).collect::<Vec<_>>()),
            Index::I64 => ds.with_i64_data(ix),
            Index::F64 => ds.with_f64_data(&ix.iter().map(|&v| v as f64).collect::<Vec<_>>()),
            Index::U16BigEndian => {
                let mut dtype = hdf5_pure::make_u16_type();
                if let hdf5_pure::Datatype::FixedPoint { byte_order, .. } = &mut dtype {
                    *byte_order = DatatypeByteOrder::BigEndian;
                }
                let raw: Vec<u8> = ix.iter().flat_map(|&v| (v as u16).to_be_bytes()).collect();
                ds.with_raw_data(dtype, raw, ix.len() as u64)
            }
        };
        if t.chunked && !ix.is_empty() {
            ds.with_chunks(&[2]).with_deflate(6);
        }
    }
    units.create_dataset("id").with_i64_data(t.ids);
    b.add_group(units.finish());
    b.finish().unwrap()
}

fn read(t: &Table) -> Result<SpikeTrains, DataError> {
    nwb::parse(nwb_bytes(t), Path::new("session.nwb"), None)
}

fn expected() -> Vec<(u32, Vec<f64>)> {
    vec![
        (4, vec![0.5, 1.25]),
        (9, vec![0.125, 2.0, 3.5]),
        (2, vec![10.0]),
    ]
}

fn units(s: &SpikeTrains) -> Vec<(u32, Vec<f64>)> {
    s.units.iter().map(|u| (u.id, u.times_s.clone())).collect()
}

#[test]
fn every_index_width_and_byte_order_reads_the_same() {
    for index_type in [
        Index::U8,
        Index::U16,
        Index::U32,
        Index::U64,
        Index::I8,
        Index::I16,
        Index::I32,
        Index::I64,
        Index::U16BigEndian,
    ] {
        for chunked in [false, true] {
            let t = Table {
                index_type,
                chunked,
                ..Table::default()
            };
            let s = read(&t).unwrap_or_else(|e| panic!("{index_type:?} chunked={chunked}: {e}"));
            assert_eq!(units(&s), expected(), "{index_type:?} chunked={chunked}");
            assert_eq!((s.start_s, s.end_s), (0.125, 10.0));
        }
    }
}

#[test]
fn float32_times_are_read() {
    let s = read(&Table {
        times_f32: true,
        ..Table::default()
    })
    .unwrap();
    assert_eq!(units(&s), expected());
}

#[test]
fn unit_selection_keeps_the_given_order() {
    let bytes = nwb_bytes(&Table::default());
    let s = nwb::parse(bytes.clone(), Path::new("s.nwb"), Some(&[2, 4])).unwrap();
    assert_eq!(units(&s), vec![(2, vec![10.0]), (4, vec![0.5, 1.25])]);
    assert_eq!((s.start_s, s.end_s), (0.5, 10.0));
    let e = nwb::parse(bytes.clone(), Path::new("s.nwb"), Some(&[5])).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
    assert!(e.to_string().contains("no unit with id 5"), "{e}");
    let e = nwb::parse(bytes.clone(), Path::new("s.nwb"), Some(&[4, 4])).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
    let e = nwb::parse(bytes, Path::new("s.nwb"), Some(&[])).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
}

#[test]
fn unsorted_spikes_within_a_unit_are_sorted() {
    let times = [1.25, 0.5, 3.5, 0.125, 2.0, 10.0];
    let s = read(&Table {
        times: &times,
        ..Table::default()
    })
    .unwrap();
    assert_eq!(units(&s), expected());
}

#[test]
fn broken_tables_are_typed_errors_naming_the_dataset() {
    let check = |t: Table, want: fn(&DataError) -> bool, needle: &str| {
        let e = read(&t).unwrap_err();
        assert!(want(&e), "{e:?}");
        let msg = e.to_string();
        assert!(msg.starts_with("session.nwb: "), "{msg}");
        assert!(msg.contains(needle), "{needle}: {msg}");
    };
    // The index must end exactly at the number of spike times.
    check(
        Table {
            times: &TIMES[..5],
            index: &[2, 5, 5],
            ..Table::default()
        },
        |e| matches!(e, DataError::Empty { .. }),
        "unit id 2",
    );
    check(
        Table {
            index: &[2, 5, 7],
            ..Table::default()
        },
        |e| matches!(e, DataError::Shape { .. }),
        "spike_times_index",
    );
    check(
        Table {
            index: &[2, 4, 5],
            ..Table::default()
        },
        |e| matches!(e, DataError::Shape { .. }),
        "holds 6 spike times",
    );
    check(
        Table {
            index: &[5, 2, 6],
            ..Table::default()
        },
        |e| matches!(e, DataError::Unsorted { index: 1, .. }),
        "spike_times_index",
    );
    check(
        Table {
            index: &[-1, 5, 6],
            index_type: Index::I32,
            ..Table::default()
        },
        |e| matches!(e, DataError::Negative { .. }),
        "spike_times_index",
    );
    check(
        Table {
            index_type: Index::F64,
            ..Table::default()
        },
        |e| matches!(e, DataError::Dtype { .. }),
        "spike_times_index",
    );
    check(
        Table {
            ids: &[4, 9],
            ..Table::default()
        },
        |e| matches!(e, DataError::Shape { .. }),
        "/units/id has 2 units",
    );
    check(
        Table {
            ids: &[4, 9, 4],
            ..Table::default()
        },
        |e| matches!(e, DataError::Invalid { .. }),
        "appears twice",
    );
    check(
        Table {
            ids: &[4, -9, 2],
            ..Table::default()
        },
        |e| matches!(e, DataError::Invalid { .. }),
        "/units/id[1]",
    );
    check(
        Table {
            times: &[0.5, 1.25, f64::NAN, 2.0, 3.5, 10.0],
            ..Table::default()
        },
        |e| matches!(e, DataError::NotFinite { index: 2, .. }),
        "unit id 9",
    );
    check(
        Table {
            times: &[0.5, 1.25, 0.125, 2.0, 3.5, -10.0],
            ..Table::default()
        },
        |e| matches!(e, DataError::Negative { index: 5, .. }),
        "unit id 2",
    );
    check(
        Table {
            times: &[],
            index: &[],
            ids: &[],
            ..Table::default()
        },
        |e| matches!(e, DataError::Empty { .. }),
        "no units",
    );
}

#[test]
fn files_without_a_units_table_or_not_hdf5() {
    let mut b = FileBuilder::new();
    b.create_dataset("x").with_f64_data(&[1.0]);
    let e = nwb::parse(b.finish().unwrap(), Path::new("s.nwb"), None).unwrap_err();
    assert!(matches!(e, DataError::Malformed { .. }), "{e:?}");
    assert!(e.to_string().contains("/units/spike_times"), "{e}");
    let e = nwb::parse(b"not hdf5 at all".to_vec(), Path::new("s.nwb"), None).unwrap_err();
    assert!(matches!(e, DataError::Malformed { .. }), "{e:?}");
    let e = nwb::read(Path::new("/nonexistent/s.nwb"), None).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn corrupted_files_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..6),
        chunked in any::<bool>(),
    ) {
        let mut bytes = nwb_bytes(&Table { chunked, ..Table::default() });
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        let _ = nwb::parse(bytes, Path::new("s.nwb"), None);
    }

    #[test]
    fn truncated_files_never_panic(cut in any::<usize>()) {
        let bytes = nwb_bytes(&Table::default());
        let n = cut % bytes.len();
        let _ = nwb::parse(bytes[..n].to_vec(), Path::new("s.nwb"), None);
    }

    #[test]
    fn random_tables_round_trip(
        counts in proptest::collection::vec(1usize..6, 1..12),
        seed in proptest::collection::vec(0.0f64..1000.0, 64),
        chunked in any::<bool>(),
    ) {
        let mut times = Vec::new();
        let mut index = Vec::new();
        for (u, &n) in counts.iter().enumerate() {
            let mut unit: Vec<f64> = (0..n).map(|k| seed[(u * 7 + k) % seed.len()]).collect();
            unit.sort_by(f64::total_cmp);
            times.extend(unit);
            index.push(times.len() as i64);
        }
        let ids: Vec<i64> = (0..counts.len() as i64).map(|i| 100 - 3 * i).collect();
        let t = Table { times: &times, index: &index, ids: &ids, index_type: Index::U8, chunked, times_f32: false };
        let s = read(&t).unwrap();
        let mut start = 0;
        for (u, unit) in s.units.iter().enumerate() {
            prop_assert_eq!(unit.id as i64, ids[u]);
            prop_assert_eq!(&unit.times_s[..], &times[start..index[u] as usize]);
            start = index[u] as usize;
        }
    }
}
