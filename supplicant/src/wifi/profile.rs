//! What `supplicant wifi` takes from a profile, and the wpa_supplicant `cred`
//! and `network` fields built from it and from the SIM (no I/O besides
//! reading the profile file).
//!
//! Profiles are read with the passpoint-profile crate (PPS MO, x-wifi-config,
//! wpa_supplicant `cred`, its TOML); the small TOML of `supplicant auth`
//! (`eap_method`, `realm`, …) is accepted too.

use super::proto::string_value;
use eap::aka::keys::Method;
use eap::identity::{Imsi, MncLen};
use passpoint_profile::model::{CredentialKind, Eap};
use std::path::Path;

/// The profile as far as a SIM credential in wpa_supplicant is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WifiProfile {
    /// A name to show.
    pub name: String,
    /// EAP-AKA or EAP-AKA'; `None` = not given (network mode picks AKA').
    pub method: Option<WifiMethod>,
    /// `Credential/Realm`.
    pub realm: Option<String>,
    /// `HomeSP/FQDN` and `OtherHomePartners` → `domain`.
    pub domains: Vec<String>,
    /// `HomeSP/RoamingConsortiumOI` → `roaming_consortiums`.
    pub roaming_consortiums: Vec<String>,
    /// `HomeOIList` entries with `HomeOIRequired=false` → `home_ois`.
    pub home_ois: Vec<String>,
    /// `HomeOIList` entries with `HomeOIRequired=true` → `required_home_ois`.
    pub required_home_ois: Vec<String>,
    /// `Credential/SIM/IMSI`: a full IMSI or a prefix ending in `*`.
    pub imsi: Option<String>,
    /// MNC length the profile states (`Local/MncLength`, or the length of a
    /// 5/6-digit `MCCMNC*` prefix).
    pub mnc_len: Option<u8>,
    /// cred `priority`.
    pub priority: Option<u32>,
    /// `CredentialPriority` → `sp_priority` (0..255).
    pub sp_priority: Option<u32>,
    /// `provisioning_sp`.
    pub provisioning_sp: Option<String>,
    /// `Policy/SPExclusionList` → `excluded_ssid`.
    pub excluded_ssids: Vec<String>,
    /// `Policy/PreferredRoamingPartnerList` → `roaming_partner` values
    /// `<fqdn>,<exact 0|1>,<priority>,<country|*>`.
    pub roaming_partners: Vec<String>,
    /// `Policy/MinBackhaulThreshold` → `min_{dl,ul}_bandwidth_{home,roaming}`.
    pub min_bandwidth: Vec<(String, u64)>,
    /// `Policy/MaximumBSSLoadValue` → `max_bss_load`.
    pub max_bss_load: Option<u32>,
    /// `Policy/RequiredProtoPortTuple` → `req_conn_capab`.
    pub req_conn_capab: Vec<String>,
    /// `UpdateIdentifier` → `update_identifier`.
    pub update_identifier: Option<u32>,
}

/// The SIM-based EAP method wpa_supplicant runs on the external SIM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WifiMethod {
    /// EAP-SIM (RFC 4186): `GSM-AUTH` requests.
    Sim,
    /// EAP-AKA (RFC 4187): `UMTS-AUTH` requests.
    Aka,
    /// EAP-AKA' (RFC 9048): `UMTS-AUTH` requests.
    AkaPrime,
}

/// A profile problem: `file:line: what` when the line is known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProfileError(pub String);

fn method_of(eap: Eap, file: &str) -> Result<WifiMethod, ProfileError> {
    match eap {
        Eap::Aka => Ok(WifiMethod::Aka),
        Eap::AkaPrime => Ok(WifiMethod::AkaPrime),
        Eap::Sim => Ok(WifiMethod::Sim),
        other => Err(ProfileError(format!(
            "{file}:0: Credential/SIM/EAPType: EAP method {} is not a SIM method; expected 18 (EAP-SIM), 23 (EAP-AKA) or 50 (EAP-AKA')",
            other.wpa_name()
        ))),
    }
}

/// Reads `path`.
pub fn load(path: &Path) -> Result<WifiProfile, ProfileError> {
    let file = path.display().to_string();
    let text = crate::input::read_text(path, crate::input::PROFILE)
        .map_err(|e| ProfileError(e.to_string()))?;
    parse(&text, &file)
}

