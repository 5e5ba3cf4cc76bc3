//! Sweep files: a TOML file expanded into named, validated runs.
//!
//! ```toml
//! name = "study"                 # optional, default: the file name
//! threads = 2                    # optional: threads per run (like `mlp sweep --threads`)
//! [base]                         # any knob (`mlp::config::Overrides`), applied to every run
//! rng = "numpy"
//! [axes]                         # cartesian product over lists of values ...
//! lr = [0.05, 0.1]
//! hidden = [[32], [64]]
//! [[run]]                        # ... and/or explicit runs, optionally from a preset
//! name = "all"
//! preset = "all"
//! seeds = 5                      # optional: every run over seeds 1..=5 (as `--seeds 5`)
//! [[compare]]                    # optional: summary.md tests treatment against baseline
//! name = "all three tricks"      #   over the seeds (`super::compare::Comparison`)
//! baseline = "basic"
//! treatment = "all"
//! ```
//! Every run is resolved as: defaults, then `base`, then the run's preset, then its own keys
//! (or its axis values). Run ids come from the config, never from the machine or the thread.

use std::path::{Path, PathBuf};

use super::compare::Comparison;
use super::presets;
use crate::config::{Overrides, RunConfig, TrainConfig};

/// Largest sweep file read (a sweep file is a few lines; this keeps `/dev/zero` out).
const MAX_FILE_BYTES: u64 = 1 << 20;

/// Most runs a sweep expands to unless told otherwise (`mlp sweep --max-runs`).
pub const DEFAULT_MAX_RUNS: usize = 10_000;

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
    pub config: RunConfig,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SweepFile {
    name: Option<String>,
    threads: Option<u64>,
    #[serde(default)]
    base: toml::Table,
    #[serde(default)]
    axes: toml::Table,
    #[serde(default)]
    run: Vec<toml::Table>,
    seeds: Option<usize>,
    #[serde(default)]
    compare: Vec<Comparison>,
}

/// A parsed sweep: its name and its runs in a deterministic order.
#[derive(Debug, Clone)]
pub struct Sweep {
    pub name: String,
    /// Threads per run the file asks for: how the runs execute, not what they compute (no run's
    /// config or id depends on it).
    pub threads: Option<usize>,
    pub runs: Vec<RunSpec>,
    /// Seeds 1..=n for every run, when the file asks for them (`--seeds` replaces it).
    pub seeds: Option<usize>,
    /// Where the file sets `seed` itself, if it does: `seeds` would replace it.
    pub seed_set_in: Option<String>,
    pub comparisons: Vec<Comparison>,
}

/// The knobs a table sets; unknown keys and wrong types are errors naming the key and value.
fn overrides(table: &toml::Table) -> Result<Overrides, String> {
    let known = Overrides::keys();
    for (k, v) in table {
        if k == "threads" {
            return Err("`threads` is a top-level key (how the runs execute, not what they compute)".into());
        }
        if !known.contains(k) {
            return Err(format!("unknown key `{k}` (known keys: {})", known.join(", ")));
        }
        let one: toml::Table = [(k.clone(), v.clone())].into_iter().collect();
        toml::Value::Table(one).try_into::<Overrides>().map_err(|e| format!("bad value {k} = {v}: {}", e.message()))?;
    }
    toml::Value::Table(table.clone()).try_into::<Overrides>().map_err(|e| e.message().to_string())
}

/// A compact, stable spelling of a value for run ids: 0.1, 64, 60x60, improved.
fn id_part(v: &toml::Value) -> String {
    match v {
        toml::Value::Array(a) => a.iter().map(id_part).collect::<Vec<_>>().join("x"),
        toml::Value::String(s) => s.clone(),
        // Shortest round-trip spelling (0.02, 1e306), not the full decimal expansion.
        toml::Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| f.to_string(), |n| n.to_string()).replace('+', "")
        }
        other => other.to_string(),
    }
}

/// Longest run id: a directory name, with room for the suffixes of the files beside it.
pub const MAX_ID_LEN: usize = 200;

/// Files a sweep writes next to its run directories, which no run id may name.
const SWEEP_FILES: &[&str] = &["summary.csv", "summary.md", "comparisons.json"];

/// Run ids name directories: `[A-Za-z0-9._-]+`, not `.` or `..`, not a sweep file's name, at most
/// [`MAX_ID_LEN`] characters.
pub fn check_run_id(id: &str) -> Result<(), String> {
    let ok_chars = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if id.is_empty() || !ok_chars || id == "." || id == ".." {
        return Err(format!("run name {id:?} is not allowed: use letters, digits, '.', '_' and '-' (not . or ..)"));
    }
    if SWEEP_FILES.iter().any(|f| id.starts_with(f)) {
        return Err(format!("run name {id:?} is not allowed: it would collide with the sweep's {}", id));
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!("run name of {} characters is not allowed: at most {MAX_ID_LEN}", id.len()));
    }
    Ok(())
}

