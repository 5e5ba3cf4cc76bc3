//! One complete run: split the data, write the run directory, train, publish the summary.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::progress::WithProgress;
use super::run_dir::RunWriter;
use crate::config::{Precision, RunConfig, TrainConfig};
use crate::data::{self, Mnist, Normalization};
use crate::error::TrainError;
use crate::nn::Plan;
use crate::train::log::Summary;
use crate::train::{plan, train};
use kernels::Element;

/// How a run is executed (not part of its result).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub data_dir: PathBuf,
    pub force: bool,
    pub quiet: bool,
    pub blas_core: String,
    pub blas_threads: usize,
}

/// `config.json`: the resolved configuration plus the facts a reader needs to interpret the logs.
#[derive(Debug, Serialize)]
pub struct RunRecord<'a> {
    pub mlp_version: &'static str,
    pub config: &'a TrainConfig,
    /// The kernels the run executes, resolved from the config.
    pub plan: Plan,
    pub data_dir: &'a Path,
    pub input_dim: usize,
    pub normalization: Normalization,
    pub steps_per_epoch: usize,
    pub steps_per_check: usize,
    pub blas_core: &'a str,
    pub blas_threads: usize,
}

/// Trains `cfg` on `mnist` and writes everything into `out`.
/// The one place a run's precision picks the element type.
pub fn run_to_dir(cfg: &RunConfig, mnist: &Mnist, out: &Path, opts: &RunOptions) -> Result<Summary, TrainError> {
    match cfg.precision {
        Precision::F32 => run_typed::<f32>(cfg, mnist, out, opts),
        Precision::F64 => run_typed::<f64>(cfg, mnist, out, opts),
    }
}

fn run_typed<T: Element>(cfg: &RunConfig, mnist: &Mnist, out: &Path, opts: &RunOptions) -> Result<Summary, TrainError> {
    let splits = data::split::<T>(mnist, cfg.train_size, cfg.val_size, cfg.norm_stats)?;
    let record = RunRecord {
        mlp_version: env!("CARGO_PKG_VERSION"),
        config: cfg,
        plan: plan(cfg, splits.train.dim()),
        data_dir: &opts.data_dir,
        input_dim: splits.train.dim(),
        normalization: splits.norm,
        steps_per_epoch: cfg.steps_per_epoch(),
        steps_per_check: cfg.steps_per_check(),
        blas_core: &opts.blas_core,
        blas_threads: opts.blas_threads,
    };
    let mut writer = RunWriter::create(out, &record, opts.force)?;
    let total_steps = cfg.epochs * cfg.steps_per_epoch();
    let result = {
        let mut sink = WithProgress::new(&mut writer, total_steps, opts.quiet);
        let result = train::<T>(cfg, &splits, &mut sink);
        sink.finish();
        result
    };
    match result {
        Ok(outcome) => {
            writer.finish(&outcome.summary)?;
            Ok(outcome.summary)
        }
        Err(e) => {
            // Keep the rows written so far under their final names; no summary marks it unfinished.
            writer.close_logs()?;
            Err(e)
        }
    }
}

/// A stable directory name for a configuration, e.g. `h64-sigmoid-uniform-lr0.1-m0-b32-f64-s1`.
pub fn run_name(cfg: &TrainConfig) -> String {
    let hidden: Vec<String> = cfg.hidden.iter().map(|h| h.to_string()).collect();
    format!(
        "h{}-{}-{}-lr{}-m{}-b{}-{}-s{}",
        hidden.join("x"),
        flag_name(&cfg.activation),
        flag_name(&cfg.init),
        cfg.lr,
        cfg.momentum,
        cfg.batch_size,
        flag_name(&cfg.precision),
        cfg.seed
    )
}

/// The command-line spelling of a value-enum.
pub fn flag_name<V: clap::ValueEnum>(v: &V) -> String {
    v.to_possible_value().map(|p| p.get_name().to_string()).unwrap_or_default()
}
