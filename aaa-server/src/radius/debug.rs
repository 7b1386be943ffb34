//! `serve --debug`: every RADIUS packet in and out, decoded for a human, in
//! the spirit of FreeRADIUS `-X` — the RADIUS attributes by name (RFC 2865,
//! 2866, 2869, 3162, 3579, 5176, 6911), the EAP header (RFC 3748) and the
//! EAP-AKA / EAP-AKA' / EAP-SIM attributes (RFC 4187, 9048, 4186).
//!
//! Never printed: User-Password, CHAP-Password, Tunnel-Password and the
//! MS-MPPE / MS-CHAP keys (RFC 2548) show as `<hidden>`; the shared secret,
//! K, CK/IK and the MSK never travel in a packet. Identities (User-Name,
//! EAP-Response/Identity, AT_IDENTITY) follow `[logging] log_identities`.
//!
//! [`render`] is pure (any bytes in, text out, never a panic); [`print`]
//! writes one packet's block to standard output with one write.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns packet printing on for this process (`serve --debug`).
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// Whether `serve --debug` is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Which way a packet went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Received from `peer`.
    Received,
    /// Sent to `peer`.
    Sent,
}

/// Prints `packet` (when `--debug` is on) to standard output.
pub fn print(direction: Direction, peer: SocketAddr, packet: &[u8]) {
    if !enabled() {
        return;
    }
    use std::io::Write;
    let text = render(direction, peer, packet);
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// RADIUS codes (RFC 2865 §4, RFC 2866 §4, RFC 5176 §3, RFC 5997).
fn code_name(code: u8) -> Option<&'static str> {
    Some(match code {
        1 => "Access-Request",
        2 => "Access-Accept",
        3 => "Access-Reject",
        4 => "Accounting-Request",
        5 => "Accounting-Response",
        11 => "Access-Challenge",
        12 => "Status-Server",
        13 => "Status-Client",
        40 => "Disconnect-Request",
        41 => "Disconnect-ACK",
        42 => "Disconnect-NAK",
        43 => "CoA-Request",
        44 => "CoA-ACK",
        45 => "CoA-NAK",
        _ => return None,
    })
}

/// How an attribute's value is shown.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Ipv4,
    Octets,
    /// An identity: text through [`crate::logging::identity`].
    Identity,
    /// A secret: `<hidden>`.
    Hidden,
}

/// RADIUS attribute names and value kinds.
fn attribute(t: u8) -> (Option<&'static str>, Kind) {
    use Kind::*;
    let (name, kind) = match t {
        1 => ("User-Name", Identity),
        2 => ("User-Password", Hidden),
        3 => ("CHAP-Password", Hidden),
        4 => ("NAS-IP-Address", Ipv4),
        5 => ("NAS-Port", Integer),
        6 => ("Service-Type", Integer),
        7 => ("Framed-Protocol", Integer),
        8 => ("Framed-IP-Address", Ipv4),
        11 => ("Filter-Id", Text),
        12 => ("Framed-MTU", Integer),
        18 => ("Reply-Message", Text),
        24 => ("State", Octets),
        25 => ("Class", Octets),
        26 => ("Vendor-Specific", Octets),
        27 => ("Session-Timeout", Integer),
        28 => ("Idle-Timeout", Integer),
        29 => ("Termination-Action", Integer),
        30 => ("Called-Station-Id", Text),
        31 => ("Calling-Station-Id", Text),
        32 => ("NAS-Identifier", Text),
        33 => ("Proxy-State", Octets),
        40 => ("Acct-Status-Type", Integer),
        41 => ("Acct-Delay-Time", Integer),
        42 => ("Acct-Input-Octets", Integer),
        43 => ("Acct-Output-Octets", Integer),
        44 => ("Acct-Session-Id", Text),
        45 => ("Acct-Authentic", Integer),
        46 => ("Acct-Session-Time", Integer),
        47 => ("Acct-Input-Packets", Integer),
        48 => ("Acct-Output-Packets", Integer),
        49 => ("Acct-Terminate-Cause", Integer),
        50 => ("Acct-Multi-Session-Id", Text),
        52 => ("Acct-Input-Gigawords", Integer),
        53 => ("Acct-Output-Gigawords", Integer),
        55 => ("Event-Timestamp", Integer),
        60 => ("CHAP-Challenge", Octets),
        61 => ("NAS-Port-Type", Integer),
        64 => ("Tunnel-Type", Octets),
        69 => ("Tunnel-Password", Hidden),
        77 => ("Connect-Info", Text),
        79 => ("EAP-Message", Octets),
        80 => ("Message-Authenticator", Octets),
        85 => ("Acct-Interim-Interval", Integer),
        87 => ("NAS-Port-Id", Text),
        89 => ("Chargeable-User-Identity", Octets),
        95 => ("NAS-IPv6-Address", Octets),
        101 => ("Error-Cause", Integer),
        _ => return (None, Kind::Octets),
    };
    (Some(name), kind)
}

