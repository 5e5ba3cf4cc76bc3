//! Hot numeric code of the `mlp` trainer.
//!
//! * [`blas`]: row-major GEMM through OpenBLAS (transposes passed as flags) and the OpenBLAS
//!   runtime controls (core name, thread count).
//! * [`layers`]: forward/backward pairs per layer kind, in the style of karpathy/llm.c, with fixed
//!   dimension letters: `B` batch rows, `C` input features, `OC` output features, `K` classes.
//! * [`optim`]: fused SGD and momentum updates.
//! * [`sparse`]: the first layer on sparse raw pixels, forward and fused SGD update.
//! * [`grouped`]: the sparse first layer in evaluation, on groups of similar images.
//! * [`avx512`]: the 512-bit block of the grouped evaluation, where the build has it.
//! * [`fastmath`]: a vectorisable e^x for the activations of the fast path.
//!
//! Every kernel has a naive reference in [`reference`] and is tested against it.

pub mod avx512;
pub mod blas;
pub mod fastmath;
pub mod grouped;
pub mod layers;
pub mod optim;
pub mod reference;
mod scalar;
pub mod sparse;

pub use blas::Transpose;
pub use scalar::Scalar;

#[cfg(test)]
mod testing;
