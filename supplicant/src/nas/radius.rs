//! The NAS side of RADIUS as `supplicant probe` and the load generator need it, written
//! independently of the server's code so that it checks it: Access-Request
//! encoding with Message-Authenticator first (RFC 2865 §4.1, RFC 3579 §3.2),
//! response checks (Response Authenticator, RFC 2865 §3; Message-Authenticator,
//! RFC 3579 §3.2) and MS-MPPE-Send/Recv-Key decryption (RFC 2548 §2.4.2–2.4.3).
//!
//! Hand-written rather than through the `radius` crate: one allocation per
//! packet at tens of thousands of packets per second on a machine the server
//! shares, and a second implementation is what a probe or load generator that
//! verifies a server should be. The unit tests cross-check it against the `radius`
//! crate's decoder.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// Access-Request (RFC 2865 §4.1).
pub const ACCESS_REQUEST: u8 = 1;
/// Access-Accept (RFC 2865 §4.2).
pub const ACCESS_ACCEPT: u8 = 2;
/// Access-Reject (RFC 2865 §4.3).
pub const ACCESS_REJECT: u8 = 3;
/// Access-Challenge (RFC 2865 §4.4).
pub const ACCESS_CHALLENGE: u8 = 11;

/// User-Name (RFC 2865 §5.1).
pub const USER_NAME: u8 = 1;
/// Framed-MTU (RFC 2865 §5.12).
pub const FRAMED_MTU: u8 = 12;
/// State (RFC 2865 §5.24).
pub const STATE: u8 = 24;
/// Vendor-Specific (RFC 2865 §5.26).
pub const VENDOR_SPECIFIC: u8 = 26;
/// Calling-Station-Id (RFC 2865 §5.31).
pub const CALLING_STATION_ID: u8 = 31;
/// NAS-Identifier (RFC 2865 §5.32).
pub const NAS_IDENTIFIER: u8 = 32;
/// NAS-Port-Type (RFC 2865 §5.41).
pub const NAS_PORT_TYPE: u8 = 61;
/// EAP-Message (RFC 3579 §3.1).
pub const EAP_MESSAGE: u8 = 79;
/// Message-Authenticator (RFC 3579 §3.2).
pub const MESSAGE_AUTHENTICATOR: u8 = 80;
/// Microsoft's SMI enterprise number (RFC 2548 §2).
pub const VENDOR_MICROSOFT: u32 = 311;
/// MS-MPPE-Send-Key (RFC 2548 §2.4.2).
pub const MS_MPPE_SEND_KEY: u8 = 16;
/// MS-MPPE-Recv-Key (RFC 2548 §2.4.3).
pub const MS_MPPE_RECV_KEY: u8 = 17;
/// Largest packet (RFC 2865 §3).
pub const MAX_PACKET: usize = 4096;

