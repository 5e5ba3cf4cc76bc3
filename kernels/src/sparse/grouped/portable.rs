//! The portable inner block of the grouped forward: plain loops the compiler vectorises.

use super::layout::GROUP;
use crate::Scalar;

/// acc[g][k] += sum over the group's entries (p, v) of table[v[g]] * w[p * oc + k], for one block
/// of columns. A zero value adds exactly 0, so each image's sum is its own non-zeros', in pixel
/// order, whichever images share its group.
#[inline(always)]
pub(super) fn accumulate_group<T: Scalar, const N: usize>(
    acc: &mut [[T; N]; GROUP],
    cols: &[u32],
    bytes: &[[u8; GROUP]],
    table: &[T; 256],
    w: &[T],
    oc: usize,
) {
    // A local copy stays in registers (through the reference, LLVM stored the accumulators back
    // to the stack after every entry).
    let mut a = *acc;
    for (&p, v) in cols.iter().zip(bytes) {
        let wp: &[T; N] = w[p as usize * oc..p as usize * oc + N].try_into().expect("block");
        let x = v.map(|v| table[v as usize]);
        for k in 0..N {
            for g in 0..GROUP {
                a[g][k] = x[g].mul_add(wp[k], a[g][k]);
            }
        }
    }
    *acc = a;
}
