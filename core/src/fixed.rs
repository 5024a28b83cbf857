//! Fixed-point requantisation and saturation.
//!
//! Every integer kernel ends a row with a 64-bit accumulator that has to be brought back to a
//! 16-bit activation in some Q format. As in CMSIS-NN and TFLite-micro, the real scale factor
//! `s` is stored as a Q31 multiplier and a power-of-two exponent:
//!
//! ```text
//! s ≈ mult · 2^(shift − 31),      mult: i32, shift: i8 in SHIFT_MIN..=SHIFT_MAX
//! apply(acc) = floor(acc · mult / 2^(31 − shift) + 1/2)    saturated to i32
//! ```
//!
//! **Rounding:** round half up (ties toward +∞), computed exactly with integer arithmetic
//! (no intermediate rounding, no double rounding). It is the cheapest exact rule on a
//! Cortex-M4 (add the half, arithmetic shift right) and it is the same on every target,
//! which is what makes host and device bit-exact. The bias of ties toward +∞ is at most half
//! an output LSB on exact ties, which are rare for calibrated multipliers.

/// Smallest allowed `shift`: multipliers down to `2^-62` (below that the row is zero).
pub const SHIFT_MIN: i8 = -31;
/// Largest allowed `shift`: multipliers up to just below `2^30`.
pub const SHIFT_MAX: i8 = 30;

/// A real multiplier as Q31 mantissa and power-of-two shift: `mult · 2^(shift − 31)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Requant {
    /// Q31 mantissa. [`Requant::from_f64`] produces `|mult|` in `[2^30, 2^31)` (or smaller only
    /// when the multiplier is below `2^-32` and must be denormalised).
    pub mult: i32,
    /// Power-of-two exponent, `SHIFT_MIN..=SHIFT_MAX`; positive shifts enlarge.
    pub shift: i8,
}

/// Why a real multiplier has no [`Requant`] representation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RequantError {
    /// The multiplier is NaN or infinite.
    NotFinite,
    /// `|multiplier|` is `2^30` or more: it would need a shift above [`SHIFT_MAX`].
    TooLarge {
        /// The multiplier that was asked for.
        multiplier: f64,
    },
}

impl core::fmt::Display for RequantError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RequantError::NotFinite => write!(f, "requantisation multiplier is not finite"),
            RequantError::TooLarge { multiplier } => write!(
                f,
                "requantisation multiplier {multiplier} is too large (must be below 2^30)"
            ),
        }
    }
}

/// Lets hosts carry the error in `Box<dyn Error>` / `anyhow` chains; `core::error::Error`
/// needs no allocator, so the device build is unaffected.
impl core::error::Error for RequantError {}

impl Requant {
    /// The identity multiplier (`1.0`).
    pub const ONE: Requant = Requant {
        mult: 1 << 30,
        shift: 1,
    };

    /// Nearest representation of `real_multiplier`.
    ///
    /// The mantissa is rounded to nearest (relative error at most `2^-31`). Multipliers below
    /// `2^-32` in magnitude are denormalised at `shift = SHIFT_MIN` (absolute error at most
    /// `2^-63`); zero gives `mult = 0`.
    pub fn from_f64(real_multiplier: f64) -> Result<Requant, RequantError> {
        if !real_multiplier.is_finite() {
            return Err(RequantError::NotFinite);
        }
        if real_multiplier == 0.0 {
            return Ok(Requant { mult: 0, shift: 0 });
        }
        let (frac, exp) = libm::frexp(real_multiplier); // real = frac · 2^exp, |frac| in [0.5, 1)
        let mut mant = libm::round(frac * TWO_31) as i64;
        let mut exp = exp;
        if mant.abs() == 1 << 31 {
            // Rounding carried into the next binade.
            mant /= 2;
            exp += 1;
        }
        if exp > SHIFT_MAX as i32 {
            return Err(RequantError::TooLarge {
                multiplier: real_multiplier,
            });
        }
        if exp < SHIFT_MIN as i32 {
            // Denormalise: mult = round(real · 2^(31 − SHIFT_MIN)), |mult| < 2^30.
            let m = libm::round(libm::ldexp(real_multiplier, 31 - SHIFT_MIN as i32));
            return Ok(Requant {
                mult: m as i32,
                shift: SHIFT_MIN,
            });
        }
        Ok(Requant {
            mult: mant as i32,
            shift: exp as i8,
        })
    }

