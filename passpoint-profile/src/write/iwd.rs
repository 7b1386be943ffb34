//! iwd hotspot file writer (`/var/lib/iwd/hotspot/<name>.conf`). Lossy.

use super::{Lossy, WriteError};
use crate::model::*;

fn is_3_or_5_octets(oi: &str) -> bool {
    (oi.len() == 6 || oi.len() == 10) && oi.bytes().all(|b| b.is_ascii_hexdigit())
}

fn hessid_mac(h: &str) -> Option<String> {
    if h.len() != 12 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let parts: Vec<&str> = (0..6).filter_map(|i| h.get(i * 2..i * 2 + 2)).collect();
    Some(parts.join(":").to_ascii_lowercase())
}

fn clean(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// Writes one profile as an iwd hotspot file.
pub fn write(p: &Profile, lossy: &mut Lossy) -> Result<String, WriteError> {
    let h = &p.home_sp;
    let local = p.local.clone().unwrap_or_default();
    let mut hot = vec!["[Hotspot]".to_string()];
    let name = p.display_name().to_string();
    hot.push(format!("Name={}", clean(&name)));
    let mut has_selector = false;
    if let Some(r) = &p.credential.realm {
        hot.push(format!("NAIRealmNames={}", clean(r)));
        has_selector = true;
    }
    let mut ois: Vec<&str> = h.roaming_consortium_oi.iter().map(String::as_str).collect();
    ois.extend(h.home_oi_list.iter().filter_map(|o| o.home_oi.as_deref()));
    let usable: Vec<&str> = ois
        .iter()
        .copied()
        .filter(|o| is_3_or_5_octets(o))
        .collect();
    if let Some(first) = usable.first() {
        hot.push(format!("RoamingConsortium={}", first.to_ascii_uppercase()));
        has_selector = true;
    }
    if ois.len() > usable.first().map_or(0, |_| 1) {
        lossy.warn(
            "HomeSP/RoamingConsortiumOI",
            "iwd takes one 3- or 5-octet RoamingConsortium; other OIs dropped",
        );
    }
    if !h.home_oi_list.is_empty() {
        lossy.warn(
            "HomeSP/HomeOIList",
            "iwd has no home OIs or HomeOIRequired; at most one OI kept as RoamingConsortium",
        );
    }
    let hessid = h.network_id.iter().find_map(|n| n.hessid.as_deref());
    if let Some(hx) = hessid {
        match hessid_mac(hx) {
            Some(mac) => {
                hot.push(format!("HESSID={mac}"));
                has_selector = true;
            }
            None => lossy.warn("HomeSP/NetworkID", "HESSID is not 12 hex digits; dropped"),
        }
    }
    if !h.network_id.is_empty() {
        lossy.warn(
            "HomeSP/NetworkID",
            "iwd has no home SSID list; only one HESSID is kept",
        );
    }
    if !has_selector {
        return Err(WriteError::Unrepresentable(
            "iwd needs one of Credential/Realm, a 3/5-octet OI or a HESSID".into(),
        ));
    }
    let mut sec = vec!["[Security]".to_string()];
    let realm = p.credential.realm.clone().unwrap_or_default();
    let domain_mask = local.domain_suffix_match.clone().or(h.fqdn.clone());
    match p.credential.kind() {
        Some(CredentialKind::UsernamePassword(u)) => {
            let eap = u
                .eap_method
                .as_ref()
                .and_then(|m| m.eap_type)
                .and_then(Eap::from_type)
                .unwrap_or(Eap::Ttls);
            match eap {
                Eap::Ttls => {
                    sec.push("EAP-Method=TTLS".into());
                    sec.push(format!("EAP-Identity=anonymous@{}", clean(&realm)));
                    let inner = u
                        .eap_method
                        .as_ref()
                        .and_then(|m| m.inner_method.as_deref())
                        .unwrap_or("MS-CHAP-V2");
                    let m = match inner {
                        "PAP" => "Tunneled-PAP",
                        "CHAP" => "Tunneled-CHAP",
                        "MS-CHAP" => "Tunneled-MSCHAP",
                        _ => "Tunneled-MSCHAPv2",
                    };
                    sec.push(format!("EAP-TTLS-Phase2-Method={m}"));
                    if let Some(n) = &u.username {
                        sec.push(format!("EAP-TTLS-Phase2-Identity={}", clean(n)));
                    }
                    if let Some(pw) = &u.password {
                        sec.push(format!("EAP-TTLS-Phase2-Password={}", clean(pw)));
                    }
                    if let Some(ca) = &local.ca_cert_path {
                        sec.push(format!("EAP-TTLS-CACert={}", clean(ca)));
                    }
                    if let Some(d) = &domain_mask {
                        sec.push(format!("EAP-TTLS-ServerDomainMask={}", clean(d)));
                    }
                }
                other => {
                    return Err(WriteError::Unrepresentable(format!(
                        "iwd output supports TTLS user credentials only, not {}",
                        other.wpa_name()
                    )));
                }
            }
        }
        Some(CredentialKind::DigitalCertificate(_)) => {
            sec.push("EAP-Method=TLS".into());
            sec.push(format!("EAP-Identity=anonymous@{}", clean(&realm)));
            if let Some(c) = &local.client_cert_path {
                sec.push(format!("EAP-TLS-ClientCert={}", clean(c)));
            }
            if let Some(k) = &local.private_key_path {
                sec.push(format!("EAP-TLS-ClientKey={}", clean(k)));
            }
            if let Some(k) = &local.private_key_password {
                sec.push(format!("EAP-TLS-ClientKeyPassphrase={}", clean(k)));
            }
            if let Some(ca) = &local.ca_cert_path {
                sec.push(format!("EAP-TLS-CACert={}", clean(ca)));
            }
            if let Some(d) = &domain_mask {
                sec.push(format!("EAP-TLS-ServerDomainMask={}", clean(d)));
            }
            lossy.dropped("Credential/DigitalCertificate/CertSHA256Fingerprint", "iwd");
        }
        Some(CredentialKind::Sim(s)) => {
            let e = s.eap_type.and_then(Eap::from_type).unwrap_or(Eap::Aka);
            sec.push(format!("EAP-Method={}", e.wpa_name()));
            if s.imsi.is_some() {
                lossy.warn(
                    "Credential/SIM/IMSI",
                    "iwd takes the IMSI from the SIM (ofono); the IMSI (prefix) is not carried",
                );
            }
        }
        None => {
            return Err(WriteError::Unrepresentable(
                "the profile has not exactly one credential type".into(),
            ));
        }
    }
    for (f, set) in [
        ("HomeSP/FQDN", h.fqdn.is_some() && domain_mask.is_none()),
        (
            "HomeSP/OtherHomePartners",
            !h.other_home_partners.is_empty(),
        ),
        ("HomeSP/IconURL", h.icon_url.is_some()),
        ("CredentialPriority", p.credential_priority.is_some()),
        ("UpdateIdentifier", p.update_identifier.is_some()),
        (
            "Credential/CreationDate",
            p.credential.creation_date.is_some(),
        ),
        (
            "Credential/ExpirationDate",
            p.credential.expiration_date.is_some(),
        ),
        (
            "Credential/CheckAAAServerCertStatus",
            p.credential.check_aaa_server_cert_status.is_some(),
        ),
        ("Policy", p.policy.is_some()),
        ("SubscriptionUpdate", p.subscription_update.is_some()),
        (
            "SubscriptionParameters",
            p.subscription_parameters.is_some(),
        ),
        ("AAAServerTrustRoot", !p.aaa_server_trust_root.is_empty()),
        ("Extension", !p.extension.is_empty()),
        ("Local/CACertificate", local.ca_certificate.is_some()),
        ("Local/PKCS12", local.pkcs12.is_some()),
        ("Local/Milenage", local.milenage.is_some()),
        ("Local/Priority", local.priority.is_some()),
    ] {
        if set {
            lossy.dropped(f, "iwd");
        }
    }
    let mut out = hot.join("\n");
    out.push_str("\n\n");
    out.push_str(&sec.join("\n"));
    out.push('\n');
    Ok(out)
}
