//! The system OpenBLAS (Debian's `libopenblas-dev`) is linked by the `openblas-src` crate through
//! pkg-config. Building OpenBLAS from source needs the network, so without the packaged library
//! the build stops here with the command that installs it, before a bare linker error.
use std::process::Command;

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
}
