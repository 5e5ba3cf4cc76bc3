//! What training draws from its random stream, and the stream's saved state.

use serde::{Deserialize, Serialize};

/// What training draws from its random stream.
pub trait RunRng: Send {
    /// Fills `out` (row-major) with uniform(lo, hi) draws.
    fn fill_uniform(&mut self, out: &mut [f64], lo: f64, hi: f64);
    /// Fills `out` (row-major) with normal(0, std) draws.
    fn fill_normal(&mut self, out: &mut [f64], std: f64);
    /// Shuffles `indices` in place.
    fn shuffle(&mut self, indices: &mut [u32]);
    /// Everything needed to continue the stream exactly where it is (checkpoints).
    fn state(&self) -> RngState;
}

/// A stream's state, as a checkpoint stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RngState {
    /// xoshiro256++'s four state words.
    Xoshiro { s: [u64; 4] },
    /// numpy's MT19937 as (seed, 32-bit outputs drawn since seeding) and the cached gauss value.
    Numpy { seed: u32, draws: u64, gauss: Option<f64> },
}
