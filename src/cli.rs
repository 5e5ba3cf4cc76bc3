//! Flags and subcommands.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};

use mlp::config::{parameter_count, ActivationKind, FirstLayer, InitKind, Precision, RngKind, TrainConfig};
use mlp::data::{self, Mnist, NormStats};
use mlp::error::{ConfigError, TrainError};
use mlp::gradcheck::gradient_check;
use mlp::model::Mlp;
use mlp::output::Summary;
use mlp::rng::make_rng;
use mlp::run::{run_name, run_to_dir, RunOptions};
use mlp::sweep::{collect_runs, write_summaries, RunSpec, RunStatus, Sweep};
use mlp::workloads::Workload;

#[derive(Parser)]
#[command(name = "mlp", version, about = "Fast, faithful MLP trainer for the MNIST 'tricks of the trade' experiments")]
pub struct Cli {
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train one model and write its run directory (config.json, steps.csv, checks.csv, summary.json).
    Train(TrainArgs),
    /// Print the parameter count of a network (weights; the bias is the input's ones column).
    Params {
        /// Hidden layer sizes, e.g. 64 or 60,60.
        #[arg(long, value_delimiter = ',', required = true)]
        hidden: Vec<usize>,
        /// Inputs per image, the bias column included.
        #[arg(long, default_value_t = 785)]
        inputs: usize,
    },
    /// The assignment's gradient check (tasks 2a and 4c) on [64] and [64,64], both activations.
    Gradcheck(GradcheckArgs),
    /// Run a sweep file (TOML) in parallel, resumably; writes results/<sweep>/ and its summaries.
    Sweep(SweepArgs),
    /// Regenerate summary.csv / summary.md from run directories (e.g. to merge shards).
    Report {
        /// Sweep directories or run directories.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Where to write the summaries (default: the first directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the report's experiments in the reference setting and regenerate its results table.
    Reproduce(ReproduceArgs),
    /// Time a throughput workload (W1-W4, see `mlp::workloads`); prints JSON with every repetition.
    Throughput(ThroughputArgs),
    /// Print the OpenBLAS core and thread count this program runs with.
    Info,
}

#[derive(Args)]
struct ThroughputArgs {
    #[arg(long, value_enum)]
    workload: Workload,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    #[arg(long, value_enum, default_value = "auto")]
    first_layer: FirstLayer,
    /// Timed repetitions (after one untimed warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct SweepArgs {
    /// The sweep file, e.g. experiments/study.toml.
    file: PathBuf,
    /// Output directory (default results/<sweep name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Runs in parallel (default: the number of cores).
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only shard I of N (1-based), e.g. 2/3.
    #[arg(long, value_parser = parse_shard)]
    shard: Option<(usize, usize)>,
    /// Repeat every run over seeds 1..=N (ids get a -s<seed> suffix).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    seeds: Option<u32>,
    /// Redo finished runs and replace runs of a different config.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct ReproduceArgs {
    #[arg(long, default_value = "results/report")]
    out: PathBuf,
    #[arg(long)]
    jobs: Option<usize>,
    /// Redo finished runs.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn parse_shard(s: &str) -> std::result::Result<(usize, usize), String> {
    let bad = || format!("expected I/N with 1 <= I <= N, e.g. 2/3; got `{s}`");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n): (usize, usize) = (i.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if i == 0 || n == 0 || i > n {
        return Err(bad());
    }
    Ok((i, n))
}

#[derive(Args)]
struct CommonArgs {
    /// Directory with the four MNIST-format IDX files (raw or gzipped).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// OpenBLAS threads per process (1 is fastest for batch-32 training).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    blas_threads: u16,
    /// No progress bar, no log lines.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args)]
#[command(allow_negative_numbers = true)]
struct TrainArgs {
    /// Start from a run of the study: basic, iw, is, momentum, is-iw, all, 4a, 4b, 4-64, 4d, 4e
    /// (other flags override its values).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(mlp::presets::names()))]
    preset: Option<String>,
    /// Hidden layer sizes, comma separated, e.g. 64 or 60,60.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    #[arg(long, value_enum)]
    activation: Option<ActivationKind>,
    #[arg(long, value_enum)]
    init: Option<InitKind>,
    /// Learning rate.
    #[arg(long)]
    lr: Option<f64>,
    /// Momentum gamma (0 = plain SGD; the study uses 0.9 with lr 0.02).
    #[arg(long)]
    momentum: Option<f64>,
    #[arg(long)]
    batch_size: Option<usize>,
    /// Maximum number of epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Early-stopping patience, in validation checks.
    #[arg(long)]
    patience: Option<usize>,
    /// Train all epochs whatever the validation loss does.
    #[arg(long)]
    no_early_stop: bool,
    /// Validation checks per epoch.
    #[arg(long)]
    checks_per_epoch: Option<usize>,
    /// No validation checks (throughput runs); final metrics are still computed.
    #[arg(long)]
    no_validation: bool,
    /// Use the weights of the best check for the final metrics.
    #[arg(long)]
    restore_best: bool,
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum)]
    rng: Option<RngKind>,
    #[arg(long, value_enum)]
    precision: Option<Precision>,
    /// Training images: the first N of the training file.
    #[arg(long)]
    train_size: Option<usize>,
    /// Validation images: the last N of the test file.
    #[arg(long)]
    val_size: Option<usize>,
    /// Images the normalisation mean/std come from.
    #[arg(long, value_enum)]
    norm_stats: Option<NormStats>,
    /// First-layer computation: auto (sparse pixels where measured faster), sparse, or dense (the
    /// reference path: dense GEMM and libm e^x throughout).
    #[arg(long, value_enum)]
    first_layer: Option<FirstLayer>,
    /// Run directory (default results/runs/<name derived from the config>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace a run already in --out.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Args)]
struct GradcheckArgs {
    /// Training images in the check.
    #[arg(long, default_value_t = 100)]
    images: usize,
    /// Check every Nth weight (1 = all, as the assignment).
    #[arg(long, default_value_t = 1)]
    stride: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[command(flatten)]
    common: CommonArgs,
}

impl TrainArgs {
    /// The defaults with every given flag applied.
    fn config(&self) -> TrainConfig {
        let mut c = TrainConfig::default();
        if let Some(p) = self.preset.as_deref().and_then(mlp::presets::find) {
            p.apply(&mut c);
        }
        macro_rules! set {
            ($($field:ident),*) => { $(if let Some(v) = self.$field.clone() { c.$field = v; })* };
        }
        set!(
            hidden,
            activation,
            init,
            lr,
            momentum,
            batch_size,
            epochs,
            patience,
            checks_per_epoch,
            seed,
            rng,
            precision,
            train_size,
            val_size,
            norm_stats,
            first_layer
        );
        c.early_stopping &= !self.no_early_stop;
        c.validation &= !self.no_validation;
        c.restore_best |= self.restore_best;
        c
    }
}

/// Exit code for an error: 2 for a bad hyperparameter (like clap's bad flags), 1 otherwise.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    let config_error = err.chain().any(|e| {
        e.downcast_ref::<ConfigError>().is_some()
            || matches!(e.downcast_ref::<TrainError>(), Some(TrainError::Config(_)))
    });
    if config_error {
        2
    } else {
        1
    }
}

