//! Sweeps: a TOML file expanded into named runs, executed in parallel, resumably.
//!
//! ```toml
//! name = "study"                 # optional, default: the file name
//! [base]                         # any TrainConfig key, applied to every run
//! rng = "numpy"
//! [axes]                         # cartesian product over lists of values ...
//! lr = [0.05, 0.1]
//! hidden = [[32], [64]]
//! [[run]]                        # ... and/or explicit runs, optionally from a preset
//! name = "all"
//! preset = "all"
//! ```
//! Every run is resolved as: defaults, then `base`, then the run's preset, then its own keys
//! (or its axis values). Run ids come from the config, never from the machine or the thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

use crate::config::TrainConfig;
use crate::data::Mnist;
use crate::error::TrainError;
use crate::output::{self, Summary};
use crate::presets;
use crate::run::{run_to_dir, RunOptions};

/// A problem in a sweep file, found before any run starts.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct SweepError {
    pub file: PathBuf,
    pub message: String,
}

/// One fully resolved run of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSpec {
    pub id: String,
    pub config: TrainConfig,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: Option<String>,
    #[serde(default)]
    base: toml::Table,
    #[serde(default)]
    axes: toml::Table,
    #[serde(default)]
    run: Vec<toml::Table>,
}

/// A parsed sweep: its name and its runs in a deterministic order.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: String,
    pub runs: Vec<RunSpec>,
}

