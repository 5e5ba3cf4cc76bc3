//! numpy's legacy global random stream (`np.random.seed` + `uniform` / `normal` / `shuffle`),
//! bit for bit.
//!
//! The 2021 reference seeds numpy's global `RandomState` once per run (`np.random.seed(1)`),
//! draws the layer weights with `np.random.uniform(-1, 1, shape)` or
//! `np.random.normal(0, 1/sqrt(fan_in), shape)` in layer order, and then shuffles a python list
//! of training indices with `np.random.shuffle` once per epoch. [`NumpyRng`] replays exactly
//! that stream, so a run can start from the very same weights and visit the samples in the very
//! same order as the reference. `RandomState`'s stream is frozen by numpy's compatibility
//! policy, so one implementation fits every numpy version.
//!
//! What is replicated (from numpy's `mtrand.pyx`, `distributions.c`, `legacy-distributions.c`
//! and `mt19937.h`):
//!
//! - **Seeding.** `np.random.seed(s)` for an integer `0 <= s < 2^32` is MT19937's reference
//!   `init_genrand(s)`, and it clears the cached gauss value. The generator itself is
//!   [`rand_mt::Mt`] (the reference MT19937, seeded with `init_genrand`); only the numpy
//!   transforms below are written here.
//! - **Doubles.** `random_double = ((a >> 5) * 2^26 + (b >> 6)) / 2^53` from two consecutive
//!   32-bit outputs `a`, `b` (53 random bits, in `[0, 1)`).
//! - **`uniform(lo, hi)`** = `lo + (hi - lo) * random_double` (`range = hi - lo` is computed
//!   once, before the draws).
//! - **`normal(loc, scale)`** = `loc + scale * gauss`, where `gauss` is the legacy Marsaglia
//!   polar method: draw `x1 = 2d - 1`, `x2 = 2d - 1` until `0 < r2 = x1² + x2² < 1`, set
//!   `f = sqrt(-2 ln(r2) / r2)`, return `f * x2` and cache `f * x1` for the next call. The cache
//!   lives in the generator state, so it carries across calls (and across arrays): after an
//!   odd-sized `normal` the next `normal` starts with the cached value. Reseeding drops it.
//! - **`shuffle(x)`** (the same for a 1-d python list and a 1-d array): for `i` from `n - 1`
//!   down to `1`, `j = random_interval(i)`, swap `x[i]` and `x[j]`. `random_interval(max)`
//!   takes `mask` = the smallest all-ones bit pattern `>= max` and redraws `next_u32() & mask`
//!   until it is `<= max`. Only when `max > 0xffff_ffff` does it switch to 64-bit draws
//!   (`(next_u32() << 32) | next_u32()`, high word first), which no realistic shuffle reaches.
//!
//! The only libm call is `ln` in the polar method. Rust's `f64::ln` calls the platform `log`,
//! the same one numpy's C code calls, so on one machine the two agree bit for bit (checked
//! against numpy by `tests/numpy_rng.rs`); on a platform whose libm `log` rounds differently a
//! normal draw could in principle differ in the last bit. Uniform draws and shuffles use exact
//! integer and floating-point operations only.

use rand_mt::Mt;

use super::stream::{RngState, RunRng};

/// `2^26`, the weight of the high 27 bits in [`NumpyRng::random_double`].
const TWO_POW_26: f64 = 67_108_864.0;
/// `2^53`, the scale of [`NumpyRng::random_double`].
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// numpy's legacy `RandomState` stream: MT19937 plus the legacy gauss cache.
#[derive(Clone, Debug)]
pub struct NumpyRng {
    mt: Mt,
    /// The second value of the last polar-method pair, not yet returned.
    gauss: Option<f64>,
    /// The seed, and the 32-bit outputs drawn since seeding: the state in a form that can be saved
    /// (MT19937 replays `draws` outputs from `seed` in well under a second for a whole run).
    seed: u32,
    draws: u64,
}

impl NumpyRng {
    /// The state after `np.random.seed(seed)`: `init_genrand(seed)`, no cached gauss value.
    pub fn new(seed: u32) -> Self {
        Self { mt: Mt::new(seed), gauss: None, seed, draws: 0 }
    }

    /// The generator in the state `state()` described.
    pub fn restored(seed: u32, draws: u64, gauss: Option<f64>) -> Self {
        let mut rng = Self::new(seed);
        for _ in 0..draws {
            rng.next_u32();
        }
        rng.gauss = gauss;
        rng
    }

