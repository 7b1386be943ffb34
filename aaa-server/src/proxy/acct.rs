//! Accounting proxying (RFC 2866 §2, RFC 2865 §2.3), sans-IO: an
//! Accounting-Request whose User-Name realm is proxied (`action = "proxy"`
//! or `"discover"`) goes to the realm's home servers with the same per-hop
//! rules as an Access-Request ([`Forward`]): the NAS's Proxy-State kept and
//! ours appended, Operator-Name added when absent, Message-Authenticator
//! made anew (when the NAS sent one), and the Request Authenticator
//! computed with the home secret (RFC 2866 §3). The Accounting-Response is
//! checked against that authenticator and our Proxy-State, then re-signed
//! for the NAS by the RADIUS server.
//!
//! Where it goes: a `udp://HOST:PORT` server on PORT + 1 (the authentication
//! port plus one, as FreeRADIUS `type = auth+acct` home servers and the
//! 1812/1813 assignment of RFC 2866 §3 do); a `radsec://` server on the
//! same TLS connection (RFC 6614 §2.2 carries both). A request no home
//! server answers gets no Accounting-Response (RFC 2866 §4.1: answer only
//! once recorded); the NAS retransmits.

use super::{AnswerError, Forward, PROXY_STATE, Proxy, ProxyError, RealmAction, bump};
use crate::radius::{crypto, wire};
use radius::core::code::Code;
use std::net::SocketAddr;

impl Proxy {
    /// The realm row an Accounting-Request with this User-Name is forwarded
    /// to (`action = "proxy"` or `"discover"`); `None`: recorded here
    /// (`"local"`, `"reject"`, no realm, no matching row).
    pub fn route_accounting(&self, user_name: Option<&[u8]>) -> Option<usize> {
        let i = self.best(user_name)?;
        matches!(
            self.realms[i].action,
            RealmAction::Proxy { .. } | RealmAction::Discover
        )
        .then_some(i)
    }

    /// Counts an Accounting-Request routed to a home server.
    pub(crate) fn count_accounting_proxied(&self) {
        bump(&self.counters.accounting_proxied);
    }

    /// Counts an Accounting-Request no home server answered.
    pub(crate) fn count_accounting_unanswered(&self) {
        bump(&self.counters.accounting_unanswered);
    }
}

impl Forward {
    /// Prepares Accounting-Request `req` (checked by the RADIUS server) for
    /// realm `realm`. Its State, if any, leads nowhere: accounting is not
    /// part of an EAP conversation.
    ///
    /// # Errors
    /// As [`Forward::new`].
    pub fn accounting(
        req: &wire::Request<'_>,
        realm: usize,
        operator_name: Option<&str>,
        proxy_state: [u8; 8],
    ) -> Result<Self, ProxyError> {
        let sign = req.first(crypto::MESSAGE_AUTHENTICATOR).is_some();
        let mut f = Forward::new(req, realm, operator_name, proxy_state)?;
        f.code = Code::AccountingRequest;
        f.sign = sign;
        f.state = None;
        Ok(f)
    }

    /// Where this request goes at a `udp://` home server configured as
    /// `addr` (its authentication port): `addr` itself, or the port after
    /// it for an Accounting-Request.
    pub fn home_addr(&self, addr: SocketAddr) -> SocketAddr {
        match (self.is_accounting(), addr.port().checked_add(1)) {
            (true, Some(port)) => SocketAddr::new(addr.ip(), port),
            _ => addr,
        }
    }
}

/// An Accounting-Request with `attrs` (encoded): Message-Authenticator
/// first when `sign`, computed with the Authenticator field zeroed (as
/// FreeRADIUS and RFC 5176 do), then the Request Authenticator
/// MD5(Code‖Identifier‖Length‖16 zero octets‖Attributes‖Secret) (RFC 2866 §3).
pub(super) fn request(attrs: &[u8], sign: bool, identifier: u8, secret: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    use md5::{Digest, Md5};
    let mut p = Vec::with_capacity(38 + attrs.len());
    p.extend_from_slice(&[Code::AccountingRequest as u8, identifier, 0, 0]);
    p.extend_from_slice(&[0; 16]);
    if sign {
        p.extend_from_slice(&[crypto::MESSAGE_AUTHENTICATOR, 18]);
        p.extend_from_slice(&[0; 16]);
    }
    p.extend_from_slice(attrs);
    let len = (p.len() as u16).to_be_bytes();
    p[2..4].copy_from_slice(&len);
    if sign {
        let mut m = crypto::hmac_md5(secret);
        m.update(&p);
        let ma = m.finalize().into_bytes();
        p[22..38].copy_from_slice(&ma);
    }
    let mut h = Md5::new();
    h.update(&p);
    h.update(secret);
    let auth = h.finalize();
    p[4..20].copy_from_slice(&auth);
    p
}

