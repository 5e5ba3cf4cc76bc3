//! Naive reference implementations the fast kernels are tested against: plain loops, one
//! operation at a time, no BLAS, written for clarity rather than speed.

use crate::layers::{Activation, IMPROVED_A, IMPROVED_S};
use crate::{Scalar, Transpose};

/// Triple-loop GEMM with the same contract as [`crate::blas::gemm`].
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Scalar>(
    ta: Transpose,
    tb: Transpose,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    let at = |i: usize, p: usize| {
        if ta == Transpose::No {
            a[i * k + p]
        } else {
            a[p * m + i]
        }
    };
    let bt = |p: usize, j: usize| {
        if tb == Transpose::No {
            b[p * n + j]
        } else {
            b[j * k + p]
        }
    };
    for i in 0..m {
        for j in 0..n {
            let mut s = T::ZERO;
            for p in 0..k {
                s += at(i, p) * bt(p, j);
            }
            c[i * n + j] = alpha * s + beta * c[i * n + j];
        }
    }
}

/// dw = inp^T dout / B and dinp = dout w^T, element by element.
#[allow(clippy::too_many_arguments)]
pub fn linear_backward<T: Scalar>(
    dinp: &mut [T],
    dw: &mut [T],
    dout: &[T],
    inp: &[T],
    w: &[T],
    b: usize,
    c: usize,
    oc: usize,
) {
    for i in 0..c {
        for o in 0..oc {
            let mut s = T::ZERO;
            for r in 0..b {
                s += inp[r * c + i] * dout[r * oc + o];
            }
            dw[i * oc + o] = s / T::from_f64(b as f64);
        }
    }
    for r in 0..b {
        for i in 0..c {
            let mut s = T::ZERO;
            for o in 0..oc {
                s += dout[r * oc + o] * w[i * oc + o];
            }
            dinp[r * c + i] = s;
        }
    }
}

/// (f(z), f'(z)) straight from the textbook formulas.
pub fn activation(act: Activation, z: f64) -> (f64, f64) {
    match act {
        Activation::Sigmoid => {
            let s = 1.0 / (1.0 + (-z).exp());
            (s, s * (1.0 - s))
        }
        Activation::ImprovedSigmoid => {
            let t = (IMPROVED_S * z).tanh();
            (IMPROVED_A * t, IMPROVED_A * IMPROVED_S * (1.0 - t * t))
        }
        // As PyTorch: 0 where z <= 0, so a NaN passes through (and passes the gradient on).
        Activation::Relu => {
            if z <= 0.0 {
                (0.0, 0.0)
            } else {
                (z, 1.0)
            }
        }
    }
}

/// Weight decay as `torch.optim` applies it.
#[derive(Clone, Copy, Debug)]
pub enum Decay {
    /// g += L w before anything else (SGD, Adam).
    Coupled(f64),
    /// w *= 1 - lr L before the Adam step (AdamW).
    Decoupled(f64),
}

/// One Adam(W) step at step count `s` (from 1), as `torch.optim.Adam` documents it: m̂ = m/(1 -
/// beta1^s), v̂ = v/(1 - beta2^s), w -= lr m̂ / (sqrt(v̂) + eps) with its epsilon placement
/// (eps is added to sqrt(v)/sqrt(1 - beta2^s)).
#[allow(clippy::too_many_arguments)]
pub fn adam(
    w: &mut [f64],
    m: &mut [f64],
    v: &mut [f64],
    g: &[f64],
    lr: f64,
    betas: (f64, f64),
    eps: f64,
    s: i32,
    decay: Decay,
) {
    let (b1, b2) = betas;
    for i in 0..w.len() {
        let mut gi = g[i];
        match decay {
            Decay::Coupled(l) => gi += l * w[i],
            Decay::Decoupled(l) => w[i] *= 1.0 - lr * l,
        }
        m[i] = b1 * m[i] + (1.0 - b1) * gi;
        v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
        let m_hat = m[i] / (1.0 - b1.powi(s));
        let denom = v[i].sqrt() / (1.0 - b2.powi(s)).sqrt() + eps;
        w[i] -= lr * m_hat / denom;
    }
}

/// Unshifted softmax, then the mean-free sum of -ln p[label]: the textbook two-step form.
pub fn softmax_crossentropy(logits: &[f64], labels: &[u8], k: usize) -> (Vec<f64>, f64) {
    let mut probs = Vec::with_capacity(logits.len());
    for row in logits.chunks(k) {
        let total: f64 = row.iter().map(|z| z.exp()).sum();
        probs.extend(row.iter().map(|z| z.exp() / total));
    }
    let loss = probs.chunks(k).zip(labels).map(|(p, &y)| -p[y as usize].ln()).sum();
    (probs, loss)
}

/// Rows whose first maximal probability sits at the label.
pub fn count_correct(probs: &[f64], labels: &[u8], k: usize) -> usize {
    probs
        .chunks(k)
        .zip(labels)
        .filter(|(p, &y)| {
            let best = p.iter().enumerate().fold(0, |b, (j, &v)| if v > p[b] { j } else { b });
            best == y as usize
        })
        .count()
}
