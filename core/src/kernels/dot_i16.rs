//! Dot product of an `i16` weight row (little-endian bytes) with an `i16` vector.

/// `Σ_c w[c] · x[c]` over the common length, `w` read as `i16` LE pairs of bytes.
///
/// Accumulates in `i64`: a single product can reach `2^30`, so even two of them can overflow
/// `i32`. On a Cortex-M4 each step is a 64-bit multiply-accumulate (`SMLAL`/`SMLALD`), as
/// cheap as the 32-bit one.
#[inline]
pub fn dot_i16(w: &[u8], x: &[i16]) -> i64 {
    let n = (w.len() / 2).min(x.len());
    let (w, x) = (&w[..2 * n], &x[..n]);
    let wc = w.chunks_exact(4);
    let xc = x.chunks_exact(2);
    let (wr, xr) = (wc.remainder(), xc.remainder());
    let (mut a0, mut a1) = (0i64, 0i64);
    for (w4, x2) in wc.zip(xc) {
        let w0 = i16::from_le_bytes([w4[0], w4[1]]);
        let w1 = i16::from_le_bytes([w4[2], w4[3]]);
        a0 = a0.wrapping_add((w0 as i32 * x2[0] as i32) as i64);
        a1 = a1.wrapping_add((w1 as i32 * x2[1] as i32) as i64);
    }
    if let (&[b0, b1, ..], &[xv, ..]) = (wr, xr) {
        a0 = a0.wrapping_add((i16::from_le_bytes([b0, b1]) as i32 * xv as i32) as i64);
    }
    a0.wrapping_add(a1)
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
