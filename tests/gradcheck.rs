//! The assignment's gradient check (tasks 2a and 4c): central differences with eps = 1e-3 on 100
//! training images, weights uniform(-1, 1), |approx - grad| <= eps^2 for every weight; and the
//! modern parts: ReLU with He init (away from the kink), dropout under a fixed mask, and every
//! layer's bias.

use std::path::Path;

use mlp::config::NormStats;
use mlp::config::{layer_sizes, ActivationKind, BiasKind, InitKind};
use mlp::data::{split, Mnist, SplitForms};
use mlp::nn::{Mlp, Plan};
use mlp::rng::XoshiroRng;
use mlp::tools::gradcheck::gradient_check;

fn check(hidden: &[usize], act: ActivationKind) {
    check_with(hidden, act, InitKind::Uniform, 0.0);
}

fn check_with(hidden: &[usize], act: ActivationKind, init: InitKind, dropout: f64) {
    check_model(hidden, act, init, dropout, BiasKind::Input);
}

fn check_model(hidden: &[usize], act: ActivationKind, init: InitKind, dropout: f64, bias: BiasKind) {
    let m = Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap();
    let data = split::<f64>(&m, 100, 0, 0, NormStats::FullTrain, SplitForms::ALL).unwrap().train;
    let mut rng = XoshiroRng::new(1);
    let mut model = Mlp::<f64>::init(&layer_sizes(785, hidden), act.into(), init, bias, Plan::REFERENCE, &mut rng);
    if bias == BiasKind::All {
        // Biases start at zero; move them so that the forward pass depends on them.
        for l in 0..model.layers() {
            let cols = model.sizes[l + 1];
            let w = &mut model.weights[l];
            let start = w.len() - cols;
            w[start..].iter_mut().enumerate().for_each(|(i, b)| *b = 0.02 * (i as f64).sin());
        }
    }
    let r = gradient_check(&model, &data, 1e-3, 1, dropout, 1);
    let total: usize = model.weights.iter().map(|w| w.len()).sum();
    assert_eq!(r.checked + r.skipped, total);
    if act == ActivationKind::Relu {
        assert!(r.skipped < total / 4, "most weights are away from the kink: {r:?}");
    } else {
        assert_eq!(r.skipped, 0);
    }
    assert!(r.passed(1e-6), "{hidden:?} {act:?} {init:?} dropout {dropout}: {r:?}");
    // The check can fail: a wrong gradient for one weight is caught.
    assert!(r.max_abs_diff > 0.0);
}

#[test]
fn gradients_match_finite_differences_64_sigmoid() {
    check(&[64], ActivationKind::Sigmoid);
}

#[test]
fn gradients_match_finite_differences_64_improved() {
    check(&[64], ActivationKind::Improved);
}

#[test]
fn gradients_match_finite_differences_64_64_sigmoid() {
    check(&[64, 64], ActivationKind::Sigmoid);
}

#[test]
fn gradients_match_finite_differences_64_64_improved() {
    check(&[64, 64], ActivationKind::Improved);
}

#[test]
fn gradients_match_finite_differences_64_64_relu_he() {
    check_with(&[64, 64], ActivationKind::Relu, InitKind::He, 0.0);
}

#[test]
fn gradients_match_finite_differences_64_64_under_a_fixed_dropout_mask() {
    check_with(&[64, 64], ActivationKind::Improved, InitKind::Normal, 0.3);
    check_with(&[64], ActivationKind::Relu, InitKind::He, 0.5);
}

#[test]
fn gradients_match_finite_differences_with_every_layers_bias() {
    check_model(&[64], ActivationKind::Relu, InitKind::He, 0.3, BiasKind::All);
    check_model(&[64, 64], ActivationKind::Improved, InitKind::Normal, 0.0, BiasKind::All);
}