    /// The real multiplier this represents, `mult · 2^(shift − 31)` (exact in f64).
    pub fn to_f64(self) -> f64 {
        libm::ldexp(self.mult as f64, self.shift as i32 - 31)
    }

    /// `floor(acc · mult / 2^(31 − shift) + 1/2)`, saturated to `i32`.
    ///
    /// Exact for every `acc`, without 128-bit arithmetic: the up-to-95-bit product is formed
    /// as `t · 2^32 + r0` from two 32×32→64 multiplies, and for the usual right shifts of 33
    /// or more bits the low word `r0` provably cannot change the result, so the rounding is
    /// a 64-bit add and shift (about 30 Cortex-M4 instructions a row). A `shift` outside
    /// `SHIFT_MIN..=SHIFT_MAX` (which validated models never contain) gives an unspecified
    /// value, never a panic.
    #[inline]
    pub fn apply(self, acc: i64) -> i32 {
        sat_i32(self.apply_wide(acc))
    }

    /// [`Requant::apply`] before the final saturation: the exact rounded value when it lies
    /// in `[-2^61, 2^61]`, otherwise some value beyond `±2^31` of the same sign. Sums of a few
    /// of these cannot overflow `i64`, and saturating such a sum to `i16` gives the same
    /// result as saturating each term to `i32` first (the `i16` range lies far inside), so
    /// the estimator saturates once per output instead of once per term.
    #[inline]
    pub fn apply_wide(self, acc: i64) -> i64 {
        // 1..=62 for valid shifts; the mask keeps every other shift panic-free (its result
        // is then unspecified) at the cost of one instruction instead of a clamp.
        let n = ((31 - self.shift as i32) & 63) as u32;
        let mult = self.mult as i64;
        // acc = hi·2^32 + lo with hi in [-2^31, 2^31), lo in [0, 2^32).
        let hi = acc >> 32;
        let lo = acc as u32 as i64;
        let p0 = lo * mult; // |p0| < 2^63
                            // acc·mult = t·2^32 + r0, 0 <= r0 < 2^32;  |t| <= 2^62 + 2^31.
        let t = hi * mult + (p0 >> 32);
        let r0 = p0 as u64 & 0xFFFF_FFFF;
        if n > 32 {
            // floor((t·2^32 + r0 + 2^(n-1)) / 2^n) = floor((t + 2^(m-1)) / 2^m), m = n − 32:
            // t + 2^(m-1) is an integer and r0 / 2^32 < 1 cannot carry it past a multiple of 2^m.
            // m is 1..=30; the mask changes nothing but tells the compiler the shift is below
            // 32, which halves the Cortex-M4 code for the 64-bit shift.
            //
            // The shift is written on the two 32-bit halves: LLVM's generic 64-bit shift
            // handles counts of 32 and more with extra conditional instructions on Cortex-M4,
            // here the count is known to lie in 1..=31 (for valid shifts 1..=30).
            let m = (n - 32) & 31;
            // The half as a 32-bit shift (m − 1 is 0..=30): as `1i64 << (m − 1)` LLVM
            // builds it with a generic 64-bit shift, a dozen instructions.
            let t = t + (1u32 << (m - 1)) as i64; // |t| <= 2^62 + 2^31 + 2^30: no overflow
            let (lo, hi) = (t as u32, (t >> 32) as i32);
            let r_lo = (lo >> m) | (hi as u32).wrapping_shl(32 - m);
            let r_hi = hi >> m;
            ((r_hi as i64) << 32) | r_lo as i64
        } else if n == 32 {
            // floor((t·2^32 + r0 + 2^31) / 2^32) = t + [r0 >= 2^31]; |t| <= 2^62 + 2^31.
            (t + (r0 >> 31) as i64).clamp(-(1 << 61), 1 << 61)
        } else if t >= 1 << 31 {
            // |acc·mult| >= 2^63 while n <= 31: far outside i32.
            1 << 61
        } else if t < -(1i64 << 31) {
            -(1 << 61)
        } else {
            // |t| <= 2^31, so t·2^(32-n) <= 2^62; the low part adds at most 2^(33-n).
            let n = n.max(1); // only an invalid shift gives n = 0
            let low = ((r0 + (1u64 << (n - 1))) >> n) as i64;
            ((t << (32 - n)) + low).clamp(-(1 << 61), 1 << 61)
        }
    }

