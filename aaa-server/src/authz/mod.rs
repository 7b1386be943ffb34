//! Authorization: subscriber groups, per-subscriber reply attributes and
//! barring. A group's [`ReplyAttributes`] apply to its members; a
//! subscriber's own entry overrides them field by field
//! ([`ReplyAttributes::over`]). The result goes into Access-Accept only,
//! encoded per the attribute's RFC type by [`encode`] (no I/O here: the
//! store is in [`sqlite`]).

pub mod das;
pub mod sessions;
pub mod sqlite;
pub mod store;
pub mod watch;

use serde::{Deserialize, Serialize};

/// Session-Timeout (RFC 2865 §5.27).
pub const SESSION_TIMEOUT: u8 = 27;
/// Termination-Action (RFC 2865 §5.29).
pub const TERMINATION_ACTION: u8 = 29;
/// Class (RFC 2865 §5.25).
pub const CLASS: u8 = 25;
/// Filter-Id (RFC 2865 §5.11).
pub const FILTER_ID: u8 = 11;
/// Vendor-Specific (RFC 2865 §5.26).
pub const VENDOR_SPECIFIC: u8 = 26;
/// Tunnel-Type (RFC 2868 §3.1).
pub const TUNNEL_TYPE: u8 = 64;
/// Tunnel-Medium-Type (RFC 2868 §3.2).
pub const TUNNEL_MEDIUM_TYPE: u8 = 65;
/// Tunnel-Private-Group-ID (RFC 2868 §3.6).
pub const TUNNEL_PRIVATE_GROUP_ID: u8 = 81;
/// Tunnel-Type value VLAN (RFC 3580 §3.31).
pub const TUNNEL_TYPE_VLAN: u32 = 13;
/// Tunnel-Medium-Type value IEEE-802 (RFC 3580 §3.31).
pub const TUNNEL_MEDIUM_IEEE_802: u32 = 6;
/// The tag the three VLAN attributes share (RFC 2868 §3: 0x01–0x1F).
pub const VLAN_TAG: u8 = 1;
/// The Wi-Fi Alliance WISPr vendor id.
pub const WISPR_VENDOR: u32 = 14122;
/// WISPr-Bandwidth-Max-Up (bits/s).
pub const WISPR_BANDWIDTH_MAX_UP: u8 = 7;
/// WISPr-Bandwidth-Max-Down (bits/s).
pub const WISPR_BANDWIDTH_MAX_DOWN: u8 = 8;

/// Termination-Action values (RFC 2865 §5.29).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TerminationAction {
    /// 0: end the session at Session-Timeout.
    Default,
    /// 1: re-authenticate (RADIUS-Request) at Session-Timeout.
    RadiusRequest,
}

/// One Vendor-Specific attribute by number (RFC 2865 §5.26, with the
/// one-octet vendor type and length most vendors use).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VendorAttr {
    /// SMI network management private enterprise code.
    pub vendor: u32,
    /// Vendor type.
    pub typ: u8,
    /// Value, hex in the store and on the command line.
    #[serde(with = "hex_value")]
    pub value: Vec<u8>,
}

/// Vendor attribute values as hex strings in the store's JSON.
mod hex_value {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        hex::decode(s).map_err(serde::de::Error::custom)
    }
}

/// Reply attributes of a group or a subscriber; `None`/empty: not set here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplyAttributes {
    /// Session-Timeout, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<u32>,
    /// Termination-Action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_action: Option<TerminationAction>,
    /// Class (sent as octets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// VLAN ID: Tunnel-Type VLAN, Tunnel-Medium-Type IEEE-802 and
    /// Tunnel-Private-Group-ID, tagged (RFC 3580 §3.31).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    /// Filter-Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_id: Option<String>,
    /// WISPr-Bandwidth-Max-Up, bits/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_max_up: Option<u32>,
    /// WISPr-Bandwidth-Max-Down, bits/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_max_down: Option<u32>,
    /// Other vendor attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vendor: Vec<VendorAttr>,
}

impl ReplyAttributes {
    /// `self` (the subscriber's) over `group`: each field set in `self` wins;
    /// vendor attributes of the same vendor and type are replaced.
    pub fn over(&self, group: &ReplyAttributes) -> ReplyAttributes {
        let mut vendor: Vec<VendorAttr> = group
            .vendor
            .iter()
            .filter(|g| {
                !self
                    .vendor
                    .iter()
                    .any(|s| s.vendor == g.vendor && s.typ == g.typ)
            })
            .cloned()
            .collect();
        vendor.extend(self.vendor.iter().cloned());
        ReplyAttributes {
            session_timeout: self.session_timeout.or(group.session_timeout),
            termination_action: self.termination_action.or(group.termination_action),
            class: self.class.clone().or_else(|| group.class.clone()),
            vlan: self.vlan.or(group.vlan),
            filter_id: self.filter_id.clone().or_else(|| group.filter_id.clone()),
            bandwidth_max_up: self.bandwidth_max_up.or(group.bandwidth_max_up),
            bandwidth_max_down: self.bandwidth_max_down.or(group.bandwidth_max_down),
            vendor,
        }
    }

