//! The 2021 early-stopping rule: stop once the validation loss has not strictly improved on its
//! lowest value for `patience` consecutive checks.

/// What one validation check means for training.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// A new lowest validation loss.
    Improved,
    /// No strict improvement, patience not yet exhausted.
    Wait,
    /// `patience` checks in a row without strict improvement.
    Stop,
}

/// What a checkpoint keeps of an [`EarlyStopping`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StopperState {
    pub since_lowest: usize,
    /// (step, validation loss) of the best check so far.
    pub best: Option<(usize, f64)>,
}

#[derive(Debug, Clone)]
pub struct EarlyStopping {
    patience: usize,
    lowest: f64,
    since_lowest: usize,
    best_step: Option<usize>,
}

impl EarlyStopping {
    pub fn new(patience: usize) -> Self {
        Self { patience, lowest: f64::INFINITY, since_lowest: 0, best_step: None }
    }

    /// Records the validation loss of the check made after `step`.
    pub fn observe(&mut self, step: usize, val_loss: f64) -> Verdict {
        if val_loss < self.lowest {
            self.lowest = val_loss;
            self.since_lowest = 0;
            self.best_step = Some(step);
            return Verdict::Improved;
        }
        self.since_lowest += 1;
        if self.since_lowest >= self.patience {
            Verdict::Stop
        } else {
            Verdict::Wait
        }
    }

    /// (step, validation loss) of the best check so far.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best_step.map(|s| (s, self.lowest))
    }

    pub fn state(&self) -> StopperState {
        StopperState { since_lowest: self.since_lowest, best: self.best() }
    }

    /// The rule with `patience` in the state `state()` described.
    pub fn restored(patience: usize, state: &StopperState) -> Self {
        let (best_step, lowest) = match state.best {
            Some((step, loss)) => (Some(step), loss),
            None => (None, f64::INFINITY),
        };
        Self { patience, lowest, since_lowest: state.since_lowest, best_step }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a synthetic validation-loss sequence with 5 checks per epoch; returns the check
    /// index and the 0-based epoch at which training stops.
    fn run(losses: &[f64], patience: usize) -> Option<(usize, usize)> {
        let mut es = EarlyStopping::new(patience);
        losses
            .iter()
            .enumerate()
            .find_map(|(check, &l)| (es.observe(check, l) == Verdict::Stop).then_some((check, check / 5)))
    }

    #[test]
    fn stops_fifty_checks_after_last_strict_improvement() {
        // Improves until check 187 (the basic model's case), then plateaus with equal and larger
        // values: equality is not an improvement.
        let mut losses: Vec<f64> = (0..188).map(|c| 1.0 - c as f64 * 1e-3).collect();
        let lowest = *losses.last().unwrap();
        losses.extend((0..100).map(|i| if i % 2 == 0 { lowest } else { lowest + 0.1 }));
        assert_eq!(run(&losses, 50), Some((237, 47)));
    }

    #[test]
    fn an_improvement_resets_the_counter() {
        let with = |ninth: f64| {
            let mut losses = vec![0.5];
            losses.extend([1.0; 8]);
            losses.push(ninth);
            losses.extend([0.9; 20]);
            losses
        };
        assert_eq!(run(&with(0.6), 10), Some((10, 2)));
        assert_eq!(run(&with(0.4), 10), Some((19, 3)));
        assert_eq!(run(&with(0.4)[..19], 10), None);
    }

    #[test]
    fn best_is_the_last_strict_minimum() {
        let mut es = EarlyStopping::new(3);
        for (step, l) in [(0, 2.0), (125, 1.0), (250, 1.0), (375, 1.5)] {
            es.observe(step, l);
        }
        assert_eq!(es.best(), Some((125, 1.0)));
        assert_eq!(es.observe(500, 1.2), Verdict::Stop);
    }

    #[test]
    fn nan_never_counts_as_improvement() {
        let mut es = EarlyStopping::new(2);
        assert_eq!(es.observe(0, f64::NAN), Verdict::Wait);
        assert_eq!(es.best(), None);
    }
}
