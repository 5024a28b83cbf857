//! Atomic file writing: a model file is either the old one or the complete new one, never a
//! half-written file (a device flashed from a truncated model would refuse it, but a lab
//! should not lose the model it had because a disk filled up).

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Writes `bytes` to `path` through a temporary file in the same directory, synced, then
/// renamed over `path`. On any failure the temporary file is removed and `path` is untouched.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Whether `path` names something other than a regular file or a directory: a device such as
/// `/dev/null` or `/dev/stdout`, a FIFO, a socket. Such a path is written in place: renaming a
/// temporary file over it would replace the node itself (run as root, `--report /dev/null`
/// would turn the null device into a plain file, and every later write "to /dev/null" on the
/// machine would land in it), and there is no old content to keep.
pub(crate) fn writes_in_place(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| !m.is_file() && !m.is_dir())
}

/// [`write_atomic`] with the content produced by `fill` (tests inject failures through it).
pub(crate) fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> Result<()> {
    if writes_in_place(path) {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(|| format!("{}: cannot open for writing", path.display()))?;
        return fill(&mut f).with_context(|| format!("{}: write failed", path.display()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| -> Result<()> {
        let mut f = File::create(&tmp)
            .with_context(|| format!("{}: cannot create temporary file", tmp.display()))?;
        fill(&mut f).with_context(|| format!("{}: write failed", tmp.display()))?;
        f.sync_all()
            .with_context(|| format!("{}: sync failed", tmp.display()))?;
        drop(f);
        fs::rename(&tmp, path)
            .with_context(|| format!("{}: cannot replace with {}", path.display(), tmp.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| {
        format!(
            "{}: not written (any previous file is unchanged)",
            path.display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_atomically_and_keeps_the_old_file_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.nlm");
        write_atomic(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first");
        write_atomic(&path, b"second version").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second version");

        // A write that fails half-way: the old file stays, no temporary file is left.
        let err = write_atomic_with(&path, |f| {
            f.write_all(b"half")?;
            Err(std::io::Error::other("disk full"))
        })
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("model.nlm") && msg.contains("disk full"),
            "{msg}"
        );
        assert_eq!(fs::read(&path).unwrap(), b"second version");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("model.nlm")]);

        // A directory that does not exist: error names the path.
        let bad = dir.path().join("no/such/dir/model.nlm");
        let msg = format!("{:#}", write_atomic(&bad, b"x").unwrap_err());
        assert!(msg.contains("no/such/dir"), "{msg}");
    }

    /// A FIFO (like `/dev/null`, not a regular file) is written in place and stays what it
    /// was; renaming a temporary file over it would replace the node.
    #[test]
    fn a_special_file_is_written_in_place() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(
            made.is_ok_and(|s| s.success()),
            "mkfifo (coreutils) is needed for this test"
        );
        let reader = {
            let fifo = fifo.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(fs::read(&fifo));
            });
            rx
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        let kind = fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(kind.is_fifo(), "the FIFO was replaced by {kind:?}");
        let got = reader
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the reader got nothing: the write did not go through the FIFO")
            .unwrap();
        assert_eq!(got, b"through the pipe");
        assert!(writes_in_place(Path::new("/dev/null")));
        assert!(!writes_in_place(dir.path()));
        assert!(!writes_in_place(&dir.path().join("absent")));
    }
}
