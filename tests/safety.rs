//! Safety of runs: --force touches only this program's files, a diverging run leaves complete
//! logs, impossible networks are refused before training, and a run without
//! a validation set says so with null metrics.

use std::path::Path;
use std::process::{Command, Output};

fn mlp(args: &[&str]) -> Output {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    Command::new(env!("CARGO_BIN_EXE_mlp")).args(args).args(["--data-dir", data.to_str().unwrap()]).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const SMALL: &[&str] =
    &["train", "--quiet", "--epochs", "1", "--train-size", "320", "--val-size", "100", "--hidden", "8"];

#[test]
fn force_removes_only_the_files_this_program_writes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    assert!(mlp(&[SMALL, &["--out", out.to_str().unwrap()]].concat()).status.success());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir(out.join("figures")).unwrap();
    let again = mlp(&[SMALL, &["--seed", "2", "--force", "--out", out.to_str().unwrap()]].concat());
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
    assert!(out.join("figures").is_dir() && out.join("summary.json").is_file());
}

#[test]
fn networks_that_cannot_fit_are_refused_before_training() {
    for hidden in ["100000,100000", "18446744073709551615", "4294967296,4294967296"] {
        let dir = tempfile::tempdir().unwrap();
        let o = mlp(&["train", "--quiet", "--hidden", hidden, "--out", dir.path().join("r").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{hidden}: {}", stderr(&o));
        assert!(stderr(&o).contains("MiB to train"), "{hidden}: {}", stderr(&o));
        assert!(!dir.path().join("r").join("steps.csv.partial").exists());
    }
    let o =
        Command::new(env!("CARGO_BIN_EXE_mlp")).args(["params", "--hidden", "4294967296,4294967296"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("overflows"), "{}", stderr(&o));
}

#[test]
fn without_a_validation_set_metrics_are_null_and_it_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = mlp(&[
        "train",
        "--epochs",
        "1",
        "--train-size",
        "320",
        "--val-size",
        "0",
        "--hidden",
        "8",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stderr(&o).matches("no validation set").count(), 1, "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert!(
        summary["final_val_loss"].is_null() && summary["final_val_acc"].is_null() && summary["best_step"].is_null()
    );
    assert_eq!(std::fs::read_to_string(out.join("checks.csv")).unwrap().lines().count(), 1, "header only");
}

#[test]
fn a_diverging_run_logs_the_check_that_saw_it_header_first() {
    for (lr, what) in [("1e306", "the validation loss"), ("1e305", "the training-set loss")] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("run");
        let o = mlp(&[
            "train",
            "--quiet",
            "--lr",
            lr,
            "--train-size",
            "2000",
            "--val-size",
            "500",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(1));
        assert!(stderr(&o).contains(&format!("diverged: {what} is inf")), "{lr}: {}", stderr(&o));
        let checks = std::fs::read_to_string(out.join("checks.csv")).unwrap();
        let lines: Vec<&str> = checks.lines().collect();
        assert_eq!(lines[0], "step,epoch,val_loss,val_acc,train_acc,elapsed_s,train_full_loss");
        assert!(lines.len() == 2 && lines[1].ends_with(",inf"), "{lr}: {checks}");
        assert!(!out.join("summary.json").exists() && !out.join("checkpoint.safetensors").exists());
    }
}
