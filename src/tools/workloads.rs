//! The throughput workloads used by benchmarks and `mlp throughput` (names used everywhere):
//!
//! * W1: one training epoch over all 60000 training images, [785, 64, 10], sigmoid, SGD lr 0.1,
//!   batch 32 (1875 steps), no validation.
//! * W2: W1 with ten hidden layers of 64.
//! * W3: evaluation (forward + cross entropy + accuracy) over 70000 images, [785, 64, 10].
//! * W4: W1 plus the study's five validation passes per epoch (validation 10000 images and
//!   training accuracy on 60000).

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::{FirstLayer, Kernels, NormStats, Precision, RunConfig, TrainConfig};
use crate::data::{self, Mnist, SplitForms, Splits};
use crate::error::TrainError;
use crate::rng::XoshiroRng;
use crate::train::log::NullSink;
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

impl Workload {
    /// The training configuration of W1, W2 and W4 (W3 uses its layer sizes only).
    pub fn config(self, precision: Precision, kernels: Kernels, first_layer: FirstLayer) -> RunConfig {
        TrainConfig {
            hidden: if self == Workload::W2 { vec![64; 10] } else { vec![64] },
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
        .validate()
        .expect("the workloads are valid")
    }
}

/// The full training file for training and the test file for validation.
pub fn splits<T: Element>(mnist: &Mnist) -> Result<Splits<'_, T>, TrainError> {
    Ok(data::split::<T>(mnist, 60000, 10000, 0, NormStats::FullTrain, SplitForms::ALL)?)
}

/// Runs `w` once on prepared data and returns its wall time in seconds (data preparation
/// excluded).
pub fn run_once<T: Element>(
    w: Workload,
    splits: &Splits<T>,
    precision: Precision,
    kernels: Kernels,
    first_layer: FirstLayer,
) -> Result<f64, TrainError> {
    let cfg = w.config(precision, kernels, first_layer);
    if w == Workload::W3 {
        let model = init_model::<T>(&cfg, splits.train.dim(), &mut XoshiroRng::new(1));
        let start = Instant::now();
        let a = model.evaluate(&splits.train);
        let b = model.evaluate(&splits.val);
        let elapsed = start.elapsed().as_secs_f64();
        std::hint::black_box((a, b));
        return Ok(elapsed);
    }
    Ok(train::<T>(&cfg, splits, &mut NullSink, None)?.summary.train_wall_s)
}
