#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every check and test of
# neuroloop — formatting, lints, docs, the workspace tests (including the firmware under
# QEMU, bit-exact against the host), a bounded fuzz run of the model parser.
#
# Usage: bash scripts/test.sh            (everything)
#        FUZZ_SECONDS=0 bash scripts/test.sh   (skip nothing but shorten the fuzz run to 0 s)
set -euo pipefail
cd "$(dirname "$0")/.."

section() { printf '\n==== %s ====\n' "$*"; }

# One target directory for everything the host builds: Burn and the rest compile once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# Cargo caches the probes it runs on rustc in $CARGO_TARGET_DIR/.rustc_info.json. A failed
# probe stays cached (a CI run once failed at `cargo doc` replaying one recorded in a copied
# target directory), so the checks ask rustc afresh: it costs a fraction of a second a command.
export CARGO_CACHE_RUSTC_INFO=0
# Cargo's probe runs `rustc -`, which reads its source from standard input if that is not
# empty (the cached failure above was a firmware build's error output fed to it by a loop).
exec </dev/null
rm -f "$CARGO_TARGET_DIR/.rustc_info.json"

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
