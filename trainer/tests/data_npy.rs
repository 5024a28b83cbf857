//! Binned count matrices in `.npy` files: every dtype and order that numpy writes is read the
//! same; every malformed file is a typed error naming the file and the field, never a panic.
//! Fixtures are written with `npyz`, an implementation independent of the reader.

use std::path::Path;

use neuroloop_trainer::data::{load_counts, npy_counts, DataError, LoadOptions};
use npyz::WriterBuilder;
use proptest::prelude::*;

/// `.npy` bytes of `data` (given in storage order) with `shape`, written by npyz.
fn npy<T: npyz::AutoSerialize + Copy>(shape: &[u64], data: &[T], fortran: bool) -> Vec<u8> {
    let mut buf = Vec::new();
    let order = if fortran {
        npyz::Order::Fortran
    } else {
        npyz::Order::C
    };
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .order(order)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    buf
}

/// Same with an explicit dtype string such as `>i4`.
fn npy_dtype<T: npyz::Serialize + Copy>(shape: &[u64], data: &[T], dtype: &str) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .dtype(npyz::DType::Plain(dtype.parse().unwrap()))
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    buf
}

fn parse(bytes: Vec<u8>) -> Result<neuroloop_trainer::data::Counts, DataError> {
    npy_counts::parse(bytes, Path::new("counts.npy"), 0.01)
}

/// The 3 x 2 matrix [[0, 1], [2, 3], [4, 5]] in row-major order.
const ROWS: [u32; 6] = [0, 1, 2, 3, 4, 5];

#[test]
fn every_integer_and_float_dtype_reads_the_same() {
    macro_rules! check {
        ($t:ty) => {{
            let c: Vec<$t> = ROWS.iter().map(|&v| v as $t).collect();
            let counts = parse(npy(&[3, 2], &c, false)).unwrap();
            assert_eq!(counts.data, ROWS, "{}", stringify!($t));
            assert_eq!(counts.n_bins, 3);
            assert_eq!(counts.unit_ids, vec![0, 1]);
            assert_eq!(counts.bin_s, 0.01);
            assert_eq!(counts.start_s, 0.0);
            // Same matrix stored column-major.
            let f: Vec<$t> = [0u32, 2, 4, 1, 3, 5].iter().map(|&v| v as $t).collect();
            assert_eq!(parse(npy(&[3, 2], &f, true)).unwrap().data, ROWS);
        }};
    }
    check!(u8);
    check!(u16);
    check!(u32);
    check!(u64);
    check!(i8);
    check!(i16);
    check!(i32);
    check!(i64);
    check!(f32);
    check!(f64);
}

#[test]
fn big_endian_is_read() {
    let data: Vec<i32> = ROWS.iter().map(|&v| v as i32 + 1000).collect();
    let counts = parse(npy_dtype(&[3, 2], &data, ">i4")).unwrap();
    assert_eq!(
        counts.data,
        data.iter().map(|&v| v as u32).collect::<Vec<_>>()
    );
    let data: Vec<f64> = vec![1.0, 70000.0];
    assert_eq!(
        parse(npy_dtype(&[1, 2], &data, ">f8")).unwrap().data,
        vec![1, 70000]
    );
}

#[test]
fn non_integer_float_is_an_error_naming_bin_and_unit() {
    let e = parse(npy(&[2, 2], &[0.0f64, 1.0, 2.5, 3.0], false)).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("counts.npy"), "{msg}");
    assert!(msg.contains("bin 1, unit 0"), "{msg}");
    assert!(msg.contains("2.5"), "{msg}");
}

#[test]
fn nan_negative_and_too_large_are_errors() {
    let e = parse(npy(&[1, 2], &[0.0f32, f32::NAN], false)).unwrap_err();
    assert!(matches!(e, DataError::NotFinite { index: 1, .. }), "{e:?}");
    let e = parse(npy(&[1, 2], &[0.0f64, f64::INFINITY], false)).unwrap_err();
    assert!(matches!(e, DataError::NotFinite { .. }), "{e:?}");
    let e = parse(npy(&[2, 1], &[3i16, -2], false)).unwrap_err();
    assert!(matches!(e, DataError::Negative { index: 1, .. }), "{e:?}");
    let e = parse(npy(&[1, 1], &[-1.0f64], false)).unwrap_err();
    assert!(matches!(e, DataError::Negative { .. }), "{e:?}");
    let e = parse(npy(&[1, 1], &[u64::MAX], false)).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
    let e = parse(npy(&[1, 1], &[5e9f64], false)).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");
}

