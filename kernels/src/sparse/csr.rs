//! Images as compressed sparse rows, and the sparse first-layer forward on them.

use super::blocks::{column_blocks, ColumnBlock, WIDE};
use crate::Scalar;

/// A data set's images as compressed sparse rows, owned: the non-zero pixels of each image.
#[derive(Debug, Clone, Default)]
pub struct CsrImages {
    pub row_ptr: Vec<usize>,
    pub cols: Vec<u32>,
    pub bytes: Vec<u8>,
}

impl CsrImages {
    /// The non-zero pixels of the `images.len() / pixels` raw images of `pixels` bytes each.
    pub fn build(images: &[u8], pixels: usize) -> Self {
        assert!(pixels > 0 && images.len().is_multiple_of(pixels), "whole images of {pixels} pixels");
        let nonzero = images.iter().filter(|&&p| p != 0).count();
        let (mut cols, mut bytes) = (Vec::with_capacity(nonzero), Vec::with_capacity(nonzero));
        let mut row_ptr = Vec::with_capacity(images.len() / pixels + 1);
        row_ptr.push(0);
        for img in images.chunks_exact(pixels) {
            for (q, &p) in img.iter().enumerate().filter(|(_, &p)| p != 0) {
                cols.push(q as u32);
                bytes.push(p);
            }
            row_ptr.push(cols.len());
        }
        Self { row_ptr, cols, bytes }
    }

    /// Images in the set.
    pub fn len(&self) -> usize {
        self.row_ptr.len().saturating_sub(1)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rows with `table` mapping raw values to the layer's input values.
    pub fn view<'a, T>(&'a self, table: &'a [T; 256]) -> Csr<'a, T> {
        Csr { row_ptr: &self.row_ptr, cols: &self.cols, bytes: &self.bytes, table }
    }
}

/// Images as compressed sparse rows: for image i, `cols[row_ptr[i]..row_ptr[i+1]]` are its
/// non-zero pixel indices (< P) and `bytes` their raw values (1..=255); `table` maps a raw value
/// to the value the layer multiplies with (raw / sigma). One byte per non-zero keeps a batch's
/// pixels small in cache.
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a, T> {
    pub row_ptr: &'a [usize],
    pub cols: &'a [u32],
    pub bytes: &'a [u8],
    pub table: &'a [T; 256],
}

impl<'a, T> Csr<'a, T> {
    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [u8]) {
        let (a, b) = (self.row_ptr[i], self.row_ptr[i + 1]);
        (&self.cols[a..b], &self.bytes[a..b])
    }
}

