//! PPS MO writers (TNDS and element-per-node XML).

use super::Lossy;
use crate::model::*;
use crate::read::pps_mo::PPS_URN;
use base64::Engine;

fn leaf(name: &str, v: impl ToString) -> MoNode {
    MoNode {
        name: name.to_string(),
        value: Some(v.to_string()),
        children: Vec::new(),
    }
}

fn inner(name: &str, children: Vec<MoNode>) -> MoNode {
    MoNode {
        name: name.to_string(),
        value: None,
        children,
    }
}

macro_rules! opt {
    ($v:ident, $name:expr, $val:expr) => {
        if let Some(x) = &$val {
            $v.push(leaf($name, x));
        }
    };
}

fn instances(prefix: &str, items: Vec<Vec<MoNode>>) -> Vec<MoNode> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, c)| inner(&format!("{prefix}{:03}", i + 1), c))
        .collect()
}

fn trust_root(t: &TrustRoot) -> Vec<MoNode> {
    let mut v = Vec::new();
    opt!(v, "CertURL", t.cert_url);
    opt!(v, "CertSHA256Fingerprint", t.cert_sha256_fingerprint);
    v
}

fn update(u: &UpdateParameter) -> Vec<MoNode> {
    let mut v = Vec::new();
    opt!(v, "UpdateInterval", u.update_interval);
    opt!(v, "UpdateMethod", u.update_method);
    opt!(v, "Restriction", u.restriction);
    opt!(v, "URI", u.uri);
    if let Some(up) = &u.username_password {
        let mut c = Vec::new();
        opt!(c, "Username", up.username);
        opt!(c, "Password", up.password);
        v.push(inner("UsernamePassword", c));
    }
    if let Some(t) = &u.trust_root {
        v.push(inner("TrustRoot", trust_root(t)));
    }
    opt!(v, "Other", u.other);
    v
}

