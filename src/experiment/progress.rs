//! Progress on stderr: a bar of steps around any [`RunSink`], and a bar of finished runs for
//! sweeps; indicatif hides them when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::executor::RunStatus;
use super::fingerprint::describe;
use super::sweep_file::RunSpec;
use crate::error::TrainError;
use crate::train::diagnostics::LayerRow;
use crate::train::log::{CheckRow, RunSink, StepRow};

/// Steps between bar updates (keeps the bar off the hot path).
const TICK: usize = 64;

pub struct WithProgress<'a> {
    inner: &'a mut dyn RunSink,
    bar: ProgressBar,
}

impl<'a> WithProgress<'a> {
    /// A bar of `total_steps` starting at `done`, hidden when `quiet`.
    pub fn new(inner: &'a mut dyn RunSink, total_steps: usize, done: usize, quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(total_steps as u64), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed_precise} {msg}")
                .expect("static template is valid"),
        );
        bar.set_position(done as u64);
        Self { inner, bar }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl RunSink for WithProgress<'_> {
    fn step(&mut self, row: &StepRow) -> Result<(), TrainError> {
        if row.step.is_multiple_of(TICK) {
            self.bar.set_position(row.step as u64);
        }
        self.inner.step(row)
    }

    fn check(&mut self, row: &CheckRow) -> Result<(), TrainError> {
        self.bar.set_message(format!(
            "epoch {} val loss {:.4} val acc {:.4} train acc {:.4}",
            row.epoch, row.val_loss, row.val_acc, row.train_acc
        ));
        self.inner.check(row)
    }

    fn layers(&mut self, rows: &[LayerRow]) -> Result<(), TrainError> {
        self.inner.layers(rows)
    }

    fn checkpoint(&mut self, bytes: &dyn Fn() -> Vec<u8>) -> Result<(), TrainError> {
        self.inner.checkpoint(bytes)
    }
}

/// A bar of finished runs on stderr and one line per finished run (hidden when `quiet`).
pub struct RunsProgress {
    bar: ProgressBar,
    quiet: bool,
}

impl RunsProgress {
    pub fn new(runs: usize, quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(runs as u64), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} runs {elapsed_precise}").expect("static template"),
        );
        Self { bar, quiet }
    }

    /// Counts a finished run and prints its line.
    pub fn done(&self, r: &RunSpec, status: &RunStatus) {
        self.bar.inc(1);
        if self.quiet {
            return;
        }
        let line = match status {
            RunStatus::Done { result, replaced } => {
                let s = &result.summary;
                let val = match (s.final_val_loss, s.final_val_acc) {
                    (Some(l), Some(a)) => format!("val loss {l:.4}, val acc {a:.4}"),
                    _ => "no validation set".into(),
                };
                let stop = s.stop_epoch.map_or("-".into(), |e| e.to_string());
                let mut line = format!("done    {}: stop epoch {stop}, {val}, {:.1} s", r.id, s.train_wall_s);
                if let Some(step) = result.resumed_at {
                    line += &format!(" (resumed at step {step})");
                }
                if !result.restarted.is_empty() {
                    line +=
                        &format!(" (started over: its checkpoint was made with other {})", describe(&result.restarted));
                }
                if !replaced.is_empty() {
                    line += &format!(" (replaced a stale result: {} changed)", describe(replaced));
                }
                line
            }
            RunStatus::Skipped(_) => format!("skipped {}: already finished", r.id),
            RunStatus::Stale { why, .. } => {
                format!("stale   {}: {} changed since it ran; kept (--stale rerun runs it again)", r.id, describe(why))
            }
            RunStatus::Busy(pid) => format!("busy    {}: in progress elsewhere (process {pid}); left to it", r.id),
            RunStatus::Failed(e) => format!("FAILED  {}: {e}", r.id),
        };
        self.bar.suspend(|| eprintln!("{line}"));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
