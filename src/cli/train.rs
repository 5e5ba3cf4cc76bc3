//! `mlp train`: one model into its run directory, or an interrupted run resumed.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use clap::Args;

use super::common::{load, note_missing_validation, CheckpointArgs, CommonArgs};
use mlp::config::{Overrides, RunConfig, TrainConfig};
use mlp::error::ConfigError;
use mlp::experiment::executor::read_summary;
use mlp::experiment::fingerprint::Staleness;
use mlp::experiment::presets;
use mlp::experiment::run::{read_record, run_in_locked_dir, run_name, run_to_dir, RunOptions};
use mlp::experiment::run_dir::RunLock;
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
    /// Continue the interrupted run in DIR with the configuration recorded there, from its last
    /// checkpoint (the result is byte-identical to an uninterrupted run).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["preset", "out"])]
    resume: Option<PathBuf>,
    #[command(flatten)]
    checkpoints: CheckpointArgs,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: TrainArgs) -> Result<()> {
    if let Some(dir) = &args.resume {
        return resume(&args, dir);
    }
    let mut cfg = TrainConfig::default();
    if let Some(p) = args.preset.as_deref().and_then(presets::find) {
        p.overrides().apply(&mut cfg);
    }
    args.knobs.apply(&mut cfg);
    let cfg = cfg.validate()?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/runs").join(run_name(&cfg)));
    let data_dir = args.common.data_dir(cfg.dataset)?;
    train_into(&args, &cfg, &out, data_dir, None)
}

fn resume(args: &TrainArgs, dir: &Path) -> Result<()> {
    if args.knobs != Overrides::default() {
        return Err(ConfigError {
            key: "--resume",
            value: dir.display().to_string(),
            reason: "continues the run with the configuration recorded there; give no knobs with it".into(),
        }
        .into());
    }
    let Some(record) = read_record(dir).map_err(anyhow::Error::msg)? else {
        bail!("{} holds no run to resume (no {})", dir.display(), mlp::experiment::run_dir::CONFIG_FILE);
    };
    // Decided under the lock: another process may be training or finishing the run.
    let lock = RunLock::acquire(dir)?;
    match read_summary(dir) {
        Ok(Some(summary)) => {
            eprintln!("mlp: {} is already finished; nothing to resume", dir.display());
            return print_summary(&summary, dir);
        }
        // A finished run's results are never retrained over without --force.
        Err(why) if !args.force => bail!(
            "{} looks finished but its {} is unreadable ({why}); nothing was changed: pass --force to train the run again",
            dir.display(),
            mlp::experiment::run_dir::SUMMARY_FILE
        ),
        _ => {}
    }
    let cfg = record.config.validate()?;
    let data_dir = match (&args.common.data_dir, record.data_dir) {
        (None, Some(recorded)) => recorded,
        _ => args.common.data_dir(cfg.dataset)?,
    };
    train_into(args, &cfg, dir, data_dir, Some(&lock))
}

/// Trains into `out`; `resume_lock` when resuming the run in `out`, already locked.
fn train_into(
    args: &TrainArgs,
    cfg: &RunConfig,
    out: &Path,
    data_dir: PathBuf,
    resume_lock: Option<&RunLock>,
) -> Result<()> {
    let resume = resume_lock.is_some();
    note_missing_validation(cfg, args.common.quiet);
    let (blas_core, threads) = (args.common.setup_blas(), args.common.threads());
    args.common.log_threads(&blas_core, threads);
    let mnist = load(&data_dir)?;
    let opts = RunOptions {
        data_dir,
        force: args.force,
        resume,
        checkpoint_every: args.checkpoints.checkpoint_every,
        quiet: args.common.quiet,
        blas_core,
        threads,
    };
    let result = match resume_lock {
        Some(lock) => run_in_locked_dir(cfg, &mnist, out, &opts, lock)?,
        None => run_to_dir(cfg, &mnist, out, &opts)?,
    };
    if resume && !args.common.quiet {
        match result.resumed_at {
            Some(step) => {
                eprintln!("mlp: resumed at step {step} from {}", out.join("checkpoint.safetensors").display())
            }
            None if result.restarted == [Staleness::Unreadable] => {
                eprintln!("mlp: the checkpoint in {} is unreadable: trained from the start (--force)", out.display())
            }
            None if !result.restarted.is_empty() => eprintln!(
                "mlp: the checkpoint in {} was made with other {}: trained from the start (--force)",
                out.display(),
                mlp::experiment::fingerprint::describe(&result.restarted)
            ),
            None => eprintln!("mlp: no checkpoint of this run in {}: trained from the start", out.display()),
        }
    }
    print_summary(&result.summary, out)
}

fn print_summary(s: &Summary, out: &Path) -> Result<()> {
    let stop = s.stop_epoch.map_or("never (ran all epochs)".to_string(), |e| format!("epoch {e}"));
    say!("early stop:  {stop}, {} steps", s.steps);
    if let (Some(step), Some(loss)) = (s.best_step, s.best_val_loss) {
        say!("best check:  step {step}, val loss {loss:.6}");
    }
    say!("final train: loss {:.6}, accuracy {:.4}", s.final_train_loss, s.final_train_acc);
    match (s.final_val_loss, s.final_val_acc) {
        (Some(loss), Some(acc)) => say!("final val:   loss {loss:.6}, accuracy {acc:.4}"),
        _ => say!("final val:   none (empty validation set)"),
    }
    if let (Some(loss), Some(acc)) = (s.final_test_loss, s.final_test_acc) {
        say!("final test:  loss {loss:.6}, accuracy {acc:.4}");
    }
    say!("train time:  {:.2} s", s.train_wall_s);
    say!("written to:  {}", out.display());
    Ok(())
}