fn hex(out: &mut String, bytes: &[u8]) {
    out.push_str("0x");
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
}

fn quoted(out: &mut String, bytes: &[u8]) {
    out.push('"');
    for c in String::from_utf8_lossy(bytes).chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn value(out: &mut String, kind: Kind, v: &[u8]) {
    match kind {
        Kind::Hidden => out.push_str("<hidden>"),
        Kind::Text => quoted(out, v),
        Kind::Identity => quoted(out, crate::logging::identity(v).as_bytes()),
        Kind::Integer if v.len() == 4 => {
            let _ = write!(out, "{}", u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        }
        Kind::Ipv4 if v.len() == 4 => {
            let _ = write!(out, "{}.{}.{}.{}", v[0], v[1], v[2], v[3]);
        }
        _ => hex(out, v),
    }
}

/// Microsoft vendor attributes (RFC 2548 §2): names; keys hidden.
fn microsoft(t: u8) -> (Option<&'static str>, bool) {
    match t {
        12 => (Some("MS-CHAP-MPPE-Keys"), true),
        16 => (Some("MS-MPPE-Send-Key"), true),
        17 => (Some("MS-MPPE-Recv-Key"), true),
        7 => (Some("MS-MPPE-Encryption-Policy"), false),
        8 => (Some("MS-MPPE-Encryption-Types"), false),
        _ => (None, false),
    }
}

/// Vendor-Specific (RFC 2865 §5.26): the vendor and its sub-attributes.
fn vendor_specific(out: &mut String, v: &[u8]) {
    if v.len() < 4 {
        hex(out, v);
        return;
    }
    let vendor = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
    let mut rest = &v[4..];
    let _ = write!(out, "vendor {vendor}");
    while rest.len() >= 2 {
        let (t, l) = (rest[0], usize::from(rest[1]));
        if l < 2 || l > rest.len() {
            break;
        }
        let sub = &rest[2..l];
        let (name, secret) = if vendor == 311 {
            microsoft(t)
        } else {
            (None, false)
        };
        match name {
            Some(n) => {
                let _ = write!(out, ", {n} = ");
            }
            None => {
                let _ = write!(out, ", attribute {t} = ");
            }
        }
        if secret {
            out.push_str("<hidden>");
        } else {
            hex(out, sub);
        }
        rest = &rest[l..];
    }
    if !rest.is_empty() {
        out.push_str(", trailing ");
        hex(out, rest);
    }
}

/// EAP methods (RFC 3748 §5, IANA).
fn eap_type_name(t: u8) -> Option<&'static str> {
    Some(match t {
        1 => "Identity",
        2 => "Notification",
        3 => "Nak",
        4 => "MD5-Challenge",
        13 => "TLS",
        18 => "SIM",
        21 => "TTLS",
        23 => "AKA",
        25 => "PEAP",
        50 => "AKA'",
        _ => return None,
    })
}

fn subtype_name(eap_type: u8, subtype: u8) -> Option<&'static str> {
    if eap_type == eap::sim::message::EAP_TYPE_SIM {
        use eap::sim::message::Subtype as S;
        Some(match S::from_value(subtype)? {
            S::Start => "SIM/Start",
            S::Challenge => "SIM/Challenge",
            S::Notification => "SIM/Notification",
            S::Reauthentication => "SIM/Re-authentication",
            S::ClientError => "SIM/Client-Error",
        })
    } else {
        use eap::aka::message::Subtype as S;
        Some(match S::from_value(subtype)? {
            S::Challenge => "AKA-Challenge",
            S::AuthenticationReject => "AKA-Authentication-Reject",
            S::SynchronizationFailure => "AKA-Synchronization-Failure",
            S::Identity => "AKA-Identity",
            S::Notification => "AKA-Notification",
            S::Reauthentication => "AKA-Reauthentication",
            S::ClientError => "AKA-Client-Error",
        })
    }
}

