//! Reading input files with a size cap: a configuration, key or import file
//! given as `/dev/zero` (or a mistaken log file) is refused after `limit`
//! bytes instead of growing memory without bound.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The cap for `aaa.toml`.
pub const MAX_CONFIG: u64 = 1024 * 1024;
/// The cap for a PEM key or certificate file.
pub const MAX_KEY_FILE: u64 = 1024 * 1024;
/// The cap for a subscriber import file (`milenage_db`): about 700 000 lines.
pub const MAX_IMPORT: u64 = 64 * 1024 * 1024;

/// Why an input file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed.
    #[error("{}: cannot read: {}", path.display(), os_message(err))]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// More than `limit` bytes.
    #[error("{}: larger than the {limit}-byte limit for this file", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// Not UTF-8 text.
    #[error("{}: not UTF-8 text", path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
}

/// The OS error without Rust's ` (os error N)` suffix.
pub fn os_message(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Reads at most `limit` bytes of `path`; more is [`InputError::TooLarge`].
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let read_err = |err| InputError::Read {
        path: path.to_path_buf(),
        err,
    };
    let f = std::fs::File::open(path).map_err(read_err)?;
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(read_err)?;
    if buf.len() as u64 > limit {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(buf)
}

/// [`read_capped`] as UTF-8 text.
pub fn read_text_capped(path: &Path, limit: u64) -> Result<String, InputError> {
    String::from_utf8(read_capped(path, limit)?).map_err(|_| InputError::NotText {
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_zero_is_refused_at_the_cap() {
        let e = read_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert_eq!(
            e.to_string(),
            "/dev/zero: larger than the 4096-byte limit for this file"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"abcd").unwrap();
        assert_eq!(read_text_capped(&p, 4).unwrap(), "abcd");
        assert!(matches!(
            read_capped(&p, 3),
            Err(InputError::TooLarge { limit: 3, .. })
        ));
        std::fs::write(&p, b"\xff").unwrap();
        assert!(matches!(
            read_text_capped(&p, 4),
            Err(InputError::NotText { .. })
        ));
        let e = read_capped(&dir.path().join("missing"), 4).unwrap_err();
        assert!(e.to_string().contains("missing: cannot read: "), "{e}");
    }
}
