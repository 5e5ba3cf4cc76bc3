//! Test helpers: a tiny deterministic generator and a closeness check.

use crate::Scalar;

/// Linear congruential generator for test inputs (reproducible, no dependency).
pub struct Lcg(pub u64);

impl Lcg {
    /// Uniform values in [-1, 1).
    pub fn vec<T: Scalar>(&mut self, n: usize) -> Vec<T> {
        (0..n)
            .map(|_| {
                self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                T::from_f64((self.0 >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0)
            })
            .collect()
    }
}

/// Asserts |a - b| <= tol * max(1, |b|) elementwise.
pub fn assert_close<T: Scalar>(a: &[T], b: &[T], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (x.to_f64(), y.to_f64());
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "element {i}: {x} vs {y} (tol {tol})");
    }
}
