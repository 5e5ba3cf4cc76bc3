//! The data sets of a run: the raw pixels of its images (dense normalised rows with a bias column
//! are made from them as they are read), the sparse forms a run asks for (CSR for training batches,
//! groups of similar images for evaluation), and the 2021 split.

use std::ops::Range;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::mnist::{LabelledImages, Mnist};
use crate::config::NormStats;
use crate::error::DataError;
use kernels::sparse::grouped::{GroupCsr, GroupedImages, GROUP};
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
        let counts = pixels.par_chunks(1 << 20).map(histogram).reduce(|| [0; 256], |a, b| add(&a, &b));
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

/// How often each byte value occurs in `bytes`. Four interleaved counters: a run of equal bytes
/// does not wait on one counter's previous increment.
fn histogram(bytes: &[u8]) -> [u64; 256] {
    let mut counts = [[0u64; 256]; 4];
    let mut quads = bytes.chunks_exact(4);
    for q in &mut quads {
        (0..4).for_each(|k| counts[k][q[k] as usize] += 1);
    }
    quads.remainder().iter().for_each(|&b| counts[0][b as usize] += 1);
    counts.iter().fold([0; 256], |sum, c| add(&sum, c))
}

fn add(a: &[u64; 256], b: &[u64; 256]) -> [u64; 256] {
    std::array::from_fn(|v| a[v] + b[v])
}

/// The forms of a data set's images to build besides the raw bytes, which every data set keeps
/// (and from which any batch's dense rows can be made as it is read). Each form costs time and
/// memory: a run asks for the ones its kernels read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Forms {
    /// The normalised rows with their bias column, stored (read in long runs of rows).
    pub dense_rows: bool,
    /// The non-zero pixels of every image, in image order (compressed sparse rows).
    pub sparse_rows: bool,
    /// The non-zero pixels of groups of similar images.
    pub groups: bool,
}

impl Forms {
    /// Every form.
    pub const ALL: Forms = Forms { dense_rows: true, sparse_rows: true, groups: true };

    /// The bytes these forms of `images` (raw, `pixels` bytes each) take with elements of
    /// `element_bytes` bytes; the groups' at most (a group holds no more entries than its images'
    /// non-zero pixels).
    pub fn bytes(self, images: &[u8], pixels: usize, element_bytes: usize) -> u64 {
        let count = (images.len() / pixels) as u64;
        let nonzero =
            if self.sparse_rows || self.groups { images.iter().filter(|&&p| p != 0).count() as u64 } else { 0 };
        let (word, group) = (size_of::<u32>() as u64, GROUP as u64);
        let dense = if self.dense_rows { count * (pixels as u64 + 1) * element_bytes as u64 } else { 0 };
        let rows = if self.sparse_rows { nonzero * (word + 1) + (count + 1) * size_of::<usize>() as u64 } else { 0 };
        let groups = if self.groups {
            nonzero * (word + group) + count.div_ceil(group) * (group * word + size_of::<usize>() as u64)
        } else {
            0
        };
        dense + rows + groups
    }

    /// The forms either asks for.
    pub fn or(self, other: Forms) -> Forms {
        Forms {
            dense_rows: self.dense_rows || other.dense_rows,
            sparse_rows: self.sparse_rows || other.sparse_rows,
            groups: self.groups || other.groups,
        }
    }
}

/// The forms of a run's data sets: the training set's (what steps and evaluation read) and the
/// evaluated sets' (validation, test).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SplitForms {
    pub train: Forms,
    pub eval: Forms,
}

impl SplitForms {
    /// Every form of every set.
    pub const ALL: SplitForms = SplitForms { train: Forms::ALL, eval: Forms::ALL };
}

/// A data set: the raw pixels of its images (borrowed from the loaded file), their labels, the
/// normalisation table, and the forms that were asked for.
#[derive(Debug, Clone)]
pub struct Dataset<'a, T> {
    images: &'a [u8],
    pixels: usize,
    pub labels: Vec<u8>,
    /// The normalised value of every pixel byte.
    table: [T; 256],
    /// (len, dim) the normalised rows, when asked for.
    dense: Option<Vec<T>>,
    pub sparse: SparsePixels<T>,
}

