//! Forward/backward pairs per layer kind, llm.c style.
//!
//! Dimension letters: `B` rows in the batch, `C` input features, `OC` output features,
//! `K` classes. All matrices are row-major and contiguous; outputs go into caller-owned buffers,
//! so nothing here allocates.

use crate::blas::{gemm_par, Transpose};
use crate::par::for_blocks;
use crate::Scalar;

/// Hidden-layer nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// Logistic sigmoid 1 / (1 + e^-z).
    Sigmoid,
    /// LeCun's improved sigmoid 1.7159 * tanh(2z/3).
    ImprovedSigmoid,
    /// max(z, 0), with derivative 1 where z > 0 and 0 elsewhere (as `torch.nn.ReLU`).
    Relu,
}

/// Which e^x (and tanh, cosh) the activation kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Math {
    /// The C library's functions, one call per element (the reference path).
    Libm,
    /// [`crate::fastmath`]: polynomial e^x, vectorised, within 2 ulp of libm; tanh and 1/cosh^2
    /// derived from e^(-2|y|), which is at most 1 and so never overflows.
    Fast,
}

/// Blocks of the elementwise kernels start at multiples of this many values (whole vectors).
pub(crate) const BLOCK_ALIGN: usize = 64;

/// Amplitude of the improved sigmoid (LeCun, Efficient Backprop, section 4.4).
pub const IMPROVED_A: f64 = 1.7159;
/// Slope factor of the improved sigmoid.
pub const IMPROVED_S: f64 = 2.0 / 3.0;

/// Linear layer without bias (the bias is the input's ones column).
/// inp (B, C), w (C, OC) -> out (B, OC) = inp @ w
///
/// `ways`: at most this many row blocks over the rayon pool (see [`gemm_par`]; the linear
/// functions' results do not depend on it).
pub fn linear_forward<T: Scalar>(ways: usize, out: &mut [T], inp: &[T], w: &[T], b: usize, c: usize, oc: usize) {
    gemm_par(ways, Transpose::No, Transpose::No, b, oc, c, T::ONE, inp, w, T::ZERO, out);
}

/// Backward of [`linear_forward`], with the weight gradient averaged over the batch.
/// dout (B, OC), inp (B, C), w (C, OC) ->
///   dw (C, OC) = inp^T @ dout / B,
///   dinp (B, C) = dout @ w^T (skipped for the first layer, whose input needs no gradient).
#[allow(clippy::too_many_arguments)]
pub fn linear_backward<T: Scalar>(
    ways: usize,
    dinp: Option<&mut [T]>,
    dw: &mut [T],
    dout: &[T],
    inp: &[T],
    w: &[T],
    b: usize,
    c: usize,
    oc: usize,
) {
    let inv_b = T::ONE / T::from_f64(b as f64);
    gemm_par(ways, Transpose::Yes, Transpose::No, c, oc, b, inv_b, inp, dout, T::ZERO, dw);
    if let Some(dinp) = dinp {
        gemm_par(ways, Transpose::No, Transpose::Yes, b, c, oc, T::ONE, dout, w, T::ZERO, dinp);
    }
}

/// [`linear_backward`] with the input gradient taken from a transposed copy of the weights:
/// wt (OC, C) <- w^T, then dinp (B, C) = dout @ wt. OpenBLAS runs this NN product much faster than
/// the NT one at the hidden-layer shapes of a training step, which more than pays for the copy
/// (results/bench/BENCHMARKS.md, "Figures behind the code").
#[allow(clippy::too_many_arguments)]
pub fn linear_backward_transposed<T: Scalar>(
    ways: usize,
    dinp: &mut [T],
    dw: &mut [T],
    dout: &[T],
    inp: &[T],
    w: &[T],
    wt: &mut [T],
    b: usize,
    c: usize,
    oc: usize,
) {
    linear_backward(ways, None, dw, dout, inp, w, b, c, oc);
    transpose::transpose(&w[..c * oc], &mut wt[..c * oc], oc, c);
    gemm_par(ways, Transpose::No, Transpose::No, b, c, oc, T::ONE, dout, wt, T::ZERO, dinp);
}

