//! The configuration of one training run: every knob, its default (the 2021 basic model), and
//! validation into [`RunConfig`], the only form training accepts. This module is vocabulary
//! only: it depends on no other part of the trainer.

mod knobs;

use std::ops::Deref;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
pub use knobs::Overrides;

/// Hidden-layer activation as spelled in flags and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationKind {
    /// Logistic sigmoid.
    Sigmoid,
    /// 1.7159 * tanh(2z/3) ("improved sigmoid", task 3b).
    Improved,
    /// max(z, 0) (`torch.nn.ReLU`).
    Relu,
}

/// Weight initialisation, applied to every layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum InitKind {
    /// uniform(-1, 1).
    Uniform,
    /// normal(0, 1/sqrt(fan_in)) ("improved weight init", task 3a).
    Normal,
    /// normal(0, sqrt(2/fan_in)) (`torch.nn.init.kaiming_normal_`, fan_in mode, for ReLU), drawn
    /// as `normal` is: the same stream and order, only the scale differs.
    He,
}

/// The optimiser, as `torch.optim` defines it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// SGD, with `momentum` (the 2021 form v = g + gamma v) and coupled L2 weight decay.
    Sgd,
    /// Adam with coupled L2 weight decay (`torch.optim.Adam`).
    Adam,
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    Adamw,
}

/// The learning rate over the steps, after the warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LrSchedule {
    /// lr at every step.
    Constant,
    /// From lr down to lr_min over the epoch bound (`CosineAnnealingLR`'s closed form).
    Cosine,
    /// lr * lr_decay^floor(epoch / lr_decay_epochs) (`StepLR`).
    Step,
}

/// Which layers have a bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum BiasKind {
    /// The 2021 form: a ones column appended to the input, whose weight row (drawn with the
    /// others) is the first layer's bias; no other bias.
    Input,
    /// Every layer has a bias vector, as `torch.nn.Linear`, initialised to zero; the weights are
    /// drawn as with `input`.
    All,
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

/// Which images the global normalisation mean/std come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NormStats {
    /// Every image of the training file (60000 for MNIST), as the 2021 reference did.
    FullTrain,
    /// Only the images actually trained on.
    TrainSubset,
}

/// Which family of kernels a run uses; both train the same model up to float rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kernels {
    /// Dense OpenBLAS GEMM with transpose flags, libm's e^x, gradient then update: the path that
    /// reproduces the 2021 numbers bit for bit.
    Reference,
    /// The execution plan picks the fastest kernel per layer (sparse pixels, polynomial e^x, fused
    /// updates).
    Fast,
}

/// Expert override of the first layer's kernel alone (training and evaluation); everything else
/// still follows `kernels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum FirstLayer {
    /// As the plan decides (always dense with `kernels = reference`).
    Auto,
    /// Dense GEMM on the normalised images.
    Dense,
    /// The non-zero raw pixels plus a rank-one correction.
    Sparse,
}

/// A named data set: where its four IDX files are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetName {
    /// The MNIST digits shipped with the project (data/mnist).
    Mnist,
    /// Zalando's Fashion-MNIST (Debian package dataset-fashion-mnist, installed by `make setup`).
    FashionMnist,
}

