//! Fused optimiser updates, element by element over a layer's weights, as `torch.optim` defines
//! them. Every update runs in up to `ways` blocks over the rayon pool; each value is updated alone,
//! so the result does not depend on `ways`.

use crate::layers::BLOCK_ALIGN;
use crate::par::for_blocks;
use crate::Scalar;

/// Plain SGD: w -= lr * g, with PyTorch's coupled L2 weight decay g += l2 * w first when l2 > 0.
pub fn sgd_update<T: Scalar>(ways: usize, w: &mut [T], g: &[T], lr: T, l2: T) {
    assert_eq!(w.len(), g.len());
    for_blocks(w, g.len(), ways, BLOCK_ALIGN, &|r, w: &mut [T]| {
        let g = &g[r];
        // Without decay the 2021 form exactly (the reference path's bytes).
        if l2 == T::ZERO {
            w.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * g);
        } else {
            w.iter_mut().zip(g).for_each(|(w, &g)| *w -= lr * (g + l2 * *w));
        }
    });
}

/// Momentum in the assignment's form (not LeCun's): v = g + gamma * v, then w -= lr * v; with
/// coupled L2 weight decay g += l2 * w first. This is `torch.optim.SGD(momentum=gamma,
/// dampening=0)`: PyTorch's first step sets v = g, the same as g + gamma * 0.
pub fn momentum_update<T: Scalar>(ways: usize, w: &mut [T], v: &mut [T], g: &[T], lr: T, gamma: T, l2: T) {
    assert!(w.len() == v.len() && w.len() == g.len());
    for_blocks((w, v), g.len(), ways, BLOCK_ALIGN, &|r, (w, v): (&mut [T], &mut [T])| {
        for ((w, v), &g) in w.iter_mut().zip(v.iter_mut()).zip(&g[r]) {
            let g = if l2 == T::ZERO { g } else { g + l2 * *w };
            *v = g + gamma * *v;
            *w -= lr * *v;
        }
    });
}

/// The scalars of one Adam(W) step at step count s = t + 1, computed once per step in f64 as
/// PyTorch computes them (Python floats) and rounded to T.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep<T> {
    /// lr_t / (1 - beta1^s).
    pub step_size: T,
    pub beta1: T,
    pub beta2: T,
    pub eps: T,
    /// sqrt(1 - beta2^s).
    pub bc2_sqrt: T,
    /// Coupled L2 weight decay (Adam): g += l2 * w before the moments; 0 for none.
    pub l2: T,
    /// Decoupled weight decay (AdamW): w *= decay before the step, decay = 1 - lr_t * L; 1 for none.
    pub decay: T,
}

impl<T: Scalar> AdamStep<T> {
    /// The step at step count `s` (from 1) with the scheduled learning rate `lr`; `weight_decay`
    /// is coupled (Adam) or decoupled (AdamW).
    pub fn new(lr: f64, betas: (f64, f64), eps: f64, s: u64, weight_decay: f64, decoupled: bool) -> Self {
        let s = i32::try_from(s).unwrap_or(i32::MAX);
        let (bc1, bc2) = (1.0 - betas.0.powi(s), 1.0 - betas.1.powi(s));
        Self {
            step_size: T::from_f64(lr / bc1),
            beta1: T::from_f64(betas.0),
            beta2: T::from_f64(betas.1),
            eps: T::from_f64(eps),
            bc2_sqrt: T::from_f64(bc2.sqrt()),
            l2: T::from_f64(if decoupled { 0.0 } else { weight_decay }),
            decay: T::from_f64(if decoupled { 1.0 - lr * weight_decay } else { 1.0 }),
        }
    }
}

