//! Dot product of an `i16` weight row (little-endian bytes) with an `i16` vector.

/// `Σ_c w[c] · x[c]` over the common length, `w` read as `i16` LE pairs of bytes.
///
/// Accumulates in `i64`: a single product can reach `2^30`, so even two of them can overflow
/// `i32`. The loop is one multiply-accumulate chain over `[u8; 2]` chunks decoded with
/// `from_le_bytes`, which LLVM lowers to (unaligned) halfword loads; on Cortex-M4 its
/// ARM parallel-DSP pass then fuses pairs of them into one word load per operand and one
/// `SMLALD` (two 16×16 products into a 64-bit accumulator), with no alignment requirement
/// on the blob: about 2.1 instructions per multiply-accumulate in the loop for the
/// constant lengths, 2.75 for the others. Splitting the chain into several accumulators
/// defeats that fusion. (At 16 columns the fully unrolled loop loses the fusion but none
/// of the loop overhead: ~55 instructions.)
#[inline]
pub fn dot_i16(w: &[u8], x: &[i16]) -> i64 {
    // Common lengths get a loop whose trip count is a constant: no run-time unrolling
    // prologue or remainder, which on Cortex-M4 is much of the cost of a short row.
    let fast = match x.len() {
        8 => fixed::<4>(w, x),
        16 => fixed::<8>(w, x),
        32 => fixed::<16>(w, x),
        64 => fixed::<32>(w, x),
        128 => fixed::<64>(w, x),
        _ => None,
    };
    match fast {
        Some(v) => v,
        None => general(w, x),
    }
}

/// Exactly `2·P` elements, when `w` has at least that many; `None` otherwise.
#[inline(always)]
pub(crate) fn fixed<const P: usize>(w: &[u8], x: &[i16]) -> Option<i64> {
    let (pairs, _) = w.as_chunks::<2>();
    let (wq, _) = pairs.as_chunks::<2>();
    let (xq, _) = x.as_chunks::<2>();
    let wq: &[[[u8; 2]; 2]; P] = wq.get(..P)?.try_into().ok()?;
    let xq: &[[i16; 2]; P] = xq.get(..P)?.try_into().ok()?;
    let mut acc = 0i64;
    for (wp, xp) in wq.iter().zip(xq) {
        acc = acc.wrapping_add(i16::from_le_bytes(wp[0]) as i64 * xp[0] as i64);
        acc = acc.wrapping_add(i16::from_le_bytes(wp[1]) as i64 * xp[1] as i64);
    }
    Some(acc)
}

/// `Σ w·x` over 16 elements: two calls of [`dot8`] (see there why not one block), made
/// straight from the caller.
#[inline(always)]
pub fn dot16(w: &[u8; 32], x: &[i16; 16]) -> i64 {
    let (w, _) = w.as_chunks::<16>();
    let (x, _) = x.as_chunks::<8>();
    let mut acc = 0i64;
    for (wb, xb) in w.iter().zip(x) {
        acc = acc.wrapping_add(dot8(wb, xb));
    }
    acc
}

/// `Σ w·x` over 8 elements, straight-line: four word loads of each operand and four `SMLALD`
/// on Cortex-M4. LLVM's ARM parallel-DSP pass gives up on a basic block with more than 16
/// loads, so longer straight-line rows lose the pairing; this one is kept out of line so
/// that callers cannot merge two of them into one block.
#[inline(never)]
pub fn dot8(w: &[u8; 16], x: &[i16; 8]) -> i64 {
    fixed::<4>(w, x).unwrap_or(0)
}

/// `Σ w·x` over 64 elements: the constant-length loop, which LLVM unrolls to 8 elements (16
/// loads, 4 `SMLALD`) an iteration; out of line so that it keeps its registers.
#[inline(never)]
pub fn dot64(w: &[u8; 128], x: &[i16; 64]) -> i64 {
    fixed::<32>(w, x).unwrap_or(0)
}

/// `Σ w·x` over 32 elements: the constant-length loop (4 iterations of 8 elements, 16 loads
/// and 4 `SMLALD` each on Cortex-M4, about 2 instructions a multiply-accumulate with the
/// call). Inlined into its one caller, the out-of-line kernel that
/// [`super::for_each_row`] calls through a pointer (one call a row, not two).
#[inline(always)]
pub fn dot32(w: &[u8; 64], x: &[i16; 32]) -> i64 {
    fixed::<16>(w, x).unwrap_or(0)
}

/// `Σ w·x` over 48 elements: the paired constant loop of [`dot32`] over the first 32 and the
/// last 16 in one straight-line block.
///
/// Why not one constant-length loop of 48: LLVM unrolls that by 12 elements an iteration
/// (24 loads in a block), beyond what its ARM parallel-DSP pass pairs, and every product
/// became an `LDRSH`, `LDRSH`, `SMLAL` triple (observed in the thumbv7em disassembly); a
/// loop over blocks of 8 was unrolled by two, with the same result. Inlined like [`dot32`].
#[inline(always)]
pub fn dot48(w: &[u8; 96], x: &[i16; 48]) -> i64 {
    let (w0, w1) = w.split_at(64);
    let (x0, x1) = x.split_at(32);
    let a = fixed::<16>(w0, x0).unwrap_or(0);
    a.wrapping_add(fixed::<8>(w1, x1).unwrap_or(0))
}

