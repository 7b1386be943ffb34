//! Validation rules (PASSPOINT-FORMATS §6), each with a severity per target.
//!
//! [`validate_profile`] checks one model and returns path-only diagnostics;
//! [`validate_document`] adds the reader's findings and source locations and
//! resolves severities for a [`Target`].

use crate::diag::{Applies, Diagnostic, Severity, Target};
use crate::model::*;
use crate::read::{Document, Format};
use base64::Engine;

const E: Option<Severity> = Some(Severity::Error);
const W: Option<Severity> = Some(Severity::Warning);

/// Android warning only.
const ANDROID_WARNING: Applies = Applies {
    android: W,
    wpa_supplicant: None,
    spec: None,
};
/// Spec warning only.
const SPEC_WARNING: Applies = Applies {
    android: None,
    wpa_supplicant: None,
    spec: W,
};
/// Warning for Android/spec, error for wpa_supplicant ≠ WPA_ERROR naming clarity.
const PREFIX_IMSI: Applies = Applies {
    android: W,
    wpa_supplicant: W,
    spec: W,
};
/// Android error (Long overflow) but warning elsewhere.
const OI_LONG: Applies = Applies {
    android: E,
    wpa_supplicant: W,
    spec: W,
};

struct V {
    out: Vec<Diagnostic>,
}

impl V {
    fn add(&mut self, a: Applies, path: impl Into<String>, msg: impl Into<String>) {
        self.out.push(Diagnostic::new(a, path, msg));
    }

    /// Required string: missing / empty / too long.
    fn required(&mut self, a: Applies, path: &str, v: &Option<String>, max: usize) {
        match v {
            None => self.add(a, path, "missing"),
            Some(s) if s.is_empty() => self.add(a, path, "empty value"),
            Some(s) if s.len() > max => {
                self.add(a, path, format!("{} bytes, more than {max}", s.len()))
            }
            _ => {}
        }
    }

    fn max_len(&mut self, a: Applies, path: &str, v: &Option<String>, max: usize) {
        if let Some(s) = v
            && s.len() > max
        {
            self.add(a, path, format!("{} bytes, more than {max}", s.len()));
        }
    }

    fn date(&mut self, path: &str, v: &Option<String>) {
        if let Some(s) = v
            && !is_date(s)
        {
            self.add(
                Applies::ERROR,
                path,
                format!("'{s}' is not a date in yyyy-MM-ddTHH:mm:ssZ form"),
            );
        }
    }

    fn fingerprint(&mut self, a: Applies, path: &str, v: &Option<String>) {
        match v {
            None => self.add(a, path, "missing"),
            Some(s) if !s.len().is_multiple_of(2) => self.add(a, path, "odd length hex string"),
            Some(s) if !is_hex(s) => self.add(a, path, "invalid hex string"),
            Some(s) if s.len() != 64 => self.add(
                a,
                path,
                format!("SHA-256 fingerprint must be 32 bytes, is {}", s.len() / 2),
            ),
            _ => {}
        }
    }

    fn fqdn_lint(&mut self, path: &str, s: &str) {
        if s.is_empty() {
            return;
        }
        if s.contains(';') {
            self.add(
                Applies::WARNING,
                path,
                "contains ';': lists are not split by Android and never match",
            );
        } else if !is_ldh_name(s) {
            self.add(
                Applies::WARNING,
                path,
                format!(
                    "'{s}' is not a domain name (letters, digits, '-' labels separated by '.')"
                ),
            );
        }
    }