/// Whether `packet` (exactly Length octets) is signed as a response to a
/// request with Request Authenticator `authenticator`: the Response
/// Authenticator MD5(Code‖Identifier‖Length‖RequestAuth‖Attributes‖Secret),
/// and a Message-Authenticator if there is one, computed over the packet
/// with either the Request Authenticator (RFC 3579 §3.2 style, ours before,
/// hostapd) or sixteen zeros (FreeRADIUS) in the Authenticator field.
pub fn check_accounting_response(packet: &[u8], authenticator: &[u8; 16], secret: &[u8]) -> bool {
    use md5::{Digest, Md5};
    use subtle::ConstantTimeEq;
    if packet.len() < 20 {
        return false;
    }
    let mut h = Md5::new();
    h.update(&packet[..4]);
    h.update(authenticator);
    h.update(&packet[20..]);
    h.update(secret);
    if !bool::from(h.finalize().as_slice().ct_eq(&packet[4..20])) {
        return false;
    }
    let mut with_req = packet.to_vec();
    with_req[4..20].copy_from_slice(authenticator);
    crypto::check_request(&with_req, secret, false) != crypto::MaCheck::Invalid
        || crypto::check_request(packet, secret, true) == crypto::MaCheck::Valid
}

/// Checks a home server's Accounting-Response to our request (Request
/// Authenticator `authenticator`): Response Authenticator, Message-
/// Authenticator if present (FreeRADIUS sends none), our Proxy-State; and
/// makes the response for the NAS (identifier `nas_identifier`, every
/// attribute but Proxy-State and Message-Authenticator).
pub(super) fn answer(
    resp: &wire::Request<'_>,
    authenticator: &[u8; 16],
    home_secret: &[u8],
    proxy_state: &[u8; 8],
    nas_identifier: u8,
) -> Result<wire::Response, AnswerError> {
    if !check_accounting_response(resp.bytes(), authenticator, home_secret) {
        return Err(AnswerError::BadAuthenticator);
    }
    if resp.code() != Code::AccountingResponse {
        return Err(AnswerError::UnexpectedCode);
    }
    if !resp.all(PROXY_STATE).any(|v| v == proxy_state) {
        return Err(AnswerError::ProxyStateMissing);
    }
    let mut out = wire::Response::new(Code::AccountingResponse, nas_identifier);
    for a in resp.attrs() {
        if !matches!(a.typ, crypto::MESSAGE_AUTHENTICATOR | PROXY_STATE) {
            out.attr(a.typ, a.value);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::{OPERATOR_NAME, Route};
    use super::*;
    use crate::radius::crypto::{MaCheck, check_request, check_response, finish_response};
    use md5::{Digest, Md5};
    use radius::core::packet::Packet;

    const TABLE: &str = r#"
[[client]]
network = "127.0.0.1/32"
secret = "nas"
[hss]
database = "/tmp/x.db"
[[realm]]
name = "wlan.mnc001.mcc001.3gppnetwork.org"
action = "local"
[[realm]]
name = "*.partner.example"
action = "proxy"
servers = ["udp://127.0.0.1:1812"]
secret = "home"
[[realm]]
name = "*"
action = "reject"
"#;

    /// An Accounting-Start from the NAS (secret `nas`), with or without
    /// Message-Authenticator.
    fn nas_accounting(ma: bool) -> Vec<u8> {
        let mut p = vec![4, 42, 0, 0];
        p.extend_from_slice(&[0; 16]);
        if ma {
            p.extend_from_slice(&[80, 18]);
            p.extend_from_slice(&[0; 16]);
        }
        let mut add = |t: u8, v: &[u8]| {
            p.push(t);
            p.push(v.len() as u8 + 2);
            p.extend_from_slice(v);
        };
        add(1, b"user@x.partner.example");
        add(40, &1u32.to_be_bytes());
        add(44, b"sess-1");
        add(33, b"nas-ps-1");
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        if ma {
            use hmac::Mac;
            let mut m = crypto::hmac_md5(b"nas");
            m.update(&p);
            let v = m.finalize().into_bytes();
            p[22..38].copy_from_slice(&v);
        }
        let mut h = Md5::new();
        h.update(&p);
        h.update(b"nas");
        let a = h.finalize();
        p[4..20].copy_from_slice(&a);
        p
    }

    fn forward(ma: bool) -> Forward {
        let raw = nas_accounting(ma);
        let req = wire::Request::new_checked(&raw).unwrap();
        Forward::accounting(&req, 1, Some("1visited.example"), *b"ourstate").unwrap()
    }

    #[test]
    fn accounting_routes_to_proxied_realms_only() {
        let cfg = crate::config::Config::parse(TABLE, std::path::Path::new("aaa.toml")).unwrap();
        let p = Proxy::new(&cfg.proxy);
        let r = |u: &str| p.route_accounting(Some(u.as_bytes()));
        assert_eq!(r("a@x.partner.example"), Some(1));
        assert_eq!(r("0001@wlan.mnc001.mcc001.3gppnetwork.org"), None);
        assert_eq!(
            r("a@elsewhere.example"),
            None,
            "reject realm: recorded here"
        );
        assert_eq!(r("no-realm"), None);
        assert_eq!(p.counters().rejected_by_realm, 0, "not an Access-Reject");
        assert_eq!(p.route(Some(b"a@x.partner.example")), Route::Proxy(1));
    }

    #[test]
    fn accounting_request_authenticator_is_computed_with_the_home_secret() {
        for ma in [true, false] {
            let f = forward(ma);
            assert!(f.is_accounting());
            assert_eq!(f.state, None);
            let out = f.request(7, &[5; 16], b"home");
            let view = wire::Request::new_checked(&out).unwrap();
            assert_eq!(
                (view.code(), view.identifier()),
                (Code::AccountingRequest, 7)
            );
            assert_ne!(view.authenticator(), [5; 16], "RFC 2866 §3, not random");
            // Checked by the `radius` crate, which we did not write.
            assert!(Packet::is_authentic_request(&out, b"home"));
            assert!(!Packet::is_authentic_request(&out, b"nas"));
            let want = if ma { MaCheck::Valid } else { MaCheck::Missing };
            assert_eq!(check_request(&out, b"home", true), want);
            let ps: Vec<&[u8]> = view.all(PROXY_STATE).collect();
            assert_eq!(ps, [&b"nas-ps-1"[..], b"ourstate"]);
            assert_eq!(view.first(OPERATOR_NAME), Some(&b"1visited.example"[..]));
            assert_eq!(view.first(44), Some(&b"sess-1"[..]));
            assert_eq!(f.realm_name, "x.partner.example");
        }
    }

    #[test]
    fn udp_accounting_goes_to_the_port_after_the_auth_port() {
        let f = forward(false);
        let a: SocketAddr = "192.0.2.1:1812".parse().unwrap();
        assert_eq!(f.home_addr(a), "192.0.2.1:1813".parse().unwrap());
        let top: SocketAddr = "192.0.2.1:65535".parse().unwrap();
        assert_eq!(f.home_addr(top), top);
        let raw = nas_accounting(false);
        let mut access = raw.clone();
        access[0] = 1;
        let req = wire::Request::new_checked(&access).unwrap();
        let fa = Forward::new(&req, 1, None, [0; 8]).unwrap();
        assert_eq!(fa.home_addr(a), a);
    }

    /// The home server's Accounting-Response to `out`; `ma`: signed with
    /// Message-Authenticator (as our server does) or not (FreeRADIUS).
    fn home_response(out: &[u8], code: Code, ma: bool, ps: &[&[u8]]) -> Vec<u8> {
        let view = wire::Request::new_checked(out).unwrap();
        let auth = view.authenticator();
        let mut r = wire::Response::new(code, view.identifier());
        r.attr(18, b"thanks");
        for p in ps {
            r.attr(PROXY_STATE, p);
        }
        let mut b = r.into_bytes().unwrap();
        if ma {
            assert!(finish_response(&mut b, &auth, b"home"));
            return b;
        }
        // Drop the leading Message-Authenticator, then sign by hand.
        b.drain(20..38);
        let l = b.len() as u16;
        b[2..4].copy_from_slice(&l.to_be_bytes());
        let mut h = Md5::new();
        h.update(&b[..4]);
        h.update(auth);
        h.update(&b[20..]);
        h.update(b"home");
        let a = h.finalize();
        b[4..20].copy_from_slice(&a);
        b
    }

    #[test]
    fn accounting_response_is_checked_and_rewritten_for_the_nas() {
        let f = forward(true);
        let out = f.request(7, &[5; 16], b"home");
        let mut auth = [0u8; 16];
        auth.copy_from_slice(&out[4..20]);
        let nas_auth = [9u8; 16];
        for ma in [true, false] {
            let ans = home_response(
                &out,
                Code::AccountingResponse,
                ma,
                &[b"nas-ps-1", b"ourstate"],
            );
            let (resp, state) = f
                .answer_with_state(&ans, 7, &auth, b"home", 42, b"nas", &nas_auth)
                .unwrap();
            assert_eq!(state, None);
            let mut r = resp;
            r.attr(PROXY_STATE, b"nas-ps-1");
            let mut b = r.into_bytes().unwrap();
            assert!(finish_response(&mut b, &nas_auth, b"nas"));
            assert!(check_response(&b, &nas_auth, b"nas"));
            let v = wire::Request::new_checked(&b).unwrap();
            assert_eq!((v.code(), v.identifier()), (Code::AccountingResponse, 42));
            assert_eq!(v.all(PROXY_STATE).collect::<Vec<_>>(), [b"nas-ps-1"]);
            assert_eq!(v.first(18), Some(&b"thanks"[..]));
        }
        let e = |d: &[u8], a: &[u8; 16], s: &[u8]| match f
            .answer_with_state(d, 7, a, s, 42, b"nas", &nas_auth)
        {
            Err(e) => e,
            Ok(_) => panic!("accepted"),
        };
        let good = home_response(&out, Code::AccountingResponse, true, &[b"ourstate"]);
        assert_eq!(e(&good, &auth, b"other"), AnswerError::BadAuthenticator);
        assert_eq!(e(&good, &[5; 16], b"home"), AnswerError::BadAuthenticator);
        let accept = home_response(&out, Code::AccessAccept, true, &[b"ourstate"]);
        assert_eq!(e(&accept, &auth, b"home"), AnswerError::UnexpectedCode);
        let no_ps = home_response(&out, Code::AccountingResponse, false, &[b"nas-ps-1"]);
        assert_eq!(e(&no_ps, &auth, b"home"), AnswerError::ProxyStateMissing);
        let mut bad_ma = good.clone();
        bad_ma[25] ^= 1;
        // Re-sign the Response Authenticator so only the MA is wrong.
        let mut h = Md5::new();
        h.update(&bad_ma[..4]);
        h.update(auth);
        h.update(&bad_ma[20..]);
        h.update(b"home");
        let a = h.finalize();
        bad_ma[4..20].copy_from_slice(&a);
        assert_eq!(e(&bad_ma, &auth, b"home"), AnswerError::BadAuthenticator);
    }

    #[test]
    fn status_server_answer_on_the_accounting_port() {
        let probe = super::super::status_server(3, &[1; 16], b"home");
        let mut r = wire::Response::new(Code::AccountingResponse, 3);
        r.attr(18, b"ok");
        let mut b = r.into_bytes().unwrap();
        assert!(finish_response(&mut b, &[1; 16], b"home"));
        assert!(super::super::is_status_answer(&b, 3, &[1; 16], b"home"));
        assert_eq!(probe[0], Code::StatusServer as u8);
    }
}
