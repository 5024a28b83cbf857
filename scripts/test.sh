#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every check and test of
# neuroloop — formatting, lints, docs, the workspace tests (including the firmware under
# QEMU, bit-exact against the host), a bounded fuzz run of the model parser.
#
# Usage: bash scripts/test.sh            (everything)
#        FUZZ_SECONDS=0 bash scripts/test.sh   (skip nothing but shorten the fuzz run to 0 s)
set -euo pipefail
cd "$(dirname "$0")/.."

section() {
  ensure_dev_null
  printf '\n==== %s ====\n' "$*"
}

# /dev/null must be the null device. On the CI machine it has been found as a plain file
# (mode 0666, created by the first shell redirection after the device node went missing).
# Every build script and probe that writes "to /dev/null" then writes into that file, and the
# next cargo command's rustc probe, which reads its source from /dev/null, compiles that text
# and fails ("failed to run `rustc` to learn about target-specific information"). Two CI runs
# failed at `cargo doc` this way. Put the device back, or stop with the reason.
ensure_dev_null() {
  [ -c /dev/null ] && return 0
  echo "note: /dev/null is a $(stat -c %F /dev/null 2>/dev/null || echo 'missing file'), not the" \
    "null device; recreating it (mknod c 1 3)" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo -n"
  if ! { $sudo rm -f /dev/null && $sudo mknod -m 666 /dev/null c 1 3; } || [ ! -c /dev/null ]; then
    echo "error: /dev/null is not the null device and could not be recreated; cargo's rustc" \
      "probes would read whatever was written into it" >&2
    exit 1
  fi
}
ensure_dev_null

# One target directory for everything the host builds: Burn and the rest compile once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# Cargo caches its rustc probes in $CARGO_TARGET_DIR/.rustc_info.json, failed ones included,
# so one probe spoiled by a bad /dev/null (above) would be replayed by every later command
# that shares the target directory. The checks ask rustc afresh: a fraction of a second each.
export CARGO_CACHE_RUSTC_INFO=0
rm -f "$CARGO_TARGET_DIR/.rustc_info.json"
# Nothing here reads standard input; a terminal left attached would only let a test block.
exec </dev/null

section "system packages (Cortex-M toolchain from Debian, QEMU)"
missing=()
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || missing+=(rustc-web cargo-web)
ls /usr/lib/rustlib/src/rust/library/core >/dev/null 2>&1 || missing+=(rust-web-src)
command -v ld.lld >/dev/null 2>&1 || missing+=(lld)
command -v qemu-system-arm >/dev/null 2>&1 || missing+=(qemu-system-arm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
  echo "all present"
fi

section "cargo fmt"
cargo fmt --all -- --check

section "cargo clippy (all targets, -D warnings)"
cargo clippy --workspace --all-targets --release -- -D warnings

section "cargo doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --release

section "workspace tests (release; includes the QEMU bit-exact test)"
cargo test --workspace --release

section "fuzz the model parser (${FUZZ_SECONDS:-60} s)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-60}"

section "all checks passed"
