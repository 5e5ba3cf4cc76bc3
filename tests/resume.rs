//! Checkpoints and resume: a run killed with SIGKILL at any moment and continued with
//! `mlp train --resume` gives byte-identical steps.csv, checks.csv (elapsed_s aside),
//! summary.json (wall time aside) and model files to a run that was never interrupted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn mlp() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlp"));
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn data_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").to_string_lossy().into_owned()
}

fn train(args: &[&str], out: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mlp"));
    c.args(["train", "--quiet", "--data-dir", &data_dir(), "--out", out.to_str().unwrap()]).args(args);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn rows(path: &Path) -> usize {
    std::fs::read(path).map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count())
}

/// checks.csv without elapsed_s, summary.json without train_wall_s.
type Comparable = (Vec<u8>, String, serde_json::Value, Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>);

fn comparable(dir: &Path) -> Comparable {
    let checks = std::fs::read_to_string(dir.join("checks.csv")).unwrap();
    let checks: String = checks
        .lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 5).map(|(_, v)| v).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    let mut summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    summary["train_wall_s"] = serde_json::Value::Null;
    (
        std::fs::read(dir.join("steps.csv")).unwrap(),
        checks,
        summary,
        std::fs::read(dir.join("model.safetensors")).unwrap(),
        std::fs::read(dir.join("best.safetensors")).ok(),
        std::fs::read(dir.join("layers.csv")).ok(),
    )
}

/// Trains `args` once without interruption, then once per kill point: killed (SIGKILL) once
/// steps.csv.partial holds that many rows, resumed, and compared with the uninterrupted run.
fn killed_and_resumed_equals_uninterrupted(flags: &str, kill_at_rows: &[usize]) {
    let args: Vec<&str> = flags.split_whitespace().collect();
    let args = args.as_slice();
    let tmp = tempfile::tempdir().unwrap();
    let whole = tmp.path().join("whole");
    assert!(train(args, &whole).status().unwrap().success());
    let want = comparable(&whole);
    assert!(!whole.join("checkpoint.safetensors").exists(), "a finished run keeps no checkpoint");
    for &at in kill_at_rows {
        let dir = tmp.path().join(format!("killed-{at}"));
        let mut child = train(args, &dir).spawn().unwrap();
        let start = Instant::now();
        while rows(&dir.join("steps.csv.partial")) < at + 1 {
            assert!(child.try_wait().unwrap().is_none(), "the run ended before row {at}: make it longer");
            assert!(start.elapsed() < Duration::from_secs(60), "no progress");
            std::thread::sleep(Duration::from_millis(1));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(!dir.join("summary.json").exists(), "killed at row {at}");
        let resumed =
            mlp().args(["train", "--resume", dir.to_str().unwrap(), "--data-dir", &data_dir()]).output().unwrap();
        assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
        let got = comparable(&dir);
        assert!(got.0 == want.0, "steps.csv differs after a kill at row {at}");
        assert_eq!(got.1, want.1, "checks.csv differs after a kill at row {at}");
        assert_eq!(got.2, want.2, "summary.json differs after a kill at row {at}");
        assert!(got.3 == want.3, "model.safetensors differs after a kill at row {at}");
        assert!(got.4 == want.4, "best.safetensors differs after a kill at row {at}");
        assert!(got.5 == want.5, "layers.csv differs after a kill at row {at}");
    }
}

#[test]
fn momentum_with_best_weights_resumes_byte_identically() {
    // f64, momentum (velocities in the checkpoint), the fast plan, 4 epochs of 626 steps with a
    // check (and checkpoint) every 125 steps: at row 690 the last checkpoint is the one taken at
    // step 625, the last step of epoch 0, so the run resumes at an epoch boundary.
    let flags = "--train-size 20032 --val-size 10000 --epochs 4 --hidden 256 --momentum 0.9 --lr 0.02 \
                 --activation improved --init normal";
    killed_and_resumed_equals_uninterrupted(flags, &[3, 690, 1900]);
}

#[test]
fn fused_sparse_sgd_on_the_numpy_stream_resumes_byte_identically() {
    // f32 [128]: the sparse first layer with its update fused into the gradient pass (its offset
    // term is recomputed on resume), numpy's stream (saved as seed and draws), restore-best,
    // diagnostics (layers.csv cut back to the checkpoint's checks like checks.csv).
    let flags = "--train-size 20000 --val-size 10000 --epochs 5 --hidden 128 --precision f32 --rng numpy \
                 --restore-best --diagnostics";
    killed_and_resumed_equals_uninterrupted(flags, &[400, 1300]);
}

#[test]
fn adamw_dropout_cosine_resumes_byte_identically() {
    // Adam's moments and step count, the dropout stream's state and the schedule's position all
    // come back from the checkpoint: ReLU, weight decay, warm-up into cosine, every layer's bias,
    // diagnostics; kills inside the warm-up's epoch and mid-run.
    let flags = "--train-size 20000 --val-size 10000 --epochs 4 --hidden 128 --activation relu --init he \
                 --optimizer adamw --lr 0.002 --weight-decay 0.05 --lr-schedule cosine --warmup-steps 200 \
                 --lr-min 0.0001 --dropout 0.2 --bias all --diagnostics";
    killed_and_resumed_equals_uninterrupted(flags, &[300, 1400]);
}

#[test]
fn adam_with_l2_and_step_schedule_on_the_numpy_stream_resumes_byte_identically() {
    let flags = "--train-size 20000 --val-size 10000 --epochs 3 --hidden 64,32 --optimizer adam --lr 0.001 \
                 --weight-decay 0.001 --lr-schedule step --lr-decay-epochs 1 --lr-decay 0.5 --rng numpy \
                 --precision f32 --dropout 0.1";
    killed_and_resumed_equals_uninterrupted(flags, &[700]);
}

#[test]
fn resuming_a_finished_run_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    assert!(train(&["--train-size", "320", "--val-size", "100", "--epochs", "1"], &dir).status().unwrap().success());
    let before = comparable(&dir);
    let o = mlp().args(["train", "--resume", dir.to_str().unwrap()]).output().unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already finished"));
    assert!(comparable(&dir) == before);
    let none = mlp().args(["train", "--resume", tmp.path().join("nothing").to_str().unwrap()]).output().unwrap();
    assert_eq!(none.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&none.stderr).contains("holds no run to resume"));
}

