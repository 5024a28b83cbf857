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

/// `floor(sqrt(x))` for `u32` (16 steps), as [`isqrt_u64`].
pub fn isqrt_u32(x: u32) -> u32 {
    let mut op = x;
    let mut res = 0u32;
    let mut one = 1u32 << 30;
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

#[cfg(test)]
mod tests {
    use super::*;

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
