//! Files the user names on the command line or in a profile: read with a
//! size cap (a bounded read, so `--profile /dev/zero` fails at once instead
//! of growing memory), and refused when they hold a secret that group or
//! others can read.

use eap::secret::SecretBytes;
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// What a file is and how large it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// What the file is, for messages ("the profile").
    pub what: &'static str,
    /// The most bytes accepted.
    pub max: usize,
}

/// Profiles: ours are a few hundred bytes, Passpoint documents a few KiB
/// (the passpoint-profile reader's own cap).
pub const PROFILE: Limit = Limit {
    what: "profile",
    max: passpoint_profile::read::MAX_FILE_SIZE,
};
/// `--pin-file`: a PIN is at most 8 digits; room for whitespace.
pub const PIN_FILE: Limit = Limit {
    what: "PIN file",
    max: 64,
};
/// The pseudonym / fast re-authentication state file.
pub const STATE_FILE: Limit = Limit {
    what: "privacy state file",
    max: 64 * 1024,
};
/// The simulator file (K, OPc, SQN array).
pub const SIM_FILE: Limit = Limit {
    what: "simulator file",
    max: 64 * 1024,
};
/// The operator's IMSI privacy certificate (PEM).
pub const CERT_FILE: Limit = Limit {
    what: "IMSI privacy certificate",
    max: 64 * 1024,
};

/// Why an input file cannot be used. Shown as `file:0: detail`.
#[derive(Debug)]
pub enum InputError {
    /// Opening or reading failed.
    Io {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
        /// The OS error.
        err: std::io::Error,
    },
    /// Larger than its limit.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// Not UTF-8 text.
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A secret readable by group or others.
    Readable {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
        /// Its permission bits.
        mode: u32,
    },
}

impl InputError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            InputError::Io { path, .. }
            | InputError::TooLarge { path, .. }
            | InputError::NotUtf8 { path, .. }
            | InputError::Readable { path, .. } => path,
        }
    }

    /// What is wrong, without the file name.
    pub fn detail(&self) -> String {
        match self {
            InputError::Io { what, err, .. } => format!("cannot read the {what}: {err}"),
            InputError::TooLarge { what, max, .. } => {
                format!("the {what} is larger than {max} bytes, the limit; not reading it")
            }
            InputError::NotUtf8 { what, .. } => format!("the {what} is not UTF-8 text"),
            InputError::Readable { path, what, mode } => format!(
                "the {what} holds a secret but its mode is {mode:04o}; expected 0600 (run `chmod 600 {}`)",
                path.display()
            ),
        }
    }
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:0: {}", self.path().display(), self.detail())
    }
}

impl std::error::Error for InputError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InputError::Io { err, .. } => Some(err),
            _ => None,
        }
    }
}

/// Reads at most `limit.max` bytes of `path`; more is [`InputError::TooLarge`].
/// The buffer is wiped when dropped (callers may read secrets with it).
pub fn read_capped(path: &Path, limit: Limit) -> Result<Zeroizing<Vec<u8>>, InputError> {
    let io = |err| InputError::Io {
        path: path.to_path_buf(),
        what: limit.what,
        err,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    // Room for the whole cap up front for small files, so no reallocation
    // leaves an unwiped copy of a secret behind.
    let mut buf = Zeroizing::new(Vec::with_capacity(limit.max.min(64 * 1024) + 1));
    file.take(limit.max as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(io)?;
    if buf.len() > limit.max {
        return Err(InputError::TooLarge {
            path: path.to_path_buf(),
            what: limit.what,
            max: limit.max,
        });
    }
    Ok(buf)
}

/// [`read_capped`] as UTF-8 text, wiped when dropped.
pub fn read_text(path: &Path, limit: Limit) -> Result<Zeroizing<String>, InputError> {
    let mut bytes = read_capped(path, limit)?;
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(s) => Ok(Zeroizing::new(s)),
        Err(e) => {
            // Wipe the bytes the error hands back.
            drop(Zeroizing::new(e.into_bytes()));
            Err(InputError::NotUtf8 {
                path: path.to_path_buf(),
                what: limit.what,
            })
        }
    }
}

/// Refuses `path` when group or others may read it (it holds a secret).
pub fn check_private(path: &Path, what: &'static str) -> Result<(), InputError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|err| InputError::Io {
        path: path.to_path_buf(),
        what,
        err,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(InputError::Readable {
            path: path.to_path_buf(),
            what,
            mode,
        });
    }
    Ok(())
}

