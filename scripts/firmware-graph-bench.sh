#!/usr/bin/env bash
# Instruction counts of the streaming graph encoder (neuroloop_core::graph) on the emulated
# Cortex-M4: builds the firmware example's second binary `graph_bench` for thumbv7em-none-eabihf
# with Debian's Rust toolchain and runs it in QEMU (mps2-an386, -icount shift=0).
#
# usage: scripts/firmware-graph-bench.sh [--counts COUNTS.u16]
#
#   --counts  a realistic count stream at N = 64: raw u16 little-endian, T x 64 row-major, as
#             `neuroloop replay --counts-out` writes it (e.g. from `neuroloop simulate
#             connectivity --neurons 64`). Without it, a Poisson-like stream made here
#             (each neuron non-zero in 8 % of the bins) stands in, and the line says so.
#
# Prints the firmware's `NLG` lines:
#   NLG bin_update source=S bins=B instructions_median=.. instructions_mean=.. instructions_max=..
#       nonzero_mean=.. macs_mean=..     per-bin update (push), sources: the stream, synthetic
#                                        densities p0.05..p0.33, all_firing_1, all_firing_saturated
#   NLG window_end source=S ...          window-end stages on the first window (1,000 bins):
#       correlation, threshold graph, Â rows, |R| feature rows, top-5 union graph; MACs; CRCs
#   NLG memory ...                       bytes of the three structures at N = 64
# Instructions = SysTick ticks x 40 under -icount shift=0 (see firmware-example/src/device/systick.rs).
# Needs the packages of scripts/firmware.sh (rustc-web cargo-web rust-web-src lld qemu-system-arm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET=thumbv7em-none-eabihf
TARGET_DIR="${NEUROLOOP_FIRMWARE_TARGET_DIR:-$ROOT/target/firmware-arm}"
N=64

die() {
    echo "firmware-graph-bench.sh: error: $*" >&2
    exit 1
}

COUNTS=""
while [ $# -gt 0 ]; do
    case "$1" in
        --counts) COUNTS="${2:-}"; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done

for tool in /usr/bin/rustc /usr/bin/cargo ld.lld qemu-system-arm; do
    command -v "$tool" >/dev/null || die "missing $tool; install as root with: apt-get update && apt-get install -y rustc-web cargo-web rust-web-src lld qemu-system-arm"
done

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [ -z "$COUNTS" ]; then
    echo "FW no --counts given: using a synthetic stream (3,000 bins, 8 % non-zero) as 'stream'"
    python3 - "$WORK/counts.u16" <<'PY'
import random, struct, sys
rng = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for _ in range(3000):
        f.write(struct.pack("<64H", *[(1 + (rng.random() < 0.25)) if rng.random() < 0.08 else 0 for _ in range(64)]))
PY
    COUNTS="$WORK/counts.u16"
fi
[ -f "$COUNTS" ] || die "count stream '$COUNTS' does not exist"
size=$(stat -c %s "$COUNTS")
[ $((size % (2 * N))) -eq 0 ] && [ "$size" -gt 0 ] \
    || die "count stream '$COUNTS' ($size bytes) is not a whole number of bins of $N u16 counts"
COUNTS="$(cd "$(dirname "$COUNTS")" && pwd)/$(basename "$COUNTS")"
# build.rs embeds a model file in every binary of the crate; the bench does not read it.
printf 'graph bench: no model' >"$WORK/none.nlm"

echo "FW building graph_bench for $TARGET (counts $COUNTS, N=$N)"
cd "$ROOT/firmware-example"
env -u CARGO_TARGET_DIR -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
    -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u RUSTUP_TOOLCHAIN -u CARGO \
    CARGO_TARGET_DIR="$TARGET_DIR" RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
    NEUROLOOP_MODEL="$WORK/none.nlm" NEUROLOOP_COUNTS="$COUNTS" NEUROLOOP_NEURONS="$N" \
    /usr/bin/cargo build -Zbuild-std=core --target "$TARGET" --release --bin graph_bench \
    || die "graph_bench build failed"
ELF="$TARGET_DIR/$TARGET/release/graph_bench"
[ -f "$ELF" ] || die "build finished but $ELF is missing"

echo "FW running graph_bench in QEMU (mps2-an386, -icount shift=0)"
set +e
timeout "${NEUROLOOP_QEMU_TIMEOUT_S:-600}" qemu-system-arm -cpu cortex-m4 -machine mps2-an386 \
    -nographic -semihosting-config enable=on,target=native -icount shift=0 -kernel "$ELF" \
    </dev/null | tee "$WORK/log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 0 ] || die "graph_bench exited with status $rc under QEMU"
grep -q '^NLG done' "$WORK/log" || die "QEMU exited 0 but graph_bench never printed 'NLG done'"
