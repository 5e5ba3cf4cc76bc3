//! Summaries of a set of runs: `summary.csv` (one row per run) and `summary.md` (the report-style
//! table), rebuilt from run directories, so shards merge by reading them together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::compare::{mean_std, welch, Comparison};
use super::executor::read_summary;
use super::fingerprint::{Fingerprint, SOURCE};
use super::presets;
use super::run::{read_json, read_record, FailedRun};
use super::run_dir::FAILED_FILE;
use super::run_dir::{write_atomic, write_json_atomic};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::train::log::Summary;

/// A finished run as its directory records it.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectedRun {
    pub id: String,
    pub config: TrainConfig,
    pub summary: Summary,
    /// Absent in runs written before fingerprints existed.
    pub fingerprint: Option<Fingerprint>,
}

impl CollectedRun {
    /// Whether this binary's source made it (a run with another source, or none recorded, is
    /// stale).
    pub fn current_code(&self) -> bool {
        self.fingerprint.as_ref().is_some_and(|f| f.source == SOURCE)
    }
}

/// The columns of `summary.csv`, in order: only ever appended to. Every knob of [`TrainConfig`]
/// and every field of [`Summary`] but `restored_best` (the `restore_best` knob says it) must be
/// here (a test checks it); `fingerprint` is the run's fingerprint id, `source` and `data` the
/// first 16 hex digits of those parts.
pub const COLUMNS: &[&str] = &[
    "run",
    "hidden",
    "activation",
    "init",
    "lr",
    "momentum",
    "batch_size",
    "epochs",
    "patience",
    "early_stopping",
    "checks_per_epoch",
    "validation",
    "restore_best",
    "seed",
    "rng",
    "precision",
    "train_size",
    "val_size",
    "norm_stats",
    "stop_epoch",
    "steps",
    "best_step",
    "best_val_loss",
    "final_train_loss",
    "final_train_acc",
    "final_val_loss",
    "final_val_acc",
    "train_wall_s",
    "kernels",
    "first_layer",
    "val_from_train",
    "final_test_loss",
    "final_test_acc",
    "fingerprint",
    "source",
    "data",
    "dataset",
    "diagnostics",
    "threads",
    "optimizer",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "lr_schedule",
    "warmup_steps",
    "lr_min",
    "lr_decay_epochs",
    "lr_decay",
    "dropout",
    "bias",
];

/// A value as one CSV cell: lists joined with `x` (hidden 60x60), strings bare, null empty.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join("x"),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Every field of a struct, by name.
fn fields<S: serde::Serialize>(value: &S) -> BTreeMap<String, String> {
    let v = serde_json::to_value(value).expect("plain data");
    v.as_object().expect("a struct").iter().map(|(k, v)| (k.clone(), cell(v))).collect()
}

/// One run's row of `summary.csv`: (column, cell) in [`COLUMNS`] order.
pub fn summary_row(run: &CollectedRun) -> Vec<(&'static str, String)> {
    let mut values = fields(&run.config);
    values.extend(fields(&run.summary));
    values.insert("run".into(), run.id.clone());
    if let Some(f) = &run.fingerprint {
        values.insert("fingerprint".into(), f.id.clone());
        // Short forms; a hand-edited record may hold anything, so by characters, not bytes.
        values.insert("source".into(), f.source.chars().take(16).collect());
        values.insert("data".into(), f.data.chars().take(16).collect());
    }
    COLUMNS.iter().map(|&c| (c, values.remove(c).unwrap_or_default())).collect()
}

/// What a scan of run directories found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// Finished runs, by id.
    pub runs: Vec<CollectedRun>,
    /// Run directories that could not be read, with the reason.
    pub broken: Vec<(PathBuf, String)>,
    /// Run directories without a summary: in progress, or interrupted.
    pub unfinished: Vec<PathBuf>,
    /// Run directories of runs that failed for good (diverged), with the error.
    pub failed: Vec<(PathBuf, String)>,
}

