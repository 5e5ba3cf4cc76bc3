//! A training step allocates nothing: counted with a global allocator in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlp::config::{
    ActivationKind, BiasKind, FirstLayer, InitKind, Kernels, LrSchedule, OptimizerKind, Precision, TrainConfig,
};
use mlp::data::{Dataset, Forms, Normalization};
use mlp::nn::{Mlp, Plan};
use mlp::rng::XoshiroRng;
use mlp::train::stepper::Stepper;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The count is process-wide: the tests take turns.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn steps_allocate<T: kernels::Element>(
    hidden: &[usize],
    momentum: f64,
    kernels: Kernels,
    first_layer: FirstLayer,
) -> usize {
    steps_allocate_at::<T>(hidden, 32, momentum, kernels, first_layer)
}

fn steps_allocate_at<T: kernels::Element>(
    hidden: &[usize],
    b: usize,
    momentum: f64,
    kernels: Kernels,
    first_layer: FirstLayer,
) -> usize {
    let n = 1024;
    let images: Vec<u8> = (0..n * 784).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let data = Dataset::<T>::new(&images, &labels, 784, Normalization { mean: 33.0, std: 78.0 }, Forms::ALL);
    let precision = if T::NAME == "f32" { Precision::F32 } else { Precision::F64 };
    // Momentum runs stand for the modern recipe too: Adam, weight decay, cosine, dropout and biases.
    let modern = momentum > 0.0 && T::NAME == "f32";
    let mut cfg = TrainConfig {
        hidden: hidden.to_vec(),
        momentum,
        batch_size: b,
        precision,
        kernels,
        first_layer,
        ..TrainConfig::default()
    };
    if modern {
        cfg = TrainConfig {
            momentum: 0.0,
            optimizer: OptimizerKind::Adamw,
            weight_decay: 0.01,
            lr_schedule: LrSchedule::Cosine,
            warmup_steps: 5,
            dropout: 0.2,
            activation: ActivationKind::Relu,
            bias: BiasKind::All,
            ..cfg
        };
    }
    let sizes = cfg.layer_sizes(785);
    let plan = Plan::for_config(&cfg, 785);
    let mut model =
        Mlp::<T>::init(&sizes, cfg.activation.into(), InitKind::Normal, cfg.bias, plan, &mut XoshiroRng::new(1));
    let mut stepper = Stepper::new(&model, &cfg);
    let batch: Vec<u32> = (0..b as u32).map(|i| i * 7 % n as u32).collect();
    stepper.step(&mut model, &data, &batch, 0.1); // warm-up: lets OpenBLAS set up its buffers
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for t in 1..=20 {
        let lr = stepper.schedule.lr_at(t);
        stepper.step(&mut model, &data, &batch, lr);
    }
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn training_steps_allocate_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for kernels in [Kernels::Reference, Kernels::Fast] {
        for first_layer in [FirstLayer::Dense, FirstLayer::Sparse] {
            assert_eq!(steps_allocate::<f64>(&[64], 0.0, kernels, first_layer), 0);
            assert_eq!(steps_allocate::<f32>(&[64], 0.9, kernels, first_layer), 0);
            assert_eq!(steps_allocate::<f32>(&[64; 10], 0.9, kernels, first_layer), 0);
            assert_eq!(steps_allocate::<f64>(&[60, 60], 0.9, kernels, first_layer), 0);
        }
    }
}

/// On two threads, where the plan splits the large operations: rayon's joins from inside the
/// pool allocate nothing either.
#[test]
fn threaded_training_steps_allocate_nothing() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    assert_eq!(mlp::nn::plan::Threads::new(2).gemm(512, 512, 785), 2, "a shape the plan splits");
    pool.install(|| {
        for first_layer in [FirstLayer::Dense, FirstLayer::Sparse] {
            assert_eq!(steps_allocate_at::<f32>(&[512, 512], 512, 0.0, Kernels::Fast, first_layer), 0);
            assert_eq!(steps_allocate_at::<f64>(&[512], 512, 0.9, Kernels::Fast, first_layer), 0);
        }
    });
}
