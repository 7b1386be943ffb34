//! hostapd configuration snippet advertising a Hotspot 2.0 network on which
//! the profile(s) match as home.

use super::{Lossy, WriteError};
use crate::model::*;

fn valid_oi(oi: &str) -> bool {
    oi.len().is_multiple_of(2)
        && (6..=30).contains(&oi.len())
        && oi.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The NAI Realm EAP method field (`21[2:4][5:7]` etc.) for a profile.
pub fn nai_eap_field(p: &Profile) -> Option<String> {
    Some(match p.credential.kind()? {
        CredentialKind::UsernamePassword(u) => {
            let m = u.eap_method.as_ref();
            let eap = m
                .and_then(|m| m.eap_type)
                .and_then(Eap::from_type)
                .unwrap_or(Eap::Ttls);
            match eap {
                Eap::Ttls => {
                    let inner = match m.and_then(|m| m.inner_method.as_deref()) {
                        Some("PAP") => 1,
                        Some("CHAP") => 2,
                        Some("MS-CHAP") => 3,
                        _ => 4,
                    };
                    format!("21[2:{inner}][5:7]")
                }
                other => format!("{}[5:7]", other.type_number()),
            }
        }
        CredentialKind::DigitalCertificate(_) => "13[5:6]".to_string(),
        CredentialKind::Sim(s) => {
            let e = s.eap_type.and_then(Eap::from_type).unwrap_or(Eap::Aka);
            let cred = if e == Eap::Sim { 1 } else { 2 };
            format!("{}[5:{cred}]", e.type_number())
        }
    })
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Writes the snippet.
pub fn write(profiles: &[Profile], lossy: &mut Lossy) -> Result<String, WriteError> {
    let mut domains: Vec<String> = Vec::new();
    let mut ois: Vec<String> = Vec::new();
    let mut realms: Vec<String> = Vec::new();
    let mut plmns: Vec<String> = Vec::new();
    let mut hessid = None;
    let mut names = Vec::new();
    for (i, p) in profiles.iter().enumerate() {
        lossy.profile = i;
        for d in p.home_domains() {
            if d.contains(',') || d.is_empty() {
                lossy.warn(
                    "HomeSP/FQDN",
                    format!("'{d}' cannot be written in domain_name; dropped"),
                );
            } else if !domains.iter().any(|x| x.eq_ignore_ascii_case(d)) {
                domains.push(d.to_string());
            }
        }
        let mut all: Vec<&str> = p
            .home_sp
            .roaming_consortium_oi
            .iter()
            .map(String::as_str)
            .collect();
        all.extend(
            p.home_sp
                .home_oi_list
                .iter()
                .filter_map(|o| o.home_oi.as_deref()),
        );
        for oi in all {
            if !valid_oi(oi) {
                lossy.warn(
                    "HomeSP/RoamingConsortiumOI",
                    format!("OI '{oi}' is not 3..15 octets of hex; dropped"),
                );
            } else if !ois.iter().any(|x| x.eq_ignore_ascii_case(oi)) {
                ois.push(oi.to_ascii_uppercase());
            }
        }
        if let (Some(realm), Some(eap)) = (p.credential.realm.as_deref(), nai_eap_field(p)) {
            if realm.is_empty() || realm.contains([',', ';']) {
                lossy.warn(
                    "Credential/Realm",
                    format!("'{realm}' cannot be written in nai_realm; dropped"),
                );
            } else {
                let line = format!("0,{realm},{eap}");
                if !realms.contains(&line) {
                    realms.push(line);
                }
            }
        }
        if let Some(plmn) = p.plmn() {
            let r = plmn.realm();
            if !domains.contains(&r) {
                domains.push(r.clone());
            }
            let eap = nai_eap_field(p).unwrap_or_else(|| "23[5:2]".into());
            let line = format!("0,{r},{eap}");
            if !realms.contains(&line) {
                realms.push(line);
            }
            let cell = format!("{},{}", plmn.mcc, plmn.mnc);
            if !plmns.contains(&cell) {
                plmns.push(cell);
            }
        }
        if hessid.is_none() {
            hessid = p.home_sp.network_id.iter().find_map(|n| {
                let h = n.hessid.as_deref()?;
                (h.len() == 12 && h.bytes().all(|b| b.is_ascii_hexdigit())).then(|| {
                    (0..6)
                        .filter_map(|i| h.get(i * 2..i * 2 + 2))
                        .collect::<Vec<_>>()
                        .join(":")
                        .to_ascii_lowercase()
                })
            });
        }
        names.push(clean(p.display_name()));
    }
    if domains.is_empty() && ois.is_empty() && realms.is_empty() {
        return Err(WriteError::Unrepresentable(
            "no FQDN, OI, realm or PLMN to advertise".into(),
        ));
    }
    let mut o = String::new();
    o.push_str(&format!(
        "# Hotspot 2.0 AP snippet generated by passpoint-profile for: {}\n",
        names.join(", ")
    ));
    o.push_str("# Hotspot 2.0 requires WPA2-Enterprise (RSN, 802.1X, CCMP, PMF)\n");
    o.push_str("wpa=2\nwpa_key_mgmt=WPA-EAP\nrsn_pairwise=CCMP\nieee8021x=1\nieee80211w=1\n");
    o.push_str("interworking=1\naccess_network_type=14\ninternet=1\n");
    if let Some(h) = hessid {
        o.push_str(&format!("hessid={h}\n"));
    }
    o.push_str("hs20=1\n");
    if let Some(n) = names.first() {
        o.push_str(&format!("hs20_oper_friendly_name=eng:{n}\n"));
    }
    if !domains.is_empty() {
        o.push_str(&format!("domain_name={}\n", domains.join(",")));
    }
    for oi in &ois {
        o.push_str(&format!("roaming_consortium={oi}\n"));
    }
    for r in &realms {
        o.push_str(&format!("nai_realm={r}\n"));
    }
    if !plmns.is_empty() {
        o.push_str(&format!("anqp_3gpp_cell_net={}\n", plmns.join(";")));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nai_realm_eap_fields() {
        let mut p = Profile::default();
        p.credential.sim = Some(Sim {
            imsi: Some("310026*".into()),
            eap_type: Some(18),
        });
        assert_eq!(nai_eap_field(&p).as_deref(), Some("18[5:1]"));
        p.credential.sim = None;
        p.credential.username_password = Some(UsernamePassword {
            eap_method: Some(EapMethod {
                eap_type: Some(21),
                inner_method: Some("PAP".into()),
                ..Default::default()
            }),
            ..Default::default()
        });
        assert_eq!(nai_eap_field(&p).as_deref(), Some("21[2:1][5:7]"));
    }

    #[test]
    fn sim_snippet_advertises_plmn_and_3gpp_domain() {
        let mut p = Profile::default();
        p.home_sp.fqdn = Some("op.example".into());
        p.credential.realm = Some("wlan.mnc026.mcc310.3gppnetwork.org".into());
        p.credential.sim = Some(Sim {
            imsi: Some("310026*".into()),
            eap_type: Some(23),
        });
        let mut l = Lossy::default();
        let s = write(&[p], &mut l).expect("snippet");
        assert!(s.contains("anqp_3gpp_cell_net=310,026\n"), "{s}");
        assert!(
            s.contains("domain_name=op.example,wlan.mnc026.mcc310.3gppnetwork.org\n"),
            "{s}"
        );
        assert!(
            s.contains("nai_realm=0,wlan.mnc026.mcc310.3gppnetwork.org,23[5:2]\n"),
            "{s}"
        );
    }
}
