#!/usr/bin/env bash
# Build the neuroloop firmware example for the Cortex-M4F (thumbv7em-none-eabihf) with Debian's
# Rust toolchain, report its flash and RAM, and run it in QEMU (mps2-an386) with instruction
# counting. Exits non-zero if any step fails (missing tool, build, size report, firmware error).
#
# usage: scripts/firmware.sh --model MODEL.nlm --counts COUNTS.u16 --neurons N [--build-only]
#            [--features LIST] [--deployed]
#
#   --model    model file to embed (what `neuroloop export` writes)
#   --counts   count stream to replay: raw u16 little-endian, T x N row-major (one row a bin)
#   --neurons  N, counts per bin
#   --build-only  build and report sizes, do not run QEMU
#   --features    cargo features of the firmware, e.g. overlapping-windows (a second set of
#                 graph sums, so that TAVRNN windows of 2 x step bins run)
#   --deployed    build without the default `report` feature: the deployed firmware (same loop
#                 and pins, no SysTick timing, no step-cost histogram, no text formatting); it
#                 prints only "NL deployed ..", its stack peaks and "NL done"
#
# Environment: NEUROLOOP_FIRMWARE_TARGET_DIR (default: <repo>/target/firmware-arm) is the cargo
# target directory of the ARM build (kept apart from host builds: different toolchain).
#
# Output lines starting with "FW " (this script) and "NL " (the firmware) are stable and are
# parsed by tests/tests/qemu_bit_exact.rs.
#
# Flash and RAM are measured from the ELF's section headers:
#   flash = .vector_table + .text + .rodata + .data (initial values are stored in flash)
#   flash without the model = flash - size(NEUROLOOP_MODEL) - size(NEUROLOOP_COUNTS), the two
#     blobs being the #[no_mangle] statics build.rs embeds (sizes from the symbol table); the
#     count stream is test input standing in for the amplifier, not firmware
#   static RAM = .data + .bss + .uninit; the firmware adds its measured peak stack
#     (stack painting) and prints both.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET=thumbv7em-none-eabihf
TARGET_DIR="${NEUROLOOP_FIRMWARE_TARGET_DIR:-$ROOT/target/firmware-arm}"
QEMU_TIMEOUT_S="${NEUROLOOP_QEMU_TIMEOUT_S:-300}"

die() {
    echo "firmware.sh: error: $*" >&2
    exit 1
}

MODEL="" COUNTS="" NEURONS="" RUN=1 FEATURES="" DEPLOYED=0
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL="${2:-}"; shift 2 ;;
        --counts) COUNTS="${2:-}"; shift 2 ;;
        --neurons) NEURONS="${2:-}"; shift 2 ;;
        --build-only) RUN=0; shift ;;
        --features) FEATURES="${2:-}"; shift 2 ;;
        --deployed) DEPLOYED=1; shift ;;
        -h|--help) sed -n '2,33p' "$0"; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
[ -n "$MODEL" ] || die "--model MODEL.nlm is required"
[ -n "$COUNTS" ] || die "--counts COUNTS.u16 is required"
[ -n "$NEURONS" ] || die "--neurons N is required"
[ -f "$MODEL" ] || die "model file '$MODEL' does not exist"
[ -f "$COUNTS" ] || die "count stream '$COUNTS' does not exist"
MODEL="$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")"
COUNTS="$(cd "$(dirname "$COUNTS")" && pwd)/$(basename "$COUNTS")"

# --- tools -----------------------------------------------------------------------------------
INSTALL="apt-get update && apt-get install -y rustc-web cargo-web rust-web-src lld qemu-system-arm"
missing=()
[ -x /usr/bin/rustc ] || missing+=("/usr/bin/rustc (Debian package rustc-web)")
[ -x /usr/bin/cargo ] || missing+=("/usr/bin/cargo (Debian package cargo-web)")
[ -d /usr/lib/rustlib/src/rust/library/core ] || missing+=("Rust library sources for -Zbuild-std (Debian package rust-web-src)")
command -v ld.lld >/dev/null || missing+=("ld.lld (Debian package lld)")
if [ "$RUN" = 1 ]; then
    command -v qemu-system-arm >/dev/null || missing+=("qemu-system-arm (Debian package qemu-system-arm)")
