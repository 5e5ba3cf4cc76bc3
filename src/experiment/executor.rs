//! Running a sweep's runs in parallel, resumably: finished runs of the same configuration are
//! skipped, unfinished ones redone.

use std::path::Path;

use rayon::prelude::*;

use super::run::{run_to_dir, RunOptions};
use super::run_dir::{CONFIG_FILE, SUMMARY_FILE};
use super::sweep_file::RunSpec;
use crate::config::TrainConfig;
use crate::data::Mnist;
use crate::error::TrainError;
use crate::train::log::Summary;

/// What happened to one run of a sweep.
#[derive(Debug)]
pub enum RunStatus {
    Done(Summary),
    Skipped(Summary),
    Failed(String),
}

/// The `config` object recorded in a run directory's config.json, if any.
pub fn recorded_config(dir: &Path) -> Option<TrainConfig> {
    let text = std::fs::read_to_string(dir.join(CONFIG_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(value.get("config")?.clone()).ok()
}

pub fn read_summary(dir: &Path) -> Option<Summary> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(SUMMARY_FILE)).ok()?).ok()
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

/// Runs `runs` into `out/<id>/` on a pool of `jobs` workers, one OpenBLAS thread each. Finished
/// runs with the same config are skipped unless `force`; `on_done` sees each run as it finishes.
pub fn execute(
    runs: &[RunSpec],
    mnist: &Mnist,
    out: &Path,
    jobs: usize,
    opts: &RunOptions,
    on_done: &(dyn Fn(&RunSpec, &RunStatus) + Sync),
) -> Result<Vec<RunStatus>, TrainError> {
    if !opts.force {
        check_conflicts(runs, out)?;
    }
    kernels::blas::set_threads(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().expect("thread pool");
    let statuses = pool.install(|| {
        runs.par_iter()
            .with_max_len(1)
            .map(|r| {
                let dir = out.join(&r.id);
                let status = match read_summary(&dir) {
                    Some(s) if !opts.force && recorded_config(&dir).as_ref() == Some(&*r.config) => {
                        RunStatus::Skipped(s)
                    }
                    _ => {
                        // An unfinished directory of the same config is redone from scratch.
                        let run_opts = RunOptions { force: true, quiet: true, ..opts.clone() };
                        match run_to_dir(&r.config, mnist, &dir, &run_opts) {
                            Ok(s) => RunStatus::Done(s),
                            Err(e) => RunStatus::Failed(e.to_string()),
                        }
                    }
                };
                on_done(r, &status);
                status
            })
            .collect()
    });
    Ok(statuses)
}
