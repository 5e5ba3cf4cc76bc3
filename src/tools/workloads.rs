//! The throughput workloads used by benchmarks and `mlp throughput` (names used everywhere):
//!
//! * W1: one training epoch over all 60000 training images, [785, 64, 10], sigmoid, SGD lr 0.1,
//!   batch 32 (1875 steps), no validation.
//! * W2: W1 with ten hidden layers of 64.
//! * W3: evaluation (forward + cross entropy + accuracy) over 70000 images, [785, 64, 10].
//! * W4: W1 plus the study's five validation passes per epoch (validation 10000 images and
//!   training accuracy on 60000).
//!
//! A [`Shape`] replaces a training workload's hidden layers and batch size, and may time only the
//! first steps of its shuffled epoch (the scaling benchmark, `scripts/bench_scaling.py`).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::{FirstLayer, Kernels, NormStats, Precision, RunConfig, TrainConfig};
use crate::data::{self, Mnist, SplitForms, Splits};
use crate::error::{ConfigError, TrainError};
use crate::rng::make_rng;
use crate::rng::XoshiroRng;
use crate::train::log::NullSink;
use crate::train::stepper::Stepper;
use crate::train::{init_model, train};
use kernels::Element;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    W1,
    W2,
    W3,
    W4,
}

/// Changes to a workload's own shape; `None` keeps the workload's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    pub hidden: Option<Vec<usize>>,
    pub batch_size: Option<usize>,
    /// Train only the first `steps` batches of the shuffled epoch (training workloads).
    pub steps: Option<usize>,
}

impl Workload {
    /// The training configuration of W1, W2 and W4 (W3 uses its layer sizes only), in `shape`.
    pub fn config(
        self,
        precision: Precision,
        kernels: Kernels,
        first_layer: FirstLayer,
        shape: &Shape,
    ) -> Result<RunConfig, TrainError> {
        let own = if self == Workload::W2 { vec![64; 10] } else { vec![64] };
        Ok(TrainConfig {
            hidden: shape.hidden.clone().unwrap_or(own),
            batch_size: shape.batch_size.unwrap_or(TrainConfig::default().batch_size),
            epochs: 1,
            train_size: 60000,
            val_size: 10000,
            validation: self == Workload::W4,
            early_stopping: false,
            precision,
            kernels,
            first_layer,
            ..TrainConfig::default()
        }
        .validate()?)
    }
}

/// The full training file for training and the test file for validation.
pub fn splits<T: Element>(mnist: &Mnist) -> Result<Splits<'_, T>, TrainError> {
    Ok(data::split::<T>(mnist, 60000, 10000, 0, NormStats::FullTrain, SplitForms::ALL)?)
}

/// Runs `w` once on prepared data in `shape` and returns its wall time in seconds (data
/// preparation excluded).
pub fn run_once<T: Element>(
    w: Workload,
    splits: &Splits<T>,
    precision: Precision,
    kernels: Kernels,
    first_layer: FirstLayer,
    shape: &Shape,
) -> Result<f64, TrainError> {
    let cfg = w.config(precision, kernels, first_layer, shape)?;
    if let (Some(steps), Workload::W3 | Workload::W4) = (shape.steps, w) {
        return Err(invalid_steps(
            steps,
            "only W1 and W2 time a number of steps (W3 evaluates, W4 validates within the epoch)",
        ));
    }
    if w == Workload::W3 {
        let model = init_model::<T>(&cfg, splits.train.dim(), &mut XoshiroRng::new(1));
        let start = Instant::now();
        let a = model.evaluate(&splits.train);
        let b = model.evaluate(&splits.val);
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box((a, b));
        return Ok(elapsed);
    }
    match shape.steps {
        Some(steps) => first_steps(&cfg, splits, steps),
        None => Ok(train::<T>(&cfg, splits, &mut NullSink, None)?.summary.train_wall_s),
    }
}

/// The wall time of the first `steps` batches of one shuffled epoch, as `train` steps them.
fn first_steps<T: Element>(cfg: &RunConfig, splits: &Splits<T>, steps: usize) -> Result<f64, TrainError> {
    let in_epoch = cfg.steps_per_epoch();
    if steps == 0 || steps > in_epoch {
        return Err(invalid_steps(steps, &format!("give 1 to {in_epoch}, the steps of one epoch at this batch size")));
    }
    let data = &splits.train;
    let mut rng = make_rng(cfg.rng, cfg.seed);
    let mut model = init_model::<T>(cfg, data.dim(), rng.as_mut());
    let mut stepper = Stepper::new(&model, cfg);
    let mut indices: Vec<u32> = (0..data.len() as u32).collect();
    rng.shuffle(&mut indices);
    let start = Instant::now();
    let mut batches = indices.chunks_exact(cfg.batch_size).take(steps).enumerate().peekable();
    let mut loss = 0.0;
    while let Some((t, batch)) = batches.next() {
        if let Some((_, next)) = batches.peek() {
            stepper.prefetch(&model, data, next);
        }
        loss += stepper.step(&mut model, data, batch, stepper.schedule.lr_at(t));
    }
    let elapsed = start.elapsed().as_secs_f64();
    std::hint::black_box(loss);
    Ok(elapsed)
}

fn invalid_steps(steps: usize, reason: &str) -> TrainError {
    ConfigError { key: "steps", value: steps.to_string(), reason: reason.into() }.into()
}
