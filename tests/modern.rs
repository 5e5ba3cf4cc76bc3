//! Today's recipe through the trainer: the schedule reaches the optimiser (steps.csv's `lr`),
//! dropout's own stream moves neither the initial weights nor the batch order, every plan trains
//! the same Adam + dropout model, every layer's bias starts at zero beside the same weights, and the
//! defaults leave the 2021 recipe as it was.

use std::path::Path;

use mlp::config::{
    ActivationKind, BiasKind, FirstLayer, InitKind, Kernels, LrSchedule, NormStats, OptimizerKind, Precision,
    TrainConfig,
};
use mlp::data::{split, Mnist, SplitForms, Splits};
use mlp::error::TrainError;
use mlp::nn::{Mlp, Plan};
use mlp::rng::{NumpyRng, XoshiroRng};
use mlp::train::checkpoint::{self, Checkpoint};
use mlp::train::log::{CheckRow, NullSink, RunSink, StepRow};
use mlp::train::train;

fn mnist() -> Mnist {
    Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap()
}

fn splits(m: &Mnist) -> Splits<'_, f64> {
    split::<f64>(m, 2000, 1000, 0, NormStats::FullTrain, SplitForms::ALL).unwrap()
}

fn modern() -> TrainConfig {
    TrainConfig {
        epochs: 3,
        train_size: 2000,
        val_size: 1000,
        activation: ActivationKind::Relu,
        init: InitKind::He,
        optimizer: OptimizerKind::Adamw,
        lr: 0.002,
        weight_decay: 0.01,
        lr_schedule: LrSchedule::Cosine,
        warmup_steps: 30,
        lr_min: 1e-5,
        dropout: 0.2,
        hidden: vec![64, 32],
        ..TrainConfig::default()
    }
}

/// Every step row and every checkpoint a run offers.
#[derive(Default)]
struct Recorder {
    steps: Vec<StepRow>,
    checkpoints: Vec<Vec<u8>>,
}

impl RunSink for Recorder {
    fn step(&mut self, row: &StepRow) -> Result<(), TrainError> {
        self.steps.push(*row);
        Ok(())
    }
    fn check(&mut self, _: &CheckRow) -> Result<(), TrainError> {
        Ok(())
    }
    fn checkpoint(&mut self, bytes: &dyn Fn() -> Vec<u8>) -> Result<(), TrainError> {
        self.checkpoints.push(bytes());
        Ok(())
    }
}

fn record(cfg: TrainConfig, splits: &Splits<f64>) -> Recorder {
    let mut rec = Recorder::default();
    train::<f64>(&cfg.validate().unwrap(), splits, &mut rec, None).unwrap();
    rec
}

#[test]
fn the_lr_column_is_the_schedule_the_optimiser_used() {
    let m = mnist();
    let s = splits(&m);
    let rec = record(modern(), &s);
    let lr: Vec<f64> = rec.steps.iter().map(|r| r.lr).collect();
    assert_eq!(lr.len(), 3 * 62);
    assert_eq!(lr[0], 0.002 / 30.0);
    assert_eq!(lr[29], 0.002);
    assert!(lr[30..].windows(2).all(|w| w[1] < w[0]), "cosine decreases after the warm-up");
    assert!(*lr.last().unwrap() > 1e-5 && *lr.last().unwrap() < 2e-5);
    // The 2021 recipe: the configured lr at every step.
    let plain = record(TrainConfig { epochs: 1, train_size: 2000, val_size: 1000, ..TrainConfig::default() }, &s);
    assert!(plain.steps.iter().all(|r| r.lr == 0.1));
}

#[test]
fn dropout_moves_neither_the_initial_weights_nor_the_batch_order() {
    let m = mnist();
    let s = splits(&m);
    let sizes = modern().layer_sizes(785);
    let shapes: Vec<(usize, usize)> = sizes.windows(2).map(|w| (w[0], w[1])).collect();
    let with = record(modern(), &s);
    let without = record(TrainConfig { dropout: 0.0, ..modern() }, &s);
    assert_eq!(with.checkpoints.len(), without.checkpoints.len());
    for (a, b) in with.checkpoints.iter().zip(&without.checkpoints) {
        let a: Checkpoint<f64> = checkpoint::from_bytes(a, &shapes).unwrap();
        let b: Checkpoint<f64> = checkpoint::from_bytes(b, &shapes).unwrap();
        assert_eq!(a.indices, b.indices, "the same batches in the same order");
        assert_eq!(a.meta.rng, b.meta.rng, "the run's stream is not drawn from by dropout");
        assert!(a.meta.dropout_rng.is_some() && b.meta.dropout_rng.is_none());
        assert_eq!(a.optimizer.steps, a.meta.steps as u64);
    }
    // Dropout did change training: the losses differ from the first step on.
    assert_ne!(with.steps[0].train_loss, without.steps[0].train_loss);
    // Initial weights: a zero learning rate would be refused, so compare the first checkpoint's
    // distance travelled instead through the models of two one-step runs.
    let one_step = |dropout| {
        let cfg = TrainConfig { epochs: 1, train_size: 32, val_size: 1000, checks_per_epoch: 1, dropout, ..modern() };
        let mut rec = Recorder::default();
        let out = train::<f64>(&cfg.validate().unwrap(), &s, &mut rec, None).unwrap();
        (out.model.weights, rec.steps[0].train_loss)
    };
    let ((w_drop, _), (w_plain, _)) = (one_step(0.5), one_step(0.0));
    // After one AdamW step of lr / 30 every weight is within 2 lr_t of where it started, in both
    // runs: the starts are the same weights.
    let lr_t = 0.002 / 30.0;
    for (a, b) in w_drop.iter().flatten().zip(w_plain.iter().flatten()) {
        assert!((a - b).abs() <= 2.0 * lr_t + 1e-12, "{a} vs {b}");
    }
}