/// Elementwise activation. z (B*OC) -> a (B*OC) = f(z), in up to `ways` blocks over the rayon
/// pool (each value is computed alone: the result does not depend on `ways`).
pub fn activation_forward<T: Scalar>(ways: usize, act: Activation, math: Math, a: &mut [T], z: &[T]) {
    assert_eq!(a.len(), z.len());
    for_blocks(a, z.len(), ways, BLOCK_ALIGN, &|r, a: &mut [T]| {
        let z = &z[r];
        match (act, math) {
            (Activation::Sigmoid, Math::Libm) => a.iter_mut().zip(z).for_each(|(a, &z)| *a = sigmoid(z)),
            (Activation::Sigmoid, Math::Fast) => a.iter_mut().zip(z).for_each(|(a, &z)| *a = sigmoid_fast(z)),
            (Activation::ImprovedSigmoid, Math::Libm) => {
                a.iter_mut().zip(z).for_each(|(a, &z)| *a = improved_sigmoid(z))
            }
            (Activation::ImprovedSigmoid, Math::Fast) => {
                a.iter_mut().zip(z).for_each(|(a, &z)| *a = improved_sigmoid_fast(z))
            }
            (Activation::Relu, _) => a.iter_mut().zip(z).for_each(|(a, &z)| *a = relu(z)),
        }
    });
}

/// [`activation_forward`] in place, for evaluation where z is not kept: z (B*OC) <- f(z)
pub fn activation_forward_inplace<T: Scalar>(act: Activation, math: Math, z: &mut [T]) {
    match (act, math) {
        (Activation::Sigmoid, Math::Libm) => z.iter_mut().for_each(|z| *z = sigmoid(*z)),
        (Activation::Sigmoid, Math::Fast) => z.iter_mut().for_each(|z| *z = sigmoid_fast(*z)),
        (Activation::ImprovedSigmoid, Math::Libm) => z.iter_mut().for_each(|z| *z = improved_sigmoid(*z)),
        (Activation::ImprovedSigmoid, Math::Fast) => z.iter_mut().for_each(|z| *z = improved_sigmoid_fast(*z)),
        (Activation::Relu, _) => z.iter_mut().for_each(|z| *z = relu(*z)),
    }
}

/// max(z, 0); NaN stays NaN (as PyTorch), so a diverged run is still seen as one.
#[inline(always)]
fn relu<T: Scalar>(z: T) -> T {
    if z <= T::ZERO {
        T::ZERO
    } else {
        z
    }
}

/// 1 / (1 + e^-z). e^-z overflows to inf for very negative z, giving exactly 0: always finite.
#[inline(always)]
fn sigmoid<T: Scalar>(z: T) -> T {
    T::ONE / (T::ONE + (-z).exp())
}

/// [`sigmoid`] with the saturating polynomial e^x: about 1e-38 (f32) instead of 0 far left.
#[inline(always)]
fn sigmoid_fast<T: Scalar>(z: T) -> T {
    T::ONE / (T::ONE + (-z).exp_fast())
}

/// 1.7159 * tanh(2z/3).
#[inline(always)]
fn improved_sigmoid<T: Scalar>(z: T) -> T {
    T::from_f64(IMPROVED_A) * (T::from_f64(IMPROVED_S) * z).tanh()
}

/// [`improved_sigmoid`] with tanh(y) = sign(y) (1 - e) / (1 + e), e = e^(-2|y|).
#[inline(always)]
fn improved_sigmoid_fast<T: Scalar>(z: T) -> T {
    let y = T::from_f64(IMPROVED_S) * z;
    let e = (T::from_f64(-2.0) * y.abs()).exp_fast();
    T::from_f64(IMPROVED_A) * ((T::ONE - e) / (T::ONE + e)).copysign(y)
}

