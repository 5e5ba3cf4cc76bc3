//! xoshiro256++ through the rand crate's samplers: the fast default stream.

use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::stream::{RngState, RunRng};

pub struct XoshiroRng(Xoshiro256PlusPlus);

impl XoshiroRng {
    pub fn new(seed: u64) -> Self {
        Self(Xoshiro256PlusPlus::seed_from_u64(seed))
    }

    /// The stream of `seed` jumped 2^128 draws ahead: a stream of its own for the same seed, that
    /// never overlaps the one [`XoshiroRng::new`] gives (the dropout masks').
    pub fn substream(seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        rng.jump();
        Self(rng)
    }

    /// A uniform draw in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// The generator whose state words are `s` (from [`RunRng::state`]).
    pub fn restored(s: [u64; 4]) -> Self {
        let bytes: Vec<u8> = s.iter().flat_map(|w| w.to_le_bytes()).collect();
        Self(Xoshiro256PlusPlus::from_seed(bytes.try_into().expect("32 bytes")))
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

    fn state(&self) -> RngState {
        let json = serde_json::to_value(&self.0).expect("plain data");
        RngState::Xoshiro { s: serde_json::from_value(json["s"].clone()).expect("xoshiro256++ has four state words") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_stream_continues_where_the_saved_one_was() {
        let mut a = XoshiroRng::new(7);
        let mut v: Vec<u32> = (0..50).collect();
        a.shuffle(&mut v);
        let RngState::Xoshiro { s } = a.state() else { panic!("xoshiro state") };
        let mut b = XoshiroRng::restored(s);
        let (mut x, mut y) = ([0.0; 5], [0.0; 5]);
        a.fill_normal(&mut x, 1.0);
        b.fill_normal(&mut y, 1.0);
        assert_eq!(x, y);
    }
}
