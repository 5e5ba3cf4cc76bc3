//! `mlp train`: one model into its run directory.

use std::path::{Path, PathBuf};

use anyhow::Result;
use clap::Args;

use super::common::{load, CommonArgs};
use mlp::config::{Overrides, TrainConfig};
use mlp::experiment::presets;
use mlp::experiment::run::{run_name, run_to_dir, RunOptions};
use mlp::train::log::Summary;

#[derive(Args)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Start from a run of the study: basic, iw, is, momentum, is-iw, all, 4a, 4b, 4-64, 4d, 4e
    /// (other flags override its values).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(presets::names()))]
    preset: Option<String>,
    #[command(flatten)]
    knobs: Overrides,
    /// Run directory (default results/runs/<name derived from the config>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace a run already in --out.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let mut cfg = TrainConfig::default();
    if let Some(p) = args.preset.as_deref().and_then(presets::find) {
        p.overrides().apply(&mut cfg);
    }
    args.knobs.apply(&mut cfg);
    let cfg = cfg.validate()?;
    let (blas_core, blas_threads) = args.common.setup_blas();
    let dir = args.common.data_dir();
    let mnist = load(&dir)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/runs").join(run_name(&cfg)));
    let opts = RunOptions { data_dir: dir, force: args.force, quiet: args.common.quiet, blas_core, blas_threads };
    let summary = run_to_dir(&cfg, &mnist, &out, &opts)?;
    print_summary(&summary, &out);
    Ok(())
}

fn print_summary(s: &Summary, out: &Path) {
    let stop = s.stop_epoch.map_or("never (ran all epochs)".to_string(), |e| format!("epoch {e}"));
    println!("early stop:  {stop}, {} steps", s.steps);
    if let (Some(step), Some(loss)) = (s.best_step, s.best_val_loss) {
        println!("best check:  step {step}, val loss {loss:.6}");
    }
    println!("final train: loss {:.6}, accuracy {:.4}", s.final_train_loss, s.final_train_acc);
    match (s.final_val_loss, s.final_val_acc) {
        (Some(loss), Some(acc)) => println!("final val:   loss {loss:.6}, accuracy {acc:.4}"),
        _ => println!("final val:   none (empty validation set)"),
    }
    println!("train time:  {:.2} s", s.train_wall_s);
    println!("written to:  {}", out.display());
}
