//! Hot numeric code of the `mlp` trainer.
//!
//! * [`blas`]: row-major GEMM through OpenBLAS (transposes passed as flags) and the OpenBLAS
//!   runtime controls (core name, thread count).
//! * [`layers`]: forward/backward pairs per layer kind, in the style of karpathy/llm.c, with fixed
//!   dimension letters: `B` batch rows, `C` input features, `OC` output features, `K` classes.
//! * [`optim`]: SGD and momentum updates.
//! * [`sparse`]: the first layer on sparse raw pixels: forward, weight gradient and fused SGD step
//!   ([`sparse::csr`], [`sparse::by_pixel`]), and evaluation on groups of similar images
//!   ([`sparse::grouped`], with an AVX-512 block where the build has it).
//! * [`fastmath`]: a vectorisable e^x for the activations of the fast path.
//!
//! Every kernel is tested against a naive reference (`reference`, test-only) or an equivalent
//! dense computation.

// The system OpenBLAS, linked by openblas-src (feature `system`); cblas-sys declares its symbols.
extern crate openblas_src;

pub mod blas;
pub mod fastmath;
pub mod layers;
pub mod optim;
pub mod par;
mod scalar;
pub mod sparse;

pub use blas::Transpose;
pub use scalar::Scalar;

/// The element type of the trainer: [`Scalar`] arithmetic plus the per-type blocks of the sparse
/// kernels. Implemented for `f32` and `f64`.
pub trait Element: Scalar + sparse::grouped::GroupBlock {}

impl<T: Scalar + sparse::grouped::GroupBlock> Element for T {}

#[cfg(test)]
mod reference;
#[cfg(test)]
mod testing;
