//! The sparse first layer in evaluation, on groups of similar images.
//!
//! Evaluation streams every image of a fixed data set through the same weights, and the forward
//! of [`crate::sparse`] is bound by loading one weight row (OC values) per non-zero pixel. A group
//! of [`GROUP`] images stored as the union of their non-zero pixels loads each shared pixel's row
//! once for all of them. [`GroupedImages::build`] groups similar images; the inner block is
//! [`portable`]'s loop, or [`avx512`]'s where the build has AVX-512F. Dimension letters as in
//! [`crate::sparse`].

mod avx512;
mod build;
mod layout;
mod portable;

pub use build::{GroupedImages, WINDOW};
pub use layout::{GroupCsr, GROUP, HAS_WIDE_KERNEL, NO_IMAGE};

use super::blocks::{column_blocks, tail_blocks, ColumnBlock, MID, NARROW};
use crate::Scalar;

/// The per-type column widths of the grouped forward, and its AVX-512 block.
pub trait GroupBlock: Scalar {
    /// Columns per block of the AVX-512 block: a group's accumulators fill 16 512-bit registers.
    const WIDE_COLS: usize;
    /// Widest block of the portable loop with pairs (16 ymm registers hold a pair's accumulators
    /// plus a weight row).
    const PORTABLE_COLS: usize;
    /// acc (GROUP, WIDE_COLS) += the group's entries times their weight rows. Only called in
    /// builds with AVX-512F.
    fn accumulate_wide(
        acc: &mut [Self],
        cols: &[u32],
        bytes: &[[u8; GROUP]],
        table: &[Self; 256],
        w: &[Self],
        oc: usize,
    );
}

macro_rules! impl_group_block {
    ($t:ty, $wide:literal, $portable:expr, $kernel:ident) => {
        impl GroupBlock for $t {
            const WIDE_COLS: usize = $wide;
            const PORTABLE_COLS: usize = $portable;
            #[inline(always)]
            fn accumulate_wide(
                acc: &mut [Self],
                cols: &[u32],
                bytes: &[[u8; GROUP]],
                table: &[Self; 256],
                w: &[Self],
                oc: usize,
            ) {
                #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
                avx512::$kernel(acc, cols, bytes, table, w, oc);
                #[cfg(not(all(target_arch = "x86_64", target_feature = "avx512f")))]
                {
                    let _ = (acc, cols, bytes, table, w, oc);
                    unreachable!("no AVX-512 kernel in this build");
                }
            }
        }
    };
}

impl_group_block!(f32, 64, MID, group_f32);
impl_group_block!(f64, 32, NARROW, group_f64);

/// One group's forward: rows `rows[g]` (when present) of out.
struct Group<'a, T> {
    out: &'a mut [T],
    rows: [Option<usize>; GROUP],
    cols: &'a [u32],
    bytes: &'a [[u8; GROUP]],
    table: &'a [T; 256],
    w: &'a [T],
    offset: &'a [T],
    oc: usize,
}

impl<T: GroupBlock> ColumnBlock for Group<'_, T> {
    #[inline(always)]
    fn block<const N: usize>(&mut self, start: usize) {
        let (oc, init): (usize, [T; N]) = (self.oc, self.offset[start..start + N].try_into().expect("block"));
        let mut acc = [init; GROUP];
        let w = &self.w[start..];
        if HAS_WIDE_KERNEL && N == T::WIDE_COLS {
            T::accumulate_wide(acc.as_flattened_mut(), self.cols, self.bytes, self.table, w, oc);
        } else {
            portable::accumulate_group(&mut acc, self.cols, self.bytes, self.table, w, oc);
        }
        for (acc, r) in acc.iter().zip(self.rows) {
            if let Some(r) = r {
                self.out[r * oc + start..r * oc + start + N].copy_from_slice(acc);
            }
        }
    }
}

