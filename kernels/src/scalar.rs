//! The element type of the trainer: `f32` (fast) or `f64` (the reference's precision).

use std::fmt::{Debug, Display};
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use cblas_sys::{cblas_dgemm, cblas_sgemm, CBLAS_LAYOUT, CBLAS_TRANSPOSE};

/// Floating-point element with the handful of operations the kernels need, plus its GEMM.
pub trait Scalar:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + Display
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + 'static
{
    /// "f32" or "f64".
    const NAME: &'static str;
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    /// e^x without a libm call, vectorisable; saturates instead of overflowing ([`crate::fastmath`]).
    fn exp_fast(self) -> Self;
    fn abs(self) -> Self;
    fn copysign(self, sign: Self) -> Self;
    fn ln(self) -> Self;
    fn tanh(self) -> Self;
    fn cosh(self) -> Self;
    fn sqrt(self) -> Self;
    fn is_finite(self) -> bool;
    /// self * a + b with one rounding (a single FMA instruction where the CPU has one).
    fn mul_add(self, a: Self, b: Self) -> Self;

    /// Raw row-major CBLAS GEMM for this type.
    ///
    /// # Safety
    /// The pointers must address matrices of the sizes implied by the dimensions and leading
    /// dimensions; [`crate::blas::gemm`] checks this before calling.
    #[allow(clippy::too_many_arguments)]
    unsafe fn cblas_gemm(
        ta: CBLAS_TRANSPOSE,
        tb: CBLAS_TRANSPOSE,
        m: i32,
        n: i32,
        k: i32,
        alpha: Self,
        a: *const Self,
        lda: i32,
        b: *const Self,
        ldb: i32,
        beta: Self,
        c: *mut Self,
        ldc: i32,
    );
}

macro_rules! impl_scalar {
    ($t:ty, $name:literal, $gemm:ident, $exp_fast:path) => {
        impl Scalar for $t {
            const NAME: &'static str = $name;
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn exp_fast(self) -> Self {
                $exp_fast(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                <$t>::copysign(self, sign)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            unsafe fn cblas_gemm(
                ta: CBLAS_TRANSPOSE,
                tb: CBLAS_TRANSPOSE,
                m: i32,
                n: i32,
                k: i32,
                alpha: Self,
                a: *const Self,
                lda: i32,
                b: *const Self,
                ldb: i32,
                beta: Self,
                c: *mut Self,
                ldc: i32,
            ) {
                // SAFETY: forwarded from the caller's contract.
                unsafe { $gemm(CBLAS_LAYOUT::CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) }
            }
        }
    };
}

impl_scalar!(f32, "f32", cblas_sgemm, crate::fastmath::exp_f32);
impl_scalar!(f64, "f64", cblas_dgemm, crate::fastmath::exp_f64);
