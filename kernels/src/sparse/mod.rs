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

mod blocks;
pub mod by_pixel;
pub mod csr;
pub mod grouped;

pub use by_pixel::{sparse_linear_backward_weights, sparse_linear_sgd, ByPixel};
pub use csr::{first_layer_offset, prefetch_rows, sparse_linear_forward, Csr, CsrImages};

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
            linear_forward(1, &mut want, &dense_rows, &w, n, c, oc);
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
            linear_backward(1, None, &mut want_dw, &dout, &dense_rows, &w, n, c, oc);
            assert_close(&dw, &want_dw, 1e-10);

            // The fused step equals gradient-then-update up to rounding, and leaves the new offset.
            let lr = 0.37;
            let mut want_w = w.clone();
            crate::optim::sgd_update(1, &mut want_w, &dw, lr, 0.0);
            let mut want_offset = vec![0.0; oc];
            first_layer_offset(&mut want_offset, &want_w, c, oc, mu / sigma);
            let (mut fused_w, mut scratch) = (w.clone(), vec![0.0; 3 * oc]);
            sparse_linear_sgd(&mut fused_w, &by_pixel, &dout, c, oc, mu / sigma, lr, &mut offset, &mut scratch);
            assert_close(&fused_w, &want_w, 1e-12);
            assert_close(&offset, &want_offset, 1e-10);
        }
    }

    /// The sparse forward of two one-pixel images into `out_rows` rows of output.
    fn forward_two_images_into(out_rows: usize) {
        let table = [1.0f64; 256];
        let x = Csr { row_ptr: &[0, 1, 2], cols: &[0, 1], bytes: &[3, 4], table: &table };
        let (w, offset) = (vec![0.5; 3 * 2], vec![0.0; 2]);
        let mut out = vec![0.0; out_rows * 2];
        sparse_linear_forward(&mut out, &x, 0..2, &w, &offset, 2);
    }

    #[test]
    #[should_panic(expected = "fewer rows than out has room for")]
    fn sparse_forward_refuses_too_few_rows() {
        forward_two_images_into(3);
    }

    #[test]
    #[should_panic(expected = "more rows than out has room for")]
    fn sparse_forward_refuses_too_many_rows() {
        forward_two_images_into(1);
    }
}
