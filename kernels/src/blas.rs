//! Row-major GEMM through OpenBLAS, and OpenBLAS's runtime controls.

use std::ffi::{c_char, c_int, CStr};

use cblas_sys::CBLAS_TRANSPOSE;

use crate::par::Rows;
use crate::Scalar;

// OpenBLAS extensions, not part of CBLAS.
extern "C" {
    fn openblas_get_corename() -> *const c_char;
    fn openblas_set_num_threads(num_threads: c_int);
    fn openblas_get_num_threads() -> c_int;
}

/// The kernel family OpenBLAS picked at load time (e.g. "SkylakeX", "Haswell", "Prescott").
pub fn corename() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    unsafe { CStr::from_ptr(openblas_get_corename()) }.to_string_lossy().into_owned()
}

/// Sets the number of threads OpenBLAS uses for each call (process-wide).
pub fn set_threads(n: usize) {
    // SAFETY: plain setter; OpenBLAS clamps to its compiled maximum.
    unsafe { openblas_set_num_threads(n.max(1) as c_int) }
}

/// The number of threads OpenBLAS currently uses for each call.
pub fn threads() -> usize {
    // SAFETY: plain getter.
    unsafe { openblas_get_num_threads() as usize }
}

/// Whether an operand is used as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transpose {
    No,
    Yes,
}

impl Transpose {
    fn flag(self) -> CBLAS_TRANSPOSE {
        match self {
            Transpose::No => CBLAS_TRANSPOSE::CblasNoTrans,
            Transpose::Yes => CBLAS_TRANSPOSE::CblasTrans,
        }
    }
}

/// `c (m x n) = alpha * op(a) (m x k) * op(b) (k x n) + beta * c`, all row-major and contiguous.
///
/// `a` is stored as (m x k), or (k x m) when `ta` is [`Transpose::Yes`]; likewise `b`. With k = 0
/// the product is empty: c becomes beta * c (exactly 0 when beta is 0, as BLAS defines it).
/// Panics if a slice is shorter than its shape needs or a dimension exceeds OpenBLAS's 32-bit
/// range (programming errors, never data-driven).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Scalar>(
    ta: Transpose,
    tb: Transpose,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    let lda = if ta == Transpose::No { k } else { m };
    gemm_strided(ta, tb, m, n, k, alpha, a, lda, b, beta, c);
}

/// Fewest multiply-adds of a block of [`gemm_par`]. Below about this size OpenBLAS 0.3.21 runs
/// other kernels (its "small matrix" and SkylakeX "direct" sgemm paths), which may round
/// differently from the blocked path of a large product; above it every block takes the blocked
/// path, whose sums over k do not depend on the number of rows.
pub const PAR_MIN_MACS: usize = 1 << 23;

/// Rows of a [`gemm_par`] block are a multiple of this (OpenBLAS's register tiles).
const PAR_ALIGN_ROWS: usize = 16;

/// [`gemm`] with the rows of c computed in up to `ways` blocks over the current rayon pool, each
/// by a single-threaded OpenBLAS call over the whole of k: bit-identical to [`gemm`] (tested at
/// many shapes), so the result does not depend on `ways`. Blocks never go below
/// [`PAR_MIN_MACS`] multiply-adds.
#[allow(clippy::too_many_arguments)]
pub fn gemm_par<T: Scalar>(
    ways: usize,
    ta: Transpose,
    tb: Transpose,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    let macs = m.saturating_mul(n).saturating_mul(k);
    let ways = ways.min(macs / PAR_MIN_MACS).min(m / PAR_ALIGN_ROWS);
    if ways <= 1 {
        return gemm(ta, tb, m, n, k, alpha, a, b, beta, c);
    }
    assert!(c.len() >= m * n, "gemm: c has {} elements, needs {}", c.len(), m * n);
    // Row r of op(a) starts at a[r * k] as stored, or at a[r] (a column) when transposed.
    let (lda, row_step) = if ta == Transpose::No { (k, k) } else { (m, 1) };
    crate::par::for_blocks(Rows(&mut c[..m * n], n), m, ways, PAR_ALIGN_ROWS, &|rows, Rows(c, _)| {
        let a = &a[rows.start * row_step..];
        gemm_strided(ta, tb, rows.len(), n, k, alpha, a, lda, b, beta, c);
    });
}

