//! `mlp sweep` (a sweep file run in parallel, resumably) and `mlp report` (summaries rebuilt from
//! run directories), plus the runner `mlp reproduce` shares.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use super::common::{cores, note_missing_validation, CheckpointArgs, CommonArgs};
use mlp::data::Mnist;
use mlp::error::ConfigError;
use mlp::experiment::data_sets::DataSets;
use mlp::experiment::executor::{execute, RunStatus, StalePolicy};
use mlp::experiment::fingerprint::Fingerprint;
use mlp::experiment::progress::RunsProgress;
use mlp::experiment::run::RunOptions;
use mlp::experiment::summary::{
    collect_runs, comparisons_markdown, read_comparisons, summary_markdown, write_comparisons, write_summaries,
    CollectedRun,
};
use mlp::experiment::sweep_file::{RunSpec, Sweep, DEFAULT_MAX_RUNS};

#[derive(Args)]
pub struct SweepArgs {
    /// The sweep file, e.g. experiments/study.toml.
    file: PathBuf,
    /// Output directory (default results/<sweep name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs in parallel (default: the cores over the threads per run; at most the number of runs
    /// and 4 per core).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Run only shard I of N (1-based), e.g. 2/3.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Repeat every run over seeds 1..=N (ids get a -s<seed> suffix).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    seeds: Option<u32>,
    /// Redo finished runs and replace runs of a different config.
    #[arg(long)]
    force: bool,
    /// Refuse sweeps of more runs than this (seeds included), before expanding them.
    #[arg(long, default_value_t = DEFAULT_MAX_RUNS, value_name = "N")]
    max_runs: usize,
    /// Finished runs made by other code, data or resolved config: run them again (like a build
    /// tool) or keep them, reported as stale.
    #[arg(long, value_enum, default_value = "rerun")]
    stale: StalePolicy,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
pub struct ReportArgs {
    /// Sweep directories or run directories.
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// Where to write the summaries (default: the first directory).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Merge runs made by different code or data (refused by default: their results are not
    /// comparable).
    #[arg(long)]
    allow_mixed: bool,
    /// Write the summaries of the readable runs even when some run directories cannot be read
    /// (they are listed either way).
    #[arg(long)]
    partial: bool,
}

fn parse_shard(s: &str) -> std::result::Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 1 <= I <= N, e.g. 2/3; got `{s}`");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Workers and threads per run for `runs` runs: `asked_jobs` workers (default: the cores over the
/// threads asked, at most one per run and 4 per core), each with its share of the cores
/// (`asked_threads` at most: jobs x threads never exceeds the cores, unless more jobs than cores
/// were asked for, each then on one thread).
pub fn workers(asked_jobs: Option<u32>, asked_threads: Option<usize>, runs: usize, quiet: bool) -> (usize, usize) {
    let cores = cores();
    let want = asked_jobs.map_or(cores / asked_threads.unwrap_or(1).clamp(1, cores), |j| j as usize);
    let jobs = want.min(runs.max(1)).min(4 * cores).max(1);
    if !quiet && jobs < want && asked_jobs.is_some() {
        eprintln!("mlp: --jobs {want} capped at {jobs} ({runs} runs, {cores} cores)");
    }
    let share = (cores / jobs).max(1);
    let threads = asked_threads.map_or(share, |t| t.min(share));
    if !quiet && asked_threads.is_some_and(|t| t > threads) {
        eprintln!("mlp: threads per run capped at {threads} ({jobs} runs at a time on {cores} cores)");
    }
    (jobs, threads)
}

/// How a set of runs is executed.
pub struct Execution<'a> {
    pub jobs: usize,
    /// Threads per run.
    pub threads: usize,
    pub force: bool,
    pub stale: StalePolicy,
    pub checkpoint_every: usize,
    pub common: &'a CommonArgs,
}

/// Runs `runs` into `out` with a bar of finished runs and one line per run on stderr.
pub fn run_all(runs: &[RunSpec], out: &Path, how: &Execution) -> Result<Vec<RunStatus>> {
    let blas_core = how.common.setup_blas();
    how.common.log_threads(&blas_core, how.threads);
    let data = DataSets::load(runs.iter().map(|r| r.config.dataset), |name| how.common.data_dir(name), Mnist::load)?;
    if let Some(r) = runs.iter().find(|r| r.config.val_size == 0) {
        note_missing_validation(&r.config, how.common.quiet);
    }
    let opts = RunOptions {
        data_dir: PathBuf::new(),
        force: how.force,
        resume: true,
        checkpoint_every: how.checkpoint_every,
        quiet: true,
        blas_core,
        threads: how.threads,
    };
    let progress = RunsProgress::new(runs.len(), how.common.quiet);
    let statuses = execute(runs, &data, out, how.jobs, &opts, how.stale, &|r, s| progress.done(r, s))?;
    progress.finish();
    Ok(statuses)
}

