//! The training loop: SGD with optional momentum, reshuffle every epoch, validation checks and
//! early stopping, as the 2021 reference does them.

use std::time::Instant;

use crate::config::TrainConfig;
use crate::data::{Dataset, Splits};
use crate::early_stop::{EarlyStopping, Verdict};
use crate::error::TrainError;
use crate::model::{Input, Mlp, Rows, Workspace};
use crate::output::{CheckRow, RunSink, StepRow, Summary};
use crate::rng::make_rng;
use kernels::optim;
use kernels::Scalar;

/// SGD, with momentum v = g + gamma * v, w -= lr * v when gamma > 0.
pub struct Optimizer<T> {
    lr: T,
    gamma: T,
    /// One buffer per layer when momentum is on, zero at the start; empty otherwise.
    velocity: Vec<Vec<T>>,
}

impl<T: Scalar> Optimizer<T> {
    pub fn new(model: &Mlp<T>, lr: f64, gamma: f64) -> Self {
        let velocity =
            if gamma > 0.0 { model.weights.iter().map(|w| vec![T::ZERO; w.len()]).collect() } else { Vec::new() };
        Self { lr: T::from_f64(lr), gamma: T::from_f64(gamma), velocity }
    }

    /// Updates layers `from..` with their gradients (after the whole backward pass, as the
    /// reference does).
    pub fn update(&mut self, model: &mut Mlp<T>, grads: &[Vec<T>], from: usize) {
        for (l, (w, g)) in model.weights.iter_mut().zip(grads).enumerate().skip(from) {
            let w = w.as_slice_mut().expect("weights are contiguous");
            match self.velocity.get_mut(l) {
                Some(v) => optim::momentum_update(w, v, g, self.lr, self.gamma),
                None => optim::sgd_update(w, g, self.lr),
            }
        }
    }
}

/// Everything one training step needs, allocated once: a step allocates nothing.
pub struct Stepper<T> {
    pub ws: Workspace<T>,
    pub opt: Optimizer<T>,
    xb: Vec<T>,
    yb: Vec<u8>,
}

impl<T: Scalar> Stepper<T> {
    pub fn new(model: &Mlp<T>, batch_size: usize, lr: f64, gamma: f64) -> Self {
        Self {
            ws: Workspace::new(&model.sizes, batch_size),
            opt: Optimizer::new(model, lr, gamma),
            xb: if model.first_layer.sparse_training::<T>(model.sizes[1]) {
                Vec::new()
            } else {
                vec![T::ZERO; batch_size * model.sizes[0]]
            },
            yb: vec![0; batch_size],
        }
    }

    /// Starts loading the sparse pixels of the next batch into cache (see
    /// [`kernels::sparse::prefetch_rows`]).
    pub fn prefetch(&self, model: &Mlp<T>, data: &Dataset<T>, batch: &[u32]) {
        if model.first_layer.sparse_training::<T>(model.sizes[1]) {
            kernels::sparse::prefetch_rows(&data.sparse.csr(), batch.iter().map(|&i| i as usize));
        }
    }

    /// One SGD step on the rows `batch` of `data`: forward, backward, update. Returns the batch's
    /// mean cross entropy, computed before the update (as the reference reports it).
    pub fn step(&mut self, model: &mut Mlp<T>, data: &Dataset<T>, batch: &[u32]) -> f64 {
        self.yb.iter_mut().zip(batch).for_each(|(y, &i)| *y = data.labels[i as usize]);
        let loss = if model.first_layer.sparse_training::<T>(model.sizes[1]) {
            let rows = Rows::Batch(batch);
            let input = Input::Sparse { pixels: &data.sparse, rows: rows.clone() };
            let loss = model.forward(&mut self.ws, &input, &self.yb);
            if self.opt.velocity.is_empty() {
                // Plain SGD: the first layer's gradient never materialises.
                model.backward_above_first(&mut self.ws, &self.yb);
                self.opt.update(model, &self.ws.grads, 1);
                model.first_layer_sparse_sgd(&mut self.ws, &data.sparse, &rows, self.opt.lr);
            } else {
                model.backward(&mut self.ws, &input, &self.yb);
                self.opt.update(model, &self.ws.grads, 0);
            }
            loss
        } else {
            let (dim, x) = (data.dim(), data.x.as_slice().expect("data rows are contiguous"));
            for (dst, &i) in self.xb.chunks_exact_mut(dim).zip(batch) {
                dst.copy_from_slice(&x[i as usize * dim..(i as usize + 1) * dim]);
            }
            let input = Input::Dense(&self.xb);
            let loss = model.forward(&mut self.ws, &input, &self.yb);
            model.backward(&mut self.ws, &input, &self.yb);
            self.opt.update(model, &self.ws.grads, 0);
            loss
        };
        loss / batch.len() as f64
    }
}

