//! The data sets of a run: normalised dense rows with a bias column, the same images as sparse raw
//! pixels (CSR for training batches, groups of similar images for evaluation), and the 2021 split.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::mnist::{LabelledImages, Mnist};
use crate::config::NormStats;
use crate::error::DataError;
use kernels::sparse::grouped::{GroupCsr, GroupedImages};
use kernels::sparse::{Csr, CsrImages};
use kernels::Scalar;

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

/// A normalised data set: `x` holds one row of `dim` values per image, the pixels then a bias
/// column of ones (785 columns for MNIST); plus the labels, and the same images as sparse raw
/// pixels for the fast first layer.
#[derive(Debug, Clone)]
pub struct Dataset<T> {
    pub x: Vec<T>,
    dim: usize,
    pub labels: Vec<u8>,
    pub sparse: SparsePixels<T>,
}

/// The non-zero raw pixels of every image (CSR, for training batches) and of groups of similar
/// images (for evaluation), the table raw value -> raw / sigma, and shift = mu / sigma, so that
/// a normalised pixel is `table[raw] - shift` (see `kernels::sparse`).
#[derive(Debug, Clone)]
pub struct SparsePixels<T> {
    pub rows: CsrImages,
    pub groups: GroupedImages,
    pub table: [T; 256],
    pub shift: T,
}

impl<T: Scalar> SparsePixels<T> {
    pub fn new(images: &[u8], pixels: usize, norm: Normalization) -> Self {
        Self {
            rows: CsrImages::build(images, pixels),
            groups: GroupedImages::build(images, pixels),
            table: std::array::from_fn(|v| T::from_f64(v as f64 / norm.std)),
            shift: T::from_f64(norm.mean / norm.std),
        }
    }

    /// Images in the set.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn csr(&self) -> Csr<'_, T> {
        self.rows.view(&self.table)
    }

    pub fn groups(&self) -> GroupCsr<'_, T> {
        self.groups.view(&self.table)
    }

    /// Whether the groups can compute the images `rows` (a run of whole grouping windows).
    pub fn groups_cover(&self, rows: &Range<usize>) -> bool {
        self.groups.covers(rows)
    }
}

impl<T: Scalar> Dataset<T> {
    /// Normalises `labels.len()` images of `pixels` bytes each and appends the ones column.
    pub fn new(images: &[u8], labels: &[u8], pixels: usize, norm: Normalization) -> Self {
        let table = norm.table().map(T::from_f64);
        let count = labels.len();
        assert_eq!(images.len(), count * pixels, "one label per image");
        let dim = pixels + 1;
        let mut x = vec![T::ZERO; count * dim];
        for (row, img) in x.chunks_exact_mut(dim).zip(images.chunks_exact(pixels)) {
            row[..pixels].iter_mut().zip(img).for_each(|(x, &p)| *x = table[p as usize]);
            row[pixels] = T::ONE;
        }
        Self { x, dim, labels: labels.to_vec(), sparse: SparsePixels::new(images, pixels, norm) }
    }

    /// The first `n` images of a file (at most its count).
    pub fn first(set: &LabelledImages, n: usize, norm: Normalization) -> Self {
        let (n, pixels) = (n.min(set.images.count), set.images.pixels);
        Self::new(&set.images.data[..n * pixels], &set.labels[..n], pixels, norm)
    }

    /// The last `n` images of a file (at most its count), as the 2021 split takes them.
    pub fn last(set: &LabelledImages, n: usize, norm: Normalization) -> Self {
        let (first, pixels) = (set.images.count - n.min(set.images.count), set.images.pixels);
        Self::new(&set.images.data[first * pixels..], &set.labels[first..], pixels, norm)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Columns per row, the bias included.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The dense normalised rows `rows` (rows.len() x dim).
    pub fn rows(&self, rows: Range<usize>) -> &[T] {
        &self.x[rows.start * self.dim..rows.end * self.dim]
    }

    /// Dense normalised row `i`.
    pub fn row(&self, i: usize) -> &[T] {
        self.rows(i..i + 1)
    }
}

/// The data sets of one run, and the statistics used to normalise them.
#[derive(Debug, Clone)]
pub struct Splits<T> {
    pub train: Dataset<T>,
    /// Validation checks, early stopping and the final validation metrics.
    pub val: Dataset<T>,
    /// Evaluated once at the end, when validation comes from the training file.
    pub test: Option<Dataset<T>>,
    pub norm: Normalization,
}

/// The 2021 split: the first `train_size` images of the training file, and the last `val_size`
/// images of the test file (`X_test[-val_size:]`; all 10000 by default) for validation. With
/// `val_from_train` = N > 0, validation is the last N images of the training file instead (they
/// must not overlap the training images) and the test images are the test set.
pub fn split<T: Scalar>(
    mnist: &Mnist,
    train_size: usize,
    val_size: usize,
    val_from_train: usize,
    stats: NormStats,
) -> Result<Splits<T>, DataError> {
    let (train, test, pixels) = (&mnist.train, &mnist.test, mnist.pixels());
    let too_few = |set: &LabelledImages, what, requested| DataError::TooFew {
        path: set.images_path.clone(),
        what,
        requested,
        available: set.images.count,
    };
    let train_needed = train_size.saturating_add(val_from_train);
    if train_needed > train.images.count {
        let what = if val_from_train > 0 { "training + validation" } else { "training" };
        return Err(too_few(train, what, train_needed));
    }
    if val_size > test.images.count {
        return Err(too_few(test, if val_from_train > 0 { "test" } else { "validation" }, val_size));
    }
    let train_pixels = &train.images.data[..train_size * pixels];
    let norm = match stats {
        NormStats::FullTrain => Normalization::of(&train.images.data),
        NormStats::TrainSubset => Normalization::of(train_pixels),
    };
    let (val, test) = if val_from_train > 0 {
        (Dataset::last(train, val_from_train, norm), Some(Dataset::last(test, val_size, norm)))
    } else {
        (Dataset::last(test, val_size, norm), None)
    };
    Ok(Splits { train: Dataset::first(train, train_size, norm), val, test, norm })
}
