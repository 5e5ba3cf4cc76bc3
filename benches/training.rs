//! Training-step and workload benchmarks on the real MNIST files.
//!
//! * `step/<precision>/<kernels>/<topology>`: one SGD step of batch 32 (elements = images).
//! * `workload/<W>/<precision>/<kernels>`: W1-W4 as defined in `mlp::tools::workloads`
//!   (elements = training images seen, or images evaluated for W3).
//!
//! `<kernels>`: `reference`, `fast` (the plan's choice) and `fast-sparse` (the first layer forced
//! sparse).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mlp::config::{FirstLayer, Kernels, Precision, TrainConfig};
use mlp::data::{Mnist, Splits};
use mlp::experiment::run::flag_name;
use mlp::rng::XoshiroRng;
use mlp::tools::workloads::{self, Shape, Workload};
use mlp::train::init_model;
use mlp::train::stepper::Stepper;

fn mnist() -> Mnist {
    Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).expect("data/mnist")
}

const TOPOLOGIES: &[(&str, &[usize])] =
    &[("32", &[32]), ("64", &[64]), ("128", &[128]), ("60x60", &[60, 60]), ("64x10", &[64; 10])];

/// The kernel choices compared: (name, kernels, first layer).
const VARIANTS: &[(&str, Kernels, FirstLayer)] = &[
    ("reference", Kernels::Reference, FirstLayer::Auto),
    ("fast-sparse", Kernels::Fast, FirstLayer::Sparse),
    ("fast", Kernels::Fast, FirstLayer::Auto),
];

fn steps<T: kernels::Element>(c: &mut Criterion, splits: &Splits<T>, precision: Precision) {
    let mut g = c.benchmark_group(format!("step/{}", T::NAME));
    g.throughput(Throughput::Elements(32));
    for &(variant, kernels, first_layer) in VARIANTS {
        for (name, hidden) in TOPOLOGIES {
            let cfg =
                TrainConfig { hidden: hidden.to_vec(), precision, kernels, first_layer, ..TrainConfig::default() };
            let mut model = init_model::<T>(&cfg, 785, &mut XoshiroRng::new(1));
            let mut stepper = Stepper::new(&model, &TrainConfig { lr: 0.01, ..cfg.clone() });
            let batches: Vec<Vec<u32>> =
                (0..64u32).map(|b| (0..32u32).map(|i| (b * 937 + i * 1873) % 60000).collect()).collect();
            let mut k = 0;
            let id = format!("{variant}/{name}");
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter(|| {
                    k = (k + 1) % batches.len();
                    stepper.step(&mut model, &splits.train, &batches[k], 0.01)
                })
            });
        }
    }
    g.finish();
}

fn workloads_for<T: kernels::Element>(c: &mut Criterion, splits: &Splits<T>, precision: Precision) {
    let mut g = c.benchmark_group(format!("workload/{}", T::NAME));
    g.sample_size(10);
    for w in [Workload::W1, Workload::W2, Workload::W3, Workload::W4] {
        let images = if w == Workload::W3 { 70000 } else { 60000 };
        g.throughput(Throughput::Elements(images));
        for &(variant, kernels, first_layer) in VARIANTS {
            let id = format!("{}/{variant}", flag_name(&w));
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter_custom(|iters| {
                    let total: f64 = (0..iters)
                        .map(|_| {
                            workloads::run_once(w, splits, precision, kernels, first_layer, &Shape::default())
                                .expect("workload runs")
                        })
                        .sum();
                    std::time::Duration::from_secs_f64(total)
                })
            });
        }
    }
    g.finish();
}

fn all(c: &mut Criterion) {
    kernels::blas::set_threads(1);
    let m = mnist();
    let s32 = workloads::splits::<f32>(&m).expect("splits");
    steps(c, &s32, Precision::F32);
    workloads_for(c, &s32, Precision::F32);
    drop(s32);
    let s64 = workloads::splits::<f64>(&m).expect("splits");
    steps(c, &s64, Precision::F64);
    workloads_for(c, &s64, Precision::F64);
}

criterion_group!(benches, all);
criterion_main!(benches);
