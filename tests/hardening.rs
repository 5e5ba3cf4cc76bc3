//! Defects found by a hostile probe (issue 21), each pinned by a test that failed before its fix:
//! an I/O error keeps the resume point, a corrupt checkpoint is started over with --force (and
//! says so without it), a hand-edited fingerprint cannot make the summary panic, `seeds` never
//! silently replaces an explicit `seed`, a sweep's name cannot leave `results/`, and a closed
//! stdout ends a command quietly instead of panicking, and constant training images are a data
//! error, not a divergence, and `--resume` never retrains over a finished run's unreadable
//! summary without --force.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use mlp::config::TrainConfig;
use mlp::data::Mnist;
use mlp::error::TrainError;
use mlp::experiment::run::{run_to_dir, RunOptions};
use mlp::experiment::sweep_file::Sweep;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

fn mlp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(args)
        .args(["--data-dir", data_dir().to_str().unwrap()])
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

const FLAGS: &[&str] = &["--train-size", "4000", "--val-size", "500", "--epochs", "6", "--hidden", "32"];

/// A run of a second or less.
const TINY: &[&str] = &["--train-size", "320", "--val-size", "100", "--epochs", "1", "--hidden", "8"];

/// A finished tiny run in `dir`.
fn tiny_run(dir: &Path) {
    let o = mlp(&[&["train", "--quiet", "--out", dir.to_str().unwrap()], TINY].concat());
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The configuration `FLAGS` give.
fn config() -> TrainConfig {
    TrainConfig { train_size: 4000, val_size: 500, epochs: 6, hidden: vec![32], ..TrainConfig::default() }
}

/// A run of `FLAGS` in `dir` killed (SIGKILL) once it has written a checkpoint.
fn killed_run(dir: &Path) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["train", "--quiet", "--data-dir", data_dir().to_str().unwrap(), "--out", dir.to_str().unwrap()])
        .args(FLAGS)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !dir.join("checkpoint.safetensors").exists() {
        assert!(child.try_wait().unwrap().is_none(), "the run ended before its first checkpoint");
        assert!(start.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn an_io_error_keeps_the_last_checkpoint_for_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    killed_run(&dir);
    let good = std::fs::read(dir.join("checkpoint.safetensors")).unwrap();
    // The resumed run's next checkpoint cannot be written: its temporary name is taken by a
    // directory (as a full disk would fail the write).
    let blocker = dir.join(format!("checkpoint.safetensors.{}.tmp", std::process::id()));
    std::fs::create_dir(&blocker).unwrap();
    let opts = RunOptions {
        data_dir: data_dir(),
        force: false,
        resume: true,
        checkpoint_every: 1,
        quiet: true,
        blas_core: kernels::blas::corename(),
        threads: 1,
    };
    let mnist = Mnist::load(&data_dir()).unwrap();
    let cfg = config().validate().unwrap();
    let err = run_to_dir(&cfg, &mnist, &dir, &opts).unwrap_err();
    assert!(matches!(err, TrainError::Output { .. }), "an I/O error: {err}");
    assert!(std::fs::read(dir.join("checkpoint.safetensors")).unwrap() == good, "the resume point is kept");
    assert!(!dir.join("failed.json").exists(), "an I/O error is no failure of the run itself");
    std::fs::remove_dir(&blocker).unwrap();
    let resumed = run_to_dir(&cfg, &mnist, &dir, &opts).unwrap();
    assert!(resumed.resumed_at.is_some(), "resumed, not trained from the start");
}

#[test]
fn a_corrupt_checkpoint_is_started_over_with_force_and_says_how_without() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    killed_run(&dir);
    std::fs::write(dir.join("checkpoint.safetensors"), b"not a checkpoint at all").unwrap();
    let d = dir.to_str().unwrap();
    let o = mlp(&["train", "--quiet", "--resume", d]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("checkpoint.safetensors") && stderr(&o).contains("--force"), "{}", stderr(&o));
    let o = mlp(&["train", "--resume", d, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("is unreadable: trained from the start"), "{}", stderr(&o));
    assert!(dir.join("summary.json").exists() && !dir.join("checkpoint.safetensors").exists());

    // A sweep with --force starts its run over too.
    let sweep = tmp.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        "name = \"s\"\n[base]\ntrain_size = 500\nval_size = 100\nepochs = 1\nhidden = [8]\n[[run]]\nname = \"a\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (s, o) = (sweep.to_str().unwrap(), out.to_str().unwrap());
    assert!(mlp(&["sweep", s, "--out", o, "--quiet"]).status.success());
    let run_dir = std::fs::read_dir(&out).unwrap().flatten().map(|e| e.path()).find(|p| p.is_dir()).unwrap();
    std::fs::remove_file(run_dir.join("summary.json")).unwrap();
    std::fs::write(run_dir.join("checkpoint.safetensors"), b"garbage").unwrap();
    let again = mlp(&["sweep", s, "--out", o, "--quiet", "--force"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(run_dir.join("summary.json").exists());
}

#[test]
fn a_short_or_non_ascii_fingerprint_in_a_record_does_not_panic_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("runs");
    let run = out.join("r");
    tiny_run(&run);
    let path = run.join("config.json");
    let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    record["fingerprint"]["source"] = "é".into();
    record["fingerprint"]["data"] = "ab".into();
    std::fs::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
    let report = Command::new(env!("CARGO_BIN_EXE_mlp")).args(["report", out.to_str().unwrap()]).output().unwrap();
    assert_ne!(report.status.code(), Some(101), "a panic: {}", stderr(&report));
    assert!(report.status.success(), "{}", stderr(&report));
}

#[test]
fn seeds_and_an_explicit_seed_are_refused_naming_where_the_seed_is() {
    for (text, place) in [
        ("seeds = 2\n[base]\nseed = 7\n[[run]]\npreset = \"all\"", "[base]"),
        ("seeds = 2\n[axes]\nseed = [7, 8]", "[axes]"),
        ("seeds = 2\n[[run]]\npreset = \"all\"\n[[run]]\nname = \"b\"\nseed = 5", "[[run]] #2"),
    ] {
        let err = Sweep::parse(text, "s").unwrap_err();
        assert!(err.contains("seeds = 2") && err.contains(place) && err.contains("`seed`"), "{text}: {err}");
    }
    // --seeds on the command line meets the same refusal; without an explicit seed it repeats.
    let explicit = Sweep::parse("[axes]\nseed = [7, 8]", "s").unwrap();
    assert!(explicit.with_seeds(3, 100).unwrap_err().contains("[axes] sets `seed`"));
    assert_eq!(Sweep::parse("[axes]\nlr = [0.1, 0.2]", "s").unwrap().with_seeds(3, 100).unwrap().runs.len(), 6);
    // Through the binary: exit 2, nothing trained.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("s.toml");
    std::fs::write(&file, "seeds = 2\n[axes]\nseed = [7, 8]\n").unwrap();
    let out = tmp.path().join("out");
    let o = mlp(&["sweep", file.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(!out.exists());
}

#[test]
fn a_sweep_name_that_is_a_path_is_refused() {
    for name in ["../../escaped", "/tmp/abs", "", ".", "..", "a/b"] {
        let text = format!("name = {name:?}\n[[run]]\npreset = \"all\"\n");
        let err = Sweep::parse(&text, "s").unwrap_err();
        assert!(err.starts_with("name: sweep name"), "{name:?}: {err}");
    }
    assert_eq!(Sweep::parse("name = \"my-study.v2\"\n[[run]]\npreset = \"all\"\n", "s").unwrap().name, "my-study.v2");
}

#[test]
fn a_closed_stdout_ends_commands_quietly_not_with_a_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    tiny_run(&run);
    let model = run.join("model.safetensors");
    for args in [
        vec!["info"],
        vec!["params", "--hidden", "64"],
        vec!["eval", "--model", model.to_str().unwrap()],
        vec!["report", tmp.path().to_str().unwrap()],
        [&["train", "--force", "--out", run.to_str().unwrap()], TINY].concat(),
    ] {
        // The reader is gone before the command writes anything (`mlp info | head -0`).
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o =
            Command::new(env!("CARGO_BIN_EXE_mlp")).args(&args).stdout(writer).stderr(Stdio::piped()).output().unwrap();
        assert_ne!(o.status.code(), Some(101), "{args:?} panicked: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn constant_training_images_are_a_data_error_not_a_divergence() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let n = 400u32;
    let mut images = [2051u32, n, 28, 28].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
    images.extend(std::iter::repeat_n(7u8, n as usize * 784));
    std::fs::write(data.join("train-images-idx3-ubyte"), images).unwrap();
    let mut labels = [2049u32, n].iter().flat_map(|v| v.to_be_bytes()).collect::<Vec<u8>>();
    labels.extend((0..n).map(|i| (i % 10) as u8));
    std::fs::write(data.join("train-labels-idx1-ubyte"), labels).unwrap();
    for f in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        std::fs::copy(data_dir().join(f), data.join(f)).unwrap();
    }
    let out = tmp.path().join("run");
    let o = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["train", "--quiet"])
        .args(TINY)
        .args(["--data-dir", data.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("train-images-idx3-ubyte") && msg.contains("standard deviation of 0"), "{msg}");
    assert!(!msg.contains("diverged") && !out.join("failed.json").exists(), "{msg}");
}

#[test]
fn resume_on_a_finished_run_with_an_unreadable_summary_changes_nothing_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    let d = run.to_str().unwrap();
    tiny_run(&run);
    std::fs::write(run.join("summary.json"), b"{ truncated").unwrap();
    let model = std::fs::read(run.join("model.safetensors")).unwrap();
    let steps = std::fs::metadata(run.join("steps.csv")).unwrap().modified().unwrap();
    let o = mlp(&["train", "--quiet", "--resume", d]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("summary.json is unreadable") && stderr(&o).contains("--force"), "{}", stderr(&o));
    assert!(std::fs::read(run.join("model.safetensors")).unwrap() == model);
    assert_eq!(std::fs::metadata(run.join("steps.csv")).unwrap().modified().unwrap(), steps);
    assert_eq!(std::fs::read(run.join("summary.json")).unwrap(), b"{ truncated");
    let o = mlp(&["train", "--quiet", "--resume", d, "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("summary.json")).unwrap()).unwrap();
    assert!(summary["final_val_acc"].is_number());
}
