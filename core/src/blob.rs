//! Little-endian reads from borrowed byte blobs.
//!
//! Model tensors stay in the file bytes (flash on the device); these helpers read one element
//! at a time without copying the blob and without panicking: an index past the end reads as
//! zero. Validated models never index past the end, so the fallback only guards against
//! hand-built, unvalidated values.

/// `i16` element `i` of a little-endian `i16` blob, or 0 when out of range.
#[inline]
pub fn i16_at(blob: &[u8], i: usize) -> i16 {
    match blob.get(i.wrapping_mul(2)..).and_then(|b| b.get(..2)) {
        Some(&[a, b]) => i16::from_le_bytes([a, b]),
        _ => 0,
    }
}

/// `i32` element `i` of a little-endian `i32` blob, or 0 when out of range.
#[inline]
pub fn i32_at(blob: &[u8], i: usize) -> i32 {
    match blob.get(i.wrapping_mul(4)..).and_then(|b| b.get(..4)) {
        Some(&[a, b, c, d]) => i32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// `f32` element `i` of a little-endian `f32` blob, or 0.0 when out of range.
#[inline]
pub fn f32_at(blob: &[u8], i: usize) -> f32 {
    match blob.get(i.wrapping_mul(4)..).and_then(|b| b.get(..4)) {
        Some(&[a, b, c, d]) => f32::from_le_bytes([a, b, c, d]),
        _ => 0.0,
    }
}

/// `i8` element `i` of a blob, or 0 when out of range.
#[inline]
pub fn i8_at(blob: &[u8], i: usize) -> i8 {
    blob.get(i).map_or(0, |&b| b as i8)
}

/// Bytes `[start·width, (start+count)·width)` of `blob`, or an empty slice when out of range.
#[inline]
pub fn sub(blob: &[u8], start: usize, count: usize, width: usize) -> &[u8] {
    let from = start.saturating_mul(width);
    let to = start.saturating_add(count).saturating_mul(width);
    blob.get(from..to).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_le_and_guards() {
        let b = [0x34, 0x12, 0xff, 0xff];
        assert_eq!(i16_at(&b, 0), 0x1234);
        assert_eq!(i16_at(&b, 1), -1);
        assert_eq!(i16_at(&b, 2), 0);
        assert_eq!(i16_at(&b, usize::MAX), 0);
        assert_eq!(i32_at(&b, 0), -0xedcc);
        assert_eq!(i32_at(&b, 1), 0);
        assert_eq!(f32_at(&1.5f32.to_le_bytes(), 0), 1.5);
        assert_eq!(i8_at(&b, 2), -1);
        assert_eq!(sub(&b, 1, 1, 2), &[0xff, 0xff]);
        assert_eq!(sub(&b, 1, 2, 2), &[] as &[u8]);
        assert_eq!(sub(&b, usize::MAX, 2, 2), &[] as &[u8]);
    }
}
