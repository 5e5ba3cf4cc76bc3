//! MNIST-format data: reading the four IDX files of a directory, the 2021 train/validation split,
//! global mean/std normalisation and the bias column.

pub mod idx;

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use idx::Images;
use kernels::grouped::{GroupCsr, GROUP, NO_IMAGE};
use kernels::Scalar;

/// The standard file names; any directory holding them works (MNIST, Fashion-MNIST, ...).
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// One IDX image file with its label file, checked against each other.
#[derive(Debug, Clone)]
pub struct LabelledImages {
    pub images: Images,
    pub labels: Vec<u8>,
    pub images_path: PathBuf,
}

/// The raw (unnormalised) training and test files of a data directory.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: LabelledImages,
    pub test: LabelledImages,
}

/// Finds `name.gz` or `name` in `dir`.
fn locate(dir: &Path, name: &'static str) -> Result<PathBuf, DataError> {
    [format!("{name}.gz"), name.to_string()]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
        .ok_or_else(|| DataError::Missing { dir: dir.into(), name })
}

fn load_pair(dir: &Path, images: &'static str, labels: &'static str) -> Result<LabelledImages, DataError> {
    let (images_path, labels_path) = (locate(dir, images)?, locate(dir, labels)?);
    let images = idx::read_images(&images_path)?;
    let labels = idx::read_labels(&labels_path)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path,
            n_images: images.count,
            labels: labels_path,
            n_labels: labels.len(),
        });
    }
    Ok(LabelledImages { images, labels, images_path })
}

impl Mnist {
    /// Loads and validates the four standard files of `dir`.
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let train = load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?;
        let test = load_pair(dir, TEST_IMAGES, TEST_LABELS)?;
        if train.images.pixels != test.images.pixels {
            return Err(DataError::ShapeMismatch {
                images: test.images_path,
                found: test.images.pixels,
                other: train.images_path,
                expected: train.images.pixels,
            });
        }
        Ok(Self { train, test })
    }

    pub fn pixels(&self) -> usize {
        self.train.images.pixels
    }
}

/// Which images the global mean/std come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NormStats {
    /// Every image of the training file (60000 for MNIST), as the 2021 reference did.
    FullTrain,
    /// Only the images actually trained on.
    TrainSubset,
}

/// Global normalisation x' = (x - mean) / std with one scalar each (population std).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: f64,
    pub std: f64,
}

impl Normalization {
    /// Mean and population standard deviation over all pixels of `pixels`, computed exactly
    /// from a histogram (the pixel sum is an exact integer), like numpy's np.mean / np.std.
    pub fn of(pixels: &[u8]) -> Self {
        let mut counts = [0u64; 256];
        pixels.iter().for_each(|&p| counts[p as usize] += 1);
        let n = pixels.len() as f64;
        let sum: u64 = counts.iter().enumerate().map(|(v, &c)| v as u64 * c).sum();
        let mean = sum as f64 / n;
        let sq: f64 = counts
            .iter()
            .enumerate()
            .map(|(v, &c)| {
                let d = v as f64 - mean;
                c as f64 * (d * d)
            })
            .sum();
        Self { mean, std: (sq / n).sqrt() }
    }

    /// The normalised value of every possible pixel byte.
    fn table(&self) -> [f64; 256] {
        std::array::from_fn(|v| (v as f64 - self.mean) / self.std)
    }
}

/// A normalised data set: one row per image, the pixels then a bias column of ones (785 columns
/// for MNIST), and the labels; plus the same images as sparse raw pixels for the fast first layer.
#[derive(Debug, Clone)]
pub struct Dataset<T> {
    pub x: Array2<T>,
    pub labels: Vec<u8>,
    pub sparse: SparsePixels<T>,
}

/// Images per grouping window: evaluation groups each image with similar ones of its window of
/// this many images (aligned at multiples of it), so ranges of whole windows run grouped.
pub const GROUP_WINDOW: usize = 200;

/// The non-zero raw pixels of every image (CSR, for training batches) and of groups of similar
/// images (for evaluation), the table raw value -> raw / sigma, and shift = mu / sigma, so that
/// a normalised pixel is `table[raw] - shift` (see `kernels::sparse`, `kernels::grouped`).
#[derive(Debug, Clone)]
pub struct SparsePixels<T> {
    pub row_ptr: Vec<usize>,
    pub cols: Vec<u32>,
    pub bytes: Vec<u8>,
    pub group_ptr: Vec<usize>,
    pub group_images: Vec<[u32; GROUP]>,
    pub group_cols: Vec<u32>,
    pub group_bytes: Vec<[u8; GROUP]>,
    pub table: [T; 256],
    pub shift: T,
}

