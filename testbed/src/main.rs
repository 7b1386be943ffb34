//! `testbed` — the demo and the interop matrix.
use std::process::ExitCode;

fn main() -> ExitCode {
    if let Err(e) = testbed::cleanup::install_signal_handlers() {
        eprintln!("testbed: cannot install signal handlers: {e}");
        return ExitCode::from(2);
    }
    match testbed::smoke::run_md5() {
        Ok(o) => {
            println!("{o:?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("testbed: {e}");
            ExitCode::FAILURE
        }
    }
}
