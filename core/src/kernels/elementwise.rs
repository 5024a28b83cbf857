//! Element-wise rows of the TAVRNN step (the GRU's gates), with Cortex-M4 kernels in assembly.
//!
//! Why: LLVM's loop for GRU pass 2's output (`c = tanh(xc + hc)`, `u = sigmoid(xu + hu)`,
//! `v = c + u (h − c)` and the row's largest `|v|`, 2,048 values a window step at N = 64)
//! took about 45 instructions a value: two `LDRSH` and a multiply per table lookup, and a
//! compare-and-select per value for the magnitude. Here two values are read with one `LDR`
//! and summed with one `QADD16`; a lookup reads the table's two neighbouring entries with one
//! (unaligned) `LDR` and interpolates with one `SMUAD` (`y0 (128 − f) + y1 f`, the weights
//! of both lanes made at once from `x & 0x007f007f`); the two outputs are stored with one
//! `STR` and the running largest and smallest values kept as halfword pairs by
//! `SSUB16`/`SEL`: about 27 instructions a value.
//!
//! The values are [`crate::lut`]'s (`interp_q12`): with `i = (x >> 7) + 256` and
//! `f = x & 127`, `y0 + floor(((y1 − y0) f + 64) / 128) = floor((y0 (128 − f) + y1 f + 64) /
//! 128)` (`128 y0` is a multiple of 128), and the fixed-point backend's `update`.

/// GRU pass 2's row in place: for `k < hd = h.len()`,
/// `gh[k] = c + floor((u (h[k] − c) + 2^14) / 2^15)` with `c = tanh(sat(gx[hd + k] +
/// gh[hd + k]))` and `u = sigmoid(sat(gx[k] + gh[k]))` (the tables' Q12 lookups); returns the
/// largest `|gh[k]|` written. `None` (nothing written) where `hd` is odd or 0 or a slice is
/// shorter than `2 hd`: the caller takes its per-value loop.
///
/// The step's values `u` are in `0..=32767` (a sigmoid table), so the result lies between
/// `c` and `h[k]` (see `FixedBackend::update`); other tables give other numbers, never a
/// panic.
#[inline(always)]
pub fn gru_update_row(
    gx: &[i16],
    gh: &mut [i16],
    h: &[i16],
    sigmoid: &[i16; 513],
    tanh: &[i16; 513],
) -> Option<u32> {
    let hd = h.len();
    if hd == 0 || !hd.is_multiple_of(2) || gx.len() < 2 * hd || gh.len() < 2 * hd {
        return None;
    }
    Some(imp::gru_update(gx, gh, h, sigmoid, tanh))
}

/// GRU pass 1's `r h` of a row: `out[k] = floor((s h[k] + 2^14) / 2^15)` with
/// `s = sigmoid(sat(gx[k] + gh[k]))` (the table's Q12 lookup), for `k < hd = out.len()`.
/// `None` (nothing written) where `hd` is odd or 0 or a slice is shorter than `hd`.
///
/// With the step's sigmoid table `s` is in `0..=32767`, so the quotient fits in `i16`
/// (`FixedBackend::reset_mul`). Two values a pass: about 12 instructions a value where
/// LLVM's loop took 17 (2,048 values a window step at N = 64).
#[inline(always)]
pub fn gate_mul_row(
    gx: &[i16],
    gh: &[i16],
    h: &[i16],
    out: &mut [i16],
    sigmoid: &[i16; 513],
) -> Option<()> {
    let hd = out.len();
    if hd == 0 || !hd.is_multiple_of(2) || gx.len() < hd || gh.len() < hd || h.len() < hd {
        return None;
    }
    imp::gate_mul(gx, gh, h, out, sigmoid);
    Some(())
}

/// `v[k] = tanh(v[k])` (the table's Q12 lookup) in place, two values a pass (about 8
/// instructions a value where LLVM's loop took 13; the attention's 2,048 a window step at
/// N = 64). `None` (nothing written) where `v.len()` is odd or 0.
#[inline(always)]
pub fn tanh_row(v: &mut [i16], tanh: &[i16; 513]) -> Option<()> {
    if v.is_empty() || !v.len().is_multiple_of(2) {
        return None;
    }
    imp::tanh_pairs(v, tanh);
    Some(())
}

