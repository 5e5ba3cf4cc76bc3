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
/// non-zero pixel indices (< P) and `vals` the pixel values divided by sigma.
#[derive(Debug, Clone, Copy)]
pub struct Csr<'a, T> {
    pub row_ptr: &'a [usize],
    pub cols: &'a [u32],
    pub vals: &'a [T],
}

impl<'a, T> Csr<'a, T> {
    #[inline(always)]
    pub fn row(&self, i: usize) -> (&'a [u32], &'a [T]) {
        let (a, b) = (self.row_ptr[i], self.row_ptr[i + 1]);
        (&self.cols[a..b], &self.vals[a..b])
    }
}

/// Asks the CPU to start loading the non-zeros of `rows` into cache. Training batches are random
/// rows of a data set far larger than the caches: prefetching the next batch while this one
/// computes hides the memory latency. No effect on results; a no-op off x86-64.
pub fn prefetch_rows<T>(x: &Csr<T>, rows: impl Iterator<Item = usize>) {
    #[cfg(target_arch = "x86_64")]
    for i in rows {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let (cols, vals) = x.row(i);
        let lines = |bytes: usize| (0..bytes).step_by(64).chain(bytes.checked_sub(1));
        for at in lines(std::mem::size_of_val(cols)) {
            // SAFETY: a prefetch never faults; the address is inside `cols`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(cols.as_ptr().cast::<i8>().add(at)) };
        }
        for at in lines(std::mem::size_of_val(vals)) {
            // SAFETY: as above, inside `vals`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(vals.as_ptr().cast::<i8>().add(at)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, rows);
}

/// Column block widths: a block's accumulators stay in registers across a row's non-zeros, and a
/// wide block gives enough independent add chains to hide their latency.
pub const WIDE: usize = 64;
const NARROW: usize = 16;

/// acc[k] += sum over the row's non-zeros (p, v) of v * w[p * oc + k], for one block of columns.
/// Two halves of the non-zeros go into two sets of accumulators, added at the end: twice the
/// independent add chains (measured 18 -> 15 us per batch of 32 in `make bench`).
#[inline(always)]
fn accumulate_block<T: Scalar, const N: usize>(acc: &mut [T; N], cols: &[u32], vals: &[T], w: &[T], oc: usize) {
    let row = |p: u32| -> &[T; N] { w[p as usize * oc..p as usize * oc + N].try_into().expect("block") };
    let half = cols.len() / 2;
    let mut acc2 = [T::ZERO; N];
    for ((&p, &v), (&q, &u)) in cols[..half].iter().zip(&vals[..half]).zip(cols[half..].iter().zip(&vals[half..])) {
        let (wp, wq) = (row(p), row(q));
        for k in 0..N {
            acc[k] = v.mul_add(wp[k], acc[k]);
            acc2[k] = u.mul_add(wq[k], acc2[k]);
        }
    }
    if cols.len() % 2 == 1 {
        let wp = row(cols[cols.len() - 1]);
        let v = vals[vals.len() - 1];
        for k in 0..N {
            acc[k] = v.mul_add(wp[k], acc[k]);
        }
    }
    for k in 0..N {
        acc[k] += acc2[k];
    }
}

/// [`accumulate_block`] with one set of accumulators, for short lists.
#[inline(always)]
fn accumulate_one<T: Scalar, const N: usize>(acc: &mut [T; N], cols: &[u32], vals: &[T], w: &[T], oc: usize) {
    for (&p, &v) in cols.iter().zip(vals) {
        let wp: &[T; N] = w[p as usize * oc..p as usize * oc + N].try_into().expect("block");
        for k in 0..N {
            acc[k] = v.mul_add(wp[k], acc[k]);
        }
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
    for (z, i) in out.chunks_exact_mut(oc).zip(rows) {
        let (cols, vals) = x.row(i);
        let mut start = 0;
        while start + WIDE <= oc {
            let mut acc: [T; WIDE] = offset[start..start + WIDE].try_into().expect("block");
            accumulate_block(&mut acc, cols, vals, &w[start..], oc);
            z[start..start + WIDE].copy_from_slice(&acc);
            start += WIDE;
        }
        while start + NARROW <= oc {
            let mut acc: [T; NARROW] = offset[start..start + NARROW].try_into().expect("block");
            accumulate_block(&mut acc, cols, vals, &w[start..], oc);
            z[start..start + NARROW].copy_from_slice(&acc);
            start += NARROW;
        }
        if start < oc {
            let tail = &mut z[start..];
            tail.copy_from_slice(&offset[start..]);
            for (&p, &v) in cols.iter().zip(vals) {
                let wr = &w[p as usize * oc + start..(p as usize + 1) * oc];
                tail.iter_mut().zip(wr).for_each(|(z, &w)| *z = v.mul_add(w, *z));
            }
        }
    }
}

/// A batch's non-zeros regrouped by pixel (compressed sparse columns), so the weight gradient
/// writes each pixel row once instead of once per non-zero. Sized for the worst case up front:
/// filling it never allocates.
pub struct ByPixel<T> {
    /// start[p]..start[p+1] index the entries of pixel p (P + 1 values, plus one for counting).
    start: Vec<usize>,
    /// Batch row of each entry.
    rows: Vec<u32>,
    vals: Vec<T>,
}

impl<T: Scalar> ByPixel<T> {
    pub fn new(b: usize, pixels: usize) -> Self {
        Self { start: vec![0; pixels + 2], rows: vec![0; b * pixels], vals: vec![T::ZERO; b * pixels] }
    }

    /// Counting sort of the batch's non-zeros by pixel: the rows `rows` of `x` become batch
    /// rows 0, 1, ...
    pub fn fill(&mut self, x: &Csr<T>, rows: impl Iterator<Item = usize> + Clone) {
        self.start.fill(0);
        for i in rows.clone() {
            x.row(i).0.iter().for_each(|&p| self.start[p as usize + 2] += 1);
        }
        for p in 2..self.start.len() {
            self.start[p] += self.start[p - 1];
        }
        // start[p + 1] now counts the entries before pixel p; it advances while placing them.
        for (r, i) in rows.enumerate() {
            let (cols, vals) = x.row(i);
            for (&p, &v) in cols.iter().zip(vals) {
                let at = &mut self.start[p as usize + 1];
                self.rows[*at] = r as u32;
                self.vals[*at] = v;
                *at += 1;
            }
        }
    }

    fn pixel(&self, p: usize) -> (&[u32], &[T]) {
        let (a, b) = (self.start[p], self.start[p + 1]);
        (&self.rows[a..b], &self.vals[a..b])
    }
}

/// sums (OC) = the sum over one pixel's entries (r, v) of v * dout[r], dout (B, OC).
fn pixel_sum<T: Scalar>(sums: &mut [T], rows: &[u32], vals: &[T], dout: &[T], oc: usize) {
    let mut start = 0;
    while start + WIDE <= oc {
        let mut acc = [T::ZERO; WIDE];
        accumulate_one(&mut acc, rows, vals, &dout[start..], oc);
        sums[start..start + WIDE].copy_from_slice(&acc);
        start += WIDE;
    }
    while start + NARROW <= oc {
        let mut acc = [T::ZERO; NARROW];
        accumulate_one(&mut acc, rows, vals, &dout[start..], oc);
        sums[start..start + NARROW].copy_from_slice(&acc);
        start += NARROW;
    }
    let tail = &mut sums[start..];
    tail.fill(T::ZERO);
    for (&r, &v) in rows.iter().zip(vals) {
        let d = &dout[r as usize * oc + start..(r as usize + 1) * oc];
        tail.iter_mut().zip(d).for_each(|(a, &d)| *a = v.mul_add(d, *a));
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
        let (rows, vals) = by_pixel.pixel(q);
        pixel_sum(g, rows, vals, dout, oc);
        g.iter_mut().zip(&*bias).for_each(|(g, &s)| *g = (*g - shift * s) * inv_b);
    }
    bias.iter_mut().for_each(|s| *s *= inv_b);
}

/// Weight gradient and SGD step of the sparse first layer in one pass over w (C, OC), without
/// forming the gradient: w -= lr * dw with dw exactly as [`sparse_linear_backward_weights`] gives
/// it (same operations, same bits). The pass also leaves in `offset` (OC) the
/// [`first_layer_offset`] of the updated weights, so the next forward need not sum 784 rows again.
/// `scratch` holds 2 * OC values.
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
    let inv_b = T::ONE / T::from_f64((dout.len() / oc) as f64);
    let (pixels, bias) = w.split_at_mut(p * oc);
    let (colsum, sums) = scratch[..2 * oc].split_at_mut(oc);
    // s, the column sum of dout, waits in `offset` until the bias row is updated.
    let s = offset;
    column_sums(s, dout);
    colsum.fill(T::ZERO);
    for (q, w) in pixels.chunks_exact_mut(oc).enumerate() {
        let (rows, vals) = by_pixel.pixel(q);
        if rows.is_empty() {
            // No entries: the sums are 0, so only the rank-one term remains.
            for ((w, &s), cs) in w.iter_mut().zip(&*s).zip(colsum.iter_mut()) {
                *w -= lr * ((T::ZERO - shift * s) * inv_b);
                *cs += *w;
            }
        } else {
            pixel_sum(sums, rows, vals, dout, oc);
            for (((w, &a), &s), cs) in w.iter_mut().zip(&*sums).zip(&*s).zip(colsum.iter_mut()) {
                *w -= lr * ((a - shift * s) * inv_b);
                *cs += *w;
            }
        }
    }
    for ((b, s), &cs) in bias.iter_mut().zip(s.iter_mut()).zip(colsum.iter()) {
        *b -= lr * (*s * inv_b);
        *s = *b - shift * cs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{linear_backward, linear_forward};
    use crate::testing::{assert_close, Lcg};

    /// Random sparse "images" of `p` pixels (about 20% non-zero, values 1..=255) in both forms:
    /// CSR scaled by 1/sigma and dense normalised with a ones column.
    fn images(n: usize, p: usize, mu: f64, sigma: f64, rng: &mut Lcg) -> (Vec<usize>, Vec<u32>, Vec<f64>, Vec<f64>) {
        let u: Vec<f64> = rng.vec(n * p);
        let (mut row_ptr, mut cols, mut vals, mut dense) = (vec![0], vec![], vec![], vec![]);
        for i in 0..n {
            for q in 0..p {
                let r = u[i * p + q];
                let v = if r > 0.6 { ((r - 0.6) / 0.4 * 254.0).floor() + 1.0 } else { 0.0 };
                if v > 0.0 {
                    cols.push(q as u32);
                    vals.push(v / sigma);
                }
                dense.push((v - mu) / sigma);
            }
            dense.push(1.0);
            row_ptr.push(cols.len());
        }
        (row_ptr, cols, vals, dense)
    }

    #[test]
    fn sparse_first_layer_matches_dense_on_odd_shapes() {
        let mut rng = Lcg(17);
        let (mu, sigma) = (33.3, 78.6);
        for &(n, p, oc) in
            &[(1, 1, 1), (7, 13, 5), (32, 784, 64), (9, 100, 37), (5, 50, 16), (32, 784, 60), (3, 40, 147)]
        {
            let (row_ptr, cols, vals, dense) = images(n, p, mu, sigma, &mut rng);
            let x = Csr { row_ptr: &row_ptr, cols: &cols, vals: &vals };
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
            let mut by_pixel = ByPixel::new(n, p);
            by_pixel.fill(&x, rows.iter().copied());
            sparse_linear_backward_weights(&mut dw, &by_pixel, &dout, c, oc, mu / sigma);
            let mut want_dw = vec![0.0; c * oc];
            linear_backward(None, &mut want_dw, &dout, &dense_rows, &w, n, c, oc);
            assert_close(&dw, &want_dw, 1e-10);

            // The fused step equals gradient-then-update bit for bit, and leaves the new offset.
            let lr = 0.37;
            let mut want_w = w.clone();
            crate::optim::sgd_update(&mut want_w, &dw, lr);
            let mut want_offset = vec![0.0; oc];
            first_layer_offset(&mut want_offset, &want_w, c, oc, mu / sigma);
            let (mut fused_w, mut colsum) = (w.clone(), vec![0.0; 2 * oc]);
            sparse_linear_sgd(&mut fused_w, &by_pixel, &dout, c, oc, mu / sigma, lr, &mut offset, &mut colsum);
            assert_eq!(fused_w, want_w);
            assert_eq!(offset, want_offset);
        }
    }
}
