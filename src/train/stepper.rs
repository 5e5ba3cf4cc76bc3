//! One training step as the spec has it: forward, backward, update; with every buffer allocated
//! once per run.

use super::dropout::Dropout;
use super::optimizer::Optimizer;
use super::schedule::Schedule;
use crate::config::TrainConfig;
use crate::data::Dataset;
use crate::nn::{Input, Mlp, Rows, Workspace};
use kernels::Element;

/// Everything one training step needs: a step allocates nothing.
pub struct Stepper<T> {
    pub ws: Workspace<T>,
    pub opt: Optimizer<T>,
    /// The learning rate of every step.
    pub schedule: Schedule,
    /// The dropout masks' stream, with dropout.
    pub dropout: Option<Dropout>,
    /// (B, C) the dense batch, when the first layer trains dense.
    xb: Vec<T>,
    /// (B) the batch's labels.
    yb: Vec<u8>,
}

impl<T: Element> Stepper<T> {
    /// The buffers, optimiser, schedule and dropout stream of a run of `cfg` training `model`.
    pub fn new(model: &Mlp<T>, cfg: &TrainConfig) -> Self {
        let dense = !model.plan.first_layer_train.is_sparse();
        let batch_size = cfg.batch_size;
        let dropout = (cfg.dropout > 0.0).then(|| Dropout::new(cfg.dropout, cfg.seed));
        Self {
            ws: Workspace::new(model, batch_size, dropout.is_some()),
            opt: Optimizer::new(model, cfg),
            schedule: Schedule::new(cfg),
            dropout,
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

    /// One step at learning rate `lr` on the rows `batch` of `data` (exactly one batch). Returns
    /// the batch's mean cross entropy, computed before the update (as the reference reports it).
    pub fn step(&mut self, model: &mut Mlp<T>, data: &Dataset<T>, batch: &[u32], lr: f64) -> f64 {
        assert_eq!(batch.len(), self.yb.len(), "a step takes exactly one batch");
        self.yb.iter_mut().zip(batch).for_each(|(y, &i)| *y = data.labels[i as usize]);
        let input = if model.plan.first_layer_train.is_sparse() {
            Input::Sparse { pixels: &data.sparse, rows: Rows::Batch(batch) }
        } else {
            data.dense_rows(batch.iter().map(|&i| i as usize), &mut self.xb);
            Input::Dense(&self.xb)
        };
        if let Some(dropout) = self.dropout.as_mut() {
            dropout.fill(self.ws.dropout_masks_mut());
        }
        let loss = model.forward(&mut self.ws, &input, &self.yb, self.opt.first_layer_offset());
        model.backward(&mut self.ws, &input, &self.yb);
        self.opt.update(model, &self.ws, &input, lr);
        loss / batch.len() as f64
    }
}
