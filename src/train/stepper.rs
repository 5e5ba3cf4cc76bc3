//! One training step as the spec has it: forward, backward, update; with every buffer allocated
//! once per run.

use super::optimizer::Optimizer;
use crate::data::Dataset;
use crate::nn::{Input, Mlp, Rows, Workspace};
use kernels::Element;

/// Everything one training step needs: a step allocates nothing.
pub struct Stepper<T> {
    pub ws: Workspace<T>,
    pub opt: Optimizer<T>,
    /// (B, C) the dense batch, when the first layer trains dense.
    xb: Vec<T>,
    /// (B) the batch's labels.
    yb: Vec<u8>,
}

impl<T: Element> Stepper<T> {
    pub fn new(model: &Mlp<T>, batch_size: usize, lr: f64, gamma: f64) -> Self {
        let dense = !model.plan.first_layer_train.is_sparse();
        Self {
            ws: Workspace::new(&model.sizes, batch_size),
            opt: Optimizer::new(model, lr, gamma),
            xb: if dense { vec![T::ZERO; batch_size * model.sizes[0]] } else { Vec::new() },
            yb: vec![0; batch_size],
        }
    }

    /// Starts loading the sparse pixels of the next batch into cache (see
    /// [`kernels::sparse::prefetch_rows`]).
    pub fn prefetch(&self, model: &Mlp<T>, data: &Dataset<T>, batch: &[u32]) {
        if model.plan.first_layer_train.is_sparse() {
            kernels::sparse::prefetch_rows(&data.sparse.csr(), batch.iter().map(|&i| i as usize));
        }
    }

    /// One SGD step on the rows `batch` of `data` (exactly one batch). Returns the batch's mean
    /// cross entropy, computed before the update (as the reference reports it).
    pub fn step(&mut self, model: &mut Mlp<T>, data: &Dataset<T>, batch: &[u32]) -> f64 {
        assert_eq!(batch.len(), self.yb.len(), "a step takes exactly one batch");
        self.yb.iter_mut().zip(batch).for_each(|(y, &i)| *y = data.labels[i as usize]);
        let input = if model.plan.first_layer_train.is_sparse() {
            Input::Sparse { pixels: &data.sparse, rows: Rows::Batch(batch) }
        } else {
            data.dense_rows(batch.iter().map(|&i| i as usize), &mut self.xb);
            Input::Dense(&self.xb)
        };
        let loss = model.forward(&mut self.ws, &input, &self.yb, self.opt.first_layer_offset());
        model.backward(&mut self.ws, &input, &self.yb);
        self.opt.update(model, &self.ws, &input);
        loss / batch.len() as f64
    }
}
