//! wpa_supplicant configuration reader: `cred={…}` blocks and the
//! interworking globals. One profile per cred block.

use super::{Document, ReadError, WpaGlobals};
use crate::diag::{Applies, Diagnostic, Location, SourceMap};
use crate::model::*;
use crate::write::wpa_supplicant::NAME_COMMENT;

/// Most cred blocks accepted in one file.
pub const MAX_CREDS: usize = 256;

/// Decodes a wpa_supplicant string value: `"…"`, `P"…"` or unquoted hex.
pub fn parse_string(v: &str) -> Result<String, String> {
    if let Some(rest) = v.strip_prefix('"') {
        return match rest.rfind('"') {
            Some(i) => Ok(rest[..i].to_string()),
            None => Err("unterminated quoted string".into()),
        };
    }
    if let Some(rest) = v.strip_prefix("P\"") {
        let Some(i) = rest.rfind('"') else {
            return Err("unterminated P\"\" string".into());
        };
        let mut out = Vec::new();
        let mut it = rest[..i].bytes();
        while let Some(b) = it.next() {
            if b != b'\\' {
                out.push(b);
                continue;
            }
            match it.next() {
                Some(b'n') => out.push(b'\n'),
                Some(b'r') => out.push(b'\r'),
                Some(b't') => out.push(b'\t'),
                Some(b'e') => out.push(0x1b),
                Some(b'x') => {
                    let h: Vec<u8> = it.by_ref().take(2).collect();
                    let s = std::str::from_utf8(&h).map_err(|_| "bad \\x escape")?;
                    out.push(u8::from_str_radix(s, 16).map_err(|_| "bad \\x escape")?);
                }
                Some(c) => out.push(c),
                None => return Err("trailing backslash".into()),
            }
        }
        return String::from_utf8(out).map_err(|_| "P\"\" string is not UTF-8".into());
    }
    // Unquoted hex.
    if !v.len().is_multiple_of(2) || !v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("'{v}' is neither a quoted string nor hex"));
    }
    let bytes: Result<Vec<u8>, _> = (0..v.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&v[i..i + 2], 16))
        .collect();
    let bytes = bytes.map_err(|_| "bad hex".to_string())?;
    String::from_utf8(bytes).map_err(|_| "hex value is not UTF-8".into())
}

struct Field {
    key: String,
    value: String,
    line: u32,
    column: u32,
}

struct Block {
    fields: Vec<Field>,
    name: Option<String>,
    line: u32,
}

/// Reads a wpa_supplicant configuration file.
pub fn read(text: &str) -> Result<Document, ReadError> {
    let mut globals = WpaGlobals::default();
    let mut external_sim = false;
    let mut blocks: Vec<Block> = Vec::new();
    let mut diags = Vec::new();
    let mut current: Option<Block> = None;
    let mut in_other = false;
    let mut last_name: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let line = raw.trim();
        let column = u32::try_from(raw.len() - raw.trim_start().len() + 1).unwrap_or(1);
        if let Some(n) = line.strip_prefix(NAME_COMMENT.trim_end()) {
            last_name = Some(n.trim().to_string());
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if in_other {
            if line == "}" {
                in_other = false;
            }
            continue;
        }
        if let Some(b) = current.as_mut() {
            if line == "}" {
                if let Some(b) = current.take() {
                    blocks.push(b);
                }
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) => b.fields.push(Field {
                    key: k.trim().to_string(),
                    value: v.trim().to_string(),
                    line: lineno,
                    column,
                }),
                None => {
                    return Err(ReadError::syntax(
                        format!("invalid line '{line}' in cred block"),
                        Some(Location::Text {
                            line: lineno,
                            column,
                        }),
                    ));
                }
            }
            continue;
        }
        let loc = Some(Location::Text {
            line: lineno,
            column,
        });
        if line == "cred={" {
            if blocks.len() >= MAX_CREDS {
                return Err(ReadError::syntax(
                    format!("more than {MAX_CREDS} cred blocks"),
                    loc,
                ));
            }
            current = Some(Block {
                fields: Vec::new(),
                name: last_name.take(),
                line: lineno,
            });
            continue;
        }
        if line.ends_with("={") {
            in_other = true;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(ReadError::syntax(format!("invalid line '{line}'"), loc));
        };
        let on = v.trim() == "1";
        match k.trim() {
            "interworking" => globals.interworking = Some(on),
            "hs20" => globals.hs20 = Some(on),
            "auto_interworking" => globals.auto_interworking = Some(on),
            "external_sim" => external_sim = on,
            _ => {}
        }
    }
    if let Some(b) = current {
        return Err(ReadError::syntax(
            "cred block not closed with '}'",
            Some(Location::Text {
                line: b.line,
                column: 1,
            }),
        ));
    }
    if blocks.is_empty() {
        return Err(ReadError::syntax("no cred={…} block", None));
    }
    if globals.interworking != Some(true) {
        diags.push(Diagnostic::new(
            Applies::WPA_WARNING,
            "",
            "interworking=1 is not set: wpa_supplicant never uses cred blocks without it",
        ));
    }
    if globals.hs20 != Some(true) {
        diags.push(Diagnostic::new(
            Applies::WPA_WARNING,
            "",
            "hs20=1 is not set: no Hotspot 2.0 ANQP queries",
        ));
    }
    let mut doc = Document {
        wpa_globals: Some(globals),
        ..Default::default()
    };
    for (i, b) in blocks.into_iter().enumerate() {
        let mut c = CredConv {
            diags: Vec::new(),
            map: SourceMap::default(),
            block: i + 1,
            profile: i,
        };
        c.map.insert(
            "",
            Location::WpaCred {
                block: i + 1,
                field: "cred".into(),
                line: b.line,
                column: 1,
            },
        );
        let p = c.convert(&b, external_sim);
        diags.append(&mut c.diags);
        doc.profiles.push(p);
        doc.source_maps.push(c.map);
    }
    doc.diagnostics = diags;
    Ok(doc)
}

