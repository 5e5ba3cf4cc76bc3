//! The command line: one file per command; this file holds the command list, the flags every
//! command shares, and the mapping of errors to exit codes.

/// `println!` that returns a failed write as the command's error instead of panicking: a reader
/// that went away (`mlp info | head -0`) ends the command quietly (see `main.rs`).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}

mod common;
mod eval;
mod gradcheck;
mod info;
mod params;
mod predict;
mod reproduce;
mod sweep;
mod throughput;
mod train;

use anyhow::Result;
use clap::{Parser, Subcommand};

use mlp::error::{ConfigError, TrainError};

#[derive(Parser)]
#[command(name = "mlp", version, about = "Fast, faithful MLP trainer for the MNIST 'tricks of the trade' experiments")]
pub struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one model and write its run directory (config.json, steps.csv, checks.csv, summary.json).
    Train(Box<train::TrainArgs>),
    /// Print the parameter count of a network (weights and biases).
    Params(params::ParamsArgs),
    /// The assignment's gradient check (tasks 2a and 4c) on [64] and [64,64], both activations.
    Gradcheck(gradcheck::GradcheckArgs),
    /// Run a sweep file (TOML) in parallel, resumably; writes results/<sweep>/ and its summaries.
    Sweep(sweep::SweepArgs),
    /// Regenerate summary.csv / summary.md from run directories (e.g. to merge shards).
    Report(sweep::ReportArgs),
    /// Run the report's experiments in the reference setting and regenerate its results table.
    Reproduce(reproduce::ReproduceArgs),
    /// Time a throughput workload (W1-W4, see `mlp::tools::workloads`); prints JSON with every repetition.
    Throughput(throughput::ThroughputArgs),
    /// A saved model's loss, accuracy and confusion matrix on its run's data (JSON on stdout).
    Eval(eval::EvalArgs),
    /// A saved model's predicted class and probabilities for IDX or PNG images (CSV on stdout).
    Predict(predict::PredictArgs),
    /// Print the OpenBLAS core and thread count this program runs with.
    Info,
}

pub fn execute(cli: Cli) -> Result<()> {
    match cli.cmd {
        Command::Train(args) => train::run(*args),
        Command::Params(args) => params::run(args),
        Command::Gradcheck(args) => gradcheck::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Report(args) => sweep::report(args),
        Command::Reproduce(args) => reproduce::run(args),
        Command::Throughput(args) => throughput::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Info => info::run(),
    }
}

/// Exit code for an error: 2 for a bad hyperparameter (like clap's bad flags), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let config_error = err.chain().any(|e| {
        e.downcast_ref::<ConfigError>().is_some()
            || matches!(e.downcast_ref::<TrainError>(), Some(TrainError::Config(_)))
    });
    if config_error {
        2
    } else {
        1
    }
}
