//! MNIST-format data: reading the four IDX files of a directory, the 2021 train/validation split,
//! global mean/std normalisation and the bias column.

pub mod idx;

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::DataError;
use idx::Images;
use kernels::sparse::NO_PARTNER;
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

/// Images per pairing window: evaluation pairs each image with a similar one of its window of
/// this many images (aligned at multiples of it), so ranges of whole windows can run paired.
pub const PAIR_WINDOW: usize = 250;

/// The non-zero raw pixels of every image (CSR, for training batches) and of pairs of similar
/// images (for evaluation), the table raw value -> raw / sigma, and shift = mu / sigma, so that
/// a normalised pixel is `table[raw] - shift` (see `kernels::sparse`).
#[derive(Debug, Clone)]
pub struct SparsePixels<T> {
    pub row_ptr: Vec<usize>,
    pub cols: Vec<u32>,
    pub bytes: Vec<u8>,
    pub pair_ptr: Vec<usize>,
    pub pair_images: Vec<[u32; 2]>,
    pub pair_cols: Vec<u32>,
    pub pair_bytes: Vec<[u8; 2]>,
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
        let pair_images: Vec<[u32; 2]> = (0..n)
            .step_by(PAIR_WINDOW)
            .flat_map(|s| similar_pairs(&row_ptr, &cols, pixels, s..n.min(s + PAIR_WINDOW)))
            .collect();
        let (mut pair_ptr, mut pair_cols, mut pair_bytes) = (vec![0], Vec::new(), Vec::new());
        let blank = vec![0u8; pixels];
        let image = |i: u32| if i == NO_PARTNER { &blank[..] } else { &images[i as usize * pixels..][..pixels] };
        for &[i0, i1] in &pair_images {
            let (a, b) = (image(i0), image(i1));
            for (q, (&a, &b)) in a.iter().zip(b).enumerate().filter(|(_, (&a, &b))| a != 0 || b != 0) {
                pair_cols.push(q as u32);
                pair_bytes.push([a, b]);
            }
            pair_ptr.push(pair_cols.len());
        }
        let table = std::array::from_fn(|v| T::from_f64(v as f64 / norm.std));
        let shift = T::from_f64(norm.mean / norm.std);
        Self { row_ptr, cols, bytes, pair_ptr, pair_images, pair_cols, pair_bytes, table, shift }
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

    pub fn pairs(&self) -> kernels::sparse::PairCsr<'_, T> {
        kernels::sparse::PairCsr {
            pair_ptr: &self.pair_ptr,
            images: &self.pair_images,
            cols: &self.pair_cols,
            bytes: &self.pair_bytes,
            table: &self.table,
        }
    }

    /// Whether `rows` is a run of whole pairing windows (the last may end with the set), which
    /// [`kernels::sparse::paired_forward`] can compute from its pairs.
    pub fn pairs_cover(&self, rows: &Range<usize>) -> bool {
        rows.start.is_multiple_of(PAIR_WINDOW) && (rows.end.is_multiple_of(PAIR_WINDOW) || rows.end == self.len())
    }
}

/// Pairs of the images `window` that share many non-zero pixels: greedily, the image with the
/// most non-zeros first, each with the free image whose pixels overlap it most (the first on a
/// tie). A pair's shared pixels cost one weight-row load instead of two; on MNIST this cuts the
/// paired entries from 77% of the non-zeros (consecutive images) to 63%.
fn similar_pairs(row_ptr: &[usize], cols: &[u32], pixels: usize, window: Range<usize>) -> Vec<[u32; 2]> {
    let words = pixels.div_ceil(64);
    let mut bits = vec![0u64; window.len() * words];
    for (set, i) in bits.chunks_exact_mut(words).zip(window.clone()) {
        cols[row_ptr[i]..row_ptr[i + 1]].iter().for_each(|&q| set[q as usize / 64] |= 1 << (q % 64));
    }
    let set = |k: usize| &bits[k * words..(k + 1) * words];
    let overlap = |a: usize, b: usize| -> u32 { set(a).iter().zip(set(b)).map(|(x, y)| (x & y).count_ones()).sum() };
    let mut order: Vec<usize> = (0..window.len()).collect();
    order.sort_by_key(|&k| std::cmp::Reverse(row_ptr[window.start + k + 1] - row_ptr[window.start + k]));
    let mut free = vec![true; window.len()];
    let mut pairs = Vec::with_capacity(window.len().div_ceil(2));
    for k in order {
        if !free[k] {
            continue;
        }
        free[k] = false;
        let partner = (0..window.len()).filter(|&j| free[j]).max_by_key(|&j| (overlap(k, j), std::cmp::Reverse(j)));
        let id = |k: usize| (window.start + k) as u32;
        pairs.push([id(k), partner.map_or(NO_PARTNER, id)]);
        if let Some(j) = partner {
            free[j] = false;
        }
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
