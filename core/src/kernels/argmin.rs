//! Index of the best score, ties resolved to the lowest index (so host and device agree on
//! ties, and a regime never flips because of iteration order).

/// Index of the smallest value (first one on ties); 0 for an empty iterator.
#[inline]
pub fn argmin_i64(values: impl IntoIterator<Item = i64>) -> usize {
    let mut best = i64::MAX;
    let mut idx = 0;
    for (i, v) in values.into_iter().enumerate() {
        if i == 0 || v < best {
            best = v;
            idx = i;
        }
    }
    idx
}

/// Index of the largest value (first one on ties); 0 for an empty iterator.
#[inline]
pub fn argmax_i32(values: impl IntoIterator<Item = i32>) -> usize {
    let mut best = i32::MIN;
    let mut idx = 0;
    for (i, v) in values.into_iter().enumerate() {
        if i == 0 || v > best {
            best = v;
            idx = i;
        }
    }
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_pick_lowest() {
        assert_eq!(argmin_i64([3, 1, 1, 2]), 1);
        assert_eq!(argmin_i64([i64::MAX, i64::MAX]), 0);
        assert_eq!(argmin_i64(core::iter::empty()), 0);
        assert_eq!(argmax_i32([3, 7, 7, -1]), 1);
        assert_eq!(argmax_i32([i32::MIN, i32::MIN]), 0);
        assert_eq!(argmax_i32([-5]), 0);
    }
}
