//! Dot product of an `i8` weight row (bytes) with an `i16` vector.

/// Elements summed in `i32` before widening: `256 · 128 · 32768 = 2^30` fits in `i32`.
pub const I8_BLOCK: usize = 256;

/// `Σ_c (w[c] as i8) · x[c]` over the common length of `w` and `x`.
///
/// Accumulates blocks of [`I8_BLOCK`] elements in `i32` and sums the blocks in `i64`, so it is
/// exact for any length. On Cortex-M4 the inner loop is `LDRSB` + `LDRSH` + `SMLABB` per
/// element plus loop overhead (about 5 instructions a multiply-accumulate): without the
/// `SXTB16` intrinsic (unstable, and `unsafe`) int8 weights cannot use the dual 16-bit MAC,
/// so on that core int16 weights ([`super::dot_i16()`]) are the faster choice and int8 weights
/// the smaller one.
#[inline]
pub fn dot_i8(w: &[u8], x: &[i16]) -> i64 {
    // Common lengths (all within one block) get a constant trip count, as in `dot_i16`.
    let fast = match x.len() {
        16 => fixed::<16>(w, x),
        32 => fixed::<32>(w, x),
        64 => fixed::<64>(w, x),
        128 => fixed::<128>(w, x),
        _ => None,
    };
    if let Some(v) = fast {
        return v as i64;
    }
    let mut total = 0i64;
    for (wb, xb) in w.chunks(I8_BLOCK).zip(x.chunks(I8_BLOCK)) {
        let mut acc = 0i32;
        for (&wv, &xv) in wb.iter().zip(xb) {
            acc = acc.wrapping_add((wv as i8 as i32).wrapping_mul(xv as i32));
        }
        total = total.wrapping_add(acc as i64);
    }
    total
}

/// `Σ w·x` over 64 elements in `i32`; out of line so that it keeps its registers.
#[inline(never)]
pub fn dot64(w: &[u8; 64], x: &[i16; 64]) -> i64 {
    fixed::<64>(w, x).unwrap_or(0) as i64
}

/// Exactly `L <= I8_BLOCK` elements in `i32`, when `w` has at least `L` bytes.
#[inline(always)]
pub(crate) fn fixed<const L: usize>(w: &[u8], x: &[i16]) -> Option<i32> {
    let w: &[u8; L] = w.get(..L)?.try_into().ok()?;
    let x: &[i16; L] = x.get(..L)?.try_into().ok()?;
    let mut acc = 0i32;
    for (&wv, &xv) in w.iter().zip(x) {
        acc = acc.wrapping_add((wv as i8 as i32).wrapping_mul(xv as i32));
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    fn naive(w: &[i8], x: &[i16]) -> i64 {
        w.iter().zip(x).map(|(&a, &b)| a as i64 * b as i64).sum()
    }

    #[test]
    fn small_cases() {
        assert_eq!(dot_i8(&[], &[]), 0);
        assert_eq!(dot_i8(&[0xff], &[5]), -5);
        assert_eq!(dot_i8(&[2, 3, 0x80], &[10, -1, 2]), 20 - 3 - 256);
        // Mismatched lengths use the common prefix.
        assert_eq!(dot_i8(&[1, 1, 1], &[4, 5]), 9);
    }

    #[test]
    fn extreme_values_do_not_overflow() {
        // 1024 · (-128) · (-32768) = 2^32, beyond i32: exercises the block widening.
        let w = [0x80u8; 1024];
        let x = [i16::MIN; 1024];
        assert_eq!(dot_i8(&w, &x), 1 << 32);
        let x = [i16::MAX; 1024];
        assert_eq!(dot_i8(&w, &x), -128 * 32767 * 1024);
    }

    proptest! {
        /// The constant-length fast paths agree with the naive sum, also for short `w`.
        #[test]
        fn fast_lengths(len in prop::sample::select(vec![16usize, 32, 64, 128]),
                        short in any::<bool>(),
                        w in proptest::collection::vec(any::<i8>(), 128),
                        x in proptest::collection::vec(any::<i16>(), 128)) {
            let wl = if short { len - 1 } else { len };
            let bytes: Vec<u8> = w[..wl].iter().map(|&v| v as u8).collect();
            prop_assert_eq!(dot_i8(&bytes, &x[..len]), naive(&w[..wl], &x[..len]));
        }

        /// Exact against the f64 product sum (every term and the sum are exact in f64 here).
        #[test]
        fn matches_float(pairs in proptest::collection::vec((any::<i8>(), any::<i16>()), 0..1100)) {
            let w: Vec<i8> = pairs.iter().map(|p| p.0).collect();
            let x: Vec<i16> = pairs.iter().map(|p| p.1).collect();
            let bytes: Vec<u8> = w.iter().map(|&v| v as u8).collect();
            let f: f64 = w.iter().zip(&x).map(|(&a, &b)| a as f64 * b as f64).sum();
            let got = dot_i8(&bytes, &x);
            prop_assert_eq!(got, naive(&w, &x));
            prop_assert_eq!(got as f64, f);
        }
    }
}
