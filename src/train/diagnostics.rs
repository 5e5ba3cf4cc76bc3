//! Per-layer diagnostics (`diagnostics = true`): `layers.csv`, one row per layer per validation
//! check. Gradient and update norms are averaged over the steps since the previous check; weight
//! norms are taken at the check; activation statistics come from a fixed probe batch (the first
//! [`PROBE_ROWS`] validation images) run forward at the check. Nothing here changes the weights,
//! the random stream or the logs of training.

use serde::{Deserialize, Serialize};

use super::stepper::Stepper;
use crate::data::Dataset;
use crate::nn::inspect::{frobenius, spectral_norm};
use crate::nn::plan::FirstLayerTrain;
use crate::nn::{Input, Mlp, Rows, Workspace};
use kernels::{sparse, Element};

/// The header of `layers.csv`: [`LayerRow`]'s fields.
pub const LAYER_COLUMNS: &[&str] = &[
    "step",
    "epoch",
    "layer",
    "grad_norm",
    "weight_norm",
    "spectral_norm",
    "update_ratio",
    "act_mean",
    "act_std",
    "saturation",
];

/// Images of the validation set in the probe batch (fewer when it holds fewer).
pub const PROBE_ROWS: usize = 1000;

/// One row of `layers.csv`: layer `layer` (0 = the first, from the inputs) at the check after
/// `step`. The activation columns are empty for the output (softmax) layer.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayerRow {
    pub step: usize,
    pub epoch: usize,
    pub layer: usize,
    /// Mean over the steps since the previous check of |dL/dW| (Frobenius, batch-mean gradient).
    pub grad_norm: f64,
    /// |W| (Frobenius) at the check.
    pub weight_norm: f64,
    /// Largest singular value of W at the check.
    pub spectral_norm: f64,
    /// Mean over the steps since the previous check of |applied update|, over |W| at the check.
    pub update_ratio: f64,
    /// Mean and standard deviation of the layer's activations on the probe batch.
    pub act_mean: Option<f64>,
    pub act_std: Option<f64>,
    /// Fraction of (probe image, unit) pairs whose activation derivative is below 1% of its
    /// maximum (for ReLU: the dead units, f' = 0).
    pub saturation: Option<f64>,
}

/// The running sums between checks and the probe batch's buffers, allocated once.
pub struct Diagnostics<T> {
    /// The weights after the previous step: the applied update is the difference.
    previous: Vec<Vec<T>>,
    grad_sum: Vec<f64>,
    update_sum: Vec<f64>,
    steps: usize,
    /// The first layer's gradient, formed here when the optimiser applies it fused (it never
    /// exists in the workspace then).
    first_grad: Vec<T>,
    probe: Workspace<T>,
    /// (P, C) the probe's dense rows, when the first layer trains dense.
    probe_x: Vec<T>,
    probe_labels: Vec<u8>,
}

impl<T: Element> Diagnostics<T> {
    /// Diagnostics of `model` from its current weights on, probing the start of `val` (non-empty).
    pub fn new(model: &Mlp<T>, val: &Dataset<T>) -> Self {
        let layers = model.weights.len();
        let rows = PROBE_ROWS.min(val.len());
        assert!(rows > 0, "diagnostics run at checks, which need a validation set");
        let fused = model.plan.first_layer_train == FirstLayerTrain::SparseFusedSgd;
        let dense = !model.plan.first_layer_train.is_sparse();
        Self {
            previous: model.weights.clone(),
            grad_sum: vec![0.0; layers],
            update_sum: vec![0.0; layers],
            steps: 0,
            first_grad: if fused { vec![T::ZERO; model.weights[0].len()] } else { Vec::new() },
            probe: Workspace::new(model, rows, false),
            probe_x: if dense { probe_rows(val, rows) } else { Vec::new() },
            probe_labels: val.labels[..rows].to_vec(),
        }
    }

    /// Adds the step `stepper` just took on `data` (gradient and applied update of every layer).
    pub fn after_step(&mut self, model: &Mlp<T>, stepper: &Stepper<T>, data: &Dataset<T>) {
        for l in 0..model.weights.len() {
            let grad = if l == 0 && !self.first_grad.is_empty() {
                let (by_pixel, d0) = stepper.ws.first_layer_sparse_grad();
                let (c, oc) = (model.sizes[0], model.sizes[1]);
                sparse::sparse_linear_backward_weights(&mut self.first_grad, by_pixel, d0, c, oc, data.sparse.shift);
                frobenius(&self.first_grad)
            } else {
                frobenius(&stepper.ws.grads[l])
            };
            // The update the optimiser applied, whatever it is (schedules, Adam, weight decay).
            let prev = &mut self.previous[l];
            let update = frobenius_of_difference(&model.weights[l], prev);
            prev.copy_from_slice(&model.weights[l]);
            self.grad_sum[l] += grad;
            self.update_sum[l] += update;
        }
        self.steps += 1;
    }

    /// The rows of the check after `step`, and a fresh start of the running sums.
    pub fn check(&mut self, model: &Mlp<T>, val: &Dataset<T>, step: usize, epoch: usize) -> Vec<LayerRow> {
        let rows = self.probe_labels.len();
        let input = if self.probe_x.is_empty() {
            Input::Sparse { pixels: &val.sparse, rows: Rows::Range(0..rows) }
        } else {
            Input::Dense(&self.probe_x)
        };
        let acts = model.hidden_activation_stats(&mut self.probe, &input, &self.probe_labels);
        let steps = self.steps.max(1) as f64;
        let out = (0..model.weights.len())
            .map(|l| {
                let w = &model.weights[l];
                let weight_norm = frobenius(w);
                let act = acts.get(l);
                LayerRow {
                    step,
                    epoch,
                    layer: l,
                    grad_norm: self.grad_sum[l] / steps,
                    weight_norm,
                    spectral_norm: spectral_norm(w, model.rows(l), model.sizes[l + 1]),
                    update_ratio: self.update_sum[l] / steps / weight_norm,
                    act_mean: act.map(|a| a.mean),
                    act_std: act.map(|a| a.std),
                    saturation: act.map(|a| a.saturation),
                }
            })
            .collect();
        self.grad_sum.fill(0.0);
        self.update_sum.fill(0.0);
        self.steps = 0;
        out
    }
}

/// ||a - b||_F, summed in f64.
fn frobenius_of_difference<T: Element>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).map(|(&a, &b)| (a.to_f64() - b.to_f64()).powi(2)).sum::<f64>().sqrt()
}

/// (P, C) the first `rows` dense rows of `val`, made from its raw pixels: the plan may train the
/// first layer dense and evaluate it on another form, so `val` need not store dense rows.
fn probe_rows<T: Element>(val: &Dataset<T>, rows: usize) -> Vec<T> {
    let mut x = vec![T::ZERO; rows * val.dim()];
    val.dense_rows(0..rows, &mut x);
    x
}
