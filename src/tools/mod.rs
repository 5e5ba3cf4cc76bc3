//! Tools around training: the gradient check, the throughput workloads, and the OpenBLAS setup.

pub mod blas_setup;
pub mod gradcheck;
pub mod workloads;
