//! The first layer on sparse raw pixels.
//!
//! About 81% of MNIST pixels are exactly zero before normalisation. With global normalisation
//! x' = (x - mu) / sigma and a bias column of ones, the first layer's product splits into a sparse
//! part and a rank-one correction:
//!
//!   x' @ W = (x / sigma) @ W[..P] - (mu / sigma) * colsum(W[..P]) + W[P]
//!
//! so the forward pass and the weight gradient only visit the non-zero pixels (about 150 of 784).
//! Dimension letters: `B` rows, `P` pixels, `C = P + 1` inputs (bias last), `OC` outputs.

use crate::Scalar;

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

/// Column block widths: a block's accumulators stay in registers across a row's non-zeros, and a
/// wide block gives enough independent add chains to hide their latency.
pub const WIDE: usize = 64;
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

/// acc[k] += sum over the row's non-zeros (p, v) of table[v] * w[p * oc + k], for one block of
/// columns. Two halves of the non-zeros go into two sets of accumulators, added at the end: twice
/// the independent add chains (measured 18 -> 15 us per batch of 32 in `make bench`).
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
pub fn sparse_linear_forward<T: Scalar>(
    out: &mut [T],
    x: &Csr<T>,
    rows: impl Iterator<Item = usize>,
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
    for (z, i) in out.chunks_exact_mut(oc).zip(rows) {
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
}

/// A batch transposed to pixel-major order, so the weight gradient visits each pixel's weight
/// row once: the raw value of every (pixel, batch row) and, per pixel, a bit mask of the rows
/// where it is non-zero. Filling it is one pass over the non-zeros writing bytes into a
/// P x B table (25 KB at batch 32: it stays in L1); it never allocates.
pub struct ByPixel<T> {
    /// Batch rows there is room for.
    capacity: usize,
    /// 64-bit mask words per pixel.
    words: usize,
    /// (P, capacity): raw value of each (pixel, row); meaningful only where the mask bit is set.
    raw: Vec<u8>,
    /// (P, words): bit r set when row r has the pixel non-zero.
    mask: Vec<u64>,
    /// The [`Csr::table`] of the last fill.
    table: [T; 256],
}

impl<T: Scalar> ByPixel<T> {
    pub fn new(b: usize, pixels: usize) -> Self {
        let words = b.div_ceil(64);
        Self { capacity: b, words, raw: vec![0; pixels * b], mask: vec![0; pixels * words], table: [T::ZERO; 256] }
    }

    /// Transposes the rows `rows` of `x` (at most the capacity), which become batch rows 0, 1, ...
    pub fn fill(&mut self, x: &Csr<T>, rows: impl Iterator<Item = usize>) {
        self.mask.fill(0);
        self.table = *x.table;
        for (r, i) in rows.enumerate() {
            assert!(r < self.capacity, "more rows than the batch was sized for");
            let (cols, bytes) = x.row(i);
            let (word, bit) = (r / 64, 1u64 << (r % 64));
            for (&p, &v) in cols.iter().zip(bytes) {
                self.raw[p as usize * self.capacity + r] = v;
                self.mask[p as usize * self.words + word] |= bit;
            }
        }
    }

    fn is_empty(&self, p: usize) -> bool {
        self.mask[p * self.words..(p + 1) * self.words].iter().all(|&m| m == 0)
    }

    /// acc[k] += sum over the rows r where pixel p is non-zero of value(r) * d[r * oc + k], for one
    /// block of columns; alternate rows go to two sets of accumulators (independent add chains).
    #[inline(always)]
    fn accumulate_block<const N: usize>(&self, acc: &mut [T; N], p: usize, d: &[T], oc: usize) {
        let raw = &self.raw[p * self.capacity..(p + 1) * self.capacity];
        let mask = &self.mask[p * self.words..(p + 1) * self.words];
        let entry = |word: usize, m: u64| {
            let r = word * 64 + m.trailing_zeros() as usize;
            let d: &[T; N] = d[r * oc..r * oc + N].try_into().expect("block");
            (self.table[raw[r] as usize], d)
        };
        let mut acc2 = [T::ZERO; N];
        for (word, &m) in mask.iter().enumerate() {
            let mut m = m;
            while m != 0 {
                let (v, d) = entry(word, m);
                m &= m - 1;
                // An odd last entry pairs with itself at value 0, which adds exactly 0: no
                // data-dependent branch inside the loop.
                let (u, e) = if m == 0 { (T::ZERO, d) } else { entry(word, m) };
                m &= m.wrapping_sub(1);
                for k in 0..N {
                    acc[k] = v.mul_add(d[k], acc[k]);
                    acc2[k] = u.mul_add(e[k], acc2[k]);
                }
            }
        }
        for k in 0..N {
            acc[k] += acc2[k];
        }
    }

    /// sums (OC) = the sum over the rows r where pixel p is non-zero of value(r) * dout[r],
    /// dout (B, OC).
    fn pixel_sum(&self, sums: &mut [T], p: usize, dout: &[T], oc: usize) {
        struct Sums<'a, T> {
            by_pixel: &'a ByPixel<T>,
            sums: &'a mut [T],
            p: usize,
            dout: &'a [T],
            oc: usize,
        }
        impl<T: Scalar> ColumnBlock for Sums<'_, T> {
            #[inline(always)]
            fn block<const N: usize>(&mut self, start: usize) {
                let mut acc = [T::ZERO; N];
                self.by_pixel.accumulate_block(&mut acc, self.p, &self.dout[start..], self.oc);
                self.sums[start..start + N].copy_from_slice(&acc);
            }
        }
        let mut op = Sums { by_pixel: self, sums, p, dout, oc };
        let tail = column_blocks(oc, WIDE, &mut op);
        tail_blocks(tail, oc, &mut op);
    }
}

