//! The resolved configuration of one training run, validated once before training starts.

use serde::{Deserialize, Serialize};

use crate::data::NormStats;
use crate::error::ConfigError;
use kernels::layers::{Activation, Math};
use kernels::Scalar;

/// Hidden-layer activation as spelled in flags and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationKind {
    /// Logistic sigmoid.
    Sigmoid,
    /// 1.7159 * tanh(2z/3) ("improved sigmoid", task 3b).
    Improved,
}

impl From<ActivationKind> for Activation {
    fn from(a: ActivationKind) -> Self {
        match a {
            ActivationKind::Sigmoid => Activation::Sigmoid,
            ActivationKind::Improved => Activation::ImprovedSigmoid,
        }
    }
}

/// Weight initialisation, applied to every layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InitKind {
    /// uniform(-1, 1).
    Uniform,
    /// normal(0, 1/sqrt(fan_in)) ("improved weight init", task 3a).
    Normal,
}

/// Element type of the whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Precision {
    F32,
    F64,
}

/// Random stream for the weight init and the per-epoch shuffles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RngKind {
    /// xoshiro256++ seeded by `seed` (fast, the default).
    Xoshiro,
    /// numpy's legacy global stream (MT19937, `np.random.seed(seed)`), for bit-faithful
    /// reproduction of the 2021 results.
    Numpy,
}

/// How the first layer is computed; all give the same results up to float rounding. Dense is the
/// reference path throughout (libm e^x, gradient then update); the others are the fast path
/// (vectorised e^x, and with plain SGD the sparse first layer's gradient fused into its update).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FirstLayer {
    /// Dense OpenBLAS GEMM on the normalised images everywhere (the reference path).
    Dense,
    /// Only the non-zero raw pixels plus a rank-one correction, in training steps and evaluation.
    Sparse,
    /// Whichever measured faster on this project's 2-core machine (`make bench`): sparse pixels
    /// in evaluation, and in training steps when the first layer has 64 or more units (32 or more
    /// in f64).
    Auto,
}

impl FirstLayer {
    /// Whether training steps of a first layer of `units` units in precision `T` run on the
    /// sparse pixels (and need no dense copy of the batch). Auto: where it measured faster
    /// (`make bench`, steps in us, dense vs sparse): f32 [64] 85 vs 59, [32] 38 vs 37 and
    /// [60, 60] 104 vs 106 (on par: dense kept); f64 [64] 188 vs 101, [32] 68 vs 62, [60, 60]
    /// 231 vs 142.
    pub fn sparse_training<T: Scalar>(self, units: usize) -> bool {
        let from = if std::mem::size_of::<T>() == 8 { 32 } else { kernels::sparse::WIDE };
        match self {
            FirstLayer::Dense => false,
            FirstLayer::Sparse => true,
            FirstLayer::Auto => units >= from,
        }
    }

    /// The activations' e^x: the C library's on the reference path, the vectorised polynomial
    /// (within 2 ulp, `kernels::fastmath`) on the fast paths.
    pub fn math(self) -> Math {
        if self == FirstLayer::Dense {
            Math::Libm
        } else {
            Math::Fast
        }
    }

    /// Whether evaluation uses the sparse kernels.
    pub fn sparse_evaluation(self) -> bool {
        self != FirstLayer::Dense
    }
}

/// Every knob of a run. Defaults are the 2021 basic model (task 2c).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Hidden layer sizes, input side first; the 10-way softmax output is implied.
    pub hidden: Vec<usize>,
    pub activation: ActivationKind,
    pub init: InitKind,
    pub lr: f64,
    /// Momentum gamma; 0 means plain SGD.
    pub momentum: f64,
    pub batch_size: usize,
    /// Upper bound on epochs; early stopping usually ends the run first.
    pub epochs: usize,
    /// Validation checks without strict improvement of the validation loss before stopping.
    pub patience: usize,
    pub early_stopping: bool,
    /// Validation checks per epoch (every steps_per_epoch / checks_per_epoch steps).
    pub checks_per_epoch: usize,
    /// Run validation checks at all (off for pure throughput runs).
    pub validation: bool,
    /// Put back the weights of the best check before the final metrics.
    pub restore_best: bool,
    pub seed: u64,
    pub rng: RngKind,
    pub precision: Precision,
    pub train_size: usize,
    pub val_size: usize,
    pub norm_stats: NormStats,
    pub first_layer: FirstLayer,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            hidden: vec![64],
            activation: ActivationKind::Sigmoid,
            init: InitKind::Uniform,
            lr: 0.1,
            momentum: 0.0,
            batch_size: 32,
            epochs: 50,
            patience: 50,
            early_stopping: true,
            checks_per_epoch: 5,
            validation: true,
            restore_best: false,
            seed: 1,
            rng: RngKind::Xoshiro,
            precision: Precision::F64,
            train_size: 20000,
            val_size: 10000,
            norm_stats: NormStats::FullTrain,
            first_layer: FirstLayer::Auto,
        }
    }
}