/// The `<X+>` instance node of a profile. Fields outside the PPS MO are
/// reported in `lossy`.
pub fn instance_node(p: &Profile, lossy: &mut Lossy) -> MoNode {
    let mut v = Vec::new();
    opt!(v, "CredentialPriority", p.credential_priority);
    // HomeSP
    let h = &p.home_sp;
    let mut hv = Vec::new();
    opt!(hv, "FriendlyName", h.friendly_name);
    opt!(hv, "FQDN", h.fqdn);
    if !h.roaming_consortium_oi.is_empty() {
        hv.push(leaf(
            "RoamingConsortiumOI",
            h.roaming_consortium_oi.join(","),
        ));
    }
    opt!(hv, "IconURL", h.icon_url);
    if !h.network_id.is_empty() {
        let items = h
            .network_id
            .iter()
            .map(|n| {
                let mut c = Vec::new();
                opt!(c, "SSID", n.ssid);
                opt!(c, "HESSID", n.hessid);
                c
            })
            .collect();
        hv.push(inner("NetworkID", instances("n", items)));
    }
    if !h.home_oi_list.is_empty() {
        let items = h
            .home_oi_list
            .iter()
            .map(|o| {
                let mut c = Vec::new();
                opt!(c, "HomeOI", o.home_oi);
                opt!(c, "HomeOIRequired", o.home_oi_required);
                c
            })
            .collect();
        hv.push(inner("HomeOIList", instances("h", items)));
    }
    if !h.other_home_partners.is_empty() {
        let items = h
            .other_home_partners
            .iter()
            .map(|o| {
                let mut c = Vec::new();
                opt!(c, "FQDN", o.fqdn);
                c
            })
            .collect();
        hv.push(inner("OtherHomePartners", instances("o", items)));
    }
    v.push(inner("HomeSP", hv));
    // Credential
    let cr = &p.credential;
    let mut cv = Vec::new();
    opt!(cv, "CreationDate", cr.creation_date);
    opt!(cv, "ExpirationDate", cr.expiration_date);
    opt!(cv, "Realm", cr.realm);
    opt!(
        cv,
        "CheckAAAServerCertStatus",
        cr.check_aaa_server_cert_status
    );
    if let Some(u) = &cr.username_password {
        let mut c = Vec::new();
        opt!(c, "Username", u.username);
        if let Some(pw) = &u.password {
            c.push(leaf(
                "Password",
                base64::engine::general_purpose::STANDARD.encode(pw.as_bytes()),
            ));
        }
        opt!(c, "MachineManaged", u.machine_managed);
        opt!(c, "SoftTokenApp", u.soft_token_app);
        opt!(c, "AbleToShare", u.able_to_share);
        if let Some(m) = &u.eap_method {
            let mut e = Vec::new();
            opt!(e, "EAPType", m.eap_type);
            opt!(e, "InnerMethod", m.inner_method);
            opt!(e, "VendorId", m.vendor_id);
            opt!(e, "VendorType", m.vendor_type);
            opt!(e, "InnerEAPType", m.inner_eap_type);
            opt!(e, "InnerVendorID", m.inner_vendor_id);
            opt!(e, "InnerVendorType", m.inner_vendor_type);
            c.push(inner("EAPMethod", e));
        }
        cv.push(inner("UsernamePassword", c));
    }
    if let Some(d) = &cr.digital_certificate {
        let mut c = Vec::new();
        opt!(c, "CertificateType", d.certificate_type);
        opt!(c, "CertSHA256Fingerprint", d.cert_sha256_fingerprint);
        cv.push(inner("DigitalCertificate", c));
    }
    if let Some(s) = &cr.sim {
        let mut c = Vec::new();
        opt!(c, "IMSI", s.imsi);
        opt!(c, "EAPType", s.eap_type);
        cv.push(inner("SIM", c));
    }
    v.push(inner("Credential", cv));
    if let Some(pol) = &p.policy {
        let mut pv = Vec::new();
        if !pol.preferred_roaming_partner_list.is_empty() {
            let items = pol
                .preferred_roaming_partner_list
                .iter()
                .map(|r| {
                    let mut c = Vec::new();
                    opt!(c, "FQDN_Match", r.fqdn_match);
                    opt!(c, "Priority", r.priority);
                    opt!(c, "Country", r.country);
                    c
                })
                .collect();
            pv.push(inner("PreferredRoamingPartnerList", instances("r", items)));
        }
        if !pol.min_backhaul_threshold.is_empty() {
            let items = pol
                .min_backhaul_threshold
                .iter()
                .map(|m| {
                    let mut c = Vec::new();
                    opt!(c, "NetworkType", m.network_type);
                    opt!(c, "DLBandwidth", m.dl_bandwidth);
                    opt!(c, "ULBandwidth", m.ul_bandwidth);
                    c
                })
                .collect();
            pv.push(inner("MinBackhaulThreshold", instances("m", items)));
        }
        if let Some(u) = &pol.policy_update {
            pv.push(inner("PolicyUpdate", update(u)));
        }
        if !pol.sp_exclusion_list.is_empty() {
            let items = pol
                .sp_exclusion_list
                .iter()
                .map(|s| {
                    let mut c = Vec::new();
                    opt!(c, "SSID", s.ssid);
                    c
                })
                .collect();
            pv.push(inner("SPExclusionList", instances("s", items)));
        }
        if !pol.required_proto_port_tuple.is_empty() {
            let items = pol
                .required_proto_port_tuple
                .iter()
                .map(|t| {
                    let mut c = Vec::new();
                    opt!(c, "IPProtocol", t.ip_protocol);
                    opt!(c, "PortNumber", t.port_number);
                    c
                })
                .collect();
            pv.push(inner("RequiredProtoPortTuple", instances("t", items)));
        }
        opt!(pv, "MaximumBSSLoadValue", pol.maximum_bss_load_value);
        v.push(inner("Policy", pv));
    }
    if let Some(u) = &p.subscription_update {
        v.push(inner("SubscriptionUpdate", update(u)));
    }
    if let Some(s) = &p.subscription_parameters {
        let mut c = Vec::new();
        opt!(c, "CreationDate", s.creation_date);
        opt!(c, "ExpirationDate", s.expiration_date);
        opt!(c, "TypeOfSubscription", s.type_of_subscription);
        if let Some(u) = &s.usage_limits {
            let mut l = Vec::new();
            opt!(l, "DataLimit", u.data_limit);
            opt!(l, "StartDate", u.start_date);
            opt!(l, "TimeLimit", u.time_limit);
            opt!(l, "UsageTimePeriod", u.usage_time_period);
            c.push(inner("UsageLimits", l));
        }
        v.push(inner("SubscriptionParameters", c));
    }
    if !p.aaa_server_trust_root.is_empty() {
        let items = p.aaa_server_trust_root.iter().map(trust_root).collect();
        v.push(inner("AAAServerTrustRoot", instances("a", items)));
    }
    if !p.extension.is_empty() {
        v.push(inner("Extension", p.extension.clone()));
    }
    if let Some(l) = &p.local {
        lossy.local(l, "PPS MO");
    }
    inner(p.instance_name.as_deref().unwrap_or("i001"), v)
}