/// The attention's mix of one node's rows of 4-bit cells: for each group `g` of 8 values
/// (`out.len() / 8` groups), `out[8 g + e] = sat_i16((Σ_s coef_s q_s + kk) >> 15)` with `q_s`
/// nibble `e` (signed, even elements in low nibbles) of the little-endian word at
/// `ring[start_s + 4 g ..]`, where `slots[s] = (coef_s << 32) | start_s`. `false` (nothing
/// written) where `out.len()` is not a positive multiple of 8, `slots` is empty, or a slot's
/// words reach past the ring.
///
/// The caller guarantees that the sums do not wrap (`tavrnn::fixed`'s `MIX_I32_BOUND`). Why
/// a kernel: LLVM's loop kept one of the eight sums on the stack and checked every word's
/// bounds, 31 instructions a slot and group (2,048 a window step at N = 64, H = 32, 8
/// attended states); here the eight sums stay in registers: `LDRD` of the slot, `LDR` of the
/// word, eight `SBFX`/`ASR` + `MLA`, 20 instructions.
#[inline(always)]
pub fn mix_nibbles(slots: &[i64], ring: &[u8], kk: i32, out: &mut [i16]) -> bool {
    let hd = out.len();
    if hd == 0 || !hd.is_multiple_of(8) || slots.is_empty() {
        return false;
    }
    let last = ring.len().saturating_sub(hd / 2);
    if ring.len() < hd / 2 || slots.iter().any(|&e| e as u32 as usize > last) {
        return false;
    }
    imp::mix_nibbles(slots, ring, kk, out);
    true
}

/// `v[k] = max(v[k], 0)` in place, two values a word with `USAT16` (about 2.5 instructions
/// a value where LLVM's loop took 5 to 6; the encoder's and `phi_z`'s 2,048 a window step at
/// N = 64). `None` (nothing written) where `v.len()` is odd or 0.
#[inline(always)]
pub fn relu_row(v: &mut [i16]) -> Option<()> {
    if v.is_empty() || !v.len().is_multiple_of(2) {
        return None;
    }
    imp::relu_pairs(v);
    Some(())
}

#[cfg(all(target_arch = "arm", target_feature = "dsp"))]
#[allow(unsafe_code)]
mod imp {
    /// `v.len()` is even and at least 2 (checked by the caller).
    #[inline(always)]
    pub(super) fn relu_pairs(v: &mut [i16]) {
        // SAFETY: `nl_relu_pairs` reads and writes the `v.len()` `i16`s of `v`, a word at a
        // time (`LDR`/`STR`, which the Cortex-M4 does at 2-byte alignment), `v.len() / 2 >= 1`
        // words. It writes nothing else and uses only r0-r3.
        unsafe { nl_relu_pairs(v.as_mut_ptr(), v.len() / 2) }
    }

    core::arch::global_asm!(
        crate::kernels::thumb_fn!("nl_relu_pairs"),
        // r0 = v (in place), r1 = pairs (>= 1). `USAT16 #15` clamps each signed halfword
        // to 0 ..= 32767: max(v, 0) of an i16.
        "nl_relu_pairs:",
        "add r1, r0, r1, lsl #2",
        "1:",
        "ldr r2, [r0]",
        "usat16 r2, #15, r2",
        "str r2, [r0], #4",
        "cmp r0, r1",
        "bne 1b",
        "bx lr",
        ".size nl_relu_pairs, . - nl_relu_pairs",
    );

    extern "C" {
        /// See the `global_asm!` above.
        fn nl_relu_pairs(v: *mut i16, pairs: usize);
    }

    /// `slots` not empty, `out.len()` a positive multiple of 8, every slot's
    /// `start + out.len() / 2 <= ring.len()` (checked by the caller).
    #[inline(always)]
    pub(super) fn mix_nibbles(slots: &[i64], ring: &[u8], kk: i32, out: &mut [i16]) {
        // SAFETY: `nl_mix_nibbles` reads the `slots` (`LDRD`: `i64`s are 8-byte aligned),
        // for each group `g < out.len() / 8` and slot the word at `ring + start + 4 g`
        // (`start + 4 g + 4 <= start + out.len() / 2 <= ring.len()`, checked by the caller;
        // `LDR`, which the Cortex-M4 does unaligned), and writes the `out.len()` `i16`s of
        // `out`. It writes nothing else (its locals are on its own stack) and saves the
        // callee-saved registers it uses.
        unsafe {
            nl_mix_nibbles(
                slots.as_ptr(),
                slots.len(),
                ring.as_ptr(),
                out.as_mut_ptr(),
                out.len() / 8,
                kk,
            )
        }
    }

