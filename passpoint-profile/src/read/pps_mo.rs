//! PPS MO readers: OMA-DM TNDS XML and the element-per-node (DDF-native) form.

use super::{Document, MAX_DEPTH, MAX_XML_NODES, ReadError};
use crate::diag::{Applies, Diagnostic, Location, SourceMap};
use crate::model::*;
use base64::Engine;
use std::str::FromStr;

/// The DDF name of the PerProviderSubscription MO.
pub const PPS_URN: &str = "urn:wfa:mo:hotspot2dot0-perprovidersubscription:1.0";

/// A node of a parsed MO tree with its location.
#[derive(Debug, Clone)]
pub struct RawNode {
    /// NodeName.
    pub name: String,
    /// Value, trimmed (leaf nodes).
    pub value: Option<String>,
    /// Child nodes (interior nodes).
    pub children: Vec<RawNode>,
    /// Where the node starts.
    pub loc: Location,
}

fn parse_xml(text: &str) -> Result<roxmltree::Document<'_>, ReadError> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_XML_NODES,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(text, opts).map_err(|e| {
        let p = e.pos();
        ReadError::syntax(
            format!("XML: {e}"),
            Some(Location::Text {
                line: p.row,
                column: p.col,
            }),
        )
    })
}

fn loc_of(xml: &roxmltree::Document<'_>, n: roxmltree::Node<'_, '_>) -> Location {
    let p = xml.text_pos_at(n.range().start);
    Location::Text {
        line: p.row,
        column: p.col,
    }
}

fn text_of(n: roxmltree::Node<'_, '_>) -> String {
    let mut s = String::new();
    for c in n.children() {
        if c.is_text()
            && let Some(t) = c.text()
        {
            s.push_str(t);
        }
    }
    s.trim().to_string()
}

fn file_diag(applies: Applies, msg: impl Into<String>, loc: Location) -> Diagnostic {
    Diagnostic::new(applies, "", msg).at(Some(loc))
}

/// Reads PPS MO in OMA-DM TNDS form.
pub fn read_tnds(text: &str) -> Result<Document, ReadError> {
    let xml = parse_xml(text)?;
    let root = xml.root_element();
    let mut diags = Vec::new();
    if root.tag_name().name() != "MgmtTree" {
        return Err(ReadError::syntax(
            format!(
                "root element must be MgmtTree, found {}",
                root.tag_name().name()
            ),
            Some(loc_of(&xml, root)),
        ));
    }
    let mut top = Vec::new();
    let mut verdtd = 0;
    for c in root.children().filter(|c| c.is_element()) {
        match c.tag_name().name() {
            "VerDTD" => {
                verdtd += 1;
                if verdtd > 1 {
                    diags.push(file_diag(
                        Applies::STRICT_ERROR_WPA_WARNING,
                        "more than one VerDTD",
                        loc_of(&xml, c),
                    ));
                }
            }
            "Node" => top.push(c),
            other => diags.push(file_diag(
                Applies::STRICT_ERROR_WPA_WARNING,
                format!("unknown tag <{other}> under MgmtTree"),
                loc_of(&xml, c),
            )),
        }
    }
    let Some(first) = top.first() else {
        return Err(ReadError::syntax(
            "MgmtTree has no Node",
            Some(loc_of(&xml, root)),
        ));
    };
    if top.len() > 1 {
        diags.push(file_diag(
            Applies::STRICT_ERROR_WPA_WARNING,
            "MgmtTree must contain exactly one top Node",
            loc_of(&xml, top[1]),
        ));
    }
    let mut urn = None;
    let pps = build_tnds(&xml, *first, 0, &mut diags, &mut urn)?
        .ok_or_else(|| ReadError::syntax("top Node has no NodeName", Some(loc_of(&xml, *first))))?;
    match urn {
        Some(u) if u == PPS_URN => {}
        Some(u) => diags.push(file_diag(
            Applies::STRICT_ERROR_WPA_WARNING,
            format!("unknown DDFName URN '{u}' (expected {PPS_URN})"),
            pps.loc.clone(),
        )),
        None => diags.push(file_diag(
            Applies::STRICT_ERROR_WPA_WARNING,
            format!("missing RTProperties/Type/DDFName {PPS_URN}"),
            pps.loc.clone(),
        )),
    }
    tree_to_document(pps, diags)
}

