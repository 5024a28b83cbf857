//! Squared Euclidean distance between the `i16` state and an `i16` LE point blob
//! (nearest-expansion-point regime selection).

/// `Σ_i (a[i] − e[i])²` over the common length, `e` read as `i16` LE pairs of bytes.
///
/// Differences need 17 bits and squares 34, so the accumulator is `i64`
/// (`256 · 2^32 = 2^40` at the largest allowed latent dimension). On Cortex-M4: two
/// halfword loads, a subtract and an `SMLAL` per element.
#[inline]
pub fn sqdist_i16(a: &[i16], e: &[u8]) -> i64 {
    let (pairs, _) = e.as_chunks::<2>();
    let mut acc = 0i64;
    for (&av, p) in a.iter().zip(pairs) {
        let diff = av as i32 - i16::from_le_bytes(*p) as i32;
        acc = acc.wrapping_add(diff as i64 * diff as i64);
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    #[test]
    fn extremes() {
        let e: Vec<u8> = [i16::MIN; 256]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(sqdist_i16(&[i16::MAX; 256], &e), 65535i64 * 65535 * 256);
        assert_eq!(sqdist_i16(&[], &e), 0);
        assert_eq!(sqdist_i16(&[3, 4], &[0, 0, 0]), 9);
    }

    proptest! {
        #[test]
        fn matches_float(pairs in proptest::collection::vec((any::<i16>(), any::<i16>()), 0..300)) {
            let a: Vec<i16> = pairs.iter().map(|p| p.0).collect();
            let e: Vec<u8> = pairs.iter().flat_map(|p| p.1.to_le_bytes()).collect();
            let f: f64 = pairs.iter().map(|&(x, y)| { let d = x as f64 - y as f64; d * d }).sum();
            prop_assert_eq!(sqdist_i16(&a, &e) as f64, f);
        }
    }
}