/// Backward of [`activation_forward`], in place and in up to `ways` blocks: d (B*OC) holds dL/da on entry and dL/dz on exit.
/// Sigmoid uses f'(z) = a(1-a) from the stored output; the improved sigmoid uses
/// f'(z) = 1.7159 * 2/3 / cosh^2(2z/3) from the stored pre-activation, as the reference does
/// (with [`Math::Fast`]: 1/cosh^2(y) = 4e / (1 + e)^2, e = e^(-2|y|)); ReLU's derivative is 0 where
/// z <= 0, else 1 (PyTorch's threshold_backward: a NaN passes the gradient on).
pub fn activation_backward<T: Scalar>(ways: usize, act: Activation, math: Math, d: &mut [T], z: &[T], a: &[T]) {
    assert!(d.len() == z.len() && d.len() == a.len());
    let (amp_s, s) = (T::from_f64(IMPROVED_A * IMPROVED_S), T::from_f64(IMPROVED_S));
    for_blocks(d, z.len(), ways, BLOCK_ALIGN, &|r, d: &mut [T]| {
        let (z, a) = (&z[r.clone()], &a[r]);
        match (act, math) {
            (Activation::Sigmoid, _) => d.iter_mut().zip(a).for_each(|(d, &a)| *d = a * (T::ONE - a) * *d),
            (Activation::ImprovedSigmoid, Math::Libm) => {
                d.iter_mut().zip(z).for_each(|(d, &z)| {
                    let ch = (s * z).cosh();
                    // cosh overflows to inf for |z| > ~133 (f32), giving a derivative of exactly 0.
                    *d = amp_s * (T::ONE / (ch * ch)) * *d;
                });
            }
            (Activation::ImprovedSigmoid, Math::Fast) => {
                let four = T::from_f64(4.0);
                d.iter_mut().zip(z).for_each(|(d, &z)| {
                    let e = (T::from_f64(-2.0) * (s * z).abs()).exp_fast();
                    let one_e = T::ONE + e;
                    *d = amp_s * (four * e / (one_e * one_e)) * *d;
                });
            }
            (Activation::Relu, _) => d.iter_mut().zip(z).for_each(|(d, &z)| {
                if z <= T::ZERO {
                    *d = T::ZERO;
                }
            }),
        }
    });
}

/// A bias vector, as `torch.nn.Linear` adds it: out (B, OC) += bias (OC) on every row.
pub fn bias_forward<T: Scalar>(out: &mut [T], bias: &[T]) {
    assert_eq!(out.len() % bias.len(), 0);
    out.chunks_exact_mut(bias.len()).for_each(|row| row.iter_mut().zip(bias).for_each(|(o, &b)| *o += b));
}

/// Backward of [`bias_forward`], averaged over the batch as [`linear_backward`] averages:
/// dout (B, OC) -> db (OC) = the column sums of dout / B.
pub fn bias_backward<T: Scalar>(db: &mut [T], dout: &[T]) {
    assert_eq!(dout.len() % db.len(), 0);
    db.fill(T::ZERO);
    dout.chunks_exact(db.len()).for_each(|row| db.iter_mut().zip(row).for_each(|(s, &d)| *s += d));
    let inv_b = T::ONE / T::from_f64((dout.len() / db.len()) as f64);
    db.iter_mut().for_each(|s| *s *= inv_b);
}

/// Inverted dropout. a (B*OC), mask (B*OC) -> out (B*OC) = a * mask, where the mask holds 0 for a
/// dropped unit and 1/(1 - p) for a kept one; in up to `ways` blocks.
pub fn dropout_forward<T: Scalar>(ways: usize, out: &mut [T], a: &[T], mask: &[T]) {
    assert!(out.len() == a.len() && a.len() == mask.len());
    for_blocks(out, a.len(), ways, BLOCK_ALIGN, &|r, out: &mut [T]| {
        out.iter_mut().zip(&a[r.clone()]).zip(&mask[r]).for_each(|((o, &a), &m)| *o = a * m);
    });
}

