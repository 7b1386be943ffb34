//! A readable transcript from a capture: each EAP message (direction, code,
//! type/subtype, key attributes), decoded with the `eap` crate's codec, and
//! each RADIUS message of the round trips.
//!
//! Reads the classic pcap format tcpdump writes (link types Linux cooked
//! v1/v2 for `-i any`, and Ethernet).

use eap::aka::attr::Attribute;
use eap::aka::message::Message;
use eap::packet::{Packet, TypeData};
use std::fmt::Write as _;

/// One frame of interest.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// EAPOL frame without EAP (Start = 1, Logoff = 2, …).
    Eapol {
        /// Seconds since the first frame.
        t: f64,
        /// EAPOL packet type.
        kind: u8,
    },
    /// EAP carried in EAPOL (station ↔ access point).
    Eap {
        /// Seconds since the first frame.
        t: f64,
        /// The raw EAP packet.
        eap: Vec<u8>,
    },
    /// A RADIUS packet (access point ↔ AAA).
    Radius {
        /// Seconds since the first frame.
        t: f64,
        /// RADIUS code.
        code: u8,
        /// RADIUS identifier.
        id: u8,
        /// EAP-Message attributes joined.
        eap: Option<Vec<u8>>,
        /// Whether Message-Authenticator (80) is present, and whether it is first.
        msg_auth: (bool, bool),
        /// Whether MS-MPPE-Send/Recv-Key are present.
        mppe: bool,
    },
}

/// Why a pcap cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("pcap: {0}")]
pub struct PcapError(String);

/// The cap for a capture given to `testbed transcript` (the bed's own are far smaller).
pub const MAX_PCAP: u64 = 256 * 1024 * 1024;

/// Reads at most `limit` bytes of `path`; a larger file (or `/dev/zero`) is
/// an error naming the file and the limit. The testbed's one bounded reader
/// for files a user hands it.
pub fn read_capped(path: &std::path::Path, limit: u64) -> crate::error::Result<Vec<u8>> {
    use crate::error::{Error, IoContext};
    use std::io::Read;
    let what = || path.display().to_string();
    let f = std::fs::File::open(path).ctx(what)?;
    let mut buf = Vec::new();
    f.take(limit.saturating_add(1))
        .read_to_end(&mut buf)
        .ctx(what)?;
    if buf.len() as u64 > limit {
        return Err(Error::Invalid(format!(
            "{}: larger than the {limit}-byte limit for this file",
            path.display()
        )));
    }
    Ok(buf)
}

/// Parses a pcap file into events.
pub fn parse_pcap(data: &[u8]) -> Result<Vec<Event>, PcapError> {
    if data.len() < 24 {
        return Err(PcapError("shorter than the file header".into()));
    }
    let magic = [data[0], data[1], data[2], data[3]];
    let (le, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (true, false),
        [0xa1, 0xb2, 0xc3, 0xd4] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (true, true),
        [0xa1, 0xb2, 0x3c, 0x4d] => (false, true),
        _ => {
            return Err(PcapError(format!(
                "unknown magic {magic:02x?} (pcapng is not read)"
            )));
        }
    };
    let u32_at = |b: &[u8], i: usize| -> u32 {
        let a = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    let linktype = u32_at(data, 20);
    let mut out = Vec::new();
    let mut off = 24;
    let mut t0: Option<f64> = None;
    while off + 16 <= data.len() {
        let sec = f64::from(u32_at(data, off));
        let frac = f64::from(u32_at(data, off + 4));
        let caplen = u32_at(data, off + 8) as usize;
        off += 16;
        let Some(frame) = data.get(off..off + caplen) else {
            return Err(PcapError(format!("truncated record at byte {off}")));
        };
        off += caplen;
        let ts = sec + frac / if nanos { 1e9 } else { 1e6 };
        let t = ts - *t0.get_or_insert(ts);
        let (ethertype, payload) = match linktype {
            276 if frame.len() >= 20 => (u16::from_be_bytes([frame[0], frame[1]]), &frame[20..]),
            113 if frame.len() >= 16 => (u16::from_be_bytes([frame[14], frame[15]]), &frame[16..]),
            1 if frame.len() >= 14 => (u16::from_be_bytes([frame[12], frame[13]]), &frame[14..]),
            _ => continue,
        };
        if let Some(ev) = decode_frame(t, ethertype, payload) {
            out.push(ev);
        }
    }
    Ok(out)
}

fn decode_frame(t: f64, ethertype: u16, p: &[u8]) -> Option<Event> {
    match ethertype {
        0x888e => {
            let kind = *p.get(1)?;
            let len = usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]));
            if kind == 0 {
                Some(Event::Eap {
                    t,
                    eap: p.get(4..4 + len)?.to_vec(),
                })
            } else {
                Some(Event::Eapol { t, kind })
            }
        }
        0x0800 => {
            let ihl = usize::from(p.first()? & 0x0f) * 4;
            if *p.get(9)? != 17 {
                return None;
            }
            let udp = p.get(ihl..)?;
            let sport = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
            let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
            if ![sport, dport].iter().any(|&x| x == 1812 || x == 1813) {
                return None;
            }
            decode_radius(t, udp.get(8..)?)
        }
        _ => None,
    }
}