/// Why a response was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    /// Shorter than the header, Length field wrong, or broken attribute framing.
    #[error("malformed RADIUS packet: {0}")]
    Malformed(&'static str),
    /// The Response Authenticator does not verify (RFC 2865 §3).
    #[error("bad Response Authenticator")]
    BadResponseAuthenticator,
    /// No Message-Authenticator though EAP-Message is present (RFC 3579 §3.2).
    #[error("response without Message-Authenticator")]
    MissingMessageAuthenticator,
    /// Message-Authenticator is not the first attribute (BlastRADIUS hardening).
    #[error("Message-Authenticator is not the first attribute")]
    MessageAuthenticatorNotFirst,
    /// The Message-Authenticator does not verify.
    #[error("bad Message-Authenticator")]
    BadMessageAuthenticator,
    /// An MS-MPPE key attribute that does not decrypt to a sane key.
    #[error("malformed MS-MPPE key attribute: {0}")]
    BadMppe(&'static str),
}

fn hmac_md5(secret: &[u8]) -> Hmac<Md5> {
    match <Hmac<Md5> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// One Access-Request being built: attributes appended in order, the
/// Message-Authenticator placeholder first.
#[derive(Debug)]
pub struct RequestBuilder {
    buf: Vec<u8>,
}

impl RequestBuilder {
    /// Starts an Access-Request with `identifier` and Request Authenticator
    /// `authenticator` (16 random octets, RFC 2865 §3), reusing `buf`.
    pub fn new(mut buf: Vec<u8>, identifier: u8, authenticator: &[u8; 16]) -> Self {
        buf.clear();
        buf.extend_from_slice(&[ACCESS_REQUEST, identifier, 0, 0]);
        buf.extend_from_slice(authenticator);
        buf.extend_from_slice(&[MESSAGE_AUTHENTICATOR, 18]);
        buf.extend_from_slice(&[0; 16]);
        Self { buf }
    }

    /// Appends one attribute; values longer than 253 octets are cut (callers
    /// split EAP-Message with [`eap_message`](Self::eap_message)).
    pub fn attr(&mut self, t: u8, v: &[u8]) -> &mut Self {
        let v = &v[..v.len().min(253)];
        self.buf.push(t);
        self.buf.push((v.len() + 2) as u8);
        self.buf.extend_from_slice(v);
        self
    }

    /// Appends EAP-Message attributes carrying `eap`, split at 253 octets (RFC 3579 §3.1).
    pub fn eap_message(&mut self, eap: &[u8]) -> &mut Self {
        for chunk in eap.chunks(253) {
            self.attr(EAP_MESSAGE, chunk);
        }
        self
    }

    /// Sets Length, computes the Message-Authenticator and returns the packet.
    /// `None` when the attributes exceed 4096 octets.
    pub fn finish(mut self, secret: &[u8]) -> Option<Vec<u8>> {
        let len = self.buf.len();
        if len > MAX_PACKET {
            return None;
        }
        self.buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        let mut mac = hmac_md5(secret);
        mac.update(&self.buf);
        let tag = mac.finalize().into_bytes();
        self.buf[22..38].copy_from_slice(&tag);
        Some(self.buf)
    }
}

/// A response that passed the authenticator checks.
#[derive(Debug)]
pub struct Response<'a> {
    /// Code (Access-Accept, -Reject, -Challenge, …).
    pub code: u8,
    /// Identifier.
    pub identifier: u8,
    packet: &'a [u8],
}

impl<'a> Response<'a> {
    /// The attributes as (type, value).
    pub fn attrs(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        AttrIter {
            rest: &self.packet[20..],
        }
    }

    /// The first attribute of type `t`.
    pub fn attr(&self, t: u8) -> Option<&'a [u8]> {
        self.attrs().find(|(at, _)| *at == t).map(|(_, v)| v)
    }

    /// The EAP-Message attributes joined (RFC 3579 §3.1).
    pub fn eap_message(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut any = false;
        for (t, v) in self.attrs() {
            if t == EAP_MESSAGE {
                any = true;
                out.extend_from_slice(v);
            }
        }
        any.then_some(out)
    }

    /// The decrypted MS-MPPE-Recv-Key and MS-MPPE-Send-Key (RFC 2548),
    /// each `None` when absent.
    #[allow(clippy::type_complexity)]
    pub fn mppe_keys(
        &self,
        secret: &[u8],
        request_authenticator: &[u8; 16],
    ) -> Result<(Option<Vec<u8>>, Option<Vec<u8>>), ResponseError> {
        let mut recv = None;
        let mut send = None;
        for (t, v) in self.attrs() {
            if t != VENDOR_SPECIFIC || v.len() < 6 {
                continue;
            }
            let vendor = u32::from_be_bytes([v[0], v[1], v[2], v[3]]);
            if vendor != VENDOR_MICROSOFT {
                continue;
            }
            let (vt, vl) = (v[4], usize::from(v[5]));
            if vl < 2 || vl != v.len() - 4 {
                return Err(ResponseError::BadMppe("vendor length"));
            }
            let value = &v[6..];
            let slot = match vt {
                MS_MPPE_RECV_KEY => &mut recv,
                MS_MPPE_SEND_KEY => &mut send,
                _ => continue,
            };
            *slot = Some(decrypt_mppe_key(value, secret, request_authenticator)?);
        }
        Ok((recv, send))
    }
}

