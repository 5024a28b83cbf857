//! Integer square roots (floor), the only roots the graph encoder takes.

/// `floor(sqrt(x))`, exact, by the digit-by-digit method (32 steps of shifts and compares; no
/// division, no floating point, the same bits everywhere).
pub fn isqrt_u64(x: u64) -> u64 {
    let mut op = x;
    let mut res = 0u64;
    let mut one = 1u64 << 62;
    while one > op {
        one >>= 2;
    }
    while one != 0 {
        if op >= res + one {
            op -= res + one;
            res = (res >> 1) + one;
        } else {
            res >>= 1;
        }
        one >>= 2;
    }
    res
}

/// `floor(sqrt(x))` for `u32`, exact, by Newton's iteration in integers: from
/// `r_0 = 2^ceil(b/2) >= sqrt(x)` (`b` = bits of `x`), `r_{k+1} = floor((r_k + floor(x / r_k)) / 2)`
/// decreases strictly while `r_k > floor(sqrt(x))` and stops there (the first `k` with
/// `r_{k+1} >= r_k`). `r_0` is within a factor 2 of the root, so it takes 3 to 5 steps of one
/// division each (no floating point, the same bits everywhere).
///
/// Why not the digit-by-digit method of [`isqrt_u64`]: its 16 steps cost about 100
/// instructions on a Cortex-M4, which has a one-instruction `UDIV`; the TAVRNN's entries of
/// `Â` ([`super::normalized_entry`]) take one root each on a cache miss, about 1,600 a
/// window step at N = 64.
pub fn isqrt_u32(x: u32) -> u32 {
    if x < 2 {
        return x;
    }
    let bits = 32 - x.leading_zeros();
    // <= 2^16, and > sqrt(x) as x < 2^bits; r + x / r < 2^16 + 2^31 does not wrap.
    let mut r = 1u32 << bits.div_ceil(2);
    loop {
        let y = (r + x / r) >> 1;
        if y >= r {
            return r;
        }
        r = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The digit-by-digit root (the former `isqrt_u32`).
    fn digits(x: u32) -> u32 {
        isqrt_u64(u64::from(x)) as u32
    }

    #[test]
    fn newton_matches_digits() {
        for x in 0u32..(1 << 22) {
            assert_eq!(isqrt_u32(x), digits(x), "{x}");
        }
        // Around every square, computed in u64 (65535² + 2·65535 + 1 = 2^32 does not fit a
        // u32): values past u32::MAX are skipped, not wrapped.
        for r in 0u64..=65535 {
            for x in [
                r * r,
                (r * r).saturating_sub(1),
                r * r + 2 * r,
                r * r + 2 * r + 1,
            ] {
                if let Ok(x) = u32::try_from(x) {
                    assert_eq!(isqrt_u32(x), digits(x), "{x}");
                }
            }
        }
        for x in [u32::MAX, u32::MAX - 1, 1 << 31, (1 << 31) - 1, 1 << 30] {
            assert_eq!(isqrt_u32(x), digits(x), "{x}");
        }
    }

    proptest! {
        #[test]
        fn newton_is_exact(x in any::<u32>()) {
            prop_assert_eq!(isqrt_u32(x), digits(x));
        }
    }

    #[test]
    fn exact_floor_roots() {
        for x in (0u64..100_000).chain([u64::MAX, u64::MAX - 1, 1 << 62, (1 << 62) - 1]) {
            let r = isqrt_u64(x);
            assert!(u128::from(r) * u128::from(r) <= u128::from(x), "{x}");
            assert!(u128::from(r + 1) * u128::from(r + 1) > u128::from(x), "{x}");
        }
        for x in (0u32..100_000).chain([u32::MAX, 1 << 30, (1 << 30) - 1]) {
            let r = u64::from(isqrt_u32(x));
            assert!(
                r * r <= u64::from(x) && (r + 1) * (r + 1) > u64::from(x),
                "{x}"
            );
        }
    }
}
