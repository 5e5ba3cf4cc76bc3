//! `mlp eval`: a saved model's metrics on its run's data, as JSON.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::common::{load, CommonArgs};
use mlp::experiment::inference::{evaluate_model, EvalSet};
use mlp::nn::model_file;

#[derive(Args)]
pub struct EvalArgs {
    /// A model file written by a run (model.safetensors or best.safetensors).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// Which images of the run's setting: its validation set (the default; equals the run's
    /// final validation metrics), the test images, or its training images.
    #[arg(long, value_enum, default_value = "validation")]
    set: EvalSet,
    #[command(flatten)]
    common: CommonArgs,
}

pub fn run(args: EvalArgs) -> Result<()> {
    args.common.setup_pool()?;
    let dir = args.common.data_dir(model_file::load(&args.model)?.1.config.dataset)?;
    let mnist = load(&dir)?;
    let report = evaluate_model(&args.model, &mnist, &dir, args.set)?;
    let mut json = serde_json::to_value(&report)?;
    json["model"] = serde_json::json!(args.model);
    json["data_dir"] = serde_json::json!(dir);
    say!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
