//! Typed errors of the library. The CLI turns them into messages and exit codes.

use std::path::PathBuf;

/// A problem with an input data file. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a valid gzip stream ({source})")]
    Gzip { path: PathBuf, source: std::io::Error },
    #[error("{path}: file is {found} bytes, too short for an IDX header of {expected} bytes")]
    ShortHeader { path: PathBuf, expected: usize, found: usize },
    #[error("{path}: bad magic number {found} (expected {expected}, the IDX {kind} magic)")]
    BadMagic { path: PathBuf, kind: &'static str, expected: u32, found: u32 },
    #[error("{path}: header promises {expected} data bytes but the file holds {found}{}", if found < expected { " (truncated)" } else { " (trailing bytes)" })]
    Length { path: PathBuf, expected: usize, found: usize },
    #[error("{path}: images of {rows} x {cols} pixels (an image needs at least one pixel)")]
    EmptyImages { path: PathBuf, rows: u32, cols: u32 },
    #[error("{path}: label {label} at index {index} is out of range (expected 0..=9)")]
    LabelOutOfRange { path: PathBuf, index: usize, label: u8 },
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch { images: PathBuf, n_images: usize, labels: PathBuf, n_labels: usize },
    #[error("{images} has {found} pixels per image but {other} has {expected}")]
    ShapeMismatch { images: PathBuf, found: usize, other: PathBuf, expected: usize },
    #[error("requested {requested} {what} images but {path} holds only {available}")]
    TooFew { path: PathBuf, what: &'static str, requested: usize, available: usize },
    #[error("no {name} (or {name}.gz) in {dir}")]
    Missing { dir: PathBuf, name: &'static str },
    #[error(
        "the {dataset} data set is not installed (no {dir}): install it with `sudo apt-get install {package}` \
         (or `make setup`), or give --data-dir with a directory of its IDX files"
    )]
    NotInstalled { dataset: &'static str, dir: PathBuf, package: &'static str },
    #[error("{path}: {reason}")]
    BadImage { path: PathBuf, reason: String },
    #[error("{path}: every pixel of {which} is {value}: a standard deviation of 0 cannot normalise them")]
    Constant { path: PathBuf, which: &'static str, value: f64 },
}

/// A model file that cannot be used. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: not a usable model file: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{path} does not fit {data}: {reason}")]
    DoesNotFit { path: PathBuf, data: PathBuf, reason: String },
}

/// A hyperparameter that makes no sense, found before any training starts.
#[derive(Debug, thiserror::Error)]
#[error("invalid {key} = {value}: {reason}")]
pub struct ConfigError {
    pub key: &'static str,
    pub value: String,
    pub reason: String,
}

/// What can stop a training run.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("training diverged: {what} is {value} at step {step} (epoch {epoch}); lower the learning rate. The logs written so far are kept")]
    Diverged { what: &'static str, value: f64, step: usize, epoch: usize },
    #[error("{path} already holds a run; pass --force to replace it, --resume {path} to continue an unfinished one, or choose another --out")]
    OutputExists { path: PathBuf },
    #[error("{path} already holds a run with a different configuration under the same id; refusing to overwrite it (use --force, or another --out)")]
    Conflict { path: PathBuf },
    #[error("writing {path}: {source}")]
    Output { path: PathBuf, source: std::io::Error },
    #[error("writing {path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("cannot read {path}: {source}")]
    Input { path: PathBuf, source: std::io::Error },
    #[error("run `{id}` is in {first} and in {second} with different configurations or fingerprints: report them separately or remove one")]
    DuplicateRun { id: String, first: PathBuf, second: PathBuf },
    #[error("{path} is in use by another process (pid {pid}): a run is trained by one process at a time")]
    Busy { path: PathBuf, pid: String },
    #[error("{path} was made by another run ({why} changed): resuming from it would not give this run; pass --force to train it again from the start")]
    StaleCheckpoint { path: PathBuf, why: String },
    #[error("cannot resume from {path}: {reason}; pass --force to train the run again from the start")]
    Resume { path: PathBuf, reason: String },
    #[error("a network of {parameters} parameters needs about {needed_mib} MiB to train, and {available_mib} MiB are available; use fewer or smaller hidden layers")]
    TooLarge { parameters: String, needed_mib: u64, available_mib: u64 },
    #[error("cannot start the run's threads: {0}")]
    Threads(String),
}
