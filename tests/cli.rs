//! The `mlp` binary: exit codes, messages, parameter counts and the OpenBLAS core it runs.

use std::process::{Command, Output};

fn mlp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlp")).args(args).output().expect("mlp runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn parameter_counts_match_the_study() {
    for (hidden, count) in
        [("64", 50880), ("60,60", 51300), ("32", 25440), ("128", 101760), ("64,64,64,64,64,64,64,64,64,64", 87744)]
    {
        let o = mlp(&["params", "--hidden", hidden]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), count.to_string(), "--hidden {hidden}");
    }
}

#[test]
fn bad_flags_and_values_exit_2_with_a_clear_message() {
    let cases: &[(&[&str], &str)] = &[
        (&["train", "--hidden", "abc"], "--hidden"),
        (&["train", "--precision", "f16"], "f16"),
        (&["train", "--lr", "-1"], "lr"),
        (&["train", "--batch-size", "0"], "batch_size"),
        (&["train", "--patience", "0"], "patience"),
        (&["train", "--hidden", "64,0"], "hidden"),
        (&["train", "--momentum", "1.5"], "momentum"),
        (&["train", "--no-such-flag"], "--no-such-flag"),
        (&["params", "--hidden", "0"], "hidden"),
        (&["throughput", "--workload", "w1", "--hidden", "64,0"], "hidden"),
        (&["throughput", "--workload", "w3", "--steps", "5"], "steps = 5"),
        (&["throughput", "--workload", "w1", "--batch-size", "512", "--steps", "118"], "steps = 118"),
    ];
    for (args, needle) in cases {
        let o = mlp(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn throughput_times_the_shape_it_is_given() {
    let o = mlp(&[
        "throughput",
        "--workload",
        "w1",
        "--hidden",
        "16,8",
        "--batch-size",
        "100",
        "--steps",
        "3",
        "--reps",
        "2",
        "--quiet",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON on stdout");
    assert_eq!(report["hidden"], serde_json::json!([16, 8]));
    assert_eq!((report["batch_size"].as_u64(), report["steps"].as_u64()), (Some(100), Some(3)));
    assert_eq!(report["seconds"].as_array().map(Vec::len), Some(2));
}

#[test]
fn missing_or_corrupt_data_exits_1_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = mlp(&[
        "train",
        "--quiet",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("train-images-idx3-ubyte"), "{}", stderr(&o));
    for name in
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
    {
        std::fs::write(dir.path().join(name), b"\x00\x00\x08\x03garbage").unwrap();
    }
    let o = mlp(&[
        "train",
        "--quiet",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--out",
        dir.path().join("run").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("train-images-idx3-ubyte") && stderr(&o).contains("header"), "{}", stderr(&o));
    assert!(!dir.path().join("run").exists(), "nothing is written before the data loads");
}

/// A named data set that is not installed is refused naming the package that installs it; one
/// that is gets its own data (hash) and run name.
#[test]
fn named_datasets_resolve_or_name_their_package() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_mlp"))
        .args(["train", "--quiet", "--dataset", "fashion-mnist", "--out", dir.path().join("run").to_str().unwrap()])
        .env("MLP_DATASETS_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("apt-get install dataset-fashion-mnist") && err.contains("fashion-mnist"), "{err}");
    assert!(!dir.path().join("run").exists());

    let data_hash = |dataset: &str| {
        let out = dir.path().join(dataset);
        let args =
            ["train", "--quiet", "--dataset", dataset, "--train-size", "320", "--epochs", "1", "--val-size", "50"];
        let o = mlp(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
        assert!(o.status.success(), "{}", stderr(&o));
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
        assert_eq!(record["config"]["dataset"], dataset);
        record["fingerprint"]["data"].as_str().unwrap().to_string()
    };
    assert_ne!(data_hash("mnist"), data_hash("fashion-mnist"));
}

#[test]
fn train_writes_a_run_directory_and_a_diverging_run_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let args = ["train", "--quiet", "--epochs", "1", "--train-size", "640", "--val-size", "200", "--hidden", "16"];
    let o = mlp(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["config.json", "steps.csv", "checks.csv", "summary.json"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let again = mlp(&[&args[..], &["--out", out.to_str().unwrap()]].concat());
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("--force"), "{}", stderr(&again));

    let bad = dir.path().join("diverged");
    let o = mlp(&[&args[..], &["--lr", "1e307", "--out", bad.to_str().unwrap()]].concat());
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("diverged"), "{}", stderr(&o));
    assert!(bad.join("steps.csv").is_file() && !bad.join("summary.json").exists());
}

/// Every knob's flag reaches the run's configuration (a flag once went missing silently), and the
/// resolved execution plan is recorded beside it.
#[test]
fn every_knob_flag_reaches_config_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let flags = [
        ("hidden", "8,4", serde_json::json!([8, 4])),
        ("activation", "improved", serde_json::json!("improved")),
        ("init", "normal", serde_json::json!("normal")),
        ("lr", "0.05", serde_json::json!(0.05)),
        ("momentum", "0.5", serde_json::json!(0.5)),
        ("batch-size", "16", serde_json::json!(16)),
        ("epochs", "1", serde_json::json!(1)),
        ("patience", "7", serde_json::json!(7)),
        ("early-stopping", "false", serde_json::json!(false)),
        ("checks-per-epoch", "2", serde_json::json!(2)),
        ("validation", "true", serde_json::json!(true)),
        ("restore-best", "true", serde_json::json!(true)),
        ("seed", "3", serde_json::json!(3)),
        ("rng", "numpy", serde_json::json!("numpy")),
        ("precision", "f32", serde_json::json!("f32")),
        ("train-size", "320", serde_json::json!(320)),
        ("val-size", "100", serde_json::json!(100)),
        ("norm-stats", "train-subset", serde_json::json!("train-subset")),
        ("kernels", "reference", serde_json::json!("reference")),
        ("first-layer", "sparse", serde_json::json!("sparse")),
        ("val-from-train", "500", serde_json::json!(500)),
        ("dataset", "fashion-mnist", serde_json::json!("fashion-mnist")),
        ("diagnostics", "true", serde_json::json!(true)),
        ("optimizer", "sgd", serde_json::json!("sgd")),
        ("beta1", "0.8", serde_json::json!(0.8)),
        ("beta2", "0.99", serde_json::json!(0.99)),
        ("eps", "1e-6", serde_json::json!(1e-6)),
        ("weight-decay", "0.001", serde_json::json!(0.001)),
        ("lr-schedule", "step", serde_json::json!("step")),
        ("warmup-steps", "3", serde_json::json!(3)),
        ("lr-min", "0.01", serde_json::json!(0.01)),
        ("lr-decay-epochs", "2", serde_json::json!(2)),
        ("lr-decay", "0.5", serde_json::json!(0.5)),
        ("dropout", "0.1", serde_json::json!(0.1)),
        ("bias", "all", serde_json::json!("all")),
    ];
    let mut args = vec!["train".to_string(), "--quiet".into(), "--out".into(), out.to_str().unwrap().into()];
    for (flag, value, _) in &flags {
        args.extend([format!("--{flag}"), value.to_string()]);
    }
    let o = mlp(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    let config = record["config"].as_object().unwrap();
    assert_eq!(config.len(), flags.len(), "a knob without a flag: {config:?}");
    for (flag, _, want) in &flags {
        assert_eq!(&config[&flag.replace('-', "_")], want, "--{flag}");
    }
    let plan = &record["plan"];
    assert_eq!((plan["kernels"].as_str(), plan["first_layer_train"].as_str()), (Some("reference"), Some("sparse")));
    assert_eq!((plan["exp"].as_str(), plan["first_layer_eval"].as_str()), (Some("libm"), Some("grouped")));
}

/// Debian's OpenBLAS 0.3.21 loads "Prescott" kernels on AVX-512 CPUs; the binary must switch to
/// fast kernels by itself, without OPENBLAS_CORETYPE from the caller.
#[test]
fn blas_core_is_not_prescott_when_the_cpu_can_do_better() {
    let o = Command::new(env!("CARGO_BIN_EXE_mlp")).arg("info").env_remove("OPENBLAS_CORETYPE").output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    let field = |k: &str| out.lines().find_map(|l| l.strip_prefix(k)).map(|v| v.trim().to_string()).unwrap();
    let (core, best) = (field("openblas_core"), field("best_core_for_cpu"));
    assert_eq!(field("openblas_threads"), "1");
    if best == "none" {
        eprintln!("CPU has neither AVX-512 nor AVX2+FMA: any core is acceptable (got {core})");
        return;
    }
    assert!(!core.eq_ignore_ascii_case("prescott"), "OpenBLAS runs Prescott kernels; expected {best} or better");
}

#[test]
fn sweep_resources_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(
        &file,
        "[base]\nepochs = 1\ntrain_size = 320\nval_size = 100\nhidden = [8]\n[axes]\nlr = [0.1, 0.2]\n",
    )
    .unwrap();
    let out = dir.path().join("out");
    let o = mlp(&["sweep", file.to_str().unwrap(), "--jobs", "0", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = mlp(&["sweep", file.to_str().unwrap(), "--jobs", "20000", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("--jobs 20000 capped at 2") && stderr(&o).contains("2 runs into"), "{}", stderr(&o));
    let o = mlp(&["sweep", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/dev/zero") && stderr(&o).contains("not a sweep file"), "{}", stderr(&o));
    let o = mlp(&["sweep", file.to_str().unwrap(), "--seeds", "3", "--max-runs", "5", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("more than the limit of 5"), "{}", stderr(&o));
}