/// The `PerProviderSubscription` root node for `profiles`.
pub fn pps_tree(profiles: &[Profile], lossy: &mut Lossy) -> MoNode {
    let mut children = Vec::new();
    let ids: Vec<u32> = profiles
        .iter()
        .filter_map(|p| p.update_identifier)
        .collect();
    if let Some(first) = ids.first() {
        if ids.iter().any(|i| i != first) {
            lossy.warn(
                "UpdateIdentifier",
                "profiles have different UpdateIdentifier values; the first is written",
            );
        }
        children.push(leaf("UpdateIdentifier", first));
    }
    let mut used: Vec<String> = Vec::new();
    for (i, p) in profiles.iter().enumerate() {
        let mut node = instance_node(p, lossy);
        if used.contains(&node.name) {
            node.name = format!("i{:03}", i + 1);
        }
        used.push(node.name.clone());
        children.push(node);
    }
    inner("PerProviderSubscription", children)
}

/// XML-escapes text.
pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&apos;"),
            c => o.push(c),
        }
    }
    o
}

fn tnds_node(n: &MoNode, depth: usize, out: &mut String, top: bool) {
    let ind = "  ".repeat(depth);
    out.push_str(&format!(
        "{ind}<Node>\n{ind}  <NodeName>{}</NodeName>\n",
        escape(&n.name)
    ));
    if top {
        out.push_str(&format!(
            "{ind}  <RTProperties>\n{ind}    <Type>\n{ind}      <DDFName>{PPS_URN}</DDFName>\n{ind}    </Type>\n{ind}  </RTProperties>\n"
        ));
    }
    if let Some(v) = &n.value {
        out.push_str(&format!("{ind}  <Value>{}</Value>\n", escape(v)));
    }
    for c in &n.children {
        tnds_node(c, depth + 1, out, false);
    }
    out.push_str(&format!("{ind}</Node>\n"));
}

/// Writes PPS MO as OMA-DM TNDS XML.
pub fn write_tnds(profiles: &[Profile], lossy: &mut Lossy) -> String {
    let tree = pps_tree(profiles, lossy);
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<MgmtTree xmlns=\"syncml:dmddf1.2\">\n  <VerDTD>1.2</VerDTD>\n",
    );
    tnds_node(&tree, 1, &mut out, true);
    out.push_str("</MgmtTree>\n");
    out
}

fn ddf_node(n: &MoNode, depth: usize, out: &mut String) {
    let ind = "  ".repeat(depth);
    let name = escape(&n.name);
    if let Some(v) = &n.value {
        out.push_str(&format!("{ind}<{name}>{}</{name}>\n", escape(v)));
    } else {
        out.push_str(&format!("{ind}<{name}>\n"));
        for c in &n.children {
            ddf_node(c, depth + 1, out);
        }
        out.push_str(&format!("{ind}</{name}>\n"));
    }
}

/// Writes PPS MO in the element-per-node form.
pub fn write_ddf(profiles: &[Profile], lossy: &mut Lossy) -> String {
    let tree = pps_tree(profiles, lossy);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    ddf_node(&tree, 0, &mut out);
    out
}