    core::arch::global_asm!(
        crate::kernels::thumb_fn!("nl_mix_nibbles"),
        // r0 = slots (>= 1), r1 = their count, r2 = ring, r3 = out, [sp] = groups (>= 1),
        // [sp, #4] = kk. Locals: [sp] = slots, [sp, #4] = their end, [sp, #8] = out,
        // [sp, #12] = groups left; r2 = ring + 4 g. Sums in r4-r11, the slot's coefficient
        // in r3, its word in r12.
        "nl_mix_nibbles:",
        "push {{r4-r11, lr}}",
        "sub sp, #16",
        "add r1, r0, r1, lsl #3",
        "ldr r12, [sp, #52]",
        "strd r0, r1, [sp]",
        "str r3, [sp, #8]",
        "str r12, [sp, #12]",
        "2:",
        "movs r4, #0",
        "movs r5, #0",
        "movs r6, #0",
        "movs r7, #0",
        "mov r8, #0",
        "mov r9, #0",
        "mov r10, #0",
        "mov r11, #0",
        "ldrd r0, r1, [sp]",
        "1:",
        "ldrd r12, r3, [r0], #8",
        "ldr r12, [r2, r12]",
        "sbfx lr, r12, #0, #4",
        "mla r4, lr, r3, r4",
        "sbfx lr, r12, #4, #4",
        "mla r5, lr, r3, r5",
        "sbfx lr, r12, #8, #4",
        "mla r6, lr, r3, r6",
        "sbfx lr, r12, #12, #4",
        "mla r7, lr, r3, r7",
        "sbfx lr, r12, #16, #4",
        "mla r8, lr, r3, r8",
        "sbfx lr, r12, #20, #4",
        "mla r9, lr, r3, r9",
        "sbfx lr, r12, #24, #4",
        "mla r10, lr, r3, r10",
        "asr lr, r12, #28",
        "mla r11, lr, r3, r11",
        "cmp r0, r1",
        "bne 1b",
        // out = sat((sum + kk) >> 15), eight values.
        "ldr r3, [sp, #56]",
        "ldr r0, [sp, #8]",
        "add r4, r4, r3",
        "ssat r4, #16, r4, asr #15",
        "strh r4, [r0], #2",
        "add r5, r5, r3",
        "ssat r5, #16, r5, asr #15",
        "strh r5, [r0], #2",
        "add r6, r6, r3",
        "ssat r6, #16, r6, asr #15",
        "strh r6, [r0], #2",
        "add r7, r7, r3",
        "ssat r7, #16, r7, asr #15",
        "strh r7, [r0], #2",
        "add r8, r8, r3",
        "ssat r8, #16, r8, asr #15",
        "strh r8, [r0], #2",
        "add r9, r9, r3",
        "ssat r9, #16, r9, asr #15",
        "strh r9, [r0], #2",
        "add r10, r10, r3",
        "ssat r10, #16, r10, asr #15",
        "strh r10, [r0], #2",
        "add r11, r11, r3",
        "ssat r11, #16, r11, asr #15",
        "strh r11, [r0], #2",
        "str r0, [sp, #8]",
        "add r2, r2, #4",
        "ldr r12, [sp, #12]",
        "subs r12, r12, #1",
        "str r12, [sp, #12]",
        "bne 2b",
        "add sp, #16",
        "pop {{r4-r11, pc}}",
        ".size nl_mix_nibbles, . - nl_mix_nibbles",
    );

    extern "C" {
        /// See the `global_asm!` above.
        fn nl_mix_nibbles(
            slots: *const i64,
            count: usize,
            ring: *const u8,
            out: *mut i16,
            groups: usize,
            kk: i32,
        );
    }

    /// `out.len()` is even and at least 2, `gx`, `gh` and `h` at least as long (checked by
    /// the caller).
    #[inline(always)]
    pub(super) fn gate_mul(
        gx: &[i16],
        gh: &[i16],
        h: &[i16],
        out: &mut [i16],
        sigmoid: &[i16; 513],
    ) {
        let pairs = out.len() / 2;
        // SAFETY: `nl_gate_mul_pairs` reads `2 · pairs` `i16`s of `gx`, `gh` and `h` and
        // writes `2 · pairs` of `out` (a word at a time, `LDR`/`STR`, which the Cortex-M4
        // does at 2-byte alignment), all within the slices (checked by the caller); its
        // table reads are entries 0 ..= 512 of the 513 (as in `nl_gru_update`). It writes
        // nothing else and saves the callee-saved registers it uses.
        unsafe {
            nl_gate_mul_pairs(
                gx.as_ptr(),
                gh.as_ptr(),
                h.as_ptr(),
                out.as_mut_ptr(),
                pairs,
                sigmoid.as_ptr(),
            )
        }
    }