struct AttrIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = (u8, &'a [u8]);
    fn next(&mut self) -> Option<Self::Item> {
        let [t, l, ..] = self.rest else {
            return None;
        };
        let l = usize::from(*l);
        // Framing was checked in `check_response`.
        let v = self.rest.get(2..l)?;
        let t = *t;
        self.rest = &self.rest[l..];
        Some((t, v))
    }
}

/// The EAP-Message attributes of a packet this NAS built, joined (RFC 3579
/// §3.1); `None` without any. Stops at the first attribute that does not fit.
pub fn eap_message_of(packet: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut any = false;
    let iter = AttrIter {
        rest: packet.get(20..)?,
    };
    for (t, v) in iter {
        if t == EAP_MESSAGE {
            any = true;
            out.extend_from_slice(v);
        }
    }
    any.then_some(out)
}

/// The identifier of a datagram, if it is long enough to be RADIUS.
pub fn identifier(packet: &[u8]) -> Option<u8> {
    (packet.len() >= 20).then(|| packet[1])
}

/// Checks a response to the request whose authenticator was
/// `request_authenticator`: framing, Response Authenticator, and the
/// Message-Authenticator (required when EAP-Message is present, and — with
/// `ma_first` — the first attribute, as BlastRADIUS-hardened servers send it).
pub fn check_response<'a>(
    packet: &'a [u8],
    secret: &[u8],
    request_authenticator: &[u8; 16],
    ma_first: bool,
) -> Result<Response<'a>, ResponseError> {
    if packet.len() < 20 {
        return Err(ResponseError::Malformed("shorter than the header"));
    }
    let len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if !(20..=MAX_PACKET).contains(&len) || len > packet.len() {
        return Err(ResponseError::Malformed("Length field"));
    }
    let packet = &packet[..len];
    // Framing and where the Message-Authenticator sits.
    let mut i = 20;
    let mut ma_at = None;
    let mut first = true;
    let mut has_eap = false;
    while i < len {
        let Some(&l) = packet.get(i + 1) else {
            return Err(ResponseError::Malformed("attribute header cut"));
        };
        let l = usize::from(l);
        if l < 2 || i + l > len {
            return Err(ResponseError::Malformed("attribute length"));
        }
        match packet[i] {
            MESSAGE_AUTHENTICATOR => {
                if l != 18 || ma_at.is_some() {
                    return Err(ResponseError::BadMessageAuthenticator);
                }
                if ma_first && !first {
                    return Err(ResponseError::MessageAuthenticatorNotFirst);
                }
                ma_at = Some(i + 2);
            }
            EAP_MESSAGE => has_eap = true,
            _ => {}
        }
        first = false;
        i += l;
    }
    // Response Authenticator = MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
    let mut md = Md5::new();
    md.update(&packet[..4]);
    md.update(request_authenticator);
    md.update(&packet[20..]);
    md.update(secret);
    let expect = md.finalize();
    if !bool::from(expect[..].ct_eq(&packet[4..20])) {
        return Err(ResponseError::BadResponseAuthenticator);
    }
    match ma_at {
        Some(at) => {
            // HMAC over the packet with the Request Authenticator in place
            // and the Message-Authenticator value zeroed.
            let mut mac = hmac_md5(secret);
            mac.update(&packet[..4]);
            mac.update(request_authenticator);
            mac.update(&packet[20..at]);
            mac.update(&[0; 16]);
            mac.update(&packet[at + 16..]);
            if mac.verify_slice(&packet[at..at + 16]).is_err() {
                return Err(ResponseError::BadMessageAuthenticator);
            }
        }
        None if has_eap => return Err(ResponseError::MissingMessageAuthenticator),
        None => {}
    }
    Ok(Response {
        code: packet[0],
        identifier: packet[1],
        packet,
    })
}