impl<T: Scalar> SparsePixels<T> {
    pub fn new(images: &[u8], pixels: usize, norm: Normalization) -> Self {
        let nonzero = images.iter().filter(|&&p| p != 0).count();
        let (mut cols, mut bytes) = (Vec::with_capacity(nonzero), Vec::with_capacity(nonzero));
        let mut row_ptr = Vec::with_capacity(images.len() / pixels.max(1) + 1);
        row_ptr.push(0);
        for img in images.chunks_exact(pixels) {
            for (q, &p) in img.iter().enumerate().filter(|(_, &p)| p != 0) {
                cols.push(q as u32);
                bytes.push(p);
            }
            row_ptr.push(cols.len());
        }
        let n = row_ptr.len() - 1;
        let group_images: Vec<[u32; GROUP]> = (0..n)
            .step_by(GROUP_WINDOW)
            .flat_map(|s| similar_groups(images, pixels, s..n.min(s + GROUP_WINDOW)))
            .collect();
        let (mut group_ptr, mut group_cols, mut group_bytes) = (vec![0], Vec::new(), Vec::new());
        for members in &group_images {
            let value = |i: u32, q: usize| if i == NO_IMAGE { 0 } else { images[i as usize * pixels + q] };
            for q in 0..pixels {
                let v = members.map(|i| value(i, q));
                if v != [0; GROUP] {
                    group_cols.push(q as u32);
                    group_bytes.push(v);
                }
            }
            group_ptr.push(group_cols.len());
        }
        let table = std::array::from_fn(|v| T::from_f64(v as f64 / norm.std));
        let shift = T::from_f64(norm.mean / norm.std);
        Self { row_ptr, cols, bytes, group_ptr, group_images, group_cols, group_bytes, table, shift }
    }

    /// Images in the set.
    pub fn len(&self) -> usize {
        self.row_ptr.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn csr(&self) -> kernels::sparse::Csr<'_, T> {
        kernels::sparse::Csr { row_ptr: &self.row_ptr, cols: &self.cols, bytes: &self.bytes, table: &self.table }
    }

    pub fn groups(&self) -> GroupCsr<'_, T> {
        GroupCsr {
            group_ptr: &self.group_ptr,
            images: &self.group_images,
            cols: &self.group_cols,
            bytes: &self.group_bytes,
            table: &self.table,
        }
    }

    /// Whether `rows` is a run of whole grouping windows (the last may end with the set), which
    /// [`kernels::grouped::grouped_forward`] can compute from its groups.
    pub fn groups_cover(&self, rows: &Range<usize>) -> bool {
        rows.start.is_multiple_of(GROUP_WINDOW) && (rows.end.is_multiple_of(GROUP_WINDOW) || rows.end == self.len())
    }
}

/// Groups of [`GROUP`] images of `window` that share many non-zero pixels: similar pairs of
/// images, then (groups of four) similar pairs of those pairs. The group's shared pixels cost one
/// weight-row load instead of one per image; on MNIST pairs hold 63% as many entries as the
/// images have non-zeros, groups of four 39% (consecutive images: 77% and 60%).
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

impl<T: Scalar> Dataset<T> {
    /// Normalises `count` images of `pixels` bytes each and appends the ones column.
    pub fn new(images: &[u8], labels: &[u8], pixels: usize, norm: Normalization) -> Self {
        let table = norm.table().map(T::from_f64);
        let count = labels.len();
        assert_eq!(images.len(), count * pixels);
        let mut x = Array2::<T>::from_elem((count, pixels + 1), T::ZERO);
        for (row, img) in x.rows_mut().into_iter().zip(images.chunks_exact(pixels)) {
            let row = row.into_slice().expect("rows of a standard-layout array are contiguous");
            row[..pixels].iter_mut().zip(img).for_each(|(x, &p)| *x = table[p as usize]);
            row[pixels] = T::ONE;
        }
        Self { x, labels: labels.to_vec(), sparse: SparsePixels::new(images, pixels, norm) }
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Columns per row, the bias included.
    pub fn dim(&self) -> usize {
        self.x.ncols()
    }
}

/// The training and validation sets of one run, and the statistics used to normalise them.
#[derive(Debug, Clone)]
pub struct Splits<T> {
    pub train: Dataset<T>,
    pub val: Dataset<T>,
    pub norm: Normalization,
}

/// The 2021 split: the first `train_size` images of the training file, and the last `val_size`
/// images of the test file (`X_test[-val_size:]`; all 10000 by default).
pub fn split<T: Scalar>(
    mnist: &Mnist,
    train_size: usize,
    val_size: usize,
    stats: NormStats,
) -> Result<Splits<T>, DataError> {
    let (train, test, pixels) = (&mnist.train, &mnist.test, mnist.pixels());
    let too_few = |set: &LabelledImages, what, requested| DataError::TooFew {
        path: set.images_path.clone(),
        what,
        requested,
        available: set.images.count,
    };
    if train_size > train.images.count {
        return Err(too_few(train, "training", train_size));
    }
    if val_size > test.images.count {
        return Err(too_few(test, "validation", val_size));
    }
    let train_pixels = &train.images.data[..train_size * pixels];
    let norm = match stats {
        NormStats::FullTrain => Normalization::of(&train.images.data),
        NormStats::TrainSubset => Normalization::of(train_pixels),
    };
    let first_val = test.images.count - val_size;
    Ok(Splits {
        train: Dataset::new(train_pixels, &train.labels[..train_size], pixels, norm),
        val: Dataset::new(&test.images.data[first_val * pixels..], &test.labels[first_val..], pixels, norm),
        norm,
    })
}