fn decode_radius(t: f64, r: &[u8]) -> Option<Event> {
    let code = *r.first()?;
    let id = *r.get(1)?;
    let len = usize::from(u16::from_be_bytes([*r.get(2)?, *r.get(3)?]));
    let attrs = r.get(20..len)?;
    let mut eap: Option<Vec<u8>> = None;
    let (mut ma, mut ma_first, mut mppe) = (false, false, false);
    let mut i = 0;
    let mut first = true;
    while i + 2 <= attrs.len() {
        let (ty, l) = (attrs[i], usize::from(attrs[i + 1]));
        if l < 2 || i + l > attrs.len() {
            break;
        }
        let v = &attrs[i + 2..i + l];
        match ty {
            79 => eap.get_or_insert_with(Vec::new).extend_from_slice(v),
            80 => {
                ma = true;
                ma_first = first;
            }
            26 if v.len() >= 6 && v[0..4] == [0, 0, 1, 0x37] && matches!(v[4], 16 | 17) => {
                mppe = true;
            }
            _ => {}
        }
        first = false;
        i += l;
    }
    Some(Event::Radius {
        t,
        code,
        id,
        eap,
        msg_auth: (ma, ma_first),
        mppe,
    })
}

fn radius_code_name(c: u8) -> &'static str {
    match c {
        1 => "Access-Request",
        2 => "Access-Accept",
        3 => "Access-Reject",
        4 => "Accounting-Request",
        5 => "Accounting-Response",
        11 => "Access-Challenge",
        12 => "Status-Server",
        _ => "RADIUS(?)",
    }
}

fn subtype_name(m: &Message) -> String {
    format!("{:?}", m.subtype)
}

fn short_hex(b: &[u8]) -> String {
    let h = hex::encode(b);
    if h.len() > 12 {
        format!("{}…", &h[..12])
    } else {
        h
    }
}

/// Key attributes of an AKA message, one short phrase each.
fn aka_attrs(m: &Message) -> String {
    let mut parts: Vec<String> = Vec::new();
    for a in &m.attributes {
        let name = a.attr_type().to_string();
        let s = match a {
            Attribute::Rand(_) => m
                .rand()
                .map_or(name, |r| format!("AT_RAND={}", short_hex(r))),
            Attribute::Autn(_) => m
                .autn()
                .map_or(name, |x| format!("AT_AUTN={}", short_hex(&x.0))),
            Attribute::Res(_) => m
                .res()
                .map_or(name, |x| format!("AT_RES({} bytes)", x.as_bytes().len())),
            Attribute::Auts(_) => "AT_AUTS".into(),
            Attribute::Identity(_) => m.identity().map_or(name, |i| {
                format!("AT_IDENTITY=\"{}\"", String::from_utf8_lossy(i))
            }),
            Attribute::KdfInput(_) => m.kdf_input().map_or(name, |i| {
                format!("AT_KDF_INPUT=\"{}\"", String::from_utf8_lossy(i))
            }),
            Attribute::Kdf(_) => {
                let k: Vec<String> = m.kdfs().map(|k| k.to_string()).collect();
                if k.is_empty() {
                    name
                } else {
                    format!("AT_KDF={}", k.join(","))
                }
            }
            Attribute::Bidding(_) => match m.bidding() {
                Some(true) => "AT_BIDDING(D=1)".into(),
                Some(false) => "AT_BIDDING(D=0)".into(),
                None => name,
            },
            Attribute::ClientErrorCode(_) => m
                .client_error_code()
                .map_or(name, |c| format!("AT_CLIENT_ERROR_CODE={c}")),
            Attribute::Notification(_) => m
                .notification()
                .map_or(name, |n| format!("AT_NOTIFICATION={n:?}")),
            _ => name,
        };
        parts.push(s);
    }
    parts.join(" ")
}

