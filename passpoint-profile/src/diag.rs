//! Diagnostics: severity, target, location.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The profile works but something is questionable or lossy.
    Warning,
    /// The target implementation rejects the profile (or it can never match).
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// The implementation whose rules a validation applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Target {
    /// Android (AOSP `PpsMoParser`, `PasspointConfiguration.validate`): strictest.
    Android,
    /// wpa_supplicant `cred` blocks and hostap's PPS MO converter.
    WpaSupplicant,
    /// The Passpoint specification (node tree, value formats).
    #[default]
    Spec,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Android => "android",
            Target::WpaSupplicant => "wpa-supplicant",
            Target::Spec => "spec",
        })
    }
}

/// Severity of one rule for each target (`None` = the rule does not apply).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Applies {
    /// Severity under [`Target::Android`].
    pub android: Option<Severity>,
    /// Severity under [`Target::WpaSupplicant`].
    pub wpa_supplicant: Option<Severity>,
    /// Severity under [`Target::Spec`].
    pub spec: Option<Severity>,
}

const E: Option<Severity> = Some(Severity::Error);
const W: Option<Severity> = Some(Severity::Warning);

impl Applies {
    /// Error for every target.
    pub const ERROR: Applies = Applies {
        android: E,
        wpa_supplicant: E,
        spec: E,
    };
    /// Warning for every target.
    pub const WARNING: Applies = Applies {
        android: W,
        wpa_supplicant: W,
        spec: W,
    };
    /// Error for Android and spec, warning for wpa_supplicant.
    pub const STRICT_ERROR_WPA_WARNING: Applies = Applies {
        android: E,
        wpa_supplicant: W,
        spec: E,
    };
    /// Error for Android and spec; not relevant to wpa_supplicant.
    pub const STRICT_ERROR: Applies = Applies {
        android: E,
        wpa_supplicant: None,
        spec: E,
    };
    /// Error for Android only, warning for the others.
    pub const ANDROID_ERROR: Applies = Applies {
        android: E,
        wpa_supplicant: W,
        spec: W,
    };
    /// Error for Android only; not relevant elsewhere.
    pub const ANDROID_ONLY: Applies = Applies {
        android: E,
        wpa_supplicant: None,
        spec: None,
    };
    /// Error for wpa_supplicant only.
    pub const WPA_ONLY: Applies = Applies {
        android: None,
        wpa_supplicant: E,
        spec: None,
    };
    /// Warning for wpa_supplicant only.
    pub const WPA_WARNING: Applies = Applies {
        android: None,
        wpa_supplicant: W,
        spec: None,
    };
    /// Error for wpa_supplicant, warning otherwise.
    pub const WPA_ERROR: Applies = Applies {
        android: W,
        wpa_supplicant: E,
        spec: W,
    };

    /// The severity under `target`.
    pub fn severity(&self, target: Target) -> Option<Severity> {
        match target {
            Target::Android => self.android,
            Target::WpaSupplicant => self.wpa_supplicant,
            Target::Spec => self.spec,
        }
    }
}

/// Where in the input a finding is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Location {
    /// A 1-based line and column in an XML or TOML text.
    Text {
        /// Line (1-based).
        line: u32,
        /// Column (1-based).
        column: u32,
    },
    /// A field of a wpa_supplicant `cred={…}` block.
    WpaCred {
        /// Block number (1-based, in file order).
        block: usize,
        /// Field name, e.g. `realm`.
        field: String,
        /// Line of the field (1-based).
        line: u32,
        /// Column (1-based).
        column: u32,
    },
    /// A part of an x-wifi-config MIME multipart.
    MimePart {
        /// Part number (1-based).
        part: usize,
        /// The part's `Content-Type`.
        content_type: String,
        /// Line and column inside the decoded part (for the XML profile).
        inner: Option<(u32, u32)>,
    },
}