    /// `v.len()` is even and at least 2 (checked by the caller).
    #[inline(always)]
    pub(super) fn tanh_pairs(v: &mut [i16], tanh: &[i16; 513]) {
        let pairs = v.len() / 2;
        // SAFETY: `nl_tanh_pairs` reads and writes the `2 · pairs = v.len()` `i16`s of `v`
        // (a word at a time, `LDR`/`STR`), and reads entries 0 ..= 512 of the table. It
        // writes nothing else and saves the callee-saved registers it uses.
        unsafe { nl_tanh_pairs(v.as_mut_ptr(), pairs, tanh.as_ptr()) }
    }

    core::arch::global_asm!(
        crate::kernels::thumb_fn!("nl_gate_mul_pairs"),
        // r0 = gx, r1 = gh, r2 = h, r3 = out, [sp] = pairs, [sp, #4] = sigmoid table.
        // Kept: r4 = the table's middle (entry 256), r5 = the end of gx, r6 = 2^14,
        // r11 = 64.
        "nl_gate_mul_pairs:",
        "push {{r4-r11, lr}}",
        "ldr r5, [sp, #36]",
        "ldr r4, [sp, #40]",
        "add r4, r4, #512",
        "add r5, r0, r5, lsl #2",
        "mov r6, #16384",
        "mov r11, #64",
        "1:",
        "ldr r7, [r0], #4",
        "ldr r8, [r1], #4",
        "qadd16 r7, r7, r8",
        "and r8, r7, #0x007f007f",
        "rsb r9, r8, #0x00800080",
        "pkhbt r10, r9, r8, lsl #16",
        "pkhtb r8, r8, r9, asr #16",
        "sbfx r9, r7, #7, #9",
        "ldr r9, [r4, r9, lsl #1]",
        "smlad r10, r9, r10, r11",
        "asr r7, r7, #23",
        "ldr r7, [r4, r7, lsl #1]",
        "smlad r8, r7, r8, r11",
        "asr r10, r10, #7",
        "asr r8, r8, #7",
        // (s h + 2^14) >> 15 of both lanes, packed: the high lane's quotient is bits
        // 30..15 of its sum, the top half of the sum shifted left by one.
        "ldr r9, [r2], #4",
        "smlabb r10, r10, r9, r6",
        "smlabt r8, r8, r9, r6",
        "lsl r8, r8, #1",
        "pkhtb r8, r8, r10, asr #15",
        "str r8, [r3], #4",
        "cmp r0, r5",
        "bne 1b",
        "pop {{r4-r11, pc}}",
        ".size nl_gate_mul_pairs, . - nl_gate_mul_pairs",
    );

    core::arch::global_asm!(
        crate::kernels::thumb_fn!("nl_tanh_pairs"),
        // r0 = v (in place), r1 = pairs, r2 = tanh table. r1 = the end, r2 = the table's
        // middle (entry 256), r7 = 64.
        "nl_tanh_pairs:",
        "push {{r4-r7, lr}}",
        "add r2, r2, #512",
        "add r1, r0, r1, lsl #2",
        "movs r7, #64",
        "1:",
        "ldr r3, [r0]",
        "and r4, r3, #0x007f007f",
        "rsb r5, r4, #0x00800080",
        "pkhbt r6, r5, r4, lsl #16",
        "pkhtb r4, r4, r5, asr #16",
        "sbfx r5, r3, #7, #9",
        "ldr r5, [r2, r5, lsl #1]",
        "smlad r6, r5, r6, r7",
        "asr r3, r3, #23",
        "ldr r3, [r2, r3, lsl #1]",
        "smlad r4, r3, r4, r7",
        // Both quotients (>> 7) packed: the high one is bits 22..7, the top half of the
        // sum shifted left by 9.
        "lsl r4, r4, #9",
        "pkhtb r4, r4, r6, asr #7",
        "str r4, [r0], #4",
        "cmp r0, r1",
        "bne 1b",
        "pop {{r4-r7, pc}}",
        ".size nl_tanh_pairs, . - nl_tanh_pairs",
    );