    fn oi(&mut self, path: &str, oi: &str) {
        if oi.is_empty() {
            self.add(Applies::ERROR, path, "empty OI");
        } else if !is_hex(oi) {
            self.add(Applies::ERROR, path, format!("OI '{oi}' is not hex"));
        } else if !oi.len().is_multiple_of(2) {
            self.add(
                Applies::ERROR,
                path,
                format!("OI '{oi}' has an odd number of hex digits (write it zero-padded to 3 or 5 octets)"),
            );
        } else {
            let octets = oi.len() / 2;
            match octets {
                3 | 5 => {}
                4 => self.add(
                    Applies::WARNING,
                    path,
                    format!("OI '{oi}' is 4 octets; the spec (and iwd) want 3 or 5"),
                ),
                6..=15 => self.add(
                    OI_LONG,
                    path,
                    format!("OI '{oi}' is {octets} octets; Android takes at most 5, the spec wants 3 or 5"),
                ),
                _ => self.add(
                    Applies::ERROR,
                    path,
                    format!("OI '{oi}' is {octets} octets; must be 3..15 (3 or 5 per spec)"),
                ),
            }
        }
    }

    fn update(&mut self, path: &str, u: &UpdateParameter) {
        let a = Applies::STRICT_ERROR;
        let Some(interval) = u.update_interval else {
            self.add(a, format!("{path}/UpdateInterval"), "missing");
            return;
        };
        if interval > u64::from(u32::MAX) {
            self.add(
                a,
                format!("{path}/UpdateInterval"),
                "larger than 4294967295",
            );
        }
        if interval == u64::from(u32::MAX) {
            return;
        }
        match u.update_method.as_deref() {
            Some("OMA-DM-ClientInitiated" | "SPP-ClientInitiated") => {}
            None => self.add(a, format!("{path}/UpdateMethod"), "missing"),
            Some(o) => self.add(
                a,
                format!("{path}/UpdateMethod"),
                format!("'{o}' is not OMA-DM-ClientInitiated or SPP-ClientInitiated"),
            ),
        }
        match u.restriction.as_deref() {
            Some("HomeSP" | "RoamingPartner" | "Unrestricted") => {}
            None => self.add(a, format!("{path}/Restriction"), "missing"),
            Some(o) => self.add(
                a,
                format!("{path}/Restriction"),
                format!("'{o}' is not HomeSP, RoamingPartner or Unrestricted"),
            ),
        }
        self.required(a, &format!("{path}/URI"), &u.uri, 1023);
        match &u.username_password {
            None => self.add(a, format!("{path}/UsernamePassword"), "missing"),
            Some(up) => {
                self.required(
                    a,
                    &format!("{path}/UsernamePassword/Username"),
                    &up.username,
                    63,
                );
                let pp = format!("{path}/UsernamePassword/Password");
                self.required(a, &pp, &up.password, 255);
                if let Some(pw) = &up.password
                    && !pw.is_empty()
                    && base64::engine::general_purpose::STANDARD
                        .decode(pw.as_bytes())
                        .is_err()
                {
                    self.add(a, pp, "not valid base64");
                }
            }
        }
        match &u.trust_root {
            None => self.add(a, format!("{path}/TrustRoot"), "missing"),
            Some(t) => {
                self.required(a, &format!("{path}/TrustRoot/CertURL"), &t.cert_url, 1023);
                self.fingerprint(
                    a,
                    &format!("{path}/TrustRoot/CertSHA256Fingerprint"),
                    &t.cert_sha256_fingerprint,
                );
            }
        }
    }
}

/// ASCII hex digits only (non-empty).
pub fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `yyyy-MM-ddTHH:mm:ssZ` with plausible field ranges.
pub fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 20 {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let shape = b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z';
    let (Some(_y), Some(mo), Some(d), Some(h), Some(mi), Some(se)) = (
        digits(0..4),
        digits(5..7),
        digits(8..10),
        digits(11..13),
        digits(14..16),
        digits(17..19),
    ) else {
        return false;
    };
    shape && (1..=12).contains(&mo) && (1..=31).contains(&d) && h < 24 && mi < 60 && se < 61
}

/// Letters/digits/hyphen labels separated by dots.
pub fn is_ldh_name(s: &str) -> bool {
    s.split('.').all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    })
}

/// IMSI syntax class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImsiKind {
    /// 1..15 digits.
    Full,
    /// 5 or 6 digits then `*`.
    Prefix,
    /// Other `digits*` forms (Android framework accepts, never matches).
    OddPrefix,
    /// Not an IMSI.
    Invalid,
}

