//! Training: the loop ([`train`]) with its reshuffles, validation checks and early stopping as the
//! 2021 reference does them; one step ([`stepper`]); the optimiser that owns the update
//! ([`optimizer`]); the stopping rule ([`early_stop`]); and what a run reports ([`log`]).

pub mod checkpoint;
pub mod diagnostics;
pub mod dropout;
pub mod early_stop;
pub mod log;
pub mod optimizer;
pub mod schedule;
pub mod stepper;

use std::time::Instant;

use crate::config::{RunConfig, TrainConfig};
use crate::data::Splits;
use crate::error::TrainError;
use crate::nn::{Mlp, Plan};
use crate::rng::{make_rng, restore_rng};
use checkpoint::{Checkpoint, CheckpointMeta};
use diagnostics::Diagnostics;
use early_stop::{EarlyStopping, Verdict};
use kernels::Element;
use log::{CheckRow, RunSink, StepRow, Summary};
use stepper::Stepper;

/// A fresh model of `cfg`, its weights drawn from `rng`.
pub fn init_model<T: Element>(cfg: &TrainConfig, inputs: usize, rng: &mut dyn crate::rng::RunRng) -> Mlp<T> {
    Mlp::init(&cfg.layer_sizes(inputs), cfg.activation.into(), cfg.init, cfg.bias, Plan::for_config(cfg, inputs), rng)
}

/// What a finished run returns.
pub struct Outcome<T> {
    pub summary: Summary,
    /// The network with the weights the final metrics were computed with.
    pub model: Mlp<T>,
    /// The best check's weights, when there was a check.
    pub best: Option<Vec<Vec<T>>>,
}

