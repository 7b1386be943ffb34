//! Hotspot 2.0 network selection: does a profile match a BSS's ANQP data, and
//! as home or roaming? Rules follow wpa_supplicant's `interworking.c`
//! (PASSPOINT-FORMATS §4.4); [`MatchOptions::android`] switches to Android's
//! `PasspointProvider`/`ANQPMatcher` differences.

use crate::model::*;
use serde::{Deserialize, Serialize};

/// ANQP (and beacon) data of one BSS.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anqp {
    /// The BSS's SSID.
    #[serde(default)]
    pub ssid: Option<String>,
    /// HESSID as `aa:bb:cc:dd:ee:ff` or 12 hex digits.
    #[serde(default)]
    pub hessid: Option<String>,
    /// ANQP Domain Name list (`None` = not received).
    #[serde(default)]
    pub domain_names: Option<Vec<String>>,
    /// ANQP NAI Realm list (`None` = not received).
    #[serde(default)]
    pub nai_realms: Option<Vec<NaiRealm>>,
    /// ANQP 3GPP Cellular Network PLMN list (`None` = not received).
    #[serde(default)]
    pub plmns: Option<Vec<AnqpPlmn>>,
    /// Roaming Consortium OIs (Beacon element and ANQP list together), hex.
    #[serde(default)]
    pub roaming_consortiums: Vec<String>,
}

/// One NAI Realm entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaiRealm {
    /// Realm names (an entry may carry several).
    pub realms: Vec<String>,
    /// EAP methods offered for them.
    #[serde(default)]
    pub eap_methods: Vec<NaiEap>,
}

/// An EAP method in a NAI Realm entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaiEap {
    /// EAP type number.
    pub method: u8,
    /// Authentication parameters `[id, value]` (2 = non-EAP inner method,
    /// 3 = inner EAP method, 5 = credential type).
    #[serde(default)]
    pub auth_params: Vec<[u8; 2]>,
}

/// One PLMN of the 3GPP Cellular Network list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnqpPlmn {
    /// MCC, 3 digits.
    pub mcc: String,
    /// MNC, 2 or 3 digits.
    pub mnc: String,
}

/// Matching options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MatchOptions {
    /// Android rules: subdomain matching for Domain Name and NAI Realm, home
    /// via HomeOIList, roaming via any OI/PLMN/realm.
    pub android: bool,
}

/// The outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum MatchResult {
    /// The BSS belongs to the home SP.
    Home {
        /// What matched (e.g. `NAI realm example.com`).
        via: String,
    },
    /// Usable while roaming.
    Roaming {
        /// Roaming partner priority (0 = best; 128 when no partner matches).
        partner_priority: u8,
        /// What matched.
        via: String,
    },
    /// The credential matches but the BSS is excluded.
    Excluded {
        /// Why.
        reason: String,
    },
    /// No credential path matched.
    NoMatch {
        /// One reason per path tried.
        reasons: Vec<String>,
    },
}

fn norm_oi(s: &str) -> String {
    s.trim().to_ascii_uppercase()
}

