//! The learning rate of every step: a linear warm-up, then constant, cosine or step decay, in the
//! closed forms of PyTorch's schedulers (`LinearLR`-style warm-up from lr/W, `CosineAnnealingLR`
//! with `eta_min`, `StepLR`).

use std::f64::consts::PI;

use crate::config::{LrSchedule, TrainConfig};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    lr: f64,
    kind: LrSchedule,
    warmup: usize,
    lr_min: f64,
    decay_epochs: usize,
    decay: f64,
    /// T: the epoch bound's steps (not where early stopping ends).
    total_steps: usize,
    steps_per_epoch: usize,
}

impl Schedule {
    pub fn new(cfg: &TrainConfig) -> Self {
        Self {
            lr: cfg.lr,
            kind: cfg.lr_schedule,
            warmup: cfg.warmup_steps,
            lr_min: cfg.lr_min,
            decay_epochs: cfg.lr_decay_epochs,
            decay: cfg.lr_decay,
            total_steps: cfg.epochs * cfg.steps_per_epoch(),
            steps_per_epoch: cfg.steps_per_epoch(),
        }
    }

    /// lr_t for step t (from 0): lr (t + 1) / W during the warm-up, then
    /// constant: lr; cosine: lr_min + (lr - lr_min)(1 + cos(pi (t - W) / (T - W))) / 2;
    /// step: lr G^floor(epoch / N), the epoch counted from 0.
    pub fn lr_at(&self, t: usize) -> f64 {
        if t < self.warmup {
            return self.lr * (t + 1) as f64 / self.warmup as f64;
        }
        match self.kind {
            LrSchedule::Constant => self.lr,
            LrSchedule::Cosine => {
                // t < T for every step a run takes, so T - W > 0 here.
                let progress = (t - self.warmup) as f64 / (self.total_steps - self.warmup) as f64;
                self.lr_min + (self.lr - self.lr_min) * (1.0 + (PI * progress).cos()) / 2.0
            }
            LrSchedule::Step => {
                let decays = (t / self.steps_per_epoch) / self.decay_epochs;
                self.lr * self.decay.powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: LrSchedule, warmup: usize) -> TrainConfig {
        // 10 steps an epoch, 4 epochs: T = 40.
        TrainConfig {
            lr: 0.1,
            lr_schedule: kind,
            warmup_steps: warmup,
            lr_min: 0.01,
            lr_decay_epochs: 2,
            lr_decay: 0.5,
            epochs: 4,
            train_size: 100,
            batch_size: 10,
            ..TrainConfig::default()
        }
    }

    #[test]
    fn constant_without_warmup_is_the_configured_lr_exactly() {
        let s = Schedule::new(&cfg(LrSchedule::Constant, 0));
        assert!((0..40).all(|t| s.lr_at(t) == 0.1));
    }

    #[test]
    fn warmup_climbs_linearly_to_lr() {
        let s = Schedule::new(&cfg(LrSchedule::Constant, 4));
        let lrs: Vec<f64> = (0..6).map(|t| s.lr_at(t)).collect();
        assert_eq!(lrs, [0.025, 0.05, 0.1 * 3.0 / 4.0, 0.1, 0.1, 0.1]);
    }

    #[test]
    fn cosine_starts_at_lr_passes_the_midpoint_and_ends_near_lr_min() {
        let s = Schedule::new(&cfg(LrSchedule::Cosine, 10));
        assert_eq!(s.lr_at(10), 0.1);
        // Halfway through the 30 cosine steps: (lr + lr_min) / 2.
        assert!((s.lr_at(25) - 0.055).abs() < 1e-15);
        let last = s.lr_at(39);
        let want = 0.01 + 0.09 * (1.0 + (PI * 29.0 / 30.0).cos()) / 2.0;
        assert!((last - want).abs() < 1e-16 && last > 0.01);
        assert!((10..39).all(|t| s.lr_at(t + 1) < s.lr_at(t)), "decreasing");
    }

    #[test]
    fn step_decays_every_n_epochs() {
        let s = Schedule::new(&cfg(LrSchedule::Step, 0));
        let by_epoch: Vec<f64> = (0..4).map(|e| s.lr_at(e * 10 + 3)).collect();
        assert_eq!(by_epoch, [0.1, 0.1, 0.05, 0.05]);
        assert_eq!(s.lr_at(19), 0.1);
        assert_eq!(s.lr_at(20), 0.05);
    }
}
