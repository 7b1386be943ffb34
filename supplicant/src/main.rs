//! `supplicant` command line; everything lives in the library.
fn main() {
    std::process::exit(supplicant::cli::main());
}
