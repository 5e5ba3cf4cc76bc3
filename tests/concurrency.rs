//! Two processes on one output: the run-directory lock lets one train each run, the other skips it
//! (a sweep) or refuses (a train), and the files equal those of a process alone.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const SWEEP: &str = r#"
[base]
epochs = 2
train_size = 4000
val_size = 1000
hidden = [32]
precision = "f32"
[axes]
lr = [0.05, 0.1, 0.2]
activation = ["sigmoid", "improved"]
"#;

fn data_dir() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").to_string_lossy().into_owned()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(args)
        .args(["--data-dir", &data_dir()])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: Child) -> (bool, String) {
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    (status.success(), String::from_utf8_lossy(&stderr).into_owned())
}

/// The bytes that must not depend on who trained a run: logs (checks without elapsed_s) and model.
fn files(run: &Path) -> Vec<Vec<u8>> {
    let checks: String = std::fs::read_to_string(run.join("checks.csv"))
        .unwrap()
        .lines()
        .map(|l| l.split(',').enumerate().filter(|(i, _)| *i != 5).map(|(_, v)| v).collect::<Vec<_>>().join(",") + "\n")
        .collect();
    vec![
        std::fs::read(run.join("steps.csv")).unwrap(),
        checks.into_bytes(),
        std::fs::read(run.join("model.safetensors")).unwrap(),
        std::fs::read(run.join("config.json")).unwrap(),
    ]
}

fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(out).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

#[test]
fn two_sweeps_into_one_directory_train_every_run_once() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, SWEEP).unwrap();
    let (solo, shared) = (tmp.path().join("solo"), tmp.path().join("shared"));
    let sweep = |out: &Path| spawn(&["sweep", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--jobs", "1"]);
    assert!(finish(sweep(&solo)).0);
    let (first, second) = (sweep(&shared), sweep(&shared));
    let ((ok1, err1), (ok2, err2)) = (finish(first), finish(second));
    assert!(ok1 && ok2, "{err1}\n{err2}");
    let trained = err1.matches("done    ").count() + err2.matches("done    ").count();
    assert_eq!(trained, 6, "every run trained exactly once:\n{err1}\n{err2}");
    assert!(!err1.contains("FAILED") && !err2.contains("FAILED"));
    let (a, b) = (run_dirs(&solo), run_dirs(&shared));
    assert_eq!(
        a.iter().map(|d| d.file_name()).collect::<Vec<_>>(),
        b.iter().map(|d| d.file_name()).collect::<Vec<_>>()
    );
    for (x, y) in a.iter().zip(&b) {
        assert!(y.join("summary.json").is_file());
        assert!(files(x) == files(y), "{} differs from the solo sweep's", y.display());
        let leftovers: Vec<String> = std::fs::read_dir(y)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp") || n.ends_with(".partial"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

#[test]
fn two_trains_into_one_directory_train_once() {
    let tmp = tempfile::tempdir().unwrap();
    let (solo, shared) = (tmp.path().join("solo"), tmp.path().join("shared"));
    let args = ["train", "--quiet", "--train-size", "8000", "--val-size", "2000", "--epochs", "2", "--seed", "7"];
    let train = |out: &Path| spawn(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(finish(train(&solo)).0);
    let (first, second) = (train(&shared), train(&shared));
    let ((ok1, err1), (ok2, err2)) = (finish(first), finish(second));
    assert!(ok1 != ok2, "exactly one succeeds:\n{err1}\n{err2}");
    let refusal = if ok1 { err2 } else { err1 };
    assert!(refusal.contains("in use by another process") || refusal.contains("already holds a run"), "{refusal}");
    assert!(files(&solo) == files(&shared));
}
