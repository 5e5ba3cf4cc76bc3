//! End-to-end training on the real MNIST files: accuracy, determinism, early stopping, best-weight
//! restore and divergence handling.

use std::path::{Path, PathBuf};

use mlp::config::{ActivationKind, FirstLayer, InitKind, Kernels, NormStats, Precision, RunConfig, TrainConfig};
use mlp::data::{split, Mnist, SplitForms};
use mlp::error::TrainError;
use mlp::experiment::run::{run_to_dir, RunOptions};
use mlp::nn::Plan;
use mlp::train::log::{NullSink, Summary};
use mlp::train::train;

fn valid(cfg: TrainConfig) -> RunConfig {
    cfg.validate().unwrap()
}

fn mnist() -> Mnist {
    Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap()
}

/// Two epochs on 2000 images with improved init and sigmoid (the basic model needs longer).
fn small(precision: Precision) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        train_size: 2000,
        val_size: 2000,
        precision,
        activation: ActivationKind::Improved,
        init: InitKind::Normal,
        ..TrainConfig::default()
    }
}

fn opts() -> RunOptions {
    RunOptions {
        data_dir: PathBuf::from("data/mnist"),
        force: false,
        resume: false,
        checkpoint_every: 1,
        quiet: true,
        blas_core: "test".into(),
        threads: 1,
    }
}

fn read_summary(dir: &Path) -> Summary {
    serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap()
}

#[test]
fn two_epochs_on_2000_images_exceed_85_percent_in_both_precisions() {
    let m = mnist();
    for precision in [Precision::F64, Precision::F32] {
        let dir = tempfile::tempdir().unwrap();
        let s = run_to_dir(&valid(small(precision)), &m, dir.path(), &opts()).unwrap().summary;
        assert!(s.final_val_acc.unwrap() > 0.85, "{precision:?}: {s:?}");
        assert_eq!(s.steps, 2 * 62);
        assert_eq!(s.stop_epoch, None);
        // 62 steps per epoch, a check every 12 steps: 0, 12, ..., 120 -> 11 checks.
        let checks = std::fs::read_to_string(dir.path().join("checks.csv")).unwrap();
        assert_eq!(checks.lines().count(), 1 + 11);
        assert!(checks.starts_with("step,epoch,val_loss,val_acc,train_acc,elapsed_s"));
        assert_eq!(read_summary(dir.path()), s);
        assert!(!dir.path().join("steps.csv.partial").exists());
    }
}

/// checks.csv without its elapsed_s column (wall time is the one thing allowed to differ).
fn checks_without_time(dir: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(dir.join("checks.csv")).unwrap();
    let time = r.headers().unwrap().iter().position(|h| h == "elapsed_s").unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().enumerate().filter(|(i, _)| *i != time).map(|(_, v)| v.to_string()).collect())
        .collect()
}