fn build_tnds(
    xml: &roxmltree::Document<'_>,
    node: roxmltree::Node<'_, '_>,
    depth: usize,
    diags: &mut Vec<Diagnostic>,
    urn: &mut Option<String>,
) -> Result<Option<RawNode>, ReadError> {
    let loc = loc_of(xml, node);
    if depth > MAX_DEPTH {
        return Err(ReadError::syntax(
            format!("MO tree deeper than {MAX_DEPTH} levels"),
            Some(loc),
        ));
    }
    let mut names = Vec::new();
    let mut values = Vec::new();
    let mut children: Vec<RawNode> = Vec::new();
    for c in node.children().filter(|c| c.is_element()) {
        match c.tag_name().name() {
            "NodeName" => names.push(text_of(c)),
            "Value" => values.push(text_of(c)),
            "Node" => {
                if let Some(child) = build_tnds(xml, c, depth + 1, diags, urn)? {
                    if children.iter().any(|s| s.name == child.name) {
                        diags.push(file_diag(
                            Applies::ERROR,
                            format!("duplicate node {}", child.name),
                            child.loc.clone(),
                        ));
                    } else {
                        children.push(child);
                    }
                }
            }
            "RTProperties" => {
                let ddf = c
                    .children()
                    .filter(|t| t.is_element())
                    .flat_map(|t| {
                        let ok = t.tag_name().name() == "Type";
                        t.children()
                            .filter(move |d| ok && d.is_element())
                            .filter(|d| d.tag_name().name() == "DDFName")
                    })
                    .map(text_of)
                    .next();
                match ddf {
                    Some(u) if depth == 0 => *urn = Some(u),
                    Some(_) => {}
                    None => diags.push(file_diag(
                        Applies::STRICT_ERROR_WPA_WARNING,
                        "RTProperties without Type/DDFName",
                        loc_of(xml, c),
                    )),
                }
            }
            "Path" => diags.push(file_diag(
                Applies::ANDROID_ERROR,
                "TNDS <Path> is not accepted by Android (hostap honours it; ignored here)",
                loc_of(xml, c),
            )),
            other => diags.push(file_diag(
                Applies::STRICT_ERROR_WPA_WARNING,
                format!("unknown tag <{other}>"),
                loc_of(xml, c),
            )),
        }
    }
    if names.len() != 1 {
        diags.push(file_diag(
            Applies::ERROR,
            format!("Node must have exactly one NodeName, has {}", names.len()),
            loc.clone(),
        ));
        if names.is_empty() {
            return Ok(None);
        }
    }
    let name = names.swap_remove(0);
    if values.len() > 1 {
        diags.push(file_diag(
            Applies::ERROR,
            format!("{name}: more than one Value"),
            loc.clone(),
        ));
    }
    let value = values.into_iter().next();
    if value.is_some() && !children.is_empty() {
        diags.push(file_diag(
            Applies::ERROR,
            format!("{name}: node has both a Value and child Nodes"),
            loc.clone(),
        ));
    }
    if value.is_none() && children.is_empty() {
        diags.push(file_diag(
            Applies::ERROR,
            format!("{name}: node has neither a Value nor child Nodes"),
            loc.clone(),
        ));
    }
    Ok(Some(RawNode {
        name,
        value: if children.is_empty() { value } else { None },
        children,
        loc,
    }))
}

