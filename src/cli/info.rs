//! `mlp info`: the OpenBLAS core and threads this program runs with (OpenBLAS one per call; a run
//! `threads`, its default).

use anyhow::Result;

use mlp::tools::blas_setup;

pub fn run() -> Result<()> {
    let core = blas_setup::configure();
    say!("openblas_core {core}\nopenblas_threads {}", kernels::blas::threads());
    say!("threads {}", super::common::cores());
    say!("best_core_for_cpu {}", blas_setup::better_core().unwrap_or("none"));
    Ok(())
}