    extern "C" {
        /// See the `global_asm!` above.
        fn nl_gate_mul_pairs(
            gx: *const i16,
            gh: *const i16,
            h: *const i16,
            out: *mut i16,
            pairs: usize,
            sigmoid: *const i16,
        );
        /// See the `global_asm!` above.
        fn nl_tanh_pairs(v: *mut i16, pairs: usize, tanh: *const i16);
    }

    /// `h.len()` is even and at least 2, `gx` and `gh` at least twice as long (checked by
    /// the caller).
    #[inline(always)]
    pub(super) fn gru_update(
        gx: &[i16],
        gh: &mut [i16],
        h: &[i16],
        sigmoid: &[i16; 513],
        tanh: &[i16; 513],
    ) -> u32 {
        let pairs = h.len() / 2;
        // SAFETY: `nl_gru_update` reads `2 · pairs` `i16`s of `h` and `4 · pairs` of `gx`
        // and of `gh` (words at `gx`/`gh` + 4 k and + 4 (pairs + k), k < pairs: all within
        // the slices, `gx.len(), gh.len() >= 2 h.len() = 4 pairs`, checked by the caller),
        // and writes the first `2 · pairs` `i16`s of `gh` (a word at a time, after reading
        // it). Its table reads are at `table + 512 + 2 (x >> 7)` and the next `i16`, for `x`
        // an `i16`: entries 0 ..= 512 of the 513. Word accesses at 2-byte alignment are
        // `LDR`/`STR`, which the Cortex-M4 does unaligned (never `LDM`/`LDRD`). It writes
        // nothing else and saves the callee-saved registers it uses.
        unsafe {
            nl_gru_update(
                gx.as_ptr(),
                gh.as_mut_ptr(),
                h.as_ptr(),
                pairs,
                sigmoid.as_ptr(),
                tanh.as_ptr(),
            )
        }
    }

    core::arch::global_asm!(
        crate::kernels::thumb_fn!("nl_gru_update"),
        // r0 = gx (xu; xc at + r3), r1 = gh (hu, overwritten by the output; hc at + r3),
        // r2 = h, r3 = pairs, [sp] = sigmoid table, [sp, #4] = tanh table.
        // Kept: r3 = 4 pairs (bytes from the u half to the c half), r4 / r5 = the middle
        // (entry 256) of the sigmoid / tanh table, r6 / r7 = the largest / smallest values
        // so far (a halfword each lane), r8 = gx + r3 (the end of the u half).
        // Returns in r0 the largest |value|.
        "nl_gru_update:",
        "push {{r4-r11, lr}}",
        "ldr r4, [sp, #36]",
        "ldr r5, [sp, #40]",
        "add r4, r4, #512",
        "add r5, r5, #512",
        "lsl r3, r3, #2",
        "add r8, r0, r3",
        "mov r6, #0x80008000",
        "mvn r7, #0x80008000",
        "1:",
        // c = tanh(xc + hc) of both lanes: C'k = y0 (128 − f) + y1 f + 64, c = C' >> 7.
        "ldr r9, [r0, r3]",
        "ldr r10, [r1, r3]",
        "qadd16 r9, r9, r10",
        "and r10, r9, #0x007f007f",
        "rsb r11, r10, #0x00800080",
        "pkhbt r12, r11, r10, lsl #16",
        "pkhtb r10, r10, r11, asr #16",
        "sbfx r11, r9, #7, #9",
        "ldr r11, [r5, r11, lsl #1]",
        "smuad r12, r11, r12",
        "asr r9, r9, #23",
        "ldr r9, [r5, r9, lsl #1]",
        "smuad r9, r9, r10",
        "add r12, r12, #64",
        "add r9, r9, #64",
        // u = sigmoid(xu + hu), one lane at a time (weights f 2^16 + 128 − f).
        "ldr r10, [r0], #4",
        "ldr r11, [r1], #4",
        "qadd16 r10, r10, r11",
        "sbfx r11, r10, #7, #9",
        "ldr r11, [r4, r11, lsl #1]",
        "and lr, r10, #127",
        "rsb lr, lr, lr, lsl #16",
        "add lr, lr, #128",
        "smuad r11, r11, lr",
        "add r11, r11, #64",
        "asr r11, r11, #7",
        "asr lr, r10, #23",
        "ldr lr, [r4, lr, lsl #1]",
        "ubfx r10, r10, #16, #7",
        "rsb r10, r10, r10, lsl #16",
        "add r10, r10, #128",
        "smuad r10, lr, r10",
        "add r10, r10, #64",
        "asr r10, r10, #7",
        // v = c + ((u (h − c) + 2^14) >> 15), lane 0 into r12, lane 1 into r9.
        "ldrsh lr, [r2], #2",
        "sub lr, lr, r12, asr #7",
        "mul lr, r11, lr",
        "add lr, lr, #16384",
        "asr lr, lr, #15",
        "add r12, lr, r12, asr #7",
        "ldrsh lr, [r2], #2",
        "sub lr, lr, r9, asr #7",
        "mul lr, r10, lr",
        "add lr, lr, #16384",
        "asr lr, lr, #15",
        "add r9, lr, r9, asr #7",
        "pkhbt r9, r12, r9, lsl #16",
        "str r9, [r1, #-4]",
        "ssub16 r10, r9, r6",
        "sel r6, r9, r6",
        "ssub16 r10, r7, r9",
        "sel r7, r9, r7",
        "cmp r0, r8",
        "bne 1b",
        // max(largest, −smallest) over both lanes.
        "sxth r9, r6",
        "asr r10, r6, #16",
        "cmp r9, r10",
        "it lt",
        "movlt r9, r10",
        "sxth r10, r7",
        "asr r11, r7, #16",
        "cmp r10, r11",
        "it gt",
        "movgt r10, r11",
        "rsb r10, r10, #0",
        "cmp r9, r10",
        "it lt",
        "movlt r9, r10",
        "mov r0, r9",
        "pop {{r4-r11, pc}}",
        ".size nl_gru_update, . - nl_gru_update",
    );

