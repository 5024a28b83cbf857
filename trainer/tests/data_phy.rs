//! Phy/Kilosort folders: every layout Kilosort and Phy write is read the same; every broken
//! folder is a typed error naming the file, the field and the problem.

use std::path::{Path, PathBuf};

use neuroloop_trainer::data::{load_counts, phy, DataError, LoadOptions};
use npyz::WriterBuilder;

fn write_npy<T: npyz::AutoSerialize + Copy>(path: &Path, shape: &[u64], data: &[T]) {
    let mut buf = Vec::new();
    let mut w = npyz::WriteOptions::new()
        .default_dtype()
        .shape(shape)
        .writer(&mut buf)
        .begin_nd()
        .unwrap();
    w.extend(data.iter().copied()).unwrap();
    w.finish().unwrap();
    std::fs::write(path, buf).unwrap();
}

/// A folder with the given spikes (samples, clusters) at 1 kHz.
fn folder<T: npyz::AutoSerialize + Copy, C: npyz::AutoSerialize + Copy>(
    times: &[T],
    clusters: &[C],
) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().to_path_buf();
    write_npy(&p.join("spike_times.npy"), &[times.len() as u64], times);
    write_npy(
        &p.join("spike_clusters.npy"),
        &[clusters.len() as u64],
        clusters,
    );
    std::fs::write(
        p.join("params.py"),
        "dat_path = 'x.dat'\nn_channels_dat = 4\nsample_rate = 1000.  # Hz\nhp_filtered = True\n",
    )
    .unwrap();
    (dir, p)
}

fn standard() -> (tempfile::TempDir, PathBuf) {
    folder(&[5u64, 10, 10, 20, 1500], &[7i32, 3, 7, 1, 3])
}

#[test]
fn reads_units_in_id_order_with_times_in_seconds() {
    let (_d, p) = standard();
    let s = phy::read(&p, false).unwrap();
    let ids: Vec<u32> = s.units.iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![1, 3, 7]);
    assert_eq!(s.units[0].times_s, vec![0.020]);
    assert_eq!(s.units[1].times_s, vec![0.010, 1.5]);
    assert_eq!(s.units[2].times_s, vec![0.005, 0.010]);
    assert_eq!((s.start_s, s.end_s), (0.005, 1.5));
    assert_eq!(s.n_spikes(), 5);
}

#[test]
fn kilosort_column_vectors_int64_times_and_uint32_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    write_npy(&p.join("spike_times.npy"), &[3, 1], &[1i64, 2, 3]);
    write_npy(&p.join("spike_clusters.npy"), &[3], &[0u32, 1, 0]);
    std::fs::write(p.join("params.py"), "sample_rate=3e4\n").unwrap();
    let s = phy::read(p, false).unwrap();
    assert_eq!(s.units.len(), 2);
    assert_eq!(s.units[0].times_s, vec![1.0 / 3e4, 3.0 / 3e4]);
}

#[test]
fn good_only_keeps_units_labelled_good() {
    let (_d, p) = standard();
    std::fs::write(
        p.join("cluster_group.tsv"),
        "cluster_id\tgroup\n1\tnoise\n3\tgood\n7\tgood\r\n",
    )
    .unwrap();
    let s = phy::read(&p, true).unwrap();
    let ids: Vec<u32> = s.units.iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![3, 7]);
    // Units labelled but absent from spike_clusters are a mismatch.
    std::fs::write(p.join("cluster_group.tsv"), "cluster_id\tgroup\n9\tgood\n").unwrap();
    let e = phy::read(&p, true).unwrap_err();
    assert!(matches!(e, DataError::Empty { .. }), "{e:?}");
    assert!(e.to_string().contains("cluster 9"), "{e}");
    std::fs::write(p.join("cluster_group.tsv"), "cluster_id\tgroup\n1\tmua\n").unwrap();
    assert!(matches!(phy::read(&p, true), Err(DataError::Empty { .. })));
    std::fs::write(p.join("cluster_group.tsv"), "id\tKSLabel\n1\tgood\n").unwrap();
    assert!(matches!(
        phy::read(&p, true),
        Err(DataError::Malformed { .. })
    ));
    std::fs::remove_file(p.join("cluster_group.tsv")).unwrap();
    let e = phy::read(&p, true).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("cluster_group.tsv"), "{e}");
    // Without the flag the file is not needed.
    assert_eq!(phy::read(&p, false).unwrap().units.len(), 3);
}

#[test]
fn sample_rate_assignments() {
    let p = Path::new("params.py");
    for (text, want) in [
        ("sample_rate = 30000.", 30000.0),
        ("sample_rate=30000.0 # Hz", 30000.0),
        ("x = 1; sample_rate = 2.5e4", 25000.0),
        ("sample_rate = 30_000", 30000.0),
        ("sample_rate = float(20000)", 20000.0),
        ("sample_rate = 1\nsample_rate = 2", 2.0),
        ("name = 'a # b'\nsample_rate = 7", 7.0),
        ("# sample_rate = 1\nsample_rate = 9", 9.0),
    ] {
        assert_eq!(phy::sample_rate(text, p).unwrap(), want, "{text}");
    }
    for text in [
        "",
        "rate = 1",
        "sample_rate = ",
        "sample_rate = abc",
        "sample_rate = 0",
        "sample_rate = -5",
        "sample_rate = nan",
        "sample_rate == 5",
        "if x:\n    sample_rate = 5",
    ] {
        let e = phy::sample_rate(text, p).unwrap_err();
        assert!(e.to_string().contains("sample_rate"), "{text}: {e}");
    }
}

