//! `mlp reproduce`: the report's runs in the reference setting, and its table regenerated.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::{CheckpointArgs, CommonArgs};
use super::sweep::{check_failures, default_jobs, run_all, Execution};
use mlp::experiment::executor::StalePolicy;
use mlp::experiment::reproduce;
use mlp::experiment::summary::{collect_runs, write_summaries};

#[derive(Args)]
pub struct ReproduceArgs {
    #[arg(long, default_value = "results/report")]
    out: PathBuf,
    #[arg(long)]
    jobs: Option<usize>,
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
    let how = Execution {
        jobs: args.jobs.unwrap_or_else(default_jobs),
        force: args.force,
        stale: StalePolicy::Rerun,
        checkpoint_every: args.checkpoints.checkpoint_every,
        common: &args.common,
    };
    let statuses = run_all(&runs, &args.out, &how)?;
    let wall = start.elapsed().as_secs_f64();
    let finished = collect_runs(std::slice::from_ref(&args.out));
    let rows = reproduce::table_rows(&finished);
    reproduce::write_table(&rows, &args.out, wall)?;
    write_summaries(&finished, &args.out)?;
    print!("{}", std::fs::read_to_string(args.out.join("table.md"))?);
    check_failures(&runs, &statuses)
}
