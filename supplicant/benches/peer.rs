//! Supplicant micro-benchmark: one peer step for an EAP-AKA'-Challenge —
//! decode, AT_MAC/AUTN handling, AUTHENTICATE on the USIM simulator through
//! the USIM client's APDUs, CK'/IK' and key derivation, the signed response.
//!
//! Run: `cargo bench -p supplicant --bench peer`.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use eap::aka::attr::{AtAutn, AtKdf, AtKdfInput, AtMac, AtRand};
use eap::aka::keys::{self, Method};
use eap::aka::mac::{self, NO_EXTRA};
use eap::aka::message::{Message, Subtype};
use eap::identity::{Imsi, MncLen};
use eap::packet::{Packet, TypeData};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::hint::black_box;
use supplicant::peer::{Action, Methods, Peer, PeerConfig};
use supplicant::usim::Usim;
use supplicant::usim::files::encode_ef_imsi;
use supplicant::usim::sim::sqn::SqnArray;
use supplicant::usim::sim::{CardState, MemoryStore, Personalisation, Simulator};

const IMSI: &str = "001010000000001";
const K_BYTES: [u8; 16] = [0x46; 16];
const OPC_BYTES: [u8; 16] = [0xcd; 16];

fn keys() -> SubscriberKeys {
    SubscriberKeys::new(K::new(K_BYTES), Opc::new(OPC_BYTES))
}

/// The network's AKA'-Challenge for SQN `seq` (RFC 9048 §3), signed with K_aut.
fn challenge(seq: u64, identity: &[u8]) -> Vec<u8> {
    let rand = [0x5a; 16];
    let av = keys().generate_vector(Sqn::from_seq_ind(seq, 0), Amf([0x80, 0]), rand);
    let (ck, ik) = keys::ck_ik_prime(&av.ck, &av.ik, b"WLAN", &av.autn.sqn_xor_ak()).unwrap();
    let k = keys::derive_aka_prime(identity, &ck, &ik);
    let m = Message::new(Subtype::Challenge)
        .with(AtRand::new(rand))
        .with(AtAutn::new(av.autn))
        .with(AtKdfInput {
            network_name: b"WLAN".to_vec(),
        })
        .with(AtKdf::CK_IK_PRIME)
        .with(AtMac::ZEROED);
    let (mut bytes, off) = Packet::Request {
        identifier: 2,
        data: TypeData::from_aka(Method::AkaPrime, m),
    }
    .encode_with_mac_offset()
    .unwrap();
    mac::sign(&k.k_aut, &mut bytes, off.unwrap(), NO_EXTRA).unwrap();
    bytes
}

fn peer_step(c: &mut Criterion) {
    let perso = Personalisation {
        imsi: IMSI.into(),
        ef_imsi: encode_ef_imsi(IMSI).unwrap(),
        mnc_len: 2,
        keys: keys(),
        pin: None,
    };
    let state = CardState {
        sqn: SqnArray::starting_at(Sqn::from_seq_ind(0, 0)),
        pin_tries_left: 3,
    };
    let mut usim = Usim::new(Simulator::new(perso, state, MemoryStore::default()));
    usim.select_usim().unwrap();
    let config = PeerConfig {
        imsi: Imsi::parse(IMSI).unwrap(),
        mnc_len: MncLen::Two,
        realm: None,
        methods: Methods::only(Method::AkaPrime),
        network_name: Some(b"WLAN".to_vec()),
    };
    let identity = config.permanent_identity(Method::AkaPrime).into_bytes();
    let mut seq = 0u64;
    c.bench_function("peer_step_aka_prime_challenge_with_usim_simulator", |b| {
        b.iter_batched(
            || {
                seq += 1;
                let mut peer = Peer::new(config.clone());
                let Action::Send(_) = peer.handle(&[1, 1, 0, 5, 1]) else {
                    panic!("no identity response");
                };
                (peer, challenge(seq, &identity))
            },
            |(mut peer, req)| {
                let Action::Authenticate { rand, autn } = peer.handle(black_box(&req)) else {
                    panic!("no USIM request");
                };
                let r = usim.authenticate(&rand, &autn).unwrap();
                let Action::Send(resp) = peer.usim_result(r) else {
                    panic!("no Challenge response");
                };
                resp
            },
            BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, peer_step);
criterion_main!(benches);