/// Backward of [`dropout_forward`], in place: d (B*OC) holds dL/dout on entry and dL/da on exit.
pub fn dropout_backward<T: Scalar>(ways: usize, d: &mut [T], mask: &[T]) {
    assert_eq!(d.len(), mask.len());
    for_blocks(d, mask.len(), ways, BLOCK_ALIGN, &|r, d: &mut [T]| {
        d.iter_mut().zip(&mask[r]).for_each(|(d, &m)| *d *= m);
    });
}

/// Row-wise max-shifted softmax fused with the cross entropy of the true class.
/// logits (B, K), labels (B) -> probs (B, K); returns the SUM over rows of -ln p[label]
/// (accumulated in f64), computed as ln(sum e^(z-m)) - (z_label - m) so it stays finite even when
/// p[label] underflows.
pub fn softmax_crossentropy_forward<T: Scalar>(probs: &mut [T], logits: &[T], labels: &[u8], k: usize) -> f64 {
    assert_eq!(probs.len(), logits.len());
    assert_eq!(logits.len(), labels.len() * k);
    let mut loss = 0.0f64;
    for ((p, z), &y) in probs.chunks_exact_mut(k).zip(logits.chunks_exact(k)).zip(labels) {
        let (m, sum) = exp_shifted(p, z);
        p.iter_mut().for_each(|p| *p /= sum);
        loss += sum.ln().to_f64() - (z[y as usize] - m).to_f64();
    }
    loss
}

/// Backward of softmax + cross entropy (per row, before the batch mean):
/// probs (B, K), labels (B) -> dlogits (B, K) = probs - onehot(labels)
pub fn softmax_crossentropy_backward<T: Scalar>(dlogits: &mut [T], probs: &[T], labels: &[u8], k: usize) {
    assert_eq!(dlogits.len(), probs.len());
    assert_eq!(probs.len(), labels.len() * k);
    dlogits.copy_from_slice(probs);
    for (row, &y) in dlogits.chunks_exact_mut(k).zip(labels) {
        row[y as usize] -= T::ONE;
    }
}

/// Evaluation head: logits (B, K), labels (B) -> (sum of cross entropy over rows, number of rows
/// whose argmax of the softmax equals the label). Ties go to the first maximum, as numpy's argmax.
/// `scratch` holds K values.
pub fn softmax_crossentropy_eval<T: Scalar>(logits: &[T], labels: &[u8], k: usize, scratch: &mut [T]) -> (f64, usize) {
    assert_eq!(logits.len(), labels.len() * k);
    let p = &mut scratch[..k];
    let (mut loss, mut correct) = (0.0f64, 0usize);
    for (z, &y) in logits.chunks_exact(k).zip(labels) {
        let (m, sum) = exp_shifted(p, z);
        loss += sum.ln().to_f64() - (z[y as usize] - m).to_f64();
        correct += usize::from(most_probable(p, sum) == y as usize);
    }
    (loss, correct)
}

/// Prediction head: logits (B, K) -> probs (B, K) = softmax, predicted (B) = the class the
/// evaluation head counts as the answer (the first maximum of the probabilities).
pub fn softmax_predict<T: Scalar>(probs: &mut [T], predicted: &mut [u8], logits: &[T], k: usize) {
    assert_eq!(probs.len(), logits.len());
    assert_eq!(logits.len(), predicted.len() * k);
    for ((p, z), best) in probs.chunks_exact_mut(k).zip(logits.chunks_exact(k)).zip(predicted.iter_mut()) {
        let (_, sum) = exp_shifted(p, z);
        *best = most_probable(p, sum) as u8;
        p.iter_mut().for_each(|p| *p /= sum);
    }
}

/// The first j with the largest e[j] / sum.
#[inline]
fn most_probable<T: Scalar>(e: &[T], sum: T) -> usize {
    let mut best = 0;
    let mut best_p = e[0] / sum;
    for (j, &e) in e.iter().enumerate().skip(1) {
        let pj = e / sum;
        if pj > best_p {
            best = j;
            best_p = pj;
        }
    }
    best
}

