//! Training: the loop ([`train`]) with its reshuffles, validation checks and early stopping as the
//! 2021 reference does them; one step ([`stepper`]); the optimiser that owns the update
//! ([`optimizer`]); the stopping rule ([`early_stop`]); and what a run reports ([`log`]).

pub mod early_stop;
pub mod log;
pub mod optimizer;
pub mod stepper;

use std::time::Instant;

use crate::config::{RunConfig, TrainConfig};
use crate::data::Splits;
use crate::error::TrainError;
use crate::nn::{Mlp, Plan};
use crate::rng::make_rng;
use early_stop::{EarlyStopping, Verdict};
use kernels::Element;
use log::{CheckRow, RunSink, StepRow, Summary};
use stepper::Stepper;

/// The execution plan of `cfg` for inputs of `inputs` values (the bias column included).
pub fn plan(cfg: &TrainConfig, inputs: usize) -> Plan {
    Plan::resolve(cfg.kernels, cfg.first_layer, cfg.precision, &cfg.layer_sizes(inputs), cfg.momentum > 0.0)
}

/// A fresh model of `cfg`, its weights drawn from `rng`.
pub fn init_model<T: Element>(cfg: &TrainConfig, inputs: usize, rng: &mut dyn crate::rng::RunRng) -> Mlp<T> {
    Mlp::init(&cfg.layer_sizes(inputs), cfg.activation.into(), cfg.init, plan(cfg, inputs), rng)
}

/// What a finished run returns.
pub struct Outcome<T> {
    pub summary: Summary,
    pub model: Mlp<T>,
}

/// Trains one model on `splits` as `cfg` says, streaming rows to `sink`. `T` must be the
/// configured precision.
pub fn train<T: Element>(
    cfg: &RunConfig,
    splits: &Splits<T>,
    sink: &mut dyn RunSink,
) -> Result<Outcome<T>, TrainError> {
    assert_eq!(T::NAME, crate::config::precision_name(cfg.precision), "train::<T> with T the configured precision");
    let (train, val) = (&splits.train, &splits.val);
    let mut rng = make_rng(cfg.rng, cfg.seed);
    let mut model = init_model::<T>(cfg, train.dim(), rng.as_mut());
    let mut stepper = Stepper::new(&model, cfg.batch_size, cfg.lr, cfg.momentum);
    let mut indices: Vec<u32> = (0..train.len() as u32).collect();
    let mut stopper = EarlyStopping::new(cfg.patience);
    let mut best_weights = cfg.restore_best.then(|| model.weights.clone());
    let (steps_per_epoch, steps_per_check) = (cfg.steps_per_epoch(), cfg.steps_per_check());

    let start = Instant::now();
    let (mut step, mut stop_epoch) = (0usize, None);
    'epochs: for epoch in 0..cfg.epochs {
        // A fresh 0..N every epoch, then shuffled, as the reference's `list(range(N))`.
        indices.iter_mut().enumerate().for_each(|(i, v)| *v = i as u32);
        rng.shuffle(&mut indices);
        let mut batches = indices.chunks_exact(cfg.batch_size).take(steps_per_epoch).peekable();
        while let Some(batch) = batches.next() {
            if let Some(next) = batches.peek() {
                stepper.prefetch(&model, train, next);
            }
            let train_loss = stepper.step(&mut model, train, batch);
            if !train_loss.is_finite() {
                return Err(TrainError::Diverged { what: "the training loss", value: train_loss, step, epoch });
            }
            sink.step(&StepRow { step, epoch, train_loss })?;
            let check_now = cfg.validation && step % steps_per_check == 0;
            step += 1;
            if !check_now {
                continue;
            }
            let v = model.evaluate(val).expect("validation runs on a non-empty set");
            if !v.loss.is_finite() {
                return Err(TrainError::Diverged { what: "the validation loss", value: v.loss, step: step - 1, epoch });
            }
            let t = model.evaluate(train).expect("the training set holds a batch");
            sink.check(&CheckRow {
                step: step - 1,
                epoch,
                val_loss: v.loss,
                val_acc: v.accuracy,
                train_acc: t.accuracy,
                elapsed_s: start.elapsed().as_secs_f64(),
                train_full_loss: t.loss,
            })?;
            match stopper.observe(step - 1, v.loss) {
                Verdict::Improved => {
                    if let Some(best) = best_weights.as_mut() {
                        best.iter_mut().zip(&model.weights).for_each(|(b, w)| b.copy_from_slice(w));
                    }
                }
                Verdict::Stop if cfg.early_stopping => {
                    stop_epoch = Some(epoch);
                    break 'epochs;
                }
                _ => {}
            }
        }
    }
    let train_wall_s = start.elapsed().as_secs_f64();

    let restored_best = match best_weights {
        Some(best) if stopper.best().is_some() => {
            model.weights = best;
            true
        }
        _ => false,
    };
    let t = model.evaluate(train).expect("the training set holds a batch");
    let v = model.evaluate(val);
    let best = stopper.best();
    let summary = Summary {
        stop_epoch,
        steps: step,
        best_step: best.map(|b| b.0),
        best_val_loss: best.map(|b| b.1),
        final_train_loss: t.loss,
        final_train_acc: t.accuracy,
        final_val_loss: v.map(|v| v.loss),
        final_val_acc: v.map(|v| v.accuracy),
        train_wall_s,
        restored_best,
    };
    Ok(Outcome { summary, model })
}
