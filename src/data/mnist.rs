//! The four IDX files of an MNIST-format directory, loaded and checked against each other.

use std::path::{Path, PathBuf};

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