/// Every knob of a run. Defaults are the 2021 basic model (task 2c). New knobs go at the end: the
/// summary's columns follow this order and are only ever appended to.
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
    pub kernels: Kernels,
    pub first_layer: FirstLayer,
    /// Validate on the last N images of the training file (disjoint from the training images) and
    /// evaluate the test set (the last `val_size` test images) once at the end. 0: validate on the
    /// test set, as the 2021 study did.
    pub val_from_train: usize,
    /// The data set; a `--data-dir` given at run time replaces its directory (the fingerprint
    /// records what the files held).
    pub dataset: DatasetName,
    /// Write `layers.csv`: per-layer gradient, weight and update norms and activation statistics
    /// at every validation check (training itself is unchanged).
    pub diagnostics: bool,
    pub optimizer: OptimizerKind,
    /// Adam's first-moment decay.
    pub beta1: f64,
    /// Adam's second-moment decay.
    pub beta2: f64,
    /// Adam's epsilon, added to sqrt(v) / sqrt(1 - beta2^s).
    pub eps: f64,
    /// L: sgd and adam add L w to the gradient, adamw multiplies w by 1 - lr_t L.
    pub weight_decay: f64,
    pub lr_schedule: LrSchedule,
    /// Steps of linear warm-up: lr_t = lr (t + 1) / W for t < W.
    pub warmup_steps: usize,
    /// Where `cosine` ends.
    pub lr_min: f64,
    /// `step`: epochs between decays.
    pub lr_decay_epochs: usize,
    /// `step`: the factor of each decay.
    pub lr_decay: f64,
    /// Inverted dropout on every hidden layer's output in training (0: none).
    pub dropout: f64,
    pub bias: BiasKind,
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
            kernels: Kernels::Fast,
            first_layer: FirstLayer::Auto,
            val_from_train: 0,
            dataset: DatasetName::Mnist,
            diagnostics: false,
            optimizer: OptimizerKind::Sgd,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            lr_schedule: LrSchedule::Constant,
            warmup_steps: 0,
            lr_min: 0.0,
            lr_decay_epochs: 1,
            lr_decay: 0.1,
            dropout: 0.0,
            bias: BiasKind::Input,
        }
    }
}

fn invalid(key: &'static str, value: impl ToString, reason: &str) -> ConfigError {
    ConfigError { key, value: value.to_string(), reason: reason.into() }
}