/// The non-zero raw pixels of every image (CSR, for training batches) and of groups of similar
/// images (for evaluation), when built; the table raw value -> raw / sigma, and shift = mu /
/// sigma, so that a normalised pixel is `table[raw] - shift` (see `kernels::sparse`).
#[derive(Debug, Clone)]
pub struct SparsePixels<T> {
    pub rows: Option<CsrImages>,
    pub groups: Option<GroupedImages>,
    pub table: [T; 256],
    pub shift: T,
}

impl<T: Scalar> SparsePixels<T> {
    /// The forms `forms` of `images` (raw images of `pixels` bytes each).
    pub fn new(images: &[u8], pixels: usize, norm: Normalization, forms: Forms) -> Self {
        let (rows, groups) = rayon::join(
            || forms.sparse_rows.then(|| CsrImages::build(images, pixels)),
            || forms.groups.then(|| GroupedImages::build(images, pixels)),
        );
        Self {
            rows,
            groups,
            table: std::array::from_fn(|v| T::from_f64(v as f64 / norm.std)),
            shift: T::from_f64(norm.mean / norm.std),
        }
    }

    /// The sparse rows; the plan that reads them asked for them.
    pub fn csr(&self) -> Csr<'_, T> {
        self.rows.as_ref().expect("sparse rows asked for by the plan that reads them").view(&self.table)
    }

    /// The groups; the plan that reads them asked for them.
    pub fn groups(&self) -> GroupCsr<'_, T> {
        self.groups.as_ref().expect("groups asked for by the plan that reads them").view(&self.table)
    }

    /// Whether the groups were built and can compute the images `rows` (a run of whole grouping
    /// windows).
    pub fn groups_cover(&self, rows: &Range<usize>) -> bool {
        self.groups.as_ref().is_some_and(|g| g.covers(rows))
    }
}

impl<'a, T: Scalar> Dataset<'a, T> {
    /// The `labels.len()` images of `pixels` bytes each in `images`, with the forms `forms`.
    pub fn new(images: &'a [u8], labels: &[u8], pixels: usize, norm: Normalization, forms: Forms) -> Self {
        assert_eq!(images.len(), labels.len() * pixels, "one label per image");
        let table = norm.table().map(T::from_f64);
        let (dense, sparse) = rayon::join(
            || forms.dense_rows.then(|| normalise_all(images, pixels, &table)),
            || SparsePixels::new(images, pixels, norm, forms),
        );
        Self { images, pixels, labels: labels.to_vec(), table, dense, sparse }
    }

    /// The first `n` images of a file (at most its count).
    pub fn first(set: &'a LabelledImages, n: usize, norm: Normalization, forms: Forms) -> Self {
        let (n, pixels) = (n.min(set.images.count), set.images.pixels);
        Self::new(&set.images.data[..n * pixels], &set.labels[..n], pixels, norm, forms)
    }

