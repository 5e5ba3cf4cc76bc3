//! Fast, faithful MLP trainer for the MNIST "tricks of the trade" experiments of the 2021 NTNU
//! TDT4265 assignment 2: data ([`data`]), model ([`model`]), training loop ([`train`]), run
//! directories ([`output`], [`run`]) and the gradient check ([`gradcheck`]). The numeric hot paths
//! live in the `kernels` crate.

pub mod blas_setup;
pub mod config;
pub mod data;
pub mod early_stop;
pub mod error;
pub mod gradcheck;
pub mod model;
pub mod numpy_rng;
pub mod output;
pub mod presets;
pub mod progress;
pub mod reproduce;
pub mod rng;
pub mod run;
pub mod sweep;
pub mod train;
pub mod workloads;
