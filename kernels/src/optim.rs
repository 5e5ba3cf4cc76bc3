//! Fused optimiser updates, element by element over a layer's weights.

use crate::layers::BLOCK_ALIGN;
use crate::par::for_blocks;
use crate::Scalar;

/// Plain SGD: w -= lr * g, in up to `ways` blocks over the rayon pool (the result does not
/// depend on `ways`).
pub fn sgd_update<T: Scalar>(ways: usize, w: &mut [T], g: &[T], lr: T) {
    assert_eq!(w.len(), g.len());
    for_blocks(w, g.len(), ways, BLOCK_ALIGN, &|r, w: &mut [T]| {
        w.iter_mut().zip(&g[r]).for_each(|(w, &g)| *w -= lr * g);
    });
}

/// Momentum in the assignment's form (not LeCun's): v = g + gamma * v, then w -= lr * v; in up
/// to `ways` blocks.
pub fn momentum_update<T: Scalar>(ways: usize, w: &mut [T], v: &mut [T], g: &[T], lr: T, gamma: T) {
    assert!(w.len() == v.len() && w.len() == g.len());
    for_blocks((w, v), g.len(), ways, BLOCK_ALIGN, &|r, (w, v): (&mut [T], &mut [T])| {
        for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(&g[r]) {
            *v = g + gamma * *v;
            *w -= lr * *v;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_by_hand() {
        // Two steps with lr 0.5, gamma 0.9, g = 1 then 2, from w = 1, v = 0:
        // v1 = 1, w1 = 0.5; v2 = 2 + 0.9 = 2.9, w2 = 0.5 - 1.45 = -0.95.
        let (mut w, mut v) = ([1.0f64], [0.0f64]);
        momentum_update(1, &mut w, &mut v, &[1.0], 0.5, 0.9);
        assert_eq!((w[0], v[0]), (0.5, 1.0));
        momentum_update(1, &mut w, &mut v, &[2.0], 0.5, 0.9);
        assert!((v[0] - 2.9).abs() < 1e-15 && (w[0] + 0.95).abs() < 1e-15, "{w:?} {v:?}");
    }

    #[test]
    fn sgd_by_hand_and_zero_gamma_equals_sgd() {
        let g = [0.25f64, -2.0, 8.0];
        let mut w1 = [1.0f64, 2.0, 3.0];
        sgd_update(1, &mut w1, &g, 0.1);
        assert_eq!(w1, [1.0 - 0.025, 2.2, 3.0 - 0.8]);
        let (mut w2, mut v) = ([1.0f64, 2.0, 3.0], [5.0f64, 5.0, 5.0]);
        momentum_update(1, &mut w2, &mut v, &g, 0.1, 0.0);
        assert_eq!(w1, w2);
    }
}
