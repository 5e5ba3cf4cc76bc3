//! MNIST-format data: reading the four IDX files of a directory ([`idx`]), and the data sets of a
//! run ([`dataset`]): the 2021 train/validation split, global mean/std normalisation, the bias
//! column, and the sparse layouts the fast kernels read.

mod dataset;
pub mod idx;
mod inputs;
mod mnist;
mod named;

pub use dataset::{split, split_bytes, Dataset, Forms, Normalization, SparsePixels, SplitForms, Splits};
pub use inputs::{read_inputs, InputImages};
pub use mnist::{sha256_hex, LabelledImages, Mnist, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
pub use named::{dataset_dir, FASHION_PACKAGE};
