//! Makes OpenBLAS run its fast kernels on one thread per call, however the program is started.
//!
//! Debian's OpenBLAS 0.3.21 misdetects AVX-512 CPUs of this kind as "Prescott" (upstream
//! OpenBLAS#4267) and then runs SSE3 kernels several times slower. OpenBLAS reads
//! `OPENBLAS_CORETYPE` only when it is loaded, so when the variable is unset and the loaded core is
//! Prescott we choose the best core the CPU can really run and re-execute the program once.

use std::os::unix::process::CommandExt;

/// Set in the re-executed process so that it never loops.
const REEXEC_MARK: &str = "MLP_BLAS_REEXEC";

/// The OpenBLAS core this CPU can run that is faster than a misdetected Prescott, if any.
pub fn better_core() -> Option<&'static str> {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx512f") && has!("avx512bw") && has!("avx512dq") && has!("avx512vl") {
            return Some("SkylakeX");
        }
        if has!("avx2") && has!("fma") {
            return Some("Haswell");
        }
    }
    None
}

/// Re-executes the current program with `OPENBLAS_CORETYPE` set when OpenBLAS loaded the slow
/// Prescott kernels on a CPU that can do better. Returns only if no re-exec was needed or possible.
pub fn ensure_fast_core() {
    if std::env::var_os("OPENBLAS_CORETYPE").is_some() || std::env::var_os(REEXEC_MARK).is_some() {
        return;
    }
    if !kernels::blas::corename().eq_ignore_ascii_case("prescott") {
        return;
    }
    let Some(core) = better_core() else { return };
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("OPENBLAS_CORETYPE", core)
        .env(REEXEC_MARK, "1")
        .exec();
    eprintln!("mlp: warning: could not re-execute with OPENBLAS_CORETYPE={core} ({err}); continuing with the slow Prescott kernels");
}

/// Keeps OpenBLAS on one thread per call and returns its core name for logging. A run's threads
/// are its rayon pool: the plan splits large products over it, each block one single-threaded
/// OpenBLAS call (OpenBLAS's own threads would also spin idle between calls, and its own split is
/// not bit-identical to one thread in f64).
pub fn configure() -> String {
    kernels::blas::set_threads(1);
    kernels::blas::corename()
}