fn realm_eq(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn is_subdomain_or_eq(child: &str, parent: &str) -> bool {
    let c = child.to_ascii_lowercase();
    let p = parent.to_ascii_lowercase();
    c == p || c.ends_with(&format!(".{p}"))
}

/// The 3GPP realms a SIM credential may be known under (2- and 3-digit MNC).
fn sim_plmns(p: &Profile) -> Vec<Plmn> {
    let Some(digits) = p.imsi_prefix() else {
        return Vec::new();
    };
    if digits.len() < 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let mut v = Vec::new();
    if let Some(x) = p.plmn() {
        v.push(x);
    }
    for mnc_len in [2usize, 3] {
        if digits.len() >= 3 + mnc_len && (p.imsi().is_some_and(|i| !i.ends_with('*'))) {
            let cand = Plmn {
                mcc: digits[..3].to_string(),
                mnc: digits[3..3 + mnc_len].to_string(),
            };
            if !v.contains(&cand) {
                v.push(cand);
            }
        }
    }
    v
}

fn eap_usable(p: &Profile, e: &NaiEap) -> bool {
    match p.credential.kind() {
        Some(CredentialKind::UsernamePassword(u)) => {
            let m = u.eap_method.as_ref();
            let want = m.and_then(|m| m.eap_type).unwrap_or(21);
            if u32::from(e.method) != want {
                return false;
            }
            if want != 21 {
                return true;
            }
            let inner: Vec<u8> = e
                .auth_params
                .iter()
                .filter(|a| a[0] == 2)
                .map(|a| a[1])
                .collect();
            if inner.is_empty() {
                return true; // wpa: no inner info => assume MSCHAPv2
            }
            let code = match m.and_then(|m| m.inner_method.as_deref()) {
                Some("PAP") => 1,
                Some("CHAP") => 2,
                Some("MS-CHAP") => 3,
                _ => 4,
            };
            inner.contains(&code)
        }
        Some(CredentialKind::DigitalCertificate(_)) => e.method == 13,
        Some(CredentialKind::Sim(s)) => {
            let want = s.eap_type.unwrap_or(23);
            u32::from(e.method) == want
        }
        None => false,
    }
}

/// Matches `profile` against `anqp`.
pub fn match_profile(profile: &Profile, anqp: &Anqp, opts: MatchOptions) -> MatchResult {
    let mut reasons = Vec::new();
    let advertised: Vec<String> = anqp
        .roaming_consortiums
        .iter()
        .map(|s| norm_oi(s))
        .collect();
    let h = &profile.home_sp;
    // Required home OIs apply to every path.
    let required: Vec<String> = h
        .home_oi_list
        .iter()
        .filter(|o| o.home_oi_required == Some(true))
        .filter_map(|o| o.home_oi.as_deref().map(norm_oi))
        .collect();
    if let Some(missing) = required.iter().find(|o| !advertised.contains(o)) {
        return MatchResult::NoMatch {
            reasons: vec![format!("required home OI {missing} is not advertised")],
        };
    }
    let kind = profile.credential.kind();
    let is_sim = matches!(kind, Some(CredentialKind::Sim(_)));
    let mut via: Option<String> = None;
    // 1. NAI realm.
    match (&anqp.nai_realms, profile.realm()) {
        (None, _) => reasons.push("no NAI Realm ANQP data".to_string()),
        (_, None) => reasons.push("profile has no Credential/Realm".to_string()),
        (Some(list), Some(realm)) => {
            let mut realm_found = false;
            'outer: for entry in list {
                for r in entry.realms.iter().flat_map(|r| r.split(';')) {
                    let name_ok = if opts.android {
                        is_subdomain_or_eq(r, realm)
                    } else {
                        realm_eq(r, realm)
                    };
                    let sim_realm_ok =
                        is_sim && sim_plmns(profile).iter().any(|pl| realm_eq(r, &pl.realm()));
                    if !(name_ok || sim_realm_ok) {
                        continue;
                    }
                    realm_found = true;
                    if entry.eap_methods.iter().any(|e| eap_usable(profile, e)) {
                        via = Some(format!("NAI realm {r}"));
                        break 'outer;
                    }
                }
            }
            if via.is_none() {
                reasons.push(if realm_found {
                    format!("NAI realm {realm} advertised without a usable EAP method")
                } else {
                    format!("NAI realm {realm} not advertised")
                });
            }
        }
    }
    // 2. 3GPP PLMN.
    if via.is_none() && is_sim {
        match &anqp.plmns {
            None => reasons.push("no 3GPP Cellular Network ANQP data".to_string()),
            Some(list) => {
                let ours = sim_plmns(profile);
                if let Some(pl) = list
                    .iter()
                    .find(|a| ours.iter().any(|o| o.mcc == a.mcc && o.mnc == a.mnc))
                {
                    via = Some(format!("3GPP PLMN {}-{}", pl.mcc, pl.mnc));
                } else {
                    reasons.push("IMSI PLMN not in the 3GPP Cellular Network list".to_string());
                }
            }
        }
    }
    // 3. Roaming consortium.
    let mut home_oi_hit = None;
    if via.is_none() {
        let mut ois: Vec<String> = h.roaming_consortium_oi.iter().map(|s| norm_oi(s)).collect();
        let home_ois: Vec<String> = h
            .home_oi_list
            .iter()
            .filter_map(|o| o.home_oi.as_deref().map(norm_oi))
            .collect();
        ois.extend(home_ois.iter().cloned());
        if ois.is_empty() {
            reasons.push("profile has no roaming consortium OI".to_string());
        } else if profile.eap_method().is_none() {
            reasons.push("roaming consortium match needs an EAP method".to_string());
        } else if let Some(oi) = ois.iter().find(|o| advertised.contains(o)) {
            via = Some(format!("roaming consortium {oi}"));
            if home_ois.contains(oi) {
                home_oi_hit = Some(oi.clone());
            }
        } else {
            reasons.push("no profile OI is advertised".to_string());
        }
    }
    let Some(via) = via else {
        return MatchResult::NoMatch { reasons };
    };
    // Exclusion.
    if let (Some(ssid), Some(pol)) = (&anqp.ssid, &profile.policy)
        && pol
            .sp_exclusion_list
            .iter()
            .any(|s| s.ssid.as_deref() == Some(ssid.as_str()))
    {
        return MatchResult::Excluded {
            reason: format!("SSID '{ssid}' is in Policy/SPExclusionList"),
        };
    }
    // Home?
    if let Some(domains) = &anqp.domain_names {
        for home in profile.home_domains() {
            if let Some(d) = domains.iter().find(|d| {
                if opts.android {
                    is_subdomain_or_eq(d, home)
                } else {
                    d.eq_ignore_ascii_case(home)
                }
            }) {
                return MatchResult::Home {
                    via: format!("{via}; domain {d}"),
                };
            }
        }
        if is_sim {
            for pl in sim_plmns(profile) {
                let r = pl.realm();
                if domains.iter().any(|d| d.eq_ignore_ascii_case(&r)) {
                    return MatchResult::Home {
                        via: format!("{via}; 3GPP domain {r}"),
                    };
                }
            }
        }
    }
    if opts.android {
        if let Some(oi) = home_oi_hit {
            return MatchResult::Home {
                via: format!("{via}; home OI {oi}"),
            };
        }
        if let Some(ssid) = &anqp.ssid
            && h.network_id
                .iter()
                .any(|n| n.ssid.as_deref() == Some(ssid.as_str()))
        {
            return MatchResult::Home {
                via: format!("{via}; home SSID {ssid}"),
            };
        }
    }
    // Roaming partner priority.
    let mut prio: u8 = 128;
    if let (Some(domains), Some(pol)) = (&anqp.domain_names, &profile.policy) {
        for rp in &pol.preferred_roaming_partner_list {
            if let Some((fqdn, sub)) = rp.parsed_fqdn_match() {
                let hit = domains.iter().any(|d| {
                    if sub {
                        is_subdomain_or_eq(d, fqdn)
                    } else {
                        d.eq_ignore_ascii_case(fqdn)
                    }
                });
                if hit {
                    let p = u8::try_from(rp.priority.unwrap_or(128).min(255)).unwrap_or(255);
                    prio = prio.min(p);
                }
            }
        }
    }
    MatchResult::Roaming {
        partner_priority: prio,
        via,
    }
}