/// Parses profile text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<WifiProfile, ProfileError> {
    // The small TOML of `supplicant auth` first: it refuses unknown keys, so
    // a Passpoint document never parses as one.
    let small = crate::profile::Profile::parse(text);
    if let Ok(p) = small {
        return Ok(from_small(&p));
    }
    let looks_small = ["eap_method", "mnc_len", "network_name"]
        .iter()
        .any(|k| text.lines().any(|l| l.trim_start().starts_with(k)));
    if looks_small && let Err((line, what)) = small {
        return Err(ProfileError(format!("{file}:{line}: {what}")));
    }
    let loaded = passpoint_profile::load_str(text, passpoint_profile::Target::WpaSupplicant)
        .map_err(|e| match &e {
            passpoint_profile::ReadError::Syntax {
                message,
                location: Some(l),
            } => ProfileError(format!("{}: {message}", l.with_file(file))),
            _ => ProfileError(format!("{file}:0: {e}")),
        })?;
    if let Some(f) = loaded.errors().first() {
        return Err(ProfileError(f.diagnostic.render(file)));
    }
    let sims: Vec<_> = loaded
        .profiles
        .iter()
        .filter(|p| matches!(p.credential.kind(), Some(CredentialKind::Sim(_))))
        .collect();
    match sims.as_slice() {
        [] => Err(ProfileError(format!(
            "{file}:0: no SIM credential in the profile: `supplicant wifi` provides SIM credentials (EAP-AKA/AKA') to wpa_supplicant"
        ))),
        [p] => from_passpoint(p, file),
        more => Err(ProfileError(format!(
            "{file}:0: {} SIM credentials in one file: give one profile per `supplicant wifi`",
            more.len()
        ))),
    }
}

fn from_small(p: &crate::profile::Profile) -> WifiProfile {
    let method = match (p.methods.aka, p.methods.aka_prime, p.methods.sim) {
        (true, false, false) => Some(WifiMethod::Aka),
        (false, true, false) => Some(WifiMethod::AkaPrime),
        (false, false, true) => Some(WifiMethod::Sim),
        _ => None,
    };
    WifiProfile {
        name: p.realm.clone().unwrap_or_else(|| "SIM".into()),
        method,
        realm: p.realm.clone(),
        imsi: p.imsi.clone(),
        mnc_len: p.mnc_len,
        ..WifiProfile::default()
    }
}