/// Classifies an IMSI value.
pub fn imsi_kind(s: &str) -> ImsiKind {
    let (digits, star) = match s.strip_suffix('*') {
        Some(d) => (d, true),
        None => (s, false),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || s.len() > 15 {
        return ImsiKind::Invalid;
    }
    match (star, digits.len()) {
        (false, 1..=15) => ImsiKind::Full,
        (true, 5 | 6) => ImsiKind::Prefix,
        (true, _) => ImsiKind::OddPrefix,
        _ => ImsiKind::Invalid,
    }
}

/// Checks one profile. Returned diagnostics carry paths, not locations.
pub fn validate_profile(p: &Profile) -> Vec<Diagnostic> {
    let mut v = V { out: Vec::new() };
    let h = &p.home_sp;
    let local = p.local.clone().unwrap_or_default();
    // HomeSP
    v.required(
        Applies::STRICT_ERROR_WPA_WARNING,
        "HomeSP/FriendlyName",
        &h.friendly_name,
        255,
    );
    v.required(Applies::ERROR, "HomeSP/FQDN", &h.fqdn, 255);
    if let Some(f) = &h.fqdn {
        v.fqdn_lint("HomeSP/FQDN", f);
    }
    v.max_len(Applies::STRICT_ERROR, "HomeSP/IconURL", &h.icon_url, 2048);
    if h.network_id.len() > 16 {
        v.add(
            Applies::STRICT_ERROR,
            "HomeSP/NetworkID",
            "more than 16 entries",
        );
    }
    for (i, n) in h.network_id.iter().enumerate() {
        let path = format!("HomeSP/NetworkID[{i}]");
        v.required(Applies::STRICT_ERROR, &format!("{path}/SSID"), &n.ssid, 32);
        if let Some(hx) = &n.hessid
            && (!is_hex(hx) || hx.len() > 12)
        {
            v.add(
                Applies::STRICT_ERROR,
                format!("{path}/HESSID"),
                format!("'{hx}' is not a 48-bit hex value (12 hex digits, no colons)"),
            );
        }
    }
    if h.roaming_consortium_oi.len() > 36 {
        v.add(
            Applies::ERROR,
            "HomeSP/RoamingConsortiumOI",
            "more than 36 OIs",
        );
    }
    for oi in &h.roaming_consortium_oi {
        v.oi("HomeSP/RoamingConsortiumOI", oi);
    }
    if h.home_oi_list.len() > 36 {
        v.add(Applies::ERROR, "HomeSP/HomeOIList", "more than 36 OIs");
    }
    for (i, o) in h.home_oi_list.iter().enumerate() {
        let path = format!("HomeSP/HomeOIList[{i}]");
        match &o.home_oi {
            None => v.add(Applies::ERROR, format!("{path}/HomeOI"), "missing"),
            Some(x) => v.oi(&format!("{path}/HomeOI"), x),
        }
        if o.home_oi_required.is_none() {
            v.add(
                Applies::ANDROID_ONLY,
                format!("{path}/HomeOIRequired"),
                "missing",
            );
        }
    }
    if h.other_home_partners.len() > 16 {
        v.add(
            Applies::STRICT_ERROR,
            "HomeSP/OtherHomePartners",
            "more than 16 entries",
        );
    }
    for (i, o) in h.other_home_partners.iter().enumerate() {
        let path = format!("HomeSP/OtherHomePartners[{i}]/FQDN");
        v.required(Applies::ERROR, &path, &o.fqdn, 255);
        if let Some(f) = &o.fqdn {
            v.fqdn_lint(&path, f);
        }
    }
    // Credential
    let cr = &p.credential;
    v.required(Applies::ERROR, "Credential/Realm", &cr.realm, 253);
    if let Some(r) = &cr.realm {
        v.fqdn_lint("Credential/Realm", r);
    }
    if cr.creation_date.is_none() {
        v.add(
            SPEC_WARNING,
            "Credential/CreationDate",
            "missing (mandatory per spec)",
        );
    }
    v.date("Credential/CreationDate", &cr.creation_date);
    v.date("Credential/ExpirationDate", &cr.expiration_date);
    let count = usize::from(cr.username_password.is_some())
        + usize::from(cr.digital_certificate.is_some())
        + usize::from(cr.sim.is_some());
    if count == 0 {
        v.add(
            Applies::ERROR,
            "Credential",
            "no credential type (one of UsernamePassword, DigitalCertificate, SIM)",
        );
    } else if count > 1 {
        v.add(
            Applies::ERROR,
            "Credential",
            "contains more than one type of credential",
        );
    }
    let has_ca = local.ca_cert_path.is_some() || local.ca_certificate.is_some();
    if let Some(u) = &cr.username_password {
        let b = "Credential/UsernamePassword";
        v.required(
            Applies::STRICT_ERROR_WPA_WARNING,
            &format!("{b}/Username"),
            &u.username,
            63,
        );
        v.required(Applies::ERROR, &format!("{b}/Password"), &u.password, 255);
        if let Some(pw) = &u.password {
            let enc = base64::engine::general_purpose::STANDARD.encode(pw.as_bytes());
            if enc.len() > 255 && pw.len() <= 255 {
                v.add(
                    Applies::STRICT_ERROR,
                    format!("{b}/Password"),
                    "base64 form longer than 255 bytes",
                );
            }
        }
        v.max_len(
            Applies::STRICT_ERROR,
            &format!("{b}/SoftTokenApp"),
            &u.soft_token_app,
            255,
        );
        match &u.eap_method {
            None => v.add(
                Applies::STRICT_ERROR_WPA_WARNING,
                format!("{b}/EAPMethod"),
                "missing (wpa_supplicant output defaults to TTLS)",
            ),
            Some(m) => {
                let ep = format!("{b}/EAPMethod/EAPType");
                match m.eap_type {
                    None => v.add(Applies::STRICT_ERROR_WPA_WARNING, ep.clone(), "missing"),
                    Some(21) => {}
                    Some(t @ (13 | 25 | 52)) => v.add(
                        Applies::ANDROID_ERROR,
                        ep.clone(),
                        format!("EAP type {t}: Android accepts only 21 (TTLS) for user credentials"),
                    ),
                    Some(t) => v.add(
                        Applies::ERROR,
                        ep.clone(),
                        format!("EAP type {t} is not usable with a username/password (21 TTLS; hostap also 13, 25, 52)"),
                    ),
                }
                let ip = format!("{b}/EAPMethod/InnerMethod");
                if m.eap_type == Some(21) {
                    match m.inner_method.as_deref() {
                        None => v.add(
                            Applies::STRICT_ERROR_WPA_WARNING,
                            ip,
                            "missing (required with TTLS)",
                        ),
                        Some("PAP" | "MS-CHAP" | "MS-CHAP-V2") => {}
                        Some("CHAP") => v.add(
                            Applies::ANDROID_ERROR,
                            ip,
                            "CHAP is accepted by hostap but not by Android",
                        ),
                        Some(o) => v.add(
                            Applies::ERROR,
                            ip,
                            format!("'{o}' is not PAP, CHAP, MS-CHAP or MS-CHAP-V2"),
                        ),
                    }
                }
            }
        }
        if !has_ca {
            v.add(
                Applies::WPA_WARNING,
                "Local/CACertPath",
                "no CA certificate: the AAA server certificate is not verified (evil twin risk)",
            );
        }
    }
    if let Some(d) = &cr.digital_certificate {
        let b = "Credential/DigitalCertificate";
        match d.certificate_type.as_deref() {
            Some("x509v3") => {}
            None => v.add(
                Applies::STRICT_ERROR,
                format!("{b}/CertificateType"),
                "missing",
            ),
            Some(o) => v.add(
                Applies::STRICT_ERROR,
                format!("{b}/CertificateType"),
                format!("'{o}' is not x509v3"),
            ),
        }
        v.fingerprint(
            Applies::STRICT_ERROR,
            &format!("{b}/CertSHA256Fingerprint"),
            &d.cert_sha256_fingerprint,
        );
        if local.client_cert_path.is_none() || local.private_key_path.is_none() {
            v.add(
                Applies::WPA_ONLY,
                "Local/ClientCertPath",
                "wpa_supplicant needs ClientCertPath and PrivateKeyPath for a certificate credential",
            );
        }
        if local.pkcs12.is_none() {
            v.add(
                ANDROID_WARNING,
                "Local/PKCS12",
                "no PKCS#12 client key: an x-wifi-config install needs one",
            );
        }
        if !has_ca {
            v.add(
                Applies::WPA_WARNING,
                "Local/CACertPath",
                "no CA certificate: the AAA server certificate is not verified (evil twin risk)",
            );
        }
    }
    if let Some(s) = &cr.sim {
        let b = "Credential/SIM";
        let access = local.sim_access.as_deref();
        match s.imsi.as_deref() {
            None if access == Some("pcsc") => v.add(
                Applies::STRICT_ERROR,
                format!("{b}/IMSI"),
                "missing (wpa_supplicant reads it from the card with pcsc)",
            ),
            None => v.add(Applies::ERROR, format!("{b}/IMSI"), "missing"),
            Some("") => v.add(Applies::ERROR, format!("{b}/IMSI"), "empty value"),
            Some(i) => match imsi_kind(i) {
                ImsiKind::Full => {
                    if access.is_none() && local.milenage.is_none() {
                        v.add(
                            Applies::WPA_WARNING,
                            format!("{b}/IMSI"),
                            "a wpa_supplicant cred with imsi needs milenage or external_sim (set Local/SimAccess)",
                        );
                    }
                }
                ImsiKind::Prefix => v.add(
                    Applies::WPA_WARNING,
                    format!("{b}/IMSI"),
                    "an IMSI prefix has no wpa_supplicant equivalent: pcsc=1 is written",
                ),
                ImsiKind::OddPrefix => v.add(
                    PREFIX_IMSI,
                    format!("{b}/IMSI"),
                    format!("prefix '{i}' is not 5 or 6 digits (MCC+MNC): Android accepts it but never matches"),
                ),
                ImsiKind::Invalid => v.add(
                    Applies::ERROR,
                    format!("{b}/IMSI"),
                    format!("'{i}' is not up to 15 digits with an optional trailing '*'"),
                ),
            },
        }
        match s.eap_type {
            None => v.add(
                Applies::STRICT_ERROR_WPA_WARNING,
                format!("{b}/EAPType"),
                "missing",
            ),
            Some(18 | 23 | 50) => {}
            Some(t) => v.add(
                Applies::ERROR,
                format!("{b}/EAPType"),
                format!("{t} is not 18 (SIM), 23 (AKA) or 50 (AKA')"),
            ),
        }
    }
    if let Some(prio) = p.credential_priority
        && prio > 255
    {
        v.add(
            Applies::WPA_ONLY,
            "CredentialPriority",
            "wpa_supplicant sp_priority is 0..255",
        );
    }
    if p.update_identifier.is_none() {
        v.add(
            SPEC_WARNING,
            "UpdateIdentifier",
            "missing (required for Passpoint R2)",
        );
    }
    if p.subscription_update.is_none() {
        v.add(
            SPEC_WARNING,
            "SubscriptionUpdate",
            "missing (required for Passpoint R2)",
        );
    }
    if let Some(u) = &p.subscription_update {
        v.update("SubscriptionUpdate", u);
    }
    // Policy
    if let Some(pol) = &p.policy {
        match &pol.policy_update {
            None => v.add(
                Applies::STRICT_ERROR,
                "Policy/PolicyUpdate",
                "missing (required when Policy is present)",
            ),
            Some(u) => v.update("Policy/PolicyUpdate", u),
        }
        if pol.preferred_roaming_partner_list.len() > 16 {
            v.add(
                Applies::STRICT_ERROR,
                "Policy/PreferredRoamingPartnerList",
                "more than 16 entries",
            );
        }
        for (i, r) in pol.preferred_roaming_partner_list.iter().enumerate() {
            let path = format!("Policy/PreferredRoamingPartnerList[{i}]");
            match (&r.fqdn_match, r.parsed_fqdn_match()) {
                (None, _) => v.add(Applies::ERROR, format!("{path}/FQDN_Match"), "missing"),
                (Some(m), None) => v.add(
                    Applies::ERROR,
                    format!("{path}/FQDN_Match"),
                    format!("'{m}' is not '<fqdn>,exactMatch' or '<fqdn>,includeSubdomains'"),
                ),
                (Some(_), Some((f, _))) => {
                    if f.is_empty() || f.len() > 255 {
                        v.add(
                            Applies::ERROR,
                            format!("{path}/FQDN_Match"),
                            "FQDN empty or longer than 255",
                        );
                    } else if f.len() > 127 {
                        v.add(
                            Applies::WPA_ONLY,
                            format!("{path}/FQDN_Match"),
                            "wpa_supplicant takes FQDNs up to 127 characters",
                        );
                    }
                }
            }
            match r.country.as_deref() {
                None => v.add(Applies::STRICT_ERROR, format!("{path}/Country"), "missing"),
                Some(c) if c != "*" && c.len() > 2 => v.add(
                    Applies::WPA_WARNING,
                    format!("{path}/Country"),
                    "wpa_supplicant takes one 2-letter country or '*'; '*' is written",
                ),
                _ => {}
            }
            match r.priority {
                None => v.add(SPEC_WARNING, format!("{path}/Priority"), "missing"),
                Some(x) if x > 255 => v.add(
                    Applies::WPA_ONLY,
                    format!("{path}/Priority"),
                    "wpa_supplicant priority is 0..255",
                ),
                _ => {}
            }
        }
        for (i, m) in pol.min_backhaul_threshold.iter().enumerate() {
            let path = format!("Policy/MinBackhaulThreshold[{i}]/NetworkType");
            match m.network_type.as_deref() {
                None => v.add(Applies::ERROR, path, "missing"),
                Some("home" | "roaming") => {}
                Some(t) if t.eq_ignore_ascii_case("home") || t.eq_ignore_ascii_case("roaming") => v
                    .add(
                        Applies::ANDROID_ONLY,
                        path,
                        format!("'{t}': Android matches home/roaming case-sensitively"),
                    ),
                Some(t) => v.add(
                    Applies::ERROR,
                    path,
                    format!("'{t}' is not home or roaming"),
                ),
            }
        }
        if pol.sp_exclusion_list.len() > 128 {
            v.add(
                Applies::ERROR,
                "Policy/SPExclusionList",
                "more than 128 entries",
            );
        }
        for (i, s) in pol.sp_exclusion_list.iter().enumerate() {
            v.required(
                Applies::ERROR,
                &format!("Policy/SPExclusionList[{i}]/SSID"),
                &s.ssid,
                32,
            );
        }
        for (i, t) in pol.required_proto_port_tuple.iter().enumerate() {
            let path = format!("Policy/RequiredProtoPortTuple[{i}]");
            match t.ip_protocol {
                None => v.add(Applies::ERROR, format!("{path}/IPProtocol"), "missing"),
                Some(x) if x > 255 => v.add(
                    Applies::ERROR,
                    format!("{path}/IPProtocol"),
                    "must be 0..255",
                ),
                _ => {}
            }
            match &t.port_number {
                None => v.add(
                    Applies::STRICT_ERROR,
                    format!("{path}/PortNumber"),
                    "missing",
                ),
                Some(ports) => {
                    if ports.len() > 64 {
                        v.add(
                            Applies::ERROR,
                            format!("{path}/PortNumber"),
                            "longer than 64 bytes",
                        );
                    }
                    if !ports.is_empty()
                        && !ports.split(',').all(|x| x.trim().parse::<u16>().is_ok())
                    {
                        v.add(
                            Applies::ERROR,
                            format!("{path}/PortNumber"),
                            format!("'{ports}' is not a comma list of ports"),
                        );
                    }
                }
            }
        }
        if let Some(m) = pol.maximum_bss_load_value
            && !(1..=255).contains(&m)
        {
            v.add(
                Applies::WPA_ERROR,
                "Policy/MaximumBSSLoadValue",
                "must be 1..255",
            );
        }
    }
    // Trust roots
    if p.aaa_server_trust_root.len() > 16 {
        v.add(
            Applies::STRICT_ERROR,
            "AAAServerTrustRoot",
            "more than 16 entries",
        );
    }
    for (i, t) in p.aaa_server_trust_root.iter().enumerate() {
        let path = format!("AAAServerTrustRoot[{i}]");
        v.required(
            Applies::STRICT_ERROR,
            &format!("{path}/CertURL"),
            &t.cert_url,
            2048,
        );
        v.fingerprint(
            Applies::STRICT_ERROR,
            &format!("{path}/CertSHA256Fingerprint"),
            &t.cert_sha256_fingerprint,
        );
    }
    if let Some(s) = &p.subscription_parameters {
        v.date("SubscriptionParameters/CreationDate", &s.creation_date);
        v.date("SubscriptionParameters/ExpirationDate", &s.expiration_date);
        if let Some(u) = &s.usage_limits {
            v.date(
                "SubscriptionParameters/UsageLimits/StartDate",
                &u.start_date,
            );
        }
    }
    // Extension
    for e in &p.extension {
        validate_extension(&mut v, e);
    }
    // Local
    if let Some(a) = &local.sim_access
        && !matches!(a.as_str(), "pcsc" | "external" | "milenage")
    {
        v.add(
            Applies::ERROR,
            "Local/SimAccess",
            format!("'{a}' is not pcsc, external or milenage"),
        );
    }
    if let Some(m) = local.mnc_length
        && m != 2
        && m != 3
    {
        v.add(Applies::ERROR, "Local/MncLength", "must be 2 or 3");
    }
    if let Some(m) = &local.milenage {
        let parts: Vec<&str> = m.split(':').collect();
        let ok = parts.len() == 3
            && parts[0].len() == 32
            && parts[1].len() == 32
            && parts[2].len() == 12
            && parts.iter().all(|x| is_hex(x));
        if !ok {
            v.add(
                Applies::WPA_ERROR,
                "Local/Milenage",
                "must be <Ki 32 hex>:<OPc 32 hex>:<SQN 12 hex>",
            );
        }
    }
    v.out
}

fn validate_extension(v: &mut V, e: &MoNode) {
    let a = Applies::STRICT_ERROR;
    let find = |n: &MoNode, name: &str| n.children.iter().find(|c| c.name == name).cloned();
    if e.name == "Android"
        && let Some(names) = find(e, "AAAServerTrustedNames")
        && let Some(fqdn) = find(&names, "FQDN")
    {
        let list: Vec<&str> = fqdn.value.as_deref().unwrap_or("").split(';').collect();
        if list.len() > 16 || list.iter().any(|x| x.len() > 255) {
            v.add(
                a,
                "Extension/Android/AAAServerTrustedNames/FQDN",
                "at most 16 names of at most 255 bytes",
            );
        }
    }
    if e.name == "WBA"
        && let Some(nai) = find(e, "NAI")
        && let Some(dp) = find(&nai, "DecoratedPrefix")
    {
        let val = dp.value.unwrap_or_default();
        let path = "Extension/WBA/NAI/DecoratedPrefix";
        if val.is_empty() || !val.ends_with('!') {
            v.add(a, path, "must be non-empty and end with '!'");
        } else if val.split('!').filter(|x| !x.is_empty()).count() > 16
            || val.split('!').any(|x| x.len() > 255)
        {
            v.add(a, path, "at most 16 labels of at most 255 bytes");
        }
    }
}

/// A diagnostic with its severity resolved for a target.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Severity under the requested target.
    pub severity: Severity,
    /// The diagnostic (with location filled in when known).
    #[serde(flatten)]
    pub diagnostic: Diagnostic,
}