/// Asks the CPU to start loading the non-zeros of `rows` into cache. Training batches are random
/// rows of a data set far larger than the caches: prefetching the next batch while this one
/// computes hides the memory latency. No effect on results; a no-op off x86-64.
pub fn prefetch_rows<T>(x: &Csr<T>, rows: impl Iterator<Item = usize>) {
    #[cfg(target_arch = "x86_64")]
    for i in rows {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let (cols, bytes) = x.row(i);
        let lines = |len: usize| (0..len).step_by(64).chain(len.checked_sub(1));
        for at in lines(std::mem::size_of_val(cols)) {
            // SAFETY: a prefetch never faults; the address is inside `cols`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(cols.as_ptr().cast::<i8>().add(at)) };
        }
        for at in lines(bytes.len()) {
            // SAFETY: as above, inside `bytes`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().cast::<i8>().add(at)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, rows);
}

/// acc[k] += sum over the row's non-zeros (p, v) of table[v] * w[p * oc + k], for one block of
/// columns. Two halves of the non-zeros go into two sets of accumulators, added at the end: twice
/// the independent add chains, to hide the add latency.
#[inline(always)]
fn accumulate_block<T: Scalar, const N: usize>(
    acc: &mut [T; N],
    cols: &[u32],
    bytes: &[u8],
    table: &[T; 256],
    w: &[T],
    oc: usize,
) {
    let row = |p: u32| -> &[T; N] { w[p as usize * oc..p as usize * oc + N].try_into().expect("block") };
    let half = cols.len() / 2;
    let mut acc2 = [T::ZERO; N];
    for ((&p, &v), (&q, &u)) in cols[..half].iter().zip(&bytes[..half]).zip(cols[half..].iter().zip(&bytes[half..])) {
        let (wp, wq) = (row(p), row(q));
        let (v, u) = (table[v as usize], table[u as usize]);
        for k in 0..N {
            acc[k] = v.mul_add(wp[k], acc[k]);
            acc2[k] = u.mul_add(wq[k], acc2[k]);
        }
    }
    if cols.len() % 2 == 1 {
        let wp = row(cols[cols.len() - 1]);
        let v = table[bytes[bytes.len() - 1] as usize];
        for k in 0..N {
            acc[k] = v.mul_add(wp[k], acc[k]);
        }
    }
    for k in 0..N {
        acc[k] += acc2[k];
    }
}

/// The per-output constant of the first layer: offset (OC) = W[P] - shift * colsum(W[..P]),
/// with shift = mu / sigma. w (C, OC).
pub fn first_layer_offset<T: Scalar>(offset: &mut [T], w: &[T], c: usize, oc: usize, shift: T) {
    let p = c - 1;
    offset.fill(T::ZERO);
    for row in w[..p * oc].chunks_exact(oc) {
        offset.iter_mut().zip(row).for_each(|(o, &w)| *o += w);
    }
    let bias = &w[p * oc..c * oc];
    offset.iter_mut().zip(bias).for_each(|(o, &b)| *o = b - shift * *o);
}

/// Sparse first-layer forward. For each of the B rows `rows` of `x`:
/// out (B, OC) = offset + sum over non-zeros (p, v) of v * W[p], with w (C, OC).
/// Panics unless `rows` yields exactly B rows and offset has OC values.
pub fn sparse_linear_forward<T: Scalar>(
    out: &mut [T],
    x: &Csr<T>,
    mut rows: impl Iterator<Item = usize>,
    w: &[T],
    offset: &[T],
    oc: usize,
) {
    struct Row<'a, T> {
        z: &'a mut [T],
        cols: &'a [u32],
        bytes: &'a [u8],
        table: &'a [T; 256],
        w: &'a [T],
        offset: &'a [T],
        oc: usize,
    }
    impl<T: Scalar> ColumnBlock for Row<'_, T> {
        #[inline(always)]
        fn block<const N: usize>(&mut self, start: usize) {
            let mut acc: [T; N] = self.offset[start..start + N].try_into().expect("block");
            accumulate_block(&mut acc, self.cols, self.bytes, self.table, &self.w[start..], self.oc);
            self.z[start..start + N].copy_from_slice(&acc);
        }
    }
    assert!(oc > 0 && out.len().is_multiple_of(oc), "out holds whole rows of {oc}");
    assert_eq!(offset.len(), oc, "offset has one value per output");
    for z in out.chunks_exact_mut(oc) {
        let i = rows.next().expect("sparse_linear_forward: fewer rows than out has room for");
        let (cols, bytes) = x.row(i);
        let mut row = Row { z, cols, bytes, table: x.table, w, offset, oc };
        let start = column_blocks(oc, WIDE, &mut row);
        let z = row.z;
        if start < oc {
            let tail = &mut z[start..];
            tail.copy_from_slice(&offset[start..]);
            for (&p, &v) in cols.iter().zip(bytes) {
                let (wr, v) = (&w[p as usize * oc + start..(p as usize + 1) * oc], x.table[v as usize]);
                tail.iter_mut().zip(wr).for_each(|(z, &w)| *z = v.mul_add(w, *z));
            }
        }
    }
    assert!(rows.next().is_none(), "sparse_linear_forward: more rows than out has room for");
}