/// Error reading ANQP input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnqpError {
    /// Bad JSON.
    #[error("ANQP JSON: {0}")]
    Json(String),
    /// Bad hostapd line.
    #[error("line {line}: {message}")]
    Hostapd {
        /// Line number (1-based).
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads ANQP data from JSON.
pub fn anqp_from_json(text: &str) -> Result<Anqp, AnqpError> {
    serde_json::from_str(text).map_err(|e| AnqpError::Json(e.to_string()))
}

/// Parses a hostapd `nai_realm=` value (`0,realm1;realm2,21[2:4][5:7],13[5:6]`).
pub fn parse_nai_realm(v: &str) -> Result<NaiRealm, String> {
    let mut it = v.splitn(3, ',');
    let enc = it.next().unwrap_or("");
    if enc.parse::<u8>().is_err() {
        return Err(format!("bad encoding '{enc}'"));
    }
    let realms: Vec<String> = it
        .next()
        .ok_or("missing realm")?
        .split(';')
        .map(str::to_string)
        .collect();
    let mut eap_methods = Vec::new();
    if let Some(rest) = it.next() {
        for m in rest.split(',') {
            let m = m.trim();
            if m.is_empty() {
                continue;
            }
            let (num, params) = match m.find('[') {
                Some(i) => (&m[..i], &m[i..]),
                None => (m, ""),
            };
            let method = num
                .parse::<u8>()
                .map_err(|_| format!("bad EAP method '{num}'"))?;
            let mut auth_params = Vec::new();
            for p in params.split('[').filter(|p| !p.is_empty()) {
                let p = p.strip_suffix(']').ok_or("unterminated auth param")?;
                let (a, b) = p.split_once(':').ok_or("auth param needs id:value")?;
                let a = a.parse::<u8>().map_err(|_| "bad auth param id")?;
                let b = b.parse::<u8>().map_err(|_| "bad auth param value")?;
                auth_params.push([a, b]);
            }
            eap_methods.push(NaiEap {
                method,
                auth_params,
            });
        }
    }
    Ok(NaiRealm {
        realms,
        eap_methods,
    })
}

/// Reads the fields ANQP is built from out of a hostapd configuration
/// (`ssid`, `hessid`, `domain_name`, `nai_realm`, `anqp_3gpp_cell_net`,
/// `roaming_consortium`). Unrelated lines are ignored.
pub fn anqp_from_hostapd_conf(text: &str) -> Result<Anqp, AnqpError> {
    let mut a = Anqp::default();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let err = |m: String| AnqpError::Hostapd {
            line: i + 1,
            message: m,
        };
        match k {
            "ssid" => a.ssid = Some(v.to_string()),
            "hessid" => a.hessid = Some(v.to_string()),
            "domain_name" => a
                .domain_names
                .get_or_insert_with(Vec::new)
                .extend(v.split(',').map(str::to_string)),
            "nai_realm" => a
                .nai_realms
                .get_or_insert_with(Vec::new)
                .push(parse_nai_realm(v).map_err(err)?),
            "anqp_3gpp_cell_net" => {
                let list = a.plmns.get_or_insert_with(Vec::new);
                for pl in v.split(';') {
                    let (mcc, mnc) = pl
                        .split_once(',')
                        .ok_or_else(|| err(format!("bad PLMN '{pl}'")))?;
                    let ok = mcc.len() == 3
                        && (2..=3).contains(&mnc.len())
                        && mcc.bytes().chain(mnc.bytes()).all(|b| b.is_ascii_digit());
                    if !ok {
                        return Err(err(format!("bad PLMN '{pl}'")));
                    }
                    list.push(AnqpPlmn {
                        mcc: mcc.to_string(),
                        mnc: mnc.to_string(),
                    });
                }
            }
            "roaming_consortium" => a.roaming_consortiums.push(v.to_string()),
            _ => {}
        }
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_profile() -> Profile {
        let mut p = Profile::default();
        p.home_sp.fqdn = Some("example.com".into());
        p.credential.realm = Some("example.com".into());
        p.credential.username_password = Some(UsernamePassword {
            username: Some("alice".into()),
            password: Some("pw".into()),
            eap_method: Some(EapMethod {
                eap_type: Some(21),
                inner_method: Some("MS-CHAP-V2".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        p
    }

    #[test]
    fn realm_home_and_roaming() {
        let p = user_profile();
        let mut a = anqp_from_hostapd_conf(
            "ssid=hs\nnai_realm=0,example.com,21[2:4][5:7]\ndomain_name=example.com\n",
        )
        .expect("conf");
        assert!(matches!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::Home { .. }
        ));
        a.domain_names = Some(vec!["other.net".into()]);
        assert!(matches!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::Roaming {
                partner_priority: 128,
                ..
            }
        ));
        a.domain_names = Some(vec!["wifi.example.com".into()]);
        assert!(matches!(
            match_profile(&p, &a, MatchOptions { android: true }),
            MatchResult::Home { .. }
        ));
        a.nai_realms = Some(vec![parse_nai_realm("0,example.com,13[5:6]").expect("r")]);
        assert!(matches!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::NoMatch { .. }
        ));
    }

    #[test]
    fn sim_plmn_and_exclusion() {
        let mut p = Profile::default();
        p.home_sp.fqdn = Some("op.example".into());
        p.credential.realm = Some("wlan.mnc091.mcc244.3gppnetwork.org".into());
        p.credential.sim = Some(Sim {
            imsi: Some("24491*".into()),
            eap_type: Some(23),
        });
        let a = Anqp {
            plmns: Some(vec![AnqpPlmn {
                mcc: "244".into(),
                mnc: "91".into(),
            }]),
            domain_names: Some(vec!["wlan.mnc091.mcc244.3gppnetwork.org".into()]),
            ssid: Some("bad".into()),
            ..Default::default()
        };
        assert!(matches!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::Home { .. }
        ));
        p.policy = Some(Policy {
            sp_exclusion_list: vec![SpExclusion {
                ssid: Some("bad".into()),
            }],
            ..Default::default()
        });
        assert!(matches!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::Excluded { .. }
        ));
    }

    #[test]
    fn required_oi_and_partner_priority() {
        let mut p = user_profile();
        p.home_sp.home_oi_list.push(HomeOi {
            home_oi: Some("112233".into()),
            home_oi_required: Some(true),
        });
        p.policy = Some(Policy {
            preferred_roaming_partner_list: vec![RoamingPartner {
                fqdn_match: Some("partner.net,includeSubdomains".into()),
                priority: Some(3),
                country: Some("*".into()),
            }],
            ..Default::default()
        });
        let mut a = Anqp {
            nai_realms: Some(vec![parse_nai_realm("0,example.com,21").expect("r")]),
            domain_names: Some(vec!["a.partner.net".into()]),
            ..Default::default()
        };
        assert!(matches!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::NoMatch { .. }
        ));
        a.roaming_consortiums.push("112233".into());
        assert_eq!(
            match_profile(&p, &a, MatchOptions::default()),
            MatchResult::Roaming {
                partner_priority: 3,
                via: "NAI realm example.com".into()
            }
        );
    }
}