/// Reads PPS MO in the element-per-node form (`<PerProviderSubscription><i001><HomeSP>…`).
pub fn read_ddf(text: &str) -> Result<Document, ReadError> {
    let xml = parse_xml(text)?;
    let root = xml.root_element();
    let mut diags = Vec::new();
    let pps = build_ddf(&xml, root, 0, &mut diags)?;
    if pps.name != "PerProviderSubscription" {
        if pps.name.eq_ignore_ascii_case("PerProviderSubscription") {
            diags.push(file_diag(
                Applies::ANDROID_ERROR,
                "root name case differs from PerProviderSubscription",
                pps.loc.clone(),
            ));
        } else {
            return Err(ReadError::syntax(
                format!(
                    "root element must be PerProviderSubscription, found {}",
                    pps.name
                ),
                Some(pps.loc),
            ));
        }
    }
    tree_to_document(pps, diags)
}

fn build_ddf(
    xml: &roxmltree::Document<'_>,
    node: roxmltree::Node<'_, '_>,
    depth: usize,
    diags: &mut Vec<Diagnostic>,
) -> Result<RawNode, ReadError> {
    let loc = loc_of(xml, node);
    if depth > MAX_DEPTH {
        return Err(ReadError::syntax(
            format!("MO tree deeper than {MAX_DEPTH} levels"),
            Some(loc),
        ));
    }
    let name = node.tag_name().name().to_string();
    let mut children: Vec<RawNode> = Vec::new();
    for c in node.children().filter(|c| c.is_element()) {
        let child = build_ddf(xml, c, depth + 1, diags)?;
        if children.iter().any(|s| s.name == child.name) {
            diags.push(file_diag(
                Applies::ERROR,
                format!("duplicate node {}", child.name),
                child.loc.clone(),
            ));
        } else {
            children.push(child);
        }
    }
    let text = text_of(node);
    if !children.is_empty() && !text.is_empty() {
        diags.push(file_diag(
            Applies::ERROR,
            format!("{name}: node has both a value and child nodes"),
            loc.clone(),
        ));
    }
    Ok(RawNode {
        name,
        value: if children.is_empty() {
            Some(text)
        } else {
            None
        },
        children,
        loc,
    })
}

/// Converts the `PerProviderSubscription` node into profiles.
pub fn tree_to_document(pps: RawNode, diags: Vec<Diagnostic>) -> Result<Document, ReadError> {
    let mut conv = Conv {
        diags,
        map: SourceMap::default(),
        profile: 0,
    };
    let mut update_identifier = None;
    let mut instances = Vec::new();
    for c in &pps.children {
        if c.name.eq_ignore_ascii_case("UpdateIdentifier") {
            update_identifier = conv.uint::<u32>(c, "UpdateIdentifier");
        } else {
            instances.push(c);
        }
    }
    if pps.value.is_some() {
        conv.push(
            Applies::ERROR,
            "",
            "PerProviderSubscription has a value instead of an instance node",
            Some(pps.loc.clone()),
        );
    }
    if instances.is_empty() {
        return Err(ReadError::syntax(
            "PerProviderSubscription has no credential instance",
            Some(pps.loc),
        ));
    }
    let mut doc = Document::default();
    for (i, inst) in instances.iter().enumerate() {
        if i == 1 {
            conv.push(
                Applies::ANDROID_ONLY,
                "",
                "multiple PPS instances (Android accepts only one)",
                Some(inst.loc.clone()),
            );
        }
        conv.profile = i;
        conv.map = SourceMap::default();
        let mut p = conv.instance(inst);
        p.update_identifier = update_identifier;
        doc.profiles.push(p);
        doc.source_maps.push(std::mem::take(&mut conv.map));
    }
    doc.diagnostics = conv.diags;
    Ok(doc)
}

struct Conv {
    diags: Vec<Diagnostic>,
    map: SourceMap,
    profile: usize,
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}/{name}")
    }
}

impl Conv {
    fn push(
        &mut self,
        applies: Applies,
        path: &str,
        msg: impl Into<String>,
        loc: Option<Location>,
    ) {
        let mut d = Diagnostic::new(applies, path, msg).at(loc);
        d.profile = self.profile;
        self.diags.push(d);
    }