    /// Sets the fields `u` sets (`None` keeps), then clears those named in `u.unset`.
    pub fn apply(&mut self, u: &AttributeUpdate) -> Result<(), AttrError> {
        let a = &u.set;
        macro_rules! take {
            ($($f:ident),*) => { $( if a.$f.is_some() { self.$f = a.$f.clone(); } )* };
        }
        take!(
            session_timeout,
            termination_action,
            class,
            vlan,
            filter_id,
            bandwidth_max_up,
            bandwidth_max_down
        );
        for v in &a.vendor {
            self.vendor
                .retain(|o| !(o.vendor == v.vendor && o.typ == v.typ));
            self.vendor.push(v.clone());
        }
        for name in &u.unset {
            match name.as_str() {
                "session-timeout" => self.session_timeout = None,
                "termination-action" => self.termination_action = None,
                "class" => self.class = None,
                "vlan" => self.vlan = None,
                "filter-id" => self.filter_id = None,
                "bandwidth-max-up" => self.bandwidth_max_up = None,
                "bandwidth-max-down" => self.bandwidth_max_down = None,
                "vendor" => self.vendor.clear(),
                other => return Err(AttrError::UnknownName(other.to_string())),
            }
        }
        self.check()
    }

    /// Checks that every value fits its attribute.
    pub fn check(&self) -> Result<(), AttrError> {
        if let Some(v) = self.vlan
            && !(1..=4094).contains(&v)
        {
            return Err(AttrError::Vlan(v));
        }
        for (name, s) in [("class", &self.class), ("filter-id", &self.filter_id)] {
            if let Some(s) = s
                && (s.is_empty() || s.len() > 253)
            {
                return Err(AttrError::Length(name));
            }
        }
        if self.vendor.iter().any(|v| v.value.len() > 247) {
            return Err(AttrError::Length("vendor"));
        }
        Ok(())
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        *self == ReplyAttributes::default()
    }
}

/// A change to a [`ReplyAttributes`]: what to set and what to clear.
#[derive(Clone, Debug, Default)]
pub struct AttributeUpdate {
    /// Fields to set.
    pub set: ReplyAttributes,
    /// Names of fields to clear (`session-timeout`, `vlan`, `vendor`…).
    pub unset: Vec<String>,
}

/// A reply attribute value that does not fit.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AttrError {
    /// VLAN ID outside 1..=4094 (IEEE 802.1Q).
    #[error("vlan {0} outside 1..=4094")]
    Vlan(u16),
    /// A string attribute empty or longer than 253 octets.
    #[error("{0}: must be 1 to 253 octets")]
    Length(&'static str),
    /// `--unset` names no attribute.
    #[error("unknown attribute name {0:?}")]
    UnknownName(String),
    /// `--vsa` is not `VENDOR:TYPE:HEX`.
    #[error("vendor attribute {0:?} is not VENDOR:TYPE:HEX")]
    BadVendorAttr(String),
}

/// Parses `VENDOR:TYPE:HEX` (e.g. `14122:8:000f4240`).
pub fn parse_vendor_attr(s: &str) -> Result<VendorAttr, AttrError> {
    let bad = || AttrError::BadVendorAttr(s.to_string());
    let mut it = s.splitn(3, ':');
    let vendor = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let typ = it.next().and_then(|v| v.parse().ok()).ok_or_else(bad)?;
    let value = it
        .next()
        .and_then(|v| hex::decode(v).ok())
        .ok_or_else(bad)?;
    if value.len() > 247 {
        return Err(bad());
    }
    Ok(VendorAttr { vendor, typ, value })
}

/// What the store says about a subscriber at authentication time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Authorization {
    /// Barred: Access-Reject, no vector.
    pub barred: bool,
    /// The reply attributes (group, overridden by the subscriber's own).
    pub reply: ReplyAttributes,
}

/// Encodes `a` as (type, value) RADIUS attributes for Access-Accept.
pub fn encode(a: &ReplyAttributes) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    if let Some(t) = a.session_timeout {
        out.push((SESSION_TIMEOUT, t.to_be_bytes().to_vec()));
    }
    if let Some(t) = a.termination_action {
        let v: u32 = match t {
            TerminationAction::Default => 0,
            TerminationAction::RadiusRequest => 1,
        };
        out.push((TERMINATION_ACTION, v.to_be_bytes().to_vec()));
    }
    if let Some(c) = &a.class {
        out.push((CLASS, c.as_bytes().to_vec()));
    }
    if let Some(vlan) = a.vlan {
        out.push((TUNNEL_TYPE, tagged_integer(VLAN_TAG, TUNNEL_TYPE_VLAN)));
        out.push((
            TUNNEL_MEDIUM_TYPE,
            tagged_integer(VLAN_TAG, TUNNEL_MEDIUM_IEEE_802),
        ));
        let mut v = vec![VLAN_TAG];
        v.extend_from_slice(vlan.to_string().as_bytes());
        out.push((TUNNEL_PRIVATE_GROUP_ID, v));
    }
    if let Some(f) = &a.filter_id {
        out.push((FILTER_ID, f.as_bytes().to_vec()));
    }
    if let Some(b) = a.bandwidth_max_up {
        out.push((
            VENDOR_SPECIFIC,
            vsa(WISPR_VENDOR, WISPR_BANDWIDTH_MAX_UP, &b.to_be_bytes()),
        ));
    }
    if let Some(b) = a.bandwidth_max_down {
        out.push((
            VENDOR_SPECIFIC,
            vsa(WISPR_VENDOR, WISPR_BANDWIDTH_MAX_DOWN, &b.to_be_bytes()),
        ));
    }
    for v in &a.vendor {
        out.push((VENDOR_SPECIFIC, vsa(v.vendor, v.typ, &v.value)));
    }
    out
}