/// What a finished run returns.
pub struct Outcome<T> {
    pub summary: Summary,
    pub model: Mlp<T>,
}

/// Trains one model on `splits` as `cfg` says, streaming rows to `sink`.
pub fn train<T: Scalar>(
    cfg: &TrainConfig,
    splits: &Splits<T>,
    sink: &mut dyn RunSink,
) -> Result<Outcome<T>, TrainError> {
    cfg.validate()?;
    let (train, val) = (&splits.train, &splits.val);
    let sizes = cfg.layer_sizes(train.dim());
    let mut rng = make_rng(cfg.rng, cfg.seed);
    let mut model = Mlp::<T>::init(&sizes, cfg.activation.into(), cfg.init, rng.as_mut());
    model.first_layer = cfg.first_layer;
    let mut stepper = Stepper::new(&model, cfg.batch_size, cfg.lr, cfg.momentum);
    let mut indices: Vec<u32> = (0..train.len() as u32).collect();
    let mut stopper = EarlyStopping::new(cfg.patience);
    let mut best_weights = cfg.restore_best.then(|| model.weights.clone());
    let (steps_per_epoch, steps_per_check) = (cfg.steps_per_epoch(), cfg.steps_per_check());

    let start = Instant::now();
    let (mut step, mut stop_epoch) = (0usize, None);
    'epochs: for epoch in 0..cfg.epochs {
        // A fresh 0..N every epoch, then shuffled, as the reference's `list(range(N))`.
        indices.iter_mut().enumerate().for_each(|(i, v)| *v = i as u32);
        rng.shuffle(&mut indices);
        let mut batches = indices.chunks_exact(cfg.batch_size).take(steps_per_epoch).peekable();
        while let Some(batch) = batches.next() {
            if let Some(next) = batches.peek() {
                stepper.prefetch(&model, train, next);
            }
            let train_loss = stepper.step(&mut model, train, batch);
            if !train_loss.is_finite() {
                return Err(TrainError::Diverged { what: "the training loss", value: train_loss, step, epoch });
            }
            sink.step(&StepRow { step, epoch, train_loss })?;
            let check_now = cfg.validation && step % steps_per_check == 0;
            step += 1;
            if !check_now {
                continue;
            }
            let v = model.evaluate(val);
            if !v.loss.is_finite() {
                return Err(TrainError::Diverged { what: "the validation loss", value: v.loss, step: step - 1, epoch });
            }
            let t = model.evaluate(train);
            sink.check(&CheckRow {
                step: step - 1,
                epoch,
                val_loss: v.loss,
                val_acc: v.accuracy,
                train_acc: t.accuracy,
                elapsed_s: start.elapsed().as_secs_f64(),
                train_full_loss: t.loss,
            })?;
            match stopper.observe(step - 1, v.loss) {
                Verdict::Improved => {
                    if let Some(best) = best_weights.as_mut() {
                        best.iter_mut().zip(&model.weights).for_each(|(b, w)| b.assign(w));
                    }
                }
                Verdict::Stop if cfg.early_stopping => {
                    stop_epoch = Some(epoch);
                    break 'epochs;
                }
                _ => {}
            }
        }
    }
    let train_wall_s = start.elapsed().as_secs_f64();

    let restored_best = match best_weights {
        Some(best) if stopper.best().is_some() => {
            model.weights = best;
            true
        }
        _ => false,
    };
    let (t, v) = (model.evaluate(train), model.evaluate(val));
    let best = stopper.best();
    let summary = Summary {
        stop_epoch,
        steps: step,
        best_step: best.map(|b| b.0),
        best_val_loss: best.map(|b| b.1),
        final_train_loss: t.loss,
        final_train_acc: t.accuracy,
        final_val_loss: v.loss,
        final_val_acc: v.accuracy,
        train_wall_s,
        restored_best,
    };
    Ok(Outcome { summary, model })
}
