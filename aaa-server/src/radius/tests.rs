//! The RADIUS exchange with a test NAS and the in-memory test peer.

use super::*;
use crate::config::{Cidr, EapConfig, MethodName};
use crate::eap_server::tests::{TestPeer, store_with_vectors, vector_subscribers};
use crate::hss::SqliteStore;
use eap::aka::keys::Method;
use eap::secret::SecretBytes;
use hmac::{Hmac, KeyInit, Mac};
use radius::core::avp::AVP;
use std::path::PathBuf;
use std::time::Duration;

const SECRET: &[u8] = b"testing123";

fn config(require_ma: bool, network_name: &str) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        accounting_listen: "127.0.0.1:0".parse().unwrap(),
        clients: vec![Client {
            name: "test-nas".into(),
            network: Cidr::parse("127.0.0.0/8").unwrap(),
            secret: SecretBytes::new(SECRET.to_vec()),
            require_message_authenticator: require_ma,
            das: None,
        }],
        database: PathBuf::from("/unused"),
        hss_workers: 1,
        postgres: None,
        eap: EapConfig {
            methods: vec![MethodName::AkaPrime, MethodName::Aka],
            network_name: network_name.into(),
            session_timeout: Duration::from_secs(30),
            max_sessions: 100,
        },
        privacy: Default::default(),
        radius: Default::default(),
        radsec: None,
        metrics: Default::default(),
        proxy: Default::default(),
        cui: None,
    }
}

fn server(require_ma: bool) -> (RadiusServer, Arc<SqliteStore>) {
    let store = store_with_vectors();
    (
        RadiusServer::new(&config(require_ma, "WLAN"), store.clone(), store.clone()),
        store,
    )
}

fn nas() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

/// An Access-Request as a NAS would send it; Message-Authenticator last when `ma`.
fn access_request(id: u8, secret: &[u8], eap: &[u8], state: Option<&[u8]>, ma: bool) -> Vec<u8> {
    let mut p = Packet::new_with_identifier(Code::AccessRequest, secret, id);
    rfc2865::add_user_name(&mut p, "user");
    rfc2865::add_proxy_state(&mut p, b"ps1");
    if eap.is_empty() {
        // EAP-Start: one empty EAP-Message (RFC 3579 §2.1).
        p.add(AVP::from_bytes(rfc2869::EAP_MESSAGE_TYPE, &[]));
    }
    rfc2869::add_eap_message(&mut p, eap);
    if let Some(s) = state {
        rfc2865::add_state(&mut p, s);
    }
    if ma {
        p.add(AVP::from_bytes(80, &[0; 16]));
    }
    let mut bytes = p.encode().unwrap();
    if ma {
        let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(secret).unwrap();
        m.update(&bytes);
        let v = m.finalize().into_bytes();
        let n = bytes.len();
        bytes[n - 16..].copy_from_slice(&v);
    }
    bytes
}

fn auth_of(req: &[u8]) -> [u8; 16] {
    req[4..20].try_into().unwrap()
}

/// Checks the BlastRADIUS layout and authenticators, returns the decoded packet.
fn check(resp: &[u8], req: &[u8]) -> Packet {
    assert_eq!(resp[20], 80, "Message-Authenticator first");
    assert!(crypto::check_response(resp, &auth_of(req), SECRET));
    Packet::decode(resp, SECRET).unwrap()
}

/// Runs one EAP authentication through the RADIUS layer.
fn authenticate(srv: &RadiusServer, peer: &mut TestPeer) -> (Packet, Vec<u8>, Vec<Effect>) {
    let now = Instant::now();
    let mut eap = peer.identity_response(1);
    let mut state: Option<Vec<u8>> = None;
    for id in 0..10u8 {
        let req = access_request(id, SECRET, &eap, state.as_deref(), true);
        let (resp, effects) = srv.handle(Listener::Auth, nas(), &req, now);
        let resp = resp.expect("answered");
        let p = check(&resp, &req);
        assert_eq!(rfc2865::lookup_all_proxy_state(&p), vec![b"ps1".to_vec()]);
        if p.get_code() != Code::AccessChallenge {
            return (p, req, effects);
        }
        assert_eq!(rfc2865::lookup_session_timeout(&p).unwrap().unwrap(), 30);
        state = rfc2865::lookup_state(&p);
        assert_eq!(state.as_ref().map(Vec::len), Some(16));
        eap = peer.handle(&rfc2869::lookup_eap_message(&p).unwrap());
    }
    panic!("no end");
}