struct CredConv {
    diags: Vec<Diagnostic>,
    map: SourceMap,
    block: usize,
    profile: usize,
}

const IGNORED: &[&str] = &[
    "temporary",
    "engine",
    "engine_id",
    "ca_cert_id",
    "cert_id",
    "key_id",
    "phase1",
    "imsi_privacy_cert",
    "imsi_privacy_attr",
    "sim_num",
    "pcsc_reader",
];

impl CredConv {
    fn loc(&self, f: &Field) -> Location {
        Location::WpaCred {
            block: self.block,
            field: f.key.clone(),
            line: f.line,
            column: f.column,
        }
    }
    fn diag(&mut self, applies: Applies, path: &str, f: &Field, msg: impl Into<String>) {
        let mut d = Diagnostic::new(applies, path, msg).at(Some(self.loc(f)));
        d.profile = self.profile;
        self.diags.push(d);
    }
    fn mark(&mut self, path: &str, f: &Field) {
        let l = self.loc(f);
        self.map.insert(path, l);
    }
    fn string(&mut self, f: &Field, path: &str) -> Option<String> {
        self.mark(path, f);
        match parse_string(&f.value) {
            Ok(s) => Some(s),
            Err(e) => {
                self.diag(Applies::ERROR, path, f, e);
                None
            }
        }
    }
    fn int(&mut self, f: &Field, path: &str, max: u32) -> Option<u32> {
        self.mark(path, f);
        match f.value.parse::<u32>() {
            Ok(v) if v <= max => Some(v),
            _ => {
                self.diag(
                    Applies::ERROR,
                    path,
                    f,
                    format!("{}: '{}' is not an integer in 0..={max}", f.key, f.value),
                );
                None
            }
        }
    }
    fn ois(&mut self, f: &Field, path: &str) -> Vec<String> {
        let Some(v) = self.string(f, path) else {
            return Vec::new();
        };
        v.split(',').map(|s| s.trim().to_string()).collect()
    }

