//! The credential profile `auth` reads: either a small TOML of our own,
//!
//! ```toml
//! eap_method = "aka-prime"      # "aka", "aka-prime", "any" or "sim"
//! realm = "example.com"         # optional; default: the 3GPP realm of the IMSI
//! imsi = "001010123456789"      # optional; default: read from EF_IMSI
//! mnc_len = 2                   # optional; default: read from EF_AD
//! network_name = "WLAN"         # optional; AKA' AT_KDF_INPUT must equal it
//! privacy_state = "p.state"     # optional; pseudonym / re-auth state file (0600)
//! imsi_privacy_cert = "op.pem"  # optional; send the permanent identity encrypted
//! imsi_privacy_attr = "CertificateSerialNumber=1"  # optional key identifier
//! result_indication = true      # optional (default true); answer AT_RESULT_IND
//! ```
//!
//! Relative paths are relative to the profile's directory.
//!
//! or any Passpoint profile the passpoint-profile crate reads (PPS MO XML,
//! Android x-wifi-config, wpa_supplicant `cred` blocks, its TOML): the first
//! profile with a SIM credential gives realm, IMSI (when complete, not a
//! `MCC MNC*` prefix) and EAP type (18 → SIM, 23 → AKA, 50 → AKA').

use crate::input::line_of_key;
use crate::peer::Methods;
use eap::aka::keys::Method;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A loaded profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Accepted methods.
    pub methods: Methods,
    /// Realm override.
    pub realm: Option<String>,
    /// IMSI override.
    pub imsi: Option<String>,
    /// MNC length override.
    pub mnc_len: Option<u8>,
    /// Expected AKA' network name.
    pub network_name: Option<String>,
    /// Pseudonym / fast re-authentication state file.
    pub privacy_state: Option<PathBuf>,
    /// IMSI privacy: the operator certificate (PEM).
    pub imsi_privacy_cert: Option<PathBuf>,
    /// IMSI privacy: the key identifier attribute.
    pub imsi_privacy_attr: Option<String>,
    /// Answer AT_RESULT_IND (protected result indication).
    pub result_indication: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    eap_method: Option<String>,
    #[serde(default)]
    realm: Option<String>,
    #[serde(default)]
    imsi: Option<String>,
    #[serde(default)]
    mnc_len: Option<u8>,
    #[serde(default)]
    network_name: Option<String>,
    #[serde(default)]
    privacy_state: Option<PathBuf>,
    #[serde(default)]
    imsi_privacy_cert: Option<PathBuf>,
    #[serde(default)]
    imsi_privacy_attr: Option<String>,
    #[serde(default)]
    result_indication: Option<bool>,
}

/// Keys of our small TOML that no Passpoint format uses at the start of a line.
const OWN_KEYS: [&str; 5] = [
    "eap_method",
    "mnc_len",
    "network_name",
    "privacy_state",
    "result_indication",
];

/// Parses a method name.
pub fn parse_methods(s: &str) -> Option<Methods> {
    match s.to_ascii_lowercase().as_str() {
        "aka" | "eap-aka" | "23" => Some(Methods::only(Method::Aka)),
        "aka-prime" | "aka'" | "akaprime" | "eap-aka'" | "eap-aka-prime" | "50" => {
            Some(Methods::only(Method::AkaPrime))
        }
        "any" | "both" => Some(Methods::BOTH),
        "sim" | "eap-sim" | "18" => Some(Methods::SIM),
        _ => None,
    }
}

