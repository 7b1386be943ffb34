//! The EAP-SIM server (RFC 4186) in every phase it waits in. The first byte
//! picks the phase, the rest is the Type-Data of the peer's EAP-Response
//! (Identifier and EAP header filled in; byte 1 & 0x80 leaves the header as
//! given): 0 — the answer to EAP-SIM/Start without an identity request;
//! 1 — to a Start with AT_ANY_ID_REQ; 2 — to the Challenge (after a valid
//! Start response); 3 — a new session's first packet, raw. No input may
//! panic; EAP-SIM, AKA' and AKA are enabled, with pseudonyms and result
//! indication, and GSM-Milenage subscribers from an in-memory SQLite store.
#![no_main]

use aaa_server::config::{EapConfig, MethodName};
use aaa_server::eap_server::{EapServer, Outcome};
use aaa_server::hss::sqlite::NewSubscriber;
use aaa_server::hss::{Imsi, SqliteStore};
use eap::secret::{K, Opc};
use eap::sim::attr::{AtNonceMt, AtSelectedVersion, VERSION_1};
use eap::sim::message::{EAP_TYPE_SIM, Message, SimPacket, Subtype};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use libfuzzer_sys::fuzz_target;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const IMSI: &str = "001010000000001";

fn server() -> &'static EapServer {
    static S: OnceLock<EapServer> = OnceLock::new();
    S.get_or_init(|| {
        let s = SqliteStore::open_in_memory().expect("in-memory store");
        s.add(&NewSubscriber {
            imsi: Imsi::parse(IMSI).expect("imsi"),
            keys: SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16])),
            amf: Amf([0x80, 0]),
            sqn: Sqn::default(),
        })
        .expect("add");
        let mut srv = EapServer::new(
            Arc::new(s),
            &EapConfig {
                methods: vec![MethodName::Sim, MethodName::AkaPrime, MethodName::Aka],
                network_name: "WLAN".into(),
                session_timeout: Duration::from_secs(30),
                max_sessions: 64,
            },
        );
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
    })
}

fn identity(nai: &str) -> Vec<u8> {
    let mut e = vec![2, 1, 0, 0, 1];
    e.extend_from_slice(nai.as_bytes());
    let l = e.len() as u16;
    e[2..4].copy_from_slice(&l.to_be_bytes());
    e
}

/// The peer's response with Identifier `id`: `body` as EAP-SIM Type-Data,
/// or as the whole packet when `raw`.
fn response(id: u8, body: &[u8], raw: bool) -> Vec<u8> {
    if raw {
        let mut p = body.to_vec();
        if p.len() > 1 {
            p[1] = id;
        }
        return p;
    }
    let mut p = vec![2, id, 0, 0, EAP_TYPE_SIM];
    p.extend_from_slice(body);
    let l = (p.len() as u16).to_be_bytes();
    p[2..4].copy_from_slice(&l);
    p
}

fn challenge(o: Outcome) -> Option<(Vec<u8>, [u8; 16])> {
    match o {
        Outcome::Challenge { eap, state } => Some((eap, state)),
        _ => None,
    }
}

fuzz_target!(|data: &[u8]| {
    let (Some(&sel), Some(&flags)) = (data.first(), data.get(1)) else {
        return;
    };
    let body = &data[2..];
    let raw = flags & 0x80 != 0;
    let srv = server();
    let now = Instant::now();
    let nai = match sel % 4 {
        1 => "anonymous@fuzz.example".to_owned(),
        3 => {
            let _ = srv.step(None, body, now);
            return;
        }
        _ => format!("1{IMSI}@fuzz.example"),
    };
    let Some((req, state)) = challenge(srv.step(None, &identity(&nai), now)) else {
        return;
    };
    if sel % 4 != 2 {
        let _ = srv.step(Some(&state), &response(req[1], body, raw), now);
        return;
    }
    let start = SimPacket::response(
        req[1],
        Message::new(Subtype::Start)
            .with(AtNonceMt::new([3; 16]))
            .with(AtSelectedVersion { version: VERSION_1 }),
    )
    .encode()
    .expect("encode");
    let Some((chal, _)) = challenge(srv.step(Some(&state), &start, now)) else {
        return;
    };
    let _ = srv.step(Some(&state), &response(chal[1], body, raw), now);
});
