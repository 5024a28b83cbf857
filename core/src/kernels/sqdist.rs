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

/// `|a − e|² − |a|² = Σ e_i² − 2 Σ a_i·e_i` over 16 elements, exactly (`i64`).
///
/// It differs from [`sqdist_i16`] by `|a|²`, which is the same for every point, so the index
/// of the first smallest value over a set of points is the same. Written as two dot products
/// so that both map onto the dual 16-bit multiply-accumulate (`SMLALD`) on Cortex-M4, in two
/// out-of-line halves of 8 elements (LLVM's parallel-DSP pass gives up on a basic block with
/// more than 16 loads).
#[inline(never)]
pub fn sqdist16_minus_norm(a: &[i16; 16], e: &[u8; 32]) -> i64 {
    let (ah, _) = a.as_chunks::<8>();
    let (eh, _) = e.as_chunks::<16>();
    let mut acc = 0i64;
    for (a8, e8) in ah.iter().zip(eh) {
        let (ee, ae) = ee_ae8(a8, e8);
        acc = acc.wrapping_add(ee).wrapping_sub(ae.wrapping_mul(2));
    }
    acc
}

/// `(Σ e_i², Σ a_i·e_i)` over 8 elements, two products an iteration in each chain.
#[inline(never)]
fn ee_ae8(a: &[i16; 8], e: &[u8; 16]) -> (i64, i64) {
    let (ep, _) = e.as_chunks::<2>();
    let (ep, _) = ep.as_chunks::<2>();
    let (ap, _) = a.as_chunks::<2>();
    let (mut ee, mut ae) = (0i64, 0i64);
    for (ev, av) in ep.iter().zip(ap) {
        let (e0, e1) = (
            i16::from_le_bytes(ev[0]) as i64,
            i16::from_le_bytes(ev[1]) as i64,
        );
        ee = ee.wrapping_add(e0 * e0);
        ee = ee.wrapping_add(e1 * e1);
        ae = ae.wrapping_add(av[0] as i64 * e0);
        ae = ae.wrapping_add(av[1] as i64 * e1);
    }
    (ee, ae)
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
        fn minus_norm_is_exact(a in proptest::array::uniform16(any::<i16>()),
                               e in proptest::array::uniform16(any::<i16>())) {
            let eb: Vec<u8> = e.iter().flat_map(|v| v.to_le_bytes()).collect();
            let eb: [u8; 32] = eb.try_into().unwrap();
            let norm: i64 = a.iter().map(|&v| v as i64 * v as i64).sum();
            prop_assert_eq!(sqdist16_minus_norm(&a, &eb) + norm, sqdist_i16(&a, &eb));
        }

        #[test]
        fn matches_float(pairs in proptest::collection::vec((any::<i16>(), any::<i16>()), 0..300)) {
            let a: Vec<i16> = pairs.iter().map(|p| p.0).collect();
            let e: Vec<u8> = pairs.iter().flat_map(|p| p.1.to_le_bytes()).collect();
            let f: f64 = pairs.iter().map(|&(x, y)| { let d = x as f64 - y as f64; d * d }).sum();
            prop_assert_eq!(sqdist_i16(&a, &e) as f64, f);
        }
    }
}