fn from_passpoint(p: &passpoint_profile::Profile, file: &str) -> Result<WifiProfile, ProfileError> {
    let Some(CredentialKind::Sim(sim)) = p.credential.kind() else {
        return Err(ProfileError(format!("{file}:0: not a SIM credential")));
    };
    let method = match sim.eap_type {
        Some(t) => match Eap::from_type(t) {
            Some(e) => method_of(e, file)?,
            None => {
                return Err(ProfileError(format!(
                    "{file}:0: Credential/SIM/EAPType: {t} is not a SIM method; expected 23 (EAP-AKA) or 50 (EAP-AKA')"
                )));
            }
        },
        None => {
            return Err(ProfileError(format!(
                "{file}:0: Credential/SIM/EAPType: missing (23 for EAP-AKA, 50 for EAP-AKA')"
            )));
        }
    };
    let local = p.local.clone().unwrap_or_default();
    let h = &p.home_sp;
    let imsi = sim.imsi.clone();
    let mnc_len = local.mnc_length.or_else(|| {
        let prefix = imsi.as_deref()?.strip_suffix('*')?;
        matches!(prefix.len(), 5 | 6).then(|| prefix.len() as u8 - 3)
    });
    let mut out = WifiProfile {
        name: p.display_name().to_string(),
        method: Some(method),
        realm: p.realm().map(str::to_string),
        domains: p.home_domains().into_iter().map(str::to_string).collect(),
        roaming_consortiums: h.roaming_consortium_oi.clone(),
        home_ois: h
            .home_oi_list
            .iter()
            .filter(|o| o.home_oi_required != Some(true))
            .filter_map(|o| o.home_oi.clone())
            .collect(),
        required_home_ois: h
            .home_oi_list
            .iter()
            .filter(|o| o.home_oi_required == Some(true))
            .filter_map(|o| o.home_oi.clone())
            .collect(),
        imsi,
        mnc_len,
        priority: local.priority,
        sp_priority: p.credential_priority.filter(|&x| x <= 255),
        provisioning_sp: local.provisioning_sp.clone().or(h.fqdn.clone()),
        update_identifier: p.update_identifier,
        ..WifiProfile::default()
    };
    if let Some(pol) = &p.policy {
        for r in &pol.preferred_roaming_partner_list {
            let Some((fqdn, include_subdomains)) = r.parsed_fqdn_match() else {
                continue;
            };
            let country = match r.country.as_deref() {
                Some(c) if c.len() <= 2 && c != "*" => c,
                _ => "*",
            };
            out.roaming_partners.push(format!(
                "{fqdn},{},{},{country}",
                u8::from(!include_subdomains),
                r.priority.unwrap_or(128).min(255)
            ));
        }
        for m in &pol.min_backhaul_threshold {
            let Some(t) = m.network_type.as_deref().map(str::to_ascii_lowercase) else {
                continue;
            };
            if t != "home" && t != "roaming" {
                continue;
            }
            if let Some(dl) = m.dl_bandwidth {
                out.min_bandwidth
                    .push((format!("min_dl_bandwidth_{t}"), dl));
            }
            if let Some(ul) = m.ul_bandwidth {
                out.min_bandwidth
                    .push((format!("min_ul_bandwidth_{t}"), ul));
            }
        }
        out.excluded_ssids = pol
            .sp_exclusion_list
            .iter()
            .filter_map(|s| s.ssid.clone())
            .collect();
        for t in &pol.required_proto_port_tuple {
            if let Some(proto) = t.ip_protocol {
                out.req_conn_capab.push(match t.port_number.as_deref() {
                    Some(ports) if !ports.is_empty() => format!("{proto}:{ports}"),
                    _ => proto.to_string(),
                });
            }
        }
        out.max_bss_load = pol.maximum_bss_load_value;
    }
    Ok(out)
}

/// The SIM as the cred and network block need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimIdentity {
    /// IMSI read from EF_IMSI.
    pub imsi: Imsi,
    /// MNC length (EF_AD, else the profile).
    pub mnc_len: MncLen,
}

impl SimIdentity {
    /// `<MCC><MNC>-<MSIN>`, the form of the cred `imsi` field
    /// (wpa_supplicant `interworking.c` splits the PLMN at the `-`).
    pub fn cred_imsi(&self) -> String {
        let i = &self.imsi;
        format!(
            "{}{}-{}",
            i.mcc(),
            i.mnc(self.mnc_len),
            i.msin(self.mnc_len)
        )
    }

    /// The permanent identity `0<IMSI>@realm` / `6<IMSI>@realm` (RFC 4187
    /// §4.1.1.6, RFC 9048 §3), with the profile's realm or the 3GPP realm.
    /// EAP-SIM: `1<IMSI>@realm` (RFC 4186 §4.2.1.6).
    pub fn identity(&self, method: WifiMethod, realm: Option<&str>) -> String {
        let lead = match method {
            WifiMethod::Sim => '1',
            WifiMethod::Aka => '0',
            WifiMethod::AkaPrime => '6',
        };
        match (realm, method) {
            (Some(r), _) => format!("{lead}{}@{r}", self.imsi.as_str()),
            (None, WifiMethod::Sim) => format!(
                "1{}@{}",
                self.imsi.as_str(),
                eap::identity::realm(&self.imsi, self.mnc_len)
            ),
            (None, WifiMethod::Aka) => {
                eap::identity::permanent_nai(&self.imsi, self.mnc_len, Method::Aka)
            }
            (None, WifiMethod::AkaPrime) => {
                eap::identity::permanent_nai(&self.imsi, self.mnc_len, Method::AkaPrime)
            }
        }
    }
}

/// Checks the card against the profile's `Credential/SIM/IMSI` (a full IMSI
/// or an `MCCMNC*` prefix): a profile for another operator is refused.
pub fn check_imsi(profile: &WifiProfile, imsi: &Imsi) -> Result<(), String> {
    let Some(want) = profile.imsi.as_deref() else {
        return Ok(());
    };
    let ok = match want.strip_suffix('*') {
        Some(prefix) => imsi.as_str().starts_with(prefix),
        None => imsi.as_str() == want,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "the profile is for IMSI {want}, the SIM's IMSI starts {}",
            &imsi.as_str()[..imsi.as_str().len().min(6)]
        ))
    }
}