fn invalid(key: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError { key, value: value.to_string(), reason: reason.into() }
}

impl TrainConfig {
    /// Checks every value once, before any data is touched.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let hidden = || format!("{:?}", self.hidden);
        if self.hidden.is_empty() {
            return Err(invalid("hidden", hidden(), "give at least one hidden layer size, e.g. 64 or 60,60"));
        }
        if self.hidden.contains(&0) {
            return Err(invalid("hidden", hidden(), "layer sizes must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(invalid("lr", self.lr, "the learning rate must be a positive finite number"));
        }
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(invalid("momentum", self.momentum, "gamma must be in [0, 1) (0 disables momentum)"));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", 0, "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(invalid("epochs", 0, "must be at least 1"));
        }
        if self.patience == 0 {
            return Err(invalid("patience", 0, "must be at least 1 (use early_stopping = false to disable)"));
        }
        if self.rng == RngKind::Numpy && self.seed > u32::MAX as u64 {
            return Err(invalid("seed", self.seed, "numpy seeds are 32-bit (0..=4294967295)"));
        }
        if self.checks_per_epoch == 0 {
            return Err(invalid("checks_per_epoch", 0, "must be at least 1"));
        }
        if self.train_size < self.batch_size {
            return Err(invalid(
                "train_size",
                self.train_size,
                &format!("must hold at least one batch of {} images", self.batch_size),
            ));
        }
        if self.val_size == 0 && self.validation {
            return Err(invalid("val_size", 0, "validation needs at least one image (or disable validation)"));
        }
        Ok(())
    }

    /// Layer widths from input to output: [inputs, hidden..., 10].
    pub fn layer_sizes(&self, inputs: usize) -> Vec<usize> {
        layer_sizes(inputs, &self.hidden)
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.train_size / self.batch_size
    }

    /// Steps between validation checks (at least 1).
    pub fn steps_per_check(&self) -> usize {
        (self.steps_per_epoch() / self.checks_per_epoch).max(1)
    }
}

/// Output classes (digits).
pub const CLASSES: usize = 10;

/// Parameters of an MLP with `inputs` inputs (the bias column included): the sum of the weight
/// matrix sizes, since the only bias is the input's ones column.
pub fn parameter_count(inputs: usize, hidden: &[usize]) -> usize {
    layer_sizes(inputs, hidden).windows(2).map(|w| w[0] * w[1]).sum()
}

/// Layer widths from input to output: [inputs, hidden..., 10].
pub fn layer_sizes(inputs: usize, hidden: &[usize]) -> Vec<usize> {
    std::iter::once(inputs).chain(hidden.iter().copied()).chain([CLASSES]).collect()
}

#[cfg(test)]
mod tests {
    use super::FirstLayer;

    #[test]
    fn auto_trains_sparse_where_it_measured_faster() {
        let auto = FirstLayer::Auto;
        assert!(auto.sparse_training::<f32>(64) && auto.sparse_training::<f32>(128));
        assert!(!auto.sparse_training::<f32>(32) && !auto.sparse_training::<f32>(60));
        assert!(auto.sparse_training::<f64>(32) && auto.sparse_training::<f64>(60));
        assert!(!auto.sparse_training::<f64>(16));
        assert!(FirstLayer::Sparse.sparse_training::<f32>(1) && !FirstLayer::Dense.sparse_training::<f64>(64));
    }
}
