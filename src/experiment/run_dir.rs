//! A run directory: `config.json`, `steps.csv`, `checks.csv`, `checkpoint.safetensors` while the
//! run is in flight, then `model.safetensors` (and `best.safetensors`) and `summary.json`.
//!
//! CSV rows are flushed as they are written, into `<name>.partial`; the final names appear only
//! by an atomic rename when the run ends (normally or by divergence). Every other file is written
//! to a temporary file, synced and renamed. A killed run therefore never leaves a truncated file
//! under a final name, a checkpoint always matches the log rows it counts (the logs are synced
//! first, and resuming cuts them back to those rows), and `summary.json` exists only for a
//! finished run.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::TrainError;
use crate::train::diagnostics::{LayerRow, LAYER_COLUMNS};
use crate::train::log::{CheckRow, RunSink, StepRow, Summary, CHECK_COLUMNS, STEP_COLUMNS};

pub const CONFIG_FILE: &str = "config.json";
pub const STEPS_FILE: &str = "steps.csv";
pub const CHECKS_FILE: &str = "checks.csv";
/// Per-layer diagnostics at every check (runs with `diagnostics` only).
pub const LAYERS_FILE: &str = "layers.csv";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub const MODEL_FILE: &str = "model.safetensors";
pub const BEST_FILE: &str = "best.safetensors";
pub const SUMMARY_FILE: &str = "summary.json";
/// Written instead of `summary.json` by a run that diverged: the error and the fingerprint, so that
/// the same run is not trained again only to diverge again.
pub const FAILED_FILE: &str = "failed.json";

/// Every file this program writes into a run directory (final names); `--force` removes these,
/// their `.partial` and `.tmp` siblings, and nothing else.
pub const RUN_FILES: &[&str] = &[
    SUMMARY_FILE,
    CONFIG_FILE,
    STEPS_FILE,
    CHECKS_FILE,
    LAYERS_FILE,
    CHECKPOINT_FILE,
    MODEL_FILE,
    BEST_FILE,
    FAILED_FILE,
];

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Output { path: path.to_path_buf(), source }
}

/// The lock file of a run directory: held (an advisory lock the OS releases when the process
/// dies) by the one process training the run; it holds that process's id.
pub const LOCK_FILE: &str = ".lock";

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// A run directory locked by this process.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl RunLock {
    /// Locks `dir` (creating it) for this process; None when another process holds it.
    pub fn try_acquire(dir: &Path) -> Result<Option<RunLock>, TrainError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io_err(&path))?;
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0).map_err(io_err(&path))?;
                file.rewind().map_err(io_err(&path))?;
                write!(file, "{}", std::process::id()).map_err(io_err(&path))?;
                Ok(Some(RunLock { _file: file }))
            }
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(io_err(&path)(e)),
        }
    }

    /// Locks `dir`, or fails naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock, TrainError> {
        Self::try_acquire(dir)?.ok_or_else(|| TrainError::Busy { path: dir.to_path_buf(), pid: holder(dir) })
    }
}

