//! Dot product of an `i16` weight row (little-endian bytes) with an `i16` vector.

/// `Σ_c w[c] · x[c]` over the common length, `w` read as `i16` LE pairs of bytes.
///
/// Accumulates in `i64`: a single product can reach `2^30`, so even two of them can overflow
/// `i32`. The loop is one multiply-accumulate chain over `[u8; 2]` chunks decoded with
/// `from_le_bytes`, which LLVM lowers to (unaligned) halfword loads; on Cortex-M4 its
/// ARM parallel-DSP pass then fuses pairs of them into one word load per operand and one
/// `SMLALD` (two 16×16 products into a 64-bit accumulator): about 2.75 instructions per
/// multiply-accumulate including the loop overhead, with no alignment requirement on the
/// blob. Splitting the chain into several accumulators defeats that fusion.
#[inline]
pub fn dot_i16(w: &[u8], x: &[i16]) -> i64 {
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
