//! A small, fully specified random number generator for the surrogate test.
//!
//! The surrogate test must give the same graphs for the same seed on every platform and for
//! every version of `rand`, whose `StdRng` is documented as not portable. SplitMix64 (Steele,
//! Lea & Flood 2014) is a few lines, passes BigCrush, and is trivial to reproduce anywhere.

/// SplitMix64 generator.
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// The SplitMix64 output function: a bijective 64-bit mixer.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl SplitMix64 {
    /// A generator whose stream depends on `seed` and on `stream` (here: the window index), so
    /// that windows draw independent offsets and a window's result does not depend on which
    /// other windows were computed before it.
    pub(crate) fn for_stream(seed: u64, stream: u64) -> Self {
        SplitMix64 {
            state: mix64(seed) ^ mix64(stream.wrapping_add(GAMMA)),
        }
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix64(self.state)
    }

    /// Uniform integer in `0..n` (`n >= 1`) by the multiply-shift map; its bias is below
    /// `n / 2^64`, negligible for window lengths.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_of_splitmix64() {
        // First outputs for state 0 from the reference implementation (Vigna's splitmix64.c).
        let mut g = SplitMix64 { state: 0 };
        assert_eq!(g.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(g.next_u64(), 0x6E78_9E6A_A1B9_65F4);
    }

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut g = SplitMix64::for_stream(7, 0);
        let mut seen = [false; 5];
        for _ in 0..1000 {
            let v = g.below(5);
            assert!(v < 5);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn streams_differ() {
        let a = SplitMix64::for_stream(1, 0).next_u64();
        let b = SplitMix64::for_stream(1, 1).next_u64();
        let c = SplitMix64::for_stream(2, 0).next_u64();
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