/// Sparse first-layer forward on images `first..first + rows` of `x`, a group at a time:
/// out (rows, OC) = offset + sum over non-zeros (p, v) of v * W[p], with w (C, OC). The groups
/// from `first / GROUP` on must hold exactly those images (panics otherwise).
pub fn grouped_forward<T: GroupBlock>(
    out: &mut [T],
    x: &GroupCsr<T>,
    first: usize,
    rows: usize,
    w: &[T],
    offset: &[T],
    oc: usize,
) {
    assert!(first.is_multiple_of(GROUP), "groups start at multiples of {GROUP}");
    assert_eq!(out.len(), rows * oc, "out has one row per image");
    let widest = if HAS_WIDE_KERNEL { T::WIDE_COLS } else { T::PORTABLE_COLS };
    let row = |i: u32| {
        let r = (i as usize).wrapping_sub(first);
        assert!(r < rows, "group image {i} outside images {first}..{}", first + rows);
        r
    };
    for group in first / GROUP..(first + rows).div_ceil(GROUP) {
        let (a, b) = (x.group_ptr[group], x.group_ptr[group + 1]);
        let rows = x.images[group].map(|i| (i != NO_IMAGE).then(|| row(i)));
        let (cols, bytes, table) = (&x.cols[a..b], &x.bytes[a..b], x.table);
        let mut op = Group { out: &mut *out, rows, cols, bytes, table, w, offset, oc };
        let tail = column_blocks(oc, widest, &mut op);
        tail_blocks(tail, oc, &mut op);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::linear_forward;
    use crate::testing::{assert_close, Lcg};

    /// Random raw images (about 30% non-zero pixels) grouped within aligned windows of `window`
    /// images, members taken from both ends of the window inwards, and the same images dense and
    /// normalised with a ones column.
    #[allow(clippy::type_complexity)]
    fn grouped<T: Scalar>(
        n: usize,
        p: usize,
        window: usize,
        table: &[f64; 256],
        shift: f64,
        rng: &mut Lcg,
    ) -> (Vec<usize>, Vec<[u32; GROUP]>, Vec<u32>, Vec<[u8; GROUP]>, Vec<T>) {
        let u: Vec<f64> = rng.vec(n * p);
        let raw: Vec<u8> = u.iter().map(|&r| if r > 0.4 { ((r - 0.4) / 0.6 * 254.0) as u8 + 1 } else { 0 }).collect();
        let dense = (0..n)
            .flat_map(|i| raw[i * p..(i + 1) * p].iter().map(|&v| table[v as usize] - shift).chain([1.0]))
            .map(T::from_f64)
            .collect();
        let (mut ptr, mut images, mut cols, mut bytes) = (vec![0], vec![], vec![], vec![]);
        for start in (0..n).step_by(window) {
            let ids: Vec<u32> = (start as u32..n.min(start + window) as u32).collect();
            let (mut lo, mut hi) = (0, ids.len());
            while lo < hi {
                let mut g = [NO_IMAGE; GROUP];
                for (k, slot) in g.iter_mut().enumerate() {
                    if lo < hi {
                        *slot = if k % 2 == 0 {
                            lo += 1;
                            ids[lo - 1]
                        } else {
                            hi -= 1;
                            ids[hi]
                        };
                    }
                }
                images.push(g);
                for q in 0..p {
                    let v = g.map(|i| if i == NO_IMAGE { 0 } else { raw[i as usize * p + q] });
                    if v.iter().any(|&v| v != 0) {
                        cols.push(q as u32);
                        bytes.push(v);
                    }
                }
                ptr.push(cols.len());
            }
        }
        (ptr, images, cols, bytes, dense)
    }

    fn grouped_matches_dense<T: GroupBlock>(tol: f64) {
        let mut rng = Lcg(29);
        let (mu, sigma) = (33.3, 78.6);
        let table64: [f64; 256] = std::array::from_fn(|v| v as f64 / sigma);
        let table: [T; 256] = table64.map(T::from_f64);
        for &(n, p, oc) in
            &[(1, 1, 1), (7, 13, 5), (33, 784, 64), (9, 100, 37), (21, 50, 96), (13, 40, 147), (70, 30, 20)]
        {
            for window in [4, 8, 12] {
                let (ptr, images, cols, bytes, dense) = grouped::<T>(n, p, window, &table64, mu / sigma, &mut rng);
                let x = GroupCsr { group_ptr: &ptr, images: &images, cols: &cols, bytes: &bytes, table: &table };
                let c = p + 1;
                let w: Vec<T> = rng.vec(c * oc);
                let mut offset = vec![T::ZERO; oc];
                crate::sparse::first_layer_offset(&mut offset, &w, c, oc, T::from_f64(mu / sigma));
                for first in (0..n).step_by(window) {
                    let rows = n - first;
                    let mut out = vec![T::from_f64(f64::NAN); rows * oc];
                    grouped_forward(&mut out, &x, first, rows, &w, &offset, oc);
                    let mut want = vec![T::ZERO; rows * oc];
                    linear_forward(1, &mut want, &dense[first * c..], &w, rows, c, oc);
                    assert_close(&out, &want, tol);
                }
            }
        }
    }

    #[test]
    fn grouped_forward_matches_dense_on_odd_shapes_f64() {
        grouped_matches_dense::<f64>(1e-10);
    }

    #[test]
    fn grouped_forward_matches_dense_on_odd_shapes_f32() {
        grouped_matches_dense::<f32>(2e-3);
    }

    /// The AVX-512 block and the portable loop do the same FMAs in the same order: equal bits.
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
    #[test]
    fn wide_kernel_equals_the_portable_loop() {
        fn check<T: GroupBlock, const N: usize>() {
            assert_eq!(N, T::WIDE_COLS);
            let mut rng = Lcg(31);
            let (p, oc) = (50, N + 7);
            let table: [T; 256] = std::array::from_fn(|v| T::from_f64(v as f64 / 78.6));
            let w: Vec<T> = rng.vec(p * oc);
            let cols: Vec<u32> = (0..p as u32).filter(|q| q % 3 != 1).collect();
            let bytes: Vec<[u8; GROUP]> =
                cols.iter().map(|&q| std::array::from_fn(|g| ((q as usize * 37 + g * 101) % 256) as u8)).collect();
            let init: Vec<T> = rng.vec(GROUP * N);
            let mut want: [[T; N]; GROUP] = std::array::from_fn(|g| init[g * N..(g + 1) * N].try_into().unwrap());
            portable::accumulate_group(&mut want, &cols, &bytes, &table, &w[3..], oc);
            let mut got = init.clone();
            T::accumulate_wide(&mut got, &cols, &bytes, &table, &w[3..], oc);
            assert_eq!(got, want.as_flattened());
        }
        check::<f32, 64>();
        check::<f64, 32>();
    }
}