    extern "C" {
        /// See the `global_asm!` above.
        fn nl_gru_update(
            gx: *const i16,
            gh: *mut i16,
            h: *const i16,
            pairs: usize,
            sigmoid: *const i16,
            tanh: *const i16,
        ) -> u32;
    }
}

/// The portable twins of the assembly kernels, in the kernels' arithmetic (the lookups as
/// `y0 (128 − f) + y1 f`, the magnitude from the largest and smallest value).
#[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
mod imp {
    /// The table's Q12 lookup as the kernel makes it: `(y0 (128 − f) + y1 f + 64) >> 7`.
    #[inline(always)]
    pub(super) fn lookup(table: &[i16; 513], x: i16) -> i32 {
        let i = ((x >> 7) as i32 + 256) as usize;
        let f = (x & 127) as i32;
        let (y0, y1) = match (table.get(i), table.get(i + 1)) {
            (Some(&a), Some(&b)) => (a as i32, b as i32),
            _ => (0, 0), // never: i <= 511
        };
        (y0 * (128 - f) + y1 * f + 64) >> 7
    }

    pub(super) fn relu_pairs(v: &mut [i16]) {
        for x in v.iter_mut() {
            *x = (*x).max(0);
        }
    }

    /// The kernel's sums in the order it makes them (slot by slot), wrapping as `MLA`
    /// does (the caller's bound keeps them from wrapping).
    pub(super) fn mix_nibbles(slots: &[i64], ring: &[u8], kk: i32, out: &mut [i16]) {
        for (g, o) in out.chunks_exact_mut(8).enumerate() {
            let mut s = [0i32; 8];
            for &e in slots {
                let (coef, at) = ((e >> 32) as i32, e as u32 as usize + 4 * g);
                let w = match ring.get(at..at + 4) {
                    Some(&[b0, b1, b2, b3]) => u32::from_le_bytes([b0, b1, b2, b3]),
                    _ => 0, // never: checked by the caller
                };
                for (k, a) in s.iter_mut().enumerate() {
                    let q = ((w << (28 - 4 * k)) as i32) >> 28;
                    *a = a.wrapping_add(coef.wrapping_mul(q));
                }
            }
            for (o, &a) in o.iter_mut().zip(&s) {
                *o = crate::fixed::sat_i16(a.wrapping_add(kk) >> 15);
            }
        }
    }

