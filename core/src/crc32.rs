//! CRC-32 (IEEE 802.3, reflected, polynomial `0xEDB88320`, init and final XOR `0xFFFF_FFFF`).
//!
//! This is the checksum of the model file (header and body) and the one the firmware uses to
//! summarise latent-state trajectories, so that host and device can be compared with a single
//! 32-bit number. The lookup table is built at compile time by a `const fn`; it has 16 entries
//! (one per 4-bit nibble, 64 B of flash) instead of the usual 256 (1 KiB): the checksum runs
//! once per model load and on a few bytes per bin in the instrumented firmware, never in the
//! estimator or TAVRNN step, so flash counts and two lookups per byte do not.

/// The reflected IEEE polynomial.
const POLY: u32 = 0xEDB8_8320;

/// Nibble-wise lookup table (the CRC of each 4-bit value), built at compile time.
static TABLE: [u32; 16] = build_table();

const fn build_table() -> [u32; 16] {
    let mut table = [0u32; 16];
    let mut i = 0;
    while i < 16 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 4 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// CRC-32 of `data` in one call. A `const fn`, so fingerprints of constant strings are
/// themselves constants.
pub const fn crc32(data: &[u8]) -> u32 {
    // `const fn` cannot read a `static`, so this path recomputes the table entry bit by bit;
    // it is only used for constants and short inputs. Runtime users go through [`Crc32`].
    let mut crc = 0xFFFF_FFFFu32;
    let mut i = 0;
    while i < data.len() {
        crc ^= data[i] as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
            bit += 1;
        }
        i += 1;
    }
    !crc
}

/// Incremental CRC-32, table driven (two lookups per byte, one per nibble).
///
/// ```
/// use neuroloop_core::crc32::Crc32;
/// let mut c = Crc32::new();
/// c.update(b"1234");
/// c.update(b"56789");
/// assert_eq!(c.finish(), 0xCBF4_3926);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crc32 {
    state: u32,
}

impl Default for Crc32 {
    fn default() -> Self {
        Self::new()
    }
}

impl Crc32 {
    /// A fresh checksum (of the empty input).
    pub const fn new() -> Self {
        Self { state: 0xFFFF_FFFF }
    }

    /// Feeds `data` into the checksum.
    pub fn update(&mut self, data: &[u8]) {
        let mut crc = self.state;
        for &b in data {
            crc ^= b as u32;
            crc = TABLE[(crc & 0xF) as usize] ^ (crc >> 4);
            crc = TABLE[(crc & 0xF) as usize] ^ (crc >> 4);
        }
        self.state = crc;
    }

    /// Feeds the little-endian bytes of each `i16` (how the firmware checksums latent states).
    pub fn update_i16(&mut self, data: &[i16]) {
        for v in data {
            self.update(&v.to_le_bytes());
        }
    }

    /// The checksum of everything fed so far (the state is not consumed).
    pub fn finish(&self) -> u32 {
        !self.state
    }
}

/// CRC-32 of `data` using the lookup table (fast path of [`crc32`]).
pub fn checksum(data: &[u8]) -> u32 {
    let mut c = Crc32::new();
    c.update(data);
    c.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(checksum(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn empty_and_known_vectors() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(checksum(b""), 0);
        // "The quick brown fox jumps over the lazy dog"
        assert_eq!(
            checksum(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
    }

    #[test]
    fn const_and_table_agree() {
        let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for len in [0, 1, 2, 17, 255, 300] {
            assert_eq!(crc32(&data[..len]), checksum(&data[..len]));
        }
    }

    #[test]
    fn i16_helper_is_le_bytes() {
        let mut a = Crc32::new();
        a.update_i16(&[0x0102, -2]);
        assert_eq!(a.finish(), checksum(&[0x02, 0x01, 0xFE, 0xFF]));
    }
}