/// [`gemm`] with `a` stored with leading dimension `lda` (a block of rows of a larger op(a)).
#[allow(clippy::too_many_arguments)]
fn gemm_strided<T: Scalar>(
    ta: Transpose,
    tb: Transpose,
    m: usize,
    n: usize,
    k: usize,
    alpha: T,
    a: &[T],
    lda: usize,
    b: &[T],
    beta: T,
    c: &mut [T],
) {
    // Stored rows and columns of a.
    let (a_rows, a_cols) = if ta == Transpose::No { (m, k) } else { (k, m) };
    let a_needs = if a_rows == 0 || a_cols == 0 { 0 } else { (a_rows - 1) * lda + a_cols };
    assert!(a.len() >= a_needs, "gemm: a has {} elements, needs {}", a.len(), a_needs);
    assert!(b.len() >= k * n, "gemm: b has {} elements, needs {}", b.len(), k * n);
    assert!(c.len() >= m * n, "gemm: c has {} elements, needs {}", c.len(), m * n);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // OpenBLAS would read a and b through leading dimensions of at least 1: never call it.
        let c = &mut c[..m * n];
        if beta == T::ZERO {
            c.fill(T::ZERO);
        } else {
            c.iter_mut().for_each(|c| *c *= beta);
        }
        return;
    }
    let ldb = if tb == Transpose::No { n } else { k };
    let dim = |x: usize| i32::try_from(x).expect("gemm dimension exceeds i32");
    // SAFETY: the asserts above guarantee every access stays inside the slices.
    unsafe {
        T::cblas_gemm(
            ta.flag(),
            tb.flag(),
            dim(m),
            dim(n),
            dim(k),
            alpha,
            a.as_ptr(),
            dim(lda),
            b.as_ptr(),
            dim(ldb),
            beta,
            c.as_mut_ptr(),
            dim(n),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference;
    use crate::testing::{assert_close, Lcg};

    fn check<T: Scalar>(tol: f64) {
        let mut rng = Lcg(7);
        for &(m, n, k) in &[(1, 1, 1), (3, 5, 7), (32, 64, 785), (17, 10, 64), (785, 64, 32)] {
            for ta in [Transpose::No, Transpose::Yes] {
                for tb in [Transpose::No, Transpose::Yes] {
                    let a: Vec<T> = rng.vec(m * k);
                    let b: Vec<T> = rng.vec(k * n);
                    let c0: Vec<T> = rng.vec(m * n);
                    let (alpha, beta) = (T::from_f64(0.5), T::from_f64(-1.25));
                    let mut fast = c0.clone();
                    gemm(ta, tb, m, n, k, alpha, &a, &b, beta, &mut fast);
                    let mut slow = c0.clone();
                    reference::gemm(ta, tb, m, n, k, alpha, &a, &b, beta, &mut slow);
                    assert_close(&fast, &slow, tol * k as f64);
                }
            }
        }
    }

    /// gemm_par equals single-threaded gemm bit for bit, whatever the number of blocks, at the
    /// shapes training runs (batch x width x width, both transposes, the alphas and betas the
    /// layers use) and at odd ones.
    fn par_is_bit_identical<T: Scalar>() {
        // OpenBLAS's own threads would split the product its own way (not bit-identical in f64).
        set_threads(1);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(4).build().unwrap();
        let mut rng = Lcg(21);
        let shapes = [
            (512, 1024, 785),
            (785, 1024, 512),
            (128, 256, 785),
            (785, 256, 128),
            (32, 4096, 785),
            (1000, 512, 512),
            (333, 1024, 97),
            (4099, 64, 33),
            (512, 10, 2048),
            (2048, 33, 785),
        ];
        for &(m, n, k) in &shapes {
            for ta in [Transpose::No, Transpose::Yes] {
                for tb in [Transpose::No, Transpose::Yes] {
                    let (a, b, c0): (Vec<T>, Vec<T>, Vec<T>) = (rng.vec(m * k), rng.vec(k * n), rng.vec(m * n));
                    for (alpha, beta) in [(T::ONE, T::ZERO), (T::from_f64(1.0 / 512.0), T::ZERO), (T::ONE, T::ONE)] {
                        let mut whole = c0.clone();
                        gemm(ta, tb, m, n, k, alpha, &a, &b, beta, &mut whole);
                        for ways in [2, 3, 4, 7] {
                            let mut split = c0.clone();
                            pool.install(|| gemm_par(ways, ta, tb, m, n, k, alpha, &a, &b, beta, &mut split));
                            let same =
                                whole.iter().zip(&split).all(|(x, y)| x.to_f64().to_bits() == y.to_f64().to_bits());
                            assert!(same, "{} ({m}, {n}, {k}) {ta:?} {tb:?} in {ways} blocks", T::NAME);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn gemm_par_is_bit_identical_to_gemm_f32() {
        par_is_bit_identical::<f32>();
    }

    #[test]
    fn gemm_par_is_bit_identical_to_gemm_f64() {
        par_is_bit_identical::<f64>();
    }

    #[test]
    fn gemm_matches_reference_f64() {
        check::<f64>(1e-14);
    }

    #[test]
    fn gemm_matches_reference_f32() {
        check::<f32>(1e-6);
    }

    #[test]
    #[should_panic(expected = "gemm: b has")]
    fn gemm_rejects_short_operand() {
        let mut c = [0.0f64; 4];
        gemm(Transpose::No, Transpose::No, 2, 2, 2, 1.0, &[0.0; 4], &[0.0; 3], 0.0, &mut c);
    }

    #[test]
    fn gemm_with_k_zero_scales_c_by_beta_and_reads_nothing() {
        let empty: [f64; 0] = [];
        let mut c = [1.0f64, -2.0, 4.0, 8.0, 3.0, 5.0];
        gemm(Transpose::No, Transpose::Yes, 2, 3, 0, 1.0, &empty, &empty, 0.5, &mut c);
        assert_eq!(c, [0.5, -1.0, 2.0, 4.0, 1.5, 2.5]);
        let mut c = [f64::NAN, 1.0, 2.0, 3.0];
        gemm(Transpose::Yes, Transpose::No, 2, 2, 0, 1.0, &empty, &empty, 0.0, &mut c);
        assert_eq!(c, [0.0; 4]);
    }

    #[test]
    fn thread_count_round_trips() {
        set_threads(1);
        assert_eq!(threads(), 1);
        assert!(!corename().is_empty());
    }
}