/// Reads PIN1 from `--pin-file`: mode 0600 (or stricter), at most
/// [`PIN_FILE`] bytes, surrounding whitespace dropped.
pub fn read_pin_file(path: &Path) -> Result<SecretBytes, InputError> {
    check_private(path, PIN_FILE.what)?;
    let text = read_text(path, PIN_FILE)?;
    Ok(SecretBytes::from(text.trim()))
}

/// The key a TOML line assigns (`key = …`, also `a.b = …`), if any.
fn key_on_line(line: &str) -> Option<&str> {
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    ok.then_some(key)
}

/// The 1-based line of the first `key = …` in TOML `text`; 0 when absent.
pub fn line_of_key(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| key_on_line(l) == Some(key))
        .map_or(0, |i| i + 1)
}

/// A TOML parse error as (1-based line or 0, `key: what is wrong`): the
/// line of the error's span, and the key assigned on that line when the
/// message does not already name it.
pub fn toml_error(text: &str, e: &toml::de::Error) -> (usize, String) {
    let msg = e.message().trim().to_string();
    let Some(span) = e.span() else {
        return (0, msg);
    };
    let start = span.start.min(text.len());
    let line = text.as_bytes()[..start]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1;
    let key = text.lines().nth(line - 1).and_then(key_on_line);
    match key {
        Some(k) if !msg.contains(&format!("`{k}`")) => (line, format!("{k}: {msg}")),
        _ => (line, msg),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn caps_sizes_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let limit = Limit {
            what: "thing",
            max: 4,
        };
        let ok = write(dir.path(), "ok", b"abcd", 0o644);
        assert_eq!(read_capped(&ok, limit).unwrap().as_slice(), b"abcd");
        let big = write(dir.path(), "big", b"abcde", 0o644);
        let e = read_capped(&big, limit).unwrap_err().to_string();
        assert!(e.contains("big:0: the thing is larger than 4 bytes"), "{e}");
        // An endless file ends at the cap.
        let e = read_capped(Path::new("/dev/zero"), PROFILE)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("/dev/zero:0: the profile is larger than"),
            "{e}"
        );
        let bin = write(dir.path(), "bin", &[0xFF, 0xFE], 0o644);
        let e = read_text(&bin, limit).unwrap_err().to_string();
        assert!(e.contains("bin:0: the thing is not UTF-8"), "{e}");
        let e = read_capped(&dir.path().join("none"), limit)
            .unwrap_err()
            .to_string();
        assert!(e.contains("none:0: cannot read the thing"), "{e}");
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        name: String,
        size: u8,
    }

    #[test]
    fn toml_errors_name_line_and_key() {
        let text = "name = \"x\"\nsize = \"big\"\n";
        let e = toml::from_str::<Doc>(text).unwrap_err();
        let (line, msg) = toml_error(text, &e);
        assert_eq!(line, 2);
        assert!(msg.starts_with("size: invalid type"), "{msg}");
        assert!(msg.contains("expected u8"), "{msg}");
        let text = "name = \"x\"\nsize = 1\nbogus = 2\n";
        let e = toml::from_str::<Doc>(text).unwrap_err();
        let (line, msg) = toml_error(text, &e);
        assert_eq!(line, 3);
        assert!(msg.starts_with("unknown field `bogus`"), "{msg}");
        assert_eq!(line_of_key("k = 1\nkey = 2\n", "key"), 2);
        assert_eq!(line_of_key("k = 1\n", "key"), 0);
    }

    #[test]
    fn pin_file_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let open = write(dir.path(), "pin", b"2468\n", 0o644);
        let e = read_pin_file(&open).unwrap_err().to_string();
        assert!(
            e.contains("pin:0: the PIN file holds a secret but its mode is 0644"),
            "{e}"
        );
        assert!(!e.contains("2468"));
        let group = write(dir.path(), "pin-g", b"2468\n", 0o640);
        assert!(matches!(
            read_pin_file(&group),
            Err(InputError::Readable { mode: 0o640, .. })
        ));
        let ok = write(dir.path(), "pin-ok", b" 2468\n", 0o600);
        assert_eq!(read_pin_file(&ok).unwrap().expose(), b"2468");
        let long = write(dir.path(), "pin-long", &[b'1'; 65], 0o600);
        assert!(matches!(
            read_pin_file(&long),
            Err(InputError::TooLarge { max: 64, .. })
        ));
    }
}
