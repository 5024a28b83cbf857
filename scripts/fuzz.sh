#!/usr/bin/env bash
# Fuzzes Model::from_bytes and the estimators for a bounded time.
#   usage: scripts/fuzz.sh [SECONDS]     (default 30)
# Needs the nightly toolchain; installs cargo-fuzz if it is missing. Seeds the corpus with
# valid model files (fuzz/src/make_seeds.rs) so that mutations start from files that pass the
# checksums. Exits non-zero if the fuzzer finds a crash (the input is left in fuzz/artifacts/).
set -euo pipefail
secs="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-$root/fuzz/target}"

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: the nightly toolchain is required (rustup toolchain install nightly)" >&2
    exit 1
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

corpus="$root/fuzz/corpus/model_from_bytes"
mkdir -p "$corpus"
echo "fuzz.sh: writing seed corpus to $corpus"
cargo +nightly run --quiet --bin make_seeds -- "$corpus"

echo "fuzz.sh: running target model_from_bytes for ${secs}s ($(cargo +nightly fuzz --version))"
start=$(date +%s)
cargo +nightly fuzz run model_from_bytes "$corpus" -- \
    -max_total_time="$secs" -max_len=65536 -print_final_stats=1
echo "fuzz.sh: model_from_bytes ran $(( $(date +%s) - start ))s with no crash"