fn peer(i: usize, method: Method) -> TestPeer {
    let (imsi, k, opc) = vector_subscribers().swap_remove(i);
    TestPeer::new(&imsi, k, opc, method)
}

#[test]
fn eap_aka_prime_and_aka_through_radius_with_mppe_keys() {
    for method in [Method::AkaPrime, Method::Aka] {
        let (srv, _) = server(true);
        let mut p = peer(0, method);
        let (accept, req, effects) = authenticate(&srv, &mut p);
        assert_eq!(accept.get_code(), Code::AccessAccept);
        assert_eq!(rfc2869::lookup_eap_message(&accept).unwrap()[0], 3);
        assert_eq!(
            rfc2865::lookup_user_name(&accept)
                .unwrap()
                .unwrap()
                .as_bytes(),
            &p.identity[..]
        );
        let vsas: Vec<Vec<u8>> = accept
            .lookup_all(26)
            .into_iter()
            .map(|a| a.encode_bytes())
            .collect();
        assert_eq!(vsas.len(), 2);
        let msk = p.msk.clone().unwrap();
        let recv = vsas.iter().find(|v| v[4] == 17).unwrap();
        let send = vsas.iter().find(|v| v[4] == 16).unwrap();
        assert_ne!(recv[6..8], send[6..8], "distinct salts");
        let ra = auth_of(&req);
        assert_eq!(
            crypto::mppe_key_decrypt(recv, SECRET, &ra).unwrap(),
            msk.expose()[..32]
        );
        assert_eq!(
            crypto::mppe_key_decrypt(send, SECRET, &ra).unwrap(),
            msk.expose()[32..]
        );
        assert!(matches!(
            &effects[..],
            [Effect::AuthFinished { report, .. }] if report.result == crate::eap_server::AuthResult::Success(crate::eap_server::Success::Full)
        ));
    }
}

#[test]
fn failures_are_access_reject_with_eap_failure() {
    let (srv, _) = server(true);
    let mut p = peer(0, Method::AkaPrime);
    p.keys = eap::umts::SubscriberKeys::new(
        eap::secret::K::new([9; 16]),
        eap::secret::Opc::new([9; 16]),
    );
    let (reject, _, effects) = authenticate(&srv, &mut p);
    assert_eq!(reject.get_code(), Code::AccessReject);
    assert_eq!(rfc2869::lookup_eap_message(&reject).unwrap()[0], 4);
    assert!(matches!(&effects[..], [Effect::AuthFinished { .. }]));
}

#[test]
fn missing_or_bad_message_authenticator_and_unknown_clients_are_dropped() {
    let (srv, _) = server(true);
    let p = peer(0, Method::AkaPrime);
    let now = Instant::now();
    let eap = p.identity_response(1);
    let no_ma = access_request(1, SECRET, &eap, None, false);
    assert_eq!(srv.handle(Listener::Auth, nas(), &no_ma, now).0, None);
    assert_eq!(srv.counters().missing_message_authenticator, 1);
    let wrong_secret = access_request(2, b"wrong", &eap, None, true);
    assert_eq!(
        srv.handle(Listener::Auth, nas(), &wrong_secret, now).0,
        None
    );
    assert_eq!(srv.counters().bad_authenticator, 1);
    let good = access_request(3, SECRET, &eap, None, true);
    let other: SocketAddr = "192.0.2.1:1812".parse().unwrap();
    assert_eq!(srv.handle(Listener::Auth, other, &good, now).0, None);
    assert_eq!(srv.counters().unknown_client, 1);
    // EAP on the accounting port is not served.
    assert_eq!(srv.handle(Listener::Accounting, nas(), &good, now).0, None);
    assert!(srv.handle(Listener::Auth, nas(), &good, now).0.is_some());

    // Without EAP-Message and with require_message_authenticator = false: reject (no PAP).
    let (lax, _) = server(false);
    let mut pap = Packet::new_with_identifier(Code::AccessRequest, SECRET, 7);
    rfc2865::add_user_name(&mut pap, "bob");
    let pap = pap.encode().unwrap();
    let (resp, _) = lax.handle(Listener::Auth, nas(), &pap, now);
    assert_eq!(check(&resp.unwrap(), &pap).get_code(), Code::AccessReject);
    // EAP-Message without Message-Authenticator is dropped even then (RFC 3579 §3.2).
    assert_eq!(lax.handle(Listener::Auth, nas(), &no_ma, now).0, None);
}

