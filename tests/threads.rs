//! Results do not depend on the thread count: runs at shapes where the plan splits GEMMs,
//! activations, updates and the sparse first layer over two threads write the same bytes as on one.

use std::path::{Path, PathBuf};

use mlp::config::{
    ActivationKind, BiasKind, FirstLayer, InitKind, Kernels, LrSchedule, OptimizerKind, Precision, TrainConfig,
};
use mlp::data::Mnist;
use mlp::experiment::run::{run_to_dir, RunOptions};
use mlp::nn::plan::Threads;

fn mnist() -> Mnist {
    Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap()
}

/// The run's files, with the one wall-clock column of checks.csv (elapsed_s) blanked.
fn outputs(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for name in ["steps.csv", "model.safetensors", "best.safetensors"] {
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            files.push((name.to_string(), bytes));
        }
    }
    let checks = std::fs::read_to_string(dir.join("checks.csv")).unwrap();
    let header: Vec<&str> = checks.lines().next().unwrap().split(',').collect();
    let elapsed = header.iter().position(|&h| h == "elapsed_s").unwrap();
    let blanked: Vec<String> = checks
        .lines()
        .map(|l| l.split(',').enumerate().map(|(i, f)| if i == elapsed { "" } else { f }).collect::<Vec<_>>().join(","))
        .collect();
    assert!(blanked.len() > 2, "the run made checks");
    files.push(("checks.csv".into(), blanked.join("\n").into_bytes()));
    files
}

fn run(cfg: &TrainConfig, mnist: &Mnist, threads: usize) -> Vec<(String, Vec<u8>)> {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        data_dir: PathBuf::from("data/mnist"),
        force: false,
        resume: false,
        checkpoint_every: 0,
        quiet: true,
        blas_core: "test".into(),
        threads,
    };
    let summary = run_to_dir(&cfg.clone().validate().unwrap(), mnist, dir.path(), &opts).unwrap().summary;
    assert_eq!(summary.threads, threads);
    outputs(dir.path())
}

#[test]
fn two_threads_write_the_same_bytes_as_one() {
    let (hidden, batch) = (vec![256, 256], 512);
    // 100 steps, at shapes the plan splits on two threads (else this test would prove nothing).
    let two = Threads::new(2);
    assert_eq!((two.gemm(batch, 256, 785), two.gemm(785, 256, batch), two.gemm(batch, 256, 256)), (2, 2, 2));
    assert_eq!((two.elementwise(batch * 256), two.sparse(batch * 256)), (2, 2));
    let m = mnist();
    // Sparse first layer with the fused step, sparse with momentum, dense, and the reference.
    for (precision, kernels, first_layer, momentum) in [
        (Precision::F32, Kernels::Fast, FirstLayer::Sparse, 0.0),
        (Precision::F32, Kernels::Fast, FirstLayer::Sparse, 0.9),
        (Precision::F32, Kernels::Fast, FirstLayer::Dense, 0.0),
        (Precision::F64, Kernels::Fast, FirstLayer::Sparse, 0.9),
        (Precision::F64, Kernels::Reference, FirstLayer::Auto, 0.9),
    ] {
        let cfg = TrainConfig {
            hidden: hidden.clone(),
            batch_size: batch,
            lr: 0.5,
            momentum,
            epochs: 2,
            train_size: 50 * batch,
            val_size: 500,
            precision,
            kernels,
            first_layer,
            ..TrainConfig::default()
        };
        let (one, two) = (run(&cfg, &m, 1), run(&cfg, &m, 2));
        for ((name, a), (_, b)) in one.iter().zip(&two) {
            assert!(a == b, "{precision:?} {kernels:?} {first_layer:?} momentum {momentum}: {name} differs");
        }
    }
}

#[test]
fn the_modern_recipe_writes_the_same_bytes_on_one_and_two_threads() {
    // Adam's update and dropout split like the rest; the masks are drawn on one thread.
    let (hidden, batch) = (vec![256, 256], 512);
    let m = mnist();
    for (precision, first_layer, optimizer) in [
        (Precision::F32, FirstLayer::Sparse, OptimizerKind::Adamw),
        (Precision::F32, FirstLayer::Dense, OptimizerKind::Adam),
        (Precision::F64, FirstLayer::Auto, OptimizerKind::Adamw),
    ] {
        let cfg = TrainConfig {
            hidden: hidden.clone(),
            batch_size: batch,
            lr: 0.002,
            optimizer,
            weight_decay: 0.01,
            lr_schedule: LrSchedule::Cosine,
            warmup_steps: 10,
            dropout: 0.2,
            bias: BiasKind::All,
            activation: ActivationKind::Relu,
            init: InitKind::He,
            epochs: 2,
            train_size: 50 * batch,
            val_size: 500,
            precision,
            first_layer,
            ..TrainConfig::default()
        };
        let (one, two) = (run(&cfg, &m, 1), run(&cfg, &m, 2));
        for ((name, a), (_, b)) in one.iter().zip(&two) {
            assert!(a == b, "{precision:?} {first_layer:?} {optimizer:?}: {name} differs");
        }
    }
}