/// The data directory: the flag, else `data/mnist` under the working directory, else the copy
/// shipped with the source tree.
fn data_dir(flag: &Option<PathBuf>) -> PathBuf {
    if let Some(dir) = flag {
        return dir.clone();
    }
    let local = PathBuf::from("data/mnist");
    if local.is_dir() {
        local
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
    }
}

fn setup_blas(common: &CommonArgs) -> (String, usize) {
    let (core, threads) = mlp::blas_setup::configure(common.blas_threads as usize);
    if !common.quiet {
        eprintln!("mlp: OpenBLAS core {core}, {threads} thread(s)");
    }
    (core, threads)
}

fn load(dir: &Path) -> Result<Mnist> {
    Mnist::load(dir).with_context(|| format!("loading data from {}", dir.display()))
}

pub fn execute(cli: Cli) -> Result<()> {
    match cli.cmd {
        Command::Train(args) => train(args),
        Command::Params { hidden, inputs } => {
            if hidden.is_empty() || hidden.contains(&0) {
                return Err(ConfigError {
                    key: "hidden",
                    value: format!("{hidden:?}"),
                    reason: "layer sizes must be at least 1".into(),
                }
                .into());
            }
            println!("{}", parameter_count(inputs, &hidden));
            Ok(())
        }
        Command::Gradcheck(args) => gradcheck(args),
        Command::Sweep(args) => sweep(args),
        Command::Report { dirs, out } => {
            let runs = collect_runs(&dirs);
            if runs.is_empty() {
                bail!("no finished runs (directories with summary.json) under {dirs:?}");
            }
            let out = out.unwrap_or_else(|| dirs[0].clone());
            write_summaries(&runs, &out)?;
            println!("{} runs -> {}", runs.len(), out.join("summary.md").display());
            Ok(())
        }
        Command::Reproduce(args) => reproduce(args),
        Command::Throughput(args) => throughput(args),
        Command::Info => {
            let (core, threads) = mlp::blas_setup::configure(1);
            println!("openblas_core {core}\nopenblas_threads {threads}");
            println!("best_core_for_cpu {}", mlp::blas_setup::better_core().unwrap_or("none"));
            Ok(())
        }
    }
}