impl Sweep {
    /// Reads and resolves a sweep file of at most `max_runs` runs.
    pub fn load(path: &Path, max_runs: usize) -> Result<Self, SweepError> {
        let err = |message: String| SweepError { file: path.to_path_buf(), message };
        let file = std::fs::File::open(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut text = String::new();
        use std::io::Read;
        file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(|e| err(format!("cannot read: {e}")))?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(err(format!("larger than {MAX_FILE_BYTES} bytes: not a sweep file")));
        }
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "sweep".into());
        Self::parse_limited(&text, &stem, max_runs).map_err(err)
    }

    /// Parses and resolves a sweep file of at most [`DEFAULT_MAX_RUNS`] runs; `default_name` is used
    /// when the file sets no name.
    pub fn parse(text: &str, default_name: &str) -> Result<Self, String> {
        Self::parse_limited(text, default_name, DEFAULT_MAX_RUNS)
    }

    /// [`Sweep::parse`] with a limit on the number of runs, checked before anything is expanded.
    pub fn parse_limited(text: &str, default_name: &str, max_runs: usize) -> Result<Self, String> {
        let file: SweepFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        let base = overrides(&file.base).map_err(|e| format!("[base]: {e}"))?.applied_to(&TrainConfig::default());
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
            check_run_id(&id).map_err(|e| format!("[[run]] #{}: {e}", i + 1))?;
            let mut cfg = base.clone();
            if let Some(p) = preset {
                p.overrides().apply(&mut cfg);
            }
            overrides(&table).map_err(|e| format!("run `{id}`: {e}"))?.apply(&mut cfg);
            runs.push((id, cfg));
        }
        let grid = file.axes.values().try_fold(1usize, |n, v| n.checked_mul(v.as_array().map_or(1, |a| a.len())));
        let total = grid.and_then(|g| g.checked_add(file.run.len()));
        if total.is_none_or(|t| t > max_runs) {
            let count = total.map_or("more than 2^64".to_string(), |t| t.to_string());
            return Err(format!("{count} runs, more than the limit of {max_runs} (raise it with --max-runs)"));
        }
        runs.extend(expand_axes(&base, &file.axes)?);
        if runs.is_empty() {
            return Err("no runs: add [axes] or [[run]] entries".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some((dup, _)) = runs.iter().find(|(id, _)| !seen.insert(id.clone())) {
            return Err(format!("two runs are named `{dup}`"));
        }
        let runs: Vec<RunSpec> = runs
            .into_iter()
            .map(|(id, cfg)| Ok(RunSpec { config: cfg.validate().map_err(|e| format!("run `{id}`: {e}"))?, id }))
            .collect::<Result<_, String>>()?;
        for (i, c) in file.compare.iter().enumerate() {
            for (role, id) in [("baseline", &c.baseline), ("treatment", &c.treatment)] {
                if !runs.iter().any(|r| r.id == *id) {
                    return Err(format!("[[compare]] #{}: {role} `{id}` is not a run of this file", i + 1));
                }
            }
        }
        if file.seeds == Some(0) {
            return Err("seeds = 0: give at least 1".into());
        }
        let name = match file.name {
            Some(name) => {
                // The sweep's directory under results/: no path of its own.
                check_run_id(&name).map_err(|e| format!("name: {}", e.replacen("run name", "sweep name", 1)))?;
                name
            }
            None => default_name.to_string(),
        };
        let seed_set_in = if file.base.contains_key("seed") {
            Some("[base]".to_string())
        } else if file.axes.contains_key("seed") {
            Some("[axes]".to_string())
        } else {
            file.run.iter().position(|r| r.contains_key("seed")).map(|i| format!("[[run]] #{}", i + 1))
        };
        if let (Some(n), Some(place)) = (file.seeds, &seed_set_in) {
            return Err(seeds_conflict(n, place));
        }
        let threads = match file.threads {
            Some(0) => return Err("bad value threads = 0: a run needs at least one thread".into()),
            Some(t) => Some(usize::try_from(t).map_err(|_| format!("bad value threads = {t}"))?),
            None => None,
        };
        Ok(Self { name, threads, runs, seeds: file.seeds, seed_set_in, comparisons: file.compare })
    }

    /// Repeats every run over seeds 1..=n, with ids suffixed `-s<seed>`; refused above `max_runs`
    /// runs.
    pub fn with_seeds(mut self, n: usize, max_runs: usize) -> Result<Self, String> {
        if let Some(place) = &self.seed_set_in {
            return Err(seeds_conflict(n, place));
        }
        let total = self.runs.len().checked_mul(n).filter(|&t| t <= max_runs);
        if total.is_none() {
            return Err(format!(
                "{} runs x {n} seeds, more than the limit of {max_runs} (raise it with --max-runs)",
                self.runs.len()
            ));
        }
        self.runs = self
            .runs
            .iter()
            .flat_map(|r| {
                (1..=n as u64).map(move |seed| RunSpec {
                    id: format!("{}-s{seed}", r.id),
                    config: r.config.with(|c| c.seed = seed).expect("seeds from 1 are valid for every stream"),
                })
            })
            .collect();
        Ok(self)
    }

    /// The runs of shard `index` (1-based) of `count`: every count-th run, deterministically.
    pub fn shard(mut self, index: usize, count: usize) -> Self {
        self.runs = self.runs.into_iter().enumerate().filter(|(i, _)| i % count == index - 1).map(|(_, r)| r).collect();
        self
    }
}

/// Seeds 1..=n replace every run's seed: refused where the file sets one, which would be lost.
fn seeds_conflict(n: usize, place: &str) -> String {
    format!("seeds = {n} gives every run seeds 1..={n}, but {place} sets `seed`: remove one of them")
}

fn expand_axes(base: &TrainConfig, axes: &toml::Table) -> Result<Vec<(String, TrainConfig)>, String> {
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
            let cfg = overrides(&table).map_err(|e| format!("[axes] run `{id}`: {e}"))?.applied_to(base);
            check_run_id(&id).map_err(|e| format!("[axes]: {e}"))?;
            Ok((id, cfg))
        })
        .collect()
}
