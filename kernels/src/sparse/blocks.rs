//! Column blocks: the shared driver of the sparse kernels' inner loops.

/// Column block widths: a block's accumulators stay in registers across a row's non-zeros, and a
/// wide block gives enough independent add chains to hide their latency.
pub(crate) const WIDE: usize = 64;
pub(crate) const MID: usize = 32;
pub(crate) const NARROW: usize = 16;

/// A kernel's work on one block of `N` columns starting at column `start`.
pub(crate) trait ColumnBlock {
    fn block<const N: usize>(&mut self, start: usize);
}

/// Covers columns from 0 with blocks of `widest` (WIDE, MID or NARROW) columns, then of each
/// narrower width down to NARROW; returns where the remaining (fewer than NARROW) columns start.
#[inline(always)]
pub(crate) fn column_blocks(oc: usize, widest: usize, op: &mut impl ColumnBlock) -> usize {
    let mut start = 0;
    while widest == WIDE && start + WIDE <= oc {
        op.block::<WIDE>(start);
        start += WIDE;
    }
    while widest >= MID && start + MID <= oc {
        op.block::<MID>(start);
        start += MID;
    }
    while start + NARROW <= oc {
        op.block::<NARROW>(start);
        start += NARROW;
    }
    start
}

/// Covers the columns `start..oc` left by [`column_blocks`] with blocks of 8, 4, 2 and 1
/// columns: a 60-unit layer takes 4 passes over its entries instead of 2 + 12. For kernels whose
/// per-column sums do not depend on the block width.
#[inline(always)]
pub(crate) fn tail_blocks(mut start: usize, oc: usize, op: &mut impl ColumnBlock) {
    if start + 8 <= oc {
        op.block::<8>(start);
        start += 8;
    }
    if start + 4 <= oc {
        op.block::<4>(start);
        start += 4;
    }
    if start + 2 <= oc {
        op.block::<2>(start);
        start += 2;
    }
    if start < oc {
        op.block::<1>(start);
    }
}