    /// Known children of an interior node, reporting unknown ones.
    fn kids<'n>(
        &mut self,
        node: &'n RawNode,
        path: &str,
        known: &[&'static str],
    ) -> Vec<(&'static str, String, &'n RawNode)> {
        self.map.insert(path, node.loc.clone());
        if node.value.is_some() {
            self.push(
                Applies::ERROR,
                path,
                "expected child nodes, found a value",
                Some(node.loc.clone()),
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        for c in &node.children {
            let k = if let Some(k) = known.iter().find(|k| **k == c.name) {
                *k
            } else if let Some(k) = known.iter().find(|k| k.eq_ignore_ascii_case(&c.name)) {
                self.push(
                    Applies::ANDROID_ONLY,
                    &join(path, k),
                    format!(
                        "node name '{}' differs in case (Android is case-sensitive)",
                        c.name
                    ),
                    Some(c.loc.clone()),
                );
                *k
            } else {
                self.push(
                    Applies::STRICT_ERROR_WPA_WARNING,
                    &join(path, &c.name),
                    "unknown node",
                    Some(c.loc.clone()),
                );
                continue;
            };
            let p = join(path, k);
            self.map.insert(p.clone(), c.loc.clone());
            out.push((k, p, c));
        }
        out
    }

    /// The `<X+>` instances of a list node, with their paths `path[i]`.
    fn list<'n>(&mut self, node: &'n RawNode, path: &str) -> Vec<(String, &'n RawNode)> {
        if node.value.is_some() {
            self.push(
                Applies::ERROR,
                path,
                "expected instance nodes, found a value",
                Some(node.loc.clone()),
            );
            return Vec::new();
        }
        node.children
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let p = format!("{path}[{i}]");
                self.map.insert(p.clone(), c.loc.clone());
                (p, c)
            })
            .collect()
    }

    fn text(&mut self, n: &RawNode, path: &str) -> Option<String> {
        self.map.insert(path, n.loc.clone());
        match &n.value {
            Some(v) => Some(v.clone()),
            None => {
                self.push(
                    Applies::ERROR,
                    path,
                    "expected a value, found child nodes",
                    Some(n.loc.clone()),
                );
                None
            }
        }
    }

    fn uint<T: FromStr>(&mut self, n: &RawNode, path: &str) -> Option<T> {
        let v = self.text(n, path)?;
        if !v.is_empty()
            && v.bytes().all(|b| b.is_ascii_digit())
            && let Ok(x) = v.parse::<T>()
        {
            return Some(x);
        }
        self.push(
            Applies::ERROR,
            path,
            format!("not a decimal integer in range: '{v}'"),
            Some(n.loc.clone()),
        );
        None
    }

    fn boolean(&mut self, n: &RawNode, path: &str) -> Option<bool> {
        let v = self.text(n, path)?;
        if v.eq_ignore_ascii_case("true") {
            Some(true)
        } else if v.eq_ignore_ascii_case("false") {
            Some(false)
        } else {
            self.push(
                Applies::ERROR,
                path,
                format!("not a boolean: '{v}'"),
                Some(n.loc.clone()),
            );
            None
        }
    }

    fn instance(&mut self, inst: &RawNode) -> Profile {
        // "i001" is the writers' default name: keep it implicit.
        let mut p = Profile {
            instance_name: (inst.name != "i001").then(|| inst.name.clone()),
            ..Default::default()
        };
        self.map.insert("", inst.loc.clone());
        let known = [
            "CredentialPriority",
            "HomeSP",
            "Credential",
            "Policy",
            "SubscriptionUpdate",
            "SubscriptionParameters",
            "AAAServerTrustRoot",
            "Extension",
        ];
        let mut seen_home = false;
        let mut seen_cred = false;
        for (k, path, c) in self.kids(inst, "", &known) {
            match k {
                "CredentialPriority" => p.credential_priority = self.uint(c, &path),
                "HomeSP" => {
                    seen_home = true;
                    p.home_sp = self.home_sp(c, &path);
                }
                "Credential" => {
                    seen_cred = true;
                    p.credential = self.credential(c, &path);
                }
                "Policy" => p.policy = Some(self.policy(c, &path)),
                "SubscriptionUpdate" => p.subscription_update = Some(self.update(c, &path)),
                "SubscriptionParameters" => {
                    p.subscription_parameters = Some(self.sub_params(c, &path))
                }
                "AAAServerTrustRoot" => {
                    for (ip, e) in self.list(c, &path) {
                        p.aaa_server_trust_root.push(self.trust_root(e, &ip));
                    }
                }
                "Extension" => {
                    if c.value.is_some() {
                        self.push(
                            Applies::ERROR,
                            &path,
                            "expected child nodes, found a value",
                            Some(c.loc.clone()),
                        );
                    }
                    p.extension = c.children.iter().map(raw_to_mo).collect();
                }
                _ => {}
            }
        }
        if !seen_home {
            self.push(
                Applies::ERROR,
                "HomeSP",
                "missing node",
                Some(inst.loc.clone()),
            );
        }
        if !seen_cred {
            self.push(
                Applies::ERROR,
                "Credential",
                "missing node",
                Some(inst.loc.clone()),
            );
        }
        p
    }

    fn home_sp(&mut self, n: &RawNode, path: &str) -> HomeSp {
        let mut h = HomeSp::default();
        let known = [
            "FriendlyName",
            "FQDN",
            "RoamingConsortiumOI",
            "IconURL",
            "NetworkID",
            "HomeOIList",
            "OtherHomePartners",
        ];
        for (k, p, c) in self.kids(n, path, &known) {
            match k {
                "FriendlyName" => h.friendly_name = self.text(c, &p),
                "FQDN" => h.fqdn = self.text(c, &p),
                "RoamingConsortiumOI" => {
                    if let Some(v) = self.text(c, &p) {
                        h.roaming_consortium_oi = v
                            .split(',')
                            .map(|s| s.trim().to_string())
                            .filter(|s| !s.is_empty())
                            .collect();
                        if h.roaming_consortium_oi.is_empty() {
                            self.push(Applies::ERROR, &p, "empty value", Some(c.loc.clone()));
                        }
                    }
                }
                "IconURL" => h.icon_url = self.text(c, &p),
                "NetworkID" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut id = NetworkId::default();
                        for (k2, p2, c2) in self.kids(e, &ip, &["SSID", "HESSID"]) {
                            match k2 {
                                "SSID" => id.ssid = self.text(c2, &p2),
                                _ => id.hessid = self.text(c2, &p2),
                            }
                        }
                        h.network_id.push(id);
                    }
                }
                "HomeOIList" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut oi = HomeOi::default();
                        for (k2, p2, c2) in self.kids(e, &ip, &["HomeOI", "HomeOIRequired"]) {
                            match k2 {
                                "HomeOI" => oi.home_oi = self.text(c2, &p2),
                                _ => oi.home_oi_required = self.boolean(c2, &p2),
                            }
                        }
                        h.home_oi_list.push(oi);
                    }
                }
                "OtherHomePartners" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut o = OtherHomePartner::default();
                        for (_, p2, c2) in self.kids(e, &ip, &["FQDN"]) {
                            o.fqdn = self.text(c2, &p2);
                        }
                        h.other_home_partners.push(o);
                    }
                }
                _ => {}
            }
        }
        h
    }

    fn credential(&mut self, n: &RawNode, path: &str) -> Credential {
        let mut cr = Credential::default();
        let known = [
            "CreationDate",
            "ExpirationDate",
            "Realm",
            "CheckAAAServerCertStatus",
            "UsernamePassword",
            "DigitalCertificate",
            "SIM",
        ];
        for (k, p, c) in self.kids(n, path, &known) {
            match k {
                "CreationDate" => cr.creation_date = self.text(c, &p),
                "ExpirationDate" => cr.expiration_date = self.text(c, &p),
                "Realm" => cr.realm = self.text(c, &p),
                "CheckAAAServerCertStatus" => cr.check_aaa_server_cert_status = self.boolean(c, &p),
                "UsernamePassword" => cr.username_password = Some(self.user_pass(c, &p)),
                "DigitalCertificate" => {
                    let mut d = DigitalCertificate::default();
                    for (k2, p2, c2) in
                        self.kids(c, &p, &["CertificateType", "CertSHA256Fingerprint"])
                    {
                        match k2 {
                            "CertificateType" => d.certificate_type = self.text(c2, &p2),
                            _ => d.cert_sha256_fingerprint = self.text(c2, &p2),
                        }
                    }
                    cr.digital_certificate = Some(d);
                }
                "SIM" => {
                    let mut s = Sim::default();
                    for (k2, p2, c2) in self.kids(c, &p, &["IMSI", "EAPType"]) {
                        match k2 {
                            "IMSI" => s.imsi = self.text(c2, &p2),
                            _ => s.eap_type = self.uint(c2, &p2),
                        }
                    }
                    cr.sim = Some(s);
                }
                _ => {}
            }
        }
        cr
    }

    fn user_pass(&mut self, n: &RawNode, path: &str) -> UsernamePassword {
        let mut u = UsernamePassword::default();
        let known = [
            "Username",
            "Password",
            "MachineManaged",
            "SoftTokenApp",
            "AbleToShare",
            "EAPMethod",
        ];
        for (k, p, c) in self.kids(n, path, &known) {
            match k {
                "Username" => u.username = self.text(c, &p),
                "Password" => {
                    if let Some(v) = self.text(c, &p) {
                        u.password = self.decode_password(&v, &p, c);
                    }
                }
                "MachineManaged" => u.machine_managed = self.boolean(c, &p),
                "SoftTokenApp" => u.soft_token_app = self.text(c, &p),
                "AbleToShare" => u.able_to_share = self.boolean(c, &p),
                "EAPMethod" => {
                    let mut m = EapMethod::default();
                    let known = [
                        "EAPType",
                        "InnerMethod",
                        "VendorId",
                        "VendorType",
                        "InnerEAPType",
                        "InnerVendorID",
                        "InnerVendorType",
                    ];
                    for (k2, p2, c2) in self.kids(c, &p, &known) {
                        match k2 {
                            "EAPType" => m.eap_type = self.uint(c2, &p2),
                            "InnerMethod" => m.inner_method = self.text(c2, &p2),
                            "VendorId" => m.vendor_id = self.uint(c2, &p2),
                            "VendorType" => m.vendor_type = self.uint(c2, &p2),
                            "InnerEAPType" => m.inner_eap_type = self.uint(c2, &p2),
                            "InnerVendorID" => m.inner_vendor_id = self.uint(c2, &p2),
                            _ => m.inner_vendor_type = self.uint(c2, &p2),
                        }
                    }
                    u.eap_method = Some(m);
                }
                _ => {}
            }
        }
        u
    }

    fn decode_password(&mut self, v: &str, path: &str, n: &RawNode) -> Option<String> {
        if v.is_empty() {
            return Some(String::new());
        }
        let compact: String = v.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        match base64::engine::general_purpose::STANDARD.decode(compact.as_bytes()) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(s) => Some(s),
                Err(_) => {
                    self.push(
                        Applies::ERROR,
                        path,
                        "decoded password is not UTF-8",
                        Some(n.loc.clone()),
                    );
                    None
                }
            },
            Err(e) => {
                self.push(
                    Applies::ERROR,
                    path,
                    format!("password is not valid base64: {e}"),
                    Some(n.loc.clone()),
                );
                None
            }
        }
    }

    fn policy(&mut self, n: &RawNode, path: &str) -> Policy {
        let mut pol = Policy::default();
        let known = [
            "PreferredRoamingPartnerList",
            "MinBackhaulThreshold",
            "PolicyUpdate",
            "SPExclusionList",
            "RequiredProtoPortTuple",
            "MaximumBSSLoadValue",
        ];
        for (k, p, c) in self.kids(n, path, &known) {
            match k {
                "PreferredRoamingPartnerList" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut r = RoamingPartner::default();
                        for (k2, p2, c2) in
                            self.kids(e, &ip, &["FQDN_Match", "Priority", "Country"])
                        {
                            match k2 {
                                "FQDN_Match" => r.fqdn_match = self.text(c2, &p2),
                                "Priority" => r.priority = self.uint(c2, &p2),
                                _ => r.country = self.text(c2, &p2),
                            }
                        }
                        pol.preferred_roaming_partner_list.push(r);
                    }
                }
                "MinBackhaulThreshold" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut m = MinBackhaulThreshold::default();
                        for (k2, p2, c2) in
                            self.kids(e, &ip, &["NetworkType", "DLBandwidth", "ULBandwidth"])
                        {
                            match k2 {
                                "NetworkType" => m.network_type = self.text(c2, &p2),
                                "DLBandwidth" => m.dl_bandwidth = self.uint(c2, &p2),
                                _ => m.ul_bandwidth = self.uint(c2, &p2),
                            }
                        }
                        pol.min_backhaul_threshold.push(m);
                    }
                }
                "PolicyUpdate" => pol.policy_update = Some(self.update(c, &p)),
                "SPExclusionList" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut s = SpExclusion::default();
                        for (_, p2, c2) in self.kids(e, &ip, &["SSID"]) {
                            s.ssid = self.text(c2, &p2);
                        }
                        pol.sp_exclusion_list.push(s);
                    }
                }
                "RequiredProtoPortTuple" => {
                    for (ip, e) in self.list(c, &p) {
                        let mut t = ProtoPortTuple::default();
                        for (k2, p2, c2) in self.kids(e, &ip, &["IPProtocol", "PortNumber"]) {
                            match k2 {
                                "IPProtocol" => t.ip_protocol = self.uint(c2, &p2),
                                _ => t.port_number = self.text(c2, &p2),
                            }
                        }
                        pol.required_proto_port_tuple.push(t);
                    }
                }
                "MaximumBSSLoadValue" => pol.maximum_bss_load_value = self.uint(c, &p),
                _ => {}
            }
        }
        pol
    }

    fn update(&mut self, n: &RawNode, path: &str) -> UpdateParameter {
        let mut u = UpdateParameter::default();
        let known = [
            "UpdateInterval",
            "UpdateMethod",
            "Restriction",
            "URI",
            "UsernamePassword",
            "TrustRoot",
            "Other",
        ];
        for (k, p, c) in self.kids(n, path, &known) {
            match k {
                "UpdateInterval" => u.update_interval = self.uint(c, &p),
                "UpdateMethod" => u.update_method = self.text(c, &p),
                "Restriction" => u.restriction = self.text(c, &p),
                "URI" => u.uri = self.text(c, &p),
                "UsernamePassword" => {
                    let mut up = UpdateCredentials::default();
                    for (k2, p2, c2) in self.kids(c, &p, &["Username", "Password"]) {
                        match k2 {
                            "Username" => up.username = self.text(c2, &p2),
                            _ => up.password = self.text(c2, &p2),
                        }
                    }
                    u.username_password = Some(up);
                }
                "TrustRoot" => u.trust_root = Some(self.trust_root(c, &p)),
                _ => u.other = self.text(c, &p),
            }
        }
        u
    }

    fn trust_root(&mut self, n: &RawNode, path: &str) -> TrustRoot {
        let mut t = TrustRoot::default();
        for (k, p, c) in self.kids(n, path, &["CertURL", "CertSHA256Fingerprint"]) {
            match k {
                "CertURL" => t.cert_url = self.text(c, &p),
                _ => t.cert_sha256_fingerprint = self.text(c, &p),
            }
        }
        t
    }

    fn sub_params(&mut self, n: &RawNode, path: &str) -> SubscriptionParameters {
        let mut s = SubscriptionParameters::default();
        let known = [
            "CreationDate",
            "ExpirationDate",
            "TypeOfSubscription",
            "UsageLimits",
        ];
        for (k, p, c) in self.kids(n, path, &known) {
            match k {
                "CreationDate" => s.creation_date = self.text(c, &p),
                "ExpirationDate" => s.expiration_date = self.text(c, &p),
                "TypeOfSubscription" => s.type_of_subscription = self.text(c, &p),
                _ => {
                    let mut u = UsageLimits::default();
                    let known = ["DataLimit", "StartDate", "TimeLimit", "UsageTimePeriod"];
                    for (k2, p2, c2) in self.kids(c, &p, &known) {
                        match k2 {
                            "DataLimit" => u.data_limit = self.uint(c2, &p2),
                            "StartDate" => u.start_date = self.text(c2, &p2),
                            "TimeLimit" => u.time_limit = self.uint(c2, &p2),
                            _ => u.usage_time_period = self.uint(c2, &p2),
                        }
                    }
                    s.usage_limits = Some(u);
                }
            }
        }
        s
    }
}