/// The run directories directly under each of `dirs` (or `dirs` themselves). A directory that
/// does not exist is an error; so is one run id found twice with different configurations or
/// fingerprints (the same run found twice counts once).
pub fn collect_runs(dirs: &[PathBuf]) -> Result<Scan, TrainError> {
    let mut found: BTreeMap<String, (PathBuf, CollectedRun)> = BTreeMap::new();
    let mut scan = Scan::default();
    for dir in dirs {
        let entries = std::fs::read_dir(dir).map_err(|source| TrainError::Input { path: dir.clone(), source })?;
        let mut candidates = vec![dir.clone()];
        let mut subdirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
        subdirs.sort();
        candidates.extend(subdirs);
        for d in candidates {
            let (record, summary) = match (read_record(&d), read_summary(&d)) {
                (Ok(None), Ok(None)) => continue,
                (Ok(Some(r)), Ok(Some(s))) => (r, s),
                (Ok(_), Ok(None)) => {
                    match read_json::<FailedRun>(&d.join(FAILED_FILE)) {
                        Ok(Some(f)) => scan.failed.push((d, f.error)),
                        _ => scan.unfinished.push(d),
                    }
                    continue;
                }
                (Ok(None), Ok(Some(_))) => {
                    scan.broken.push((d, "summary.json without config.json".into()));
                    continue;
                }
                (Err(reason), _) | (_, Err(reason)) => {
                    scan.broken.push((d, reason));
                    continue;
                }
            };
            let id = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let run = CollectedRun { id: id.clone(), config: record.config, summary, fingerprint: record.fingerprint };
            match found.get(&id) {
                Some((_, seen)) if seen.config == run.config && seen.fingerprint == run.fingerprint => {}
                Some((first, _)) => {
                    return Err(TrainError::DuplicateRun { id, first: first.clone(), second: d });
                }
                None => {
                    found.insert(id, (d, run));
                }
            }
        }
    }
    scan.runs = found.into_values().map(|(_, r)| r).collect();
    Ok(scan)
}

/// The comparisons a sweep declared, kept beside its runs for `mlp report`.
pub const COMPARISONS_FILE: &str = "comparisons.json";

/// The comparisons recorded in the first of `dirs` that has them (none when none has).
pub fn read_comparisons(dirs: &[PathBuf]) -> Result<Vec<Comparison>, TrainError> {
    for dir in dirs {
        let path = dir.join(COMPARISONS_FILE);
        let found = read_json::<Vec<Comparison>>(&path)
            .map_err(|reason| TrainError::Input { path: path.clone(), source: std::io::Error::other(reason) })?;
        if let Some(c) = found {
            return Ok(c);
        }
    }
    Ok(Vec::new())
}

/// Records `comparisons` in `out` (removes a stale record when there are none).
pub fn write_comparisons(comparisons: &[Comparison], out: &Path) -> Result<(), TrainError> {
    let path = out.join(COMPARISONS_FILE);
    if comparisons.is_empty() {
        return match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::Output { path, source: e }),
            _ => Ok(()),
        };
    }
    std::fs::create_dir_all(out).map_err(|source| TrainError::Output { path: out.into(), source })?;
    write_json_atomic(&path, &comparisons)
}

/// Writes `summary.csv` (one row per run) and `summary.md` (report-style table; runs that differ
/// only in seed are grouped as mean +- std; then `comparisons`, if any) into `out`.
pub fn write_summaries(runs: &[CollectedRun], comparisons: &[Comparison], out: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|source| TrainError::Output { path: out.into(), source })?;
    let csv_path = out.join("summary.csv");
    let csv_err = |source| TrainError::Csv { path: csv_path.clone(), source };
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(COLUMNS).map_err(csv_err)?;
    for run in runs {
        w.write_record(summary_row(run).iter().map(|(_, v)| v)).map_err(csv_err)?;
    }
    let bytes = w.into_inner().map_err(|e| TrainError::Output { path: csv_path.clone(), source: e.into_error() })?;
    write_atomic(&csv_path, &bytes)?;
    let mut md = summary_markdown(runs);
    if !comparisons.is_empty() {
        md += &comparisons_markdown(comparisons, runs);
    }
    write_atomic(&out.join("summary.md"), md.as_bytes())
}

