//! What several commands share: the data and OpenBLAS flags, and loading the data.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Args;

use mlp::config::DatasetName;
use mlp::data::Mnist;
use mlp::error::DataError;

/// Flags every command that trains or evaluates takes.
#[derive(Args)]
pub struct CommonArgs {
    /// Directory with the four MNIST-format IDX files (raw or gzipped), instead of the named
    /// data set's (`--dataset`).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// OpenBLAS threads per process (1 is fastest for batch-32 training).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub blas_threads: u16,
    /// No progress bar, no log lines.
    #[arg(long)]
    pub quiet: bool,
}

impl CommonArgs {
    /// The data directory: the flag, else the directory of the named data set.
    pub fn data_dir(&self, dataset: DatasetName) -> Result<PathBuf, DataError> {
        match &self.data_dir {
            Some(dir) => Ok(dir.clone()),
            None => mlp::data::dataset_dir(dataset),
        }
    }

    /// Sets the OpenBLAS threads; returns (core, threads) and logs them unless quiet.
    pub fn setup_blas(&self) -> (String, usize) {
        let (core, threads) = mlp::tools::blas_setup::configure(self.blas_threads as usize);
        if !self.quiet {
            eprintln!("mlp: OpenBLAS core {core}, {threads} thread(s)");
        }
        (core, threads)
    }
}

pub fn load(dir: &Path) -> Result<Mnist> {
    Mnist::load(dir).with_context(|| format!("loading data from {}", dir.display()))
}

/// How often a run saves a checkpoint to resume from.
#[derive(Args)]
pub struct CheckpointArgs {
    /// Write a checkpoint at every Nth validation check (0: never); a killed run resumes from it.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub checkpoint_every: usize,
}

/// The one note a configuration without a validation set deserves.
pub fn note_missing_validation(cfg: &mlp::config::TrainConfig, quiet: bool) {
    if !quiet && cfg.validation && cfg.val_size == 0 && cfg.val_from_train == 0 {
        eprintln!(
            "mlp: val_size 0: no validation set, so no checks and no early stopping; validation metrics are null"
        );
    }
}