/// Decrypts an MS-MPPE-Send/Recv-Key value (salt ‖ encrypted string), RFC 2548 §2.4.2.
pub fn decrypt_mppe_key(
    value: &[u8],
    secret: &[u8],
    request_authenticator: &[u8; 16],
) -> Result<Vec<u8>, ResponseError> {
    if value.len() < 2 + 16 || !(value.len() - 2).is_multiple_of(16) {
        return Err(ResponseError::BadMppe("length"));
    }
    let (salt, c) = value.split_at(2);
    if salt[0] & 0x80 == 0 {
        return Err(ResponseError::BadMppe("salt high bit clear"));
    }
    let mut p = Vec::with_capacity(c.len());
    let mut prev: &[u8] = &[];
    for (n, block) in c.chunks(16).enumerate() {
        let mut md = Md5::new();
        md.update(secret);
        if n == 0 {
            md.update(request_authenticator);
            md.update(salt);
        } else {
            md.update(prev);
        }
        let b = md.finalize();
        p.extend(block.iter().zip(b.iter()).map(|(x, y)| x ^ y));
        prev = block;
    }
    let klen = usize::from(p[0]);
    if klen == 0 || klen + 1 > p.len() {
        return Err(ResponseError::BadMppe("key length byte"));
    }
    Ok(p[1..=klen].to_vec())
}