/// Key attributes of an EAP-SIM message (RFC 4186), one short phrase each.
fn sim_attrs(m: &eap::sim::message::Message) -> String {
    let mut parts: Vec<String> = Vec::new();
    for a in &m.attributes {
        let name = a.attr_type().to_string();
        let s = match a.attr_type() {
            eap::sim::attr::AttrType::AT_RAND => m
                .rands()
                .map_or(name, |r| format!("AT_RAND(n={})", r.len())),
            eap::sim::attr::AttrType::AT_IDENTITY => m.identity().map_or(name, |i| {
                format!("AT_IDENTITY=\"{}\"", String::from_utf8_lossy(i))
            }),
            eap::sim::attr::AttrType::AT_NOTIFICATION => m
                .notification()
                .map_or(name, |n| format!("AT_NOTIFICATION={n:?}")),
            eap::sim::attr::AttrType::AT_CLIENT_ERROR_CODE => m
                .client_error_code()
                .map_or(name, |c| format!("AT_CLIENT_ERROR_CODE={c}")),
            _ => name,
        };
        parts.push(s);
    }
    parts.join(" ")
}

/// One EAP packet as a phrase: `Request/AKA'-Challenge id=2 AT_RAND=… AT_MAC`.
pub fn describe_eap(raw: &[u8]) -> String {
    let p = match Packet::decode(raw) {
        Ok(p) => p,
        Err(e) => return format!("undecodable EAP ({e}): {}", short_hex(raw)),
    };
    let id = p.identifier();
    let (code, data) = match &p {
        Packet::Request { data, .. } => ("Request", Some(data)),
        Packet::Response { data, .. } => ("Response", Some(data)),
        Packet::Success { .. } => ("Success", None),
        Packet::Failure { .. } => ("Failure", None),
    };
    let Some(data) = data else {
        return format!("EAP-{code} id={id}");
    };
    let body = match data {
        TypeData::Identity(i) => format!("Identity \"{}\"", String::from_utf8_lossy(i)),
        TypeData::Notification(_) => "Notification".into(),
        TypeData::Nak(d) => format!("Legacy-Nak desired={d:?}"),
        TypeData::Aka(m) => format!("AKA/{} {}", subtype_name(m), aka_attrs(m)),
        TypeData::AkaPrime(m) => format!("AKA'/{} {}", subtype_name(m), aka_attrs(m)),
        TypeData::Unknown(4, _) => "MD5-Challenge".into(),
        TypeData::Unknown(18, _) => match eap::sim::message::Message::from_type_data(data) {
            Some(Ok(m)) => format!("SIM/{:?} {}", m.subtype, sim_attrs(&m)),
            _ => "SIM (undecodable)".into(),
        },
        TypeData::Unknown(t, _) => format!("type {t}"),
    };
    format!("EAP-{code} id={id} {}", body.trim_end())
}

