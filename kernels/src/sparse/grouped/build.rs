//! Building the groups: similar images of a data set stored together (see [`super`]).

use std::ops::Range;

use super::layout::{GroupCsr, GROUP, NO_IMAGE};

/// Images per grouping window: each image is grouped with similar ones of its window of this
/// many images (aligned at multiples of it), so evaluating a run of whole windows can use the
/// groups.
pub const WINDOW: usize = 200;

/// A data set's images in groups of [`GROUP`] similar images, owned (see [`GroupCsr`]).
#[derive(Debug, Clone, Default)]
pub struct GroupedImages {
    pub group_ptr: Vec<usize>,
    pub images: Vec<[u32; GROUP]>,
    pub cols: Vec<u32>,
    pub bytes: Vec<[u8; GROUP]>,
    /// Images in the set.
    pub count: usize,
}

impl GroupedImages {
    /// Groups the `images.len() / pixels` raw images of `pixels` bytes each, window by window.
    pub fn build(images: &[u8], pixels: usize) -> Self {
        assert!(pixels > 0 && images.len().is_multiple_of(pixels), "whole images of {pixels} pixels");
        let count = images.len() / pixels;
        let members: Vec<[u32; GROUP]> =
            (0..count).step_by(WINDOW).flat_map(|s| similar_groups(images, pixels, s..count.min(s + WINDOW))).collect();
        let (mut group_ptr, mut cols, mut bytes) = (vec![0], Vec::new(), Vec::new());
        for group in &members {
            let value = |i: u32, q: usize| if i == NO_IMAGE { 0 } else { images[i as usize * pixels + q] };
            for q in 0..pixels {
                let v = group.map(|i| value(i, q));
                if v != [0; GROUP] {
                    cols.push(q as u32);
                    bytes.push(v);
                }
            }
            group_ptr.push(cols.len());
        }
        Self { group_ptr, images: members, cols, bytes, count }
    }

    /// The groups with `table` mapping raw values to the layer's input values.
    pub fn view<'a, T>(&'a self, table: &'a [T; 256]) -> GroupCsr<'a, T> {
        GroupCsr { group_ptr: &self.group_ptr, images: &self.images, cols: &self.cols, bytes: &self.bytes, table }
    }

    /// Whether `rows` is a run of whole grouping windows (the last may end with the set), which
    /// [`super::grouped_forward`] can compute from the groups.
    pub fn covers(&self, rows: &Range<usize>) -> bool {
        rows.start.is_multiple_of(WINDOW) && (rows.end.is_multiple_of(WINDOW) || rows.end == self.count)
    }
}

/// Groups of [`GROUP`] images of `window` that share many non-zero pixels: similar pairs of
/// images, then (groups of four) similar pairs of those pairs. The group's shared pixels cost one
/// weight-row load instead of one per image (ratios measured on MNIST: results/bench/BENCHMARKS.md).
fn similar_groups(images: &[u8], pixels: usize, window: Range<usize>) -> Vec<[u32; GROUP]> {
    let words = pixels.div_ceil(64);
    let mut sets = vec![0u64; window.len() * words];
    for (set, i) in sets.chunks_exact_mut(words).zip(window.clone()) {
        let image = &images[i * pixels..(i + 1) * pixels];
        image.iter().enumerate().filter(|(_, &v)| v != 0).for_each(|(q, _)| set[q / 64] |= 1 << (q % 64));
    }
    // Each round pairs the groups so far, doubling their size.
    let mut members: Vec<Vec<Option<usize>>> = (0..window.len()).map(|k| vec![Some(k)]).collect();
    for _ in 0..GROUP.ilog2() {
        let pairs = similar_pairs(&sets, words);
        let set = |k: usize| &sets[k * words..(k + 1) * words];
        let union = |(a, b): (usize, Option<usize>)| -> Vec<u64> {
            set(a).iter().enumerate().map(|(w, x)| x | b.map_or(0, |b| set(b)[w])).collect()
        };
        sets = pairs.iter().flat_map(|&pair| union(pair)).collect();
        members = pairs
            .iter()
            .map(|&(a, b)| {
                let other = b.map_or_else(|| vec![None; members[a].len()], |b| members[b].clone());
                members[a].iter().copied().chain(other).collect()
            })
            .collect();
    }
    let id = |k: Option<usize>| k.map_or(NO_IMAGE, |k| (window.start + k) as u32);
    members.iter().map(|m| std::array::from_fn(|g| id(m[g]))).collect()
}

/// Pairs of the pixel sets `sets` (`words` u64 each) that overlap most, greedily: the largest set
/// first, each with the free set that shares most pixels with it (the first on a tie). A set left
/// alone has no partner.
fn similar_pairs(sets: &[u64], words: usize) -> Vec<(usize, Option<usize>)> {
    let count = sets.len() / words;
    let set = |k: usize| &sets[k * words..(k + 1) * words];
    let size = |k: usize| -> u32 { set(k).iter().map(|x| x.count_ones()).sum() };
    let overlap = |a: usize, b: usize| -> u32 { set(a).iter().zip(set(b)).map(|(x, y)| (x & y).count_ones()).sum() };
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(size(k)));
    let mut free = vec![true; count];
    let mut pairs = Vec::with_capacity(count.div_ceil(2));
    for k in order {
        if !free[k] {
            continue;
        }
        free[k] = false;
        let partner = (0..count).filter(|&j| free[j]).max_by_key(|&j| (overlap(k, j), std::cmp::Reverse(j)));
        if let Some(j) = partner {
            free[j] = false;
        }
        pairs.push((k, partner));
    }
    pairs
}