    fn convert(&mut self, b: &Block, external_sim: bool) -> Profile {
        let mut p = Profile::default();
        p.home_sp.friendly_name = b.name.clone();
        let mut eap: Option<Eap> = None;
        let mut eap_field: Option<&Field> = None;
        let mut username = None;
        let mut password = None;
        let mut phase2 = None;
        let mut imsi: Option<(String, Option<u8>)> = None;
        let mut local = Local::default();
        let mut domains: Vec<String> = Vec::new();
        let mut policy = Policy::default();
        let mut backhaul: [Option<u64>; 4] = [None; 4];
        for f in &b.fields {
            match f.key.as_str() {
                "realm" => p.credential.realm = self.string(f, "Credential/Realm"),
                "domain" => {
                    let path = if domains.is_empty() {
                        "HomeSP/FQDN".to_string()
                    } else {
                        format!("HomeSP/OtherHomePartners[{}]/FQDN", domains.len() - 1)
                    };
                    if let Some(d) = self.string(f, &path) {
                        domains.push(d);
                    }
                }
                "provisioning_sp" => local.provisioning_sp = self.string(f, "Local/ProvisioningSP"),
                "sp_priority" => p.credential_priority = self.int(f, "CredentialPriority", 255),
                "update_identifier" => {
                    p.update_identifier = self.int(f, "UpdateIdentifier", u32::MAX)
                }
                "priority" => local.priority = self.int(f, "Local/Priority", u32::MAX),
                "roaming_consortiums" => {
                    let v = self.ois(f, "HomeSP/RoamingConsortiumOI");
                    p.home_sp.roaming_consortium_oi.extend(v);
                }
                "roaming_consortium" => {
                    self.mark("HomeSP/RoamingConsortiumOI", f);
                    p.home_sp.roaming_consortium_oi.push(f.value.clone());
                }
                "home_ois" | "required_home_ois" | "required_roaming_consortium" => {
                    let required = f.key != "home_ois";
                    let list = if f.key == "required_roaming_consortium" {
                        vec![f.value.clone()]
                    } else {
                        self.ois(f, "HomeSP/HomeOIList")
                    };
                    for oi in list {
                        let i = p.home_sp.home_oi_list.len();
                        self.mark(&format!("HomeSP/HomeOIList[{i}]"), f);
                        p.home_sp.home_oi_list.push(HomeOi {
                            home_oi: Some(oi),
                            home_oi_required: Some(required),
                        });
                    }
                }
                "eap" => {
                    eap_field = Some(f);
                    match Eap::from_wpa_name(&f.value) {
                        Some(e) => eap = Some(e),
                        None => self.diag(
                            Applies::ERROR,
                            "Credential",
                            f,
                            format!("unsupported eap method '{}'", f.value),
                        ),
                    }
                }
                "username" => username = self.string(f, "Credential/UsernamePassword/Username"),
                "password" => {
                    if f.value.starts_with("ext:") {
                        self.diag(
                            Applies::WARNING,
                            "Credential/UsernamePassword/Password",
                            f,
                            "external password (ext:) cannot be carried; dropped",
                        );
                    } else {
                        password = self.string(f, "Credential/UsernamePassword/Password");
                    }
                }
                "phase2" => phase2 = self.string(f, "Credential/UsernamePassword/EAPMethod"),
                "ca_cert" => local.ca_cert_path = self.string(f, "Local/CACertPath"),
                "client_cert" => local.client_cert_path = self.string(f, "Local/ClientCertPath"),
                "private_key" => local.private_key_path = self.string(f, "Local/PrivateKeyPath"),
                "private_key_passwd" => {
                    local.private_key_password = self.string(f, "Local/PrivateKeyPassword")
                }
                "domain_suffix_match" => {
                    local.domain_suffix_match = self.string(f, "Local/DomainSuffixMatch")
                }
                "imsi" => {
                    if let Some(v) = self.string(f, "Credential/SIM/IMSI") {
                        let mnc = v
                            .find('-')
                            .and_then(|i| u8::try_from(i).ok())
                            .map(|i| i.saturating_sub(3));
                        if !matches!(mnc, Some(2) | Some(3)) {
                            self.diag(
                                Applies::WPA_ERROR,
                                "Credential/SIM/IMSI",
                                f,
                                "imsi must be <MCC><MNC>-<MSIN> with a 5- or 6-digit PLMN part",
                            );
                        }
                        imsi = Some((v.replace('-', ""), mnc.filter(|m| *m == 2 || *m == 3)));
                    }
                }
                "milenage" => {
                    local.milenage = self.string(f, "Local/Milenage");
                    local.sim_access = Some("milenage".into());
                }
                "pcsc" => {
                    if self.int(f, "Local/SimAccess", u32::MAX).unwrap_or(0) != 0 {
                        local.sim_access = Some("pcsc".into());
                    }
                }
                "ocsp" => {
                    if let Some(v) = self.int(f, "Credential/CheckAAAServerCertStatus", 3) {
                        p.credential.check_aaa_server_cert_status = Some(v == 2);
                        if v != 2 && v != 0 {
                            self.diag(
                                Applies::WARNING,
                                "Credential/CheckAAAServerCertStatus",
                                f,
                                format!("ocsp={v} has no PPS MO equivalent; taken as false"),
                            );
                        }
                    }
                }
                "roaming_partner" => {
                    let i = policy.preferred_roaming_partner_list.len();
                    let path = format!("Policy/PreferredRoamingPartnerList[{i}]");
                    if let Some(v) = self.string(f, &path) {
                        let parts: Vec<&str> = v.split(',').collect();
                        let ok = parts.len() == 4
                            && parts[0].len() <= 127
                            && parts[3].len() <= 2
                            && (parts[1] == "0" || parts[1] == "1")
                            && parts[2].parse::<u8>().is_ok();
                        if ok {
                            let kind = if parts[1] == "1" {
                                "exactMatch"
                            } else {
                                "includeSubdomains"
                            };
                            policy.preferred_roaming_partner_list.push(RoamingPartner {
                                fqdn_match: Some(format!("{},{kind}", parts[0])),
                                priority: parts[2].parse().ok(),
                                country: Some(parts[3].to_string()),
                            });
                        } else {
                            self.diag(
                                Applies::ERROR,
                                &path,
                                f,
                                "roaming_partner must be \"<fqdn ≤127>,<0|1>,<priority 0..255>,<*|CC>\"",
                            );
                        }
                    }
                }
                "min_dl_bandwidth_home"
                | "min_ul_bandwidth_home"
                | "min_dl_bandwidth_roaming"
                | "min_ul_bandwidth_roaming" => {
                    let idx = match f.key.as_str() {
                        "min_dl_bandwidth_home" => 0,
                        "min_ul_bandwidth_home" => 1,
                        "min_dl_bandwidth_roaming" => 2,
                        _ => 3,
                    };
                    backhaul[idx] = self
                        .int(f, "Policy/MinBackhaulThreshold", u32::MAX)
                        .map(u64::from);
                }
                "excluded_ssid" => {
                    let i = policy.sp_exclusion_list.len();
                    let path = format!("Policy/SPExclusionList[{i}]/SSID");
                    if let Some(s) = self.string(f, &path) {
                        if s.len() > 32 {
                            self.diag(Applies::ERROR, &path, f, "SSID longer than 32 bytes");
                        }
                        policy.sp_exclusion_list.push(SpExclusion { ssid: Some(s) });
                    }
                }
                "req_conn_capab" => {
                    let i = policy.required_proto_port_tuple.len();
                    let path = format!("Policy/RequiredProtoPortTuple[{i}]");
                    self.mark(&path, f);
                    let (proto, ports) = match f.value.split_once(':') {
                        Some((a, b)) => (a, Some(b.to_string())),
                        None => (f.value.as_str(), None),
                    };
                    match proto.parse::<u8>() {
                        Ok(pr) => policy.required_proto_port_tuple.push(ProtoPortTuple {
                            ip_protocol: Some(u32::from(pr)),
                            port_number: ports,
                        }),
                        Err(_) => self.diag(
                            Applies::ERROR,
                            &path,
                            f,
                            format!("bad req_conn_capab '{}'", f.value),
                        ),
                    }
                }
                "max_bss_load" => {
                    policy.maximum_bss_load_value = self.int(f, "Policy/MaximumBSSLoadValue", 255)
                }
                k if IGNORED.contains(&k) => self.diag(
                    Applies::WARNING,
                    "",
                    f,
                    format!("wpa_supplicant field '{k}' has no profile equivalent; dropped"),
                ),
                k => self.diag(
                    Applies::ERROR,
                    "",
                    f,
                    format!("unknown cred field '{k}' (wpa_supplicant refuses to load the file)"),
                ),
            }
        }
        let mut it = domains.into_iter();
        p.home_sp.fqdn = it.next();
        p.home_sp.other_home_partners = it.map(|d| OtherHomePartner { fqdn: Some(d) }).collect();
        if local.provisioning_sp.is_some() && local.provisioning_sp == p.home_sp.fqdn {
            local.provisioning_sp = None;
        }
        if local.domain_suffix_match.is_some() && local.domain_suffix_match == p.home_sp.fqdn {
            local.domain_suffix_match = None;
        }
        for (t, idx) in [("home", 0), ("roaming", 2)] {
            if backhaul[idx].is_some() || backhaul[idx + 1].is_some() {
                policy.min_backhaul_threshold.push(MinBackhaulThreshold {
                    network_type: Some(t.into()),
                    dl_bandwidth: backhaul[idx],
                    ul_bandwidth: backhaul[idx + 1],
                });
            }
        }
        if policy != Policy::default() {
            p.policy = Some(policy);
        }
        // Credential type.
        let is_sim = matches!(eap, Some(Eap::Sim | Eap::Aka | Eap::AkaPrime))
            || (eap.is_none() && (imsi.is_some() || local.sim_access.is_some()));
        if is_sim {
            if let Some((_, Some(m))) = &imsi {
                local.mnc_length = Some(*m);
            }
            if imsi.is_some() && local.sim_access.is_none() && external_sim {
                local.sim_access = Some("external".into());
            }
            p.credential.sim = Some(Sim {
                imsi: imsi.map(|x| x.0),
                eap_type: eap.map(|e| u32::from(e.type_number())),
            });
            if username.is_some() || password.is_some() {
                self.map_warn(
                    b,
                    "username",
                    "username/password ignored for a SIM credential",
                );
            }
        } else if eap == Some(Eap::Tls) || (eap.is_none() && local.private_key_path.is_some()) {
            p.credential.digital_certificate = Some(DigitalCertificate {
                certificate_type: Some("x509v3".into()),
                cert_sha256_fingerprint: None,
            });
            if let Some(u) = username
                && u != "cert"
            {
                self.map_warn(b, "username", "username of a TLS credential is not carried");
            }
        } else if username.is_some() || password.is_some() || eap.is_some() {
            let inner = phase2.as_deref().and_then(|p2| {
                let m = p2.split_whitespace().find_map(|t| {
                    t.strip_prefix("auth=")
                        .or_else(|| t.strip_prefix("autheap="))
                })?;
                Some(
                    match m {
                        "PAP" => "PAP",
                        "CHAP" => "CHAP",
                        "MSCHAP" => "MS-CHAP",
                        "MSCHAPV2" => "MS-CHAP-V2",
                        other => other,
                    }
                    .to_string(),
                )
            });
            p.credential.username_password = Some(UsernamePassword {
                username,
                password,
                eap_method: Some(EapMethod {
                    eap_type: eap.map(|e| u32::from(e.type_number())),
                    inner_method: inner,
                    ..Default::default()
                }),
                ..Default::default()
            });
            if eap.is_none()
                && let Some(f) = eap_field
            {
                self.mark("Credential/UsernamePassword/EAPMethod/EAPType", f);
            }
        }
        if local != Local::default() {
            p.local = Some(local);
        }
        p
    }