impl Profile {
    /// Loads `path`; errors read `file:line: what`.
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text =
            crate::input::read_text(path, crate::input::PROFILE).map_err(|e| e.to_string())?;
        let dir = path.parent().unwrap_or(Path::new("."));
        let ours = Self::parse(&text)
            .map(|mut p| {
                p.privacy_state = p.privacy_state.map(|f| dir.join(f));
                p.imsi_privacy_cert = p.imsi_privacy_cert.map(|f| dir.join(f));
                p
            })
            .map_err(|(line, what)| format!("{}:{line}: {what}", path.display()));
        let Err(our_err) = ours else { return ours };
        // A key only our format has: the error is ours alone.
        if OWN_KEYS.iter().any(|k| line_of_key(&text, k) > 0) {
            return Err(our_err);
        }
        let file = path.display().to_string();
        match passpoint_profile::read_bytes(text.as_bytes(), None) {
            Ok(doc) => Self::from_passpoint(&doc.profiles).ok_or_else(|| {
                format!(
                    "{file}:0: no profile with a SIM credential; expected Credential/SIM with EAPType 18 (EAP-SIM), 23 (EAP-AKA) or 50 (EAP-AKA')"
                )
            }),
            Err(passpoint_profile::ReadError::Unrecognized) => Err(our_err),
            Err(passpoint_profile::ReadError::Syntax {
                message,
                location: Some(l),
            }) => Err(format!(
                "{}: {message} (read as a Passpoint profile)",
                l.with_file(&file)
            )),
            Err(e) => Err(format!(
                "{our_err} (and as a Passpoint profile: {file}:0: {e})"
            )),
        }
    }

    /// The first Passpoint profile with a SIM credential of type AKA or AKA'.
    pub fn from_passpoint(profiles: &[passpoint_profile::Profile]) -> Option<Profile> {
        profiles.iter().find_map(|p| {
            let sim = p.credential.sim.as_ref()?;
            let methods = match sim.eap_type {
                Some(23) => Methods::only(Method::Aka),
                Some(50) | None => Methods::only(Method::AkaPrime),
                Some(18) => Methods::SIM,
                Some(_) => return None,
            };
            let imsi = sim
                .imsi
                .clone()
                .filter(|i| eap::identity::Imsi::parse(i).is_ok());
            Some(Profile {
                methods,
                realm: p.credential.realm.clone(),
                imsi,
                mnc_len: None,
                network_name: None,
                privacy_state: None,
                imsi_privacy_cert: None,
                imsi_privacy_attr: None,
                result_indication: true,
            })
        })
    }

    /// Parses profile text; errors are (line, what).
    pub fn parse(text: &str) -> Result<Profile, (usize, String)> {
        let raw: Raw = toml::from_str(text).map_err(|e| crate::input::toml_error(text, &e))?;
        let methods = match &raw.eap_method {
            None => Methods::only(Method::AkaPrime),
            Some(m) => parse_methods(m).ok_or((
                line_of_key(text, "eap_method"),
                format!("unknown eap_method {m:?}: expected aka, aka-prime, any or sim"),
            ))?,
        };
        if let Some(i) = &raw.imsi
            && eap::identity::Imsi::parse(i).is_err()
        {
            return Err((
                line_of_key(text, "imsi"),
                "imsi: expected 6 to 15 digits".into(),
            ));
        }
        if let Some(n) = raw.mnc_len
            && !matches!(n, 2 | 3)
        {
            return Err((
                line_of_key(text, "mnc_len"),
                format!("mnc_len: {n} is not 2 or 3"),
            ));
        }
        if let Some(r) = &raw.realm
            && (r.is_empty() || r.contains('@') || r.contains(char::is_whitespace))
        {
            return Err((
                line_of_key(text, "realm"),
                "realm: expected a domain name (no '@', no spaces)".into(),
            ));
        }
        Ok(Profile {
            methods,
            realm: raw.realm,
            imsi: raw.imsi,
            mnc_len: raw.mnc_len,
            network_name: raw.network_name,
            privacy_state: raw.privacy_state,
            imsi_privacy_cert: raw.imsi_privacy_cert,
            imsi_privacy_attr: raw.imsi_privacy_attr,
            result_indication: raw.result_indication.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_reports_lines() {
        let p = Profile::parse("eap_method = \"aka\"\nrealm = \"example.com\"\n").unwrap();
        assert_eq!(p.methods, Methods::only(Method::Aka));
        assert_eq!(p.realm.as_deref(), Some("example.com"));
        assert!(p.result_indication && p.privacy_state.is_none());
        for m in ["sim", "EAP-SIM", "18"] {
            let p = Profile::parse(&format!("eap_method = \"{m}\"\n")).unwrap();
            assert_eq!(p.methods, Methods::SIM, "{m}");
        }
        let q = Profile::parse(
            "privacy_state = \"s\"\nimsi_privacy_cert = \"c.pem\"\nimsi_privacy_attr = \"k=1\"\nresult_indication = false\n",
        )
        .unwrap();
        assert_eq!(q.privacy_state.as_deref(), Some(Path::new("s")));
        assert_eq!(q.imsi_privacy_cert.as_deref(), Some(Path::new("c.pem")));
        assert_eq!(q.imsi_privacy_attr.as_deref(), Some("k=1"));
        assert!(!q.result_indication);
        assert_eq!(
            Profile::parse("").unwrap().methods,
            Methods::only(Method::AkaPrime)
        );
        assert_eq!(
            Profile::parse("realm = \"x\"\neap_method = \"ttls\"\n")
                .unwrap_err()
                .0,
            2
        );
        assert_eq!(Profile::parse("\n\nimsi = \"12\"\n").unwrap_err().0, 3);
        assert_eq!(Profile::parse("\nfoo = 1\n").unwrap_err().0, 2);
        assert_eq!(Profile::parse("mnc_len = 4").unwrap_err().0, 1);
        // Every error names the key and what was expected.
        let (line, msg) = Profile::parse("realm = \"x\"\nmnc_len = \"2\"\n").unwrap_err();
        assert_eq!(line, 2);
        assert!(
            msg.starts_with("mnc_len: invalid type") && msg.contains("expected"),
            "{msg}"
        );
        let (_, msg) = Profile::parse("mnc_len = 4").unwrap_err();
        assert_eq!(msg, "mnc_len: 4 is not 2 or 3");
        let (_, msg) = Profile::parse("imsi = \"12\"").unwrap_err();
        assert_eq!(msg, "imsi: expected 6 to 15 digits");
    }

    #[test]
    fn reads_a_wpa_supplicant_cred_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wpa.conf");
        std::fs::write(
            &path,
            "cred={\n\trealm=\"example.com\"\n\timsi=\"001010123456789\"\n\teap=AKA\n\tmilenage=\"465b5ce8b199b49faa5f0a2ee238a6bc:cd63cb71954a9f4e48a5994e37a02baf:000000000000\"\n\tdomain=\"example.com\"\n}\n",
        )
        .unwrap();
        let p = Profile::load(&path).unwrap();
        assert_eq!(p.realm.as_deref(), Some("example.com"));
        assert_eq!(p.methods, Methods::only(Method::Aka));
        assert_eq!(p.imsi.as_deref(), Some("001010123456789"));
        // A profile that never ends is not read past the cap.
        let e = Profile::load(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.starts_with("/dev/zero:0: the profile is larger than"),
            "{e}"
        );
        let bad = dir.path().join("bad.toml");
        std::fs::write(&bad, "eap_method = \"peap\"\n").unwrap();
        let e = Profile::load(&bad).unwrap_err();
        assert!(e.starts_with(&format!("{}:1:", bad.display())), "{e}");
        // Clearly our format: no second opinion from the Passpoint readers.
        assert!(!e.contains("Passpoint"), "{e}");
        std::fs::write(&bad, "realm = \"x\"\nmnc_len = \"2\"\n").unwrap();
        let e = Profile::load(&bad).unwrap_err();
        assert_eq!(
            e,
            format!(
                "{}:2: mnc_len: invalid type: string \"2\", expected u8",
                bad.display()
            )
        );
    }
}
