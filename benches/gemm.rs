//! The GEMM shapes of a training step and of evaluation, through OpenBLAS as the trainer calls it,
//! plus a large square GEMM for the machine's peak. Throughput is in multiply-adds (elements = m*n*k),
//! so GFLOP/s = 2 * elements/s.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kernels::blas::{gemm, set_threads};
use kernels::{Scalar, Transpose};

fn filled<T: Scalar>(n: usize) -> Vec<T> {
    (0..n).map(|i| T::from_f64(((i * 7919) % 1000) as f64 / 1000.0 - 0.5)).collect()
}

fn shapes<T: Scalar>(c: &mut Criterion) {
    set_threads(1);
    let mut g = c.benchmark_group(format!("gemm_{}", T::NAME));
    // (name, ta, tb, m, n, k): forward 32x785 @ 785x64; weight gradient 785x32^T... ; output
    // layer; evaluation of the training file; a square GEMM for the peak.
    let cases = [
        ("fwd_32x785x64", Transpose::No, Transpose::No, 32, 64, 785),
        ("grad_785x32x64", Transpose::Yes, Transpose::No, 785, 64, 32),
        ("out_32x64x10", Transpose::No, Transpose::No, 32, 10, 64),
        ("hidden_fwd_32x64x64", Transpose::No, Transpose::No, 32, 64, 64),
        ("hidden_dinp_32x64x64", Transpose::No, Transpose::Yes, 32, 64, 64),
        ("hidden_grad_64x32x64", Transpose::Yes, Transpose::No, 64, 64, 32),
        ("eval_60000x785x64", Transpose::No, Transpose::No, 60000, 64, 785),
        ("peak_1024", Transpose::No, Transpose::No, 1024, 1024, 1024),
    ];
    for (name, ta, tb, m, n, k) in cases {
        let (a, b) = (filled::<T>(m * k), filled::<T>(k * n));
        let mut out = vec![T::ZERO; m * n];
        g.throughput(Throughput::Elements((m * n * k) as u64));
        if m * n * k > 100_000_000 {
            g.sample_size(10);
        }
        g.bench_function(BenchmarkId::from_parameter(name), |bch| {
            bch.iter(|| gemm(ta, tb, m, n, k, T::ONE, &a, &b, T::ZERO, &mut out))
        });
    }
    g.finish();
}

fn all(c: &mut Criterion) {
    shapes::<f32>(c);
    shapes::<f64>(c);
    sparse_kernels(c);
}

criterion_group!(benches, all);
criterion_main!(benches);

/// The sparse first-layer kernels on one batch of 32 real MNIST training images (rows spread over
/// the file, as a shuffled batch is).
fn sparse_kernels(c: &mut Criterion) {
    use kernels::sparse::{
        first_layer_offset, sparse_linear_backward_weights, sparse_linear_forward, sparse_linear_sgd, ByPixel,
    };
    let mnist = mlp::data::Mnist::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"))
        .expect("data/mnist");
    let splits =
        mlp::data::split::<f32>(&mnist, 60000, 10000, 0, mlp::config::NormStats::FullTrain, mlp::data::SplitForms::ALL)
            .expect("split");
    let x = splits.train.sparse.csr();
    let batch: Vec<usize> = (0..32).map(|i| (i * 1873 + 11) % 60000).collect();
    let (b, p, oc) = (batch.len(), 784usize, 64usize);
    let cc = p + 1;
    let w = filled::<f32>(cc * oc);
    let dout = filled::<f32>(b * oc);
    let (mut out, mut offset, mut dw) = (vec![0f32; b * oc], vec![0f32; oc], vec![0f32; cc * oc]);
    let mut scratch = ByPixel::new(b, p);
    // The gradient benches below read the batch's pixel-major view whichever benches run.
    scratch.fill(&x, batch.iter().copied());
    let mut g = c.benchmark_group("sparse_f32");
    g.throughput(Throughput::Elements(b as u64));
    g.bench_function("offset_785x64", |bch| bch.iter(|| first_layer_offset(&mut offset, &w, cc, oc, 0.42)));
    g.bench_function("forward_32", |bch| {
        bch.iter(|| sparse_linear_forward(&mut out, &x, batch.iter().copied(), &w, &offset, oc))
    });
    g.bench_function("by_pixel_fill_32", |bch| bch.iter(|| scratch.fill(&x, batch.iter().copied())));
    // Evaluation reads a window of 200 consecutive images: one at a time (CSR) or in groups of
    // similar images sharing weight rows.
    let (groups, window) = (splits.train.sparse.groups(), kernels::sparse::grouped::WINDOW);
    let mut eval_out = vec![0f32; window * oc];
    g.throughput(Throughput::Elements(window as u64));
    g.bench_function("eval_forward_200", |bch| {
        bch.iter(|| sparse_linear_forward(&mut eval_out, &x, 1000..1000 + window, &w, &offset, oc))
    });
    g.bench_function("eval_grouped_forward_200", |bch| {
        bch.iter(|| kernels::sparse::grouped::grouped_forward(&mut eval_out, &groups, 1000, window, &w, &offset, oc))
    });
    g.throughput(Throughput::Elements(b as u64));
    g.bench_function("weight_grad_32", |bch| {
        bch.iter(|| sparse_linear_backward_weights(&mut dw, &scratch, &dout, cc, oc, 0.42))
    });
    let mut wmut = w.clone();
    g.bench_function("sgd_update_785x64", |bch| bch.iter(|| kernels::optim::sgd_update(1, &mut wmut, &dw, 0.01, 0.0)));
    let mut colsum = vec![0f32; 3 * oc];
    g.bench_function("fused_sgd_32", |bch| {
        bch.iter(|| sparse_linear_sgd(&mut wmut, &scratch, &dout, cc, oc, 0.42, 1e-6, &mut offset, &mut colsum))
    });
    let z = filled::<f32>(b * oc);
    let mut a = vec![0f32; b * oc];
    g.bench_function("sigmoid_32x64", |bch| {
        bch.iter(|| {
            kernels::layers::activation_forward(
                1,
                kernels::layers::Activation::Sigmoid,
                kernels::layers::Math::Libm,
                &mut a,
                &z,
            )
        })
    });
    g.bench_function("sigmoid_fast_32x64", |bch| {
        bch.iter(|| {
            kernels::layers::activation_forward(
                1,
                kernels::layers::Activation::Sigmoid,
                kernels::layers::Math::Fast,
                &mut a,
                &z,
            )
        })
    });
    g.finish();
}
