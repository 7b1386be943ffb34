//! The AAA server's request path: RADIUS decode, Message-Authenticator and
//! authenticator checks, the duplicate cache, and the EAP-AKA/AKA' server
//! step in every phase. The first byte picks how the rest is used:
//! 0 — a raw datagram; 1 — the EAP-Message of a correctly signed
//! Access-Request without State; 2 — the peer's answer to an AKA'-Challenge
//! (State and Identifier filled in); 3 — the answer to an AKA-Identity round;
//! 4 — a raw Accounting-Request; 5 — the borrowed request view
//! (`radius::wire::Request`) against the `radius` crate's decoder: both accept
//! the same datagrams and read the same attributes. No input may panic.
#![no_main]

use aaa_server::config::{Cidr, Client, Config, EapConfig, MethodName};
use aaa_server::hss::sqlite::NewSubscriber;
use aaa_server::hss::{Imsi, SqliteStore};
use aaa_server::radius::{Listener, RadiusServer};
use eap::secret::{K, Opc, SecretBytes};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use hmac::{Hmac, KeyInit, Mac};
use libfuzzer_sys::fuzz_target;
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2869};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"fuzzing";
const IMSI: &str = "001010000000001";

fn store() -> Arc<SqliteStore> {
    static S: OnceLock<Arc<SqliteStore>> = OnceLock::new();
    S.get_or_init(|| {
        let s = SqliteStore::open_in_memory().expect("in-memory store");
        s.add(&NewSubscriber {
            imsi: Imsi::parse(IMSI).expect("imsi"),
            keys: SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16])),
            amf: Amf([0x80, 0]),
            sqn: Sqn::default(),
        })
        .expect("add");
        Arc::new(s)
    })
    .clone()
}

fn server() -> RadiusServer {
    let cfg = Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        accounting_listen: "127.0.0.1:0".parse().expect("addr"),
        clients: vec![Client {
            name: "fuzz".into(),
            network: Cidr::parse("127.0.0.0/8").expect("cidr"),
            secret: SecretBytes::new(SECRET.to_vec()),
            require_message_authenticator: true,
            das: None,
        }],
        database: "/unused".into(),
        hss_workers: 1,
        postgres: None,
        eap: EapConfig {
            methods: vec![MethodName::AkaPrime, MethodName::Aka],
            network_name: "WLAN".into(),
            session_timeout: Duration::from_secs(30),
            max_sessions: 16,
        },
        privacy: Default::default(),
        radius: Default::default(),
        radsec: None,
        metrics: Default::default(),
        proxy: Default::default(),
        // Chargeable-User-Identity on: a request carrying one gets it derived.
        cui: aaa_server::cui::CuiKey::new(vec![1; 32]).map(std::sync::Arc::new),
    };
    let s = store();
    let mut srv = RadiusServer::new(&cfg, s.clone(), s);
    // Pseudonyms, fast re-authentication and result indication on: their phases are fuzzed too.
    srv.set_privacy(Arc::new(aaa_server::privacy::PrivacyServer {
        keys: aaa_server::privacy::KeySet::new(
            aaa_server::privacy::PrivacyKey::new(1, [1; 32]),
            vec![],
        )
        .expect("key set"),
        policy: aaa_server::privacy::Policy {
            result_indication: true,
            ..Default::default()
        },
        imsi_key: None,
        realm: "fuzz.example".into(),
    }));
    srv
}

fn signed_request(id: u8, eap: &[u8], state: Option<&[u8]>) -> Option<Vec<u8>> {
    let mut p = Packet::new_with_identifier(Code::AccessRequest, SECRET, id);
    rfc2869::add_eap_message(&mut p, eap);
    if let Some(s) = state {
        rfc2865::add_state(&mut p, s);
    }
    p.add(AVP::from_bytes(80, &[0; 16]));
    let mut bytes = p.encode().ok()?;
    let mut m = <Hmac<md5::Md5> as KeyInit>::new_from_slice(SECRET).ok()?;
    m.update(&bytes);
    let v = m.finalize().into_bytes();
    let n = bytes.len();
    bytes[n - 16..].copy_from_slice(&v);
    Some(bytes)
}

fn identity(id: u8, nai: &str) -> Vec<u8> {
    let mut e = vec![2, id, 0, 0, 1];
    e.extend_from_slice(nai.as_bytes());
    let l = e.len() as u16;
    e[2..4].copy_from_slice(&l.to_be_bytes());
    e
}

/// Starts a session with `nai`; returns the State and the outstanding EAP Identifier.
fn start(srv: &RadiusServer, nas: SocketAddr, nai: &str, now: Instant) -> Option<(Vec<u8>, u8)> {
    let req = signed_request(1, &identity(7, nai), None)?;
    let resp = srv.handle(Listener::Auth, nas, &req, now).0?;
    let p = Packet::decode(&resp, SECRET).ok()?;
    let eap = rfc2869::lookup_eap_message(&p)?;
    Some((rfc2865::lookup_state(&p)?, *eap.get(1)?))
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if rest.len() > 4096 {
        return;
    }
    let srv = server();
    let nas: SocketAddr = "127.0.0.1:5000".parse().expect("addr");
    let now = Instant::now();
    if mode % 6 == 5 {
        let view = aaa_server::radius::wire::Request::new_checked(rest);
        let owned = Packet::decode(rest, SECRET);
        assert_eq!(view.is_ok(), owned.is_ok(), "view and decoder disagree");
        if let (Ok(v), Ok(p)) = (view, owned) {
            assert_eq!(v.code(), p.get_code());
            assert_eq!(v.identifier(), p.get_identifier());
            assert_eq!(&v.authenticator()[..], p.get_authenticator());
            for a in v.attrs() {
                assert_eq!(v.all(a.typ).count(), p.lookup_all(a.typ).len());
            }
            assert_eq!(
                v.eap_message().map(|e| e.into_owned()),
                rfc2869::lookup_eap_message(&p)
            );
            assert_eq!(v.first(24).map(<[u8]>::to_vec), rfc2865::lookup_state(&p));
        }
        return;
    }
    match mode % 6 {
        0 => {
            let _ = srv.handle(Listener::Auth, nas, rest, now);
            let _ = srv.handle(Listener::Auth, nas, rest, now);
        }
        1 => {
            if let Some(req) = signed_request(3, rest, None) {
                let _ = srv.handle(Listener::Auth, nas, &req, now);
            }
        }
        2 | 3 => {
            let nai = if mode % 5 == 2 {
                format!("6{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")
            } else {
                "anonymous@realm".to_string()
            };
            let Some((state, eap_id)) = start(&srv, nas, &nai, now) else {
                return;
            };
            let mut eap = rest.to_vec();
            if eap.len() >= 2 {
                eap[1] = eap_id;
            }
            if let Some(req) = signed_request(2, &eap, Some(&state)) {
                let _ = srv.handle(Listener::Auth, nas, &req, now);
                // A retransmission, then a late one after expiry.
                let _ = srv.handle(Listener::Auth, nas, &req, now);
                let _ = srv.handle(Listener::Auth, nas, &req, now + Duration::from_secs(60));
            }
        }
        _ => {
            let _ = srv.handle(Listener::Accounting, nas, rest, now);
        }
    }
});
