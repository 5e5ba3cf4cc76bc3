//! A training step allocates nothing: counted with a global allocator in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlp::config::{FirstLayer, InitKind, Kernels, Precision, TrainConfig};
use mlp::data::{Dataset, Normalization};
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

fn steps_allocate<T: kernels::Element>(
    hidden: &[usize],
    momentum: f64,
    kernels: Kernels,
    first_layer: FirstLayer,
) -> usize {
    let n = 256;
    let images: Vec<u8> = (0..n * 784).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let data = Dataset::<T>::new(&images, &labels, 784, Normalization { mean: 33.0, std: 78.0 });
    let cfg = TrainConfig { hidden: hidden.to_vec(), ..TrainConfig::default() };
    let sizes = cfg.layer_sizes(785);
    let precision = if T::NAME == "f32" { Precision::F32 } else { Precision::F64 };
    let plan = Plan::resolve(kernels, first_layer, precision, &sizes, 32, momentum > 0.0);
    let mut model = Mlp::<T>::init(&sizes, cfg.activation.into(), InitKind::Normal, plan, &mut XoshiroRng::new(1));
    let mut stepper = Stepper::new(&model, 32, 0.1, momentum);
    let batch: Vec<u32> = (0..32).map(|i| i * 7).collect();
    stepper.step(&mut model, &data, &batch); // warm-up: lets OpenBLAS set up its buffers
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..20 {
        stepper.step(&mut model, &data, &batch);
    }
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[test]
fn training_steps_allocate_nothing() {
    for kernels in [Kernels::Reference, Kernels::Fast] {
        for first_layer in [FirstLayer::Dense, FirstLayer::Sparse] {
            assert_eq!(steps_allocate::<f64>(&[64], 0.0, kernels, first_layer), 0);
            assert_eq!(steps_allocate::<f32>(&[64], 0.9, kernels, first_layer), 0);
            assert_eq!(steps_allocate::<f32>(&[64; 10], 0.9, kernels, first_layer), 0);
            assert_eq!(steps_allocate::<f64>(&[60, 60], 0.9, kernels, first_layer), 0);
        }
    }
}
