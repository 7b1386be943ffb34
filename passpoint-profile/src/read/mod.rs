//! Readers: every input format into [`Profile`]s plus diagnostics.
//!
//! Entry points: [`read_file`] and [`read_bytes`]. The format is sniffed from
//! the content unless given.

pub mod pps_mo;
pub mod toml;
pub mod wpa_supplicant;
pub mod x_wifi_config;

use crate::diag::{Diagnostic, Location, SourceMap};
use crate::model::Profile;
use std::fmt;
use std::path::Path;

/// Largest input accepted, in bytes (profiles are a few KiB; x-wifi-config
/// with certificates some tens of KiB).
pub const MAX_FILE_SIZE: usize = 1024 * 1024;
/// Largest number of XML nodes accepted by the PPS MO readers.
pub const MAX_XML_NODES: u32 = 20_000;
/// Deepest MO tree accepted.
pub const MAX_DEPTH: usize = 24;

/// An input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// PPS MO, OMA-DM TNDS XML (`MgmtTree`/`Node`/`NodeName`/`Value`).
    PpsMo,
    /// PPS MO, element-per-node XML (hostap `pps-mo-1.xml` style).
    PpsMoDdf,
    /// Android `application/x-wifi-config`.
    XWifiConfig,
    /// wpa_supplicant configuration with `cred={…}` blocks.
    WpaSupplicant,
    /// This crate's TOML.
    Toml,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::PpsMo => "pps-mo",
            Format::PpsMoDdf => "pps-mo-ddf",
            Format::XWifiConfig => "x-wifi-config",
            Format::WpaSupplicant => "wpa-supplicant",
            Format::Toml => "toml",
        })
    }
}

/// A fatal read error: nothing could be extracted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The input exceeds [`MAX_FILE_SIZE`].
    #[error("larger than the {max}-byte limit for an input file")]
    TooLarge {
        /// Input size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The input (or a decoded part) is not UTF-8.
    #[error("not valid UTF-8 at byte {offset}")]
    NotUtf8 {
        /// Offset of the first bad byte.
        offset: usize,
    },
    /// The format could not be recognised.
    #[error("unrecognised format (use --from)")]
    Unrecognized,
    /// A syntax or structure error that stops reading.
    #[error("{}{message}", location.as_ref().map(|l| format!("{}: ", l.with_file(""))).unwrap_or_default())]
    Syntax {
        /// What went wrong.
        message: String,
        /// Where.
        location: Option<Location>,
    },
    /// An I/O error reading the file.
    #[error("{0}")]
    Io(String),
}

impl ReadError {
    /// A syntax error at a location.
    pub fn syntax(message: impl Into<String>, location: Option<Location>) -> Self {
        ReadError::Syntax {
            message: message.into(),
            location,
        }
    }
    /// `file:line:column: message`.
    pub fn render(&self, file: &str) -> String {
        match self {
            ReadError::Syntax {
                message,
                location: Some(l),
            } => format!("{}: {message}", l.with_file(file)),
            other => format!("{file}: {other}"),
        }
    }
}

/// Global settings found in a wpa_supplicant file.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WpaGlobals {
    /// `interworking=`.
    pub interworking: Option<bool>,
    /// `hs20=`.
    pub hs20: Option<bool>,
    /// `auto_interworking=`.
    pub auto_interworking: Option<bool>,
}

/// Everything read from one input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Document {
    /// The format that was read (`None` only for an empty default).
    pub format: Option<Format>,
    /// One profile per PPS MO instance / cred block.
    pub profiles: Vec<Profile>,
    /// Source locations, one map per profile.
    pub source_maps: Vec<SourceMap>,
    /// Findings of the reader (unknown nodes, bad values, …).
    pub diagnostics: Vec<Diagnostic>,
    /// wpa_supplicant globals, for that format.
    pub wpa_globals: Option<WpaGlobals>,
}

impl Document {
    /// The source map for profile `i` (an empty one if absent).
    pub fn source_map(&self, i: usize) -> SourceMap {
        self.source_maps.get(i).cloned().unwrap_or_default()
    }
}

