//! Training-step and workload benchmarks on the real MNIST files.
//!
//! * `step/<precision>/<first layer>/<topology>`: one SGD step of batch 32 (elements = images).
//! * `workload/<W>/<precision>/<first layer>`: W1-W4 as defined in `mlp::workloads`
//!   (elements = training images seen, or images evaluated for W3).

use std::path::Path;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mlp::config::{FirstLayer, InitKind, Precision, TrainConfig};
use mlp::data::{Mnist, Splits};
use mlp::model::Mlp;
use mlp::rng::XoshiroRng;
use mlp::train::Stepper;
use mlp::workloads::{self, Workload};

fn mnist() -> Mnist {
    Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).expect("data/mnist")
}

const TOPOLOGIES: &[(&str, &[usize])] =
    &[("32", &[32]), ("64", &[64]), ("128", &[128]), ("60x60", &[60, 60]), ("64x10", &[64; 10])];

fn steps<T: kernels::Scalar>(c: &mut Criterion, splits: &Splits<T>) {
    let mut g = c.benchmark_group(format!("step/{}", T::NAME));
    g.throughput(Throughput::Elements(32));
    for first_layer in [FirstLayer::Dense, FirstLayer::Sparse, FirstLayer::Auto] {
        for (name, hidden) in TOPOLOGIES {
            let cfg = TrainConfig { hidden: hidden.to_vec(), ..TrainConfig::default() };
            let mut model =
                Mlp::<T>::init(&cfg.layer_sizes(785), cfg.activation.into(), InitKind::Normal, &mut XoshiroRng::new(1));
            model.first_layer = first_layer;
            let mut stepper = Stepper::new(&model, 32, 0.01, 0.0);
            let batches: Vec<Vec<u32>> =
                (0..64u32).map(|b| (0..32u32).map(|i| (b * 937 + i * 1873) % 60000).collect()).collect();
            let mut k = 0;
            let id = format!("{}/{name}", mlp::run::flag_name(&first_layer));
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter(|| {
                    k = (k + 1) % batches.len();
                    stepper.step(&mut model, &splits.train, &batches[k])
                })
            });
        }
    }
    g.finish();
}

fn workloads_for<T: kernels::Scalar>(c: &mut Criterion, splits: &Splits<T>, precision: Precision) {
    let mut g = c.benchmark_group(format!("workload/{}", T::NAME));
    g.sample_size(10);
    for w in [Workload::W1, Workload::W2, Workload::W3, Workload::W4] {
        let images = if w == Workload::W3 { 70000 } else { 60000 };
        g.throughput(Throughput::Elements(images));
        for first_layer in [FirstLayer::Dense, FirstLayer::Sparse, FirstLayer::Auto] {
            let id = format!("{}/{}", mlp::run::flag_name(&w), mlp::run::flag_name(&first_layer));
            g.bench_function(BenchmarkId::from_parameter(id), |bch| {
                bch.iter_custom(|iters| {
                    let total: f64 = (0..iters)
                        .map(|_| workloads::run_once(w, splits, precision, first_layer).expect("workload runs"))
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
    steps(c, &s32);
    workloads_for(c, &s32, Precision::F32);
    drop(s32);
    let s64 = workloads::splits::<f64>(&m).expect("splits");
    steps(c, &s64);
    workloads_for(c, &s64, Precision::F64);
}

criterion_group!(benches, all);
criterion_main!(benches);
