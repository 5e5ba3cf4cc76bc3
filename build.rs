//! Two jobs before the trainer compiles:
//! - The system OpenBLAS (Debian's `libopenblas-dev`) is linked by the `openblas-src` crate through
//!   pkg-config. Building OpenBLAS from source needs the network, so without the packaged library
//!   the build stops here with the command that installs it, before a bare linker error.
//! - `MLP_SOURCE_HASH`: a sha256 over the code that determines results (`src/`, `kernels/`, the
//!   manifests, `Cargo.lock`, this file), part of every run's fingerprint. Documentation edits do
//!   not change it; a code edit does.
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

const SOURCES: &[&str] = &["src", "kernels/src", "kernels/Cargo.toml", "Cargo.toml", "Cargo.lock", "build.rs"];

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
