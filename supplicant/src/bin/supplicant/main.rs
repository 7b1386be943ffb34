//! The `supplicant` command line: clap front end over the library.

mod cli;
mod probe;
mod run;
mod wifi;

fn main() {
    std::process::exit(cli::main());
}