/// Kills a run once it has written `at` step rows; returns its directory.
fn killed_run(tmp: &Path, flags: &str, at: usize) -> std::path::PathBuf {
    let dir = tmp.join("killed");
    let args: Vec<&str> = flags.split_whitespace().collect();
    let mut child = train(&args, &dir).spawn().unwrap();
    while rows(&dir.join("steps.csv.partial")) < at + 1 {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before row {at}");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    dir
}

#[test]
fn a_checkpoint_of_other_code_is_not_resumed_from_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = killed_run(tmp.path(), "--train-size 20000 --val-size 10000 --epochs 3 --hidden 256", 400);
    assert!(dir.join("checkpoint.safetensors").exists());
    let path = dir.join("config.json");
    let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    record["fingerprint"]["source"] = serde_json::json!("0".repeat(64));
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
    let resume = |extra: &[&str]| {
        mlp()
            .args(["train", "--resume", dir.to_str().unwrap(), "--data-dir", &data_dir()])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = resume(&[]);
    assert_eq!(refused.status.code(), Some(1));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("code changed") && err.contains("--force"), "{err}");
    assert!(dir.join("checkpoint.safetensors").exists(), "a refusal keeps the checkpoint");
    let forced = resume(&["--force"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    assert!(String::from_utf8_lossy(&forced.stderr).contains("trained from the start"));
    assert!(dir.join("summary.json").exists() && !dir.join("checkpoint.safetensors").exists());
}
