//! `mlp info`: the OpenBLAS core and threads this program runs with.

use anyhow::Result;

use mlp::tools::blas_setup;

pub fn run() -> Result<()> {
    let (core, threads) = blas_setup::configure(1);
    println!("openblas_core {core}\nopenblas_threads {threads}");
    println!("best_core_for_cpu {}", blas_setup::better_core().unwrap_or("none"));
    Ok(())
}
