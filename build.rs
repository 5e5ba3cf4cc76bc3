//! Links the system OpenBLAS (Debian's `libopenblas-dev`). Building OpenBLAS from source needs the
//! network, so the project relies on the packaged library and stops with a clear message without it.
use std::path::Path;

const SEARCH_DIRS: &[&str] =
    &["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

fn main() {
    println!("cargo:rerun-if-env-changed=OPENBLAS_LIB_DIR");
    let custom = std::env::var("OPENBLAS_LIB_DIR").ok();
    let dirs: Vec<&str> = custom.iter().map(String::as_str).chain(SEARCH_DIRS.iter().copied()).collect();
    match dirs.iter().find(|d| Path::new(d).join("libopenblas.so").exists()) {
        Some(dir) => {
            println!("cargo:rustc-link-search=native={dir}");
            println!("cargo:rustc-link-lib=dylib=openblas");
        }
        None => panic!(
            "\n\nOpenBLAS not found: no libopenblas.so in {dirs:?}.\n\
             Install it with `make setup` (runs `apt-get install -y libopenblas-dev`),\n\
             or point OPENBLAS_LIB_DIR at the directory holding libopenblas.so.\n\n"
        ),
    }
}