/// `method` as wpa_supplicant's `eap=` names it.
pub fn eap_name(method: WifiMethod) -> &'static str {
    match method {
        WifiMethod::Aka => "AKA",
        WifiMethod::AkaPrime => "AKA'",
        WifiMethod::Sim => "SIM",
    }
}

/// The `SET_CRED` fields (name, value as sent), in order. OI lists come
/// from [`oi_fields`].
pub fn cred_fields(
    p: &WifiProfile,
    method: WifiMethod,
    sim: &SimIdentity,
    sim_num: u32,
) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    let mut add = |k: &str, v: String| f.push((k.to_string(), v));
    // Not written by SAVE_CONFIG: the cred lives as long as this process.
    add("temporary", "1".into());
    if let Some(r) = &p.realm {
        add("realm", string_value(r));
    }
    for d in &p.domains {
        add("domain", string_value(d));
    }
    add("eap", eap_name(method).into());
    add("imsi", string_value(&sim.cred_imsi()));
    add("sim_num", sim_num.to_string());
    if let Some(x) = p.priority {
        add("priority", x.to_string());
    }
    if let Some(x) = p.sp_priority {
        add("sp_priority", x.to_string());
    }
    if let Some(x) = &p.provisioning_sp {
        add("provisioning_sp", string_value(x));
    }
    if let Some(x) = p.update_identifier {
        add("update_identifier", x.to_string());
    }
    for s in &p.excluded_ssids {
        add("excluded_ssid", string_value(s));
    }
    for r in &p.roaming_partners {
        add("roaming_partner", string_value(r));
    }
    for (k, v) in &p.min_bandwidth {
        add(k, v.to_string());
    }
    if let Some(x) = p.max_bss_load {
        add("max_bss_load", x.to_string());
    }
    for c in &p.req_conn_capab {
        add("req_conn_capab", c.clone());
    }
    f
}

/// The OI fields: `home_ois`/`required_home_ois`/`roaming_consortiums`, or
/// with `legacy` (wpa_supplicant ≤ 2.10, which lacks the first two) the
/// nearest it understands, with warnings for what changes meaning.
pub fn oi_fields(p: &WifiProfile, legacy: bool) -> (Vec<(String, String)>, Vec<String>) {
    let mut f = Vec::new();
    let mut warnings = Vec::new();
    let mut rcs = p.roaming_consortiums.clone();
    if legacy {
        if !p.home_ois.is_empty() {
            warnings.push(
                "this wpa_supplicant has no home_ois (added in 2.11): home OIs are written into roaming_consortiums and match as roaming, not home".to_string(),
            );
            for o in &p.home_ois {
                if !rcs.contains(o) {
                    rcs.push(o.clone());
                }
            }
        }
        if let Some(first) = p.required_home_ois.first() {
            f.push(("required_roaming_consortium".into(), first.clone()));
            if p.required_home_ois.len() > 1 {
                warnings.push(
                    "this wpa_supplicant takes one required_roaming_consortium: further required home OIs dropped".to_string(),
                );
            }
        }
    } else {
        if !p.home_ois.is_empty() {
            f.push(("home_ois".into(), string_value(&p.home_ois.join(","))));
        }
        if !p.required_home_ois.is_empty() {
            f.push((
                "required_home_ois".into(),
                string_value(&p.required_home_ois.join(",")),
            ));
        }
    }
    if !rcs.is_empty() {
        f.push(("roaming_consortiums".into(), string_value(&rcs.join(","))));
    }
    (f, warnings)
}

/// Which network a plain (non-Passpoint) block is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkTarget {
    /// `any`: no SSID, `key_mgmt=IEEE8021X` — wired 802.1X (wpa_supplicant
    /// `-Dwired`, `ap_scan=0`) or whatever port the driver gives.
    Any,
    /// An SSID with `key_mgmt=WPA-EAP`.
    Ssid(String),
}

impl std::str::FromStr for NetworkTarget {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "" => Err("--network needs an SSID or `any`".into()),
            "any" => Ok(NetworkTarget::Any),
            s if s.len() > 32 => Err(format!("SSID {s:?} is longer than 32 bytes")),
            s => Ok(NetworkTarget::Ssid(s.to_string())),
        }
    }
}

