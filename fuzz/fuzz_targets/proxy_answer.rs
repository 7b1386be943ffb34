//! The proxy's untrusted inputs: a home server's datagram checked and
//! rewritten for the NAS (`Forward::answer`), and a NAS's request rewritten
//! for the home server (`Forward::new`, `Forward::request`). The first byte
//! picks: even — the rest is a home server's answer to a fixed request
//! (half the time with a correct Response Authenticator and
//! Message-Authenticator, so the attribute walk and the MS-MPPE
//! re-encryption are reached; the State of an Access-Challenge goes into
//! the conversation map, `Forward::answer_with_state`, `proxy::ttl`); odd —
//! the rest is a NAS's request (also read for a Chargeable-User-Identity
//! request, `cui::requested`). Bit 2 of the first byte: the same as an
//! Accounting-Request (`Forward::accounting`, its computed Request
//! Authenticator, an Accounting-Response). No input may panic.
#![no_main]

use aaa_server::proxy::Forward;
use aaa_server::radius::{crypto, wire};
use libfuzzer_sys::fuzz_target;

const HOME: &[u8] = b"home";
const AUTH: [u8; 16] = [5; 16];

fn nas_request(code: u8) -> Vec<u8> {
    let mut p = vec![code, 42, 0, 0];
    p.extend_from_slice(&[9; 16]);
    p.extend_from_slice(&[1, 8, b'a', b'@', b'x', b'.', b'e', b'x']);
    p.extend_from_slice(&[79, 7, 2, 1, 0, 5, 1]);
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    if sel & 1 == 1 {
        if let Ok(req) = wire::Request::new_checked(rest) {
            let _ = aaa_server::cui::requested(&req, "nas");
            if let Ok(f) = Forward::new(&req, 0, Some("1visited.example"), [7; 8]) {
                let out = f.request(1, &AUTH, HOME);
                assert!(wire::Request::new_checked(&out).is_ok());
            }
            if let Ok(f) = Forward::accounting(&req, 0, Some("1visited.example"), [7; 8]) {
                let out = f.request(1, &AUTH, HOME);
                assert!(wire::Request::new_checked(&out).is_ok());
            }
        }
        return;
    }
    let acct = sel & 4 == 4;
    let raw = nas_request(if acct { 4 } else { 1 });
    let req = wire::Request::new_checked(&raw).expect("fixed request");
    let f = if acct {
        Forward::accounting(&req, 0, None, [7; 8])
    } else {
        Forward::new(&req, 0, None, [7; 8])
    }
    .expect("fixed request");
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&f.request(1, &AUTH, HOME)[4..20]);
    let mut answer = rest.to_vec();
    if sel & 2 == 2 && answer.len() >= 20 {
        // Make it authentic: code, identifier 1, Length, a zeroed MA first,
        // our Proxy-State, then the fuzzed attributes.
        let mut p = vec![2, 1, 0, 0];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[33, 10, 7, 7, 7, 7, 7, 7, 7, 7]);
        p.extend_from_slice(&answer[20..answer.len().min(4000)]);
        p[0] = [2, 3, 11, 5][usize::from(answer[0]) % 4];
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        if !crypto::finish_response(&mut p, &auth, HOME) {
            return;
        }
        answer = p;
    }
    if let Ok((_, Some(state))) = f.answer_with_state(&answer, 1, &auth, HOME, 42, b"nas", &[9; 16])
    {
        let now = std::time::Instant::now();
        let mut m = aaa_server::proxy::ttl::TtlMap::new(2, std::time::Duration::from_secs(1));
        m.insert((0usize, state.clone()), 1usize, now);
        assert_eq!(m.get(&(0, state), now), Some(1));
    }
});