    pub(super) fn gate_mul(
        gx: &[i16],
        gh: &[i16],
        h: &[i16],
        out: &mut [i16],
        sigmoid: &[i16; 513],
    ) {
        for (((o, &a), &b), &hv) in out.iter_mut().zip(gx).zip(gh).zip(h) {
            let s = lookup(sigmoid, a.saturating_add(b));
            *o = (s.wrapping_mul(hv as i32).wrapping_add(1 << 14) >> 15) as i16;
        }
    }

    pub(super) fn tanh_pairs(v: &mut [i16], tanh: &[i16; 513]) {
        for x in v.iter_mut() {
            *x = lookup(tanh, *x) as i16;
        }
    }

    pub(super) fn gru_update(
        gx: &[i16],
        gh: &mut [i16],
        h: &[i16],
        sigmoid: &[i16; 513],
        tanh: &[i16; 513],
    ) -> u32 {
        let hd = h.len();
        let (gxu, gxc) = gx.split_at(hd);
        let (ghu, ghc) = gh.split_at_mut(hd);
        let (mut hi, mut lo) = (i16::MIN as i32, i16::MAX as i32);
        for ((((o, &hv), &xu), &xc), &hc) in ghu.iter_mut().zip(h).zip(gxu).zip(gxc).zip(&*ghc) {
            let c = lookup(tanh, xc.saturating_add(hc));
            let u = lookup(sigmoid, xu.saturating_add(*o));
            let v = c + (u.wrapping_mul(hv as i32 - c).wrapping_add(1 << 14) >> 15);
            let v = v as i16;
            *o = v;
            hi = hi.max(v as i32);
            lo = lo.min(v as i32);
        }
        hi.max(-lo) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lut;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Plain reference: the fixed-point backend's per-value `update` and `magnitude`.
    fn reference(gx: &[i16], gh: &[i16], h: &[i16]) -> (Vec<i16>, u32) {
        let hd = h.len();
        let mut out = Vec::new();
        let mut max = 0u32;
        for k in 0..hd {
            let c = lut::tanh(gx[hd + k].saturating_add(gh[hd + k])) as i32;
            let u = lut::sigmoid(gx[k].saturating_add(gh[k])) as i32;
            let v = (c + ((u * (h[k] as i32 - c) + (1 << 14)) >> 15)) as i16;
            max = max.max((v as i32).unsigned_abs());
            out.push(v);
        }
        (out, max)
    }

    fn row(hd: usize) -> impl Strategy<Value = Vec<i16>> {
        prop::collection::vec(
            prop_oneof![any::<i16>(), -600i16..600, Just(i16::MIN), Just(i16::MAX)],
            hd,
        )
    }

    fn case() -> impl Strategy<Value = (Vec<i16>, Vec<i16>, Vec<i16>)> {
        (0usize..20).prop_flat_map(|hd| (row(2 * hd + 3), row(2 * hd + 1), row(hd)))
    }

    proptest! {
        /// The row is the backend's per-value update, its magnitude the largest `|v|`;
        /// the values beyond the row (and every value where the kernel declines) untouched.
        #[test]
        fn gru_update_row_matches_per_value((gx, gh, h) in case()) {
            let mut got = gh.clone();
            let res = gru_update_row(&gx, &mut got, &h, &lut::SIGMOID, &lut::TANH);
            let hd = h.len();
            if hd == 0 || !hd.is_multiple_of(2) || gh.len() < 2 * hd {
                prop_assert_eq!(res, None);
                prop_assert_eq!(&got, &gh);
            } else {
                let (want, max) = reference(&gx, &gh, &h);
                prop_assert_eq!(res, Some(max));
                prop_assert_eq!(&got[..hd], &want[..]);
                prop_assert_eq!(&got[hd..], &gh[hd..]);
            }
        }
    }

    fn gate_case() -> impl Strategy<Value = (Vec<i16>, Vec<i16>, Vec<i16>, usize)> {
        (0usize..40).prop_flat_map(|hd| (row(hd + 1), row(hd), row(hd + 2), Just(hd)))
    }

    proptest! {
        /// `r h` of the row is the backend's per-value `reset_mul` (`out` beyond the row
        /// untouched, all of it where the kernel declines).
        #[test]
        fn gate_mul_row_matches_per_value((gx, gh, h, hd) in gate_case()) {
            let mut out = vec![7i16; hd + 1];
            let res = gate_mul_row(&gx, &gh, &h, &mut out[..hd], &lut::SIGMOID);
            if hd == 0 || !hd.is_multiple_of(2) {
                prop_assert_eq!(res, None);
                prop_assert!(out.iter().all(|&v| v == 7));
            } else {
                prop_assert_eq!(res, Some(()));
                for k in 0..hd {
                    let s = lut::sigmoid(gx[k].saturating_add(gh[k])) as i32;
                    let want = ((s * h[k] as i32 + (1 << 14)) >> 15) as i16;
                    prop_assert_eq!(out[k], want, "{}", k);
                }
                prop_assert_eq!(out[hd], 7);
            }
        }

        /// `tanh_row` is `lut::tanh` of every value (none changed where it declines).
        #[test]
        fn tanh_row_matches_per_value(v in (0usize..40).prop_flat_map(row)) {
            let mut got = v.clone();
            let res = tanh_row(&mut got, &lut::TANH);
            if v.is_empty() || !v.len().is_multiple_of(2) {
                prop_assert_eq!(res, None);
                prop_assert_eq!(&got, &v);
            } else {
                prop_assert_eq!(res, Some(()));
                let want: Vec<i16> = v.iter().map(|&x| lut::tanh(x)).collect();
                prop_assert_eq!(&got, &want);
            }
        }
    }

    fn mix_case() -> impl Strategy<Value = (Vec<i64>, Vec<u8>, i32, usize)> {
        (1usize..5, 0usize..6, 0usize..40).prop_flat_map(|(groups, used, extra)| {
            let len = 4 * groups + extra;
            (
                prop::collection::vec(
                    (-20_000i32..20_000, 0usize..=extra + 2)
                        .prop_map(|(c, st)| (i64::from(c) << 32) | st as i64),
                    used,
                ),
                prop::collection::vec(any::<u8>(), len),
                -(1i32 << 20)..(1 << 20),
                Just(8 * groups),
            )
        })
    }

    proptest! {
        /// The mix is the plain per-element sum of `coef · nibble`, rounded and saturated;
        /// declined (nothing written) without slots, for a width not a multiple of 8 and
        /// for a slot whose words would pass the ring's end.
        #[test]
        fn mix_nibbles_matches_plain_sums((slots, ring, kk, hd) in mix_case()) {
            let mut out = vec![0x1234i16; hd];
            let ok = mix_nibbles(&slots, &ring, kk, &mut out);
            let fits = slots.iter().all(|&e| e as u32 as usize + hd / 2 <= ring.len());
            prop_assert_eq!(ok, !slots.is_empty() && fits);
            if ok {
                for (k, &o) in out.iter().enumerate() {
                    let mut a = 0i64;
                    for &e in &slots {
                        let (coef, st) = (e >> 32, e as u32 as usize);
                        let b = ring[st + k / 2];
                        let q = if k % 2 == 0 { (b << 4) as i8 >> 4 } else { b as i8 >> 4 };
                        a += coef * i64::from(q);
                    }
                    let want = ((a + i64::from(kk)) >> 15).clamp(-32768, 32767) as i16;
                    prop_assert_eq!(o, want, "{}", k);
                }
            } else {
                prop_assert!(out.iter().all(|&v| v == 0x1234));
            }
            let mut odd = vec![0i16; 12];
            prop_assert!(!mix_nibbles(&slots, &ring, kk, &mut odd));
        }
    }

    proptest! {
        /// `relu_row` is `max(v, 0)` of every value (none changed where it declines).
        #[test]
        fn relu_row_matches_per_value(v in (0usize..40).prop_flat_map(row)) {
            let mut got = v.clone();
            let res = relu_row(&mut got);
            if v.is_empty() || !v.len().is_multiple_of(2) {
                prop_assert_eq!(res, None);
                prop_assert_eq!(&got, &v);
            } else {
                prop_assert_eq!(res, Some(()));
                let want: Vec<i16> = v.iter().map(|&x| x.max(0)).collect();
                prop_assert_eq!(&got, &want);
            }
        }
    }

    /// Every Q12 input: the kernel's lookup is `lut`'s.
    #[cfg(not(all(target_arch = "arm", target_feature = "dsp")))]
    #[test]
    fn lookups_match_lut() {
        for x in i16::MIN..=i16::MAX {
            assert_eq!(imp::lookup(&lut::SIGMOID, x), lut::sigmoid(x) as i32, "{x}");
            assert_eq!(imp::lookup(&lut::TANH, x), lut::tanh(x) as i32, "{x}");
        }
    }
}
