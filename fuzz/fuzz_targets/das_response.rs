//! The Dynamic Authorization client's response path (RFC 5176): a datagram
//! claiming to answer a Disconnect- or CoA-Request. The first byte picks
//! how the rest is used: even — raw bytes from the NAS; odd — the rest as
//! the attributes of an answer with the right Identifier and correctly
//! computed authenticators (so Error-Cause and the ACK/NAK paths are
//! reached). No input may panic; an answer is matched at most once; a
//! CoA-NAK, and only that, brings one fallback Disconnect-Request.
#![no_main]

use aaa_server::authz::das::{DasClient, DasKind, Retry, SessionRef};
use aaa_server::radius::crypto::finish_response;
use libfuzzer_sys::fuzz_target;
use std::net::SocketAddr;
use std::time::Instant;

const SECRET: &[u8] = b"fuzzing";

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if rest.len() > 4096 {
        return;
    }
    let nas: SocketAddr = "192.0.2.1:3799".parse().expect("addr");
    let mut c = DasClient::new(Retry::default());
    let session = SessionRef {
        user_name: "user".into(),
        acct_session_id: "s".into(),
        calling_station_id: None,
    };
    let kind = if mode & 2 == 0 {
        DasKind::Disconnect
    } else {
        DasKind::Coa
    };
    let Ok(t) = c.request(nas, SECRET, kind, &session, &[], Instant::now(), 1) else {
        return;
    };
    let answer = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let code = 41 + (mode >> 2) % 5;
        let mut p = vec![code, t.bytes[1], 0, 0];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(rest);
        if p.len() > 4096 {
            return;
        }
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        let mut auth = [0u8; 16];
        auth.copy_from_slice(&t.bytes[4..20]);
        finish_response(&mut p, &auth, SECRET);
        p
    };
    let first = c.receive(nas, &answer);
    let again = c.receive(nas, &answer);
    assert!(!(first.is_ok() && again.is_ok()), "one answer matched twice");
    // A CoA-NAK becomes one Disconnect-Request, anything else none.
    if let Ok(ev) = &first {
        let fallback = c.disconnect_after(ev, Instant::now(), 1);
        let coa_nak = matches!(
            ev,
            aaa_server::authz::das::DasEvent::Nak {
                kind: DasKind::Coa,
                ..
            }
        );
        assert_eq!(fallback.is_some(), coa_nak);
        assert!(c.disconnect_after(ev, Instant::now(), 1).is_none());
    }
});
