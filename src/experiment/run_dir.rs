//! A run directory: `config.json`, `steps.csv`, `checks.csv`, `summary.json`.
//!
//! CSV rows are flushed as they are written, into `<name>.partial`; the final names appear only
//! by an atomic rename when the run ends (normally or by divergence), and the JSON files are
//! written to a temporary file and renamed. A killed run therefore never leaves a truncated
//! file under a final name, and `summary.json` exists only for a finished run.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::TrainError;
use crate::train::log::{CheckRow, RunSink, StepRow, Summary};

pub const CONFIG_FILE: &str = "config.json";
pub const STEPS_FILE: &str = "steps.csv";
pub const CHECKS_FILE: &str = "checks.csv";
pub const SUMMARY_FILE: &str = "summary.json";

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Output { path: path.to_path_buf(), source }
}

/// Writes `value` as pretty JSON to `path` atomically (temporary file, fsync, rename).
pub fn write_json_atomic<S: Serialize>(path: &Path, value: &S) -> Result<(), TrainError> {
    let tmp = path.with_extension("json.tmp");
    let mut text = serde_json::to_string_pretty(value).expect("plain data serialises");
    text.push('\n');
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(text.as_bytes()).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

struct CsvLog {
    partial: PathBuf,
    target: PathBuf,
    writer: csv::Writer<File>,
}

impl CsvLog {
    fn create(dir: &Path, name: &str) -> Result<Self, TrainError> {
        let target = dir.join(name);
        let partial = dir.join(format!("{name}.partial"));
        let file = File::create(&partial).map_err(io_err(&partial))?;
        Ok(Self { writer: csv::Writer::from_writer(file), partial, target })
    }

    fn row<R: Serialize>(&mut self, row: &R) -> Result<(), TrainError> {
        let csv_err = |source| TrainError::Csv { path: self.partial.clone(), source };
        self.writer.serialize(row).map_err(csv_err)?;
        self.writer.flush().map_err(io_err(&self.partial))
    }

    fn finish(mut self) -> Result<(), TrainError> {
        self.writer.flush().map_err(io_err(&self.partial))?;
        self.writer.get_ref().sync_all().map_err(io_err(&self.partial))?;
        std::fs::rename(&self.partial, &self.target).map_err(io_err(&self.target))
    }
}

/// Writes one run directory.
pub struct RunWriter {
    dir: PathBuf,
    steps: CsvLog,
    checks: CsvLog,
}

impl RunWriter {
    /// Creates `dir` and writes `config.json`. Refuses a directory that already holds a run unless
    /// `force`, in which case the old run's files are removed first.
    pub fn create<C: Serialize>(dir: &Path, config: &C, force: bool) -> Result<Self, TrainError> {
        if holds_run(dir) {
            if !force {
                return Err(TrainError::OutputExists { path: dir.to_path_buf() });
            }
            for name in [SUMMARY_FILE, CONFIG_FILE, STEPS_FILE, CHECKS_FILE] {
                let path = dir.join(name);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(io_err(&path))?;
                }
            }
        }
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        write_json_atomic(&dir.join(CONFIG_FILE), config)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            steps: CsvLog::create(dir, STEPS_FILE)?,
            checks: CsvLog::create(dir, CHECKS_FILE)?,
        })
    }

    /// Publishes the logs and `summary.json`: the run is complete.
    pub fn finish(self, summary: &Summary) -> Result<(), TrainError> {
        let dir = self.dir.clone();
        self.close_logs()?;
        write_json_atomic(&dir.join(SUMMARY_FILE), summary)
    }

    /// Publishes the logs of a run that ended in an error (e.g. divergence); no summary.
    pub fn close_logs(self) -> Result<(), TrainError> {
        self.steps.finish()?;
        self.checks.finish()
    }
}

impl RunSink for RunWriter {
    fn step(&mut self, row: &StepRow) -> Result<(), TrainError> {
        self.steps.row(row)
    }
    fn check(&mut self, row: &CheckRow) -> Result<(), TrainError> {
        self.checks.row(row)
    }
}

/// Whether `dir` already holds (part of) a run.
pub fn holds_run(dir: &Path) -> bool {
    [SUMMARY_FILE, CONFIG_FILE].iter().any(|f| dir.join(f).exists())
}