#[test]
fn broken_folders_are_typed_errors() {
    // Missing folder, a file instead of a folder.
    let e = phy::read(Path::new("/nonexistent/phy"), false).unwrap_err();
    assert!(matches!(e, DataError::Io { .. }), "{e:?}");
    let (_d, p) = standard();
    let e = phy::read(&p.join("params.py"), false).unwrap_err();
    assert!(matches!(e, DataError::Invalid { .. }), "{e:?}");

    // Missing params.py.
    std::fs::remove_file(p.join("params.py")).unwrap();
    let e = phy::read(&p, false).unwrap_err();
    assert!(e.to_string().contains("params.py"), "{e}");

    // Float times.
    let (_d, p) = folder(&[0.5f64, 1.0], &[0i32, 0]);
    let e = phy::read(&p, false).unwrap_err();
    assert!(matches!(e, DataError::Dtype { .. }), "{e:?}");
    assert!(e.to_string().contains("spike_times.npy"), "{e}");

    // Length mismatch.
    let (_d, p) = folder(&[1u64, 2, 3], &[0i32, 0]);
    let e = phy::read(&p, false).unwrap_err();
    assert!(matches!(e, DataError::Shape { .. }), "{e:?}");
    assert!(e.to_string().contains("spike_clusters"), "{e}");

    // Unsorted times.
    let (_d, p) = folder(&[1u64, 5, 3], &[0i32, 0, 0]);
    let e = phy::read(&p, false).unwrap_err();
    assert!(matches!(e, DataError::Unsorted { index: 2, .. }), "{e:?}");
    assert!(e.to_string().contains("element 2 (3)"), "{e}");

    // Negative times and clusters.
    let (_d, p) = folder(&[-1i64, 5], &[0i32, 0]);
    assert!(matches!(
        phy::read(&p, false),
        Err(DataError::Negative { index: 0, .. })
    ));
    let (_d, p) = folder(&[1u64, 5], &[0i32, -2]);
    let e = phy::read(&p, false).unwrap_err();
    assert!(matches!(e, DataError::Negative { index: 1, .. }), "{e:?}");
    assert!(e.to_string().contains("spike_clusters"), "{e}");

    // No spikes.
    let (_d, p) = folder::<u64, i32>(&[], &[]);
    assert!(matches!(phy::read(&p, false), Err(DataError::Empty { .. })));

    // A matrix where a vector belongs.
    let (_d, p) = standard();
    write_npy(&p.join("spike_times.npy"), &[2, 2], &[1u64, 2, 3, 4]);
    assert!(matches!(phy::read(&p, false), Err(DataError::Shape { .. })));

    // A truncated file.
    let (_d, p) = standard();
    let bytes = std::fs::read(p.join("spike_clusters.npy")).unwrap();
    std::fs::write(p.join("spike_clusters.npy"), &bytes[..bytes.len() - 2]).unwrap();
    assert!(matches!(
        phy::read(&p, false),
        Err(DataError::Malformed { .. })
    ));
}

#[test]
fn load_counts_bins_a_folder() {
    let (_d, p) = standard();
    let counts = load_counts(&p, &LoadOptions::new(0.010)).unwrap();
    // Spikes from 0.005 s to 1.5 s: bins [0.0, 0.01) .. [1.5, 1.51).
    assert_eq!(counts.start_s, 0.0);
    assert_eq!(counts.n_bins, 151);
    assert_eq!(counts.unit_ids, vec![1, 3, 7]);
    assert_eq!(counts.row(0), &[0, 0, 1]);
    assert_eq!(counts.row(1), &[0, 1, 1]);
    assert_eq!(counts.row(2), &[1, 0, 0]);
    assert_eq!(counts.row(150), &[0, 1, 0]);
    assert_eq!(counts.data.iter().sum::<u32>(), 5);
    let mut opts = LoadOptions::new(0.010);
    opts.units = Some(vec![7]);
    opts.range_s = Some((0.0, 0.015));
    let counts = load_counts(&p, &opts).unwrap();
    assert_eq!((counts.n_bins, counts.data.clone()), (1, vec![1]));
    opts.units = Some(vec![8]);
    let e = load_counts(&p, &opts).unwrap_err();
    assert!(e.to_string().contains("unit id 8"), "{e}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_params_text_never_panics(text in "\\PC{0,200}") {
            let _ = phy::sample_rate(&text, Path::new("params.py"));
        }

        #[test]
        fn random_folders_round_trip(
            spikes in proptest::collection::vec((0u64..1_000_000, 0u32..6), 1..200),
            rate in prop_oneof![Just(1000.0f64), Just(30000.0), Just(20000.0)],
        ) {
            let mut spikes = spikes;
            spikes.sort();
            let times: Vec<u64> = spikes.iter().map(|s| s.0).collect();
            let clusters: Vec<u32> = spikes.iter().map(|s| s.1).collect();
            let (_d, p) = folder(&times, &clusters);
            std::fs::write(p.join("params.py"), format!("sample_rate = {rate:?}\n")).unwrap();
            let s = phy::read(&p, false).unwrap();
            let mut ids: Vec<u32> = clusters.clone();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(s.units.iter().map(|u| u.id).collect::<Vec<_>>(), ids);
            for unit in &s.units {
                let want: Vec<f64> = spikes
                    .iter()
                    .filter(|x| x.1 == unit.id)
                    .map(|x| x.0 as f64 / rate)
                    .collect();
                prop_assert_eq!(&unit.times_s, &want);
            }
            prop_assert_eq!(s.n_spikes(), spikes.len());
        }
    }
}