#[test]
fn shape_and_dtype_errors() {
    let e = parse(npy(&[6], &ROWS, false)).unwrap_err();
    assert!(matches!(e, DataError::Shape { .. }), "{e:?}");
    assert!(e.to_string().contains("(6,)"), "{e}");
    let e = parse(npy(&[1, 2, 3], &ROWS, false)).unwrap_err();
    assert!(matches!(e, DataError::Shape { .. }), "{e:?}");
    let e = parse(npy::<u32>(&[0, 3], &[], false)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    let e = parse(npy::<u32>(&[3, 0], &[], false)).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    let e = parse(npy(&[1, 2], &[true, false], false)).unwrap_err();
    assert!(matches!(e, DataError::Dtype { .. }), "{e:?}");
    assert!(e.to_string().contains("b1"), "{e}");
}

#[test]
fn truncated_and_padded_files_are_malformed() {
    let good = npy(&[3, 2], &ROWS, false);
    let e = parse(good[..good.len() - 1].to_vec()).unwrap_err();
    assert!(matches!(e, DataError::Malformed { .. }), "{e:?}");
    let mut long = good.clone();
    long.push(0);
    assert!(matches!(parse(long), Err(DataError::Malformed { .. })));
    assert!(matches!(
        parse(b"not numpy".to_vec()),
        Err(DataError::Malformed { .. })
    ));
}

#[test]
fn missing_file_and_bad_bin_width() {
    let e = npy_counts::read(Path::new("/nonexistent/dir/c.npy"), 0.01).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/dir/c.npy"), "{e}");
    for bad in [0.0, -0.01, f64::NAN, f64::INFINITY] {
        let e = npy_counts::parse(npy(&[3, 2], &ROWS, false), Path::new("c.npy"), bad);
        assert!(matches!(e, Err(DataError::Argument { .. })), "{bad}");
    }
}

#[test]
fn load_counts_reads_npy_with_selection_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.npy");
    // 5 bins x 3 units, value = 10 * bin + unit.
    let data: Vec<u16> = (0..5)
        .flat_map(|b| (0..3).map(move |u| 10 * b + u))
        .collect();
    std::fs::write(&path, npy(&[5, 3], &data, false)).unwrap();
    let mut opts = LoadOptions::new(0.5);
    let all = load_counts(&path, &opts).unwrap();
    assert_eq!(all.n_bins, 5);
    assert_eq!(all.row(4), &[40, 41, 42]);
    opts.units = Some(vec![2, 0]);
    opts.range_s = Some((0.4, 2.0));
    let sel = load_counts(&path, &opts).unwrap();
    assert_eq!(sel.unit_ids, vec![2, 0]);
    // Whole bins inside (0.4, 2.0): [0.5, 1.0), [1.0, 1.5), [1.5, 2.0).
    assert_eq!(sel.start_s, 0.5);
    assert_eq!(sel.n_bins, 3);
    assert_eq!(sel.data, vec![12, 10, 22, 20, 32, 30]);
    opts.units = Some(vec![3]);
    assert!(matches!(
        load_counts(&path, &opts),
        Err(DataError::Invalid { .. })
    ));
    opts.units = None;
    opts.range_s = Some((7.0, 9.0));
    assert!(matches!(
        load_counts(&path, &opts),
        Err(DataError::Argument { .. })
    ));
    opts.range_s = None;
    opts.good_only = true;
    assert!(matches!(
        load_counts(&path, &opts),
        Err(DataError::Argument { .. })
    ));
}

#[test]
fn load_counts_names_a_missing_path() {
    let e = load_counts(Path::new("/nonexistent/x.npy"), &LoadOptions::new(0.01)).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    let e = load_counts(Path::new("/nonexistent/x.txt"), &LoadOptions::new(0.01)).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(bytes);
    }

    #[test]
    fn arbitrary_bytes_after_a_valid_prefix_never_panic(
        header in "\\{'descr': '[<>|=][iufb][0-9]{1,2}', 'fortran_order': (True|False), 'shape': \\(([0-9]{1,20}, ){0,3}\\), \\}",
        tail in proptest::collection::vec(any::<u8>(), 0..256),
        major in 1u8..4,
    ) {
        let mut bytes = b"\x93NUMPY".to_vec();
        bytes.push(major);
        bytes.push(0);
        if major == 1 {
            bytes.extend((header.len() as u16).to_le_bytes());
        } else {
            bytes.extend((header.len() as u32).to_le_bytes());
        }
        bytes.extend(header.as_bytes());
        bytes.extend(tail);
        let _ = parse(bytes);
    }

    #[test]
    fn mutated_valid_files_never_panic(
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
    ) {
        let mut bytes = npy(&[3, 2], &ROWS, false);
        for (at, v) in flips {
            let n = bytes.len();
            bytes[at % n] = v;
        }
        let _ = parse(bytes);
    }

    #[test]
    fn round_trip_of_valid_matrices(
        rows in 1usize..20,
        cols in 1usize..6,
        seed in proptest::collection::vec(0u32..1000, 120),
        fortran in any::<bool>(),
        as_float in any::<bool>(),
    ) {
        let want: Vec<u32> = (0..rows * cols).map(|i| seed[i % seed.len()] * (i as u32 % 7)).collect();
        // Storage order for the file.
        let stored: Vec<u32> = if fortran {
            (0..cols).flat_map(|c| (0..rows).map(move |r| (r, c))).map(|(r, c)| want[r * cols + c]).collect()
        } else {
            want.clone()
        };
        let shape = [rows as u64, cols as u64];
        let bytes = if as_float {
            npy(&shape, &stored.iter().map(|&v| v as f64).collect::<Vec<_>>(), fortran)
        } else {
            npy(&shape, &stored, fortran)
        };
        let counts = parse(bytes).unwrap();
        prop_assert_eq!(counts.n_bins, rows);
        prop_assert_eq!(counts.n_units(), cols);
        prop_assert_eq!(counts.data, want);
    }
}
