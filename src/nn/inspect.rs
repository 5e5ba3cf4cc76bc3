//! What the network looks like inside, for diagnostics: norms of weight matrices (Frobenius, and
//! spectral through LAPACK's SVD) and statistics of the hidden activations of a probe batch.

use ndarray::Array2;
use ndarray_linalg::SVD;

use super::mlp::{Input, Mlp};
use super::workspace::Workspace;
use kernels::layers::Activation;
use kernels::Element;

/// Frobenius (Euclidean) norm of a matrix or vector, accumulated in f64. Diagnostics take it
/// of every layer's gradient at every step: eight independent sums let it vectorise.
pub fn frobenius<T: Element>(x: &[T]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let tail: f64 = chunks.remainder().iter().map(|v| v.to_f64() * v.to_f64()).sum();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v.to_f64() * v.to_f64();
        }
    }
    (acc.iter().sum::<f64>() + tail).sqrt()
}

/// The largest singular value of the (rows, cols) row-major matrix `w`, by ndarray-linalg's SVD
/// (LAPACK gesdd, in f64); NaN when `w` holds a non-finite value (LAPACK would fail on it).
pub fn spectral_norm<T: Element>(w: &[T], rows: usize, cols: usize) -> f64 {
    assert_eq!(w.len(), rows * cols, "a (rows, cols) matrix");
    if w.iter().any(|v| !v.to_f64().is_finite()) {
        return f64::NAN;
    }
    let m = Array2::from_shape_fn((rows, cols), |(i, j)| w[i * cols + j].to_f64());
    let (_, sigma, _) = m.svd(false, false).expect("the SVD of a finite matrix converges");
    sigma.iter().copied().fold(0.0, f64::max)
}

/// f'(z) / max f' for the activation `a = f(z)`, from `a` alone: 4a(1-a) for the sigmoid,
/// 1 - (a / 1.7159)^2 for the improved sigmoid.
pub fn derivative_ratio(act: Activation, a: f64) -> f64 {
    match act {
        Activation::Sigmoid => 4.0 * a * (1.0 - a),
        Activation::ImprovedSigmoid => 1.0 - (a / 1.7159).powi(2),
        // a > 0 exactly where z > 0: a dead unit has f' = 0.
        Activation::Relu => f64::from(u8::from(a > 0.0)),
    }
}

/// A units are saturated where f'(z) is below this fraction of its maximum.
pub const SATURATED_BELOW: f64 = 0.01;

/// Statistics of one hidden layer's activations over a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivationStats {
    pub mean: f64,
    pub std: f64,
    /// Fraction of (row, unit) pairs whose f'(z) is below [`SATURATED_BELOW`] of its maximum.
    pub saturation: f64,
}

impl ActivationStats {
    pub fn of(act: Activation, a: &[impl Element]) -> Self {
        let n = a.len() as f64;
        let mean = a.iter().map(|v| v.to_f64()).sum::<f64>() / n;
        let var = a.iter().map(|v| (v.to_f64() - mean).powi(2)).sum::<f64>() / n;
        let saturated = a.iter().filter(|v| derivative_ratio(act, v.to_f64()) < SATURATED_BELOW).count();
        Self { mean, std: var.sqrt(), saturation: saturated as f64 / n }
    }
}

impl<T: Element> Mlp<T> {
    /// Forward pass of `input` (one batch of `ws`'s size, the training kernels) and the statistics
    /// of every hidden layer's activations, input side first.
    pub fn hidden_activation_stats(
        &self,
        ws: &mut Workspace<T>,
        input: &Input<T>,
        labels: &[u8],
    ) -> Vec<ActivationStats> {
        self.forward(ws, input, labels, None);
        ws.a.iter().map(|a| ActivationStats::of(self.activation, a)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectral_norm_of_known_matrices() {
        // diag(3, 4) rotated by 30 degrees: singular values 4 and 3.
        let (c, s) = (30f64.to_radians().cos(), 30f64.to_radians().sin());
        let w = [3.0 * c, -4.0 * s, 3.0 * s, 4.0 * c];
        assert!((spectral_norm(&w, 2, 2) - 4.0).abs() < 1e-12);
        // A rank-one outer product u v^T: |u| |v|.
        let (u, v) = ([1.0f32, 2.0, 2.0], [3.0f32, 4.0]);
        let w: Vec<f32> = u.iter().flat_map(|a| v.iter().map(move |b| a * b)).collect();
        assert!((spectral_norm(&w, 3, 2) - 15.0).abs() < 1e-5);
        assert!(spectral_norm(&[1.0, f64::NAN], 1, 2).is_nan());
    }

    #[test]
    fn spectral_norm_lies_between_frobenius_over_sqrt_rank_and_frobenius() {
        let mut state = 0x9e3779b97f4a7c15u64;
        for (rows, cols) in [(1, 1), (5, 3), (3, 7), (40, 40), (785, 16)] {
            let w: Vec<f64> = (0..rows * cols)
                .map(|_| {
                    state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
                })
                .collect();
            let (spec, frob) = (spectral_norm(&w, rows, cols), frobenius(&w));
            let rank = rows.min(cols) as f64;
            assert!(spec <= frob * (1.0 + 1e-12) && spec >= frob / rank.sqrt() * (1.0 - 1e-12), "{rows}x{cols}");
        }
    }

    #[test]
    fn saturation_counts_flat_derivatives() {
        // The sigmoid at 0.5 is at its steepest; at 0.999 f' is 0.4% of the maximum.
        let s = ActivationStats::of(Activation::Sigmoid, &[0.5f64, 0.999, 0.001, 0.5]);
        assert_eq!(s.saturation, 0.5);
        assert!((s.mean - 0.5).abs() < 1e-12);
        let i = ActivationStats::of(Activation::ImprovedSigmoid, &[0.0f64, 1.7158, -1.7159, 1.0]);
        assert_eq!(i.saturation, 0.5);
        assert_eq!(derivative_ratio(Activation::ImprovedSigmoid, 0.0), 1.0);
        assert_eq!(derivative_ratio(Activation::Sigmoid, 0.5), 1.0);
    }
}
