//! `mlp reproduce`: the study's runs in the reference setting, and the report's table with our
//! values next to the printed ones.

use std::path::Path;

use serde::Serialize;

use super::presets::{self, Preset, ReportRow};
use super::summary::CollectedRun;
use super::sweep_file::RunSpec;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::train::log::Summary;

/// The runs of the report, one per preset of [`presets::REPRODUCE`], named after the preset.
pub fn runs() -> Vec<RunSpec> {
    presets::REPRODUCE
        .iter()
        .map(|name| {
            let p = presets::find(name).expect("REPRODUCE names presets");
            RunSpec { id: p.name.to_string(), config: presets::reference_config(p) }
        })
        .collect()
}

/// Truncates `value` to the number of decimals `printed` shows and compares, as the report
/// truncated rather than rounded.
pub fn matches_truncated(value: f64, printed: &str) -> bool {
    let decimals = printed.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
    let scale = 10f64.powi(decimals);
    let want: f64 = printed.parse().unwrap_or(f64::NAN);
    ((value * scale).floor() - (want * scale).round()).abs() < 0.5
}

/// Accuracy printed by the report vs an exact count of correct images out of `n`.
pub fn accuracy_matches(acc: f64, n: usize, printed: &str) -> bool {
    let correct = (acc * n as f64).round() as u64;
    let decimals = printed.split_once('.').map_or(0, |(_, d)| d.len()) as u32;
    let want = (printed.parse::<f64>().unwrap_or(f64::NAN) * 10f64.powi(decimals as i32)).round() as u64;
    correct * 10u64.pow(decimals) / n as u64 == want
}

/// One row of `table.csv`.
#[derive(Debug, Serialize)]
pub struct TableRow {
    pub model: String,
    pub preset: String,
    pub stop_epoch: Option<usize>,
    pub train_loss: f64,
    pub train_acc: f64,
    pub val_loss: f64,
    pub val_acc: f64,
    pub report_stop_epoch: Option<usize>,
    pub report_train_loss: String,
    pub report_train_acc: String,
    pub report_val_loss: String,
    pub report_val_acc: String,
    /// "yes", "no: <fields>", or "-" when the report printed nothing to compare.
    pub matches: String,
    pub train_wall_s: f64,
}

fn compare(p: &Preset, c: &TrainConfig, s: &Summary) -> String {
    let mut wrong = Vec::new();
    if let Some(r) = &p.report {
        let ReportRow { stop_epoch, train_loss, train_acc, val_loss, val_acc } = *r;
        if s.stop_epoch != Some(stop_epoch) {
            wrong.push("stop epoch");
        }
        if !matches_truncated(s.final_train_loss, train_loss) {
            wrong.push("train loss");
        }
        if !accuracy_matches(s.final_train_acc, c.train_size, train_acc) {
            wrong.push("train acc");
        }
        if !s.final_val_loss.is_some_and(|l| matches_truncated(l, val_loss)) {
            wrong.push("val loss");
        }
        if !s.final_val_acc.is_some_and(|a| accuracy_matches(a, c.val_size, val_acc)) {
            wrong.push("val acc");
        }
    } else if let Some(e) = p.report_stop_epoch {
        if s.stop_epoch != Some(e) {
            wrong.push("stop epoch");
        }
    } else {
        return "-".into();
    }
    if wrong.is_empty() {
        "yes".into()
    } else {
        format!("no: {}", wrong.join(", "))
    }
}

