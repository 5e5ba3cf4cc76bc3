//! A progress bar on stderr around any [`RunSink`]; indicatif hides it when stderr is not a
//! terminal.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::TrainError;
use crate::output::{CheckRow, RunSink, StepRow};

/// Steps between bar updates (keeps the bar off the hot path).
const TICK: usize = 64;

pub struct WithProgress<'a> {
    inner: &'a mut dyn RunSink,
    bar: ProgressBar,
}

impl<'a> WithProgress<'a> {
    /// A bar of `total_steps`, hidden when `quiet`.
    pub fn new(inner: &'a mut dyn RunSink, total_steps: usize, quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(Some(total_steps as u64), target);
        bar.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} steps {elapsed_precise} {msg}")
                .expect("static template is valid"),
        );
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
}
