//! aaa-server micro-benchmarks: HSS vector generation (in-memory SQLite, and
//! the durable file store with `synchronous=FULL` — one fsync per vector),
//! and one EAP server step for an AKA'-Challenge response (AT_RES + AT_MAC
//! checked, keys → Accept). The peer side is built from `eap` alone here
//! (aaa-server never depends on the supplicant).
//!
//! Run: `cargo bench -p aaa-server --bench server`.

use aaa_server::config::{EapConfig, MethodName};
use aaa_server::eap_server::{EapServer, Outcome};
use aaa_server::hss::sqlite::NewSubscriber;
use aaa_server::hss::{Hss, Imsi, SqliteStore, VectorKind};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use eap::aka::attr::{AtMac, AtRes};
use eap::aka::keys::{self, Method};
use eap::aka::mac::{self, NO_EXTRA};
use eap::aka::message::{Message, Subtype};
use eap::packet::{Packet, TypeData};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

const IMSI: &str = "001010000000001";
const K_BYTES: [u8; 16] = [0x46; 16];
const OPC_BYTES: [u8; 16] = [0xcd; 16];

fn subscriber() -> NewSubscriber {
    NewSubscriber {
        imsi: Imsi::parse(IMSI).unwrap(),
        keys: SubscriberKeys::new(K::new(K_BYTES), Opc::new(OPC_BYTES)),
        amf: Amf([0x80, 0]),
        sqn: Sqn::default(),
    }
}

fn hss_vector(c: &mut Criterion) {
    let imsi = Imsi::parse(IMSI).unwrap();
    let mem = SqliteStore::open_in_memory().unwrap();
    mem.add(&subscriber()).unwrap();
    c.bench_function("hss_vector_aka_prime_in_memory_store", |b| {
        b.iter(|| mem.vector(black_box(&imsi), VectorKind::AkaPrime).unwrap())
    });
    let dir = tempfile::tempdir().unwrap();
    let file = SqliteStore::create(&dir.path().join("s.db")).unwrap();
    file.add(&subscriber()).unwrap();
    let mut g = c.benchmark_group("durable");
    g.sample_size(20).measurement_time(Duration::from_secs(4));
    g.bench_function("hss_vector_aka_prime_file_store_fsync", |b| {
        b.iter(|| file.vector(black_box(&imsi), VectorKind::AkaPrime).unwrap())
    });
    g.finish();
}

/// The peer's AKA'-Challenge response (RFC 9048 §3): RES and AT_MAC under K_aut.
fn challenge_response(challenge: &[u8], identity: &[u8]) -> Vec<u8> {
    let pkt = Packet::decode(challenge).unwrap();
    let id = pkt.identifier();
    let (method, msg) = pkt.aka().unwrap();
    assert_eq!(method, Method::AkaPrime);
    let rand = *msg.rand().unwrap();
    let autn = *msg.autn().unwrap();
    let keys_usim = SubscriberKeys::new(K::new(K_BYTES), Opc::new(OPC_BYTES));
    let u = keys_usim.authenticate(&rand, &autn).unwrap();
    let (ck, ik) = keys::ck_ik_prime(&u.ck, &u.ik, b"WLAN", &autn.sqn_xor_ak()).unwrap();
    let k = keys::derive_aka_prime(identity, &ck, &ik);
    let m = Message::new(Subtype::Challenge)
        .with(AtRes { res: u.res.clone() })
        .with(AtMac::ZEROED);
    let (mut bytes, off) = Packet::Response {
        identifier: id,
        data: TypeData::from_aka(method, m),
    }
    .encode_with_mac_offset()
    .unwrap();
    mac::sign(&k.k_aut, &mut bytes, off.unwrap(), NO_EXTRA).unwrap();
    bytes
}

fn server_step(c: &mut Criterion) {
    let store = SqliteStore::open_in_memory().unwrap();
    store.add(&subscriber()).unwrap();
    let hss: Arc<dyn Hss> = Arc::new(store);
    let cfg = EapConfig {
        methods: vec![MethodName::AkaPrime],
        network_name: "WLAN".into(),
        session_timeout: Duration::from_secs(3600),
        max_sessions: 1_000_000,
    };
    let mut server = EapServer::new(hss, &cfg);
    let identity = format!("6{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org").into_bytes();
    let id_resp = Packet::Response {
        identifier: 1,
        data: TypeData::Identity(identity.clone()),
    }
    .encode()
    .unwrap();
    let server = std::cell::RefCell::new(&mut server);
    c.bench_function("eap_server_step_aka_prime_challenge_response", |b| {
        b.iter_batched(
            || {
                // A session waiting for the Challenge response, and the response.
                let out = server.borrow_mut().step(None, &id_resp, Instant::now());
                let Outcome::Challenge { eap, state } = out else {
                    panic!("expected an AKA'-Challenge, got {out:?}");
                };
                (state, challenge_response(&eap, &identity))
            },
            |(state, resp)| {
                let out = server
                    .borrow_mut()
                    .step(Some(&state), black_box(&resp), Instant::now());
                assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
                out
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, hss_vector, server_step);
criterion_main!(benches);
