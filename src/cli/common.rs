//! What several commands share: the data and thread flags, and loading the data.

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
    /// Threads per run (default: every core for one run; a sweep gives each of its runs its share).
    /// Results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
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

    /// The threads of one run: the flag, else every core.
    pub fn threads(&self) -> usize {
        self.threads.map_or_else(cores, usize::from)
    }

    /// Keeps OpenBLAS on one thread per call (the plan splits large products itself); returns the
    /// OpenBLAS core.
    pub fn setup_blas(&self) -> String {
        mlp::tools::blas_setup::configure()
    }

    /// [`CommonArgs::setup_blas`] for a command that is not a run (evaluation, gradient check):
    /// its rayon work runs on `--threads` threads (default: every core).
    pub fn setup_pool(&self) -> Result<String> {
        rayon::ThreadPoolBuilder::new().num_threads(self.threads()).build_global().context("starting the threads")?;
        Ok(self.setup_blas())
    }

    /// Logs the OpenBLAS core and the run's threads unless quiet.
    pub fn log_threads(&self, core: &str, threads: usize) {
        if !self.quiet {
            eprintln!("mlp: OpenBLAS core {core}, {threads} thread(s)");
        }
    }
}

/// The cores this process may use (std honours CPU affinity and cgroup quotas).
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
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
