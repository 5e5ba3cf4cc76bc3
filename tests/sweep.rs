//! Sweeps: expansion, config errors, determinism across --jobs, resume, conflicts and sharding.

use std::path::{Path, PathBuf};

use mlp::config::ActivationKind;
use mlp::data::Mnist;
use mlp::error::TrainError;
use mlp::experiment::data_sets::DataSets;
use mlp::experiment::executor::{execute, recorded_config, RunStatus, StalePolicy};
use mlp::experiment::fingerprint::Staleness;
use mlp::experiment::run::RunOptions;
use mlp::experiment::summary::{collect_runs, summary_markdown, summary_row, CollectedRun, COLUMNS};
use mlp::experiment::sweep_file::Sweep;
use mlp::train::log::Summary;

fn mnist() -> DataSets {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    DataSets::one(&dir, Mnist::load(&dir).unwrap())
}

fn opts() -> RunOptions {
    RunOptions {
        data_dir: PathBuf::from("data/mnist"),
        force: false,
        resume: true,
        checkpoint_every: 1,
        quiet: true,
        blas_core: "test".into(),
        threads: 1,
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
    let seeded = s.with_seeds(3, 100).unwrap();
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
        let s = Sweep::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join(file), 100).unwrap();
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
        ("seeds = 0\n[[run]]\npreset = \"all\"", "seeds = 0"),
        ("[[run]]\npreset = \"all\"\n[[compare]]\nbaseline = \"basic\"\ntreatment = \"all\"", "baseline `basic`"),
        (
            "[[run]]\npreset = \"all\"\n[[compare]]\nbaseline = \"all\"\ntreatment = \"all\"\nmetrics = [\"speed\"]",
            "speed",
        ),
    ];
    for (text, needle) in cases {
        let err = Sweep::parse(text, "bad").unwrap_err();
        assert!(err.contains(needle), "{text:?}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.toml");
    std::fs::write(&path, "[axes]\nlr = [-1.0]").unwrap();
    let err = Sweep::load(&path, 100).unwrap_err();
    assert!(err.to_string().contains("broken.toml") && err.to_string().contains("lr"), "{err}");
}

fn without_wall_time(runs: Vec<CollectedRun>) -> Vec<(String, Summary)> {
    runs.into_iter().map(|r| (r.id, Summary { train_wall_s: 0.0, ..r.summary })).collect()
}

fn steps_csvs(dir: &Path) -> Vec<Vec<u8>> {
    let mut ids: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    ids.sort();
    ids.iter().map(|d| std::fs::read(d.join("steps.csv")).unwrap()).collect()
}

fn run(sweep: &Sweep, m: &DataSets, out: &Path, jobs: usize, stale: StalePolicy) -> Vec<RunStatus> {
    execute(&sweep.runs, m, out, jobs, &opts(), stale, &|_, _| {}).unwrap()
}

fn kinds(statuses: &[RunStatus]) -> Vec<&'static str> {
    statuses
        .iter()
        .map(|s| match s {
            RunStatus::Done { replaced, .. } if replaced.is_empty() => "done",
            RunStatus::Done { .. } => "redone",
            RunStatus::Skipped(_) => "skipped",
            RunStatus::Stale { .. } => "stale",
            RunStatus::Busy(_) => "busy",
            RunStatus::Failed(_) => "failed",
        })
        .collect()
}

