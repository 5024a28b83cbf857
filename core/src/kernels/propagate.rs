//! Graph propagation `Σ_k a_k · X[j_k]` over a list of neighbours, column blocks in
//! registers.
//!
//! The TAVRNN step propagates several node matrices (`phi_x`, `h`, `E`, `phi_z`, `r h`) along
//! the rows of `Â`. Walking the neighbours once and adding each neighbour's row into `i64`
//! accumulators in memory cost a load, a multiply-accumulate and a store of 64 bits per
//! product, plus clearing the accumulators for every row. Here the neighbour list is walked
//! once per block of [`BLOCK`] columns, the block's sums stay in `i32` registers (one
//! `SMLABB` a product on a Cortex-M4) and each sum is written to memory once.
//!
//! # Why `i32` is exact
//! The neighbours are taken in runs whose weights satisfy `Σ |a_k| <= 65,535` (a run always
//! takes at least one neighbour). With `|x| <= 32,768` every partial sum of a run is bounded
//! by `65,535 · 32,768 < 2^31`, and a run of a single neighbour by `32,768² = 2^30`: no
//! partial sum of a run can overflow `i32`. The runs are added in `i64`. For the normalised
//! adjacency in Q1.14 (entries `<= 2^13` with the history node, every degree `>= 2`) a run
//! holds at least 8 neighbours; a neuron's row of the N = 64 device graphs is one run, the
//! history node's row (65 neighbours of `≈ 1,437`) two.

/// Columns summed in registers per walk over the neighbours: four `i32` sums (more made
/// LLVM spill them to the stack on a Cortex-M4, measured in the thumbv7em disassembly).
pub const BLOCK: usize = 4;

/// Largest `Σ |a_k|` of a run summed in `i32` (see the module documentation).
const RUN_BOUND: u32 = 65_535;

/// Rows of the matrix being propagated.
trait Rows {
    /// Element `c` of row `j`, if it exists.
    fn one(&self, j: usize, c: usize) -> Option<i16>;
}

/// Rows read a block of columns at a time.
trait Blocks: Rows {
    /// Elements `c0 .. c0 + BLOCK` of row `j`, if they exist.
    fn block(&self, j: usize, c0: usize) -> Option<[i16; BLOCK]>;
}

/// Node-major `i16` rows of `width` elements.
struct Slice<'a> {
    x: &'a [i16],
    width: usize,
}

impl Rows for Slice<'_> {
    #[inline(always)]
    fn one(&self, j: usize, c: usize) -> Option<i16> {
        self.x
            .get(j.wrapping_mul(self.width).wrapping_add(c))
            .copied()
    }
}

/// Node-major rows of `width` little-endian `i16` (a table in the model blob).
struct Le<'a> {
    x: &'a [u8],
    width: usize,
}

impl Rows for Le<'_> {
    #[inline(always)]
    fn one(&self, j: usize, c: usize) -> Option<i16> {
        let at = j.wrapping_mul(self.width).wrapping_add(c).wrapping_mul(2);
        self.x
            .get(at..)?
            .first_chunk::<2>()
            .map(|p| i16::from_le_bytes(*p))
    }
}

/// Rows of a constant width `W` (`WB = 2 W` bytes for the little-endian form): one bounds
/// check per neighbour (the row), none per block (the block's offset is checked once per
/// walk, outside the neighbour loop), where [`Slice`] checks the product `j · width + c0`
/// for every neighbour and block.
struct Fixed<'a, const W: usize> {
    rows: &'a [[i16; W]],
}

impl<const W: usize> Rows for Fixed<'_, W> {
    #[inline(always)]
    fn one(&self, j: usize, c: usize) -> Option<i16> {
        self.rows.get(j)?.get(c).copied()
    }
}

impl<const W: usize> Blocks for Fixed<'_, W> {
    #[inline(always)]
    fn block(&self, j: usize, c0: usize) -> Option<[i16; BLOCK]> {
        self.rows.get(j)?.get(c0..)?.first_chunk::<BLOCK>().copied()
    }
}

struct FixedLe<'a, const WB: usize> {
    rows: &'a [[u8; WB]],
}

