//! A training step allocates nothing: counted with a global allocator in this test binary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use mlp::config::{FirstLayer, InitKind, TrainConfig};
use mlp::data::{Dataset, Normalization};
use mlp::model::Mlp;
use mlp::rng::XoshiroRng;
use mlp::train::Stepper;

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

fn steps_allocate<T: kernels::Scalar>(hidden: &[usize], momentum: f64, first_layer: FirstLayer) -> usize {
    let n = 256;
    let images: Vec<u8> = (0..n * 784).map(|i| (i * 37 % 256) as u8).collect();
    let labels: Vec<u8> = (0..n).map(|i| (i % 10) as u8).collect();
    let data = Dataset::<T>::new(&images, &labels, 784, Normalization { mean: 33.0, std: 78.0 });
    let cfg = TrainConfig { hidden: hidden.to_vec(), ..TrainConfig::default() };
    let mut rng = XoshiroRng::new(1);
    let mut model = Mlp::<T>::init(&cfg.layer_sizes(785), cfg.activation.into(), InitKind::Normal, &mut rng);
    model.first_layer = first_layer;
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
    for first_layer in [FirstLayer::Dense, FirstLayer::Sparse] {
        assert_eq!(steps_allocate::<f64>(&[64], 0.0, first_layer), 0);
        assert_eq!(steps_allocate::<f32>(&[64], 0.9, first_layer), 0);
        assert_eq!(steps_allocate::<f32>(&[64; 10], 0.9, first_layer), 0);
        assert_eq!(steps_allocate::<f64>(&[60, 60], 0.9, first_layer), 0);
    }
}