    fn map_warn(&mut self, b: &Block, key: &str, msg: &str) {
        if let Some(f) = b.fields.iter().find(|f| f.key == key) {
            self.diag(Applies::WARNING, "", f, msg);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings() {
        assert_eq!(parse_string("\"a\"b\"").as_deref(), Ok("a\"b"));
        assert_eq!(parse_string("P\"a\\nb\\x41\"").as_deref(), Ok("a\nbA"));
        assert_eq!(parse_string("414243").as_deref(), Ok("ABC"));
        assert!(parse_string("41424").is_err());
        assert!(parse_string("\"abc").is_err());
        assert!(parse_string("P\"\\x4").is_err());
    }

    #[test]
    fn reads_two_creds() {
        let text = "interworking=1\nhs20=1\n# Passpoint profile: Example\ncred={\n\trealm=\"example.com\"\n\tdomain=\"example.com\"\n\tusername=\"alice\"\n\tpassword=\"pw\"\n\teap=TTLS\n\tphase2=\"auth=MSCHAPV2\"\n}\ncred={\n\trealm=\"wlan.mnc091.mcc244.3gppnetwork.org\"\n\timsi=\"24491-0000000001\"\n\tmilenage=\"00:00:0\"\n\teap=AKA\n\tfoo=1\n}\n";
        let doc = read(text).expect("read");
        assert_eq!(doc.profiles.len(), 2);
        assert_eq!(doc.profiles[0].friendly_name(), Some("Example"));
        let up = doc.profiles[0]
            .credential
            .username_password
            .as_ref()
            .expect("up");
        assert_eq!(
            up.eap_method
                .as_ref()
                .and_then(|m| m.inner_method.as_deref()),
            Some("MS-CHAP-V2")
        );
        assert_eq!(doc.profiles[1].imsi(), Some("244910000000001"));
        assert_eq!(doc.profiles[1].eap_method(), Some(Eap::Aka));
        let bad = doc
            .diagnostics
            .iter()
            .find(|d| d.message.contains("unknown cred field 'foo'"))
            .expect("unknown field");
        assert_eq!(
            bad.location.as_ref().map(|l| l.with_file("w.conf")),
            Some("w.conf:17:2: cred block 2, field foo".to_string())
        );
    }
}
