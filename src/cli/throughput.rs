//! `mlp throughput`: times a benchmark workload and prints JSON.

use anyhow::Result;
use clap::Args;

use super::common::{load, CommonArgs};
use mlp::config::{FirstLayer, Kernels, Precision};
use mlp::data::Mnist;
use mlp::tools::workloads::{self, Shape, Workload};

#[derive(Args)]
pub struct ThroughputArgs {
    #[arg(long, value_enum)]
    workload: Workload,
    #[arg(long, value_enum, default_value = "f32")]
    precision: Precision,
    #[arg(long, value_enum, default_value = "fast")]
    kernels: Kernels,
    #[arg(long, value_enum, default_value = "auto")]
    first_layer: FirstLayer,
    /// Hidden layer sizes instead of the workload's, comma separated, e.g. 1024,1024.
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Batch size instead of the workload's 32.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Time only the first N steps of the shuffled epoch (W1, W2), not all of it.
    #[arg(long, value_name = "N")]
    steps: Option<usize>,
    /// Timed repetitions (after one untimed warm-up).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    reps: u32,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: ThroughputArgs) -> Result<()> {
    let (core, threads) = (args.common.setup_blas(), args.common.threads());
    let mnist = load(&args.common.data_dir(mlp::config::DatasetName::Mnist)?)?;
    let shape = Shape { hidden: args.hidden.clone(), batch_size: args.batch_size, steps: args.steps };
    // Check the shape before the data is prepared: bad flags fail at once.
    args.workload.config(args.precision, args.kernels, args.first_layer, &shape)?;
    // The workload runs as a run of `threads` threads does: on a pool of its own.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let seconds = pool.install(|| match args.precision {
        Precision::F32 => time_workload::<f32>(&args, &shape, &mnist),
        Precision::F64 => time_workload::<f64>(&args, &shape, &mnist),
    })?;
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let report = serde_json::json!({
        "workload": args.workload,
        "precision": args.precision,
        "kernels": args.kernels,
        "first_layer": args.first_layer,
        "hidden": shape.hidden,
        "batch_size": shape.batch_size,
        "steps": shape.steps,
        "blas_core": core,
        "threads": threads,
        "seconds": seconds,
        "median_s": sorted[sorted.len() / 2],
        "min_s": sorted[0],
        "max_s": sorted[sorted.len() - 1],
    });
    say!("{report}");
    Ok(())
}

fn time_workload<T: kernels::Element>(args: &ThroughputArgs, shape: &Shape, mnist: &Mnist) -> Result<Vec<f64>> {
    let splits = workloads::splits::<T>(mnist)?;
    let once = || workloads::run_once(args.workload, &splits, args.precision, args.kernels, args.first_layer, shape);
    once()?;
    (0..args.reps).map(|_| Ok(once()?)).collect()
}
