//! One complete run: split the data, write the run directory, train (or resume from a
//! checkpoint), publish the model files and the summary.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::fingerprint::{describe, Fingerprint, Staleness};
use super::progress::WithProgress;
use super::run_dir::{write_json_atomic, RunLock, RunWriter, CHECKPOINT_FILE, CONFIG_FILE, FAILED_FILE};
use crate::config::{weight_rows, DatasetName, Precision, RunConfig, TrainConfig};
use crate::data::{self, Mnist, Normalization};
use crate::error::TrainError;
use crate::nn::model_file::{self, ModelMeta};
use crate::nn::{memory, Plan};
use crate::train::checkpoint::{self, Checkpoint};
use crate::train::log::Summary;
use crate::train::train;
use kernels::Element;

/// How a run is executed (not part of its result).
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub data_dir: PathBuf,
    /// Replace a run already in the directory.
    pub force: bool,
    /// Continue from the directory's checkpoint when it belongs to this very run (same
    /// fingerprint); start over otherwise.
    pub resume: bool,
    /// Write a checkpoint at every this many validation checks (0: never).
    pub checkpoint_every: usize,
    pub quiet: bool,
    pub blas_core: String,
    /// Threads the run trains on: the rayon pool it runs in, which the plan splits large
    /// operations over (OpenBLAS itself always runs one thread). Not part of the fingerprint:
    /// results do not depend on it.
    pub threads: usize,
}

/// `config.json`: the resolved configuration plus the facts a reader needs to interpret the logs.
#[derive(Debug, Serialize)]
pub struct RunRecord<'a> {
    pub mlp_version: &'static str,
    pub config: &'a TrainConfig,
    /// The kernels the run executes, resolved from the config.
    pub plan: Plan,
    /// What determines the results: config and plan, data, source.
    pub fingerprint: &'a Fingerprint,
    /// sha256 of each data file (decompressed).
    pub data_files: std::collections::BTreeMap<&'static str, &'a str>,
    pub data_dir: &'a Path,
    pub input_dim: usize,
    pub normalization: Normalization,
    pub steps_per_epoch: usize,
    pub steps_per_check: usize,
    pub blas_core: &'a str,
    /// Threads the run trained on (information, outside the fingerprint).
    pub threads: usize,
}

/// What `config.json` tells about a run written earlier.
#[derive(Debug, Clone, Deserialize)]
pub struct RecordedRun {
    pub config: TrainConfig,
    /// Absent in runs written before fingerprints existed.
    #[serde(default)]
    pub fingerprint: Option<Fingerprint>,
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
}

/// The record of the run in `dir`: None when it has no config.json, an error saying why when it
/// cannot be read.
pub fn read_record(dir: &Path) -> Result<Option<RecordedRun>, String> {
    read_json(&dir.join(CONFIG_FILE))
}

/// A JSON file: None when it does not exist, an error naming it when it cannot be read or parsed.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, String> {
    match std::fs::read_to_string(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
    }
}

/// `failed.json`: why a run ended without a summary, for a failure that would repeat.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailedRun {
    pub error: String,
    pub fingerprint: Fingerprint,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub summary: Summary,
    /// The step it resumed at, when it continued from a checkpoint.
    pub resumed_at: Option<usize>,
    /// Why a checkpoint in the directory was not resumed from (it belonged to another run).
    pub restarted: Vec<Staleness>,
}

/// Trains `cfg` on `mnist` and writes everything into `out`, which it locks: a directory another
/// process is training in is refused.
pub fn run_to_dir(cfg: &RunConfig, mnist: &Mnist, out: &Path, opts: &RunOptions) -> Result<RunResult, TrainError> {
    let lock = RunLock::acquire(out)?;
    run_in_locked_dir(cfg, mnist, out, opts, &lock)
}

