//! `mlp gradcheck`: the assignment's gradient check (tasks 2a and 4c).

use anyhow::{bail, Result};
use clap::Args;

use super::common::{load, CommonArgs};
use mlp::config::{layer_sizes, ActivationKind, BiasKind, InitKind, NormStats, RngKind};
use mlp::data;
use mlp::error::ConfigError;
use mlp::nn::{Mlp, Plan};
use mlp::rng::make_rng;
use mlp::tools::gradcheck::gradient_check;

#[derive(Args)]
pub struct GradcheckArgs {
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

pub fn run(args: GradcheckArgs) -> Result<()> {
    if args.images == 0 || args.stride == 0 {
        return Err(ConfigError { key: "images/stride", value: "0".into(), reason: "must be at least 1".into() }.into());
    }
    args.common.setup_pool()?;
    let mnist = load(&args.common.data_dir(mlp::config::DatasetName::Mnist)?)?;
    let splits = data::split::<f64>(&mnist, args.images, 0, 0, NormStats::FullTrain, Plan::REFERENCE.data_forms())?;
    let (eps, tol) = (1e-3, 1e-6);
    let mut failed = false;
    // The 2021 activations with uniform init, ReLU with He init, dropout under a fixed mask, and
    // every layer's bias.
    let cases = [
        (ActivationKind::Sigmoid, InitKind::Uniform, 0.0, BiasKind::Input),
        (ActivationKind::Improved, InitKind::Uniform, 0.0, BiasKind::Input),
        (ActivationKind::Relu, InitKind::He, 0.0, BiasKind::Input),
        (ActivationKind::Improved, InitKind::Normal, 0.3, BiasKind::Input),
        (ActivationKind::Improved, InitKind::Normal, 0.3, BiasKind::All),
    ];
    for hidden in [vec![64], vec![64, 64]] {
        for (act, init, dropout, bias) in cases {
            let sizes = layer_sizes(splits.train.dim(), &hidden);
            let mut rng = make_rng(RngKind::Xoshiro, args.seed);
            let model = Mlp::<f64>::init(&sizes, act.into(), init, bias, Plan::REFERENCE, rng.as_mut());
            let r = gradient_check(&model, &splits.train, eps, args.stride, dropout, args.seed);
            let verdict = if r.passed(tol) { "ok" } else { "FAILED" };
            failed |= !r.passed(tol);
            let skipped =
                if r.skipped > 0 { format!(" ({} at ReLU's kink skipped)", r.skipped) } else { String::new() };
            say!(
                "{verdict:6} hidden {hidden:?} {act:?} {init:?} dropout {dropout} bias {bias:?}: {} weights{skipped}, max |approx - grad| = {:.3e} (limit {tol:e}) at layer {} [{}, {}]",
                r.checked, r.max_abs_diff, r.worst.0, r.worst.1, r.worst.2
            );
        }
    }
    if failed {
        bail!("gradient check failed: backprop disagrees with central differences");
    }
    Ok(())
}