/// The table's rows in the report's order, for the runs named after a preset.
pub fn table_rows(runs: &[CollectedRun]) -> Vec<TableRow> {
    presets::PRESETS
        .iter()
        .filter_map(|p| runs.iter().find(|r| r.id == p.name).map(|r| (p, &r.config, &r.summary)))
        .map(|(p, c, s)| {
            let r = p.report;
            let field = |f: fn(&ReportRow) -> &'static str| r.as_ref().map_or(String::new(), |r| f(r).to_string());
            TableRow {
                model: p.label.into(),
                preset: p.name.into(),
                stop_epoch: s.stop_epoch,
                train_loss: s.final_train_loss,
                train_acc: s.final_train_acc,
                val_loss: s.final_val_loss.unwrap_or(f64::NAN),
                val_acc: s.final_val_acc.unwrap_or(f64::NAN),
                report_stop_epoch: r.map(|r| r.stop_epoch).or(p.report_stop_epoch),
                report_train_loss: field(|r| r.train_loss),
                report_train_acc: field(|r| r.train_acc),
                report_val_loss: field(|r| r.val_loss),
                report_val_acc: field(|r| r.val_acc),
                matches: compare(p, c, s),
                train_wall_s: s.train_wall_s,
            }
        })
        .collect()
}

/// Writes `table.md` and `table.csv` into `out`.
pub fn write_table(rows: &[TableRow], out: &Path, wall_s: f64) -> Result<(), TrainError> {
    let csv_path = out.join("table.csv");
    let csv_err = |source| TrainError::Csv { path: csv_path.clone(), source };
    let mut w = csv::Writer::from_path(&csv_path).map_err(csv_err)?;
    for r in rows {
        w.serialize(r).map_err(csv_err)?;
    }
    w.flush().map_err(|source| TrainError::Output { path: csv_path.clone(), source })?;

    let opt = |v: Option<usize>| v.map_or("-".to_string(), |e| e.to_string());
    let mut md = String::from(
        "# The 2021 report's table, regenerated\n\n\
         Reference setting: f64, numpy-compatible stream (`--rng numpy`, seed 1), 20000/10000 split, \
         normalisation by the 60000-image statistics, batch 32, early stopping patience 50, final weights.\n\
         Each cell: ours (report's printed value). The report truncates; `match` compares by truncating ours \
         to the printed digits, accuracies as exact counts of correct images.\n\n\
         | model | stopping epoch | training loss | training accuracy | validation loss | validation accuracy | match | wall s |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for r in rows {
        let cell = |v: f64, printed: &str| {
            if printed.is_empty() {
                format!("{v:.6}")
            } else {
                format!("{v:.6} ({printed})")
            }
        };
        md += &format!(
            "| {} | {} ({}) | {} | {} | {} | {} | {} | {:.1} |\n",
            r.model,
            opt(r.stop_epoch),
            opt(r.report_stop_epoch),
            cell(r.train_loss, &r.report_train_loss),
            cell(r.train_acc, &r.report_train_acc),
            cell(r.val_loss, &r.report_val_loss),
            cell(r.val_acc, &r.report_val_acc),
            r.matches,
            r.train_wall_s
        );
    }
    md += &format!(
        "\nNotes: 4a and 4b have no printed numbers in the report (figures only). The ten-layer 4e run is \
         chaotic in float rounding: its stopping epoch depends on the last bits of every operation, so it \
         is recorded, not expected to match. Whole reproduction: {wall_s:.0} s wall time.\n"
    );
    let md_path = out.join("table.md");
    std::fs::write(&md_path, md).map_err(|source| TrainError::Output { path: md_path, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_follows_the_report() {
        assert!(matches_truncated(0.062088, ".0620"));
        assert!(!matches_truncated(0.062088, ".0621"));
        assert!(matches_truncated(0.0017731, ".0017"));
        assert!(matches_truncated(0.159251, ".1592"));
        assert!(matches_truncated(0.013079, ".01307"));
        assert!(!matches_truncated(0.0131, ".01307"));
    }

    #[test]
    fn accuracies_compare_as_counts() {
        assert!(accuracy_matches(19674.0 / 20000.0, 20000, ".9837"));
        assert!(accuracy_matches(19675.0 / 20000.0, 20000, ".9837"));
        assert!(!accuracy_matches(19673.0 / 20000.0, 20000, ".9837"));
        assert!(accuracy_matches(1.0, 20000, "1.0"));
        assert!(!accuracy_matches(19999.0 / 20000.0, 20000, "1.0"));
        assert!(accuracy_matches(0.9152, 10000, ".9152"));
    }
}