fn train(args: TrainArgs) -> Result<()> {
    let cfg = args.config();
    cfg.validate()?;
    let (blas_core, blas_threads) = setup_blas(&args.common);
    let dir = data_dir(&args.common.data_dir);
    let mnist = load(&dir)?;
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results/runs").join(run_name(&cfg)));
    let opts = RunOptions { data_dir: dir, force: args.force, quiet: args.common.quiet, blas_core, blas_threads };
    let summary = run_to_dir(&cfg, &mnist, &out, &opts)?;
    print_summary(&summary, &out);
    Ok(())
}

fn print_summary(s: &Summary, out: &Path) {
    let stop = s.stop_epoch.map_or("never (ran all epochs)".to_string(), |e| format!("epoch {e}"));
    println!("early stop:  {stop}, {} steps", s.steps);
    if let (Some(step), Some(loss)) = (s.best_step, s.best_val_loss) {
        println!("best check:  step {step}, val loss {loss:.6}");
    }
    println!("final train: loss {:.6}, accuracy {:.4}", s.final_train_loss, s.final_train_acc);
    println!("final val:   loss {:.6}, accuracy {:.4}", s.final_val_loss, s.final_val_acc);
    println!("train time:  {:.2} s", s.train_wall_s);
    println!("written to:  {}", out.display());
}

fn gradcheck(args: GradcheckArgs) -> Result<()> {
    if args.images == 0 || args.stride == 0 {
        return Err(ConfigError { key: "images/stride", value: "0".into(), reason: "must be at least 1".into() }.into());
    }
    setup_blas(&args.common);
    let mnist = load(&data_dir(&args.common.data_dir))?;
    let splits = data::split::<f64>(&mnist, args.images, 0, NormStats::FullTrain)?;
    let (eps, tol) = (1e-3, 1e-6);
    let mut failed = false;
    for hidden in [vec![64], vec![64, 64]] {
        for act in [ActivationKind::Sigmoid, ActivationKind::Improved] {
            let sizes = mlp::config::layer_sizes(splits.train.dim(), &hidden);
            let mut rng = make_rng(RngKind::Xoshiro, args.seed);
            let model = Mlp::<f64>::init(&sizes, act.into(), InitKind::Uniform, rng.as_mut());
            let r = gradient_check(&model, &splits.train, eps, args.stride);
            let verdict = if r.passed(tol) { "ok" } else { "FAILED" };
            failed |= !r.passed(tol);
            println!(
                "{verdict:6} hidden {hidden:?} {act:?}: {} weights, max |approx - grad| = {:.3e} (limit {tol:e}) at layer {} [{}, {}]",
                r.checked, r.max_abs_diff, r.worst.0, r.worst.1, r.worst.2
            );
        }
    }
    if failed {
        bail!("gradient check failed: backprop disagrees with central differences");
    }
    Ok(())
}

fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `runs` with a bar of finished runs and one line per finished run on stderr.
fn run_all(runs: &[RunSpec], out: &Path, jobs: usize, force: bool, common: &CommonArgs) -> Result<Vec<RunStatus>> {
    let (blas_core, blas_threads) = setup_blas(common);
    let dir = data_dir(&common.data_dir);
    let mnist = load(&dir)?;
    let opts = RunOptions { data_dir: dir, force, quiet: true, blas_core, blas_threads };
    let target =
        if common.quiet { indicatif::ProgressDrawTarget::hidden() } else { indicatif::ProgressDrawTarget::stderr() };
    let bar = indicatif::ProgressBar::with_draw_target(Some(runs.len() as u64), target);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} runs {elapsed_precise}")
            .expect("static template"),
    );
    let quiet = common.quiet;
    let on_done = |r: &RunSpec, status: &RunStatus| {
        bar.inc(1);
        let line = match status {
            RunStatus::Done(s) => format!(
                "done    {}: stop epoch {}, val loss {:.4}, val acc {:.4}, {:.1} s",
                r.id,
                s.stop_epoch.map_or("-".into(), |e| e.to_string()),
                s.final_val_loss,
                s.final_val_acc,
                s.train_wall_s
            ),
            RunStatus::Skipped(_) => format!("skipped {}: already finished", r.id),
            RunStatus::Failed(e) => format!("FAILED  {}: {e}", r.id),
        };
        if !quiet {
            bar.suspend(|| eprintln!("{line}"));
        }
    };
    let statuses = mlp::sweep::execute(runs, &mnist, out, jobs, &opts, &on_done)?;
    bar.finish_and_clear();
    Ok(statuses)
}

fn failures(runs: &[RunSpec], statuses: &[RunStatus]) -> Vec<String> {
    runs.iter().zip(statuses).filter(|(_, s)| matches!(s, RunStatus::Failed(_))).map(|(r, _)| r.id.clone()).collect()
}

fn sweep(args: SweepArgs) -> Result<()> {
    let mut sweep = Sweep::load(&args.file).map_err(|e| ConfigError {
        key: "sweep file",
        value: e.file.display().to_string(),
        reason: e.message,
    })?;
    if let Some(n) = args.seeds {
        sweep = sweep.with_seeds(n as usize);
    }
    if let Some((i, n)) = args.shard {
        sweep = sweep.shard(i, n);
    }
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("results").join(&sweep.name));
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    let statuses = run_all(&sweep.runs, &out, jobs, args.force, &args.common)?;
    let runs = collect_runs(std::slice::from_ref(&out));
    write_summaries(&runs, &out)?;
    println!("{}", mlp::sweep::summary_markdown(&runs));
    println!("summaries: {} and {}", out.join("summary.csv").display(), out.join("summary.md").display());
    let failed = failures(&sweep.runs, &statuses);
    if !failed.is_empty() {
        bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

fn reproduce(args: ReproduceArgs) -> Result<()> {
    let runs = mlp::reproduce::runs();
    let start = std::time::Instant::now();
    let statuses = run_all(&runs, &args.out, args.jobs.unwrap_or_else(default_jobs), args.force, &args.common)?;
    let wall = start.elapsed().as_secs_f64();
    let finished = collect_runs(std::slice::from_ref(&args.out));
    let rows = mlp::reproduce::table_rows(&finished);
    mlp::reproduce::write_table(&rows, &args.out, wall)?;
    write_summaries(&finished, &args.out)?;
    print!("{}", std::fs::read_to_string(args.out.join("table.md"))?);
    let failed = failures(&runs, &statuses);
    if !failed.is_empty() {
        bail!("{} run(s) failed: {}", failed.len(), failed.join(", "));
    }
    Ok(())
}

fn throughput(args: ThroughputArgs) -> Result<()> {
    let (core, threads) = setup_blas(&args.common);
    let mnist = load(&data_dir(&args.common.data_dir))?;
    let seconds = match args.precision {
        Precision::F32 => time_workload::<f32>(&args, &mnist)?,
        Precision::F64 => time_workload::<f64>(&args, &mnist)?,
    };
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let report = serde_json::json!({
        "workload": args.workload,
        "precision": args.precision,
        "first_layer": args.first_layer,
        "blas_core": core,
        "blas_threads": threads,
        "seconds": seconds,
        "median_s": sorted[sorted.len() / 2],
        "min_s": sorted[0],
        "max_s": sorted[sorted.len() - 1],
    });
    println!("{report}");
    Ok(())
}

fn time_workload<T: kernels::Scalar>(args: &ThroughputArgs, mnist: &Mnist) -> Result<Vec<f64>> {
    let splits = mlp::workloads::splits::<T>(mnist)?;
    let once = || mlp::workloads::run_once(args.workload, &splits, args.precision, args.first_layer);
    once()?;
    (0..args.reps).map(|_| Ok(once()?)).collect()
}