impl<const WB: usize> Rows for FixedLe<'_, WB> {
    #[inline(always)]
    fn one(&self, j: usize, c: usize) -> Option<i16> {
        let p = self
            .rows
            .get(j)?
            .get(c.wrapping_mul(2)..)?
            .first_chunk::<2>()?;
        Some(i16::from_le_bytes(*p))
    }
}

impl<const WB: usize> Blocks for FixedLe<'_, WB> {
    #[inline(always)]
    fn block(&self, j: usize, c0: usize) -> Option<[i16; BLOCK]> {
        let b = self
            .rows
            .get(j)?
            .get(c0.wrapping_mul(2)..)?
            .first_chunk::<{ 2 * BLOCK }>()?;
        let (pairs, _) = b.as_chunks::<2>();
        let mut out = [0i16; BLOCK];
        for (o, p) in out.iter_mut().zip(pairs) {
            *o = i16::from_le_bytes(*p);
        }
        Some(out)
    }
}

/// `acc[c] = Σ_k a[k] · x[nodes[k] · width + c]` (or `acc[c] += …` when `!first`) for
/// `c < acc.len()`, exactly, over the common length of `nodes` and `a`; `x` is node-major
/// `i16` with rows of `width`. Elements outside `x` count as zero; `x` must hold whole rows
/// (the constant-width paths drop a trailing partial row, the scalar path reads it; validated
/// models have none).
#[inline(never)]
pub fn propagate_i16(
    nodes: &[u16],
    a: &[i16],
    x: &[i16],
    width: usize,
    acc: &mut [i64],
    first: bool,
) {
    // The widths of the device models (phi, enc = 16, hidden = 32) get constant-width rows.
    match width {
        16 => propagate(
            nodes,
            a,
            &Fixed::<16> {
                rows: x.as_chunks().0,
            },
            acc,
            first,
        ),
        32 => propagate(
            nodes,
            a,
            &Fixed::<32> {
                rows: x.as_chunks().0,
            },
            acc,
            first,
        ),
        _ => scalar(nodes, a, &Slice { x, width }, acc, first),
    }
}

/// [`propagate_i16`] over rows of little-endian `i16` bytes (`2 · width` bytes a row).
#[inline(never)]
pub fn propagate_le(
    nodes: &[u16],
    a: &[i16],
    x: &[u8],
    width: usize,
    acc: &mut [i64],
    first: bool,
) {
    // phi = 16 on the device models; other widths take the small scalar loop.
    match width {
        16 => propagate(
            nodes,
            a,
            &FixedLe::<32> {
                rows: x.as_chunks().0,
            },
            acc,
            first,
        ),
        _ => scalar(nodes, a, &Le { x, width }, acc, first),
    }
}

/// End of the run that starts at `start`: the longest with `Σ |a| <= RUN_BOUND`, at least one.
#[inline(always)]
fn run_end(a: &[i16], start: usize) -> usize {
    let mut sum = 0u32;
    let mut end = start;
    for &w in a.get(start..).unwrap_or(&[]) {
        sum += w.unsigned_abs() as u32;
        if sum > RUN_BOUND && end > start {
            break;
        }
        end += 1;
    }
    end
}

#[inline(always)]
fn put(acc: &mut i64, s: i32, first: bool) {
    *acc = if first {
        s as i64
    } else {
        acc.wrapping_add(s as i64)
    };
}

/// The same sums column by column in `i64` (exact without runs): little code, for the
/// widths without a constant-width kernel.
#[inline(always)]
fn scalar<R: Rows>(nodes: &[u16], a: &[i16], rows: &R, acc: &mut [i64], first: bool) {
    for (c, out) in acc.iter_mut().enumerate() {
        let mut s = if first { 0 } else { *out };
        for (&j, &w) in nodes.iter().zip(a) {
            if let Some(xv) = rows.one(j as usize, c) {
                s = s.wrapping_add(w as i64 * xv as i64);
            }
        }
        *out = s;
    }
}