/// [`run_to_dir`] in a directory this process has locked, on a pool of `opts.threads` threads of
/// its own (the caller's thread waits). The one place a run's precision picks the element type.
pub fn run_in_locked_dir(
    cfg: &RunConfig,
    mnist: &Mnist,
    out: &Path,
    opts: &RunOptions,
    _lock: &RunLock,
) -> Result<RunResult, TrainError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| TrainError::Threads(e.to_string()))?;
    pool.install(|| match cfg.precision {
        Precision::F32 => run_typed::<f32>(cfg, mnist, out, opts),
        Precision::F64 => run_typed::<f64>(cfg, mnist, out, opts),
    })
}

/// Refuses a run that cannot fit in memory (its network and the forms of its data that `plan`
/// reads), before anything is allocated for it.
fn check_memory(cfg: &TrainConfig, mnist: &Mnist, plan: &Plan, element_bytes: usize) -> Result<(), TrainError> {
    let inputs = mnist.pixels() + 1;
    let sizes = cfg.layer_sizes(inputs);
    let threads = rayon::current_num_threads();
    let params = crate::config::parameter_count(inputs, &cfg.hidden, cfg.bias)
        .map_or("more than 2^64".into(), |p| p.to_string());
    let available = memory::available_bytes().unwrap_or(u64::MAX);
    let (train, val, from_train) = (cfg.train_size, cfg.val_size, cfg.val_from_train);
    let data = data::split_bytes(mnist, train, val, from_train, plan.data_forms(), element_bytes);
    let network = memory::training_bytes(&sizes, cfg.batch_size, element_bytes, threads, plan);
    match network.and_then(|n| n.checked_add(data)) {
        Some(needed) if needed <= available => Ok(()),
        needed => Err(TrainError::TooLarge {
            parameters: params,
            needed_mib: needed.map_or(u64::MAX, |n| n >> 20),
            available_mib: available >> 20,
        }),
    }
}

/// The checkpoint in `out` if it belongs to the run `fingerprint` describes.
/// The checkpoint in `out` when it belongs to the run `fingerprint` describes; when it belongs to
/// another (other code, data, configuration or OpenBLAS core), why, since resuming from it would
/// not give this run.
fn checkpoint_of<T: Element>(
    out: &Path,
    fingerprint: &Fingerprint,
    cfg: &TrainConfig,
    inputs: usize,
    train_len: usize,
) -> Result<Result<Option<Checkpoint<T>>, Vec<Staleness>>, TrainError> {
    let path = out.join(CHECKPOINT_FILE);
    if !path.exists() {
        return Ok(Ok(None));
    }
    let recorded = read_record(out).ok().flatten().and_then(|r| r.fingerprint);
    let why = recorded.map_or(vec![Staleness::Unrecorded], |f| f.stale_against(fingerprint));
    if !why.is_empty() {
        return Ok(Err(why));
    }
    let bytes = std::fs::read(&path).map_err(|source| TrainError::Output { path: path.clone(), source })?;
    let resume_err = |reason| TrainError::Resume { path: path.clone(), reason };
    let sizes = cfg.layer_sizes(inputs);
    let shapes: Vec<_> = (0..sizes.len() - 1).map(|l| (weight_rows(&sizes, cfg.bias, l), sizes[l + 1])).collect();
    let ck = checkpoint::from_bytes::<T>(&bytes, &shapes).map_err(resume_err)?;
    ck.check(train_len, cfg).map_err(resume_err)?;
    Ok(Ok(Some(ck)))
}