fn raw_to_mo(n: &RawNode) -> MoNode {
    MoNode {
        name: n.name.clone(),
        value: n.value.clone(),
        children: n.children.iter().map(raw_to_mo).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = r#"<MgmtTree xmlns="syncml:dmddf1.2">
  <VerDTD>1.2</VerDTD>
  <Node>
    <NodeName>PerProviderSubscription</NodeName>
    <RTProperties><Type><DDFName>urn:wfa:mo:hotspot2dot0-perprovidersubscription:1.0</DDFName></Type></RTProperties>
    <Node><NodeName>i001</NodeName>
      <Node><NodeName>HomeSP</NodeName>
        <Node><NodeName>FriendlyName</NodeName><Value>Example</Value></Node>
        <Node><NodeName>FQDN</NodeName><Value></Value></Node>
        <Node><NodeName>Bogus</NodeName><Value>x</Value></Node>
      </Node>
      <Node><NodeName>Credential</NodeName>
        <Node><NodeName>Realm</NodeName><Value>example.com</Value></Node>
        <Node><NodeName>UsernamePassword</NodeName>
          <Node><NodeName>Username</NodeName><Value>alice</Value></Node>
          <Node><NodeName>Password</NodeName><Value>c2VjcmV0</Value></Node>
        </Node>
      </Node>
    </Node>
  </Node>
</MgmtTree>"#;

    #[test]
    fn reads_minimal_tnds_with_locations() {
        let doc = read_tnds(MIN).expect("parse");
        assert_eq!(doc.profiles.len(), 1);
        let p = &doc.profiles[0];
        assert_eq!(p.friendly_name(), Some("Example"));
        assert_eq!(p.fqdn(), Some(""));
        let up = p.credential.username_password.as_ref().expect("up");
        assert_eq!(up.password.as_deref(), Some("secret"));
        assert_eq!(
            doc.source_maps[0].lookup("HomeSP/FQDN"),
            Some(Location::Text { line: 9, column: 9 })
        );
        assert!(
            doc.diagnostics
                .iter()
                .any(|d| d.path == "HomeSP/Bogus" && d.message == "unknown node")
        );
    }

    #[test]
    fn rejects_dtd_and_wrong_root() {
        let dtd =
            r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><MgmtTree>&a;</MgmtTree>"#;
        assert!(read_tnds(dtd).is_err());
        assert!(read_tnds("<Foo/>").is_err());
        assert!(read_tnds("<MgmtTree><Node><NodeName>PerProviderSubscription</NodeName><Value>1</Value></Node></MgmtTree>").is_err());
    }

    #[test]
    fn deep_tree_is_an_error_not_a_crash() {
        let mut s = String::from("<PerProviderSubscription>");
        for _ in 0..500 {
            s.push_str("<a>");
        }
        for _ in 0..500 {
            s.push_str("</a>");
        }
        s.push_str("</PerProviderSubscription>");
        assert!(read_ddf(&s).is_err());
    }
}
