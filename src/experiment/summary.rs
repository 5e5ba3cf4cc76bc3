//! Summaries of a set of runs: `summary.csv` (one row per run) and `summary.md` (the report-style
//! table), rebuilt from run directories, so shards merge by reading them together.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::executor::{read_summary, recorded_config};
use super::presets;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::train::log::Summary;

/// Knob columns that come before the outcome columns: the knobs `summary.csv` had when its
/// columns were first fixed. Knobs added later to `TrainConfig` come after the outcomes, so
/// columns are only ever appended.
const LEADING_KNOBS: usize = 18;

/// A value as one CSV cell: lists joined with `x` (hidden 60x60), strings bare, null empty.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Array(a) => a.iter().map(cell).collect::<Vec<_>>().join("x"),
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// (header, cells) of a struct's fields in declaration order.
fn fields<S: serde::Serialize>(value: &S) -> Vec<(String, String)> {
    let v = serde_json::to_value(value).expect("plain data");
    v.as_object().expect("a struct").iter().map(|(k, v)| (k.clone(), cell(v))).collect()
}

/// The columns of one run's row: `run`, the leading knobs, the outcome, the later knobs. Every
/// knob of [`TrainConfig`] and every field of [`Summary`] appears, by construction, except
/// `restored_best` (the `restore_best` knob says it).
pub fn summary_row(run: &str, c: &TrainConfig, s: &Summary) -> Vec<(String, String)> {
    let knobs = fields(c);
    let (leading, later) = knobs.split_at(LEADING_KNOBS.min(knobs.len()));
    let outcome = fields(s).into_iter().filter(|(k, _)| k != "restored_best");
    std::iter::once(("run".to_string(), run.to_string()))
        .chain(leading.iter().cloned())
        .chain(outcome)
        .chain(later.iter().cloned())
        .collect()
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
    for (i, (id, c, s)) in runs.iter().enumerate() {
        let row = summary_row(id, c, s);
        if i == 0 {
            w.write_record(row.iter().map(|(k, _)| k)).map_err(csv_err)?;
        }
        w.write_record(row.iter().map(|(_, v)| v)).map_err(csv_err)?;
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
fn strip_seed(id: &str) -> &str {
    match id.rsplit_once("-s") {
        Some((head, seed)) if !seed.is_empty() && seed.chars().all(|c| c.is_ascii_digit()) => head,
        _ => id,
    }
}