/// Any length: the common prefix of `w` (as `i16` pairs) and `x`.
#[inline]
pub(crate) fn general(w: &[u8], x: &[i16]) -> i64 {
    let (pairs, _) = w.as_chunks::<2>();
    let (w2, w_rest) = pairs.as_chunks::<2>();
    let (x2, x_rest) = x.as_chunks::<2>();
    let mut acc = 0i64;
    // Two products per iteration, still one chain: LLVM fuses each iteration into one SMLALD.
    for (wq, xq) in w2.iter().zip(x2) {
        acc = acc.wrapping_add(i16::from_le_bytes(wq[0]) as i64 * xq[0] as i64);
        acc = acc.wrapping_add(i16::from_le_bytes(wq[1]) as i64 * xq[1] as i64);
    }
    // Odd length: the last element (only when both have one left at the same index).
    if w2.len() <= x2.len() {
        if let (Some(p), Some(&xv)) = (w_rest.first(), x.get(2 * w2.len())) {
            acc = acc.wrapping_add(i16::from_le_bytes(*p) as i64 * xv as i64);
        }
    } else if let (Some(p), Some(&xv)) = (w2.get(x2.len()), x_rest.first()) {
        acc = acc.wrapping_add(i16::from_le_bytes(p[0]) as i64 * xv as i64);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn bytes(w: &[i16]) -> Vec<u8> {
        w.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    #[test]
    fn small_cases() {
        assert_eq!(dot_i16(&[], &[]), 0);
        assert_eq!(dot_i16(&bytes(&[-3]), &[7]), -21);
        assert_eq!(dot_i16(&bytes(&[1, 2, 3]), &[4, 5, 6]), 32);
        // Odd trailing byte and longer x are ignored.
        assert_eq!(dot_i16(&[1, 0, 9], &[5, 6]), 5);
    }

    #[test]
    fn extremes() {
        // A single (-32768)² = 2^30; 1024 of them = 2^40.
        let w = bytes(&[i16::MIN; 1024]);
        assert_eq!(dot_i16(&w, &[i16::MIN; 1024]), 1 << 40);
        assert_eq!(dot_i16(&w, &[i16::MAX; 1024]), -32768 * 32767 * 1024);
    }

    proptest! {
        /// The constant-length fast paths agree with the general loop, also when `w` is
        /// shorter or longer than `x`.
        #[test]
        fn fast_lengths(len in prop::sample::select(vec![8usize, 16, 32, 64, 128]),
                        extra in -3i32..3,
                        seed in proptest::collection::vec(any::<i16>(), 262)) {
            let x = &seed[..len];
            let wl = (len as i32 + extra).max(0) as usize;
            let w = &seed[len..len + wl];
            let want: i64 = w.iter().zip(x).map(|(&a, &b)| a as i64 * b as i64).sum();
            prop_assert_eq!(dot_i16(&bytes(w), x), want);
            prop_assert_eq!(general(&bytes(w), x), want);
        }

        /// The out-of-line constant-width kernels equal the plain sum.
        #[test]
        fn constant_width_kernels(seed in proptest::collection::vec(any::<i16>(), 96)) {
            let plain = |n: usize| -> i64 {
                seed[..n].iter().zip(&seed[n..2 * n]).map(|(&a, &b)| a as i64 * b as i64).sum()
            };
            let w = |n: usize| -> Vec<u8> { bytes(&seed[..n]) };
            let x = |n: usize| -> Vec<i16> { seed[n..2 * n].to_vec() };
            prop_assert_eq!(dot8(&w(8).try_into().unwrap(), &x(8).try_into().unwrap()), plain(8));
            prop_assert_eq!(dot16(&w(16).try_into().unwrap(), &x(16).try_into().unwrap()), plain(16));
            prop_assert_eq!(dot32(&w(32).try_into().unwrap(), &x(32).try_into().unwrap()), plain(32));
            prop_assert_eq!(dot48(&w(48).try_into().unwrap(), &x(48).try_into().unwrap()), plain(48));
        }

        /// Mismatched lengths: the common prefix.
        #[test]
        fn common_prefix(w in proptest::collection::vec(any::<i16>(), 0..20),
                         x in proptest::collection::vec(any::<i16>(), 0..20)) {
            let want: i64 = w.iter().zip(&x).map(|(&a, &b)| a as i64 * b as i64).sum();
            prop_assert_eq!(dot_i16(&bytes(&w), &x), want);
        }

        /// Exact against the f64 product sum (|sum| < 2^53, so f64 is exact).
        #[test]
        fn matches_float(pairs in proptest::collection::vec((any::<i16>(), any::<i16>()), 0..1100)) {
            let w: Vec<i16> = pairs.iter().map(|p| p.0).collect();
            let x: Vec<i16> = pairs.iter().map(|p| p.1).collect();
            let f: f64 = w.iter().zip(&x).map(|(&a, &b)| a as f64 * b as f64).sum();
            prop_assert_eq!(dot_i16(&bytes(&w), &x) as f64, f);
        }
    }
}
