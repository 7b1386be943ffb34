//! Locating system tools and our own binaries.

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// System tools the testbed drives, with the Debian package that provides each.
pub const SYSTEM_TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("hostapd", "hostapd"),
    ("wpa_supplicant", "wpasupplicant"),
    ("wpa_cli", "wpasupplicant"),
    ("eapol_test", "eapoltest"),
    ("pcscd", "pcscd"),
    ("tshark", "tshark"),
    ("tcpdump", "tcpdump"),
    ("unshare", "util-linux"),
];

/// Debian packages `testbed demo` installs when they are missing.
pub const DEBIAN_PACKAGES: &[&str] = &[
    "hostapd",
    "eapoltest",
    "wpasupplicant",
    "pcscd",
    "vsmartcard-vpcd",
    "libpcsclite-dev",
    "iproute2",
    "tshark",
    "tcpdump",
];

/// Finds `name` in PATH, then /usr/sbin, /sbin, /usr/bin, /bin.
pub fn find(name: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [
        "/usr/sbin",
        "/sbin",
        "/usr/bin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ];
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
        .ok_or_else(|| {
            let pkg = SYSTEM_TOOLS
                .iter()
                .find(|(t, _)| *t == name)
                .map_or("?", |(_, p)| p);
            Error::MissingTool(name.to_owned(), pkg)
        })
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The vpcd reader driver of vsmartcard-vpcd, if installed.
pub fn vpcd_driver() -> Result<PathBuf> {
    let candidates = [
        "/usr/lib/pcsc/drivers/serial/libifdvpcd.so",
        "/usr/lib/x86_64-linux-gnu/pcsc/drivers/serial/libifdvpcd.so",
        "/usr/lib/aarch64-linux-gnu/pcsc/drivers/serial/libifdvpcd.so",
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| Error::MissingTool("libifdvpcd.so".into(), "vsmartcard-vpcd"))
}

/// Every missing system tool (empty when all are there).
pub fn missing_tools() -> Vec<Error> {
    let mut out: Vec<Error> = SYSTEM_TOOLS
        .iter()
        .filter_map(|(t, _)| find(t).err())
        .collect();
    if let Err(e) = vpcd_driver() {
        out.push(e);
    }
    out
}

/// Whether the process runs as root (needed for namespaces).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// What is missing of one of our binaries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MissingPiece {
    /// The executable is not there (not built).
    Binary(String),
    /// It is there but does not offer this subcommand yet.
    Subcommand(String, String),
}

impl std::fmt::Display for MissingPiece {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MissingPiece::Binary(b) => write!(f, "{b} not built yet"),
            MissingPiece::Subcommand(b, s) => write!(f, "{b} not built yet (no `{s}` subcommand)"),
        }
    }
}

/// Where our own binaries (aaa-server, supplicant) are looked up.
///
/// In order: `explicit` (the `--bin-dir` option), the environment variable
/// `PASSPOINT_BIN_DIR`, the directory of the running executable, and its
/// parent (an integration test runs from `target/<profile>/deps/`, the
/// binaries are in `target/<profile>/`).
#[derive(Clone, Debug)]
pub struct BinDirs(Vec<PathBuf>);

impl BinDirs {
    /// The search list described above.
    pub fn discover(explicit: Option<&Path>) -> Self {
        let mut dirs = Vec::new();
        if let Some(d) = explicit {
            dirs.push(d.to_owned());
        }
        if let Some(d) = std::env::var_os("PASSPOINT_BIN_DIR") {
            dirs.push(PathBuf::from(d));
        }
        if let Ok(exe) = std::env::current_exe()
            && let Some(d) = exe.parent()
        {
            dirs.push(d.to_owned());
            if d.file_name().is_some_and(|n| n == "deps")
                && let Some(p) = d.parent()
            {
                dirs.push(p.to_owned());
            }
        }
        Self(dirs)
    }

    /// Finds `name` and checks that its `--help` lists each of `subcommands`
    /// (a binary that exists but does not implement them yet is "not built
    /// yet" for the matrix). The error says which.
    pub fn find_with(&self, name: &str, subcommands: &[&str]) -> Result<PathBuf, MissingPiece> {
        let p = self
            .find(name)
            .map_err(|_| MissingPiece::Binary(name.to_owned()))?;
        let help = std::process::Command::new(&p)
            .arg("--help")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        for sub in subcommands {
            let listed = help
                .lines()
                .any(|l| l.split_whitespace().next() == Some(*sub));
            if !listed {
                return Err(MissingPiece::Subcommand(name.to_owned(), (*sub).to_owned()));
            }
        }
        Ok(p)
    }

    /// Finds the binary `name`, or says where it looked.
    pub fn find(&self, name: &str) -> Result<PathBuf> {
        self.0
            .iter()
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
            .ok_or_else(|| {
                let list: Vec<String> = self.0.iter().map(|d| d.display().to_string()).collect();
                Error::MissingBinary(name.to_owned(), list.join(", "))
            })
    }
}