/// Guesses the format of `bytes` from its content.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('<') {
        // Look at the first element name after any declaration/comments.
        let mut rest = t;
        loop {
            let rest_trim = rest.trim_start();
            if let Some(r) = rest_trim.strip_prefix("<?") {
                rest = r.split_once("?>").map(|x| x.1).unwrap_or("");
            } else if let Some(r) = rest_trim.strip_prefix("<!--") {
                rest = r.split_once("-->").map(|x| x.1).unwrap_or("");
            } else if let Some(r) = rest_trim.strip_prefix("<!") {
                rest = r.split_once('>').map(|x| x.1).unwrap_or("");
            } else if let Some(r) = rest_trim.strip_prefix('<') {
                let name: String = r
                    .chars()
                    .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
                    .collect();
                let local = name.rsplit(':').next().unwrap_or("");
                return Some(if local == "MgmtTree" {
                    Format::PpsMo
                } else {
                    Format::PpsMoDdf
                });
            } else {
                return Some(Format::PpsMo);
            }
        }
    }
    let lower = t.to_ascii_lowercase();
    if lower.starts_with("content-type:") || lower.starts_with("mime-version:") {
        return Some(Format::XWifiConfig);
    }
    let lines = || t.lines().map(str::trim);
    if lines().any(|l| {
        l.starts_with("cred={")
            || l.starts_with("network={")
            || l.starts_with("interworking=")
            || l.starts_with("ctrl_interface=")
            || l.starts_with("hs20=")
    }) {
        return Some(Format::WpaSupplicant);
    }
    // Base64 only (plus whitespace) and long enough: x-wifi-config.
    if t.len() >= 16
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=\r\n\t ".contains(&b))
        && (!t.contains('=') || t.trim_end().ends_with('='))
        && !t.contains(" = ")
    {
        return Some(Format::XWifiConfig);
    }
    Some(Format::Toml)
}

/// Reads `bytes` as `format` (sniffed when `None`).
pub fn read_bytes(bytes: &[u8], format: Option<Format>) -> Result<Document, ReadError> {
    if bytes.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge {
            size: bytes.len(),
            max: MAX_FILE_SIZE,
        });
    }
    let format = match format {
        Some(f) => f,
        None => sniff(bytes).ok_or(ReadError::Unrecognized)?,
    };
    let mut doc = match format {
        Format::XWifiConfig => x_wifi_config::read(bytes)?,
        _ => {
            let text = std::str::from_utf8(bytes).map_err(|e| ReadError::NotUtf8 {
                offset: e.valid_up_to(),
            })?;
            let text = text.strip_prefix('\u{feff}').unwrap_or(text);
            match format {
                Format::PpsMo => pps_mo::read_tnds(text)?,
                Format::PpsMoDdf => pps_mo::read_ddf(text)?,
                Format::WpaSupplicant => wpa_supplicant::read(text)?,
                Format::Toml => toml::read(text)?,
                Format::XWifiConfig => return Err(ReadError::Unrecognized),
            }
        }
    };
    doc.format = Some(format);
    Ok(doc)
}

/// Reads at most [`MAX_FILE_SIZE`] bytes of `path` (so `/dev/zero` or a
/// huge file is refused without reading it all): every input file of the
/// CLI goes through here.
pub fn read_capped(path: &Path) -> Result<Vec<u8>, ReadError> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| ReadError::Io(e.to_string()))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_SIZE as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ReadError::Io(e.to_string()))?;
    if buf.len() > MAX_FILE_SIZE {
        return Err(ReadError::TooLarge {
            size: buf.len(),
            max: MAX_FILE_SIZE,
        });
    }
    Ok(buf)
}

/// Reads a file (size-capped before reading it all).
pub fn read_file(path: &Path, format: Option<Format>) -> Result<Document, ReadError> {
    read_bytes(&read_capped(path)?, format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?>\n<MgmtTree xmlns=\"syncml:dmddf1.2\">"),
            Some(Format::PpsMo)
        );
        assert_eq!(sniff(b"<PerProviderSubscription>"), Some(Format::PpsMoDdf));
        assert_eq!(
            sniff(b"# x\ninterworking=1\ncred={\n}\n"),
            Some(Format::WpaSupplicant)
        );
        assert_eq!(
            sniff(b"Q29udGVudC1UeXBlOiBtdWx0aXBhcnQvbWl4ZWQ7IGJvdW5kYXJ5PXtib3VuZGFyeX0K"),
            Some(Format::XWifiConfig)
        );
        assert_eq!(sniff(b"[HomeSP]\nFQDN = \"a\"\n"), Some(Format::Toml));
    }

    #[test]
    fn too_large_is_an_error() {
        let big = vec![b' '; MAX_FILE_SIZE + 1];
        assert!(matches!(
            read_bytes(&big, None),
            Err(ReadError::TooLarge { .. })
        ));
    }
}
