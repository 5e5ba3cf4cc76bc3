//! What training reports as it goes: one row per step, one per validation check, and the summary
//! of a finished run, delivered to a [`RunSink`].

use serde::{Deserialize, Serialize};

use super::diagnostics::LayerRow;
use crate::error::TrainError;

/// The header of `steps.csv`: [`StepRow`]'s fields.
pub const STEP_COLUMNS: &[&str] = &["step", "epoch", "train_loss", "lr"];
/// The header of `checks.csv`: [`CheckRow`]'s fields.
pub const CHECK_COLUMNS: &[&str] =
    &["step", "epoch", "val_loss", "val_acc", "train_acc", "elapsed_s", "train_full_loss"];

/// One row of `steps.csv`: the batch loss of every training step (before that step's update).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StepRow {
    pub step: usize,
    pub epoch: usize,
    pub train_loss: f64,
    /// The learning rate of this step's update (the schedule's lr_t).
    pub lr: f64,
}

/// One row of `checks.csv`: a validation check on the full sets right after `step`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CheckRow {
    pub step: usize,
    pub epoch: usize,
    pub val_loss: f64,
    pub val_acc: f64,
    pub train_acc: f64,
    /// Seconds since training started (the only column that differs between identical runs).
    pub elapsed_s: f64,
    /// Cross entropy on the full training set (free with the accuracy pass).
    pub train_full_loss: f64,
}

/// `summary.json`: the outcome of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// 0-based epoch in which early stopping fired; null when it never did.
    pub stop_epoch: Option<usize>,
    /// Training steps executed.
    pub steps: usize,
    /// Step of the check with the lowest validation loss.
    pub best_step: Option<usize>,
    pub best_val_loss: Option<f64>,
    pub final_train_loss: f64,
    pub final_train_acc: f64,
    /// Null when the validation set is empty.
    pub final_val_loss: Option<f64>,
    pub final_val_acc: Option<f64>,
    /// Wall time of the training loop (checks included, data loading excluded).
    pub train_wall_s: f64,
    /// Whether the final metrics use the restored best weights.
    pub restored_best: bool,
    /// The test set, evaluated once at the end when validation came from the training file
    /// (`val_from_train`); null otherwise.
    #[serde(default)]
    pub final_test_loss: Option<f64>,
    #[serde(default)]
    pub final_test_acc: Option<f64>,
    /// Threads the run trained on (information: no result depends on it); 0 in runs written
    /// before it was recorded.
    #[serde(default)]
    pub threads: usize,
}

/// Receives the rows of a run as training produces them.
pub trait RunSink {
    fn step(&mut self, row: &StepRow) -> Result<(), TrainError>;
    fn check(&mut self, row: &CheckRow) -> Result<(), TrainError>;
    /// The diagnostics rows of the check just reported (runs with `diagnostics` only).
    fn layers(&mut self, _rows: &[LayerRow]) -> Result<(), TrainError> {
        Ok(())
    }
    /// Offered after every validation check: `bytes` makes the checkpoint file. Sinks that keep no
    /// checkpoints ignore it.
    fn checkpoint(&mut self, _bytes: &dyn Fn() -> Vec<u8>) -> Result<(), TrainError> {
        Ok(())
    }
}

/// A sink that drops everything (benchmarks, gradient checks).
pub struct NullSink;

impl RunSink for NullSink {
    fn step(&mut self, _: &StepRow) -> Result<(), TrainError> {
        Ok(())
    }
    fn check(&mut self, _: &CheckRow) -> Result<(), TrainError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys<S: Serialize>(row: &S) -> Vec<String> {
        serde_json::to_value(row).unwrap().as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn headers_are_the_row_fields() {
        assert_eq!(keys(&StepRow { step: 0, epoch: 0, train_loss: 0.0, lr: 0.0 }), STEP_COLUMNS);
        let check = CheckRow {
            step: 0,
            epoch: 0,
            val_loss: 0.0,
            val_acc: 0.0,
            train_acc: 0.0,
            elapsed_s: 0.0,
            train_full_loss: 0.0,
        };
        assert_eq!(keys(&check), CHECK_COLUMNS);
    }
}