    /// [`Requant::apply_wide`] with a shortcut for accumulators that fit in 32 bits (most
    /// dense rows of the device models): [`Requant::apply_narrow`] where it applies, else
    /// `apply_wide`. Kept apart from `apply_wide`, which is inlined at every estimator site
    /// (inlined everywhere the shortcut cost 3 KB of flash), for the row loop of
    /// [`crate::kernels::for_each_row`] and the estimator's constant-width update rows (there
    /// it saved 120 instructions a step for 196 B of flash).
    #[inline(always)]
    pub fn apply_wide_fast(self, acc: i64) -> i64 {
        match self.apply_narrow(acc) {
            Some(v) => v as i64,
            None => self.apply_wide(acc),
        }
    }

    /// [`Requant::apply_wide`]`(acc)` in 32-bit arithmetic, when `acc` fits in an `i32` and
    /// `shift <= -2` (a right shift of 33 bits or more: every multiplier below `2^-2`, which
    /// is where the dense rows of the device models lie); `None` otherwise. The value is then
    /// in `[-2^29, 2^29]`, so adding an `i16` bias cannot overflow an `i32`.
    ///
    /// **Exactness.** Let `n = 31 − shift = 33 + k` with `k = −2 − shift` in `0..=29` and
    /// `p = acc · mult`, exact in `i64` (`|p| <= 2^62`). `apply_wide` returns
    /// `floor((p + 2^(n−1)) / 2^n)` (its `n > 32` branch), which equals
    /// `floor((t + 2^k) / 2^(k+1))` for the high word `t = floor(p / 2^32)`: the low word
    /// `r0 = p − 2^32 t` is below `2^32`, and `t + 2^k` is an integer, so adding
    /// `r0 / 2^32 < 1` cannot carry it past a multiple of `2^(k+1)`. `t` is what
    /// `(p >> 32) as i32` computes (`|t| <= 2^30`). Then, with
    /// `floor(x / (ab)) = floor(floor(x / a) / b)` for positive integers `a`, `b`:
    /// `floor((t + 2^k) / 2^(k+1)) = floor(floor((t + 2^k) / 2^k) / 2)
    /// = floor((floor(t / 2^k) + 1) / 2) = ((t >> k) + 1) >> 1`, with `|t >> k| <= 2^30`,
    /// so no step wraps, and the result is at most `(2^30 + 1) / 2` in magnitude.
    /// Every other `shift` (including invalid ones) and every wider `acc` give `None`, so
    /// `apply_narrow(acc).map_or_else(|| apply_wide(acc), i64::from)` is `apply_wide(acc)`
    /// for every input (proptested over the whole `i64` × `i32` × `i8` range).
    ///
    /// On the Cortex-M4 it is a range check of the shift, the 32-bit check of `acc`, the
    /// high word of the product and three shift/adds, where the rounding of `apply_wide` is
    /// a 64-bit shift. (LLVM forms `t` as `UMULL` + two `MLA` on the 64-bit `acc`, not as
    /// one `SMMUL`: knowing `a as i64 == acc` inside the test, it uses `acc`; forming `t`
    /// before the test, or testing the high word instead, made no difference.)
    #[inline(always)]
    pub fn apply_narrow(self, acc: i64) -> Option<i32> {
        let k = (-2 - self.shift as i32) as u32;
        let a = acc as i32;
        if k < 30 && acc == a as i64 {
            let t = ((a as i64 * self.mult as i64) >> 32) as i32;
            Some((t >> k).wrapping_add(1) >> 1)
        } else {
            None
        }
    }
}

const TWO_31: f64 = 2147483648.0;