/// Writes e^(z - max z) into `e` and returns (max z, sum of e).
#[inline]
fn exp_shifted<T: Scalar>(e: &mut [T], z: &[T]) -> (T, T) {
    let m = z.iter().copied().fold(z[0], |m, v| if v > m { v } else { m });
    let mut sum = T::ZERO;
    for (e, &z) in e.iter_mut().zip(z) {
        *e = (z - m).exp();
        sum += *e;
    }
    (m, sum)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use crate::testing::{assert_close, Lcg};

    #[test]
    fn linear_pair_matches_reference_on_odd_shapes() {
        let mut rng = Lcg(11);
        for &(b, c, oc) in &[(1, 1, 1), (3, 7, 5), (32, 785, 64), (13, 64, 10)] {
            let inp: Vec<f64> = rng.vec(b * c);
            let w: Vec<f64> = rng.vec(c * oc);
            let dout: Vec<f64> = rng.vec(b * oc);
            let mut out = vec![0.0; b * oc];
            linear_forward(1, &mut out, &inp, &w, b, c, oc);
            let mut want = vec![0.0; b * oc];
            reference::gemm(Transpose::No, Transpose::No, b, oc, c, 1.0, &inp, &w, 0.0, &mut want);
            assert_close(&out, &want, 1e-12);

            let (mut dw, mut dinp) = (vec![0.0; c * oc], vec![0.0; b * c]);
            linear_backward(1, Some(&mut dinp), &mut dw, &dout, &inp, &w, b, c, oc);
            let (mut want_dw, mut want_dinp) = (vec![0.0; c * oc], vec![0.0; b * c]);
            reference::linear_backward(&mut want_dinp, &mut want_dw, &dout, &inp, &w, b, c, oc);
            assert_close(&dw, &want_dw, 1e-12);
            assert_close(&dinp, &want_dinp, 1e-12);

            // The transposed-copy variant, with a scratch larger than needed and stale.
            let (mut dw, mut dinp, mut wt) = (vec![0.0; c * oc], vec![0.0; b * c], vec![f64::NAN; c * oc + 3]);
            linear_backward_transposed(1, &mut dinp, &mut dw, &dout, &inp, &w, &mut wt, b, c, oc);
            assert_close(&dw, &want_dw, 1e-12);
            assert_close(&dinp, &want_dinp, 1e-12);
        }
    }

    #[test]
    fn bias_pair_is_the_weight_row_of_a_ones_column() {
        // A bias is the weight row of a ones column appended to the input: the naive reference.
        let mut rng = Lcg(5);
        for &(b, c, oc) in &[(1, 1, 1), (3, 7, 5), (32, 64, 10)] {
            let (inp, w, bias, dout): (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>) =
                (rng.vec(b * c), rng.vec(c * oc), rng.vec(oc), rng.vec(b * oc));
            let ones: Vec<f64> = inp.chunks(c).flat_map(|row| row.iter().copied().chain([1.0])).collect();
            let wb: Vec<f64> = w.iter().chain(&bias).copied().collect();
            let mut out = vec![0.0; b * oc];
            linear_forward(1, &mut out, &inp, &w, b, c, oc);
            bias_forward(&mut out, &bias);
            let mut want = vec![0.0; b * oc];
            reference::gemm(Transpose::No, Transpose::No, b, oc, c + 1, 1.0, &ones, &wb, 0.0, &mut want);
            assert_close(&out, &want, 1e-12);

            let mut db = vec![f64::NAN; oc];
            bias_backward(&mut db, &dout);
            let (mut want_dw, mut want_dinp) = (vec![0.0; (c + 1) * oc], vec![0.0; b * (c + 1)]);
            reference::linear_backward(&mut want_dinp, &mut want_dw, &dout, &ones, &wb, b, c + 1, oc);
            assert_close(&db, &want_dw[c * oc..], 1e-12);
        }
    }

    #[test]
    fn activations_match_reference_and_stay_finite() {
        let mut rng = Lcg(3);
        let mut z: Vec<f64> = rng.vec(257).iter().map(|v| v * 8.0).collect();
        z.extend([-90.0, 90.0, -1000.0, 1000.0, 0.0, 1e-9, -1e-9]);
        // libm agrees with the naive reference to the last bits; the polynomial within a few ulp.
        for (math, tol, tol32) in [(Math::Libm, 1e-14, 1e-6), (Math::Fast, 4e-15, 1e-6)] {
            for act in [Activation::Sigmoid, Activation::ImprovedSigmoid, Activation::Relu] {
                let mut a = vec![0.0; z.len()];
                activation_forward(1, act, math, &mut a, &z);
                let mut inplace = z.clone();
                activation_forward_inplace(act, math, &mut inplace);
                assert_eq!(inplace, a);
                let mut d: Vec<f64> = rng.vec(z.len());
                let d0 = d.clone();
                activation_backward(1, act, math, &mut d, &z, &a);
                for i in 0..z.len() {
                    let (fa, fd) = reference::activation(act, z[i]);
                    assert!(a[i].is_finite() && d[i].is_finite(), "{act:?} {math:?} at z={}", z[i]);
                    assert!((a[i] - fa).abs() <= tol, "{act:?} {math:?} f({}) = {} vs {}", z[i], a[i], fa);
                    assert!((d[i] - fd * d0[i]).abs() <= tol, "{act:?} {math:?} f'({})", z[i]);
                }
                // f32 too: e^90 overflows f32, the result must still be finite.
                let z32: Vec<f32> = z.iter().map(|&v| v as f32).collect();
                let mut a32 = vec![0.0f32; z.len()];
                activation_forward(1, act, math, &mut a32, &z32);
                let mut d32 = vec![1.0f32; z.len()];
                activation_backward(1, act, math, &mut d32, &z32, &a32);
                assert!(a32.iter().chain(&d32).all(|v| v.is_finite()), "{act:?} {math:?} f32 not finite");
                for i in 0..z.len() {
                    let (fa, fd) = reference::activation(act, z32[i] as f64);
                    assert!((a32[i] as f64 - fa).abs() <= tol32 && (d32[i] as f64 - fd).abs() <= tol32, "{i}");
                }
            }
        }
    }

    #[test]
    fn relu_is_torchs_at_the_kink_and_keeps_nan() {
        let z = [0.0f64, -0.0, 1e-300, -1e-300, f64::NAN];
        let mut a = [9.0f64; 5];
        activation_forward(1, Activation::Relu, Math::Fast, &mut a, &z);
        assert_eq!(a[..4], [0.0, 0.0, 1e-300, 0.0]);
        assert!(a[4].is_nan());
        // The derivative at 0 is 0, as PyTorch's; a NaN passes the gradient on (z <= 0 is false).
        let mut d = [5.0f64; 5];
        activation_backward(1, Activation::Relu, Math::Fast, &mut d, &z, &a);
        assert_eq!(d, [0.0, 0.0, 5.0, 0.0, 5.0]);
    }

    #[test]
    fn dropout_pair_scales_kept_units_and_blocks_change_nothing() {
        let mut rng = Lcg(11);
        let n = 3 * BLOCK_ALIGN + 5;
        let a = rng.vec(n);
        let mask: Vec<f64> = rng.vec::<f64>(n).iter().map(|u| if *u > 0.0 { 1.0 / 0.7 } else { 0.0 }).collect();
        let (mut one, mut three) = (vec![0.0; n], vec![0.0; n]);
        dropout_forward(1, &mut one, &a, &mask);
        dropout_forward(3, &mut three, &a, &mask);
        assert_eq!(one, three);
        for i in 0..n {
            assert_eq!(one[i], a[i] * mask[i]);
        }
        let mut d = rng.vec(n);
        let d0 = d.clone();
        dropout_backward(2, &mut d, &mask);
        for i in 0..n {
            assert_eq!(d[i], d0[i] * mask[i], "the gradient passes only through kept units, scaled alike");
        }
    }

    #[test]
    fn softmax_crossentropy_matches_reference_and_properties() {
        let mut rng = Lcg(5);
        let (b, k) = (9, 10);
        let logits: Vec<f64> = rng.vec(b * k).iter().map(|v| v * 5.0).collect();
        let labels: Vec<u8> = (0..b).map(|i| (i * 7 % k) as u8).collect();
        let mut probs = vec![0.0; b * k];
        let loss = softmax_crossentropy_forward(&mut probs, &logits, &labels, k);
        let (want_probs, want_loss) = reference::softmax_crossentropy(&logits, &labels, k);
        assert_close(&probs, &want_probs, 1e-14);
        assert!((loss - want_loss).abs() < 1e-12, "{loss} vs {want_loss}");
        // Rows sum to one, every probability in (0, 1].
        for row in probs.chunks(k) {
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-14);
            assert!(row.iter().all(|&p| p > 0.0 && p <= 1.0));
        }
        // Shift invariance.
        let shifted: Vec<f64> = logits.iter().map(|v| v + 300.0).collect();
        let mut p2 = vec![0.0; b * k];
        let loss2 = softmax_crossentropy_forward(&mut p2, &shifted, &labels, k);
        assert_close(&p2, &probs, 1e-12);
        assert!((loss2 - loss).abs() < 1e-9);
        // Gradient rows sum to zero; eval head agrees with the training head.
        let mut d = vec![0.0; b * k];
        softmax_crossentropy_backward(&mut d, &probs, &labels, k);
        for row in d.chunks(k) {
            assert!(row.iter().sum::<f64>().abs() < 1e-14);
        }
        let (eval_loss, correct) = softmax_crossentropy_eval(&logits, &labels, k, &mut [0.0; 10]);
        assert!((eval_loss - loss).abs() < 1e-12);
        assert_eq!(correct, reference::count_correct(&want_probs, &labels, k));
    }

    #[test]
    fn softmax_of_huge_logits_is_finite() {
        let logits = [1e4f32, -1e4, 0.0, 3e38, -3e38, 1.0, 2.0, 3.0, 4.0, 5.0];
        let mut p = [0.0f32; 10];
        let loss = softmax_crossentropy_forward(&mut p, &logits, &[1], 10);
        assert!(loss.is_finite() && p.iter().all(|v| v.is_finite()));
        assert_eq!(p[3], 1.0);
        // A confidently wrong prediction costs a large but finite loss.
        assert!(loss > 1e30);
    }

    #[test]
    fn predictions_are_what_evaluation_counts_and_probabilities_sum_to_one() {
        let mut rng = Lcg(8);
        let (b, k) = (50, 10);
        let logits: Vec<f64> = rng.vec(b * k).iter().map(|v| v * 6.0).collect();
        let (mut probs, mut predicted) = (vec![0.0; b * k], vec![0u8; b]);
        softmax_predict(&mut probs, &mut predicted, &logits, k);
        let mut want = vec![0.0; b * k];
        softmax_crossentropy_forward(&mut want, &logits, &predicted, k);
        assert_close(&probs, &want, 1e-15);
        // Labelled with its own predictions, every row is correct; shifted by one, none is.
        let (_, correct) = softmax_crossentropy_eval(&logits, &predicted, k, &mut [0.0; 10]);
        assert_eq!(correct, b);
        let other: Vec<u8> = predicted.iter().map(|&p| (p + 1) % 10).collect();
        assert_eq!(softmax_crossentropy_eval(&logits, &other, k, &mut [0.0; 10]).1, 0);
        assert_eq!(reference::count_correct(&probs, &predicted, k), b);
    }

    #[test]
    fn argmax_takes_first_of_ties() {
        let logits = [1.0f64, 3.0, 3.0, 0.0];
        let (_, c1) = softmax_crossentropy_eval(&logits, &[1], 4, &mut [0.0; 4]);
        let (_, c2) = softmax_crossentropy_eval(&logits, &[2], 4, &mut [0.0; 4]);
        assert_eq!((c1, c2), (1, 0));
    }
}