fi
if [ ${#missing[@]} -gt 0 ]; then
    printf 'firmware.sh: error: missing: %s\n' "${missing[@]}" >&2
    echo "firmware.sh: install them as root with: $INSTALL" >&2
    exit 1
fi
# ELF size tools: LLVM's if installed, else binutils' (a dependency of rustc-web).
SIZE="$(command -v llvm-size || compgen -c llvm-size- | head -n1 || true)"
NM="$(command -v llvm-nm || compgen -c llvm-nm- | head -n1 || true)"
[ -n "$SIZE" ] || SIZE="$(command -v size || true)"
[ -n "$NM" ] || NM="$(command -v nm || true)"
[ -n "$SIZE" ] && [ -n "$NM" ] || die "neither llvm-size/llvm-nm nor size/nm found (apt-get install -y llvm or binutils)"

# --- build -----------------------------------------------------------------------------------
BUILD_KIND=instrumented
[ "$DEPLOYED" = 1 ] && BUILD_KIND=deployed
echo "FW building $BUILD_KIND firmware for $TARGET (model $MODEL, counts $COUNTS, N=$NEURONS, features '${FEATURES}')"
cd "$ROOT/firmware-example"
# A clean environment for Debian's cargo: nothing from an outer (rustup) cargo invocation.
env -u CARGO_TARGET_DIR -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS -u CARGO_BUILD_TARGET \
    -u RUSTC_WRAPPER -u RUSTC_WORKSPACE_WRAPPER -u RUSTUP_TOOLCHAIN -u CARGO \
    CARGO_TARGET_DIR="$TARGET_DIR" RUSTC_BOOTSTRAP=1 RUSTC=/usr/bin/rustc \
    NEUROLOOP_MODEL="$MODEL" NEUROLOOP_COUNTS="$COUNTS" NEUROLOOP_NEURONS="$NEURONS" \
    /usr/bin/cargo build -Zbuild-std=core --target "$TARGET" --release \
    ${FEATURES:+--features "$FEATURES"} $([ "$DEPLOYED" = 1 ] && echo --no-default-features) \
    || die "firmware build failed"
ELF="$TARGET_DIR/$TARGET/release/neuroloop-firmware"
[ -f "$ELF" ] || die "build finished but $ELF is missing"
# The core's Cortex-M4 kernels are compiled only where `target_feature = "dsp"` is seen (it
# needs RUSTC_BOOTSTRAP=1 above); without them the portable twins run, with the same bits but
# none of the measured speed, and nothing else would notice.
for k in nl_dense_rows_x8 nl_dense_pairs_x32c nl_dense_pairs_x32r nl_prop8_rows nl_round_shift_pairs \
    nl_gru_update nl_gate_mul_pairs nl_tanh_pairs nl_mix_nibbles nl_relu_pairs; do
    "$NM" "$ELF" | awk -v s="$k" '$3 == s { found = 1 } END { exit !found }' \
        || die "the Cortex-M4 kernel $k is not in $ELF (was target_feature \"dsp\" off?)"
done

# --- sizes -----------------------------------------------------------------------------------
section() { # size of section $1 in decimal (0 if absent)
    "$SIZE" -A "$ELF" | awk -v s="$1" '$1 == s { print $2; found = 1 } END { if (!found) print 0 }'
}
symbol_size() { # size of symbol $1 in decimal; fails if absent
    local hex
    hex="$("$NM" -S "$ELF" | awk -v s="$1" '$4 == s { print $2; exit }')"
    [ -n "$hex" ] || die "symbol $1 not found in $ELF (build.rs embeds it)"
    echo $((16#$hex))
}
vt=$(section .vector_table); text=$(section .text); ro=$(section .rodata)
data=$(section .data); bss=$(section .bss); uninit=$(section .uninit)
model_blob=$(symbol_size NEUROLOOP_MODEL)
counts_blob=$(symbol_size NEUROLOOP_COUNTS)
flash_total=$((vt + text + ro + data))
flash_fw=$((flash_total - model_blob - counts_blob))
ram_static=$((data + bss + uninit))
model_file=$(stat -c %s "$MODEL")
echo "FW elf=$ELF build=$BUILD_KIND"
echo "FW sections vector_table=$vt text=$text rodata=$ro data=$data bss=$bss uninit=$uninit"
echo "FW flash_total_bytes=$flash_total model_blob_bytes=$model_blob counts_blob_bytes=$counts_blob"
echo "FW flash_without_model_bytes=$flash_fw ram_static_bytes=$ram_static model_file_bytes=$model_file"
awk -v f="$flash_fw" -v r="$ram_static" -v m="$model_file" 'BEGIN {
    printf "FW summary: flash without model %.1f KiB, static RAM %.1f KiB, model file %.1f KiB\n",
        f / 1024, r / 1024, m / 1024 }'

[ "$RUN" = 1 ] || exit 0

# --- run -------------------------------------------------------------------------------------
echo "FW running in QEMU (mps2-an386, -icount shift=0)"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
set +e
timeout "$QEMU_TIMEOUT_S" qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
    -semihosting-config enable=on,target=native -icount shift=0 -kernel "$ELF" </dev/null \
    | tee "$LOG"
rc=${PIPESTATUS[0]}
set -e
if [ "$rc" -eq 124 ]; then
    die "QEMU did not finish within ${QEMU_TIMEOUT_S}s"
elif [ "$rc" -ne 0 ]; then
    die "firmware exited with status $rc under QEMU (see the NL error line above)"
fi
grep -q '^NL done' "$LOG" || die "QEMU exited 0 but the firmware never printed 'NL done'"
echo "FW qemu exit status 0"