    /// One raw 32-bit MT19937 output (numpy's `next_uint32`).
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        self.draws += 1;
        self.mt.next_u32()
    }

    /// numpy's `next_uint64` for MT19937: two outputs, the first one in the high word.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let hi = u64::from(self.next_u32());
        let lo = u64::from(self.next_u32());
        (hi << 32) | lo
    }

    /// numpy's `mt19937_next_double`: a double in `[0, 1)` with 53 random bits from two
    /// outputs.
    #[inline]
    pub fn random_double(&mut self) -> f64 {
        let a = f64::from(self.next_u32() >> 5);
        let b = f64::from(self.next_u32() >> 6);
        (a * TWO_POW_26 + b) / TWO_POW_53
    }

    /// One `np.random.uniform(lo, hi)` draw.
    #[inline]
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let range = hi - lo;
        lo + range * self.random_double()
    }

    /// numpy's `legacy_gauss`: one standard normal draw from the polar method, alternating
    /// between a fresh pair's `f * x2` and the cached `f * x1`.
    pub fn gauss(&mut self) -> f64 {
        if let Some(cached) = self.gauss.take() {
            return cached;
        }
        let (x1, x2, r2) = loop {
            let x1 = 2.0 * self.random_double() - 1.0;
            let x2 = 2.0 * self.random_double() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                break (x1, x2, r2);
            }
        };
        let f = (-2.0 * r2.ln() / r2).sqrt();
        self.gauss = Some(f * x1);
        f * x2
    }

    /// One `np.random.normal(loc, scale)` draw (`legacy_normal`).
    #[inline]
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.gauss()
    }

    /// numpy's `random_interval(max)`: a uniform integer in `[0, max]` by mask rejection.
    pub fn random_interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        // The smallest all-ones bit pattern >= max.
        let mask = u64::MAX >> max.leading_zeros();
        if max <= u64::from(u32::MAX) {
            loop {
                let value = u64::from(self.next_u32()) & mask;
                if value <= max {
                    return value;
                }
            }
        } else {
            loop {
                let value = self.next_u64() & mask;
                if value <= max {
                    return value;
                }
            }
        }
    }

    /// `np.random.shuffle(x)` for a 1-d sequence (python list or 1-d array).
    pub fn shuffle_slice<T>(&mut self, x: &mut [T]) {
        for i in (1..x.len()).rev() {
            // usize -> u64 and back is lossless: j <= i < x.len().
            let j = self.random_interval(i as u64) as usize;
            x.swap(i, j);
        }
    }
}

impl RunRng for NumpyRng {
    /// `np.random.uniform(lo, hi, out.len())`, row-major.
    fn fill_uniform(&mut self, out: &mut [f64], lo: f64, hi: f64) {
        let range = hi - lo;
        for v in out.iter_mut() {
            *v = lo + range * self.random_double();
        }
    }

    /// `np.random.normal(0, std, out.len())`, row-major; the gauss cache carries over.
    fn fill_normal(&mut self, out: &mut [f64], std: f64) {
        for v in out.iter_mut() {
            *v = self.normal(0.0, std);
        }
    }

    /// `np.random.shuffle(indices)`.
    fn shuffle(&mut self, indices: &mut [u32]) {
        self.shuffle_slice(indices);
    }

    fn state(&self) -> RngState {
        RngState::Numpy { seed: self.seed, draws: self.draws, gauss: self.gauss }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_is_smallest_all_ones_at_least_max() {
        for (max, mask) in [(1u64, 1u64), (2, 3), (3, 3), (4, 7), (19_999, 32_767)] {
            assert_eq!(u64::MAX >> max.leading_zeros(), mask, "max {max}");
        }
        assert_eq!(u64::MAX >> u64::MAX.leading_zeros(), u64::MAX);
    }

    #[test]
    fn random_interval_stays_in_range_and_zero_draws_nothing() {
        let mut a = NumpyRng::new(7);
        let mut b = NumpyRng::new(7);
        assert_eq!(a.random_interval(0), 0);
        assert_eq!(a.next_u32(), b.next_u32());
        for max in [1u64, 2, 5, 1000, u64::from(u32::MAX), 1 << 40] {
            for _ in 0..100 {
                assert!(a.random_interval(max) <= max);
            }
        }
    }

    #[test]
    fn gauss_cache_alternates_and_resets_with_a_new_seed() {
        let mut rng = NumpyRng::new(1);
        let _ = rng.gauss();
        assert!(rng.gauss.is_some());
        let _ = rng.gauss();
        assert!(rng.gauss.is_none());
        let _ = rng.gauss();
        assert!(NumpyRng::new(1).gauss.is_none());
    }

    #[test]
    fn a_restored_stream_continues_where_the_saved_one_was() {
        let mut a = NumpyRng::new(5);
        let mut v: Vec<u32> = (0..100).collect();
        a.shuffle(&mut v);
        let _ = a.gauss();
        let RngState::Numpy { seed, draws, gauss } = a.state() else { panic!("numpy state") };
        assert!(gauss.is_some());
        let mut b = NumpyRng::restored(seed, draws, gauss);
        for _ in 0..3 {
            assert_eq!(a.gauss().to_bits(), b.gauss().to_bits());
            assert_eq!(a.next_u32(), b.next_u32());
        }
    }

    #[test]
    fn shuffle_keeps_a_permutation() {
        let mut v: Vec<u32> = (0..1000).collect();
        NumpyRng::new(3).shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().copied().eq(0..1000));
        assert!(v.iter().copied().ne(0..1000));
    }
}
