//! The random stream of a run: weight init draws and one shuffle of the training indices per
//! epoch, and nothing else (the reference's draw order).

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::config::RngKind;

mod numpy;
pub use numpy::NumpyRng;

/// What training draws from its random stream.
pub trait RunRng: Send {
    /// Fills `out` (row-major) with uniform(lo, hi) draws.
    fn fill_uniform(&mut self, out: &mut [f64], lo: f64, hi: f64);
    /// Fills `out` (row-major) with normal(0, std) draws.
    fn fill_normal(&mut self, out: &mut [f64], std: f64);
    /// Shuffles `indices` in place.
    fn shuffle(&mut self, indices: &mut [u32]);
}

/// xoshiro256++ through the rand crate's samplers.
pub struct XoshiroRng(Xoshiro256PlusPlus);

impl XoshiroRng {
    pub fn new(seed: u64) -> Self {
        Self(Xoshiro256PlusPlus::seed_from_u64(seed))
    }
}

impl RunRng for XoshiroRng {
    fn fill_uniform(&mut self, out: &mut [f64], lo: f64, hi: f64) {
        out.iter_mut().for_each(|v| *v = self.0.random_range(lo..hi));
    }

    fn fill_normal(&mut self, out: &mut [f64], std: f64) {
        out.iter_mut().for_each(|v| *v = std * self.0.sample::<f64, _>(StandardNormal));
    }

    fn shuffle(&mut self, indices: &mut [u32]) {
        indices.shuffle(&mut self.0);
    }
}

/// The stream a run uses, freshly seeded.
pub fn make_rng(kind: RngKind, seed: u64) -> Box<dyn RunRng> {
    match kind {
        RngKind::Xoshiro => Box::new(XoshiroRng::new(seed)),
        // numpy seeds are 32-bit; larger seeds are rejected by config validation.
        RngKind::Numpy => Box::new(NumpyRng::new(seed as u32)),
    }
}
