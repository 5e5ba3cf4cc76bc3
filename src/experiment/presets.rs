//! The runs of the 2021 study as named presets (spec section 8), with the values the report
//! printed for them.

use crate::config::{ActivationKind, InitKind, Kernels, Overrides, Precision, RngKind, RunConfig, TrainConfig};

/// One run of the study: what it changes relative to the basic model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Preset {
    /// Name used by `--preset` and as run directory name.
    pub name: &'static str,
    /// Row label in the report's table.
    pub label: &'static str,
    pub hidden: &'static [usize],
    pub improved_sigmoid: bool,
    pub improved_init: bool,
    pub momentum: bool,
    /// The row of the report's results table, as printed, if the report has one.
    pub report: Option<ReportRow>,
    /// Stopping epoch stated in the report's text, for runs without a table row.
    pub report_stop_epoch: Option<usize>,
}

/// A row of the report's table, strings exactly as printed (the report truncates, not rounds).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReportRow {
    pub stop_epoch: usize,
    pub train_loss: &'static str,
    pub train_acc: &'static str,
    pub val_loss: &'static str,
    pub val_acc: &'static str,
}

/// Momentum gamma of the study.
pub const GAMMA: f64 = 0.9;
/// Learning rate with momentum ("a learning rate of 0.02 worked fine").
pub const MOMENTUM_LR: f64 = 0.02;

const fn row(
    stop_epoch: usize,
    train_loss: &'static str,
    train_acc: &'static str,
    val_loss: &'static str,
    val_acc: &'static str,
) -> Option<ReportRow> {
    Some(ReportRow { stop_epoch, train_loss, train_acc, val_loss, val_acc })
}

#[allow(clippy::too_many_arguments)] // a table row constructor
const fn p(
    name: &'static str,
    label: &'static str,
    hidden: &'static [usize],
    is: bool,
    iw: bool,
    m: bool,
    report: Option<ReportRow>,
    stop: Option<usize>,
) -> Preset {
    Preset {
        name,
        label,
        hidden,
        improved_sigmoid: is,
        improved_init: iw,
        momentum: m,
        report,
        report_stop_epoch: stop,
    }
}

/// Every preset, in the report's order.
pub const PRESETS: &[Preset] = &[
    p("basic", "basic", &[64], false, false, false, row(47, ".0765", ".9837", ".2978", ".9152"), None),
    p("iw", "IW", &[64], false, true, false, row(46, ".01307", ".9996", ".1366", ".9594"), None),
    p("is", "IS", &[64], true, false, false, row(21, ".0991", ".9759", ".3954", ".8991"), None),
    p("momentum", "momentum", &[64], false, false, true, row(30, ".0620", ".9866", ".2954", ".9191"), None),
    p("is-iw", "IS & IW", &[64], true, true, false, row(19, ".0034", "1.0", ".1411", ".9639"), None),
    p("all", "all", &[64], true, true, true, row(16, ".0017", "1.0", ".1592", ".9593"), None),
    p("4a", "4a [32]", &[32], true, true, true, None, None),
    p("4b", "4b [128]", &[128], true, true, true, None, None),
    p("4-64", "4 [64]", &[64], true, true, true, None, None),
    p("4d", "4d [60, 60]", &[60, 60], true, true, true, None, Some(15)),
    p("4e", "4e [64] x 10", &[64; 10], true, true, true, None, Some(29)),
];

/// The runs `mlp reproduce` makes: the six task-3 rows and 4a, 4b, 4d, 4e.
pub const REPRODUCE: &[&str] = &["basic", "iw", "is", "momentum", "is-iw", "all", "4a", "4b", "4d", "4e"];

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

impl Preset {
    /// The knobs this preset defines: hidden sizes, activation, init, lr and momentum.
    pub fn overrides(&self) -> Overrides {
        let (lr, momentum) = if self.momentum { (MOMENTUM_LR, GAMMA) } else { (0.1, 0.0) };
        Overrides {
            hidden: Some(self.hidden.to_vec()),
            activation: Some(if self.improved_sigmoid { ActivationKind::Improved } else { ActivationKind::Sigmoid }),
            init: Some(if self.improved_init { InitKind::Normal } else { InitKind::Uniform }),
            lr: Some(lr),
            momentum: Some(momentum),
            ..Overrides::default()
        }
    }
}

/// The reference setting of the study: f64, numpy's stream seeded with 1, the reference kernels
/// (dense GEMM, libm, gradient then update), 20000/10000 split, statistics of the 60000 training
/// images, patience 50, at most 50 epochs.
pub fn reference_config(preset: &Preset) -> RunConfig {
    let base = TrainConfig {
        rng: RngKind::Numpy,
        seed: 1,
        precision: Precision::F64,
        kernels: Kernels::Reference,
        ..TrainConfig::default()
    };
    preset.overrides().applied_to(&base).validate().expect("the presets are valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FirstLayer;

    #[test]
    fn reference_setting_is_the_2021_one() {
        let all = reference_config(find("all").unwrap());
        assert_eq!(
            (all.rng, all.seed, all.precision, all.kernels, all.first_layer),
            (RngKind::Numpy, 1, Precision::F64, Kernels::Reference, FirstLayer::Auto)
        );
        assert_eq!((all.lr, all.momentum, all.hidden.clone()), (MOMENTUM_LR, GAMMA, vec![64]));
        assert_eq!((all.activation, all.init), (ActivationKind::Improved, InitKind::Normal));
        let basic = reference_config(find("basic").unwrap());
        assert_eq!(
            (basic.lr, basic.momentum, basic.activation, basic.init),
            (0.1, 0.0, ActivationKind::Sigmoid, InitKind::Uniform)
        );
        assert_eq!((basic.train_size, basic.val_size, basic.patience, basic.epochs), (20000, 10000, 50, 50));
        assert_eq!(find("4e").unwrap().hidden, &[64; 10]);
    }
}