/// Renders the transcript: one line per event with time, direction and content.
pub fn render(events: &[Event]) -> String {
    let mut s = String::new();
    let mut pending: Option<(f64, u8)> = None;
    for ev in events {
        match ev {
            Event::Eapol { t, kind } => {
                let what = match kind {
                    1 => "EAPOL-Start",
                    2 => "EAPOL-Logoff",
                    _ => "EAPOL (other)",
                };
                let _ = writeln!(s, "{:>8.1} ms  station → AP    {what}", t * 1e3);
            }
            Event::Eap { t, eap } => {
                let dir = match eap.first() {
                    Some(2) => "station → AP  ",
                    _ => "AP → station  ",
                };
                let _ = writeln!(s, "{:>8.1} ms  {dir}  {}", t * 1e3, describe_eap(eap));
            }
            Event::Radius {
                t,
                code,
                id,
                eap,
                msg_auth,
                mppe,
            } => {
                let dir = if *code == 1 || *code == 4 || *code == 12 {
                    pending = Some((*t, *id));
                    "AP → AAA      "
                } else {
                    "AAA → AP      "
                };
                let mut line = format!(
                    "{:>8.1} ms  {dir}  RADIUS {} id={id}",
                    t * 1e3,
                    radius_code_name(*code)
                );
                if let Some(e) = eap {
                    let d = describe_eap(e);
                    let head: Vec<&str> = d.splitn(4, ' ').take(3).collect();
                    let _ = write!(line, " [{}]", head.join(" "));
                }
                if msg_auth.0 {
                    line.push_str(if msg_auth.1 {
                        " Message-Authenticator(first)"
                    } else {
                        " Message-Authenticator"
                    });
                }
                if *mppe {
                    line.push_str(" MS-MPPE-Send/Recv-Key");
                }
                if !matches!(code, 1 | 4 | 12)
                    && let Some((t0, rid)) = pending.take()
                    && rid == *id
                {
                    let _ = write!(line, " (round trip {:.1} ms)", (t - t0) * 1e3);
                }
                let _ = writeln!(s, "{line}");
            }
        }
    }
    s
}

/// Every EAP packet in the events (EAPOL-carried and RADIUS-carried), fully described.
pub fn eap_descriptions(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Eap { eap, .. } | Event::Radius { eap: Some(eap), .. } => {
                Some(describe_eap(eap))
            }
            _ => None,
        })
        .collect()
}

/// RADIUS round trips (Access-Request count) in the events.
pub fn radius_round_trips(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, Event::Radius { code: 1, .. }))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap_with(frames: &[Vec<u8>]) -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
        f.extend([0u8; 8]);
        f.extend(65535u32.to_le_bytes());
        f.extend(1u32.to_le_bytes()); // Ethernet
        for (i, fr) in frames.iter().enumerate() {
            f.extend(100u32.to_le_bytes());
            f.extend((i as u32 * 1000).to_le_bytes());
            f.extend((fr.len() as u32).to_le_bytes());
            f.extend((fr.len() as u32).to_le_bytes());
            f.extend(fr);
        }
        f
    }

    fn eapol(body: &[u8], kind: u8) -> Vec<u8> {
        let mut fr = vec![
            1, 0x80, 0xc2, 0, 0, 3, 2, 0, 0, 0, 0, 1, 0x88, 0x8e, 2, kind,
        ];
        fr.extend((body.len() as u16).to_be_bytes());
        fr.extend(body);
        fr
    }

    #[test]
    fn decodes_eapol_and_eap() {
        let ident = b"6001010000000001@wlan.mnc001.mcc001.3gppnetwork.org";
        let mut resp = vec![2, 1];
        resp.extend(((5 + ident.len()) as u16).to_be_bytes());
        resp.push(1);
        resp.extend(ident);
        let file = pcap_with(&[
            eapol(&[], 1),
            eapol(&[1, 1, 0, 5, 1], 0),
            eapol(&resp, 0),
            eapol(&[3, 2, 0, 4], 0),
        ]);
        let ev = parse_pcap(&file).unwrap();
        assert_eq!(ev.len(), 4);
        let text = render(&ev);
        assert!(text.contains("EAPOL-Start"), "{text}");
        assert!(
            text.contains("AP → station    EAP-Request id=1 Identity"),
            "{text}"
        );
        assert!(
            text.contains("EAP-Response id=1 Identity \"6001010000000001@"),
            "{text}"
        );
        assert!(text.contains("EAP-Success id=2"), "{text}");
        assert!(text.contains("   1.0 ms"), "{text}");
    }

    #[test]
    fn truncated_pcap_is_an_error_not_a_panic() {
        let mut file = pcap_with(&[eapol(&[], 1)]);
        file.truncate(file.len() - 3);
        assert!(parse_pcap(&file).is_err());
        assert!(parse_pcap(&[1, 2, 3]).is_err());
        assert_eq!(
            describe_eap(&[1, 1, 0]).split(' ').next(),
            Some("undecodable")
        );
    }
}
