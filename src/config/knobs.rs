//! The one list of knobs as optional overrides: `mlp train`'s flags (clap), the keys of a sweep
//! file's tables (serde), and the presets all produce an [`Overrides`] that is merged onto a
//! [`TrainConfig`]. A test checks that it names exactly the config's fields.

use serde::{Deserialize, Serialize};

use super::{
    ActivationKind, BiasKind, DatasetName, FirstLayer, InitKind, Kernels, LrSchedule, NormStats, OptimizerKind,
    Precision, RngKind, TrainConfig,
};

/// Values to change in a [`TrainConfig`]; `None` keeps the value underneath.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields)]
#[command(next_help_heading = "Knobs (also the keys of a sweep file)")]
pub struct Overrides {
    /// Hidden layer sizes, comma separated, e.g. 64 or 60,60.
    #[arg(long, value_delimiter = ',')]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<Vec<usize>>,
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activation: Option<ActivationKind>,
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<InitKind>,
    /// Learning rate.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr: Option<f64>,
    /// Momentum gamma (0 = plain SGD; the study uses 0.9 with lr 0.02).
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f64>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Maximum number of epochs.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Early-stopping patience, in validation checks.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patience: Option<usize>,
    /// Stop early (`--early-stopping false` trains all epochs).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub early_stopping: Option<bool>,
    /// Validation checks per epoch.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks_per_epoch: Option<usize>,
    /// Validation checks (`--validation false` for throughput runs; final metrics are still computed).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation: Option<bool>,
    /// Use the weights of the best check for the final metrics.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_best: Option<bool>,
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rng: Option<RngKind>,
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    /// Training images: the first N of the training file.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_size: Option<usize>,
    /// Validation images: the last N of the test file.
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_size: Option<usize>,
    /// Images the normalisation mean/std come from.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub norm_stats: Option<NormStats>,
    /// Kernel family: reference (bit-faithful 2021 path) or fast (the plan picks per layer).
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernels: Option<Kernels>,
    /// Expert override of the first layer's kernel only (auto: as the plan decides).
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_layer: Option<FirstLayer>,
    /// Validate on the last N training-file images and test once at the end (0: validate on the
    /// test set, the 2021 setting).
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub val_from_train: Option<usize>,
    /// The data set: mnist (bundled) or fashion-mnist (Debian's dataset-fashion-mnist).
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetName>,
    /// Per-layer diagnostics at every check into layers.csv (gradient, weight and update norms,
    /// activation statistics).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<bool>,
    /// Optimiser, as torch.optim defines it: sgd (with --momentum), adam, adamw.
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<OptimizerKind>,
    /// Adam's first-moment decay [default: 0.9].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta1: Option<f64>,
    /// Adam's second-moment decay [default: 0.999].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beta2: Option<f64>,
    /// Adam's epsilon [default: 1e-8].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eps: Option<f64>,
    /// Weight decay L: coupled L2 (g += L w) for sgd and adam, decoupled (w *= 1 - lr_t L) for adamw [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight_decay: Option<f64>,
    /// Learning-rate schedule after the warm-up, over the epoch bound [default: constant].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_schedule: Option<LrSchedule>,
    /// Linear warm-up steps: lr_t = lr (t + 1) / W for t < W [default: 0].
    #[arg(long, value_name = "W")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_steps: Option<usize>,
    /// Final learning rate of the cosine schedule [default: 0].
    #[arg(long)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_min: Option<f64>,
    /// Step schedule: epochs between decays [default: 1].
    #[arg(long, value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_decay_epochs: Option<usize>,
    /// Step schedule: factor of each decay [default: 0.1].
    #[arg(long, value_name = "G")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_decay: Option<f64>,
    /// Inverted dropout probability on every hidden layer's output in training [default: 0].
    #[arg(long, value_name = "P")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropout: Option<f64>,
    /// Biases: `input` (the 2021 ones column on the input) or `all` (every layer, as torch.nn.Linear, zero-initialised) [default: input].
    #[arg(long, value_enum)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bias: Option<BiasKind>,
}

/// Applies every `Some` field of `$from` onto `$to`, for the listed fields.
macro_rules! merge {
    ($from:expr, $to:expr; $($field:ident),* $(,)?) => {
        $(if let Some(v) = &$from.$field { $to.$field = v.clone(); })*
    };
}

impl Overrides {
    /// Writes every given value into `cfg`.
    pub fn apply(&self, cfg: &mut TrainConfig) {
        merge!(self, cfg;
            hidden, activation, init, lr, momentum, batch_size, epochs, patience, early_stopping,
            checks_per_epoch, validation, restore_best, seed, rng, precision, train_size, val_size,
            norm_stats, kernels, first_layer, val_from_train, dataset,
            diagnostics, optimizer, beta1, beta2, eps, weight_decay, lr_schedule, warmup_steps, lr_min,
            lr_decay_epochs, lr_decay, dropout, bias,
        );
    }

    /// `apply` onto a copy of `base`.
    pub fn applied_to(&self, base: &TrainConfig) -> TrainConfig {
        let mut cfg = base.clone();
        self.apply(&mut cfg);
        cfg
    }

    /// The snake_case key of every knob, in the config's order.
    pub fn keys() -> Vec<String> {
        let all = serde_json::to_value(TrainConfig::default()).expect("plain data");
        all.as_object().expect("a struct").keys().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config where every knob differs from the default.
    fn changed() -> TrainConfig {
        TrainConfig {
            hidden: vec![7, 3],
            activation: ActivationKind::Improved,
            init: InitKind::Normal,
            lr: 0.5,
            momentum: 0.25,
            batch_size: 8,
            epochs: 3,
            patience: 4,
            early_stopping: false,
            checks_per_epoch: 2,
            validation: false,
            restore_best: true,
            seed: 9,
            rng: RngKind::Numpy,
            precision: Precision::F32,
            train_size: 100,
            val_size: 50,
            norm_stats: NormStats::TrainSubset,
            kernels: Kernels::Reference,
            first_layer: FirstLayer::Sparse,
            val_from_train: 500,
            dataset: DatasetName::FashionMnist,
            diagnostics: true,
            optimizer: OptimizerKind::Adamw,
            beta1: 0.8,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 0.01,
            lr_schedule: LrSchedule::Cosine,
            warmup_steps: 7,
            lr_min: 0.001,
            lr_decay_epochs: 3,
            lr_decay: 0.5,
            dropout: 0.25,
            bias: BiasKind::All,
        }
    }

    #[test]
    fn overrides_name_exactly_the_config_knobs_and_apply_them_all() {
        let all = changed();
        let o: Overrides = serde_json::from_value(serde_json::to_value(&all).unwrap()).unwrap();
        let o_keys: Vec<String> = serde_json::to_value(&o).unwrap().as_object().unwrap().keys().cloned().collect();
        assert_eq!(o_keys, Overrides::keys());
        // `apply` forgets no field: every changed value arrives.
        assert_eq!(o.applied_to(&TrainConfig::default()), all);
        assert_eq!(Overrides::default().applied_to(&all), all);
    }

    #[test]
    fn every_knob_is_a_flag() {
        use clap::{Args, Command};
        let cmd = Overrides::augment_args(Command::new("t"));
        let flags: Vec<String> =
            cmd.get_arguments().filter_map(|a| a.get_long()).map(|l| l.replace('-', "_")).collect();
        assert_eq!(flags, Overrides::keys());
    }
}