    /// The last `n` images of a file (at most its count), as the 2021 split takes them.
    pub fn last(set: &'a LabelledImages, n: usize, norm: Normalization, forms: Forms) -> Self {
        let (first, pixels) = (set.images.count - n.min(set.images.count), set.images.pixels);
        Self::new(&set.images.data[first * pixels..], &set.labels[first..], pixels, norm, forms)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Columns per row, the bias included.
    pub fn dim(&self) -> usize {
        self.pixels + 1
    }

    /// The stored dense normalised rows `rows` (rows.len() x dim); the plan that reads them asked
    /// for them.
    pub fn rows(&self, rows: Range<usize>) -> &[T] {
        let dense = self.dense.as_ref().expect("dense rows asked for by the plan that reads them");
        &dense[rows.start * self.dim()..rows.end * self.dim()]
    }

    /// Writes the dense normalised rows `rows` into `out` (rows.len() x dim) from the raw pixels:
    /// the pixels through the normalisation table, then the bias column of ones.
    pub fn dense_rows(&self, rows: impl Iterator<Item = usize>, out: &mut [T]) {
        normalise(self.images, self.pixels, &self.table, rows, out)
    }
}

/// Writes the rows `rows` of `images` (raw, `pixels` bytes each) into `out` (rows x (pixels + 1)):
/// the pixels through `table`, then a one.
fn normalise<T: Scalar>(
    images: &[u8],
    pixels: usize,
    table: &[T; 256],
    rows: impl Iterator<Item = usize>,
    out: &mut [T],
) {
    let mut chunks = out.chunks_exact_mut(pixels + 1);
    for i in rows {
        let row = chunks.next().expect("room for every row");
        let image = &images[i * pixels..(i + 1) * pixels];
        row[..pixels].iter_mut().zip(image).for_each(|(x, &v)| *x = table[v as usize]);
        row[pixels] = T::ONE;
    }
}

/// Every image of `images` normalised (see [`normalise`]), in blocks over the rayon pool.
fn normalise_all<T: Scalar>(images: &[u8], pixels: usize, table: &[T; 256]) -> Vec<T> {
    const BLOCK: usize = 256;
    let dim = pixels + 1;
    let mut out = vec![T::ZERO; images.len() / pixels * dim];
    out.par_chunks_mut(BLOCK * dim).enumerate().for_each(|(b, block)| {
        let start = b * BLOCK;
        normalise(images, pixels, table, start..start + block.len() / dim, block)
    });
    out
}

/// The data sets of one run, and the statistics used to normalise them.
#[derive(Debug, Clone)]
pub struct Splits<'a, T> {
    pub train: Dataset<'a, T>,
    /// Validation checks, early stopping and the final validation metrics.
    pub val: Dataset<'a, T>,
    /// Evaluated once at the end, when validation comes from the training file.
    pub test: Option<Dataset<'a, T>>,
    pub norm: Normalization,
}

/// The 2021 split: the first `train_size` images of the training file, and the last `val_size`
/// images of the test file (`X_test[-val_size:]`; all 10000 by default) for validation. With
/// `val_from_train` = N > 0, validation is the last N images of the training file instead (they
/// must not overlap the training images) and the test images are the test set. The data sets
/// borrow the pixels of `mnist` and hold the forms `forms` asks for.
pub fn split<'a, T: Scalar>(
    mnist: &'a Mnist,
    train_size: usize,
    val_size: usize,
    val_from_train: usize,
    stats: NormStats,
    forms: SplitForms,
) -> Result<Splits<'a, T>, DataError> {
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
    let norm = match stats {
        NormStats::FullTrain => mnist.train_norm(),
        NormStats::TrainSubset => Normalization::of(&train.images.data[..train_size * pixels]),
    };
    if norm.std <= 0.0 || norm.std.is_nan() {
        let which = match stats {
            NormStats::FullTrain => "all of its images",
            NormStats::TrainSubset => "the training images",
        };
        return Err(DataError::Constant { path: train.images_path.clone(), which, value: norm.mean });
    }
    let eval = |set, n| Dataset::last(set, n, norm, forms.eval);
    let ((val, test), train) = rayon::join(
        || {
            if val_from_train > 0 {
                (eval(train, val_from_train), Some(eval(test, val_size)))
            } else {
                (eval(test, val_size), None)
            }
        },
        || Dataset::first(train, train_size, norm, forms.train),
    );
    Ok(Splits { train, val, test, norm })
}

/// The bytes the forms of [`split`]'s data sets take (sizes beyond the files count as the files).
pub fn split_bytes(
    mnist: &Mnist,
    train_size: usize,
    val_size: usize,
    val_from_train: usize,
    forms: SplitForms,
    element_bytes: usize,
) -> u64 {
    let pixels = mnist.pixels();
    fn last(set: &LabelledImages, n: usize) -> &[u8] {
        let data = &set.images.data;
        &data[data.len() - n.min(set.images.count) * set.images.pixels..]
    }
    let eval = |images| forms.eval.bytes(images, pixels, element_bytes);
    let evaluated = if val_from_train > 0 {
        eval(last(&mnist.train, val_from_train)) + eval(last(&mnist.test, val_size))
    } else {
        eval(last(&mnist.test, val_size))
    };
    let train = &mnist.train.images.data[..train_size.min(mnist.train.images.count) * pixels];
    forms.train.bytes(train, pixels, element_bytes) + evaluated
}