fn run_typed<T: Element>(
    cfg: &RunConfig,
    mnist: &Mnist,
    out: &Path,
    opts: &RunOptions,
) -> Result<RunResult, TrainError> {
    let inputs = mnist.pixels() + 1;
    let plan = Plan::for_config(cfg, inputs);
    check_memory(cfg, mnist, &plan, std::mem::size_of::<T>())?;
    let forms = plan.data_forms();
    let splits = data::split::<T>(mnist, cfg.train_size, cfg.val_size, cfg.val_from_train, cfg.norm_stats, forms)?;
    let fingerprint = Fingerprint::new(cfg, &plan, mnist, &opts.blas_core);
    let record = RunRecord {
        mlp_version: env!("CARGO_PKG_VERSION"),
        config: cfg,
        plan,
        fingerprint: &fingerprint,
        data_files: mnist.file_hashes().into_iter().collect(),
        data_dir: &opts.data_dir,
        input_dim: inputs,
        normalization: splits.norm,
        steps_per_epoch: cfg.steps_per_epoch(),
        steps_per_check: cfg.steps_per_check(),
        blas_core: &opts.blas_core,
        threads: opts.threads,
    };
    let (resume, restarted) = if opts.resume {
        match checkpoint_of::<T>(out, &fingerprint, cfg, inputs, splits.train.len()) {
            Ok(Ok(found)) => (found, Vec::new()),
            // Starting over discards the checkpoint: only when the caller said so.
            Ok(Err(why)) if opts.force => (None, why),
            Ok(Err(why)) => {
                return Err(TrainError::StaleCheckpoint { path: out.join(CHECKPOINT_FILE), why: describe(&why) })
            }
            Err(TrainError::Resume { .. }) if opts.force => (None, vec![Staleness::Unreadable]),
            Err(e) => return Err(e),
        }
    } else {
        (None, Vec::new())
    };
    let resumed_at = resume.as_ref().map(|c| c.meta.steps);
    // Diagnostics rows come with checks, one per layer.
    let layer_rows = cfg.diagnostics.then_some(cfg.hidden.len() + 1);
    let mut writer = match &resume {
        Some(c) => RunWriter::resume(out, c.meta.steps, c.meta.checks, opts.checkpoint_every, layer_rows)?,
        None => {
            RunWriter::create(out, &record, opts.force || opts.resume, opts.checkpoint_every, layer_rows.is_some())?
        }
    };
    let total_steps = cfg.epochs.saturating_mul(cfg.steps_per_epoch());
    let result = {
        let mut sink = WithProgress::new(&mut writer, total_steps, resumed_at.unwrap_or(0), opts.quiet);
        let result = train::<T>(cfg, &splits, &mut sink, resume);
        sink.finish();
        result
    };
    match result {
        Ok(outcome) => {
            let meta = ModelMeta {
                activation: cfg.activation,
                mean: splits.norm.mean,
                std: splits.norm.std,
                config: cfg.clone(),
                fingerprint: serde_json::to_string(&fingerprint).expect("plain data"),
            };
            let model = model_file::to_bytes(&outcome.model, &outcome.model.weights, &meta);
            let best = outcome.best.filter(|b| *b != outcome.model.weights);
            let best = best.map(|b| model_file::to_bytes(&outcome.model, &b, &meta));
            writer.finish(&outcome.summary, &model, best.as_deref())?;
            Ok(RunResult { summary: outcome.summary, resumed_at, restarted })
        }
        Err(e) => {
            // Keep the rows written so far under their final names; no summary marks it unfinished.
            // Only a divergence, which would repeat, retires the checkpoint: after any other error
            // (a full disk, say) the last good one stays for --resume.
            let diverged = matches!(e, TrainError::Diverged { .. });
            let closed = writer.close_logs(diverged);
            if diverged {
                closed?;
                let failed = FailedRun { error: e.to_string(), fingerprint: fingerprint.clone() };
                write_json_atomic(&out.join(FAILED_FILE), &failed)?;
            }
            // Otherwise the first error is the one to report; closing after it may fail alike.
            Err(e)
        }
    }
}

/// A stable directory name for a configuration, e.g. `h64-sigmoid-uniform-lr0.1-m0-b32-f64-s1`.
pub fn run_name(cfg: &TrainConfig) -> String {
    let hidden: Vec<String> = cfg.hidden.iter().map(|h| h.to_string()).collect();
    let dataset = match cfg.dataset {
        DatasetName::Mnist => String::new(),
        other => format!("{}-", flag_name(&other)),
    };
    format!(
        "{dataset}h{}-{}-{}-lr{}-m{}-b{}-{}-s{}",
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
