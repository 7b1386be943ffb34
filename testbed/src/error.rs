//! The testbed's error type.

use std::path::PathBuf;

/// Everything that can go wrong while building or running a testbed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system tool is not installed.
    #[error("required tool `{0}` not found in PATH, /usr/sbin or /sbin (Debian package: {1})")]
    MissingTool(String, &'static str),
    /// A command ran and failed.
    #[error("`{cmd}` failed: {detail}")]
    Command {
        /// The command line.
        cmd: String,
        /// Exit status and stderr.
        detail: String,
    },
    /// A process did not become ready in time, or died while starting.
    #[error("{name}: {what} (log: {log})", log = log.display())]
    NotReady {
        /// Process name.
        name: String,
        /// What happened.
        what: String,
        /// Its log file.
        log: PathBuf,
    },
    /// A timeout on an exchange.
    #[error("timeout: {0}")]
    Timeout(String),
    /// The capture check found a problem.
    #[error("capture {path}: {what}", path = path.display())]
    Capture {
        /// The pcap.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// A companion binary (aaa-server, supplicant) is missing.
    #[error(
        "binary `{0}` not found in {1} (build it first: cargo build -p {0}; or pass --bin-dir)"
    )]
    MissingBinary(String, String),
    /// Bad input to the testbed itself.
    #[error("{0}")]
    Invalid(String),
    /// I/O.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds context to an I/O error.
pub trait IoContext<T> {
    /// Wraps the error with `what`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| Error::Io {
            context: what(),
            source,
        })
    }
}