/// A tagged integer (RFC 2868 §3.1: Tag octet, then a 3-octet value).
fn tagged_integer(tag: u8, value: u32) -> Vec<u8> {
    let b = value.to_be_bytes();
    vec![tag, b[1], b[2], b[3]]
}

/// A Vendor-Specific value (RFC 2865 §5.26): Vendor-Id, then one
/// sub-attribute with a one-octet type and length.
fn vsa(vendor: u32, typ: u8, value: &[u8]) -> Vec<u8> {
    let mut v = vendor.to_be_bytes().to_vec();
    v.push(typ);
    v.push((value.len() + 2) as u8);
    v.extend_from_slice(value);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlan_is_three_tagged_attributes_per_rfc_3580() {
        let a = ReplyAttributes {
            vlan: Some(100),
            ..Default::default()
        };
        // RFC 2868 §3.1/§3.2: Tag 0x01, 3-octet value 13 (VLAN) and 6
        // (IEEE-802); §3.6: Tag 0x01, then the string "100".
        assert_eq!(
            encode(&a),
            vec![
                (64, vec![0x01, 0x00, 0x00, 0x0d]),
                (65, vec![0x01, 0x00, 0x00, 0x06]),
                (81, vec![0x01, b'1', b'0', b'0']),
            ]
        );
    }

    #[test]
    fn integers_strings_and_vendor_attributes() {
        let a = ReplyAttributes {
            session_timeout: Some(3600),
            termination_action: Some(TerminationAction::RadiusRequest),
            class: Some("gold".into()),
            filter_id: Some("web-only".into()),
            bandwidth_max_down: Some(1_000_000),
            vendor: vec![parse_vendor_attr("9:1:6869").unwrap()],
            ..Default::default()
        };
        assert_eq!(
            encode(&a),
            vec![
                (27, vec![0, 0, 0x0e, 0x10]),
                (29, vec![0, 0, 0, 1]),
                (25, b"gold".to_vec()),
                (11, b"web-only".to_vec()),
                // Vendor-Id 14122 = 0x0000372a, type 8, length 6, 1000000 = 0x000f4240.
                (26, vec![0, 0, 0x37, 0x2a, 8, 6, 0x00, 0x0f, 0x42, 0x40]),
                (26, vec![0, 0, 0, 9, 1, 4, b'h', b'i']),
            ]
        );
    }

    #[test]
    fn subscriber_overrides_group() {
        let group = ReplyAttributes {
            session_timeout: Some(3600),
            vlan: Some(10),
            vendor: vec![VendorAttr {
                vendor: 9,
                typ: 1,
                value: b"g".to_vec(),
            }],
            ..Default::default()
        };
        let sub = ReplyAttributes {
            vlan: Some(20),
            vendor: vec![VendorAttr {
                vendor: 9,
                typ: 1,
                value: b"s".to_vec(),
            }],
            ..Default::default()
        };
        let m = sub.over(&group);
        assert_eq!(m.session_timeout, Some(3600));
        assert_eq!(m.vlan, Some(20));
        assert_eq!(m.vendor.len(), 1);
        assert_eq!(m.vendor[0].value, b"s");
    }

    #[test]
    fn apply_sets_unsets_and_checks() {
        let mut a = ReplyAttributes::default();
        let mut u = AttributeUpdate::default();
        u.set.vlan = Some(5);
        u.set.class = Some("c".into());
        a.apply(&u).unwrap();
        assert_eq!((a.vlan, a.class.as_deref()), (Some(5), Some("c")));
        let u = AttributeUpdate {
            unset: vec!["vlan".into()],
            ..Default::default()
        };
        a.apply(&u).unwrap();
        assert_eq!(a.vlan, None);
        let mut u = AttributeUpdate::default();
        u.set.vlan = Some(5000);
        assert_eq!(a.apply(&u), Err(AttrError::Vlan(5000)));
        let u = AttributeUpdate {
            unset: vec!["nope".into()],
            ..Default::default()
        };
        assert!(matches!(a.apply(&u), Err(AttrError::UnknownName(_))));
        assert!(parse_vendor_attr("x:1:00").is_err());
        assert!(parse_vendor_attr("1:2:zz").is_err());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<ReplyAttributes>(&json).unwrap(), a);
    }
}