/// The process id written in `dir`'s lock file ("?" if unreadable).
pub fn holder(dir: &Path) -> String {
    let mut pid = String::new();
    match File::open(dir.join(LOCK_FILE)).and_then(|mut f| f.read_to_string(&mut pid)) {
        Ok(_) if !pid.is_empty() => pid,
        _ => "?".into(),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file of this process, synced, renamed over
/// `path`. On failure the temporary file is removed and `path` keeps its previous content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = sibling(path, &format!(".{}.tmp", std::process::id()));
    let written = (|| {
        let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io_err(path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json_atomic<S: Serialize>(path: &Path, value: &S) -> Result<(), TrainError> {
    let mut text = serde_json::to_string_pretty(value).expect("plain data serialises");
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

struct CsvLog {
    partial: PathBuf,
    target: PathBuf,
    writer: csv::Writer<File>,
}

impl CsvLog {
    /// A new log holding only its header.
    fn create(dir: &Path, name: &str, header: &[&str]) -> Result<Self, TrainError> {
        let target = dir.join(name);
        let partial = sibling(&target, ".partial");
        let file = File::create(&partial).map_err(io_err(&partial))?;
        let mut log = Self { writer: csv::WriterBuilder::new().has_headers(false).from_writer(file), partial, target };
        log.writer.write_record(header).map_err(|source| TrainError::Csv { path: log.partial.clone(), source })?;
        log.writer.flush().map_err(io_err(&log.partial))?;
        Ok(log)
    }

    /// The log of an interrupted run cut back to its header and first `rows` rows (what a
    /// checkpoint counted), open for appending.
    fn resume(dir: &Path, name: &str, rows: usize) -> Result<Self, TrainError> {
        let target = dir.join(name);
        let partial = sibling(&target, ".partial");
        if !partial.exists() && target.exists() {
            // Killed after the logs were published but before the summary: take them back.
            std::fs::rename(&target, &partial).map_err(io_err(&partial))?;
        }
        let text = std::fs::read(&partial).map_err(io_err(&partial))?;
        let ends: Vec<usize> = text.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1).collect();
        let keep = *ends.get(rows).ok_or_else(|| TrainError::Resume {
            path: partial.clone(),
            reason: format!("holds {} rows, the checkpoint counts {rows}", ends.len().saturating_sub(1)),
        })?;
        let file = OpenOptions::new().write(true).open(&partial).map_err(io_err(&partial))?;
        file.set_len(keep as u64).map_err(io_err(&partial))?;
        let file = OpenOptions::new().append(true).open(&partial).map_err(io_err(&partial))?;
        Ok(Self { writer: csv::WriterBuilder::new().has_headers(false).from_writer(file), partial, target })
    }

    fn row<R: Serialize>(&mut self, row: &R) -> Result<(), TrainError> {
        let csv_err = |source| TrainError::Csv { path: self.partial.clone(), source };
        self.writer.serialize(row).map_err(csv_err)?;
        self.writer.flush().map_err(io_err(&self.partial))
    }

    fn sync(&mut self) -> Result<(), TrainError> {
        self.writer.flush().map_err(io_err(&self.partial))?;
        self.writer.get_ref().sync_all().map_err(io_err(&self.partial))
    }

    fn finish(mut self) -> Result<(), TrainError> {
        self.sync()?;
        std::fs::rename(&self.partial, &self.target).map_err(io_err(&self.target))
    }
}

/// Writes one run directory.
pub struct RunWriter {
    dir: PathBuf,
    steps: CsvLog,
    checks: CsvLog,
    /// `layers.csv`, when the run has diagnostics.
    layers: Option<CsvLog>,
    /// Write a checkpoint at every this many validation checks (0: never).
    checkpoint_every: usize,
    checks_seen: usize,
}

impl RunWriter {
    /// Creates `dir` and writes `config.json`. Refuses a directory that already holds a run unless
    /// `force`, in which case the old run's files are removed first. `layers`: whether the run
    /// writes `layers.csv`.
    pub fn create<C: Serialize>(
        dir: &Path,
        config: &C,
        force: bool,
        checkpoint_every: usize,
        layers: bool,
    ) -> Result<Self, TrainError> {
        if holds_run(dir) {
            if !force {
                return Err(TrainError::OutputExists { path: dir.to_path_buf() });
            }
            remove_run_files(dir)?;
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        write_json_atomic(&dir.join(CONFIG_FILE), config)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            steps: CsvLog::create(dir, STEPS_FILE, STEP_COLUMNS)?,
            checks: CsvLog::create(dir, CHECKS_FILE, CHECK_COLUMNS)?,
            layers: if layers { Some(CsvLog::create(dir, LAYERS_FILE, LAYER_COLUMNS)?) } else { None },
            checkpoint_every,
            checks_seen: 0,
        })
    }

    /// Reopens the run in `dir` at a checkpoint that counted `steps` and `checks` log rows;
    /// `layers`: the diagnostics rows per check, when the run has them.
    pub fn resume(
        dir: &Path,
        steps: usize,
        checks: usize,
        checkpoint_every: usize,
        layers: Option<usize>,
    ) -> Result<Self, TrainError> {
        Ok(Self {
            dir: dir.to_path_buf(),
            steps: CsvLog::resume(dir, STEPS_FILE, steps)?,
            checks: CsvLog::resume(dir, CHECKS_FILE, checks)?,
            layers: layers.map(|per_check| CsvLog::resume(dir, LAYERS_FILE, checks * per_check)).transpose()?,
            checkpoint_every,
            checks_seen: checks,
        })
    }

    /// Publishes the logs, the model files and `summary.json`: the run is complete. `best` is the
    /// best check's model when it differs from the final one.
    pub fn finish(self, summary: &Summary, model: &[u8], best: Option<&[u8]>) -> Result<(), TrainError> {
        let dir = self.dir.clone();
        // The checkpoint goes last: killed before summary.json, the run resumes from it.
        self.publish_logs()?;
        write_atomic(&dir.join(MODEL_FILE), model)?;
        match best {
            Some(bytes) => write_atomic(&dir.join(BEST_FILE), bytes)?,
            None => remove_if_present(&dir.join(BEST_FILE))?,
        }
        write_json_atomic(&dir.join(SUMMARY_FILE), summary)?;
        remove_if_present(&dir.join(CHECKPOINT_FILE))
    }

    /// Publishes the logs of a run that ended in an error; no summary. `retire_checkpoint` (a
    /// divergence) removes the checkpoint too, so that the same failure is not resumed from.
    pub fn close_logs(self, retire_checkpoint: bool) -> Result<(), TrainError> {
        let dir = self.dir.clone();
        self.publish_logs()?;
        if retire_checkpoint {
            remove_if_present(&dir.join(CHECKPOINT_FILE))?;
        }
        Ok(())
    }

    /// Renames the logs to their final names.
    fn publish_logs(self) -> Result<(), TrainError> {
        self.steps.finish()?;
        self.checks.finish()?;
        self.layers.map_or(Ok(()), CsvLog::finish)
    }
}

fn remove_if_present(path: &Path) -> Result<(), TrainError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Removes the files this program writes into a run directory, and only those: the run's files,
/// their `.partial` logs and the temporary files of any process (`<file>.<pid>.tmp`).
pub fn remove_run_files(dir: &Path) -> Result<(), TrainError> {
    let entries = std::fs::read_dir(dir).map_err(io_err(dir))?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let ours = RUN_FILES.iter().any(|f| {
            let temporary = name.strip_prefix(&format!("{f}.")).and_then(|rest| rest.strip_suffix(".tmp"));
            name == *f
                || name == format!("{f}.partial")
                || temporary.is_some_and(|pid| pid.chars().all(|c| c.is_ascii_digit()))
        });
        if ours {
            remove_if_present(&entry.path())?;
        }
    }
    Ok(())
}

impl RunSink for RunWriter {
    fn step(&mut self, row: &StepRow) -> Result<(), TrainError> {
        self.steps.row(row)
    }

    fn check(&mut self, row: &CheckRow) -> Result<(), TrainError> {
        self.checks.row(row)
    }

    fn layers(&mut self, rows: &[LayerRow]) -> Result<(), TrainError> {
        let log = self.layers.as_mut().expect("layers.csv is open in a run with diagnostics");
        rows.iter().try_for_each(|row| log.row(row))
    }

    fn checkpoint(&mut self, bytes: &dyn Fn() -> Vec<u8>) -> Result<(), TrainError> {
        self.checks_seen += 1;
        if self.checkpoint_every == 0 || !self.checks_seen.is_multiple_of(self.checkpoint_every) {
            return Ok(());
        }
        // The rows the checkpoint counts must be on disk before it is.
        self.steps.sync()?;
        self.checks.sync()?;
        if let Some(layers) = self.layers.as_mut() {
            layers.sync()?;
        }
        write_atomic(&self.dir.join(CHECKPOINT_FILE), &bytes())
    }
}

/// Whether `dir` already holds (part of) a run.
pub fn holds_run(dir: &Path) -> bool {
    [SUMMARY_FILE, CONFIG_FILE].iter().any(|f| dir.join(f).exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_is_a_clear_error_keeps_the_old_file_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CHECKPOINT_FILE);
        write_atomic(&path, b"the previous checkpoint").unwrap();
        // This process's temporary file lands on a full disk.
        let tmp = sibling(&path, &format!(".{}.tmp", std::process::id()));
        std::os::unix::fs::symlink("/dev/full", &tmp).unwrap();
        let err = write_atomic(&path, b"the next checkpoint").unwrap_err().to_string();
        assert!(err.contains(&tmp.display().to_string()) && err.contains("No space left on device"), "{err}");
        assert!(!tmp.exists() && tmp.symlink_metadata().is_err(), "temporary file left behind");
        assert_eq!(std::fs::read(&path).unwrap(), b"the previous checkpoint");
    }

    #[test]
    fn a_run_directory_is_locked_by_one_process_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        // Another open file description conflicts as another process would.
        assert!(RunLock::try_acquire(dir.path()).unwrap().is_none());
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains(&format!("pid {}", std::process::id())), "{err}");
        drop(lock);
        assert!(RunLock::try_acquire(dir.path()).unwrap().is_some());
    }
}
