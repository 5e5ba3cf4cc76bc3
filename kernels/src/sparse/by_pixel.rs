//! A batch in pixel-major order, and the sparse first layer's weight gradient and fused SGD step.

use super::blocks::{column_blocks, tail_blocks, ColumnBlock, WIDE};
use super::csr::Csr;
use crate::Scalar;

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
/// row of the batch has. The pass also leaves in `offset` (OC) the [`super::first_layer_offset`] of the
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