#[test]
fn same_seed_gives_identical_logs_and_another_seed_does_not() {
    let m = mnist();
    let cfg = TrainConfig {
        activation: ActivationKind::Improved,
        init: InitKind::Normal,
        momentum: 0.9,
        lr: 0.02,
        ..small(Precision::F32)
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    run_to_dir(&valid(cfg.clone()), &m, dirs[0].path(), &opts()).unwrap();
    run_to_dir(&valid(cfg.clone()), &m, dirs[1].path(), &opts()).unwrap();
    run_to_dir(&valid(TrainConfig { seed: 2, ..cfg.clone() }), &m, dirs[2].path(), &opts()).unwrap();
    let steps = |d: &tempfile::TempDir| std::fs::read(d.path().join("steps.csv")).unwrap();
    assert_eq!(steps(&dirs[0]), steps(&dirs[1]));
    assert_eq!(checks_without_time(dirs[0].path()), checks_without_time(dirs[1].path()));
    assert_ne!(steps(&dirs[0]), steps(&dirs[2]));
    let (a, b) = (read_summary(dirs[0].path()), read_summary(dirs[1].path()));
    assert_eq!(Summary { train_wall_s: 0.0, ..a }, Summary { train_wall_s: 0.0, ..b });
}

#[test]
fn early_stopping_fires_patience_checks_after_the_best_and_restore_best_works() {
    let m = mnist();
    let splits = split::<f32>(&m, 1000, 500, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    // lr 3 with sigmoid makes the validation loss bounce, so a patience of 3 ends early.
    let cfg = TrainConfig {
        lr: 3.0,
        patience: 3,
        epochs: 40,
        checks_per_epoch: 1,
        train_size: 1000,
        val_size: 500,
        precision: Precision::F32,
        ..TrainConfig::default()
    };
    let out = train::<f32>(&valid(cfg.clone()), &splits, &mut NullSink, None).unwrap();
    let s = out.summary;
    let stop = s.stop_epoch.expect("stops early");
    let best = s.best_step.unwrap();
    // One check per epoch at the first step of each epoch (31 steps per epoch).
    assert_eq!(best % 31, 0);
    assert_eq!(stop, best / 31 + 3);
    assert_eq!(s.steps, stop * 31 + 1);
    assert!(!s.restored_best);

    let restored =
        train::<f32>(&valid(TrainConfig { restore_best: true, ..cfg }), &splits, &mut NullSink, None).unwrap().summary;
    assert!(restored.restored_best);
    assert_eq!(restored.best_val_loss, s.best_val_loss);
    assert!((restored.final_val_loss.unwrap() - s.best_val_loss.unwrap()).abs() < 1e-6, "{restored:?}");
}

#[test]
fn a_diverging_run_stops_with_an_error_and_keeps_its_logs() {
    let m = mnist();
    let dir = tempfile::tempdir().unwrap();
    // Weights overflow to inf after the first update, so the next loss is NaN.
    let cfg = TrainConfig { lr: 1e307, ..small(Precision::F64) };
    let err = run_to_dir(&valid(cfg), &m, dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");
    assert!(err.to_string().contains("diverged"), "{err}");
    assert!(!dir.path().join("summary.json").exists());
    let mut r = csv::Reader::from_path(dir.path().join("steps.csv")).unwrap();
    let rows: Vec<_> = r.records().map(|r| r.unwrap()).collect();
    assert!(!rows.is_empty() && rows.iter().all(|r| r[2].parse::<f64>().unwrap().is_finite()));
}

#[test]
fn a_finished_run_is_never_overwritten_without_force() {
    let m = mnist();
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig { epochs: 1, train_size: 320, val_size: 100, ..TrainConfig::default() };
    let first = run_to_dir(&valid(cfg.clone()), &m, dir.path(), &opts()).unwrap().summary;
    let err = run_to_dir(&valid(TrainConfig { seed: 9, ..cfg.clone() }), &m, dir.path(), &opts()).unwrap_err();
    assert!(matches!(err, TrainError::OutputExists { .. }), "{err}");
    assert_eq!(read_summary(dir.path()), first);
    let forced = RunOptions { force: true, ..opts() };
    let second = run_to_dir(&valid(TrainConfig { seed: 9, ..cfg }), &m, dir.path(), &forced).unwrap().summary;
    assert_eq!(read_summary(dir.path()), second);
}

#[test]
fn nonsense_hyperparameters_are_rejected_before_training() {
    let bad = [
        TrainConfig { lr: -0.1, ..TrainConfig::default() },
        TrainConfig { lr: f64::NAN, ..TrainConfig::default() },
        TrainConfig { batch_size: 0, ..TrainConfig::default() },
        TrainConfig { hidden: vec![], ..TrainConfig::default() },
        TrainConfig { hidden: vec![64, 0], ..TrainConfig::default() },
        TrainConfig { patience: 0, ..TrainConfig::default() },
        TrainConfig { momentum: 1.5, ..TrainConfig::default() },
        TrainConfig { train_size: 10, ..TrainConfig::default() },
        TrainConfig { train_size: 2000, checks_per_epoch: 1000, ..TrainConfig::default() },
    ];
    for cfg in bad {
        let err = cfg.validate().unwrap_err();
        assert!(err.to_string().starts_with("invalid "), "{err}");
    }
    assert!(TrainConfig::default().validate().is_ok());
}

#[test]
fn reference_fast_and_every_first_layer_train_the_same_model() {
    let m = mnist();
    let splits = split::<f64>(&m, 2000, 2000, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    // Momentum takes the sparse gradient then the update; plain SGD the fused sparse step. The
    // fast paths also use the polynomial e^x and the transposed-copy input gradient.
    for (momentum, lr) in [(0.9, 0.02), (0.0, 0.1)] {
        let run = |kernels, first_layer| {
            let cfg = TrainConfig { kernels, first_layer, momentum, lr, hidden: vec![64], ..small(Precision::F64) };
            train::<f64>(&valid(cfg), &splits, &mut NullSink, None).unwrap()
        };
        let reference = run(Kernels::Reference, FirstLayer::Auto);
        let others = [
            run(Kernels::Fast, FirstLayer::Auto),
            run(Kernels::Fast, FirstLayer::Sparse),
            run(Kernels::Fast, FirstLayer::Dense),
            run(Kernels::Reference, FirstLayer::Sparse),
        ];
        for other in others {
            for (a, b) in reference.model.weights.iter().zip(&other.model.weights) {
                let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-9, "{:?}: weights differ by {worst}", other.model.plan);
            }
            let (d, s) = (&reference.summary, other.summary);
            assert!((d.final_val_loss.unwrap() - s.final_val_loss.unwrap()).abs() < 1e-10, "{d:?} vs {s:?}");
            assert_eq!((d.final_val_acc, d.final_train_acc), (s.final_val_acc, s.final_train_acc));
        }
    }
}

#[test]
fn sparse_and_dense_evaluation_agree_on_odd_sized_sets() {
    let m = mnist();
    // 1001 images: evaluation chunks of 1000 rows (five grouping windows), then one image alone
    // (a group with three blanks).
    let splits = split::<f64>(&m, 1001, 1001, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    let cfg = TrainConfig { epochs: 1, train_size: 1001, validation: false, ..small(Precision::F64) };
    let mut model = train::<f64>(&valid(cfg), &splits, &mut NullSink, None).unwrap().model;
    let mut on = |plan| {
        model.plan = plan;
        (model.evaluate(&splits.train).unwrap(), model.evaluate(&splits.val).unwrap())
    };
    let sizes = [785, 64, 10];
    let grouped = Plan::resolve(Kernels::Reference, FirstLayer::Sparse, Precision::F64, &sizes, 32, false);
    let (dense, sparse) = (on(Plan::REFERENCE), on(grouped));
    for (d, s) in [(dense.0, sparse.0), (dense.1, sparse.1)] {
        assert!((d.loss - s.loss).abs() < 1e-12, "{d:?} vs {s:?}");
        assert_eq!(d.correct, s.correct);
    }
}

#[test]
fn evaluation_does_not_depend_on_the_thread_count() {
    let m = mnist();
    let splits = split::<f32>(&m, 20000, 10000, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    let cfg = TrainConfig { epochs: 1, train_size: 20000, validation: false, ..small(Precision::F32) };
    let model = train::<f32>(&valid(cfg), &splits, &mut NullSink, None).unwrap().model;
    let on = |threads| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| (model.evaluate(&splits.train), model.evaluate(&splits.val)))
    };
    let one = on(1);
    assert_eq!(one, on(2));
    assert_eq!(one, on(3));
}

#[test]
#[should_panic(expected = "exactly one batch")]
fn a_short_batch_is_refused_not_truncated() {
    let m = mnist();
    let splits = split::<f64>(&m, 64, 10, 0, NormStats::FullTrain, SplitForms::ALL).unwrap();
    let cfg = valid(small(Precision::F64));
    let mut model = mlp::train::init_model::<f64>(&cfg, 785, &mut mlp::rng::XoshiroRng::new(1));
    let mut stepper = mlp::train::stepper::Stepper::new(&model, &cfg);
    stepper.step(&mut model, &splits.train, &(0..31).collect::<Vec<u32>>(), 0.1);
}

/// Diagnostics only observe: steps.csv and checks.csv are the same with and without them, for
/// every first-layer kernel (the fused one forms its gradient again for the norm), plain SGD and
/// momentum; layers.csv has one row per layer per check, with finite norms, the spectral norm
/// never above the Frobenius norm, and activation statistics for hidden layers only.
#[test]
fn diagnostics_do_not_change_training_and_report_every_layer_at_every_check() {
    let m = mnist();
    // The last case: the plan trains [1024] f32 at batch 128 dense and evaluates it grouped.
    for (first_layer, momentum, precision, hidden, batch_size) in [
        (FirstLayer::Dense, 0.0, Precision::F64, 32, 32),
        (FirstLayer::Sparse, 0.0, Precision::F32, 32, 32),
        (FirstLayer::Sparse, 0.9, Precision::F64, 32, 32),
        (FirstLayer::Auto, 0.0, Precision::F32, 1024, 128),
    ] {
        let cfg = TrainConfig { first_layer, momentum, hidden: vec![hidden, 16], batch_size, ..small(precision) };
        let plain = tempfile::tempdir().unwrap();
        let with = tempfile::tempdir().unwrap();
        run_to_dir(&valid(cfg.clone()), &m, plain.path(), &opts()).unwrap();
        run_to_dir(&valid(TrainConfig { diagnostics: true, ..cfg }), &m, with.path(), &opts()).unwrap();
        let case = format!("{first_layer:?} momentum {momentum} {precision:?}");
        assert!(!plain.path().join("layers.csv").exists(), "{case}");
        let read = |d: &Path| std::fs::read(d.join("steps.csv")).unwrap();
        assert!(read(plain.path()) == read(with.path()), "{case}: steps.csv differs");
        assert_eq!(checks_without_time(plain.path()), checks_without_time(with.path()), "{case}");

        let mut r = csv::Reader::from_path(with.path().join("layers.csv")).unwrap();
        assert_eq!(r.headers().unwrap().iter().collect::<Vec<_>>(), mlp::train::diagnostics::LAYER_COLUMNS);
        let rows: Vec<mlp::train::diagnostics::LayerRow> = r.deserialize().map(|x| x.unwrap()).collect();
        let checks = checks_without_time(with.path()).len();
        assert!(checks >= 10, "{case}: {checks} checks");
        assert_eq!(rows.len(), checks * 3, "{case}: a row per layer per check");
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.layer, i % 3, "{case}");
            for v in [row.grad_norm, row.weight_norm, row.spectral_norm, row.update_ratio] {
                assert!(v.is_finite() && v > 0.0, "{case}: {row:?}");
            }
            assert!(row.spectral_norm <= row.weight_norm * (1.0 + 1e-9), "{case}: {row:?}");
            assert_eq!(row.saturation.is_some(), row.layer < 2, "{case}: {row:?}");
            assert!(row.saturation.is_none_or(|s| (0.0..=1.0).contains(&s)), "{case}: {row:?}");
        }
    }
}
