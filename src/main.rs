//! `mlp`: command-line entry point. Library errors are typed; here they become messages and exit
//! codes (2 for bad flags or hyperparameters, 1 for everything else).

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    mlp::tools::blas_setup::ensure_fast_core();
    let args = cli::Cli::parse();
    match cli::execute(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(cli::exit_code(&err))
        }
    }
}
