//! Inverted dropout's masks: drawn before each training step from a random stream of their own
//! (the seed's xoshiro stream jumped ahead), so turning dropout on moves neither the initial
//! weights nor the batch order. Masks are drawn on one thread in a fixed order: they do not
//! depend on the thread count.

use crate::rng::{RngState, RunRng, XoshiroRng};
use kernels::Element;

pub struct Dropout {
    /// 1 - p: the probability that a unit is kept.
    keep: f64,
    rng: XoshiroRng,
}

impl Dropout {
    /// The masks of a run with drop probability `p` > 0 and seed `seed`.
    pub fn new(p: f64, seed: u64) -> Self {
        Self { keep: 1.0 - p, rng: XoshiroRng::substream(seed) }
    }

    /// The same stream in a saved state (a checkpoint's).
    pub fn restored(p: f64, state: &RngState) -> Result<Self, String> {
        match *state {
            RngState::Xoshiro { s } => Ok(Self { keep: 1.0 - p, rng: XoshiroRng::restored(s) }),
            RngState::Numpy { .. } => Err("the dropout stream's state is not xoshiro's".into()),
        }
    }

    pub fn state(&self) -> RngState {
        self.rng.state()
    }

    /// Fills every mask (one per hidden layer, (B, OC) row-major, in layer order): 1/(1 - p) for a
    /// kept unit, 0 for a dropped one; a unit is kept when its uniform draw u satisfies u < 1 - p
    /// (`torch.bernoulli(1 - p)`).
    pub fn fill<T: Element>(&mut self, masks: &mut [Vec<T>]) {
        let scale = T::from_f64(1.0 / self.keep);
        for m in masks.iter_mut().flat_map(|m| m.iter_mut()) {
            *m = if self.rng.unit() < self.keep { scale } else { T::ZERO };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_about_one_minus_p_scaled_and_resume_exactly() {
        let mut d = Dropout::new(0.25, 3);
        let mut masks = vec![vec![0.0f64; 4000], vec![0.0f64; 1000]];
        d.fill(&mut masks);
        let kept = masks.iter().flatten().filter(|&&m| m != 0.0).count();
        assert!((kept as f64 / 5000.0 - 0.75).abs() < 0.03, "kept {kept}");
        assert!(masks.iter().flatten().all(|&m| m == 0.0 || m == 1.0 / 0.75));
        let saved = d.state();
        let mut again = Dropout::restored(0.25, &saved).unwrap();
        let (mut a, mut b) = (vec![vec![0.0f32; 77]], vec![vec![0.0f32; 77]]);
        d.fill(&mut a);
        again.fill(&mut b);
        assert_eq!(a, b);
        // Its own stream: not the run's weight-init stream of the same seed.
        let mut main = XoshiroRng::new(3);
        let mut first = [0.0; 4];
        main.fill_uniform(&mut first, 0.0, 1.0);
        let mut sub = XoshiroRng::substream(3);
        assert!(first.iter().all(|&u| u != sub.unit()));
    }
}