/// Saturates an `i64` to `i32`.
#[inline]
pub fn sat_i32(x: i64) -> i32 {
    x.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

/// Saturates an `i32` to `i16`.
#[inline]
pub fn sat_i16(x: i32) -> i16 {
    x.clamp(i16::MIN as i32, i16::MAX as i32) as i16
}

/// Saturates an `i64` to `i16`.
///
/// Written as "fits in `i32`? then saturate the `i32`": on Cortex-M4 that is a compare of the
/// high word with the sign of the low word and one `SSAT`, where the plain 64-bit clamp is
/// two 64-bit compares and four conditional moves.
#[inline]
pub fn sat_i16_from_i64(x: i64) -> i16 {
    let lo = x as i32;
    if x == lo as i64 {
        sat_i16(lo)
    } else if x < 0 {
        i16::MIN
    } else {
        i16::MAX
    }
}

/// `a + b` saturated to `i16`.
#[inline]
pub fn add_sat_i16(a: i16, b: i16) -> i16 {
    a.saturating_add(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference: exact rational arithmetic in i128, floor(x + 1/2).
    fn reference(acc: i64, r: Requant) -> i32 {
        let n = 31 - r.shift as i32;
        let num = acc as i128 * r.mult as i128;
        let den = 1i128 << n;
        // floor((2·num + den) / (2·den))
        let q = (2 * num + den).div_euclid(2 * den);
        q.clamp(i32::MIN as i128, i32::MAX as i128) as i32
    }

    #[test]
    fn half_rounds_up_at_ties() {
        let half = Requant::from_f64(0.5).unwrap();
        assert_eq!(
            half,
            Requant {
                mult: 1 << 30,
                shift: 0
            }
        );
        assert_eq!(half.apply(1), 1); // 0.5 -> 1
        assert_eq!(half.apply(-1), 0); // -0.5 -> 0
        assert_eq!(half.apply(3), 2); // 1.5 -> 2
        assert_eq!(half.apply(-3), -1); // -1.5 -> -1
        assert_eq!(half.apply(2), 1);
        assert_eq!(half.apply(-2), -1);
        // Just below / above a tie.
        let q = Requant::from_f64(0.25).unwrap();
        assert_eq!(q.apply(1), 0); // 0.25
        assert_eq!(q.apply(2), 1); // 0.5
        assert_eq!(q.apply(-2), 0); // -0.5
        assert_eq!(q.apply(-3), -1); // -0.75
    }

    #[test]
    fn identity_and_saturation() {
        assert_eq!(Requant::ONE.to_f64(), 1.0);
        for acc in [0, 1, -1, 12345, -32768, i32::MAX as i64, i32::MIN as i64] {
            assert_eq!(Requant::ONE.apply(acc), acc as i32);
        }
        assert_eq!(Requant::ONE.apply(i64::MAX), i32::MAX);
        assert_eq!(Requant::ONE.apply(i64::MIN), i32::MIN);
        let big = Requant::from_f64(1e9).unwrap();
        assert_eq!(big.apply(10), i32::MAX);
        assert_eq!(big.apply(-10), i32::MIN);
    }

    #[test]
    fn from_f64_ranges() {
        assert_eq!(
            Requant::from_f64(f64::NAN).unwrap_err(),
            RequantError::NotFinite
        );
        assert!(matches!(
            Requant::from_f64(2f64.powi(30)),
            Err(RequantError::TooLarge { .. })
        ));
        let just_below = Requant::from_f64(2f64.powi(30) * 0.999).unwrap();
        assert_eq!(just_below.shift, SHIFT_MAX);
        assert_eq!(Requant::from_f64(0.0).unwrap().apply(1 << 40), 0);
        // Rounding into the next binade: 1 - 2^-40 rounds to 1.0.
        let r = Requant::from_f64(1.0 - 2f64.powi(-40)).unwrap();
        assert_eq!(r, Requant::ONE);
        // Denormal: 2^-40.
        let tiny = Requant::from_f64(2f64.powi(-40)).unwrap();
        assert_eq!(tiny.shift, SHIFT_MIN);
        assert_eq!(tiny.to_f64(), 2f64.powi(-40));
        let neg = Requant::from_f64(-0.75).unwrap();
        assert_eq!(neg.to_f64(), -0.75);
        assert_eq!(neg.apply(2), -1); // -1.5 -> -1
    }

    #[test]
    fn relative_error_bound() {
        for &m in &[1e-9, 3.3e-5, 0.1, 0.7, 1.0, 3.3, 1234.5, 1e8] {
            let r = Requant::from_f64(m).unwrap();
            assert!(((r.to_f64() - m) / m).abs() <= 2f64.powi(-31), "{m}");
        }
    }

    #[test]
    fn matches_exact_reference_on_grid() {
        let accs = [
            0i64,
            1,
            -1,
            7,
            -7,
            1 << 20,
            -(1 << 20),
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i32::MIN as i64 - 1,
            1 << 40,
            -(1 << 40) + 3,
            i64::MAX,
            i64::MIN,
        ];
        let mults = [
            0,
            1,
            -1,
            1 << 30,
            i32::MAX,
            i32::MIN,
            1_518_500_250,
            -987_654_321,
        ];
        for &acc in &accs {
            for &mult in &mults {
                for shift in SHIFT_MIN..=SHIFT_MAX {
                    let r = Requant { mult, shift };
                    assert_eq!(r.apply(acc), reference(acc, r), "{acc} {mult} {shift}");
                    assert_eq!(
                        r.apply_wide_fast(acc),
                        r.apply_wide(acc),
                        "{acc} {mult} {shift}"
                    );
                }
            }
        }
    }

    #[test]
    fn out_of_range_shifts_do_not_panic() {
        for shift in i8::MIN..=i8::MAX {
            for acc in [0i64, 1, -1, 1 << 40, i64::MAX, i64::MIN] {
                for mult in [0, 1 << 30, i32::MIN, i32::MAX] {
                    let r = Requant { mult, shift };
                    let _ = r.apply(acc);
                    let _ = r.apply_wide(acc);
                }
            }
        }
    }

    #[test]
    fn saturating_helpers() {
        assert_eq!(sat_i16(40000), i16::MAX);
        assert_eq!(sat_i16(-40000), i16::MIN);
        assert_eq!(sat_i16(-5), -5);
        assert_eq!(sat_i16_from_i64(1 << 40), i16::MAX);
        for x in [
            0i64,
            1,
            -1,
            32767,
            32768,
            -32768,
            -32769,
            i32::MAX as i64,
            i32::MIN as i64,
            i32::MAX as i64 + 1,
            i32::MIN as i64 - 1,
            (1 << 32) + 5,
            -(1 << 32) + 5,
            i64::MAX,
            i64::MIN,
        ] {
            assert_eq!(
                sat_i16_from_i64(x),
                x.clamp(i16::MIN as i64, i16::MAX as i64) as i16
            );
        }
        assert_eq!(add_sat_i16(i16::MAX, 1), i16::MAX);
        assert_eq!(sat_i32(i64::MIN), i32::MIN);
    }

    proptest::proptest! {
        #[test]
        fn apply_is_exact(acc in proptest::num::i64::ANY, mult in proptest::num::i32::ANY,
                          shift in SHIFT_MIN..=SHIFT_MAX) {
            let r = Requant { mult, shift };
            proptest::prop_assert_eq!(r.apply(acc), reference(acc, r));
        }

        /// `apply_narrow` is `apply_wide` where it applies, for every accumulator, multiplier
        /// and shift (valid or not); accumulators near the 32-bit limits are drawn often.
        #[test]
        fn apply_narrow_is_apply_wide(acc in proptest::prop_oneof![proptest::num::i64::ANY,
                                                      proptest::strategy::Strategy::prop_map(proptest::num::i32::ANY, i64::from),
                                                      (-(1i64 << 32)..(1i64 << 32))],
                                      mult in proptest::num::i32::ANY,
                                      shift in proptest::num::i8::ANY) {
            let r = Requant { mult, shift };
            let wide = r.apply_wide(acc);
            match r.apply_narrow(acc) {
                Some(v) => {
                    proptest::prop_assert_eq!(v as i64, wide);
                    proptest::prop_assert_eq!(v, reference(acc, r));
                    proptest::prop_assert!(acc == acc as i32 as i64 && (-31..=-2).contains(&shift));
                    proptest::prop_assert!((v as i64).abs() <= 1 << 29);
                }
                None => proptest::prop_assert!(acc != acc as i32 as i64 || !(-31..=-2).contains(&shift)),
            }
            proptest::prop_assert_eq!(r.apply_wide_fast(acc), wide);
        }

        /// Accumulators that fit in 32 bits: `apply_wide_fast`'s shortcut.
        #[test]
        fn apply_is_exact_for_i32_accumulators(acc in proptest::num::i32::ANY,
                                               mult in proptest::num::i32::ANY,
                                               shift in SHIFT_MIN..=SHIFT_MAX) {
            let r = Requant { mult, shift };
            let wide = r.apply_wide_fast(acc as i64);
            proptest::prop_assert_eq!(sat_i32(wide), reference(acc as i64, r));
            proptest::prop_assert_eq!(wide, r.apply_wide(acc as i64));
        }

        /// The accumulator range the estimator actually produces (|acc| <= 2^42).
        #[test]
        fn apply_is_exact_for_kernel_range(acc in -(1i64 << 42)..(1i64 << 42),
                                           mult in proptest::num::i32::ANY,
                                           shift in SHIFT_MIN..=SHIFT_MAX) {
            let r = Requant { mult, shift };
            proptest::prop_assert_eq!(r.apply(acc), reference(acc, r));
        }
    }
}
