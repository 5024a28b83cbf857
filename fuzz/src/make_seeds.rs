//! Writes valid model files into the seed corpus given as the first argument, in the input
//! layout of the `model_from_bytes` target (both modes), followed by a few bins of counts:
//! the estimator models built here and the TAVRNN models in `fuzz/seeds/`.

#[path = "../../core/tests/common/mod.rs"]
mod common;

use neuroloop_core::format::{WeightType, HEADER_LEN};
use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).expect("usage: make_seeds DIR"));
    std::fs::create_dir_all(&dir).expect("create corpus dir");
    let counts: Vec<u8> = (0..40u16)
        .flat_map(|i| (i * 37 % 20).to_le_bytes())
        .collect();
    let mut n = 0;
    // One file in both input modes: as it is (mode 0), and as a body to be wrapped in a header
    // with correct CRCs and the file's minor version (mode 1 | minor << 1).
    let mut write_both = |file: &[u8], minor: u8| {
        for (mode, bytes) in [(0u8, file), (1 | minor << 1, &file[HEADER_LEN..])] {
            let mut seed = vec![mode];
            seed.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
            seed.extend_from_slice(bytes);
            seed.extend_from_slice(&counts);
            std::fs::write(dir.join(format!("seed-{n}")), seed).expect("write seed");
            n += 1;
        }
    };
    for nearest in [true, false] {
        for wtype in [WeightType::I8, WeightType::I16] {
            for with_ref in [true, false] {
                let q = common::quantise(&common::two_regime(nearest, 2), wtype);
                write_both(&common::encode(&q.body(with_ref)), 0);
            }
        }
    }
    // The TAVRNN seeds: committed model files (kept current by core's `fuzz_seed_is_current`).
    let seeds = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds");
    for entry in std::fs::read_dir(&seeds).expect("read fuzz/seeds") {
        let path = entry.expect("read fuzz/seeds").path();
        let file = std::fs::read(&path).expect("read a seed");
        let model = neuroloop_core::Model::from_bytes(&file)
            .unwrap_or_else(|e| panic!("{}: not a valid model: {e:?}", path.display()));
        assert!(
            model.tavrnn().is_some(),
            "{}: no TAVRNN section",
            path.display()
        );
        write_both(&file, 1);
    }
    println!("make_seeds: wrote {n} seeds to {}", dir.display());
}
