//! The random stream of a run: weight init draws and one shuffle of the training indices per
//! epoch, and nothing else (the reference's draw order). xoshiro256++ by default ([`xoshiro`]), or
//! numpy's legacy stream replayed bit for bit ([`numpy`]).

mod numpy;
mod stream;
mod xoshiro;

use crate::config::RngKind;
pub use numpy::NumpyRng;
pub use stream::{RngState, RunRng};
pub use xoshiro::XoshiroRng;

/// The stream a run uses, freshly seeded.
pub fn make_rng(kind: RngKind, seed: u64) -> Box<dyn RunRng> {
    match kind {
        RngKind::Xoshiro => Box::new(XoshiroRng::new(seed)),
        // numpy seeds are 32-bit; larger seeds are rejected by config validation.
        RngKind::Numpy => Box::new(NumpyRng::new(seed as u32)),
    }
}

/// The stream in a saved state.
pub fn restore_rng(state: &RngState) -> Box<dyn RunRng> {
    match *state {
        RngState::Xoshiro { s } => Box::new(XoshiroRng::restored(s)),
        RngState::Numpy { seed, draws, gauss } => Box::new(NumpyRng::restored(seed, draws, gauss)),
    }
}