#[test]
fn garbage_is_dropped_and_the_next_request_answered() {
    let (srv, _) = server(true);
    let now = Instant::now();
    let good = access_request(
        1,
        SECRET,
        &peer(0, Method::AkaPrime).identity_response(1),
        None,
        true,
    );
    let mut seed = 0x1234_5678u32;
    for n in 0..2000usize {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        let len = (seed as usize) % 120;
        let mut d: Vec<u8> = (0..len)
            .map(|i| (seed >> (i % 24)) as u8 ^ i as u8)
            .collect();
        if n % 2 == 0 && len > 4 {
            // Valid-looking header over garbage.
            d[0] = 1;
            let l = d.len() as u16;
            d[2..4].copy_from_slice(&l.to_be_bytes());
        }
        assert_eq!(srv.handle(Listener::Auth, nas(), &d, now).0, None);
    }
    for cut in [0, 1, 19, 20, good.len() - 1] {
        assert_eq!(srv.handle(Listener::Auth, nas(), &good[..cut], now).0, None);
    }
    assert!(srv.counters().malformed > 0);
    assert!(srv.handle(Listener::Auth, nas(), &good, now).0.is_some());
}

#[test]
fn unparsable_eap_message_is_rejected_not_panicking() {
    let (srv, _) = server(true);
    let now = Instant::now();
    for eap in [
        &[2u8, 1, 0, 5, 23][..],
        &[2, 1, 0, 8, 50, 99, 0, 0],
        &[9, 9, 0, 4],
    ] {
        let req = access_request(1, SECRET, eap, None, true);
        if let (Some(resp), _) = srv.handle(Listener::Auth, nas(), &req, now) {
            let p = check(&resp, &req);
            assert_eq!(p.get_code(), Code::AccessReject);
            assert_eq!(rfc2869::lookup_eap_message(&p).unwrap()[0], 4);
        }
    }
}

#[test]
fn retransmission_gets_the_cached_response() {
    let (srv, store) = server(true);
    let p = peer(1, Method::AkaPrime);
    let now = Instant::now();
    let req = access_request(5, SECRET, &p.identity_response(1), None, true);
    let first = srv.handle(Listener::Auth, nas(), &req, now).0.unwrap();
    let imsi = crate::hss::Imsi::parse(&vector_subscribers()[1].0).unwrap();
    let sqn = store.sqn(&imsi).unwrap();
    let (again, effects) = srv.handle(Listener::Auth, nas(), &req, now + Duration::from_secs(1));
    assert_eq!(again.unwrap(), first);
    assert_eq!(effects, vec![Effect::DuplicateAnswered]);
    assert_eq!(store.sqn(&imsi).unwrap(), sqn, "no second vector");
    // Same id from another port is a different request.
    let other: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let third = srv.handle(Listener::Auth, other, &req, now).0.unwrap();
    assert_ne!(third, first);
}