/// The report-style table; groups runs whose configs differ only in the seed. A run made by other
/// code than this binary's is marked stale.
pub fn summary_markdown(runs: &[CollectedRun]) -> String {
    // A group: the same id up to its -s<seed> suffix, the same config up to the seed, made by the
    // same (current or other) code.
    let mut groups: Vec<(String, TrainConfig, bool, Vec<&Summary>)> = Vec::new();
    for run in runs {
        let (label, key, stale) =
            (strip_seed(&run.id), TrainConfig { seed: 0, ..run.config.clone() }, !run.current_code());
        match groups.iter_mut().find(|g| g.0 == label && g.1 == key && g.2 == stale) {
            Some(g) => g.3.push(&run.summary),
            None => groups.push((label.to_string(), key, stale, vec![&run.summary])),
        }
    }
    // The study's runs in the report's order, then everything else by name.
    let rank = |label: &str| presets::PRESETS.iter().position(|p| p.name == label).unwrap_or(usize::MAX);
    groups.sort_by(|a, b| (rank(&a.0), &a.0, a.2).cmp(&(rank(&b.0), &b.0, b.2)));
    let mut md = String::from(
        "| model | runs | stopping epoch | training loss | training accuracy | validation loss | validation accuracy | wall s |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (label, _, stale, ss) in &groups {
        let label = if *stale { format!("{label} (stale: code)") } else { label.clone() };
        let col = |f: &dyn Fn(&Summary) -> Option<f64>, digits: usize| {
            let Some(values) = ss.iter().map(|s| f(s)).collect::<Option<Vec<f64>>>() else {
                return "-".to_string();
            };
            let (m, sd) = mean_std(&values);
            if ss.len() > 1 {
                format!("{m:.digits$} ± {sd:.digits$}")
            } else {
                format!("{m:.digits$}")
            }
        };
        let stops: Vec<String> = ss.iter().map(|s| s.stop_epoch.map_or("-".into(), |e| e.to_string())).collect();
        md += &format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} |\n",
            ss.len(),
            stops.join(", "),
            col(&|s| Some(s.final_train_loss), 4),
            col(&|s| Some(s.final_train_acc), 4),
            col(&|s| s.final_val_loss, 4),
            col(&|s| s.final_val_acc, 4),
            col(&|s| Some(s.train_wall_s), 1),
        );
    }
    md
}

/// `all-s3` -> `all`.
pub fn strip_seed(id: &str) -> &str {
    match id.rsplit_once("-s") {
        Some((head, seed)) if !seed.is_empty() && seed.chars().all(|c| c.is_ascii_digit()) => head,
        _ => id,
    }
}

/// The finished runs of a sweep entry: id `name` or `name-s<seed>`.
fn side<'a>(runs: &'a [CollectedRun], name: &str) -> Vec<&'a CollectedRun> {
    runs.iter().filter(|r| strip_seed(&r.id) == name).collect()
}

/// The "Comparisons" section of summary.md: one row per comparison and metric.
pub fn comparisons_markdown(comparisons: &[Comparison], runs: &[CollectedRun]) -> String {
    let mut md = String::from(
        "\n## Comparisons\n\nTreatment minus baseline over seeds: difference of means, its 95% confidence \
         interval and Welch's t-test p-value (two-sided). `acc_gap` = final training minus validation \
         accuracy; `stop_epoch` counts a run that never stopped as its epoch limit.\n\n| comparison | metric | baseline (n) | treatment (n) | difference | 95% CI | p |\n\
         |---|---|---|---|---|---|---|\n",
    );
    for c in comparisons {
        let (base, treat) = (side(runs, &c.baseline), side(runs, &c.treatment));
        let label = c.label();
        let honest = base.iter().chain(&treat).all(|r| r.summary.final_test_acc.is_some());
        for m in c.metrics(honest) {
            let values = |rs: &[&CollectedRun]| -> Option<Vec<f64>> {
                rs.iter().map(|r| m.of(&r.summary, r.config.epochs)).collect()
            };
            let (Some(a), Some(b)) = (values(&base), values(&treat)) else {
                md += &format!("| {label} | {} | - | - | a run lacks this metric | | |\n", m.name());
                continue;
            };
            let cell = |v: &[f64], who: &str| match v.len() {
                0 => format!("no runs of `{who}`"),
                n => {
                    let (mean, sd) = mean_std(v);
                    format!("{mean:.4} ± {sd:.4} ({n})")
                }
            };
            let stats = match welch(&a, &b) {
                Some(w) => format!("{:+.4} | [{:+.4}, {:+.4}] | {}", w.diff, w.ci.0, w.ci.1, p_value(w.p)),
                None if a.is_empty() || b.is_empty() => "- | - | -".into(),
                None => format!(
                    "{:+.4} | - | n/a (fewer than 2 runs a side, or no spread)",
                    mean_std(&b).0 - mean_std(&a).0
                ),
            };
            md += &format!(
                "| {label} | {} | {} | {} | {stats} |\n",
                m.name(),
                cell(&a, &c.baseline),
                cell(&b, &c.treatment)
            );
        }
    }
    md
}

fn p_value(p: f64) -> String {
    if p < 1e-4 {
        format!("{p:.1e}")
    } else {
        format!("{p:.4}")
    }
}
