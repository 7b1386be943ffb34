//! The `auth` command: profile + USIM + peer + EAPOL shell.

use crate::cli::MethodArg;
use crate::usim::spec::SimSource;
use eap::secret::SecretBytes;
use std::path::PathBuf;
use std::time::Duration;

/// Options of `supplicant auth`.
#[derive(Debug)]
pub struct AuthOptions {
    /// Interface.
    pub iface: String,
    /// Profile file.
    pub profile: PathBuf,
    /// USIM.
    pub sim: SimSource,
    /// Method override.
    pub method: Option<MethodArg>,
    /// PIN1.
    pub pin: Option<SecretBytes>,
    /// PIN1 file.
    pub pin_file: Option<PathBuf>,
    /// Overall timeout.
    pub timeout: Duration,
    /// JSON output.
    pub json: bool,
}

/// Runs `auth`; returns the exit code.
pub fn auth(_opts: AuthOptions) -> i32 {
    eprintln!("supplicant auth: not implemented yet");
    crate::cli::EXIT_USAGE
}
