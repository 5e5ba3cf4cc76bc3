//! A run directory: `config.json`, `steps.csv`, `checks.csv`, `checkpoint.safetensors` while the
//! run is in flight, then `model.safetensors` (and `best.safetensors`) and `summary.json`.
//!
//! CSV rows are flushed as they are written, into `<name>.partial`; the final names appear only
//! by an atomic rename when the run ends (normally or by divergence). Every other file is written
//! to a temporary file, synced and renamed. A killed run therefore never leaves a truncated file
//! under a final name, a checkpoint always matches the log rows it counts (the logs are synced
//! first, and resuming cuts them back to those rows), and `summary.json` exists only for a
//! finished run.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::TrainError;
use crate::train::log::{CheckRow, RunSink, StepRow, Summary, CHECK_COLUMNS, STEP_COLUMNS};

pub const CONFIG_FILE: &str = "config.json";
pub const STEPS_FILE: &str = "steps.csv";
pub const CHECKS_FILE: &str = "checks.csv";
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
pub const MODEL_FILE: &str = "model.safetensors";
pub const BEST_FILE: &str = "best.safetensors";
pub const SUMMARY_FILE: &str = "summary.json";

/// Every file this program writes into a run directory (final names); `--force` removes these,
/// their `.partial` and `.tmp` siblings, and nothing else.
pub const RUN_FILES: &[&str] =
    &[SUMMARY_FILE, CONFIG_FILE, STEPS_FILE, CHECKS_FILE, CHECKPOINT_FILE, MODEL_FILE, BEST_FILE];

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Output { path: path.to_path_buf(), source }
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// Writes `bytes` to `path` atomically: a temporary file, synced, renamed over `path`. On failure
/// the temporary file is removed and `path` keeps its previous content.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    let tmp = sibling(path, ".tmp");
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
    /// Write a checkpoint at every this many validation checks (0: never).
    checkpoint_every: usize,
    checks_seen: usize,
}

impl RunWriter {
    /// Creates `dir` and writes `config.json`. Refuses a directory that already holds a run unless
    /// `force`, in which case the old run's files are removed first.
    pub fn create<C: Serialize>(
        dir: &Path,
        config: &C,
        force: bool,
        checkpoint_every: usize,
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
            checkpoint_every,
            checks_seen: 0,
        })
    }

    /// Reopens the run in `dir` at a checkpoint that counted `steps` and `checks` log rows.
    pub fn resume(dir: &Path, steps: usize, checks: usize, checkpoint_every: usize) -> Result<Self, TrainError> {
        Ok(Self {
            dir: dir.to_path_buf(),
            steps: CsvLog::resume(dir, STEPS_FILE, steps)?,
            checks: CsvLog::resume(dir, CHECKS_FILE, checks)?,
            checkpoint_every,
            checks_seen: checks,
        })
    }

    /// Publishes the logs, the model files and `summary.json`: the run is complete. `best` is the
    /// best check's model when it differs from the final one.
    pub fn finish(self, summary: &Summary, model: &[u8], best: Option<&[u8]>) -> Result<(), TrainError> {
        let dir = self.dir.clone();
        self.close_logs()?;
        write_atomic(&dir.join(MODEL_FILE), model)?;
        match best {
            Some(bytes) => write_atomic(&dir.join(BEST_FILE), bytes)?,
            None => remove_if_present(&dir.join(BEST_FILE))?,
        }
        write_json_atomic(&dir.join(SUMMARY_FILE), summary)?;
        remove_if_present(&dir.join(CHECKPOINT_FILE))
    }

    /// Publishes the logs of a run that ended in an error (e.g. divergence); no summary, and no
    /// checkpoint to resume the same failure from.
    pub fn close_logs(self) -> Result<(), TrainError> {
        self.steps.finish()?;
        self.checks.finish()?;
        remove_if_present(&self.dir.join(CHECKPOINT_FILE))
    }
}

fn remove_if_present(path: &Path) -> Result<(), TrainError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Removes the files this program writes into a run directory, and only those.
pub fn remove_run_files(dir: &Path) -> Result<(), TrainError> {
    for name in RUN_FILES {
        let path = dir.join(name);
        for p in [sibling(&path, ".partial"), sibling(&path, ".tmp"), path] {
            remove_if_present(&p)?;
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

    fn checkpoint(&mut self, bytes: &dyn Fn() -> Vec<u8>) -> Result<(), TrainError> {
        self.checks_seen += 1;
        if self.checkpoint_every == 0 || !self.checks_seen.is_multiple_of(self.checkpoint_every) {
            return Ok(());
        }
        // The rows the checkpoint counts must be on disk before it is.
        self.steps.sync()?;
        self.checks.sync()?;
        write_atomic(&self.dir.join(CHECKPOINT_FILE), &bytes())
    }
}

/// Whether `dir` already holds (part of) a run.
pub fn holds_run(dir: &Path) -> bool {
    [SUMMARY_FILE, CONFIG_FILE].iter().any(|f| dir.join(f).exists())
}
