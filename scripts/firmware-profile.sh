#!/usr/bin/env bash
# Where the firmware's instructions go, per bin and per function, from QEMU's execution trace.
#
# usage: scripts/firmware-profile.sh --model MODEL.nlm --counts COUNTS.u16 --neurons N
#            [--bins A,B]     (default 40,120) [--deployed]
#
# Runs the firmware twice, on the first A and the first B bins of the count stream, with
# `-d exec,nochain,in_asm` (every executed translation block and its instructions), and prints
# for each function (ELF symbol, as QEMU names the block) the instructions it executed per bin:
# (count(B) - count(A)) / (B - A). One-time work (start-up, calibration, model parsing, stack
# scan) cancels in the difference. With LTO the estimator step is partly inlined into
# `__cortex_m_rt_main`, whose per-bin figure then also holds the loop's bookkeeping (run-length
# output, the step meter); the CRC of the latent state is its own function. A kernel
# developer's tool, not part of the tests; needs the same packages as scripts/firmware.sh.
# --deployed profiles the deployed build (scripts/firmware.sh --deployed: no SysTick meter,
# no report), whose per-bin path has no timing reads; the instrumented one is the default.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL="" COUNTS="" NEURONS="" BINS="40,120" DEPLOYED=()
while [ $# -gt 0 ]; do
    case "$1" in
        --model) MODEL="${2:-}"; shift 2 ;;
        --counts) COUNTS="${2:-}"; shift 2 ;;
        --neurons) NEURONS="${2:-}"; shift 2 ;;
        --bins) BINS="${2:-}"; shift 2 ;;
        --deployed) DEPLOYED=(--deployed); shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "firmware-profile.sh: unknown argument '$1'" >&2; exit 1 ;;
    esac
done
[ -n "$MODEL" ] && [ -n "$COUNTS" ] && [ -n "$NEURONS" ] \
    || { echo "firmware-profile.sh: --model, --counts and --neurons are required" >&2; exit 1; }
A="${BINS%,*}" B="${BINS#*,}"
[ "$B" -gt "$A" ] || { echo "firmware-profile.sh: --bins A,B needs B > A" >&2; exit 1; }
row=$((NEURONS * 2))
have=$(($(stat -c %s "$COUNTS") / row))
[ "$have" -ge "$B" ] || { echo "firmware-profile.sh: $COUNTS has $have bins, need $B" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
ELF="${NEUROLOOP_FIRMWARE_TARGET_DIR:-$ROOT/target/firmware-arm}/thumbv7em-none-eabihf/release/neuroloop-firmware"

profile() { # bins -> "function<TAB>instructions" lines in $WORK/prof.<bins>
    local bins=$1
    head -c $((bins * row)) "$COUNTS" >"$WORK/counts.$bins"
    "$ROOT/scripts/firmware.sh" --model "$MODEL" --counts "$WORK/counts.$bins" \
        --neurons "$NEURONS" --build-only "${DEPLOYED[@]}" >"$WORK/build.$bins" 2>&1 \
        || { cat "$WORK/build.$bins" >&2; exit 1; }
    mkfifo "$WORK/trace.$bins"
    # Blocks are translated (and logged by in_asm) before their first execution.
    awk '
        /^IN:/ { start = ""; next }
        /^0x[0-9a-f]+:/ { if (start == "") start = substr($1, 1, 10); size[start]++; next }
        /^Trace / {
            i = index($0, "["); split(substr($0, i + 1), f, "/")
            pc = "0x" f[2]
            n = split($0, w, "] "); name = (n > 1) ? w[n] : "?"
            ins[name] += size[pc]
        }
        END { for (k in ins) printf "%s\t%d\n", k, ins[k] }
    ' "$WORK/trace.$bins" >"$WORK/prof.$bins" &
    local awk_pid=$!
    qemu-system-arm -cpu cortex-m4 -machine mps2-an386 -nographic \
        -semihosting-config enable=on,target=native -icount shift=0 -kernel "$ELF" \
        -d exec,nochain,in_asm -D "$WORK/trace.$bins" </dev/null >"$WORK/out.$bins"
    wait "$awk_pid"
    grep -q '^NL done' "$WORK/out.$bins" || { cat "$WORK/out.$bins" >&2; exit 1; }
}

profile "$A"
profile "$B"
echo "instructions per bin, by function ((run of $B bins - run of $A bins) / $((B - A))):"
awk -F'\t' -v a="$A" -v b="$B" '
    FNR == NR { base[$1] = $2; next }
    { d = ($2 - base[$1]) / (b - a); if (d > 0.5) { printf "%10.1f  %s\n", d, $1; total += d } }
    END { printf "%10.1f  total\n", total }
' "$WORK/prof.$A" "$WORK/prof.$B" | sort -n -r | { command -v c++filt >/dev/null && c++filt || cat; }
grep -h '^NL step_instructions' "$WORK/out.$B" || true
