//! Splitting a kernel's output into contiguous blocks run over the current rayon pool.
//!
//! A block is computed by the same code as the whole, and no value is ever summed across blocks:
//! results do not depend on how many blocks there are. The split is a binary tree of
//! `rayon::join`s, which allocate nothing once the pool's queues exist (`tests/no_alloc.rs`).

/// Outputs that can be cut in two at a row.
pub trait Part: Send + Sized {
    fn split_at(self, row: usize) -> (Self, Self);
}

impl<T: Send> Part for &mut [T] {
    fn split_at(self, row: usize) -> (Self, Self) {
        self.split_at_mut(row)
    }
}

/// Rows of `width` values, cut between rows.
pub struct Rows<'a, T>(pub &'a mut [T], pub usize);

impl<T: Send> Part for Rows<'_, T> {
    fn split_at(self, row: usize) -> (Self, Self) {
        let (a, b) = self.0.split_at_mut(row * self.1);
        (Rows(a, self.1), Rows(b, self.1))
    }
}

impl<A: Part, B: Part> Part for (A, B) {
    fn split_at(self, row: usize) -> (Self, Self) {
        let ((a0, a1), (b0, b1)) = (self.0.split_at(row), self.1.split_at(row));
        ((a0, b0), (a1, b1))
    }
}

/// Runs `f(rows, part)` on up to `ways` contiguous blocks of the `n` rows of `part`, in parallel
/// over the current rayon pool; block boundaries are multiples of `align` rows. With `ways` 1
/// (or fewer than two aligned blocks of rows) it is one call on the calling thread.
pub fn for_blocks<P: Part>(
    part: P,
    n: usize,
    ways: usize,
    align: usize,
    f: &(impl Fn(std::ops::Range<usize>, P) + Sync),
) {
    split(part, 0..n, ways, align.max(1), f)
}

fn split<P: Part>(
    part: P,
    rows: std::ops::Range<usize>,
    ways: usize,
    align: usize,
    f: &(impl Fn(std::ops::Range<usize>, P) + Sync),
) {
    let n = rows.len();
    let left = ways / 2;
    let mid = (n * left / ways.max(1)).next_multiple_of(align);
    if ways <= 1 || mid == 0 || mid >= n {
        return f(rows, part);
    }
    let (a, b) = part.split_at(mid);
    let at = rows.start + mid;
    rayon::join(|| split(a, rows.start..at, left, align, f), || split(b, at..rows.end, ways - left, align, f));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_row_is_in_exactly_one_aligned_block() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        for (n, ways, align) in [(0, 2, 1), (1, 2, 1), (7, 2, 4), (100, 3, 8), (100, 4, 16), (1000, 5, 1), (9, 1, 1)] {
            let blocks = Mutex::new(Vec::new());
            let mut out = vec![0u32; n * 3];
            let mut flat = vec![0u32; n];
            pool.install(|| {
                for_blocks((Rows(&mut out, 3), &mut flat[..]), n, ways, align, &|rows, (Rows(o, _), fl)| {
                    assert_eq!((o.len(), fl.len()), (rows.len() * 3, rows.len()));
                    o.iter_mut().for_each(|v| *v += 1);
                    fl.iter_mut().zip(rows.clone()).for_each(|(v, r)| *v = r as u32);
                    blocks.lock().unwrap().push(rows);
                })
            });
            assert!(out.iter().all(|&v| v == 1), "{n} rows, {ways} ways");
            assert!(flat.iter().enumerate().all(|(i, &v)| v == i as u32));
            let blocks = blocks.into_inner().unwrap();
            assert!(blocks.len() <= ways.max(1));
            assert!(blocks.iter().all(|b| b.start % align == 0 && !b.is_empty() || n == 0));
        }
    }
}
