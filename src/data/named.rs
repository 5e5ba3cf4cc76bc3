//! Named data sets: where the four IDX files of each are found.

use std::path::{Path, PathBuf};

use crate::config::DatasetName;
use crate::error::DataError;

/// The Debian package that installs Fashion-MNIST under `/usr/share/datasets/fashion-mnist`.
pub const FASHION_PACKAGE: &str = "dataset-fashion-mnist";

/// Where system-wide data sets live; `MLP_DATASETS_DIR` replaces it (a cluster without Debian's
/// packages, a copy on a faster disk).
fn datasets_root() -> PathBuf {
    std::env::var_os("MLP_DATASETS_DIR").map_or_else(|| PathBuf::from("/usr/share/datasets"), PathBuf::from)
}

/// The directory of `name`'s files: MNIST is the copy in `data/mnist` (under the working
/// directory, else the source tree's); Fashion-MNIST is Debian's package, and a clear error
/// naming it when it is not installed.
pub fn dataset_dir(name: DatasetName) -> Result<PathBuf, DataError> {
    match name {
        DatasetName::Mnist => {
            let local = PathBuf::from("data/mnist");
            Ok(if local.is_dir() { local } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist") })
        }
        DatasetName::FashionMnist => {
            let dir = datasets_root().join("fashion-mnist");
            if dir.is_dir() {
                Ok(dir)
            } else {
                Err(DataError::NotInstalled { dataset: "fashion-mnist", dir, package: FASHION_PACKAGE })
            }
        }
    }
}
