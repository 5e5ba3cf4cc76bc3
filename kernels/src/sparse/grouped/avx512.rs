//! AVX-512 version of the widest block of the grouped evaluation kernel, for builds whose target
//! CPU has AVX-512F (`target-cpu=native` on such a machine). The compiler's own vectorisation of the
//! portable loops stays at 256 bits on these CPUs (LLVM's tuning for them), and the
//! register-resident accumulators of a group need the 32 512-bit registers. The kernel does the
//! same FMAs in the same order as the portable loop (a test checks equal bits), reached through
//! [`super::GroupBlock`] so the generic code can call the one for its type.

/// acc (GROUP, COLS) += sum over the group's entries (p, v) of table[v[g]] * w[p * oc..][..COLS]:
/// the block of `super::grouped_forward`.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
macro_rules! group_kernel {
    ($name:ident, $t:ty, $cols:literal, $lanes:literal, $v:ty, $load:ident, $store:ident, $splat:ident, $fmadd:ident) => {
        pub(crate) fn $name(
            acc: &mut [$t],
            cols: &[u32],
            bytes: &[[u8; GROUP]],
            table: &[$t; 256],
            w: &[$t],
            oc: usize,
        ) {
            const VECS: usize = $cols / $lanes;
            assert_eq!(acc.len(), GROUP * $cols, "accumulators of a group block");
            // SAFETY: every load and store addresses a full vector inside a checked slice:
            // acc has GROUP * cols values, and each weight row slice `row` has cols values.
            unsafe {
                let mut v: [[$v; VECS]; GROUP] =
                    std::array::from_fn(|g| std::array::from_fn(|k| $load(acc[(g * VECS + k) * $lanes..].as_ptr())));
                for (&p, raw) in cols.iter().zip(bytes) {
                    let row = &w[p as usize * oc..p as usize * oc + $cols];
                    let wk: [$v; VECS] = std::array::from_fn(|k| $load(row[k * $lanes..].as_ptr()));
                    for (v, &raw) in v.iter_mut().zip(raw) {
                        let x = $splat(table[raw as usize]);
                        for k in 0..VECS {
                            v[k] = $fmadd(x, wk[k], v[k]);
                        }
                    }
                }
                for (g, v) in v.iter().enumerate() {
                    for (k, &v) in v.iter().enumerate() {
                        $store(acc[(g * VECS + k) * $lanes..].as_mut_ptr(), v);
                    }
                }
            }
        }
    };
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
mod kernels {
    use super::super::layout::GROUP;
    use std::arch::x86_64::*;

    group_kernel!(group_f32, f32, 64, 16, __m512, _mm512_loadu_ps, _mm512_storeu_ps, _mm512_set1_ps, _mm512_fmadd_ps);
    group_kernel!(group_f64, f64, 32, 8, __m512d, _mm512_loadu_pd, _mm512_storeu_pd, _mm512_set1_pd, _mm512_fmadd_pd);
}

#[cfg(all(target_arch = "x86_64", target_feature = "avx512f"))]
pub(super) use kernels::{group_f32, group_f64};