/// Overlays `table` onto `cfg`; unknown keys and wrong types are errors naming the key.
fn overlay(cfg: &TrainConfig, table: &toml::Table) -> Result<TrainConfig, String> {
    let mut merged = toml::Table::try_from(cfg).map_err(|e| e.to_string())?;
    for (k, v) in table {
        if !merged.contains_key(k) {
            return Err(format!(
                "unknown key `{k}` (known keys: {})",
                merged.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        merged.insert(k.clone(), v.clone());
    }
    let text = toml::to_string(&merged).map_err(|e| e.to_string())?;
    toml::from_str(&text).map_err(|e: toml::de::Error| {
        let keys: Vec<&String> = table.keys().collect();
        format!("bad value among {keys:?}: {}", e.message())
    })
}

/// A compact, stable spelling of a value for run ids: 0.1, 64, 60x60, improved.
fn id_part(v: &toml::Value) -> String {
    match v {
        toml::Value::Array(a) => a.iter().map(id_part).collect::<Vec<_>>().join("x"),
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Sweep {
    pub fn load(path: &Path) -> Result<Self, SweepError> {
        let err = |message: String| SweepError { file: path.to_path_buf(), message };
        let text = std::fs::read_to_string(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into());
        Self::parse(&text, &stem).map_err(err)
    }

    /// Parses and resolves a sweep file; `default_name` is used when the file sets no name.
    pub fn parse(text: &str, default_name: &str) -> Result<Self, String> {
        let file: SweepFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let base = overlay(&TrainConfig::default(), &file.base).map_err(|e| format!("[base]: {e}"))?;
        let mut runs = Vec::new();
        for (i, entry) in file.run.iter().enumerate() {
            let mut table = entry.clone();
            let preset = match table.remove("preset") {
                Some(toml::Value::String(p)) => Some(presets::find(&p).ok_or_else(|| {
                    format!("[[run]] #{}: unknown preset `{p}` (known: {})", i + 1, presets::names().join(", "))
                })?),
                Some(other) => return Err(format!("[[run]] #{}: preset must be a string, found {other}", i + 1)),
                None => None,
            };
            let id = match table.remove("name") {
                Some(toml::Value::String(n)) => n,
                Some(other) => return Err(format!("[[run]] #{}: name must be a string, found {other}", i + 1)),
                None => preset
                    .map(|p| p.name.to_string())
                    .ok_or_else(|| format!("[[run]] #{}: give a name or a preset", i + 1))?,
            };
            let mut cfg = base.clone();
            if let Some(p) = preset {
                p.apply(&mut cfg);
            }
            let config = overlay(&cfg, &table).map_err(|e| format!("run `{id}`: {e}"))?;
            runs.push(RunSpec { id, config });
        }
        runs.extend(expand_axes(&base, &file.axes)?);
        if runs.is_empty() {
            return Err("no runs: add [axes] or [[run]] entries".into());
        }
        for r in &runs {
            r.config.validate().map_err(|e| format!("run `{}`: {e}", r.id))?;
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = runs.iter().find(|r| !seen.insert(r.id.clone())) {
            return Err(format!("two runs are named `{}`", dup.id));
        }
        Ok(Self { name: file.name.unwrap_or_else(|| default_name.to_string()), runs })
    }

    /// Repeats every run over seeds 1..=n, with ids suffixed `-s<seed>`.
    pub fn with_seeds(mut self, n: usize) -> Self {
        self.runs = self
            .runs
            .iter()
            .flat_map(|r| {
                (1..=n as u64).map(move |seed| RunSpec {
                    id: format!("{}-s{seed}", r.id),
                    config: TrainConfig { seed, ..r.config.clone() },
                })
            })
            .collect();
        self
    }

    /// The runs of shard `index` (1-based) of `count`: every count-th run, deterministically.
    pub fn shard(mut self, index: usize, count: usize) -> Self {
        self.runs = self.runs.into_iter().enumerate().filter(|(i, _)| i % count == index - 1).map(|(_, r)| r).collect();
        self
    }
}

fn expand_axes(base: &TrainConfig, axes: &toml::Table) -> Result<Vec<RunSpec>, String> {
    if axes.is_empty() {
        return Ok(Vec::new());
    }
    let mut combos: Vec<Vec<(&String, &toml::Value)>> = vec![Vec::new()];
    for (key, values) in axes {
        let values =
            values.as_array().ok_or_else(|| format!("[axes] {key}: expected a list of values, found {values}"))?;
        if values.is_empty() {
            return Err(format!("[axes] {key}: empty list"));
        }
        combos =
            combos.into_iter().flat_map(|c| values.iter().map(move |v| [c.clone(), vec![(key, v)]].concat())).collect();
    }
    combos
        .into_iter()
        .map(|combo| {
            let table: toml::Table = combo.iter().map(|(k, v)| ((*k).clone(), (*v).clone())).collect();
            let id = combo.iter().map(|(k, v)| format!("{k}{}", id_part(v))).collect::<Vec<_>>().join("-");
            let config = overlay(base, &table).map_err(|e| format!("[axes] run `{id}`: {e}"))?;
            Ok(RunSpec { id, config })
        })
        .collect()
}

/// What happened to one run of a sweep.
#[derive(Debug)]
pub enum RunStatus {
    Done(Summary),
    Skipped(Summary),
    Failed(String),
}

/// The `config` object recorded in a run directory's config.json, if any.
pub fn recorded_config(dir: &Path) -> Option<TrainConfig> {
    let text = std::fs::read_to_string(dir.join(output::CONFIG_FILE)).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(value.get("config")?.clone()).ok()
}

pub fn read_summary(dir: &Path) -> Option<Summary> {
    serde_json::from_str(&std::fs::read_to_string(dir.join(output::SUMMARY_FILE)).ok()?).ok()
}

/// Refuses, before anything runs, run ids whose directory holds a different configuration.
pub fn check_conflicts(runs: &[RunSpec], out: &Path) -> Result<(), TrainError> {
    for r in runs {
        let dir = out.join(&r.id);
        if let Some(old) = recorded_config(&dir) {
            if old != r.config {
                return Err(TrainError::Conflict { path: dir });
            }
        }
    }
    Ok(())
}

/// Runs `runs` into `out/<id>/` on a pool of `jobs` workers, one OpenBLAS thread each. Finished
/// runs with the same config are skipped unless `force`; `on_done` sees each run as it finishes.
pub fn execute(
    runs: &[RunSpec],
    mnist: &Mnist,
    out: &Path,
    jobs: usize,
    opts: &RunOptions,
    on_done: &(dyn Fn(&RunSpec, &RunStatus) + Sync),
) -> Result<Vec<RunStatus>, TrainError> {
    if !opts.force {
        check_conflicts(runs, out)?;
    }
    kernels::blas::set_threads(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().expect("thread pool");
    let statuses = pool.install(|| {
        runs.par_iter()
            .with_max_len(1)
            .map(|r| {
                let dir = out.join(&r.id);
                let status = match read_summary(&dir) {
                    Some(s) if !opts.force && recorded_config(&dir).as_ref() == Some(&r.config) => {
                        RunStatus::Skipped(s)
                    }
                    _ => {
                        // An unfinished directory of the same config is redone from scratch.
                        let run_opts = RunOptions { force: true, quiet: true, ..opts.clone() };
                        match run_to_dir(&r.config, mnist, &dir, &run_opts) {
                            Ok(s) => RunStatus::Done(s),
                            Err(e) => RunStatus::Failed(e.to_string()),
                        }
                    }
                };
                on_done(r, &status);
                status
            })
            .collect()
    });
    Ok(statuses)
}

/// One row of `summary.csv`: the run id, every config knob, and the outcome.
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRow {
    pub run: String,
    pub hidden: String,
    pub activation: String,
    pub init: String,
    pub lr: f64,
    pub momentum: f64,
    pub batch_size: usize,
    pub epochs: usize,
    pub patience: usize,
    pub early_stopping: bool,
    pub checks_per_epoch: usize,
    pub validation: bool,
    pub restore_best: bool,
    pub seed: u64,
    pub rng: String,
    pub precision: String,
    pub train_size: usize,
    pub val_size: usize,
    pub norm_stats: String,
    pub stop_epoch: Option<usize>,
    pub steps: usize,
    pub best_step: Option<usize>,
    pub best_val_loss: Option<f64>,
    pub final_train_loss: f64,
    pub final_train_acc: f64,
    pub final_val_loss: f64,
    pub final_val_acc: f64,
    pub train_wall_s: f64,
}

impl SummaryRow {
    pub fn new(run: &str, c: &TrainConfig, s: &Summary) -> Self {
        use crate::run::flag_name;
        Self {
            run: run.to_string(),
            hidden: c.hidden.iter().map(|h| h.to_string()).collect::<Vec<_>>().join("x"),
            activation: flag_name(&c.activation),
            init: flag_name(&c.init),
            lr: c.lr,
            momentum: c.momentum,
            batch_size: c.batch_size,
            epochs: c.epochs,
            patience: c.patience,
            early_stopping: c.early_stopping,
            checks_per_epoch: c.checks_per_epoch,
            validation: c.validation,
            restore_best: c.restore_best,
            seed: c.seed,
            rng: flag_name(&c.rng),
            precision: flag_name(&c.precision),
            train_size: c.train_size,
            val_size: c.val_size,
            norm_stats: flag_name(&c.norm_stats),
            stop_epoch: s.stop_epoch,
            steps: s.steps,
            best_step: s.best_step,
            best_val_loss: s.best_val_loss,
            final_train_loss: s.final_train_loss,
            final_train_acc: s.final_train_acc,
            final_val_loss: s.final_val_loss,
            final_val_acc: s.final_val_acc,
            train_wall_s: s.train_wall_s,
        }
    }
}

/// Finished runs found directly under each of `dirs` (or `dirs` themselves), sorted by id.
pub fn collect_runs(dirs: &[PathBuf]) -> Vec<(String, TrainConfig, Summary)> {
    let mut found = BTreeMap::new();
    for dir in dirs {
        let mut candidates = vec![dir.clone()];
        if let Ok(entries) = std::fs::read_dir(dir) {
            candidates.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
        }
        for d in candidates {
            if let (Some(c), Some(s)) = (recorded_config(&d), read_summary(&d)) {
                let id = d.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                found.insert(id, (c, s));
            }
        }
    }
    found.into_iter().map(|(id, (c, s))| (id, c, s)).collect()
}

/// Writes `summary.csv` (one row per run) and `summary.md` (report-style table; runs that differ
/// only in seed are grouped as mean +- std) into `out`.
pub fn write_summaries(runs: &[(String, TrainConfig, Summary)], out: &Path) -> Result<(), TrainError> {
    std::fs::create_dir_all(out).map_err(|source| TrainError::Output { path: out.into(), source })?;
    let csv_path = out.join("summary.csv");
    let tmp = out.join("summary.csv.tmp");
    let csv_err = |source| TrainError::Csv { path: csv_path.clone(), source };
    let mut w = csv::Writer::from_path(&tmp).map_err(csv_err)?;
    for (id, c, s) in runs {
        w.serialize(SummaryRow::new(id, c, s)).map_err(csv_err)?;
    }
    w.flush().map_err(|source| TrainError::Output { path: tmp.clone(), source })?;
    std::fs::rename(&tmp, &csv_path).map_err(|source| TrainError::Output { path: csv_path.clone(), source })?;
    let md = out.join("summary.md");
    std::fs::write(&md, summary_markdown(runs)).map_err(|source| TrainError::Output { path: md, source })
}

fn mean_std(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 { v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    (mean, var.sqrt())
}

/// The report-style table; groups runs whose configs differ only in the seed.
pub fn summary_markdown(runs: &[(String, TrainConfig, Summary)]) -> String {
    // A group: the same id up to its -s<seed> suffix and the same config up to the seed.
    let mut groups: Vec<(String, TrainConfig, Vec<&Summary>)> = Vec::new();
    for (id, c, s) in runs {
        let (label, key) = (strip_seed(id), TrainConfig { seed: 0, ..c.clone() });
        match groups.iter_mut().find(|g| g.0 == label && g.1 == key) {
            Some(g) => g.2.push(s),
            None => groups.push((label.to_string(), key, vec![s])),
        }
    }
    // The study's runs in the report's order, then everything else by name.
    let rank = |label: &str| presets::PRESETS.iter().position(|p| p.name == label).unwrap_or(usize::MAX);
    groups.sort_by(|a, b| (rank(&a.0), &a.0).cmp(&(rank(&b.0), &b.0)));
    let mut md = String::from(
        "| model | runs | stopping epoch | training loss | training accuracy | validation loss | validation accuracy | wall s |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (label, _, ss) in &groups {
        let col = |f: &dyn Fn(&Summary) -> f64, digits: usize| {
            let (m, sd) = mean_std(&ss.iter().map(|s| f(s)).collect::<Vec<_>>());
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
            col(&|s| s.final_train_loss, 4),
            col(&|s| s.final_train_acc, 4),
            col(&|s| s.final_val_loss, 4),
            col(&|s| s.final_val_acc, 4),
            col(&|s| s.train_wall_s, 1),
        );
    }
    md
}

/// `all-s3` -> `all`.
fn strip_seed(id: &str) -> &str {
    match id.rsplit_once("-s") {
        Some((head, seed)) if !seed.is_empty() && seed.chars().all(|c| c.is_ascii_digit()) => head,
        _ => id,
    }
}