#[test]
fn status_server_and_accounting() {
    let (srv, store) = server(true);
    let now = Instant::now();
    let mut ss = Packet::new_with_identifier(Code::StatusServer, SECRET, 3);
    ss.add(AVP::from_bytes(80, &[0; 16]));
    let mut ssb = ss.encode().unwrap();
    let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(SECRET).unwrap();
    m.update(&ssb);
    let v = m.finalize().into_bytes();
    let n = ssb.len();
    ssb[n - 16..].copy_from_slice(&v);
    let resp = srv.handle(Listener::Auth, nas(), &ssb, now).0.unwrap();
    assert_eq!(check(&resp, &ssb).get_code(), Code::AccessAccept);

    let mut acct = Packet::new_with_identifier(Code::AccountingRequest, SECRET, 9);
    rfc2866::add_acct_status_type(&mut acct, 1);
    rfc2866::add_acct_session_id(&mut acct, "sess-1");
    rfc2865::add_user_name(&mut acct, "0001010000000001@realm");
    rfc2865::add_nas_identifier(&mut acct, "ap1");
    rfc2866::add_acct_input_octets(&mut acct, 100);
    rfc2869::add_acct_input_gigawords(&mut acct, 1);
    let ab = acct.encode().unwrap();
    let (resp, effects) = srv.handle(Listener::Accounting, nas(), &ab, now);
    let resp = resp.unwrap();
    assert_eq!(resp[0], 5);
    // Signed by the Response Authenticator alone (no Message-Authenticator:
    // FreeRADIUS's radclient computes it differently, see `finish_accounting`).
    assert!(crate::proxy::acct::check_accounting_response(
        &resp,
        &auth_of(&ab),
        SECRET
    ));
    assert!(
        wire::Request::new_checked(&resp)
            .unwrap()
            .first(crypto::MESSAGE_AUTHENTICATOR)
            .is_none()
    );
    assert_eq!(store.accounting_count().unwrap(), 1);
    assert!(matches!(
        &effects[..],
        [Effect::AccountingRecorded { status_type: 1, .. }]
    ));
    // A retransmission is answered from the cache, not recorded twice.
    assert_eq!(
        srv.handle(Listener::Accounting, nas(), &ab, now).0.unwrap(),
        resp
    );
    assert_eq!(store.accounting_count().unwrap(), 1);
    // Wrong Request Authenticator: dropped.
    let mut bad = ab.clone();
    bad[5] ^= 1;
    assert_eq!(srv.handle(Listener::Accounting, nas(), &bad, now).0, None);
}

#[test]
fn long_eap_messages_are_split_at_253() {
    let store = store_with_vectors();
    let name = "n".repeat(400);
    let srv = RadiusServer::new(&config(true, &name), store.clone(), store);
    let mut p = peer(2, Method::AkaPrime);
    p.network_name = name.into_bytes();
    let now = Instant::now();
    let req = access_request(1, SECRET, &p.identity_response(1), None, true);
    let resp = srv.handle(Listener::Auth, nas(), &req, now).0.unwrap();
    let pkt = check(&resp, &req);
    let parts = pkt.lookup_all(rfc2869::EAP_MESSAGE_TYPE);
    assert!(parts.len() >= 2);
    assert!(parts.iter().all(|a| a.encode_bytes().len() <= 253));
    let eap = rfc2869::lookup_eap_message(&pkt).unwrap();
    let resp_eap = p.handle(&eap);
    let req2 = access_request(
        2,
        SECRET,
        &resp_eap,
        rfc2865::lookup_state(&pkt).as_deref(),
        true,
    );
    let accept = srv.handle(Listener::Auth, nas(), &req2, now).0.unwrap();
    assert_eq!(check(&accept, &req2).get_code(), Code::AccessAccept);
}

#[test]
fn eap_start_gets_an_identity_request() {
    let (srv, _) = server(true);
    let req = access_request(4, SECRET, &[], None, true);
    let resp = srv
        .handle(Listener::Auth, nas(), &req, Instant::now())
        .0
        .unwrap();
    let p = check(&resp, &req);
    assert_eq!(p.get_code(), Code::AccessChallenge);
    assert_eq!(
        rfc2869::lookup_eap_message(&p).unwrap(),
        vec![1, 0, 0, 5, 1]
    );
    assert_eq!(rfc2865::lookup_state(&p), None);
}