/// One EAP-AKA/AKA'/SIM attribute value (after type and length).
fn aka_value(out: &mut String, t: u8, v: &[u8]) {
    let u16_at = |i: usize| v.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    // Attributes that carry an actual length and then text.
    let text = |out: &mut String, identity: bool| match u16_at(0) {
        Some(n) if usize::from(n) <= v.len() - 2 => {
            let s = &v[2..2 + usize::from(n)];
            if identity {
                quoted(out, crate::logging::identity(s).as_bytes());
            } else {
                quoted(out, s);
            }
        }
        _ => hex(out, v),
    };
    match t {
        // AT_IDENTITY (RFC 4187 §10.5), AT_NEXT_PSEUDONYM / AT_NEXT_REAUTH_ID
        // (only ever inside AT_ENCR_DATA, shown in case a peer misplaces them).
        14 | 132 | 133 => text(out, true),
        // AT_KDF_INPUT: the network name (RFC 9048 §3.1).
        23 => text(out, false),
        // Two-byte values: AT_NOTIFICATION, AT_SELECTED_VERSION, AT_COUNTER,
        // AT_CLIENT_ERROR_CODE, AT_KDF, AT_RESULT_IND / AT_BIDDING flags.
        12 | 16 | 19 | 22 | 24 | 135 | 136 if v.len() == 2 => {
            let _ = write!(out, "{}", u16_at(0).unwrap_or(0));
        }
        // AT_RES: the length in bits, then RES (RFC 4187 §10.8).
        3 => match u16_at(0) {
            Some(bits) => {
                let _ = write!(out, "{bits} bits ");
                hex(out, &v[2..]);
            }
            None => hex(out, v),
        },
        // AT_VERSION_LIST (RFC 4186 §10.2): actual length, then versions.
        15 => match u16_at(0) {
            Some(n) if usize::from(n) <= v.len() - 2 => {
                let list: Vec<String> = v[2..2 + usize::from(n)]
                    .chunks(2)
                    .map(|c| match c {
                        [a, b] => u16::from_be_bytes([*a, *b]).to_string(),
                        _ => hex::encode(c),
                    })
                    .collect();
                out.push_str(&list.join(", "));
            }
            _ => hex(out, v),
        },
        // Flags: a reserved 2 bytes (AT_PERMANENT_ID_REQ, AT_ANY_ID_REQ,
        // AT_FULLAUTH_ID_REQ, AT_COUNTER_TOO_SMALL).
        10 | 13 | 17 | 20 if v.iter().all(|b| *b == 0) => out.push_str("(flag)"),
        // The rest: reserved 2 bytes, then the value (RAND, AUTN, MAC, IV,
        // ENCR_DATA, NONCE_*, CHECKCODE, AUTS...): printed in hex.
        4 => hex(out, v),
        _ => hex(out, v.get(2..).unwrap_or(v)),
    }
}

/// EAP-AKA/AKA'/SIM: subtype and attributes (RFC 4187 §8.1).
fn aka(out: &mut String, eap_type: u8, data: &[u8]) {
    let Some((&subtype, rest)) = data.split_first() else {
        out.push_str(" (no subtype)\n");
        return;
    };
    match subtype_name(eap_type, subtype) {
        Some(n) => {
            let _ = writeln!(out, " {n}");
        }
        None => {
            let _ = writeln!(out, " subtype {subtype}");
        }
    }
    let mut attrs = rest.get(2..).unwrap_or(&[]);
    while !attrs.is_empty() {
        let (t, len) = match attrs {
            [t, l, ..] => (*t, usize::from(*l) * 4),
            _ => (attrs[0], 0),
        };
        if len < 4 || len > attrs.len() {
            out.push_str("        (malformed attribute) ");
            hex(out, attrs);
            out.push('\n');
            return;
        }
        let ty = eap::aka::attr::AttrType(t);
        match ty.name() {
            Some(n) => {
                let _ = write!(out, "        {n} = ");
            }
            None => {
                let _ = write!(out, "        attribute {t} = ");
            }
        }
        aka_value(out, t, &attrs[2..len]);
        out.push('\n');
        attrs = &attrs[len..];
    }
}

