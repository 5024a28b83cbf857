//! `neuroloop simulate`: determinism per seed, the command line, clear refusals.
mod simulate_common;

use std::process::Command;

use indicatif::ProgressBar;
use neuroloop_trainer::simulate::{self, Options, Scenario};

fn opts(seed: u64) -> Options {
    Options {
        seed,
        duration_s: Some(20.0),
        ..Options::default()
    }
}

#[test]
fn same_seed_same_files_other_seed_other_spikes() {
    for scenario in [
        Scenario::Regimes,
        Scenario::Flipflop,
        Scenario::RingTheta,
        Scenario::Connectivity,
        Scenario::SwitchingLinear,
    ] {
        let a = simulate::simulate(scenario, &opts(4), &ProgressBar::hidden()).unwrap();
        let b = simulate::simulate(scenario, &opts(4), &ProgressBar::hidden()).unwrap();
        let c = simulate::simulate(scenario, &opts(5), &ProgressBar::hidden()).unwrap();
        assert!(
            a.spike_samples == b.spike_samples,
            "{scenario}: spike times differ"
        );
        assert!(
            a.spike_clusters == b.spike_clusters,
            "{scenario}: clusters differ"
        );
        assert!(a.truth == b.truth, "{scenario}: truths differ");
        assert!(
            a.spike_samples != c.spike_samples,
            "{scenario}: seeds 4 and 5 agree"
        );
        let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        simulate::write_session(&a, da.path()).unwrap();
        simulate::write_session(&b, db.path()).unwrap();
        let base = [
            "phy/spike_times.npy",
            "phy/spike_clusters.npy",
            "phy/params.py",
            "behavior.csv",
            "truth.json",
        ];
        for f in base
            .iter()
            .copied()
            .chain(a.truth.files.iter().map(String::as_str))
        {
            let x = std::fs::read(da.path().join(f)).unwrap();
            let y = std::fs::read(db.path().join(f)).unwrap();
            assert!(
                x == y,
                "{scenario}: {f} differs between two runs of one seed"
            );
        }
    }
}

#[test]
fn command_line_writes_a_session() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ff");
    let status = Command::new(env!("CARGO_BIN_EXE_neuroloop"))
        .args([
            "simulate",
            "flipflop",
            "--seed",
            "3",
            "--duration-s",
            "15",
            "--bin-ms",
            "5",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let params = std::fs::read_to_string(out.join("phy/params.py")).unwrap();
    assert!(params.contains("sample_rate = 30000.0"));
    let bytes = std::fs::read(out.join("phy/spike_times.npy")).unwrap();
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let times: Vec<u64> = npy.into_vec().unwrap();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "spike times sorted");
    let bytes = std::fs::read(out.join("phy/spike_clusters.npy")).unwrap();
    let clusters: Vec<i32> = npyz::NpyFile::new(&bytes[..]).unwrap().into_vec().unwrap();
    assert_eq!(clusters.len(), times.len());
    assert!(clusters.iter().all(|&c| (0..64).contains(&c)));
    let truth: simulate::Truth =
        serde_json::from_str(&std::fs::read_to_string(out.join("truth.json")).unwrap()).unwrap();
    assert_eq!(truth.n_bins, 3000);
    assert_eq!(truth.regime_per_bin.len(), 3000);
    assert!((truth.bin_s - 0.005).abs() < 1e-12);
    assert!(*times.last().unwrap() < 15 * 30_000);
    // No temporary files are left behind.
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "left over {name}");
    }
}

#[test]
fn options_a_scenario_cannot_honour_are_refused_clearly() {
    let bad = |scenario, o: Options| {
        simulate::simulate(scenario, &o, &ProgressBar::hidden())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let e = bad(
        Scenario::Flipflop,
        Options {
            neurons: Some(10),
            ..opts(0)
        },
    );
    assert!(
        e.contains("--neurons") && e.contains("flipflop") && e.contains("14"),
        "{e}"
    );
    let e = bad(
        Scenario::Connectivity,
        Options {
            neurons: Some(600),
            ..opts(0)
        },
    );
    assert!(e.contains("--neurons") && e.contains("512"), "{e}");
    let e = bad(
        Scenario::RingTheta,
        Options {
            bin_ms: Some(50.0),
            ..opts(0)
        },
    );
    assert!(e.contains("--bin-ms") && e.contains("8 Hz"), "{e}");
    let e = bad(
        Scenario::Regimes,
        Options {
            duration_s: Some(0.05),
            ..opts(0)
        },
    );
    assert!(e.contains("--duration-s"), "{e}");
    let e = bad(
        Scenario::Regimes,
        Options {
            duration_s: Some(f64::NAN),
            ..opts(0)
        },
    );
    assert!(e.contains("--duration-s"), "{e}");
    let e = bad(
        Scenario::Regimes,
        Options {
            bin_ms: Some(0.0),
            ..opts(0)
        },
    );
    assert!(e.contains("--bin-ms"), "{e}");

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_neuroloop"))
        .args(["simulate", "regimes", "--neurons", "2", "--out"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--neurons"), "{err}");
}
