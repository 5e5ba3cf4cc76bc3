//! Two jobs before the trainer compiles:
//! - The system OpenBLAS (Debian's `libopenblas-dev`) is linked by the `openblas-src` crate through
//!   pkg-config. Building OpenBLAS from source needs the network, so without the packaged library
//!   the build stops here with the command that installs it, before a bare linker error.
//! - `MLP_SOURCE_HASH`: a sha256 over the code that determines results (the numeric kernels, the
//!   network, training, data, random streams and configuration, and the locked dependency
//!   versions), part of every run's fingerprint. Edits to documentation, the command line, sweep
//!   handling or summaries do not change it; an edit to that code does. Files git does not track
//!   are left out (when building from a git checkout).
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const SOURCES: &[&str] = &["kernels/src", "src/config", "src/data", "src/nn", "src/rng", "src/train", "Cargo.lock"];

fn files(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> =
            std::fs::read_dir(path).expect("readable source dir").flatten().map(|e| e.path()).collect();
        entries.sort();
        entries.iter().for_each(|p| files(p, out));
    } else if path.is_file() {
        out.push(path.to_path_buf());
    }
}

/// The files git tracks under the sources, if this is a git checkout.
fn git_tracked() -> Option<Vec<PathBuf>> {
    let out = Command::new("git").args(["ls-files", "-z", "--"]).args(SOURCES).output().ok()?;
    let list: Vec<PathBuf> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).as_ref()))
        .collect();
    (out.status.success() && !list.is_empty()).then_some(list)
}

fn main() {
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let found = Command::new("pkg-config").args(["--exists", "openblas"]).status().is_ok_and(|s| s.success());
    if !found {
        panic!(
            "\n\nOpenBLAS not found: `pkg-config --exists openblas` failed.\n\
             Install it with `make setup` (runs `apt-get install -y libopenblas-dev pkg-config`),\n\
             or point PKG_CONFIG_PATH at a directory holding openblas.pc.\n\n"
        );
    }

    let mut all = Vec::new();
    for s in SOURCES {
        println!("cargo:rerun-if-changed={s}");
        files(Path::new(s), &mut all);
    }
    if let Some(tracked) = git_tracked() {
        all.retain(|f| tracked.iter().any(|t| t == f));
    }
    let mut hash = Sha256::new();
    for f in &all {
        let name = f.to_string_lossy();
        hash.update((name.len() as u64).to_le_bytes());
        hash.update(name.as_bytes());
        let bytes = std::fs::read(f).expect("readable source file");
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(&bytes);
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    println!("cargo:rustc-env=MLP_SOURCE_HASH={hex}");
}