#[test]
fn every_plan_trains_the_same_adam_dropout_model() {
    let m = mnist();
    let s = splits(&m);
    for optimizer in [OptimizerKind::Adam, OptimizerKind::Adamw] {
        let run = |kernels, first_layer| {
            let cfg = TrainConfig { kernels, first_layer, optimizer, hidden: vec![64], ..modern() };
            train::<f64>(&cfg.validate().unwrap(), &s, &mut NullSink, None).unwrap()
        };
        let reference = run(Kernels::Reference, FirstLayer::Auto);
        for other in [run(Kernels::Fast, FirstLayer::Auto), run(Kernels::Fast, FirstLayer::Dense)] {
            for (a, b) in reference.model.weights.iter().zip(&other.model.weights) {
                let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-8, "{optimizer:?} {:?}: weights differ by {worst}", other.model.plan);
            }
            assert_eq!(reference.summary.final_val_acc, other.summary.final_val_acc);
        }
        assert!(reference.summary.final_val_acc.unwrap() > 0.88, "{optimizer:?}: {:?}", reference.summary);
    }
}

#[test]
fn adam_in_f32_learns_and_sgd_with_weight_decay_shrinks_the_weights() {
    let m = mnist();
    let s32 = split::<f32>(&m, 2000, 1000, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    let cfg = TrainConfig { precision: Precision::F32, ..modern() };
    let out = train::<f32>(&cfg.validate().unwrap(), &s32, &mut NullSink, None).unwrap();
    assert!(out.summary.final_val_acc.unwrap() > 0.85, "{:?}", out.summary);
    let m = mnist();
    let s = splits(&m);
    let norm = |wd| {
        let cfg =
            TrainConfig { weight_decay: wd, epochs: 2, train_size: 2000, val_size: 1000, ..TrainConfig::default() };
        let w = train::<f64>(&cfg.validate().unwrap(), &s, &mut NullSink, None).unwrap().model.weights;
        w.iter().flatten().map(|v| v * v).sum::<f64>()
    };
    assert!(norm(0.01) < 0.9 * norm(0.0), "L2 decay pulls the weights towards 0");
}

#[test]
fn nonsense_modern_hyperparameters_are_rejected() {
    let bad = [
        TrainConfig { optimizer: OptimizerKind::Adam, momentum: 0.9, ..TrainConfig::default() },
        TrainConfig { beta1: 1.0, ..TrainConfig::default() },
        TrainConfig { beta2: -0.1, ..TrainConfig::default() },
        TrainConfig { eps: 0.0, ..TrainConfig::default() },
        TrainConfig { weight_decay: -1.0, ..TrainConfig::default() },
        TrainConfig { weight_decay: f64::INFINITY, ..TrainConfig::default() },
        TrainConfig { optimizer: OptimizerKind::Adamw, weight_decay: 10.0, ..TrainConfig::default() },
        TrainConfig { lr_min: 0.5, ..TrainConfig::default() },
        TrainConfig { lr_decay: 0.0, ..TrainConfig::default() },
        TrainConfig { lr_decay: 2.0, ..TrainConfig::default() },
        TrainConfig { lr_decay_epochs: 0, ..TrainConfig::default() },
        TrainConfig { dropout: 1.0, ..TrainConfig::default() },
        TrainConfig { dropout: f64::NAN, ..TrainConfig::default() },
    ];
    for cfg in bad {
        let err = cfg.clone().validate().unwrap_err();
        assert!(err.to_string().starts_with("invalid "), "{cfg:?}: {err}");
    }
}

#[test]
fn every_layers_bias_starts_at_zero_beside_the_same_weights() {
    let sizes = [785, 64, 32, 10];
    for numpy in [false, true] {
        let init = |bias| {
            let mut rng: Box<dyn mlp::rng::RunRng> =
                if numpy { Box::new(NumpyRng::new(3)) } else { Box::new(XoshiroRng::new(3)) };
            Mlp::<f64>::init(&sizes, ActivationKind::Relu.into(), InitKind::He, bias, Plan::REFERENCE, rng.as_mut())
        };
        let (input, all) = (init(BiasKind::Input), init(BiasKind::All));
        for l in 0..3 {
            let (c, oc) = (sizes[l], sizes[l + 1]);
            let weights = if l == 0 { (c - 1) * oc } else { c * oc };
            assert_eq!(all.weights[l][..weights], input.weights[l][..weights], "layer {l}: the same draws");
            assert_eq!(all.weights[l].len(), weights + oc);
            assert!(all.weights[l][weights..].iter().all(|&b| b == 0.0), "layer {l}: the bias starts at zero");
        }
        assert!(input.weights[0][784 * 64..].iter().all(|&b| b != 0.0), "the 2021 bias row is drawn");
    }
}