/// The `SET_NETWORK` fields of a plain 802.1X/WPA-EAP block whose EAP-AKA or
/// AKA' runs on the external SIM.
pub fn network_fields(
    target: &NetworkTarget,
    method: WifiMethod,
    identity: &str,
) -> Vec<(String, String)> {
    let mut f: Vec<(String, String)> = Vec::new();
    match target {
        NetworkTarget::Any => {
            f.push(("key_mgmt".into(), "IEEE8021X".into()));
            // Wired ports send no EAPOL-Key frames.
            f.push(("eapol_flags".into(), "0".into()));
        }
        NetworkTarget::Ssid(s) => {
            f.push(("ssid".into(), string_value(s)));
            f.push(("key_mgmt".into(), "WPA-EAP".into()));
            f.push(("ieee80211w".into(), "1".into()));
        }
    }
    f.push(("eap".into(), eap_name(method).into()));
    f.push(("identity".into(), string_value(identity)));
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    const PPS_TOML: &str = r#"
UpdateIdentifier = 3
CredentialPriority = 2
[HomeSP]
FriendlyName = "Example Mobile"
FQDN = "mobile.example"
RoamingConsortiumOI = ["112233", "4455667788"]
[[HomeSP.HomeOIList]]
HomeOI = "aabbcc"
HomeOIRequired = false
[[HomeSP.HomeOIList]]
HomeOI = "ddeeff"
HomeOIRequired = true
[[HomeSP.OtherHomePartners]]
FQDN = "partner.example"
[Credential]
Realm = "wlan.mnc001.mcc001.3gppnetwork.org"
CreationDate = "2026-01-01T00:00:00Z"
[Credential.SIM]
IMSI = "00101*"
EAPType = 50
[Policy]
[[Policy.PreferredRoamingPartnerList]]
FQDN_Match = "roam.example,includeSubdomains"
Priority = 10
Country = "*"
[[Policy.SPExclusionList]]
SSID = "bad-ssid"
[Policy.PolicyUpdate]
UpdateInterval = 4294967295
[Local]
Priority = 5
"#;

    fn sim() -> SimIdentity {
        SimIdentity {
            imsi: Imsi::parse("001010123456789").unwrap(),
            mnc_len: MncLen::Two,
        }
    }

    #[test]
    fn passpoint_profile_to_cred() {
        let p = match parse(PPS_TOML, "p.toml") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(p.name, "Example Mobile");
        assert_eq!(p.method, Some(WifiMethod::AkaPrime));
        assert_eq!(p.mnc_len, Some(2));
        assert_eq!(p.domains, vec!["mobile.example", "partner.example"]);
        let f = cred_fields(&p, WifiMethod::AkaPrime, &sim(), 1);
        let get = |k: &str| -> Vec<&str> {
            f.iter()
                .filter(|(n, _)| n == k)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        assert_eq!(get("realm"), vec!["\"wlan.mnc001.mcc001.3gppnetwork.org\""]);
        assert_eq!(
            get("domain"),
            vec!["\"mobile.example\"", "\"partner.example\""]
        );
        assert_eq!(get("eap"), vec!["AKA'"]);
        assert_eq!(get("imsi"), vec!["\"00101-0123456789\""]);
        assert_eq!(get("sim_num"), vec!["1"]);
        assert_eq!(get("priority"), vec!["5"]);
        assert_eq!(get("sp_priority"), vec!["2"]);
        assert_eq!(get("update_identifier"), vec!["3"]);
        assert_eq!(get("provisioning_sp"), vec!["\"mobile.example\""]);
        assert_eq!(get("excluded_ssid"), vec!["\"bad-ssid\""]);
        assert_eq!(get("roaming_partner"), vec!["\"roam.example,0,10,*\""]);
        assert_eq!(get("temporary"), vec!["1"]);

        let (oi, w) = oi_fields(&p, false);
        assert!(w.is_empty());
        assert_eq!(
            oi,
            vec![
                ("home_ois".to_string(), "\"aabbcc\"".to_string()),
                ("required_home_ois".to_string(), "\"ddeeff\"".to_string()),
                (
                    "roaming_consortiums".to_string(),
                    "\"112233,4455667788\"".to_string()
                ),
            ]
        );
        let (oi, w) = oi_fields(&p, true);
        assert_eq!(w.len(), 1);
        assert_eq!(
            oi,
            vec![
                (
                    "required_roaming_consortium".to_string(),
                    "ddeeff".to_string()
                ),
                (
                    "roaming_consortiums".to_string(),
                    "\"112233,4455667788,aabbcc\"".to_string()
                ),
            ]
        );
    }

    #[test]
    fn small_toml_and_errors() {
        let p = parse("eap_method = \"aka\"\nrealm = \"example.com\"\n", "s.toml").unwrap();
        assert_eq!(p.method, Some(WifiMethod::Aka));
        assert_eq!(p.realm.as_deref(), Some("example.com"));
        let e = parse("eap_method = \"peap\"\n", "s.toml").unwrap_err();
        assert!(e.0.starts_with("s.toml:1:"), "{e}");
        // EAPType 18: EAP-SIM, `eap=SIM` and the `1<IMSI>` identity.
        let p = parse(&PPS_TOML.replace("EAPType = 50", "EAPType = 18"), "p.toml").unwrap();
        assert_eq!(p.method, Some(WifiMethod::Sim));
        assert_eq!(eap_name(WifiMethod::Sim), "SIM");
        let p = parse("eap_method = \"sim\"\n", "s.toml").unwrap();
        assert_eq!(p.method, Some(WifiMethod::Sim));
        let e = parse(&PPS_TOML.replace("EAPType = 50", "EAPType = 25"), "p.toml").unwrap_err();
        assert!(e.0.contains("18 (SIM)"), "{e}");
        let e = parse("this is not a profile", "x").unwrap_err();
        assert!(e.0.starts_with("x:"), "{e}");
        // The file is read no further than the cap.
        let e = load(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.0.starts_with("/dev/zero:0: the profile is larger than 1048576 bytes"),
            "{e}"
        );
    }

    #[test]
    fn imsi_forms_and_identity() {
        let s = sim();
        assert_eq!(s.cred_imsi(), "00101-0123456789");
        let three = SimIdentity {
            imsi: Imsi::parse("310260123456789").unwrap(),
            mnc_len: MncLen::Three,
        };
        assert_eq!(three.cred_imsi(), "310260-123456789");
        assert_eq!(
            s.identity(WifiMethod::Aka, None),
            "0001010123456789@wlan.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            s.identity(WifiMethod::AkaPrime, Some("example.com")),
            "6001010123456789@example.com"
        );
        assert_eq!(
            s.identity(WifiMethod::Sim, None),
            "1001010123456789@wlan.mnc001.mcc001.3gppnetwork.org"
        );
        assert_eq!(
            s.identity(WifiMethod::Sim, Some("example.com")),
            "1001010123456789@example.com"
        );
        let mut p = WifiProfile {
            imsi: Some("00101*".into()),
            ..WifiProfile::default()
        };
        assert!(check_imsi(&p, &s.imsi).is_ok());
        p.imsi = Some("24491*".into());
        assert!(check_imsi(&p, &s.imsi).unwrap_err().contains("24491*"));
        p.imsi = Some("001010123456789".into());
        assert!(check_imsi(&p, &s.imsi).is_ok());
    }

    #[test]
    fn network_blocks() {
        let f = network_fields(&NetworkTarget::Any, WifiMethod::Aka, "0001@x");
        assert_eq!(f[0], ("key_mgmt".into(), "IEEE8021X".into()));
        assert!(f.contains(&("eap".into(), "AKA".into())));
        assert!(f.contains(&("identity".into(), "\"0001@x\"".into())));
        let f = network_fields(
            &NetworkTarget::Ssid("Operator WiFi".into()),
            WifiMethod::AkaPrime,
            "6001@x",
        );
        assert_eq!(f[0], ("ssid".into(), "\"Operator WiFi\"".into()));
        assert!(f.contains(&("key_mgmt".into(), "WPA-EAP".into())));
        assert!(f.contains(&("eap".into(), "AKA'".into())));
        assert_eq!("any".parse::<NetworkTarget>(), Ok(NetworkTarget::Any));
        assert!("".parse::<NetworkTarget>().is_err());
        assert!("x".repeat(33).parse::<NetworkTarget>().is_err());
    }
}