/// Reader findings plus model validation of every profile, located and
/// resolved for `target` (rules that do not apply to the target are left out).
pub fn validate_document(doc: &Document, target: Target) -> Vec<Finding> {
    let mut all: Vec<Diagnostic> = doc.diagnostics.clone();
    if doc.profiles.len() > 1
        && !matches!(
            doc.format,
            Some(Format::PpsMo | Format::PpsMoDdf | Format::XWifiConfig)
        )
    {
        all.push(Diagnostic::new(
            Applies::ANDROID_ONLY,
            "",
            "several profiles in one file: Android installs one PPS instance per file",
        ));
    }
    // A value the reader already rejected (e.g. bad base64) is not reported a
    // second time as missing.
    let reported: Vec<(usize, String)> = doc
        .diagnostics
        .iter()
        .filter(|d| !d.path.is_empty() && d.applies == Applies::ERROR)
        .map(|d| (d.profile, d.path.clone()))
        .collect();
    for (i, p) in doc.profiles.iter().enumerate() {
        let map = doc.source_map(i);
        for mut d in validate_profile(p) {
            if reported.iter().any(|(pi, pp)| *pi == i && *pp == d.path) {
                continue;
            }
            d.profile = i;
            d.location = map.lookup(&d.path);
            all.push(d);
        }
    }
    for d in &mut all {
        if d.location.is_none() && !d.path.is_empty() {
            d.location = doc.source_map(d.profile).lookup(&d.path);
        }
    }
    all.into_iter()
        .filter_map(|d| {
            d.severity(target).map(|severity| Finding {
                severity,
                diagnostic: d,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imsi_classes() {
        assert_eq!(imsi_kind("310026000000001"), ImsiKind::Full);
        assert_eq!(imsi_kind("310026*"), ImsiKind::Prefix);
        assert_eq!(imsi_kind("24491*"), ImsiKind::Prefix);
        assert_eq!(imsi_kind("1234*"), ImsiKind::OddPrefix);
        assert_eq!(imsi_kind("3100261*"), ImsiKind::OddPrefix);
        assert_eq!(imsi_kind("*"), ImsiKind::OddPrefix);
        assert_eq!(imsi_kind("31002a"), ImsiKind::Invalid);
        assert_eq!(imsi_kind("3100260000000012"), ImsiKind::Invalid);
    }

    #[test]
    fn dates() {
        assert!(is_date("2026-01-31T23:59:59Z"));
        assert!(!is_date("2026-13-01T00:00:00Z"));
        assert!(!is_date("2026-01-01 00:00:00Z"));
        assert!(!is_date("2026-01-01T00:00:00"));
    }

    #[test]
    fn oi_rules() {
        let mut p = Profile::default();
        p.home_sp.roaming_consortium_oi = vec![
            "112233".into(),
            "11223344".into(),
            "1122".into(),
            "ABC".into(),
        ];
        let d = validate_profile(&p);
        let oi: Vec<_> = d
            .iter()
            .filter(|d| d.path == "HomeSP/RoamingConsortiumOI")
            .collect();
        assert_eq!(oi.len(), 3);
        assert_eq!(oi[0].applies, Applies::WARNING);
        assert_eq!(oi[1].applies, Applies::ERROR);
        assert_eq!(oi[2].applies, Applies::ERROR);
    }

    #[test]
    fn one_credential_type() {
        let mut p = Profile::default();
        p.credential.sim = Some(Sim {
            imsi: Some("310026*".into()),
            eap_type: Some(23),
        });
        p.credential.username_password = Some(UsernamePassword::default());
        let d = validate_profile(&p);
        assert!(
            d.iter()
                .any(|d| d.message == "contains more than one type of credential")
        );
    }
}