/// Adam (`torch.optim.Adam`, or `AdamW` through [`AdamStep::decay`]):
/// m = beta1 m + (1 - beta1) g; v = beta2 v + (1 - beta2) g²;
/// w -= step_size * m / (sqrt(v) / sqrt(1 - beta2^s) + eps).
pub fn adam_update<T: Scalar>(ways: usize, w: &mut [T], m: &mut [T], v: &mut [T], g: &[T], k: &AdamStep<T>) {
    assert!(w.len() == m.len() && w.len() == v.len() && w.len() == g.len());
    let k = *k;
    let (one_b1, one_b2) = (T::ONE - k.beta1, T::ONE - k.beta2);
    for_blocks((w, (m, v)), g.len(), ways, BLOCK_ALIGN, &|r, (w, (m, v)): (&mut [T], (&mut [T], &mut [T]))| {
        for (((w, m), v), &g) in w.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(&g[r]) {
            let g = g + k.l2 * *w;
            *w *= k.decay;
            *m = k.beta1 * *m + one_b1 * g;
            *v = k.beta2 * *v + one_b2 * g * g;
            *w -= k.step_size * *m / (v.sqrt() / k.bc2_sqrt + k.eps);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{self, Decay};
    use crate::testing::Lcg;

    #[test]
    fn momentum_by_hand() {
        // Two steps with lr 0.5, gamma 0.9, g = 1 then 2, from w = 1, v = 0:
        // v1 = 1, w1 = 0.5; v2 = 2 + 0.9 = 2.9, w2 = 0.5 - 1.45 = -0.95.
        let (mut w, mut v) = ([1.0f64], [0.0f64]);
        momentum_update(1, &mut w, &mut v, &[1.0], 0.5, 0.9, 0.0);
        assert_eq!((w[0], v[0]), (0.5, 1.0));
        momentum_update(1, &mut w, &mut v, &[2.0], 0.5, 0.9, 0.0);
        assert!((v[0] - 2.9).abs() < 1e-15 && (w[0] + 0.95).abs() < 1e-15, "{w:?} {v:?}");
    }

    #[test]
    fn sgd_by_hand_and_zero_gamma_equals_sgd() {
        let g = [0.25f64, -2.0, 8.0];
        let mut w1 = [1.0f64, 2.0, 3.0];
        sgd_update(1, &mut w1, &g, 0.1, 0.0);
        assert_eq!(w1, [1.0 - 0.025, 2.2, 3.0 - 0.8]);
        let (mut w2, mut v) = ([1.0f64, 2.0, 3.0], [5.0f64, 5.0, 5.0]);
        momentum_update(1, &mut w2, &mut v, &g, 0.1, 0.0, 0.0);
        assert_eq!(w1, w2);
    }

    #[test]
    fn coupled_weight_decay_adds_l2_w_to_the_gradient() {
        // w = 2, g = 1, l2 = 0.5: g' = 2, w = 2 - 0.1 * 2 = 1.8 (SGD); momentum's first step the same.
        let mut w = [2.0f64];
        sgd_update(1, &mut w, &[1.0], 0.1, 0.5);
        assert!((w[0] - 1.8).abs() < 1e-15);
        let (mut w, mut v) = ([2.0f64], [0.0f64]);
        momentum_update(1, &mut w, &mut v, &[1.0], 0.1, 0.9, 0.5);
        assert!((w[0] - 1.8).abs() < 1e-15 && v[0] == 2.0);
    }

    #[test]
    fn adam_first_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        // s = 1: m̂ = g, v̂ = g², so the step is lr g / (|g| + eps).
        let g = [3.0f64, -0.5, 1e-3];
        let (mut w, mut m, mut v) = ([0.0f64; 3], [0.0f64; 3], [0.0f64; 3]);
        adam_update(1, &mut w, &mut m, &mut v, &g, &AdamStep::new(0.01, (0.9, 0.999), 0.0, 1, 0.0, false));
        for (w, g) in w.iter().zip(g) {
            assert!((w + 0.01 * g.signum()).abs() < 1e-15, "{w} for g = {g}");
        }
    }

    #[test]
    fn adam_and_adamw_match_the_textbook_reference_over_many_steps() {
        let n = 2 * BLOCK_ALIGN + 3;
        for (decay, wd, decoupled) in
            [(Decay::Coupled(0.0), 0.0, false), (Decay::Coupled(0.01), 0.01, false), (Decay::Decoupled(0.1), 0.1, true)]
        {
            let mut rng = Lcg(5);
            let mut w: Vec<f64> = rng.vec(n);
            let (mut m, mut v) = (vec![0.0; n], vec![0.0; n]);
            let (mut rw, mut rm, mut rv) = (w.clone(), m.clone(), v.clone());
            for s in 1..=40u64 {
                let g: Vec<f64> = rng.vec(n);
                let lr = 1e-3 * (1.0 + s as f64 / 10.0);
                let k = AdamStep::new(lr, (0.8, 0.99), 1e-8, s, wd, decoupled);
                adam_update(2, &mut w, &mut m, &mut v, &g, &k);
                reference::adam(&mut rw, &mut rm, &mut rv, &g, lr, (0.8, 0.99), 1e-8, s as i32, decay);
            }
            for i in 0..n {
                assert!((w[i] - rw[i]).abs() <= 1e-14, "{decay:?} w[{i}] {} vs {}", w[i], rw[i]);
                assert!((v[i] - rv[i]).abs() <= 1e-15 && (m[i] - rm[i]).abs() <= 1e-15);
            }
        }
    }

    #[test]
    fn updates_do_not_depend_on_the_number_of_blocks() {
        let n = 5 * BLOCK_ALIGN + 1;
        let mut rng = Lcg(8);
        let (w0, g): (Vec<f32>, Vec<f32>) = (rng.vec(n), rng.vec(n));
        let k = AdamStep::new(1e-3, (0.9, 0.999), 1e-8, 3, 0.05, true);
        let run = |ways| {
            let (mut w, mut m, mut v) = (w0.clone(), vec![0.1f32; n], vec![0.2f32; n]);
            adam_update(ways, &mut w, &mut m, &mut v, &g, &k);
            let mut w2 = w0.clone();
            sgd_update(ways, &mut w2, &g, 0.1, 0.01);
            (w, m, v, w2)
        };
        assert_eq!(run(1), run(4));
    }
}
