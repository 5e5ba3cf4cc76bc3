//! Fast, faithful MLP trainer for the MNIST "tricks of the trade" experiments of the 2021 NTNU
//! TDT4265 assignment 2. Dependencies point one way: [`config`], [`data`] and [`rng`] are the
//! vocabulary; `kernels` (its own crate) <- [`nn`] <- [`train`] <- [`experiment`] <- the CLI
//! (`src/cli/`, in the binary); [`tools`] sit beside them. ARCHITECTURE.md has the map.

pub mod config;
pub mod data;
pub mod error;
pub mod experiment;
pub mod nn;
pub mod rng;
pub mod tools;
pub mod train;
