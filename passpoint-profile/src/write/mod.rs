//! Writers: [`Profile`]s into every output format.
//!
//! A writer that cannot carry a field reports it as a warning naming the
//! field (see [`Output::warnings`]); nothing is dropped silently.

pub mod hostapd;
pub mod iwd;
pub mod pps_mo;
pub mod wpa_supplicant;
pub mod x_wifi_config;

use crate::diag::{Applies, Diagnostic};
use crate::model::{Local, Profile};
use std::fmt;

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// This crate's TOML (lossless).
    Toml,
    /// PPS MO as OMA-DM TNDS XML (lossless except `Local`).
    PpsMo,
    /// PPS MO in element-per-node XML.
    PpsMoDdf,
    /// Android `application/x-wifi-config` (base64 MIME multipart).
    XWifiConfig,
    /// wpa_supplicant configuration (globals + `cred={…}` blocks).
    WpaSupplicant,
    /// iwd hotspot file (`/var/lib/iwd/hotspot/<name>.conf`), lossy.
    Iwd,
    /// hostapd configuration snippet for an AP on which this profile is home.
    Hostapd,
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputFormat::Toml => "toml",
            OutputFormat::PpsMo => "pps-mo",
            OutputFormat::PpsMoDdf => "pps-mo-ddf",
            OutputFormat::XWifiConfig => "x-wifi-config",
            OutputFormat::WpaSupplicant => "wpa-supplicant",
            OutputFormat::Iwd => "iwd",
            OutputFormat::Hostapd => "hostapd",
        })
    }
}

/// Writer options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// wpa_supplicant ≤ 2.10 field names (`roaming_consortium`,
    /// `required_roaming_consortium`: one OI each) instead of `home_ois`,
    /// `required_home_ois`, `roaming_consortiums`.
    pub wpa_legacy: bool,
    /// Leave out the wpa_supplicant globals (`interworking=1`, `hs20=1`, …).
    pub wpa_no_globals: bool,
}

/// A writer failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// There is no profile to write.
    #[error("no profile to write")]
    Empty,
    /// The format holds one profile only.
    #[error("{format} holds one profile, the input has {count}; convert them one at a time")]
    OneProfileOnly {
        /// Output format.
        format: OutputFormat,
        /// Number of profiles.
        count: usize,
    },
    /// A value cannot be written in this format.
    #[error("{0}")]
    Unrepresentable(String),
}

/// Collects lossy-conversion warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lossy {
    /// The warnings.
    pub warnings: Vec<Diagnostic>,
    /// Profile index the next warnings belong to.
    pub profile: usize,
}

impl Lossy {
    /// A warning about `path`.
    pub fn warn(&mut self, path: &str, msg: impl Into<String>) {
        let mut d = Diagnostic::new(Applies::WARNING, path, msg);
        d.profile = self.profile;
        self.warnings.push(d);
    }
    /// Warns that `path` is not carried by `format`.
    pub fn dropped(&mut self, path: &str, format: &str) {
        self.warn(path, format!("not representable in {format}; dropped"));
    }
    /// Warns about every set `Local` field not representable in `format`.
    pub fn local(&mut self, l: &Local, format: &str) {
        let fields: [(&str, bool); 12] = [
            ("Local/CACertPath", l.ca_cert_path.is_some()),
            ("Local/ClientCertPath", l.client_cert_path.is_some()),
            ("Local/PrivateKeyPath", l.private_key_path.is_some()),
            ("Local/PrivateKeyPassword", l.private_key_password.is_some()),
            ("Local/CACertificate", l.ca_certificate.is_some()),
            ("Local/PKCS12", l.pkcs12.is_some()),
            ("Local/DomainSuffixMatch", l.domain_suffix_match.is_some()),
            ("Local/SimAccess", l.sim_access.is_some()),
            ("Local/Milenage", l.milenage.is_some()),
            ("Local/MncLength", l.mnc_length.is_some()),
            ("Local/Priority", l.priority.is_some()),
            ("Local/ProvisioningSP", l.provisioning_sp.is_some()),
        ];
        for (name, set) in fields {
            if set {
                self.dropped(name, format);
            }
        }
    }
}

/// A written file plus the conversion warnings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// The file content.
    pub text: String,
    /// Lossy-conversion warnings, each naming the field.
    pub warnings: Vec<Diagnostic>,
}

/// Writes `profiles` as `format`.
pub fn write(
    profiles: &[Profile],
    format: OutputFormat,
    opts: &WriteOptions,
) -> Result<Output, WriteError> {
    if profiles.is_empty() {
        return Err(WriteError::Empty);
    }
    let mut lossy = Lossy::default();
    let text = match format {
        OutputFormat::Toml => to_toml(profiles)?,
        OutputFormat::PpsMo => pps_mo::write_tnds(profiles, &mut lossy),
        OutputFormat::PpsMoDdf => pps_mo::write_ddf(profiles, &mut lossy),
        OutputFormat::XWifiConfig => {
            one(profiles, format)?;
            x_wifi_config::write(&profiles[0], &mut lossy)
        }
        OutputFormat::WpaSupplicant => wpa_supplicant::write(profiles, opts, &mut lossy),
        OutputFormat::Iwd => {
            one(profiles, format)?;
            iwd::write(&profiles[0], &mut lossy)?
        }
        OutputFormat::Hostapd => hostapd::write(profiles, &mut lossy)?,
    };
    Ok(Output {
        text,
        warnings: lossy.warnings,
    })
}

fn one(profiles: &[Profile], format: OutputFormat) -> Result<(), WriteError> {
    if profiles.len() == 1 {
        Ok(())
    } else {
        Err(WriteError::OneProfileOnly {
            format,
            count: profiles.len(),
        })
    }
}

/// Writes TOML (one profile at top level, several as `[[PerProviderSubscription]]`).
pub fn to_toml(profiles: &[Profile]) -> Result<String, WriteError> {
    let r = if let [p] = profiles {
        toml::to_string_pretty(p)
    } else {
        toml::to_string_pretty(&crate::read::toml::TomlMulti {
            profiles: profiles.to_vec(),
        })
    };
    r.map_err(|e| WriteError::Unrepresentable(format!("TOML: {e}")))
}