#[test]
fn results_do_not_depend_on_jobs_and_shards_merge_to_the_whole() {
    let m = mnist();
    let sweep = Sweep::parse(TINY, "tiny").unwrap();
    let (one, two, sharded) =
        (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(&sweep, &m, one.path(), 1, StalePolicy::Rerun);
    run(&sweep, &m, two.path(), 2, StalePolicy::Rerun);
    for i in 1..=3 {
        run(&sweep.clone().shard(i, 3), &m, sharded.path(), 2, StalePolicy::Rerun);
    }
    assert_eq!(steps_csvs(one.path()).len(), 4);
    assert_eq!(steps_csvs(one.path()), steps_csvs(two.path()));
    assert_eq!(steps_csvs(one.path()), steps_csvs(sharded.path()));
    let whole = without_wall_time(collect_runs(&[one.path().to_path_buf()]).unwrap().runs);
    assert_eq!(whole, without_wall_time(collect_runs(&[two.path().to_path_buf()]).unwrap().runs));
    assert_eq!(whole, without_wall_time(collect_runs(&[sharded.path().to_path_buf()]).unwrap().runs));
}

#[test]
fn rerun_skips_finished_runs_redoes_interrupted_ones_and_refuses_conflicts() {
    let m = mnist();
    let sweep = Sweep::parse(TINY, "tiny").unwrap();
    let out = tempfile::tempdir().unwrap();
    run(&sweep, &m, out.path(), 2, StalePolicy::Rerun);
    // Simulate a run killed mid-way: no summary, a partial log.
    let victim = out.path().join(&sweep.runs[1].id);
    std::fs::remove_file(victim.join("summary.json")).unwrap();
    std::fs::write(victim.join("steps.csv.partial"), "step,epoch,train_loss\n0,0,2.3").unwrap();
    assert_eq!(kinds(&run(&sweep, &m, out.path(), 2, StalePolicy::Rerun)), ["skipped", "done", "skipped", "skipped"]);
    assert!(victim.join("summary.json").is_file() && !victim.join("steps.csv.partial").exists());

    // Same ids, another config: refused before anything runs.
    let changed = Sweep::parse(&TINY.replace("epochs = 1", "epochs = 2"), "tiny").unwrap();
    let err = execute(&changed.runs, &m, out.path(), 2, &opts(), StalePolicy::Rerun, &|_, _| {}).unwrap_err();
    assert!(matches!(err, TrainError::Conflict { .. }), "{err}");
    let first = out.path().join(&sweep.runs[0].id);
    assert_eq!(recorded_config(&first).unwrap().epochs, 1);
}

/// Rewrites the fingerprint recorded in a run's config.json, as if other code had made it.
fn pretend_other_code(dir: &Path) {
    let path = dir.join("config.json");
    let mut record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    record["fingerprint"]["source"] = serde_json::json!("0".repeat(64));
    std::fs::write(&path, serde_json::to_string_pretty(&record).unwrap()).unwrap();
}

#[test]
fn runs_made_by_other_code_are_stale_rerun_by_default_or_kept_and_marked() {
    let m = mnist();
    let sweep = Sweep::parse(TINY, "tiny").unwrap();
    let out = tempfile::tempdir().unwrap();
    run(&sweep, &m, out.path(), 2, StalePolicy::Rerun);
    let old = out.path().join(&sweep.runs[0].id);
    pretend_other_code(&old);
    let kept = run(&sweep, &m, out.path(), 2, StalePolicy::Keep);
    assert_eq!(kinds(&kept), ["stale", "skipped", "skipped", "skipped"]);
    let RunStatus::Stale { why, .. } = &kept[0] else { unreachable!() };
    assert_eq!(why, &[Staleness::Code]);
    let md = summary_markdown(&collect_runs(&[out.path().to_path_buf()]).unwrap().runs);
    assert!(md.contains(&format!("| {} (stale: code) |", sweep.runs[0].id)), "{md}");

    assert_eq!(kinds(&run(&sweep, &m, out.path(), 2, StalePolicy::Rerun)), ["redone", "skipped", "skipped", "skipped"]);
    assert_eq!(kinds(&run(&sweep, &m, out.path(), 2, StalePolicy::Rerun)), ["skipped"; 4]);
    let runs = collect_runs(&[out.path().to_path_buf()]).unwrap().runs;
    assert!(runs.iter().all(|r| r.current_code()), "{runs:?}");
    // Every run's fingerprint is in summary.csv, and equal configs on equal data and code share it.
    let ids: Vec<&str> = runs.iter().map(|r| r.fingerprint.as_ref().unwrap().id.as_str()).collect();
    assert!(ids.iter().all(|id| id.len() == 16));
    let again = tempfile::tempdir().unwrap();
    run(&sweep, &m, again.path(), 1, StalePolicy::Rerun);
    let ids_again: Vec<String> = collect_runs(&[again.path().to_path_buf()])
        .unwrap()
        .runs
        .iter()
        .map(|r| r.fingerprint.clone().unwrap().id)
        .collect();
    assert_eq!(ids, ids_again);
}

fn summary(acc: f64, val: Option<f64>) -> Summary {
    Summary {
        stop_epoch: Some(3),
        steps: 10,
        best_step: Some(5),
        best_val_loss: Some(0.5),
        final_train_loss: 0.1,
        final_train_acc: acc,
        final_val_loss: val,
        final_val_acc: val.map(|_| acc),
        train_wall_s: 1.0,
        restored_best: false,
        final_test_loss: None,
        final_test_acc: None,
        threads: 1,
    }
}

fn collected(id: &str, config: mlp::config::TrainConfig, summary: Summary) -> CollectedRun {
    CollectedRun { id: id.into(), config, summary, fingerprint: None }
}

#[test]
fn summary_groups_seeds_of_one_run_but_not_runs_that_share_a_config() {
    let cfg = mlp::config::TrainConfig::default();
    let seeded = |seed| mlp::config::TrainConfig { seed, ..cfg.clone() };
    let runs = vec![
        collected("all", cfg.clone(), summary(0.9, Some(0.2))),
        collected("4-64", cfg.clone(), summary(0.9, Some(0.2))),
        collected("grid-s1", seeded(1), summary(0.8, Some(0.2))),
        collected("grid-s2", seeded(2), summary(0.9, Some(0.2))),
    ];
    let md = summary_markdown(&runs);
    let rows: Vec<&str> = md.lines().skip(2).collect();
    assert_eq!(rows.len(), 3, "{md}");
    assert!(
        rows[0].starts_with("| all (stale: code) | 1 |") && rows[1].starts_with("| 4-64 (stale: code) | 1 |"),
        "{md}"
    );
    assert!(rows[2].starts_with("| grid (stale: code) | 2 |") && rows[2].contains("0.8500 ± 0.0707"), "{md}");
}

/// `[[compare]]` entries become a table of differences with Welch's test in summary.md, kept
/// beside the runs (comparisons.json) so that `mlp report` rebuilds the same summary.
#[test]
fn declared_comparisons_are_tested_over_seeds_and_survive_a_report() {
    let text = "seeds = 3\n[[run]]\npreset = \"basic\"\n[[run]]\npreset = \"iw\"\n\
                [[compare]]\nname = \"init\"\nbaseline = \"basic\"\ntreatment = \"iw\"\nmetrics = [\"final_val_acc\", \"acc_gap\"]";
    let sweep = Sweep::parse(text, "cmp").unwrap();
    assert_eq!(sweep.seeds, Some(3));
    let c = &sweep.comparisons[0];
    let cfg = mlp::config::TrainConfig::default();
    let with_val =
        |acc: f64, train: f64| Summary { final_val_acc: Some(acc), final_train_acc: train, ..summary(acc, Some(0.3)) };
    let runs = vec![
        collected("basic-s1", cfg.clone(), with_val(0.90, 0.95)),
        collected("basic-s2", cfg.clone(), with_val(0.91, 0.95)),
        collected("basic-s3", cfg.clone(), with_val(0.92, 0.95)),
        collected("iw-s1", cfg.clone(), with_val(0.95, 0.96)),
        collected("iw-s2", cfg.clone(), with_val(0.96, 0.96)),
        collected("iw-s3", cfg.clone(), with_val(0.97, 0.96)),
    ];
    let md = mlp::experiment::summary::comparisons_markdown(&sweep.comparisons, &runs);
    // Means 0.91 vs 0.96, both sd 0.01: t = 6.12 on 4 df, p = 0.0036.
    let acc = md.lines().find(|l| l.starts_with("| init | final_val_acc |")).expect("a row per metric");
    assert!(acc.contains("0.9100 ± 0.0100 (3)") && acc.contains("+0.0500") && acc.contains("0.0036"), "{acc}");
    let gap = md.lines().find(|l| l.starts_with("| init | acc_gap |")).unwrap();
    assert!(gap.contains("0.0400 ± 0.0100 (3)") && gap.contains("-0.0400"), "{gap}");

    let out = tempfile::tempdir().unwrap();
    mlp::experiment::summary::write_comparisons(&sweep.comparisons, out.path()).unwrap();
    let read = mlp::experiment::summary::read_comparisons(&[out.path().to_path_buf()]).unwrap();
    assert_eq!(&read[0], c);
    mlp::experiment::summary::write_summaries(&runs, &read, out.path()).unwrap();
    let written = std::fs::read_to_string(out.path().join("summary.md")).unwrap();
    assert!(written.contains("## Comparisons") && written.contains(acc), "{written}");
}

#[test]
fn summary_columns_keep_their_order_and_carry_every_knob() {
    let run = collected("r", mlp::config::TrainConfig::default(), Summary { stop_epoch: None, ..summary(0.9, None) });
    let row = summary_row(&run);
    let header: Vec<&str> = row.iter().map(|(k, _)| *k).collect();
    assert_eq!(header, COLUMNS);
    // The columns as first published: later ones only ever appended.
    let first = "run,hidden,activation,init,lr,momentum,batch_size,epochs,patience,early_stopping,checks_per_epoch,validation,restore_best,seed,rng,precision,train_size,val_size,norm_stats,stop_epoch,steps,best_step,best_val_loss,final_train_loss,final_train_acc,final_val_loss,final_val_acc,train_wall_s";
    assert_eq!(header[..28].join(","), first);
    let summary_fields: Vec<String> =
        serde_json::to_value(&run.summary).unwrap().as_object().unwrap().keys().cloned().collect();
    for key in mlp::config::Overrides::keys().iter().chain(&summary_fields).filter(|k| *k != "restored_best") {
        assert!(header.contains(&key.as_str()), "summary.csv lacks {key}: append it to COLUMNS");
    }
    let value = |k: &str| row.iter().find(|(h, _)| *h == k).unwrap().1.clone();
    assert_eq!(value("hidden"), "64");
    assert_eq!(value("lr"), "0.1");
    assert_eq!((value("stop_epoch"), value("final_val_loss")), (String::new(), String::new()));
}

#[test]
fn hostile_run_names_are_refused_naming_the_entry() {
    let long = "x".repeat(300);
    for name in ["../escaped", "a/b", ".", "..", "", "x y", "summary\n", "é", "a|b", "summary.csv", "summary.md", &long]
    {
        let text = format!("[[run]]\nname = {:?}\npreset = \"all\"\n", name);
        let err = Sweep::parse(&text, "bad").unwrap_err();
        assert!(err.contains("[[run]] #1") && err.contains("not allowed"), "{name:?}: {err}");
    }
}

#[test]
fn sweeps_above_the_run_limit_are_refused_before_expanding() {
    let huge =
        "[axes]\nlr = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]\nseed = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
                batch_size = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nepochs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n\
                patience = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n";
    let err = Sweep::parse_limited(huge, "huge", 10_000).unwrap_err();
    assert!(err.contains("100000 runs, more than the limit of 10000"), "{err}");
    let small = Sweep::parse_limited("[axes]\nlr = [0.1, 0.2]", "s", 2).unwrap();
    let err = small.with_seeds(2, 3).unwrap_err();
    assert!(err.contains("2 runs x 2 seeds, more than the limit of 3"), "{err}");
}

#[test]
fn report_lists_broken_runs_refuses_conflicting_ids_and_missing_directories() {
    let m = mnist();
    let sweep = Sweep::parse(TINY, "tiny").unwrap();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run(&sweep, &m, a.path(), 2, StalePolicy::Rerun);
    // A truncated summary and an empty config: listed as broken, not dropped.
    let (s0, s1) = (a.path().join(&sweep.runs[0].id), a.path().join(&sweep.runs[1].id));
    let text = std::fs::read_to_string(s0.join("summary.json")).unwrap();
    std::fs::write(s0.join("summary.json"), &text[..text.len() / 2]).unwrap();
    std::fs::write(s1.join("config.json"), "").unwrap();
    let scan = collect_runs(&[a.path().to_path_buf()]).unwrap();
    assert_eq!(scan.runs.len(), 2);
    let broken: Vec<&Path> = scan.broken.iter().map(|(d, _)| d.as_path()).collect();
    assert_eq!(broken, [s0.as_path(), s1.as_path()]);
    assert!(scan.broken[0].1.contains("summary.json") && scan.broken[1].1.contains("config.json"), "{:?}", scan.broken);
    // The same id in two directories: one run when equal, refused when not.
    let one = Sweep::parse(&TINY.replace("lr = [0.05, 0.1]", "lr = [0.1]"), "tiny").unwrap();
    run(&one, &m, b.path(), 2, StalePolicy::Rerun);
    let a_ok = tempfile::tempdir().unwrap();
    run(&one, &m, a_ok.path(), 2, StalePolicy::Rerun);
    assert_eq!(collect_runs(&[a_ok.path().to_path_buf(), b.path().to_path_buf()]).unwrap().runs.len(), 2);
    let other =
        Sweep::parse(&TINY.replace("lr = [0.05, 0.1]", "lr = [0.1]").replace("epochs = 1", "epochs = 2"), "tiny")
            .unwrap();
    let c = tempfile::tempdir().unwrap();
    run(&other, &m, c.path(), 2, StalePolicy::Rerun);
    let err = collect_runs(&[b.path().to_path_buf(), c.path().to_path_buf()]).unwrap_err().to_string();
    assert!(err.contains(&b.path().display().to_string()) && err.contains(&c.path().display().to_string()), "{err}");
    let err = collect_runs(&[a.path().join("nope")]).unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn a_diverged_run_is_recorded_and_not_trained_again_without_force() {
    let m = mnist();
    let text = TINY
        .replace("lr = [0.05, 0.1]", "lr = [0.1, 1e306]")
        .replace("activation = [\"sigmoid\", \"improved\"]", "activation = [\"sigmoid\"]");
    let sweep = Sweep::parse(&text, "tiny").unwrap();
    let out = tempfile::tempdir().unwrap();
    let first = run(&sweep, &m, out.path(), 2, StalePolicy::Rerun);
    assert_eq!(kinds(&first), ["done", "failed"]);
    let dir = out.path().join(&sweep.runs[1].id);
    assert!(dir.join("failed.json").is_file() && !dir.join("summary.json").exists());
    let logged = std::fs::read(dir.join("steps.csv")).unwrap();
    std::fs::write(dir.join("steps.csv"), b"untouched").unwrap();
    let again = run(&sweep, &m, out.path(), 2, StalePolicy::Rerun);
    assert_eq!(kinds(&again), ["skipped", "failed"]);
    let RunStatus::Failed(why) = &again[1] else { unreachable!() };
    assert!(why.contains("diverged") && why.contains("recorded earlier"), "{why}");
    assert_eq!(std::fs::read(dir.join("steps.csv")).unwrap(), b"untouched", "not trained again");
    let scan = collect_runs(&[out.path().to_path_buf()]).unwrap();
    assert_eq!((scan.runs.len(), scan.failed.len(), scan.unfinished.len()), (1, 1, 0));
    // --force trains it again (and it diverges again, the same way).
    let forced =
        execute(&sweep.runs, &m, out.path(), 2, &RunOptions { force: true, ..opts() }, StalePolicy::Rerun, &|_, _| {})
            .unwrap();
    let RunStatus::Failed(why) = &forced[1] else { unreachable!() };
    assert!(!why.contains("recorded earlier"), "{why}");
    assert_eq!(std::fs::read(dir.join("steps.csv")).unwrap(), logged);
}
