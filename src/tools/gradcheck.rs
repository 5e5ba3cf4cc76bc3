//! The assignment's gradient check (task 2a / 4c): every weight is moved by +-eps, the central
//! difference of the batch cross entropy is compared with backprop's gradient, and
//! |approx - grad| must stay within eps^2.

use rayon::prelude::*;

use crate::data::Dataset;
use crate::nn::{Input, Mlp, Workspace};

/// Worst disagreement found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GradcheckReport {
    /// Weights checked.
    pub checked: usize,
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

/// Compares backprop's gradient with central differences for every `stride`-th weight of every
/// layer (stride 1 checks them all), in parallel over weights.
pub fn gradient_check(model: &Mlp<f64>, data: &Dataset<f64>, eps: f64, stride: usize) -> GradcheckReport {
    let n = data.len();
    let mut ws = Workspace::new(&model.sizes, n);
    let dense = data.rows(0..n);
    let x = Input::Dense(dense);
    model.forward(&mut ws, &x, &data.labels, None);
    model.backward(&mut ws, &x, &data.labels);
    let grads = ws.grads;

    // rayon runs one weight per worker: one OpenBLAS thread each, never oversubscribed.
    kernels::blas::set_threads(1);
    let targets: Vec<(usize, usize)> = (0..model.layers())
        .flat_map(|l| (0..model.weights[l].len()).step_by(stride.max(1)).map(move |e| (l, e)))
        .collect();
    let diffs: Vec<(f64, usize, usize, f64)> = targets
        .par_iter()
        .map_init(
            || (model.clone(), Workspace::new(&model.sizes, n)),
            |(m, ws), &(l, e)| {
                let orig = m.weights[l][e];
                m.weights[l][e] = orig + eps;
                let plus = mean_loss(m, ws, dense, &data.labels);
                m.weights[l][e] = orig - eps;
                let minus = mean_loss(m, ws, dense, &data.labels);
                m.weights[l][e] = orig;
                let approx = (plus - minus) / (2.0 * eps);
                ((approx - grads[l][e]).abs(), l, e, approx)
            },
        )
        .collect();
    let &(max_abs_diff, l, e, worst_approx) =
        diffs.iter().max_by(|a, b| a.0.total_cmp(&b.0)).expect("a model has weights");
    let cols = model.sizes[l + 1];
    GradcheckReport {
        checked: diffs.len(),
        max_abs_diff,
        worst: (l, e / cols, e % cols),
        worst_approx,
        worst_grad: grads[l][e],
    }
}