/// Fails naming the runs that failed, if any.
pub fn check_failures(runs: &[RunSpec], statuses: &[RunStatus]) -> Result<()> {
    let failed: Vec<&str> = runs
        .iter()
        .zip(statuses)
        .filter(|(_, s)| matches!(s, RunStatus::Failed(_)))
        .map(|(r, _)| r.id.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

pub fn run(args: SweepArgs) -> Result<()> {
    let sweep_error = |e: mlp::experiment::sweep_file::SweepError| ConfigError {
        key: "sweep file",
        value: e.file.display().to_string(),
        reason: e.message,
    };
    let mut sweep = Sweep::load(&args.file, args.max_runs).map_err(sweep_error)?;
    if let Some(n) = args.seeds.map(|n| n as usize).or(sweep.seeds) {
        let file = args.file.clone();
        sweep = sweep
            .with_seeds(n, args.max_runs)
            .map_err(|message| sweep_error(mlp::experiment::sweep_file::SweepError { file, message }))?;
    }
    if let Some((i, n)) = args.shard {
        sweep = sweep.shard(i, n);
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&sweep.name));
    let asked_threads = args.common.threads.map(usize::from).or(sweep.threads);
    let (jobs, threads) = workers(args.jobs, asked_threads, sweep.runs.len(), args.common.quiet);
    if !args.common.quiet {
        eprintln!("mlp: {} runs into {}: {jobs} at a time, {threads} thread(s) each", sweep.runs.len(), out.display());
    }
    let how = Execution {
        jobs,
        threads,
        force: args.force,
        stale: args.stale,
        checkpoint_every: args.checkpoints.checkpoint_every,
        common: &args.common,
    };
    let statuses = run_all(&sweep.runs, &out, &how)?;
    let (runs, broken) = scan(std::slice::from_ref(&out), args.common.quiet)?;
    write_comparisons(&sweep.comparisons, &out)?;
    write_summaries(&runs, &sweep.comparisons, &out)?;
    say!("{}", summary_markdown(&runs));
    if !sweep.comparisons.is_empty() {
        say!("{}", comparisons_markdown(&sweep.comparisons, &runs));
    }
    say!("summaries: {} and {}", out.join("summary.csv").display(), out.join("summary.md").display());
    check_failures(&sweep.runs, &statuses)?;
    let busy = statuses.iter().filter(|s| matches!(s, RunStatus::Busy(_))).count();
    if busy > 0 {
        eprintln!("mlp: {busy} run(s) were in progress in another process: sweep again once it is done to list them");
    }
    if broken > 0 {
        bail!(
            "{broken} run director{} under {} could not be read (listed above)",
            if broken == 1 { "y" } else { "ies" },
            out.display()
        );
    }
    Ok(())
}

/// The finished runs under `dirs`, and how many run directories could not be read; those, and the
/// unfinished ones, are listed on stderr.
pub fn scan(dirs: &[PathBuf], quiet: bool) -> Result<(Vec<CollectedRun>, usize)> {
    let found = collect_runs(dirs)?;
    for (dir, reason) in &found.broken {
        eprintln!("broken  {}: {reason}", dir.display());
    }
    for (dir, error) in &found.failed {
        eprintln!("failed  {}: {error}", dir.display());
    }
    if !quiet {
        for dir in &found.unfinished {
            eprintln!("unfinished {}: no summary.json (in progress elsewhere, or interrupted)", dir.display());
        }
    }
    Ok((found.runs, found.broken.len()))
}

pub fn report(args: ReportArgs) -> Result<()> {
    let (runs, broken) = scan(&args.dirs, false)?;
    if broken > 0 && !args.partial {
        bail!(
            "{broken} run director{} could not be read (listed above); fix or remove them, or pass --partial",
            if broken == 1 { "y" } else { "ies" }
        );
    }
    if runs.is_empty() {
        bail!("no finished runs (directories with summary.json) under {:?}", args.dirs);
    }
    if !args.allow_mixed {
        refuse_mixed(&runs)?;
    }
    let out = args.out.unwrap_or_else(|| args.dirs[0].clone());
    write_summaries(&runs, &read_comparisons(&args.dirs)?, &out)?;
    say!("{} runs -> {}", runs.len(), out.join("summary.md").display());
    Ok(())
}

/// Refuses runs whose fingerprints disagree on the code or the data, naming them.
fn refuse_mixed(runs: &[CollectedRun]) -> Result<()> {
    let part =
        |r: &CollectedRun, f: fn(&Fingerprint) -> &str| r.fingerprint.as_ref().map_or("none", |fp| f(fp)).to_string();
    for (what, f) in [("code", (|fp| &fp.source) as fn(&Fingerprint) -> &str), ("data", |fp| &fp.data)] {
        let mut groups: BTreeMap<String, Vec<&str>> = BTreeMap::new();
        for r in runs {
            groups.entry(part(r, f)).or_default().push(&r.id);
        }
        if groups.len() > 1 {
            let listed: Vec<String> =
                groups.iter().map(|(h, ids)| format!("{} ({})", ids.join(", "), &h[..h.len().min(16)])).collect();
            bail!(
                "the runs were made by different {what}: {}; rerun the stale ones or pass --allow-mixed",
                listed.join(" vs ")
            );
        }
    }
    Ok(())
}