/// Column sums of dout (B, OC) into s (OC).
fn column_sums<T: Scalar>(s: &mut [T], dout: &[T]) {
    s.fill(T::ZERO);
    for d in dout.chunks_exact(s.len()) {
        s.iter_mut().zip(d).for_each(|(s, &d)| *s += d);
    }
}

/// Sparse first-layer weight gradient, averaged over the batch. dout (B, OC) of the batch that
/// `by_pixel` was filled with -> dw (C, OC): row p < P is (sum_i x_ip dout_i - shift * s) / B,
/// row P is s / B, where s is the column sum of dout.
pub fn sparse_linear_backward_weights<T: Scalar>(
    dw: &mut [T],
    by_pixel: &ByPixel<T>,
    dout: &[T],
    c: usize,
    oc: usize,
    shift: T,
) {
    let p = c - 1;
    let inv_b = T::ONE / T::from_f64((dout.len() / oc) as f64);
    let (pixels, bias) = dw.split_at_mut(p * oc);
    column_sums(bias, dout);
    for (q, g) in pixels.chunks_exact_mut(oc).enumerate() {
        by_pixel.pixel_sum(g, q, dout, oc);
        g.iter_mut().zip(&*bias).for_each(|(g, &s)| *g = (*g - shift * s) * inv_b);
    }
    bias.iter_mut().for_each(|s| *s *= inv_b);
}