/// The EAP packet carried in the EAP-Message attributes (RFC 3579 §3.1).
fn eap_packet(out: &mut String, eap: &[u8]) {
    let [code, id, l1, l2, rest @ ..] = eap else {
        out.push_str("    EAP (truncated) ");
        hex(out, eap);
        out.push('\n');
        return;
    };
    let len = usize::from(u16::from_be_bytes([*l1, *l2]));
    let code_name = match code {
        1 => "Request",
        2 => "Response",
        3 => "Success",
        4 => "Failure",
        _ => "code",
    };
    let _ = write!(out, "    EAP-{code_name} ({code}) Id {id} Length {len}");
    if len != eap.len() {
        let _ = write!(out, " (carried {} octets)", eap.len());
    }
    let body = &rest[..rest.len().min(len.saturating_sub(4))];
    let Some((&t, data)) = body.split_first() else {
        out.push('\n');
        return;
    };
    match eap_type_name(t) {
        Some(n) => {
            let _ = write!(out, " Type {n} ({t})");
        }
        None => {
            let _ = write!(out, " Type {t}");
        }
    }
    match t {
        1 => {
            out.push(' ');
            quoted(out, crate::logging::identity(data).as_bytes());
            out.push('\n');
        }
        2 => {
            out.push(' ');
            quoted(out, data);
            out.push('\n');
        }
        18 | 23 | 50 => aka(out, t, data),
        _ => {
            out.push(' ');
            hex(out, data);
            out.push('\n');
        }
    }
}