/// Encrypts an MS-MPPE key (RFC 2548 §2.4.2) — for tests of [`decrypt_mppe_key`].
pub fn encrypt_mppe_key(
    key: &[u8],
    salt: [u8; 2],
    secret: &[u8],
    request_authenticator: &[u8; 16],
) -> Vec<u8> {
    let mut p = vec![key.len() as u8];
    p.extend_from_slice(key);
    while !p.len().is_multiple_of(16) {
        p.push(0);
    }
    let mut out = salt.to_vec();
    for n in 0..p.len() / 16 {
        let mut md = Md5::new();
        md.update(secret);
        if n == 0 {
            md.update(request_authenticator);
            md.update(salt);
        } else {
            md.update(&out[2 + (n - 1) * 16..2 + n * 16]);
        }
        let b = md.finalize();
        let block: Vec<u8> = p[n * 16..(n + 1) * 16]
            .iter()
            .zip(b.iter())
            .map(|(x, y)| x ^ y)
            .collect();
        out.extend_from_slice(&block);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"testing123";

    /// Builds a server response the way RFC 2865/3579 say, for the checks.
    fn response(code: u8, id: u8, req_auth: &[u8; 16], attrs: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut p = vec![code, id, 0, 0];
        p.extend_from_slice(req_auth);
        p.extend_from_slice(&[MESSAGE_AUTHENTICATOR, 18]);
        p.extend_from_slice(&[0; 16]);
        for (t, v) in attrs {
            p.push(*t);
            p.push((v.len() + 2) as u8);
            p.extend_from_slice(v);
        }
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let mut mac = hmac_md5(SECRET);
        mac.update(&p);
        let tag = mac.finalize().into_bytes();
        p[22..38].copy_from_slice(&tag);
        let mut md = Md5::new();
        md.update(&p);
        md.update(SECRET);
        let ra = md.finalize();
        p[4..20].copy_from_slice(&ra);
        p
    }

    #[test]
    fn request_decodes_with_the_radius_crate_and_its_message_authenticator_verifies() {
        let auth = [7u8; 16];
        let eap = vec![2u8; 600];
        let mut b = RequestBuilder::new(Vec::new(), 42, &auth);
        b.attr(USER_NAME, b"0001010000000001@wlan")
            .eap_message(&eap)
            .attr(STATE, b"st");
        let pkt = b.finish(SECRET).unwrap();
        let decoded = radius::core::packet::Packet::decode(&pkt, SECRET).unwrap();
        assert_eq!(decoded.get_identifier(), 42);
        assert_eq!(
            radius::core::rfc2869::lookup_eap_message(&decoded).unwrap_or_default(),
            eap
        );
        // Message-Authenticator first, and correct.
        assert_eq!(pkt[20], MESSAGE_AUTHENTICATOR);
        let mut z = pkt.clone();
        z[22..38].fill(0);
        let mut mac = hmac_md5(SECRET);
        mac.update(&z);
        mac.verify_slice(&pkt[22..38]).unwrap();
    }

    #[test]
    fn accepts_a_good_response_and_rejects_tampering() {
        let ra = [3u8; 16];
        let good = response(ACCESS_CHALLENGE, 9, &ra, &[(EAP_MESSAGE, vec![1, 9, 0, 4])]);
        let r = check_response(&good, SECRET, &ra, true).unwrap();
        assert_eq!(r.code, ACCESS_CHALLENGE);
        assert_eq!(r.eap_message().unwrap(), vec![1, 9, 0, 4]);
        // Wrong request authenticator (a stale answer to an earlier request).
        assert_eq!(
            check_response(&good, SECRET, &[4u8; 16], true).unwrap_err(),
            ResponseError::BadResponseAuthenticator
        );
        assert_eq!(
            check_response(&good, b"other", &ra, true).unwrap_err(),
            ResponseError::BadResponseAuthenticator
        );
        let mut bad = good.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert!(check_response(&bad, SECRET, &ra, true).is_err());
        for n in 0..good.len() {
            let _ = check_response(&good[..n], SECRET, &ra, true);
        }
    }

    #[test]
    fn message_authenticator_must_be_first() {
        let ra = [5u8; 16];
        let mut p = vec![ACCESS_ACCEPT, 1, 0, 0];
        p.extend_from_slice(&ra);
        p.extend_from_slice(&[USER_NAME, 3, b'a', MESSAGE_AUTHENTICATOR, 18]);
        p.extend_from_slice(&[0; 16]);
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let mut md = Md5::new();
        md.update(&p);
        md.update(SECRET);
        let x = md.finalize();
        p[4..20].copy_from_slice(&x);
        assert_eq!(
            check_response(&p, SECRET, &ra, true).unwrap_err(),
            ResponseError::MessageAuthenticatorNotFirst
        );
        // Not first is accepted when not required, but the value is still checked.
        assert_eq!(
            check_response(&p, SECRET, &ra, false).unwrap_err(),
            ResponseError::BadMessageAuthenticator
        );
    }

    #[test]
    fn mppe_round_trip() {
        let ra = [0x11u8; 16];
        let key: Vec<u8> = (0..32).collect();
        let enc = encrypt_mppe_key(&key, [0x81, 0x02], SECRET, &ra);
        assert_eq!(enc.len(), 2 + 48);
        assert_eq!(decrypt_mppe_key(&enc, SECRET, &ra).unwrap(), key);
        assert_ne!(
            decrypt_mppe_key(&enc, SECRET, &[0x12; 16]).ok(),
            Some(key.clone())
        );
        assert!(decrypt_mppe_key(&enc[..20], SECRET, &ra).is_err());
        let mut vsa = VENDOR_MICROSOFT.to_be_bytes().to_vec();
        vsa.push(MS_MPPE_RECV_KEY);
        vsa.push((enc.len() + 2) as u8);
        vsa.extend_from_slice(&enc);
        let pkt = response(ACCESS_ACCEPT, 1, &ra, &[(VENDOR_SPECIFIC, vsa)]);
        let r = check_response(&pkt, SECRET, &ra, true).unwrap();
        let (recv, send) = r.mppe_keys(SECRET, &ra).unwrap();
        assert_eq!(recv.unwrap(), key);
        assert!(send.is_none());
    }
}
