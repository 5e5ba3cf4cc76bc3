//! `mlp predict`: a saved model's predictions for images, as CSV on stdout.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use mlp::data::read_inputs;
use mlp::experiment::inference::predict_images;
use mlp::nn::model_file;

#[derive(Args)]
pub struct PredictArgs {
    /// A model file written by a run (model.safetensors or best.safetensors).
    #[arg(long, value_name = "FILE")]
    model: PathBuf,
    /// IDX image files (raw or gzipped), PNG files, or directories of PNG files (8-bit grayscale,
    /// a white digit on black, as MNIST).
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    images: Vec<PathBuf>,
}

pub fn run(args: PredictArgs) -> Result<()> {
    mlp::tools::blas_setup::configure();
    let (model, meta) = model_file::load(&args.model)?;
    let images = read_inputs(&args.images, model.sizes()[0] - 1)?;
    let predictions = predict_images(&args.model, &model, &meta, &images)?;
    let mut out = csv::Writer::from_writer(std::io::stdout().lock());
    let header = ["index".to_string(), "predicted".into()].into_iter().chain((0..10).map(|c| format!("p{c}")));
    out.write_record(header)?;
    for p in predictions {
        let probs = p.probabilities.iter().map(|v| v.to_string());
        out.write_record([p.name, p.predicted.to_string()].into_iter().chain(probs))?;
    }
    out.flush().context("writing the predictions")?;
    Ok(())
}