/// The text [`print`] writes: a header line, one line per attribute, the
/// EAP packet decoded after the attributes.
pub fn render(direction: Direction, peer: SocketAddr, packet: &[u8]) -> String {
    let mut out = String::with_capacity(256 + packet.len() * 3);
    let (verb, prep) = match direction {
        Direction::Received => ("Received", "from"),
        Direction::Sent => ("Sent", "to"),
    };
    let [code, id, l1, l2, ..] = packet else {
        let _ = writeln!(
            out,
            "(-) {verb} a {}-octet datagram {prep} {peer}: too short for RADIUS",
            packet.len()
        );
        return out;
    };
    let len = usize::from(u16::from_be_bytes([*l1, *l2]));
    match code_name(*code) {
        Some(n) => {
            let _ = write!(out, "{verb} {n} Id {id} {prep} {peer} length {len}");
        }
        None => {
            let _ = write!(out, "{verb} code {code} Id {id} {prep} {peer} length {len}");
        }
    }
    if len < 20 || len > packet.len() {
        let _ = writeln!(out, " (malformed: {} octets carried)", packet.len());
        return out;
    }
    out.push('\n');
    let mut attrs = &packet[20..len];
    let mut eap = Vec::new();
    while !attrs.is_empty() {
        let (t, l) = match attrs {
            [t, l, ..] => (*t, usize::from(*l)),
            _ => (attrs[0], 0),
        };
        if l < 2 || l > attrs.len() {
            out.push_str("    (malformed attribute) ");
            hex(&mut out, attrs);
            out.push('\n');
            break;
        }
        let v = &attrs[2..l];
        let (name, kind) = attribute(t);
        match name {
            Some(n) => {
                let _ = write!(out, "    {n} = ");
            }
            None => {
                let _ = write!(out, "    Attr-{t} = ");
            }
        }
        if t == 26 {
            vendor_specific(&mut out, v);
        } else if t == 79 {
            // Decoded below (its raw octets would show the identity in hex).
            let _ = write!(out, "<{} octets>", v.len());
        } else {
            value(&mut out, kind, v);
        }
        out.push('\n');
        if t == 79 {
            eap.extend_from_slice(v);
        }
        attrs = &attrs[l..];
    }
    if !eap.is_empty() {
        eap_packet(&mut out, &eap);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(t: u8, v: &[u8]) -> Vec<u8> {
        let mut a = vec![t, (v.len() + 2) as u8];
        a.extend_from_slice(v);
        a
    }

    fn packet(code: u8, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut p = vec![code, 7, 0, 0];
        p.extend_from_slice(&[0xaa; 16]);
        for a in attrs {
            p.extend_from_slice(a);
        }
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        p
    }

    #[test]
    fn access_request_with_eap_aka_identity() {
        // EAP-Response/AKA-Identity with AT_IDENTITY (RFC 4187 §9.2).
        let id = b"0001010000000042@wlan.mnc001.mcc001.3gppnetwork.org";
        let mut at = vec![14, 0, 0, id.len() as u8];
        at.extend_from_slice(id);
        while at.len() % 4 != 0 {
            at.push(0);
        }
        at[1] = (at.len() / 4) as u8;
        let mut eap = vec![2, 3, 0, 0, 23, 5, 0, 0];
        eap.extend_from_slice(&at);
        let l = eap.len() as u16;
        eap[2..4].copy_from_slice(&l.to_be_bytes());
        let p = packet(
            1,
            &[
                attr(1, id),
                attr(2, b"password-secret!"),
                attr(4, &[192, 0, 2, 1]),
                attr(79, &eap),
                attr(80, &[0x11; 16]),
            ],
        );
        let t = render(Direction::Received, "192.0.2.1:4000".parse().unwrap(), &p);
        assert!(
            t.starts_with("Received Access-Request Id 7 from 192.0.2.1:4000 length"),
            "{t}"
        );
        assert!(t.contains("User-Name = \"0001010*********@wlan"), "{t}");
        assert!(t.contains("User-Password = <hidden>"), "{t}");
        assert!(!t.contains("password-secret"), "{t}");
        assert!(t.contains("NAS-IP-Address = 192.0.2.1"), "{t}");
        assert!(t.contains("EAP-Response (2) Id 3"), "{t}");
        assert!(t.contains("Type AKA (23) AKA-Identity"), "{t}");
        assert!(t.contains("AT_IDENTITY = \"0001010*********@wlan"), "{t}");
        assert!(t.contains("Message-Authenticator = 0x1111"), "{t}");
    }

    #[test]
    fn mppe_keys_are_hidden() {
        let mut vsa = 311u32.to_be_bytes().to_vec();
        vsa.extend_from_slice(&[16, 36]);
        vsa.extend_from_slice(&[0x5a; 34]);
        vsa.extend_from_slice(&[17, 36]);
        vsa.extend_from_slice(&[0x5b; 34]);
        let p = packet(2, &[attr(26, &vsa), attr(79, &[3, 9, 0, 4])]);
        let t = render(Direction::Sent, "[::1]:1".parse().unwrap(), &p);
        assert!(t.starts_with("Sent Access-Accept Id 7 to [::1]:1"), "{t}");
        assert!(
            t.contains("vendor 311, MS-MPPE-Send-Key = <hidden>, MS-MPPE-Recv-Key = <hidden>"),
            "{t}"
        );
        assert!(!t.contains("5a5a") && !t.contains("5b5b"), "{t}");
        assert!(t.contains("EAP-Success (3) Id 9 Length 4"), "{t}");
    }

    #[test]
    fn eap_sim_start_by_name() {
        // EAP-Request/SIM/Start with AT_VERSION_LIST (1) and AT_ANY_ID_REQ (RFC 4186 §9.2).
        let eap = [
            1, 2, 0, 20, 18, 10, 0, 0, 15, 2, 0, 2, 0, 1, 0, 0, 13, 1, 0, 0,
        ];
        let p = packet(11, &[attr(79, &eap)]);
        let t = render(Direction::Sent, "127.0.0.1:1".parse().unwrap(), &p);
        assert!(t.contains("Type SIM (18) SIM/Start"), "{t}");
        assert!(t.contains("AT_VERSION_LIST = 1\n"), "{t}");
        assert!(t.contains("AT_ANY_ID_REQ = (flag)"), "{t}");
    }

    #[test]
    fn garbage_never_panics() {
        let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for p in [
            &[][..],
            &[1, 2, 3],
            &[
                1, 1, 0, 30, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 79, 1,
            ],
            &[
                1, 1, 0, 22, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 79, 2,
            ],
        ] {
            render(Direction::Received, peer, p);
        }
        let eap = [2, 1, 0, 12, 50, 1, 0, 0, 1, 9, 0, 0];
        let p = packet(1, &[attr(79, &eap)]);
        let t = render(Direction::Received, peer, &p);
        assert!(t.contains("(malformed attribute)"), "{t}");
    }
}
