#!/usr/bin/env bash
# Instruction counts of the device TAVRNN window step on the emulated Cortex-M4 (QEMU
# mps2-an386, -icount shift=0), at the issue's sizes: N = 64, hidden 32, latent 8, attention
# window 8 (d_phi = d_enc = 16), windows of 100 bins.
#
# usage: scripts/firmware-tavrnn-bench.sh [--profile]
#
# Runs the two-model QEMU test (tests/tests/qemu_bit_exact.rs, both_models_match_host_bit_for_bit):
# it simulates a 64-neuron switching system, trains a TAVRNN for 3 epochs with the trainer's
# Burn code, exports JSLDS + TAVRNN into one file, runs the firmware (estimator every bin, graph
# encoder and one TAVRNN step every window) under QEMU, checks it bit for bit against the host
# replay, and prints the figures:
#   [both-models] TAVRNN window step ...: instructions min/max/last, MACs of the last step
#       (dense + propagation + other, edges, states attended), instructions per MAC
#   [both-models] graph encoder ...: per-bin update, window end (R in place + graph), RAM parts
#   device figures: estimator step, flash without the model, RAM (static + stack)
# Instructions = SysTick ticks x 40 (firmware-example/README.md). Needs the packages of
# scripts/firmware.sh. NEUROLOOP_FIRMWARE_TARGET_DIR selects the ARM target directory.
#
# --profile: then where a window's instructions go, by function: scripts/firmware-profile.sh
# on the model and counts the test left (target/tmp/qemu_bit_exact/both-models), runs of 250
# and 450 bins (their difference: windows 3 and 4, each attending over the states before
# it), scaled from per bin to per window (x 100 bins). The estimator's per-bin functions
# (run_bin, dot64, dot8, inputs, select) and the graph encoder's window end are in the same
# list; with LTO, the step's element-wise work (gates, rounding, ring) is inlined into
# `window_end`, except the Cortex-M4 element-wise kernels (`nl_gru_update`,
# `nl_gate_mul_pairs`, `nl_tanh_pairs`, `nl_mix_nibbles`, `nl_relu_pairs`); the propagation
# is the Cortex-M4 assembly kernel `nl_prop8_rows` (one call for all the pieces of a row in
# one batch, rounded to i16, from `kernels::propagate::propagate_round_many`; i64 sums
# otherwise, from `propagate_i16` / `propagate_le`), after the neighbour walk
# (`for_neighbor_batches` and `Batch::flush`, with the Â entries), the dense layers
# `nl_dense_pairs_x32c` / `x48c` / `x8c` (two rows a pass, the layer's common shift) and
# `nl_dense_pairs_x32r` / `x16r` (a shift a row), with requantisation, bias and saturation in
# assembly, called from `FixedBackend::dense` (the layer's plan, made at load), and
# `nl_dense_rows_x8` (one row: the classifier, other layers) from `rowwise::rows_x8`, and the
# rounding of i64 sums `nl_round_shift_pairs`.
set -euo pipefail
PROFILE=0
case "${1:-}" in
    --profile) PROFILE=1 ;;
    "") ;;
    *) echo "firmware-tavrnn-bench.sh: unknown argument '$1'" >&2; exit 1 ;;
esac
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LOG="$(mktemp)"
trap 'rm -f "$LOG"' EXIT
cargo test --release -p neuroloop-tests --test qemu_bit_exact both_models -- --nocapture \
    >"$LOG" 2>&1 || { cat "$LOG" >&2; echo "firmware-tavrnn-bench.sh: the test failed" >&2; exit 1; }
grep -E '^\[both-models\]|^  (instructions|MACs|flash)' "$LOG"
[ "$PROFILE" -eq 1 ] || exit 0
CASE="${CARGO_TARGET_DIR:-$ROOT/target}/tmp/qemu_bit_exact/both-models"
[ -f "$CASE/model.nlm" ] && [ -f "$CASE/counts.u16" ] \
    || { echo "firmware-tavrnn-bench.sh: $CASE has no model.nlm / counts.u16" >&2; exit 1; }
echo "instructions per window (100 bins) by function, from scripts/firmware-profile.sh:"
"$ROOT/scripts/firmware-profile.sh" --model "$CASE/model.nlm" --counts "$CASE/counts.u16" \
    --neurons 64 --bins 250,450 \
    | awk 'NR > 1 && $1 ~ /^[0-9.]+$/ { v = $1; $1 = ""; printf "%12.0f %s\n", v * 100, $0 }'
