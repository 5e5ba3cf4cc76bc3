//! The assignment's gradient check (task 2a / 4c): every weight is moved by +-eps, the central
//! difference of the batch cross entropy is compared with backprop's gradient, and
//! |approx - grad| must stay within eps^2. With dropout, every loss uses one fixed mask; with ReLU,
//! a weight whose +-eps moves any pre-activation across the kink at 0 is skipped (the loss is not
//! differentiable there, and PyTorch's derivative 0 at z = 0 is a convention).

use rayon::prelude::*;

use crate::data::Dataset;
use crate::nn::{Input, Mlp, Workspace};
use crate::train::dropout::Dropout;
use kernels::layers::Activation;

/// Worst disagreement found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckReport {
    /// Weights checked.
    pub checked: usize,
    /// Weights skipped because +-eps crossed ReLU's kink.
    pub skipped: usize,
    pub max_abs_diff: f64,
    /// (layer, row, column) of the worst weight.
    pub worst: (usize, usize, usize),
    pub worst_approx: f64,
    pub worst_grad: f64,
}

impl GradcheckReport {
    pub fn passed(&self, tol: f64) -> bool {
        self.max_abs_diff <= tol
    }
}

fn mean_loss(model: &Mlp<f64>, ws: &mut Workspace<f64>, x: &[f64], labels: &[u8]) -> f64 {
    model.forward(ws, &Input::Dense(x), labels, None) / labels.len() as f64
}

/// The signs of the hidden pre-activations of the last forward in `ws`.
fn kink_sides(ws: &Workspace<f64>) -> Vec<bool> {
    let z = ws.preactivations();
    z[..z.len() - 1].iter().flatten().map(|&v| v > 0.0).collect()
}

/// Compares backprop's gradient with central differences for every `stride`-th weight of every
/// layer (stride 1 checks them all), in parallel over weights; with `dropout` p > 0, under one
/// mask drawn from the dropout stream of `seed`.
pub fn gradient_check(
    model: &Mlp<f64>,
    data: &Dataset<f64>,
    eps: f64,
    stride: usize,
    dropout: f64,
    seed: u64,
) -> GradcheckReport {
    let n = data.len();
    let mut ws = Workspace::new(model, n, dropout > 0.0);
    if dropout > 0.0 {
        Dropout::new(dropout, seed).fill(ws.dropout_masks_mut());
    }
    let masks = ws.dropout_masks_mut().to_vec();
    let fresh = || {
        let mut w = Workspace::new(model, n, dropout > 0.0);
        w.dropout_masks_mut().clone_from_slice(&masks);
        w
    };
    let dense = data.rows(0..n);
    let x = Input::Dense(dense);
    model.forward(&mut ws, &x, &data.labels, None);
    let relu = model.activation == Activation::Relu;
    let sides = if relu { kink_sides(&ws) } else { Vec::new() };
    model.backward(&mut ws, &x, &data.labels);
    let grads = ws.grads;

    // rayon runs one weight per worker: one OpenBLAS thread each, never oversubscribed.
    kernels::blas::set_threads(1);
    let targets: Vec<(usize, usize)> = (0..model.layers())
        .flat_map(|l| (0..model.weights[l].len()).step_by(stride.max(1)).map(move |e| (l, e)))
        .collect();
    let checked: Vec<Option<(f64, usize, usize, f64)>> = targets
        .par_iter()
        .map_init(
            || (model.clone(), fresh()),
            |(m, ws), &(l, e)| {
                let orig = m.weights[l][e];
                m.weights[l][e] = orig + eps;
                let plus = mean_loss(m, ws, dense, &data.labels);
                let crossed_plus = relu && kink_sides(ws) != sides;
                m.weights[l][e] = orig - eps;
                let minus = mean_loss(m, ws, dense, &data.labels);
                let crossed = crossed_plus || (relu && kink_sides(ws) != sides);
                m.weights[l][e] = orig;
                let approx = (plus - minus) / (2.0 * eps);
                (!crossed).then_some(((approx - grads[l][e]).abs(), l, e, approx))
            },
        )
        .collect();
    let diffs: Vec<_> = checked.iter().flatten().copied().collect();
    let &(max_abs_diff, l, e, worst_approx) =
        diffs.iter().max_by(|a, b| a.0.total_cmp(&b.0)).expect("weights away from the kink");
    let cols = model.sizes[l + 1];
    GradcheckReport {
        checked: diffs.len(),
        skipped: checked.len() - diffs.len(),
        max_abs_diff,
        worst: (l, e / cols, e % cols),
        worst_approx,
        worst_grad: grads[l][e],
    }
}