/// Trains one model on `splits` as `cfg` says, streaming rows and checkpoints to `sink`; from
/// `resume` when given (a checkpoint of this very run), from fresh weights otherwise. `T` must be
/// the configured precision.
pub fn train<T: Element>(
    cfg: &RunConfig,
    splits: &Splits<T>,
    sink: &mut dyn RunSink,
    resume: Option<Checkpoint<T>>,
) -> Result<Outcome<T>, TrainError> {
    assert_eq!(T::NAME, crate::config::precision_name(cfg.precision), "train::<T> with T the configured precision");
    let (train, val) = (&splits.train, &splits.val);
    let mut rng = make_rng(cfg.rng, cfg.seed);
    let mut model = init_model::<T>(cfg, train.dim(), rng.as_mut());
    let mut stepper = Stepper::new(&model, cfg);
    let mut indices: Vec<u32> = (0..train.len() as u32).collect();
    let mut stopper = EarlyStopping::new(cfg.patience);
    let mut best: Option<Vec<Vec<T>>> = None;
    let (steps_per_epoch, steps_per_check) = (cfg.steps_per_epoch(), cfg.steps_per_check());
    // Checks need a validation set; without one the final validation metrics are null.
    let validate = cfg.validation && !val.is_empty();

    let (mut step, mut checks, mut first_epoch, mut elapsed_before) = (0usize, 0usize, 0usize, 0.0);
    if let Some(ck) = resume {
        assert_eq!(ck.indices.len(), indices.len(), "a checkpoint of this run");
        model.weights = ck.weights;
        stepper.opt.restore(ck.optimizer);
        if let Some(d) = stepper.dropout.as_mut() {
            let state = ck.meta.dropout_rng.as_ref().expect("a checked checkpoint of a run with dropout");
            *d = dropout::Dropout::restored(cfg.dropout, state).expect("a checked checkpoint's dropout stream");
        }
        best = ck.best;
        indices = ck.indices;
        rng = restore_rng(&ck.meta.rng);
        stopper = EarlyStopping::restored(cfg.patience, &ck.meta.stopper);
        (step, checks, first_epoch, elapsed_before) = (ck.meta.steps, ck.meta.checks, ck.meta.epoch, ck.meta.elapsed_s);
    }
    let resumed_at = step;
    let mut diagnostics = (cfg.diagnostics && validate).then(|| Diagnostics::new(&model, val));

    let start = Instant::now();
    let elapsed = |start: &Instant| elapsed_before + start.elapsed().as_secs_f64();
    let mut stop_epoch = None;
    'epochs: for epoch in first_epoch..cfg.epochs {
        // Within the epoch a checkpoint was taken in, its order and the steps done stand.
        let done =
            if step > epoch * steps_per_epoch && step == resumed_at { step - epoch * steps_per_epoch } else { 0 };
        if done == 0 {
            // A fresh 0..N every epoch, then shuffled, as the reference's `list(range(N))`.
            indices.iter_mut().enumerate().for_each(|(i, v)| *v = i as u32);
            rng.shuffle(&mut indices);
        }
        let mut batches = indices.chunks_exact(cfg.batch_size).take(steps_per_epoch).skip(done).peekable();
        while let Some(batch) = batches.next() {
            if let Some(next) = batches.peek() {
                stepper.prefetch(&model, train, next);
            }
            let lr = stepper.schedule.lr_at(step);
            let train_loss = stepper.step(&mut model, train, batch, lr);
            if !train_loss.is_finite() {
                return Err(TrainError::Diverged { what: "the training loss", value: train_loss, step, epoch });
            }
            sink.step(&StepRow { step, epoch, train_loss, lr })?;
            if let Some(d) = diagnostics.as_mut() {
                d.after_step(&model, &stepper, train);
            }
            let check_now = validate && step % steps_per_check == 0;
            step += 1;
            if !check_now {
                continue;
            }
            let v = model.evaluate(val).expect("validation runs on a non-empty set");
            let t = model.evaluate(train).expect("the training set holds a batch");
            let row = CheckRow {
                step: step - 1,
                epoch,
                val_loss: v.loss,
                val_acc: v.accuracy,
                train_acc: t.accuracy,
                elapsed_s: elapsed(&start),
                train_full_loss: t.loss,
            };
            // The check is logged even when it is the one that shows divergence.
            sink.check(&row)?;
            if let Some(d) = diagnostics.as_mut() {
                sink.layers(&d.check(&model, val, step - 1, epoch))?;
            }
            checks += 1;
            for (what, value) in [("the validation loss", v.loss), ("the training-set loss", t.loss)] {
                if !value.is_finite() {
                    return Err(TrainError::Diverged { what, value, step: step - 1, epoch });
                }
            }
            match stopper.observe(step - 1, v.loss) {
                Verdict::Improved => match best.as_mut() {
                    Some(b) => b.iter_mut().zip(&model.weights).for_each(|(b, w)| b.copy_from_slice(w)),
                    None => best = Some(model.weights.clone()),
                },
                Verdict::Stop if cfg.early_stopping => {
                    stop_epoch = Some(epoch);
                    break 'epochs;
                }
                _ => {}
            }
            let meta = CheckpointMeta {
                steps: step,
                checks,
                epoch,
                rng: rng.state(),
                stopper: stopper.state(),
                elapsed_s: elapsed(&start),
                precision: T::NAME.to_string(),
                optimizer_steps: stepper.opt.state().steps,
                dropout_rng: stepper.dropout.as_ref().map(|d| d.state()),
            };
            let (opt, best) = (&stepper.opt, best.as_deref());
            sink.checkpoint(&|| checkpoint::to_bytes(&model, opt.state(), best, &indices, &meta))?;
        }
    }
    let train_wall_s = elapsed(&start);

    let restored_best = match &best {
        Some(b) if cfg.restore_best => {
            model.weights = b.clone();
            true
        }
        _ => false,
    };
    let t = model.evaluate(train).expect("the training set holds a batch");
    let v = model.evaluate(val);
    let test = splits.test.as_ref().and_then(|test| model.evaluate(test));
    let best_check = stopper.best();
    let summary = Summary {
        stop_epoch,
        steps: step,
        best_step: best_check.map(|b| b.0),
        best_val_loss: best_check.map(|b| b.1),
        final_train_loss: t.loss,
        final_train_acc: t.accuracy,
        final_val_loss: v.map(|v| v.loss),
        final_val_acc: v.map(|v| v.accuracy),
        train_wall_s,
        restored_best,
        final_test_loss: test.map(|m| m.loss),
        final_test_acc: test.map(|m| m.accuracy),
        threads: rayon::current_num_threads(),
    };
    Ok(Outcome { summary, model, best })
}
