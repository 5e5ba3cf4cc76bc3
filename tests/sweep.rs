//! Sweeps: expansion, config errors, determinism across --jobs, resume, conflicts and sharding.

use std::path::{Path, PathBuf};

use mlp::config::ActivationKind;
use mlp::data::Mnist;
use mlp::error::TrainError;
use mlp::experiment::executor::{execute, recorded_config, RunStatus};
use mlp::experiment::run::RunOptions;
use mlp::experiment::summary::{collect_runs, summary_markdown, summary_row};
use mlp::experiment::sweep_file::Sweep;
use mlp::train::log::Summary;

fn mnist() -> Mnist {
    Mnist::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")).unwrap()
}

fn opts() -> RunOptions {
    RunOptions {
        data_dir: PathBuf::from("data/mnist"),
        force: false,
        quiet: true,
        blas_core: "test".into(),
        blas_threads: 1,
    }
}

const TINY: &str = r#"
name = "tiny"
[base]
epochs = 1
train_size = 320
val_size = 200
hidden = [16]
precision = "f32"
[axes]
lr = [0.05, 0.1]
activation = ["sigmoid", "improved"]
"#;

#[test]
fn axes_expand_to_the_cartesian_product_with_stable_ids() {
    let s = Sweep::parse(TINY, "x").unwrap();
    let ids: Vec<&str> = s.runs.iter().map(|r| r.id.as_str()).collect();
    // Keys in name order, the first varying slowest.
    assert_eq!(
        ids,
        [
            "activationsigmoid-lr0.05",
            "activationsigmoid-lr0.1",
            "activationimproved-lr0.05",
            "activationimproved-lr0.1"
        ]
    );
    assert_eq!(s.runs[2].config.activation, ActivationKind::Improved);
    assert_eq!((s.runs[2].config.lr, s.runs[2].config.train_size), (0.05, 320));
    let seeded = s.with_seeds(3);
    assert_eq!(seeded.runs.len(), 12);
    assert_eq!((seeded.runs[2].id.as_str(), seeded.runs[2].config.seed), ("activationsigmoid-lr0.05-s3", 3));
}

#[test]
fn explicit_runs_apply_base_then_preset_then_own_keys() {
    let s = Sweep::parse("[base]\nprecision = \"f32\"\nlr = 0.5\n[[run]]\npreset = \"all\"\n[[run]]\nname = \"mine\"\npreset = \"4d\"\nlr = 0.01\n", "f").unwrap();
    assert_eq!(s.name, "f");
    let (all, mine) = (&s.runs[0], &s.runs[1]);
    assert_eq!((all.id.as_str(), all.config.lr, all.config.momentum), ("all", 0.02, 0.9));
    assert_eq!(all.config.precision, mlp::config::Precision::F32);
    assert_eq!((mine.config.hidden.clone(), mine.config.lr), (vec![60, 60], 0.01));
}

#[test]
fn the_shipped_sweeps_parse() {
    for (file, runs) in [("experiments/study.toml", 11), ("experiments/grid-lr-hidden.toml", 9)] {
        let s = Sweep::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file)).unwrap();
        assert_eq!(s.runs.len(), runs, "{file}");
    }
}

