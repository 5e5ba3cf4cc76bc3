//! `mlp params`: the parameter count of a network.

use anyhow::Result;
use clap::Args;

use mlp::config::{parameter_count, BiasKind};
use mlp::error::ConfigError;

#[derive(Args)]
pub struct ParamsArgs {
    /// Hidden layer sizes, e.g. 64 or 60,60.
    #[arg(long, value_delimiter = ',', required = true)]
    hidden: Vec<usize>,
    /// Inputs per image, the bias column included.
    #[arg(long, default_value_t = 785)]
    inputs: usize,
    /// Biases: `input` (the 2021 ones column) or `all` (every layer, as torch.nn.Linear).
    #[arg(long, value_enum, default_value = "input")]
    bias: BiasKind,
}

pub fn run(args: ParamsArgs) -> Result<()> {
    let invalid =
        |reason: &str| ConfigError { key: "hidden", value: format!("{:?}", args.hidden), reason: reason.into() };
    if args.hidden.is_empty() || args.hidden.contains(&0) {
        return Err(invalid("layer sizes must be at least 1").into());
    }
    let count = parameter_count(args.inputs, &args.hidden, args.bias)
        .ok_or_else(|| invalid("the parameter count overflows 64 bits"))?;
    say!("{count}");
    Ok(())
}
