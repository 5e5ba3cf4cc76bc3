//! `mlp reproduce`: the report's runs in the reference setting, and its table regenerated.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::{CheckpointArgs, CommonArgs};
use super::sweep::{check_failures, run_all, scan, workers, Execution};
use mlp::experiment::executor::StalePolicy;
use mlp::experiment::reproduce;
use mlp::experiment::summary::write_summaries;

#[derive(Args)]
pub struct ReproduceArgs {
    #[arg(long, default_value = "results/report")]
    out: PathBuf,
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    jobs: Option<u32>,
    /// Redo finished runs.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    let runs = reproduce::runs();
    let start = std::time::Instant::now();
    let (jobs, threads) = workers(args.jobs, args.common.threads.map(usize::from), runs.len(), args.common.quiet);
    let how = Execution {
        jobs,
        threads,
        force: args.force,
        stale: StalePolicy::Rerun,
        checkpoint_every: args.checkpoints.checkpoint_every,
        common: &args.common,
    };
    let statuses = run_all(&runs, &args.out, &how)?;
    let wall = start.elapsed().as_secs_f64();
    let (finished, _) = scan(std::slice::from_ref(&args.out), args.common.quiet)?;
    let rows = reproduce::table_rows(&finished);
    reproduce::write_table(&rows, &args.out, wall)?;
    write_summaries(&finished, &[], &args.out)?;
    print!("{}", std::fs::read_to_string(args.out.join("table.md"))?);
    check_failures(&runs, &statuses)
}