/// Several socket workers share one core: authentications running at the
/// same time on different threads all succeed, each with its own session.
#[test]
fn concurrent_workers_share_one_core() {
    let (srv, _) = server(true);
    let threads = vector_subscribers().len().min(4);
    std::thread::scope(|scope| {
        for t in 0..threads {
            let srv = &srv;
            scope.spawn(move || {
                for round in 0..20 {
                    let method = if round % 2 == 0 {
                        Method::AkaPrime
                    } else {
                        Method::Aka
                    };
                    let mut p = peer(t, method);
                    let (accept, _, _) = authenticate(srv, &mut p);
                    assert_eq!(
                        accept.get_code(),
                        Code::AccessAccept,
                        "thread {t} round {round}"
                    );
                }
            });
        }
    });
    let c = srv.counters();
    assert_eq!(c.received, c.answered);
    assert_eq!(c.duplicates, 0);
    assert!(c.received >= threads as u64 * 20 * 2);
}

/// An Access-Request without EAP (answered Access-Reject), built by hand:
/// User-Name, then a Message-Authenticator over the whole packet.
fn plain_request(id: u8, authenticator: [u8; 16]) -> Vec<u8> {
    let mut b = vec![1, id, 0, 0];
    b.extend_from_slice(&authenticator);
    b.extend_from_slice(&[1, 6, b'u', b's', b'e', b'r']);
    b.extend_from_slice(&[80, 18]);
    b.extend_from_slice(&[0; 16]);
    let n = b.len();
    b[2..4].copy_from_slice(&(n as u16).to_be_bytes());
    let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(SECRET).unwrap();
    m.update(&b);
    b[n - 16..].copy_from_slice(&m.finalize().into_bytes());
    b
}

/// RFC 5080 §2.2.2 by time: under a background load of 120 000 requests
/// over 3 simulated seconds (40 000/s, more than the old 57 344-entry cache
/// held), a retransmission after 3 s from the same source port gets the
/// byte-identical Access-Challenge (a new one would carry a new RAND).
#[test]
fn retransmission_after_3_s_under_load_gets_the_identical_answer() {
    let (srv, store) = server(true);
    let p = peer(2, Method::AkaPrime);
    let t0 = Instant::now();
    let req = access_request(9, SECRET, &p.identity_response(1), None, true);
    let first = srv.handle(Listener::Auth, nas(), &req, t0).0.unwrap();
    assert_eq!(check(&first, &req).get_code(), Code::AccessChallenge);
    let imsi = crate::hss::Imsi::parse(&vector_subscribers()[2].0).unwrap();
    let sqn = store.sqn(&imsi).unwrap();

    const N: u32 = 120_000;
    let step = Duration::from_secs(3) / N;
    for i in 0..N {
        let mut auth = [0u8; 16];
        auth[..4].copy_from_slice(&i.to_be_bytes());
        auth[4..8].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
        // 64 NAS ports on 4 addresses, as several access points would send.
        let from = SocketAddr::from(([127, 0, 0, 1 + (i % 4) as u8], 50_000 + (i % 64) as u16));
        let (resp, _) = srv.handle(
            Listener::Auth,
            from,
            &plain_request(i as u8, auth),
            t0 + step * i,
        );
        assert!(resp.is_some(), "background request {i} answered");
    }

    let t3 = t0 + Duration::from_secs(3);
    let (again, effects) = srv.handle(Listener::Auth, nas(), &req, t3);
    assert_eq!(effects, vec![Effect::DuplicateAnswered]);
    assert_eq!(again.unwrap(), first, "byte-identical answer");
    assert_eq!(store.sqn(&imsi).unwrap(), sqn, "no second vector");
    let c = srv.counters();
    assert_eq!(c.duplicate_early_evictions, 0);
    assert_eq!(c.duplicates, 1);
    // Past the window the same bytes are a new request.
    let (_, effects) = srv.handle(Listener::Auth, nas(), &req, t0 + Duration::from_secs(9));
    assert!(!effects.contains(&Effect::DuplicateAnswered));
}

mod slow_store;
