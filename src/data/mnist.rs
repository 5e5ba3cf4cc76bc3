//! The four IDX files of an MNIST-format directory, loaded and checked against each other.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::dataset::Normalization;
use super::idx::{self, Images};
use crate::error::DataError;

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
    /// sha256 of the decompressed image and label files, hex.
    pub images_sha256: String,
    pub labels_sha256: String,
}

/// The raw (unnormalised) training and test files of a data directory.
#[derive(Debug, Clone)]
pub struct Mnist {
    pub train: LabelledImages,
    pub test: LabelledImages,
    /// The statistics of the whole training file, computed once for all the runs that read it.
    train_norm: OnceLock<Normalization>,
}

/// sha256 of `bytes`, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
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
    let (image_bytes, label_bytes) = (idx::read_maybe_gz(&images_path)?, idx::read_maybe_gz(&labels_path)?);
    let (images_sha256, labels_sha256) = (sha256_hex(&image_bytes), sha256_hex(&label_bytes));
    let images = idx::parse_images(&images_path, image_bytes)?;
    let labels = idx::parse_labels(&labels_path, &label_bytes)?;
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path,
            n_images: images.count,
            labels: labels_path,
            n_labels: labels.len(),
        });
    }
    Ok(LabelledImages { images, labels, images_path, images_sha256, labels_sha256 })
}

impl Mnist {
    /// Loads and validates the four standard files of `dir`.
    pub fn load(dir: &Path) -> Result<Self, DataError> {
        let (train, test) =
            rayon::join(|| load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS), || load_pair(dir, TEST_IMAGES, TEST_LABELS));
        let (train, test) = (train?, test?);
        if train.images.pixels != test.images.pixels {
            return Err(DataError::ShapeMismatch {
                images: test.images_path,
                found: test.images.pixels,
                other: train.images_path,
                expected: train.images.pixels,
            });
        }
        Ok(Self { train, test, train_norm: OnceLock::new() })
    }

    pub fn pixels(&self) -> usize {
        self.train.images.pixels
    }

    /// The mean and standard deviation of every pixel of the training file.
    pub fn train_norm(&self) -> Normalization {
        *self.train_norm.get_or_init(|| Normalization::of(&self.train.images.data))
    }

    /// The content hash of each of the four files (decompressed), by standard file name.
    pub fn file_hashes(&self) -> Vec<(&'static str, &str)> {
        vec![
            (TRAIN_IMAGES, &self.train.images_sha256),
            (TRAIN_LABELS, &self.train.labels_sha256),
            (TEST_IMAGES, &self.test.images_sha256),
            (TEST_LABELS, &self.test.labels_sha256),
        ]
    }

    /// One hash over the four files' hashes: what the data contributes to a run's fingerprint.
    pub fn content_hash(&self) -> String {
        let joined: String = self.file_hashes().iter().map(|(name, h)| format!("{name} {h}\n")).collect();
        sha256_hex(joined.as_bytes())
    }
}
