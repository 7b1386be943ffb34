//! Read, validate, convert and match Passpoint (Hotspot 2.0) profiles.
//!
//! One typed model ([`model::Profile`], one PerProviderSubscription instance,
//! serde names = PPS MO node names) and readers/writers for:
//!
//! | format | read | write |
//! |---|---|---|
//! | PPS MO, OMA-DM TNDS XML | [`read::pps_mo::read_tnds`] | [`write::pps_mo::write_tnds`] |
//! | PPS MO, element-per-node XML | [`read::pps_mo::read_ddf`] | [`write::pps_mo::write_ddf`] |
//! | Android `application/x-wifi-config` | [`read::x_wifi_config::read`] | [`write::x_wifi_config::write`] |
//! | wpa_supplicant `cred={…}` | [`read::wpa_supplicant::read`] | [`write::wpa_supplicant::write`] |
//! | TOML (this crate) | [`read::toml::read`] | [`write::to_toml`] |
//! | iwd hotspot file | – | [`write::iwd::write`] |
//! | hostapd AP snippet | (ANQP only: [`matching::anqp_from_hostapd_conf`]) | [`write::hostapd::write`] |
//!
//! Validation ([`validate::validate_document`]) applies the rules of the
//! PASSPOINT-FORMATS reference with a severity per [`Target`]; matching
//! ([`matching::match_profile`]) decides home/roaming/excluded from ANQP data.
//!
//! # Loading a profile (for a supplicant)
//!
//! ```
//! use passpoint_profile::{load_str, model::Eap, Target};
//! let toml = r#"
//! [HomeSP]
//! FriendlyName = "Example"
//! FQDN = "example.com"
//! [Credential]
//! Realm = "wlan.mnc091.mcc244.3gppnetwork.org"
//! CreationDate = "2026-01-01T00:00:00Z"
//! [Credential.SIM]
//! IMSI = "24491*"
//! EAPType = 50
//! "#;
//! let loaded = load_str(toml, Target::WpaSupplicant).unwrap();
//! let p = &loaded.profiles[0];
//! assert_eq!(p.realm(), Some("wlan.mnc091.mcc244.3gppnetwork.org"));
//! assert_eq!(p.eap_method(), Some(Eap::AkaPrime));
//! assert_eq!(p.imsi_prefix(), Some("24491"));
//! assert_eq!(p.plmn().unwrap().mnc, "91");
//! assert_eq!(p.fqdn(), Some("example.com"));
//! assert!(loaded.errors().is_empty());
//! ```
//!
//! Untrusted input is bounded: [`read::MAX_FILE_SIZE`], [`read::MAX_XML_NODES`],
//! [`read::MAX_DEPTH`], no DTD/entity expansion, checked base64 and MIME.
//! Readers never panic; malformed input gives a [`read::ReadError`] or
//! diagnostics.

pub mod diag;
pub mod matching;
pub mod model;
pub mod read;
pub mod validate;
pub mod write;

pub use diag::{Diagnostic, Location, Severity, Target};
pub use matching::{Anqp, MatchOptions, MatchResult, match_profile};
pub use model::Profile;
pub use read::{Document, Format, ReadError, read_bytes, read_file};
pub use validate::Finding;
pub use write::{OutputFormat, WriteOptions, write};

/// Profiles read from one input, with their validation findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The profiles (one per PPS MO instance / cred block).
    pub profiles: Vec<Profile>,
    /// Reader and validation findings for the requested target.
    pub findings: Vec<Finding>,
    /// The format read.
    pub format: Option<Format>,
}

impl Loaded {
    /// Findings of severity error.
    pub fn errors(&self) -> Vec<&Finding> {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect()
    }
}

fn loaded(doc: Document, target: Target) -> Loaded {
    let findings = validate::validate_document(&doc, target);
    Loaded {
        format: doc.format,
        profiles: doc.profiles,
        findings,
    }
}

/// Reads and validates a profile file in any supported format.
pub fn load_file(path: &std::path::Path, target: Target) -> Result<Loaded, ReadError> {
    Ok(loaded(read_file(path, None)?, target))
}

/// Reads and validates profile text in any supported format.
pub fn load_str(text: &str, target: Target) -> Result<Loaded, ReadError> {
    Ok(loaded(read_bytes(text.as_bytes(), None)?, target))
}
