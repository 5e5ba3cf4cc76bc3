//! Running a sweep's runs in parallel, resumably: a finished run whose fingerprint matches what
//! would run now is skipped; a stale one (other code, data or resolved config) is rerun or kept
//! as the policy says, never presented as current; an unfinished one continues from its
//! checkpoint.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::data_sets::DataSets;
use super::fingerprint::{Fingerprint, Staleness};
use super::run::{read_json, read_record, run_in_locked_dir, FailedRun, RunOptions, RunResult};
use super::run_dir::{holder, RunLock, FAILED_FILE, SUMMARY_FILE};
use super::sweep_file::RunSpec;
use crate::config::TrainConfig;
use crate::data::Mnist;
use crate::error::TrainError;
use crate::nn::Plan;
use crate::train::log::Summary;

/// What to do with finished runs whose fingerprint differs from what would run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StalePolicy {
    /// Run them again, as a build tool rebuilds outdated targets (the default).
    Rerun,
    /// Keep their results, reported as stale.
    Keep,
}

/// What happened to one run of a sweep.
#[derive(Debug)]
pub enum RunStatus {
    /// Trained now; `replaced` says why an earlier result was stale, if there was one.
    Done {
        result: RunResult,
        replaced: Vec<Staleness>,
    },
    /// Finished earlier with the same fingerprint.
    Skipped(Summary),
    /// Finished earlier with another fingerprint, kept by the policy.
    Stale {
        summary: Summary,
        why: Vec<Staleness>,
    },
    /// Another process holds the run's directory (its id): left to it.
    Busy(String),
    Failed(String),
}

/// The `config` object recorded in a run directory's config.json, if it has a readable one.
pub fn recorded_config(dir: &Path) -> Option<TrainConfig> {
    read_record(dir).ok().flatten().map(|r| r.config)
}

/// A run directory's summary.json: None when it has none, an error saying why when it cannot be
/// read.
pub fn read_summary(dir: &Path) -> Result<Option<Summary>, String> {
    read_json(&dir.join(SUMMARY_FILE))
}

/// The fingerprint `cfg` would have if it ran now on `mnist` with OpenBLAS core `blas_core`.
pub fn current_fingerprint(cfg: &TrainConfig, mnist: &Mnist, blas_core: &str) -> Fingerprint {
    Fingerprint::new(cfg, &Plan::for_config(cfg, mnist.pixels() + 1), mnist, blas_core)
}

/// Refuses, before anything runs, run ids whose directory holds a different configuration.
pub fn check_conflicts(runs: &[RunSpec], out: &Path) -> Result<(), TrainError> {
    for r in runs {
        let dir = out.join(&r.id);
        if let Some(old) = recorded_config(&dir) {
            if old != *r.config {
                return Err(TrainError::Conflict { path: dir });
            }
        }
    }
    Ok(())
}

/// Runs `runs` into `out/<id>/` on `jobs` workers, each run on a pool of `opts.threads` threads
/// of its own. Finished current runs are skipped unless `force`; stale ones follow `stale`;
/// unfinished ones resume. `on_done` sees each run as it finishes. The workers are plain threads,
/// not a rayon pool: a rayon worker waiting for a run's pool would steal and start another run
/// meanwhile, and more threads than `jobs x threads` would compute at once. The biggest runs start
/// first (longest processing time first), so that the sweep does not end on one long run while the
/// other cores idle; statuses come back in the order of `runs`.
pub fn execute(
    runs: &[RunSpec],
    data: &DataSets,
    out: &Path,
    jobs: usize,
    opts: &RunOptions,
    stale: StalePolicy,
    on_done: &(dyn Fn(&RunSpec, &RunStatus) + Sync),
) -> Result<Vec<RunStatus>, TrainError> {
    if !opts.force {
        check_conflicts(runs, out)?;
    }
    kernels::blas::set_threads(1);
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(expected_work(&runs[i].config, data)));
    let next = AtomicUsize::new(0);
    let done: Vec<Mutex<Option<RunStatus>>> = runs.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, runs.len().max(1)) {
            scope.spawn(|| {
                while let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let r = &runs[i];
                    let status = run_one(r, data, &out.join(&r.id), opts, stale);
                    on_done(r, &status);
                    *done[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(status);
                }
            });
        }
    });
    Ok(done.into_iter().map(|s| s.into_inner().unwrap_or_else(|e| e.into_inner()).expect("every run ran")).collect())
}

/// A run's work at most: weights x training images x epochs (early stopping usually ends it
/// sooner, alike for similar runs).
fn expected_work(cfg: &TrainConfig, data: &DataSets) -> u128 {
    let inputs = data.get(cfg.dataset).map_or(0, |(_, m)| m.pixels() + 1);
    let weights = crate::config::parameter_count(inputs, &cfg.hidden, cfg.bias).unwrap_or(usize::MAX);
    weights as u128 * cfg.train_size as u128 * cfg.epochs as u128
}

fn run_one(r: &RunSpec, data: &DataSets, dir: &Path, opts: &RunOptions, stale: StalePolicy) -> RunStatus {
    let Some((data_dir, mnist)) = data.get(r.config.dataset) else {
        return RunStatus::Failed(format!("the {:?} data set was not loaded", r.config.dataset));
    };
    // Everything below reads and writes the directory under its lock.
    let lock = match RunLock::try_acquire(dir) {
        Ok(Some(lock)) => lock,
        Ok(None) => return RunStatus::Busy(holder(dir)),
        Err(e) => return RunStatus::Failed(e.to_string()),
    };
    if !opts.force {
        // Checked again under the lock: another process may have written the directory since.
        if recorded_config(dir).is_some_and(|old| old != *r.config) {
            return RunStatus::Failed(TrainError::Conflict { path: dir.to_path_buf() }.to_string());
        }
    }
    if !opts.force {
        let failed: Option<FailedRun> = read_json(&dir.join(FAILED_FILE)).ok().flatten();
        if let Some(f) = failed.filter(|f| f.fingerprint == current_fingerprint(&r.config, mnist, &opts.blas_core)) {
            return RunStatus::Failed(format!("{} (recorded earlier; --force trains it again)", f.error));
        }
    }
    let mut replaced = Vec::new();
    // An unreadable summary or record is no finished run: it is trained again.
    if let (Ok(Some(summary)), Ok(Some(record))) = (read_summary(dir), read_record(dir)) {
        if !opts.force {
            let now = current_fingerprint(&r.config, mnist, &opts.blas_core);
            let why = record.fingerprint.map_or(vec![Staleness::Unrecorded], |f| f.stale_against(&now));
            if why.is_empty() {
                return RunStatus::Skipped(summary);
            }
            if stale == StalePolicy::Keep {
                return RunStatus::Stale { summary, why };
            }
            replaced = why;
        }
    }
    // Anything else in the directory is this program's unfinished or outdated run: continue it
    // from its checkpoint when that belongs to this very run, else start over.
    let resume = replaced.is_empty();
    let run_opts = RunOptions { force: true, resume, quiet: true, data_dir: data_dir.to_path_buf(), ..opts.clone() };
    match run_in_locked_dir(&r.config, mnist, dir, &run_opts, &lock) {
        Ok(result) => RunStatus::Done { result, replaced },
        Err(e) => RunStatus::Failed(e.to_string()),
    }
}