#[inline(always)]
fn propagate<R: Blocks>(nodes: &[u16], a: &[i16], rows: &R, acc: &mut [i64], first: bool) {
    let len = nodes.len().min(a.len());
    let (nodes, a) = (nodes.get(..len).unwrap_or(&[]), a.get(..len).unwrap_or(&[]));
    if len == 0 && first {
        acc.iter_mut().for_each(|v| *v = 0);
    }
    let mut start = 0;
    let mut first = first;
    while start < len {
        let end = run_end(a, start);
        let nb = nodes.get(start..end).unwrap_or(&[]);
        let ab = a.get(start..end).unwrap_or(&[]);
        let (blocks, tail) = acc.as_chunks_mut::<BLOCK>();
        for (b, out) in blocks.iter_mut().enumerate() {
            let c0 = b * BLOCK;
            let mut s = [0i32; BLOCK];
            for (&j, &w) in nb.iter().zip(ab) {
                if let Some(v) = rows.block(j as usize, c0) {
                    let w = w as i32;
                    for (sv, &xv) in s.iter_mut().zip(&v) {
                        *sv = sv.wrapping_add(w * xv as i32);
                    }
                }
            }
            for (o, &sv) in out.iter_mut().zip(&s) {
                put(o, sv, first);
            }
        }
        let c0 = blocks.len() * BLOCK;
        for (c, out) in tail.iter_mut().enumerate() {
            let mut s = 0i32;
            for (&j, &w) in nb.iter().zip(ab) {
                if let Some(xv) = rows.one(j as usize, c0 + c) {
                    s = s.wrapping_add(w as i32 * xv as i32);
                }
            }
            put(out, s, first);
        }
        first = false;
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// Plain reference: the `i64` sum per column, in neighbour order.
    fn reference(nodes: &[u16], a: &[i16], x: &[i16], width: usize, cols: usize) -> Vec<i64> {
        (0..cols)
            .map(|c| {
                nodes
                    .iter()
                    .zip(a)
                    .map(|(&j, &w)| {
                        let v = x.get(j as usize * width + c).copied().unwrap_or(0);
                        w as i64 * v as i64
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn extremes_do_not_overflow() {
        // 65 neighbours of weight -32768 on rows of -32768: 65 · 2^30, far beyond i32.
        let nodes: Vec<u16> = (0..65).collect();
        let a = vec![i16::MIN; 65];
        let x = vec![i16::MIN; 65 * 6];
        let mut acc = vec![7i64; 6];
        propagate_i16(&nodes, &a, &x, 6, &mut acc, true);
        assert_eq!(acc, vec![65i64 << 30; 6]);
        propagate_i16(&nodes, &a, &x, 6, &mut acc, false);
        assert_eq!(acc, vec![130i64 << 30; 6]);
        // No neighbours: zero when first, unchanged otherwise.
        propagate_i16(&[], &[], &x, 6, &mut acc, false);
        assert_eq!(acc, vec![130i64 << 30; 6]);
        propagate_i16(&[], &[], &x, 6, &mut acc, true);
        assert_eq!(acc, vec![0; 6]);
    }

    proptest! {
        /// Same sums as the plain reference, for both row formats, any widths (blocks and
        /// tails), weights large and small (one run or many), rows missing from `x`, and
        /// accumulation onto earlier values.
        #[test]
        fn matches_reference(width in prop::sample::select(vec![1usize, 3, 4, 5, 8, 13, 16, 19, 32]), cols_less in 0usize..3,
                             rows in 1usize..12, small in any::<bool>(),
                             nb in proptest::collection::vec((0u16..14, any::<i16>()), 0..40),
                             seed in proptest::collection::vec(any::<i16>(), 400),
                             start in proptest::collection::vec(-(1i64 << 40)..(1i64 << 40), 32)) {
            let cols = width.saturating_sub(cols_less).max(1);
            let x = &seed[..(rows * width).min(seed.len())];
            let nodes: Vec<u16> = nb.iter().map(|p| p.0).collect();
            let a: Vec<i16> = nb.iter().map(|p| if small { p.1 >> 4 } else { p.1 }).collect();
            let want = reference(&nodes, &a, x, width, cols);
            let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
            let mut got = vec![0i64; cols];
            propagate_i16(&nodes, &a, x, width, &mut got, true);
            prop_assert_eq!(&got, &want);
            let mut got = vec![0i64; cols];
            propagate_le(&nodes, &a, &bytes, width, &mut got, true);
            prop_assert_eq!(&got, &want);
            let mut got = start[..cols].to_vec();
            propagate_i16(&nodes, &a, x, width, &mut got, false);
            let sum: Vec<i64> = start[..cols].iter().zip(&want).map(|(s, w)| s + w).collect();
            prop_assert_eq!(&got, &sum);
        }
    }
}
