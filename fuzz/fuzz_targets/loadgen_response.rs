//! The response path of `supplicant probe` and the load generator
//! (`supplicant::nas`): RADIUS response checks (framing,
//! Response Authenticator, Message-Authenticator), MS-MPPE key decryption,
//! and one authentication (supplicant peer + USIM simulator) fed the
//! datagram. Inputs with the low bit of the first byte set are re-signed
//! (Length, Message-Authenticator, Response Authenticator) so the fuzzer
//! gets past the MD5 checks into the EAP and MPPE handling. No panic.
#![no_main]
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use md5::{Digest, Md5};
use testbed::loadgen::auth::{Authentication, Nas};
use testbed::loadgen::radius;
use testbed::loadgen::subscribers::Card;

const SECRET: &[u8] = b"fuzz-secret";

fn sign(p: &mut Vec<u8>, req_auth: &[u8; 16]) {
    if p.len() < 20 {
        return;
    }
    p.truncate(4096);
    let len = p.len() as u16;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    p[4..20].copy_from_slice(req_auth);
    // Zero and fill every well-framed Message-Authenticator.
    let mut i = 20;
    let mut ma = Vec::new();
    while i + 1 < p.len() {
        let l = usize::from(p[i + 1]);
        if l < 2 || i + l > p.len() {
            break;
        }
        if p[i] == radius::MESSAGE_AUTHENTICATOR && l == 18 {
            p[i + 2..i + 18].fill(0);
            ma.push(i + 2);
        }
        i += l;
    }
    if let Some(&at) = ma.first() {
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(SECRET).unwrap();
        mac.update(p);
        let tag = mac.finalize().into_bytes();
        p[at..at + 16].copy_from_slice(&tag);
    }
    let mut md = Md5::new();
    md.update(&p[..]);
    md.update(SECRET);
    let ra = md.finalize();
    p[4..20].copy_from_slice(&ra);
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let nas = Nas {
        identifier: b"fuzz".to_vec(),
        secret: SECRET.to_vec(),
        require_ma_first: flags & 2 != 0,
    };
    let Ok(mut card) = Card::new(1, 7, 0, supplicant::peer::Methods::BOTH) else {
        return;
    };
    let method = if flags & 4 != 0 {
        eap::aka::keys::Method::Aka
    } else {
        eap::aka::keys::Method::AkaPrime
    };
    let (mut auth, _) = Authentication::start(
        &card.peer,
        card.calling_station_id(),
        method,
        &nas,
        rest.get(1).copied().unwrap_or(0),
        [9; 16],
        Vec::new(),
    );
    let mut pkt = rest.to_vec();
    if flags & 1 != 0 {
        sign(&mut pkt, auth.request_authenticator());
    }
    if let Ok(r) = radius::check_response(
        &pkt,
        SECRET,
        auth.request_authenticator(),
        nas.require_ma_first,
    ) {
        let _ = r.eap_message();
        let _ = r.mppe_keys(SECRET, auth.request_authenticator());
    }
    let _ = radius::decrypt_mppe_key(rest, SECRET, &[1; 16]);
    let _ = radius::eap_message_of(&pkt);
    let _ = auth.on_datagram(&mut card.usim, &nas, &pkt, [3; 16], Vec::new());
});