impl Location {
    /// Formats the location prefixed by `file` (`file:line:column`).
    pub fn with_file(&self, file: &str) -> String {
        match self {
            Location::Text { line, column } => format!("{file}:{line}:{column}"),
            Location::WpaCred {
                block,
                field,
                line,
                column,
            } => format!("{file}:{line}:{column}: cred block {block}, field {field}"),
            Location::MimePart {
                part,
                content_type,
                inner,
            } => match inner {
                Some((l, c)) => format!("{file}: MIME part {part} ({content_type}):{l}:{c}"),
                None => format!("{file}: MIME part {part} ({content_type})"),
            },
        }
    }

    /// Computes the 1-based line and column of byte offset `pos` in `text`.
    pub fn at_offset(text: &str, pos: usize) -> Location {
        let (line, column) = line_col(text, pos);
        Location::Text { line, column }
    }
}

/// 1-based line and column (in characters) of byte offset `pos`.
pub fn line_col(text: &str, pos: usize) -> (u32, u32) {
    let pos = pos.min(text.len());
    let before = text.get(..pos).unwrap_or(text);
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let col = match before.rfind('\n') {
        Some(i) => before.get(i + 1..).map_or(0, |s| s.chars().count()) + 1,
        None => before.chars().count() + 1,
    };
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// One finding of a reader or of validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Severity per target.
    pub applies: Applies,
    /// Index of the profile in the file (0-based).
    pub profile: usize,
    /// PPS MO path relative to the `<X+>` instance, e.g. `HomeSP/FQDN`
    /// (list entries as `HomeSP/NetworkID[0]/SSID`); empty for file-level findings.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Where, when known.
    pub location: Option<Location>,
}

impl Diagnostic {
    /// A new diagnostic without location.
    pub fn new(applies: Applies, path: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            applies,
            profile: 0,
            path: path.into(),
            message: message.into(),
            location: None,
        }
    }
    /// Sets the location.
    pub fn at(mut self, loc: Option<Location>) -> Self {
        self.location = loc;
        self
    }
    /// Severity under `target`.
    pub fn severity(&self, target: Target) -> Option<Severity> {
        self.applies.severity(target)
    }
    /// `file:line:column: path: message` (without severity).
    pub fn render(&self, file: &str) -> String {
        let loc = match &self.location {
            Some(l) => l.with_file(file),
            None => file.to_string(),
        };
        if self.path.is_empty() {
            format!("{loc}: {}", self.message)
        } else {
            format!("{loc}: {}: {}", self.path, self.message)
        }
    }
}

/// Maps PPS MO paths (as in [`Diagnostic::path`]) to source locations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceMap {
    map: BTreeMap<String, Location>,
}

impl SourceMap {
    /// Records a location (first one wins).
    pub fn insert(&mut self, path: impl Into<String>, loc: Location) {
        self.map.entry(path.into()).or_insert(loc);
    }
    /// All recorded paths.
    pub fn paths(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }
    /// The location of `path`, or of its closest recorded ancestor.
    pub fn lookup(&self, path: &str) -> Option<Location> {
        let mut p = path;
        loop {
            if let Some(l) = self.map.get(p) {
                return Some(l.clone());
            }
            // strip a trailing "[i]" or "/name"
            if let Some(stripped) = p.strip_suffix(']')
                && let Some(i) = stripped.rfind('[')
            {
                p = &stripped[..i];
                continue;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return self.map.get("").cloned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_walks_up() {
        let mut m = SourceMap::default();
        m.insert("", Location::Text { line: 1, column: 1 });
        m.insert("HomeSP", Location::Text { line: 3, column: 2 });
        m.insert("HomeSP/NetworkID[0]", Location::Text { line: 5, column: 2 });
        assert_eq!(
            m.lookup("HomeSP/NetworkID[0]/SSID"),
            Some(Location::Text { line: 5, column: 2 })
        );
        assert_eq!(
            m.lookup("HomeSP/FQDN"),
            Some(Location::Text { line: 3, column: 2 })
        );
        assert_eq!(
            m.lookup("Credential/Realm"),
            Some(Location::Text { line: 1, column: 1 })
        );
    }

    #[test]
    fn line_col_counts() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert_eq!(line_col("ab", 99), (1, 3));
    }
}