/// Weight gradient and SGD step of the sparse first layer in one pass over w (C, OC), without
/// forming the gradient: w -= lr * dw with dw as [`sparse_linear_backward_weights`] gives it,
/// regrouped as w[p] += lr / B * (shift * s - sum_i x_ip dout_i), where s is the column sum of
/// dout: the first term is the same for every pixel row, the second is zero for the pixels no
/// row of the batch has. The pass also leaves in `offset` (OC) the [`first_layer_offset`] of the
/// updated weights, so the next forward need not sum 784 rows again. `scratch` holds 3 * OC
/// values.
#[allow(clippy::too_many_arguments)]
pub fn sparse_linear_sgd<T: Scalar>(
    w: &mut [T],
    by_pixel: &ByPixel<T>,
    dout: &[T],
    c: usize,
    oc: usize,
    shift: T,
    lr: T,
    offset: &mut [T],
    scratch: &mut [T],
) {
    let p = c - 1;
    let step = lr / T::from_f64((dout.len() / oc) as f64);
    let (pixels, bias) = w.split_at_mut(p * oc);
    let (colsum, rest) = scratch[..3 * oc].split_at_mut(oc);
    let (sums, common) = rest.split_at_mut(oc);
    // s, the column sum of dout, waits in `offset` until the bias row is updated.
    let s = offset;
    column_sums(s, dout);
    common.iter_mut().zip(&*s).for_each(|(m, &s)| *m = step * (shift * s));
    colsum.fill(T::ZERO);
    for (q, w) in pixels.chunks_exact_mut(oc).enumerate() {
        if by_pixel.is_empty(q) {
            for ((w, &m), cs) in w.iter_mut().zip(&*common).zip(colsum.iter_mut()) {
                *w += m;
                *cs += *w;
            }
        } else {
            by_pixel.pixel_sum(sums, q, dout, oc);
            for (((w, &a), &m), cs) in w.iter_mut().zip(&*sums).zip(&*common).zip(colsum.iter_mut()) {
                *w = (-step).mul_add(a, *w) + m;
                *cs += *w;
            }
        }
    }
    for ((b, s), &cs) in bias.iter_mut().zip(s.iter_mut()).zip(colsum.iter()) {
        *b -= step * *s;
        *s = *b - shift * cs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{linear_backward, linear_forward};
    use crate::testing::{assert_close, Lcg};

    /// Random sparse "images" of `p` pixels (about 20% non-zero, values 1..=255) in both forms:
    /// CSR of raw values and dense normalised with a ones column.
    fn images(n: usize, p: usize, mu: f64, sigma: f64, rng: &mut Lcg) -> (Vec<usize>, Vec<u32>, Vec<u8>, Vec<f64>) {
        let u: Vec<f64> = rng.vec(n * p);
        let (mut row_ptr, mut cols, mut bytes, mut dense) = (vec![0], vec![], vec![], vec![]);
        for i in 0..n {
            for q in 0..p {
                let r = u[i * p + q];
                let v = if r > 0.6 { ((r - 0.6) / 0.4 * 254.0).floor() + 1.0 } else { 0.0 };
                if v > 0.0 {
                    cols.push(q as u32);
                    bytes.push(v as u8);
                }
                dense.push((v - mu) / sigma);
            }
            dense.push(1.0);
            row_ptr.push(cols.len());
        }
        (row_ptr, cols, bytes, dense)
    }

    #[test]
    fn sparse_first_layer_matches_dense_on_odd_shapes() {
        let mut rng = Lcg(17);
        let (mu, sigma) = (33.3, 78.6);
        let table: [f64; 256] = std::array::from_fn(|v| v as f64 / sigma);
        for &(n, p, oc) in &[
            (1, 1, 1),
            (7, 13, 5),
            (32, 784, 64),
            (9, 100, 37),
            (5, 50, 16),
            (32, 784, 60),
            (3, 40, 147),
            (70, 30, 20),
            (130, 9, 3),
        ] {
            let (row_ptr, cols, bytes, dense) = images(n, p, mu, sigma, &mut rng);
            let x = Csr { row_ptr: &row_ptr, cols: &cols, bytes: &bytes, table: &table };
            let c = p + 1;
            let w: Vec<f64> = rng.vec(c * oc);
            let rows: Vec<usize> = (0..n).rev().collect();
            let dense_rows: Vec<f64> = rows.iter().flat_map(|&i| dense[i * c..(i + 1) * c].to_vec()).collect();

            let mut offset = vec![0.0; oc];
            first_layer_offset(&mut offset, &w, c, oc, mu / sigma);
            let mut fast = vec![0.0; n * oc];
            sparse_linear_forward(&mut fast, &x, rows.iter().copied(), &w, &offset, oc);
            let mut want = vec![0.0; n * oc];
            linear_forward(&mut want, &dense_rows, &w, n, c, oc);
            assert_close(&fast, &want, 1e-10);

            let dout: Vec<f64> = rng.vec(n * oc);
            let mut dw = vec![0.0; c * oc];
            // A buffer last filled with other images must not leak them into this batch.
            let mut by_pixel = ByPixel::new(n, p);
            let (o_ptr, o_cols, o_bytes, _) = images(n, p, mu, sigma, &mut rng);
            by_pixel.fill(&Csr { row_ptr: &o_ptr, cols: &o_cols, bytes: &o_bytes, table: &table }, 0..n);
            by_pixel.fill(&x, rows.iter().copied());
            sparse_linear_backward_weights(&mut dw, &by_pixel, &dout, c, oc, mu / sigma);
            let mut want_dw = vec![0.0; c * oc];
            linear_backward(None, &mut want_dw, &dout, &dense_rows, &w, n, c, oc);
            assert_close(&dw, &want_dw, 1e-10);

            // The fused step equals gradient-then-update up to rounding, and leaves the new offset.
            let lr = 0.37;
            let mut want_w = w.clone();
            crate::optim::sgd_update(&mut want_w, &dw, lr);
            let mut want_offset = vec![0.0; oc];
            first_layer_offset(&mut want_offset, &want_w, c, oc, mu / sigma);
            let (mut fused_w, mut scratch) = (w.clone(), vec![0.0; 3 * oc]);
            sparse_linear_sgd(&mut fused_w, &by_pixel, &dout, c, oc, mu / sigma, lr, &mut offset, &mut scratch);
            assert_close(&fused_w, &want_w, 1e-12);
            assert_close(&offset, &want_offset, 1e-10);
        }
    }
}