impl TrainConfig {
    /// Checks every value once, before any data is touched; the result is the only form training
    /// accepts.
    pub fn validate(self) -> Result<RunConfig, ConfigError> {
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
        if self.momentum > 0.0 && self.optimizer != OptimizerKind::Sgd {
            return Err(invalid(
                "momentum",
                self.momentum,
                "momentum is for --optimizer sgd; adam and adamw have beta1",
            ));
        }
        for (key, beta) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(beta.is_finite() && (0.0..1.0).contains(&beta)) {
                return Err(invalid(key, beta, "Adam's betas must be in [0, 1)"));
            }
        }
        if !(self.eps.is_finite() && self.eps > 0.0) {
            return Err(invalid("eps", self.eps, "must be a positive finite number, e.g. 1e-8"));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(invalid("weight_decay", self.weight_decay, "must be a finite number >= 0 (0: none)"));
        }
        if self.optimizer == OptimizerKind::Adamw && self.lr * self.weight_decay >= 1.0 {
            return Err(invalid(
                "weight_decay",
                self.weight_decay,
                &format!("adamw multiplies w by 1 - lr * weight_decay each step: lr {} makes that <= 0", self.lr),
            ));
        }
        if !(self.lr_min.is_finite() && (0.0..=self.lr).contains(&self.lr_min)) {
            return Err(invalid("lr_min", self.lr_min, &format!("must be in [0, lr = {}]", self.lr)));
        }
        if self.lr_decay_epochs == 0 {
            return Err(invalid("lr_decay_epochs", 0, "must be at least 1"));
        }
        if !(self.lr_decay.is_finite() && self.lr_decay > 0.0 && self.lr_decay <= 1.0) {
            return Err(invalid("lr_decay", self.lr_decay, "the step schedule's factor must be in (0, 1]"));
        }
        if !(self.dropout.is_finite() && (0.0..1.0).contains(&self.dropout)) {
            return Err(invalid("dropout", self.dropout, "the drop probability must be in [0, 1) (0: none)"));
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
        let steps_per_epoch = self.steps_per_epoch();
        if self.epochs.checked_mul(steps_per_epoch).is_none_or(|s| s > u32::MAX as usize) {
            return Err(invalid(
                "epochs",
                self.epochs,
                &format!("{} epochs of {steps_per_epoch} steps are more steps than a run can log", self.epochs),
            ));
        }
        if self.validation && self.checks_per_epoch > steps_per_epoch {
            return Err(invalid(
                "checks_per_epoch",
                self.checks_per_epoch,
                &format!(
                    "an epoch has {steps_per_epoch} steps ({} images / batch {}): at most one check per step",
                    self.train_size, self.batch_size
                ),
            ));
        }
        Ok(RunConfig(self))
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

/// A configuration that passed [`TrainConfig::validate`]: it can only be made that way (also
/// when read back from a file), so code that holds one never checks again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "TrainConfig", into = "TrainConfig")]
pub struct RunConfig(TrainConfig);

impl TryFrom<TrainConfig> for RunConfig {
    type Error = ConfigError;
    fn try_from(cfg: TrainConfig) -> Result<Self, ConfigError> {
        cfg.validate()
    }
}

impl From<RunConfig> for TrainConfig {
    fn from(cfg: RunConfig) -> Self {
        cfg.0
    }
}

impl Deref for RunConfig {
    type Target = TrainConfig;
    fn deref(&self) -> &TrainConfig {
        &self.0
    }
}

impl RunConfig {
    /// The same configuration with `change` applied, validated again.
    pub fn with(&self, change: impl FnOnce(&mut TrainConfig)) -> Result<Self, ConfigError> {
        let mut cfg = self.0.clone();
        change(&mut cfg);
        cfg.validate()
    }
}

/// "f32" or "f64", as `kernels::Scalar::NAME` spells the element type.
pub fn precision_name(p: Precision) -> &'static str {
    match p {
        Precision::F32 => "f32",
        Precision::F64 => "f64",
    }
}

/// Output classes (digits).
pub const CLASSES: usize = 10;

/// Parameters of an MLP with `inputs` inputs (the bias column included): the sum of the weight
/// matrix sizes, since the only bias is the input's ones column. None when it overflows.
pub fn parameter_count(inputs: usize, hidden: &[usize], bias: BiasKind) -> Option<usize> {
    let sizes = layer_sizes(inputs, hidden);
    (0..sizes.len() - 1)
        .try_fold(0usize, |sum, l| sum.checked_add(weight_rows(&sizes, bias, l).checked_mul(sizes[l + 1])?))
}

/// Rows of layer l's weight matrix in a network of widths `sizes`: its inputs, plus the bias row
/// of a hidden layer's input with `bias = all` (the first layer's input carries its ones column).
pub fn weight_rows(sizes: &[usize], bias: BiasKind, l: usize) -> usize {
    sizes[l] + usize::from(l > 0 && bias == BiasKind::All)
}

/// Layer widths from input to output: [inputs, hidden..., 10].
pub fn layer_sizes(inputs: usize, hidden: &[usize]) -> Vec<usize> {
    std::iter::once(inputs).chain(hidden.iter().copied()).chain([CLASSES]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_are_exact_or_none() {
        assert_eq!(parameter_count(785, &[64], BiasKind::Input), Some(785 * 64 + 64 * 10));
        assert_eq!(parameter_count(785, &[60, 60], BiasKind::Input), Some(785 * 60 + 60 * 60 + 600));
        // torch.nn.Linear's count: (784 + 1) 60 + (60 + 1) 60 + (60 + 1) 10.
        assert_eq!(parameter_count(785, &[60, 60], BiasKind::All), Some(785 * 60 + 61 * 60 + 610));
        assert_eq!(parameter_count(785, &[1 << 32, 1 << 32], BiasKind::Input), None);
        assert_eq!(parameter_count(785, &[usize::MAX], BiasKind::All), None);
    }

    #[test]
    fn a_run_config_read_from_a_file_is_validated() {
        let good = serde_json::to_string(&TrainConfig::default().validate().unwrap()).unwrap();
        assert!(serde_json::from_str::<RunConfig>(&good).is_ok());
        let bad = good.replace("\"lr\": 0.1", "\"lr\": -1.0").replace("\"lr\":0.1", "\"lr\":-1.0");
        let err = serde_json::from_str::<RunConfig>(&bad).unwrap_err().to_string();
        assert!(err.contains("invalid lr"), "{err}");
    }
}
