//! Shared helpers of the integration tests that run the `neuroloop` binary or read the shared
//! real recording.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `neuroloop` binary built for these tests.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_neuroloop"))
        .args(args)
        .output()
        .expect("run neuroloop")
}

/// Standard output then standard error, as text.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `neuroloop` and fails the test, with its output, unless it succeeds.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "neuroloop {args:?} failed:\n{}",
        text(&out)
    );
    text(&out)
}

/// Runs `neuroloop`, which must fail with a message containing `needle` (the file or field
/// the user has to fix).
pub fn fails_naming(args: &[&str], needle: &str) {
    let out = run(args);
    assert!(!out.status.success(), "neuroloop {args:?} succeeded");
    assert!(
        text(&out).contains(needle),
        "no {needle:?} in:\n{}",
        text(&out)
    );
}

/// `jslds analyze --model CKPT --report REPORT` followed by `extra`.
pub fn analyze<'a>(ckpt: &'a Path, report: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "jslds",
        "analyze",
        "--model",
        p(ckpt),
        "--report",
        p(report),
    ];
    args.extend_from_slice(extra);
    args
}

/// A path as a command-line argument.
pub fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// The shared real recording `linear-track` (`../shared/data/linear-track` from the project
/// root, or `$NEUROLOOP_SHARED_DATA/linear-track`) when `required` files are all in it.
///
/// When it is absent the calling test fails loudly, unless `NEUROLOOP_SKIP_SHARED_DATA=1` is
/// set: then a loud notice says that `what` did not run, and `None` is returned.
pub fn linear_track(required: &[&str], what: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("NEUROLOOP_SHARED_DATA") {
        Some(root) => PathBuf::from(root).join("linear-track"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/linear-track"),
    };
    if required.iter().all(|f| dir.join(f).exists()) {
        return Some(dir);
    }
    let banner = "!".repeat(78);
    if std::env::var("NEUROLOOP_SKIP_SHARED_DATA").as_deref() == Ok("1") {
        eprintln!(
            "\n{banner}\n!!! SKIPPED: shared data not found at {}\n!!! NEUROLOOP_SKIP_SHARED_DATA=1 is set, so {what} did NOT run.\n{banner}\n",
            dir.display()
        );
        return None;
    }
    panic!(
        "\n{banner}\n!!! shared data not found at {} (needs {required:?})\n!!! {what} reads the real linear-track recording (../shared/data/linear-track\n!!! from the project root). Put it there, or set NEUROLOOP_SKIP_SHARED_DATA=1\n!!! to skip it knowingly.\n{banner}\n",
        dir.display()
    );
}