#[test]
fn bad_sweep_files_are_rejected_naming_key_and_value() {
    let cases = [
        ("[base]\nlearning_rate = 0.1\n[axes]\nlr = [0.1]", "learning_rate"),
        ("[base]\nlr = \"fast\"\n[axes]\nseed = [1]", "lr"),
        ("[axes]\nlr = []", "lr: empty list"),
        ("[axes]\nlr = 0.1", "expected a list"),
        ("[axes]\nlr = [-0.1]", "invalid lr = -0.1"),
        ("[axes]\nbatch_size = [0]", "invalid batch_size = 0"),
        ("[axes]\nhidden = [[]]", "invalid hidden = []"),
        ("[axes]\npatience = [0]", "invalid patience = 0"),
        ("[[run]]\npreset = \"nope\"", "unknown preset `nope`"),
        ("[base]\nlr = 0.1", "no runs"),
        ("color = 1\n[axes]\nlr = [0.1]", "color"),
        ("[[run]]\npreset = \"all\"\n[[run]]\npreset = \"all\"", "two runs are named `all`"),
    ];
    for (text, needle) in cases {
        let err = Sweep::parse(text, "bad").unwrap_err();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[axes]\nlr = [-1.0]").unwrap();
    let err = Sweep::load(&path).unwrap_err();
    assert!(err.to_string().contains("broken.toml") && err.to_string().contains("lr"), "{err}");
}

fn without_wall_time(runs: Vec<(String, mlp::config::TrainConfig, Summary)>) -> Vec<(String, Summary)> {
    runs.into_iter().map(|(id, _, s)| (id, Summary { train_wall_s: 0.0, ..s })).collect()
}

fn steps_csvs(dir: &Path) -> Vec<Vec<u8>> {
    let mut ids: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    ids.sort();
    ids.iter().map(|d| std::fs::read(d.join("steps.csv")).unwrap()).collect()
}

#[test]
fn results_do_not_depend_on_jobs_and_shards_merge_to_the_whole() {
    let m = mnist();
    let sweep = Sweep::parse(TINY, "tiny").unwrap();
    let (one, two, sharded) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    execute(&sweep.runs, &m, one.path(), 1, &opts(), &|_, _| {}).unwrap();
    execute(&sweep.runs, &m, two.path(), 2, &opts(), &|_, _| {}).unwrap();
    for i in 1..=3 {
        let shard = sweep.clone().shard(i, 3);
        execute(&shard.runs, &m, sharded.path(), 2, &opts(), &|_, _| {}).unwrap();
    }
    assert_eq!(steps_csvs(one.path()).len(), 4);
    assert_eq!(steps_csvs(one.path()), steps_csvs(two.path()));
    assert_eq!(steps_csvs(one.path()), steps_csvs(sharded.path()));
    let whole = without_wall_time(collect_runs(&[one.path().to_path_buf()]));
    assert_eq!(whole, without_wall_time(collect_runs(&[two.path().to_path_buf()])));
    assert_eq!(whole, without_wall_time(collect_runs(&[sharded.path().to_path_buf()])));
}

#[test]
fn rerun_skips_finished_runs_redoes_interrupted_ones_and_refuses_conflicts() {
    let m = mnist();
    let sweep = Sweep::parse(TINY, "tiny").unwrap();
    let out = tempfile::tempdir().unwrap();
    execute(&sweep.runs, &m, out.path(), 2, &opts(), &|_, _| {}).unwrap();
    // Simulate a run killed mid-way: no summary, a partial log.
    let victim = out.path().join(&sweep.runs[1].id);
    std::fs::remove_file(victim.join("summary.json")).unwrap();
    std::fs::write(victim.join("steps.csv.partial"), "step,epoch,train_loss\n0,0,2.3").unwrap();
    let statuses = execute(&sweep.runs, &m, out.path(), 2, &opts(), &|_, _| {}).unwrap();
    let kinds: Vec<&str> = statuses
        .iter()
        .map(|s| match s {
            RunStatus::Done(_) => "done",
            RunStatus::Skipped(_) => "skipped",
            RunStatus::Failed(_) => "failed",
        })
        .collect();
    assert_eq!(kinds, ["skipped", "done", "skipped", "skipped"]);
    assert!(victim.join("summary.json").is_file() && !victim.join("steps.csv.partial").exists());

    // Same ids, another config: refused before anything runs.
    let changed = Sweep::parse(&TINY.replace("epochs = 1", "epochs = 2"), "tiny").unwrap();
    let err = execute(&changed.runs, &m, out.path(), 2, &opts(), &|_, _| {}).unwrap_err();
    assert!(matches!(err, TrainError::Conflict { .. }), "{err}");
    let first = out.path().join(&sweep.runs[0].id);
    assert_eq!(recorded_config(&first).unwrap().epochs, 1);
}

#[test]
fn summary_groups_seeds_of_one_run_but_not_runs_that_share_a_config() {
    let cfg = mlp::config::TrainConfig::default();
    let s = |acc: f64| Summary {
        stop_epoch: Some(3),
        steps: 10,
        best_step: Some(5),
        best_val_loss: Some(0.5),
        final_train_loss: 0.1,
        final_train_acc: acc,
        final_val_loss: Some(0.2),
        final_val_acc: Some(acc),
        train_wall_s: 1.0,
        restored_best: false,
    };
    let seeded = |seed| mlp::config::TrainConfig { seed, ..cfg.clone() };
    let runs = vec![
        ("all".to_string(), cfg.clone(), s(0.9)),
        ("4-64".to_string(), cfg.clone(), s(0.9)),
        ("grid-s1".to_string(), seeded(1), s(0.8)),
        ("grid-s2".to_string(), seeded(2), s(0.9)),
    ];
    let md = summary_markdown(&runs);
    let rows: Vec<&str> = md.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{md}");
    assert!(rows[0].starts_with("| all | 1 |") && rows[1].starts_with("| 4-64 | 1 |"), "{md}");
    assert!(rows[2].starts_with("| grid | 2 |") && rows[2].contains("0.8500 ± 0.0707"), "{md}");
}

#[test]
fn summary_columns_keep_their_order_and_carry_every_knob() {
    let cfg = mlp::config::TrainConfig::default();
    let s = Summary {
        stop_epoch: None,
        steps: 10,
        best_step: None,
        best_val_loss: None,
        final_train_loss: 0.1,
        final_train_acc: 0.9,
        final_val_loss: None,
        final_val_acc: None,
        train_wall_s: 1.0,
        restored_best: false,
    };
    let row = summary_row("r", &cfg, &s);
    let header: Vec<&str> = row.iter().map(|(k, _)| k.as_str()).collect();
    // The columns as first published, then the knobs added since: only ever appended.
    let first = "run,hidden,activation,init,lr,momentum,batch_size,epochs,patience,early_stopping,checks_per_epoch,validation,restore_best,seed,rng,precision,train_size,val_size,norm_stats,stop_epoch,steps,best_step,best_val_loss,final_train_loss,final_train_acc,final_val_loss,final_val_acc,train_wall_s";
    assert_eq!(header[..28].join(","), first);
    assert_eq!(header[28..], ["kernels", "first_layer"]);
    for key in mlp::config::Overrides::keys() {
        assert!(header.contains(&key.as_str()), "summary lacks the knob {key}");
    }
    let value = |k: &str| row.iter().find(|(h, _)| h == k).unwrap().1.clone();
    assert_eq!(
        (value("hidden"), value("lr"), value("stop_epoch"), value("final_val_loss")),
        ("64".into(), "0.1".into(), String::new(), String::new())
    );
}

#[test]
fn hostile_run_names_are_refused_naming_the_entry() {
    for name in ["../escaped", "a/b", ".", "..", "", "x y", "summary\n"] {
        let text = format!("[[run]]\nname = {name:?}\npreset = \"all\"\n");
        let err = Sweep::parse(&text, "bad").unwrap_err();
        assert!(err.contains("[[run]] #1") && err.contains("not allowed"), "{name:?}: {err}");
    }
}
