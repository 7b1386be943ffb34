//! The EAP-SIM peer against a scripted server built from `eap::sim`.

use super::super::*;
use crate::usim::Usim;
use crate::usim::sim::tests::{IMSI, keys as sub_keys, test_sim};
use crate::usim::sim::{MemoryStore, Simulator};
use eap::sim::attr::{AtNotification, AtPermanentIdReq, AtRand, AtVersionList};
use eap::sim::message::{Message as SimMessage, SimPacket, Subtype as SimSubtype};
use eap::sim::{keys as sim_keys, message as sim_message};

const IDENTITY: &str = "1001010123456789@wlan.mnc001.mcc001.3gppnetwork.org";
const NONCE: [u8; 16] = [0x77; 16];
const RANDS: [[u8; 16]; 3] = [[1; 16], [2; 16], [3; 16]];

fn config() -> PeerConfig {
    PeerConfig {
        imsi: Imsi::parse(IMSI).unwrap(),
        mnc_len: MncLen::Two,
        realm: None,
        methods: Methods::SIM,
        network_name: None,
    }
}

struct Harness {
    peer: Peer,
    usim: Usim<Simulator<MemoryStore>>,
}

impl Harness {
    fn new() -> Self {
        let mut usim = Usim::new(test_sim(None));
        usim.select_usim().unwrap();
        let mut peer = Peer::new(config());
        peer.set_nonce_mt(NONCE);
        Self { peer, usim }
    }

    fn feed(&mut self, p: &[u8]) -> Action {
        match self.peer.handle(p) {
            Action::GsmAuthenticate { rands } => {
                let t: Vec<_> = rands
                    .iter()
                    .map(|r| self.usim.gsm_authenticate(r).unwrap())
                    .collect();
                self.peer.gsm_result(&t)
            }
            a => a,
        }
    }

    fn send(&mut self, p: &[u8]) -> SimPacket {
        match self.feed(p) {
            Action::Send(b) => SimPacket::decode(&b).unwrap(),
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// Identity and one Start round; returns the Start response.
    fn start(&mut self, versions: &[u16]) -> SimPacket {
        let id = Packet::Request {
            identifier: 1,
            data: TypeData::Identity(vec![]),
        }
        .encode()
        .unwrap();
        match self.feed(&id) {
            Action::Send(b) => match Packet::decode(&b).unwrap() {
                Packet::Response {
                    data: TypeData::Identity(i),
                    ..
                } => assert_eq!(i, IDENTITY.as_bytes()),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
        let start = SimMessage::new(SimSubtype::Start).with(AtVersionList {
            versions: versions.to_vec(),
        });
        self.send(&request(2, start))
    }
}

fn request(id: u8, m: SimMessage) -> Vec<u8> {
    SimPacket::request(id, m).encode().unwrap()
}

fn server_keys(rands: &[[u8; 16]]) -> eap::aka::keys::Keys {
    let kcs: Vec<_> = rands
        .iter()
        .map(|r| sub_keys().gsm_triplet(*r).kc)
        .collect();
    sim_keys::derive_keys(IDENTITY.as_bytes(), &kcs, &NONCE, &[1], 1)
}

fn challenge(id: u8, rands: &[[u8; 16]], k_aut_of: &[[u8; 16]]) -> Vec<u8> {
    let m = SimMessage::new(SimSubtype::Challenge)
        .with(AtRand::new(rands))
        .with(AtMac::ZEROED);
    let mut b = request(id, m);
    sim_message::sign_packet(&server_keys(k_aut_of).k_aut, &mut b, &NONCE).unwrap();
    b
}

fn client_error_code(p: &SimPacket) -> Option<u16> {
    assert_eq!(p.message.subtype, SimSubtype::ClientError);
    p.message.client_error_code()
}

#[test]
fn full_authentication_with_two_and_three_rands() {
    for n in [2, 3] {
        let mut h = Harness::new();
        let start = h.start(&[1]);
        assert_eq!(start.message.subtype, SimSubtype::Start);
        assert_eq!(start.message.nonce_mt(), Some(&NONCE));
        assert_eq!(start.message.selected_version(), Some(1));
        assert_eq!(start.message.identity(), None);
        let rands = &RANDS[..n];
        let resp = h.send(&challenge(3, rands, rands));
        assert_eq!(resp.message.subtype, SimSubtype::Challenge);
        // Our AT_MAC covers n*SRES (RFC 4186 §9.4).
        let sres: Vec<_> = rands
            .iter()
            .map(|r| sub_keys().gsm_triplet(*r).sres)
            .collect();
        let raw = resp.encode().unwrap();
        let k = server_keys(rands);
        assert!(sim_message::verify_packet(
            &k.k_aut,
            &raw,
            &sim_keys::n_sres(&sres)
        ));
        assert!(!sim_message::verify_packet(&k.k_aut, &raw, &[]));
        let success = Packet::Success { identifier: 3 }.encode().unwrap();
        match h.feed(&success) {
            Action::Done(Outcome::Success(s)) => {
                assert_eq!(s.method_name, "EAP-SIM");
                assert_eq!(s.identity, IDENTITY);
                assert_eq!(s.keys.msk, k.msk);
                assert_eq!(s.kind, AuthKind::Full);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(h.peer.method_name(), Some("EAP-SIM"));
    }
}

/// A server that starts with SIM/Start (no EAP-Request/Identity, no
/// identity request): the MK identity is still the EAP-SIM one.
#[test]
fn start_without_identity_exchange() {
    let mut h = Harness::new();
    assert_eq!(h.peer.identity(), IDENTITY);
    let start = SimMessage::new(SimSubtype::Start).with(AtVersionList { versions: vec![1] });
    let r = h.send(&request(1, start));
    assert_eq!(r.message.subtype, SimSubtype::Start);
    let resp = h.send(&challenge(2, &RANDS[..2], &RANDS[..2]));
    assert_eq!(resp.message.subtype, SimSubtype::Challenge);
}

#[test]
fn identity_request_in_start_and_nak() {
    let mut h = Harness::new();
    h.start(&[1]);
    let m = SimMessage::new(SimSubtype::Start)
        .with(AtVersionList { versions: vec![1] })
        .with(AtPermanentIdReq::default());
    let r = h.send(&request(3, m));
    assert_eq!(r.message.identity(), Some(IDENTITY.as_bytes()));
    // An AKA request while EAP-SIM runs is discarded; a SIM-only peer Naks AKA first.
    let mut fresh = Peer::new(config());
    let aka = Packet::Request {
        identifier: 1,
        data: TypeData::from_aka(
            Method::Aka,
            eap::aka::message::Message::new(eap::aka::message::Subtype::Identity),
        ),
    }
    .encode()
    .unwrap();
    match fresh.handle(&aka) {
        Action::Send(b) => assert_eq!(
            Packet::decode(&b).unwrap(),
            Packet::Response {
                identifier: 1,
                data: TypeData::Nak(vec![18])
            }
        ),
        other => panic!("{other:?}"),
    }
}

/// RFC 4186 §10.2/§10.19: no version we support → client error code 1.
#[test]
fn refuses_a_version_it_did_not_offer() {
    let mut h = Harness::new();
    let r = h.start(&[2, 3]);
    assert_eq!(client_error_code(&r), Some(1));
    let failure = Packet::Failure { identifier: 3 }.encode().unwrap();
    assert!(matches!(
        h.feed(&failure),
        Action::Done(Outcome::Failure { .. })
    ));
}

/// RFC 4186 §9.3: fewer than two RANDs → code 2 (the card is not asked).
#[test]
fn refuses_fewer_than_two_rands() {
    let mut h = Harness::new();
    h.start(&[1]);
    // One RAND: AT_RAND of length 5, which the decoder refuses.
    let mut body = vec![SimSubtype::Challenge.value(), 0, 0];
    body.extend([1, 5, 0, 0]);
    body.extend([9; 16]);
    body.extend([11, 5, 0, 0]);
    body.extend([0; 16]);
    let raw = Packet::Request {
        identifier: 3,
        data: TypeData::Unknown(18, body),
    }
    .encode()
    .unwrap();
    match h.peer.handle(&raw) {
        Action::Send(b) => {
            assert_eq!(client_error_code(&SimPacket::decode(&b).unwrap()), Some(2))
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 4186 §9.3: a repeated RAND → code 3, before the card is asked.
#[test]
fn refuses_a_repeated_rand() {
    let mut h = Harness::new();
    h.start(&[1]);
    let rands = [RANDS[0], RANDS[1], RANDS[0]];
    match h.peer.handle(&challenge(3, &rands, &rands)) {
        Action::Send(b) => {
            assert_eq!(client_error_code(&SimPacket::decode(&b).unwrap()), Some(3))
        }
        other => panic!("{other:?}"),
    }
}

/// RFC 4186 §9.3: a wrong AT_MAC → code 0, "unable to process packet".
#[test]
fn refuses_a_bad_mac() {
    let mut h = Harness::new();
    h.start(&[1]);
    // Signed with the keys of other RANDs.
    let r = h.send(&challenge(3, &RANDS[..2], &RANDS[1..3]));
    assert_eq!(client_error_code(&r), Some(0));
    // Only EAP-Failure can follow: a Success is discarded.
    let success = Packet::Success { identifier: 3 }.encode().unwrap();
    assert!(matches!(h.feed(&success), Action::Discard(_)));
}

#[test]
fn notification_and_reauth_requests() {
    // Post-challenge failure notification with AT_MAC: answered with AT_MAC.
    let mut h = Harness::new();
    h.start(&[1]);
    h.send(&challenge(3, &RANDS[..2], &RANDS[..2]));
    let k = server_keys(&RANDS[..2]);
    let m = SimMessage::new(SimSubtype::Notification)
        .with(AtNotification::from_value(0))
        .with(AtMac::ZEROED);
    let mut b = request(4, m);
    sim_message::sign_packet(&k.k_aut, &mut b, &[]).unwrap();
    let r = h.send(&b);
    assert_eq!(r.message.subtype, SimSubtype::Notification);
    assert!(sim_message::verify_packet(
        &k.k_aut,
        &r.encode().unwrap(),
        &[]
    ));
    // Re-authentication without a re-auth identity: client error.
    let mut h = Harness::new();
    h.start(&[1]);
    let r = h.send(&request(3, SimMessage::new(SimSubtype::Reauthentication)));
    assert_eq!(client_error_code(&r), Some(0));
}

#[test]
fn failure_after_the_challenge_names_eap_sim() {
    let mut h = Harness::new();
    h.start(&[1]);
    h.send(&challenge(3, &RANDS[..2], &RANDS[..2]));
    match h.feed(&Packet::Failure { identifier: 3 }.encode().unwrap()) {
        Action::Done(Outcome::Failure { reason, .. }) => {
            assert!(reason.contains("EAP-SIM Challenge"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn retransmitted_challenge_gets_the_same_answer() {
    let mut h = Harness::new();
    h.start(&[1]);
    let c = challenge(3, &RANDS[..2], &RANDS[..2]);
    let first = h.send(&c).encode().unwrap();
    match h.peer.handle(&c) {
        Action::Send(again) => assert_eq!(again, first),
        other => panic!("{other:?}"),
    }
}

/// The same exchange with a 2G SIM: the triplets come from RUN GSM ALGORITHM.
#[test]
fn full_authentication_with_a_2g_sim() {
    let mut h = Harness::new();
    h.usim = Usim::new(test_sim(None).gsm_sim());
    h.usim.select_application().unwrap();
    assert!(h.usim.is_gsm_sim());
    h.start(&[1]);
    let c = challenge(3, &RANDS, &RANDS);
    let resp = match h.peer.handle(&c) {
        Action::GsmAuthenticate { rands } => {
            let t: Vec<_> = rands
                .iter()
                .map(|r| h.usim.gsm_triplet(r).unwrap())
                .collect();
            h.peer.gsm_result(&t)
        }
        other => panic!("{other:?}"),
    };
    let Action::Send(b) = resp else {
        panic!("{resp:?}")
    };
    assert_eq!(
        SimPacket::decode(&b).unwrap().message.subtype,
        SimSubtype::Challenge
    );
    let success = Packet::Success { identifier: 3 }.encode().unwrap();
    match h.feed(&success) {
        Action::Done(Outcome::Success(s)) => assert_eq!(s.keys.msk, server_keys(&RANDS).msk),
        other => panic!("{other:?}"),
    }
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Any EAP-SIM request body after the Start round: no panic.
        #[test]
        fn never_panics(subtype in 9u8..16, attrs in proptest::collection::vec(any::<u8>(), 0..120)) {
            let mut h = Harness::new();
            h.start(&[1]);
            let mut body = vec![subtype, 0, 0];
            body.extend(attrs);
            let p = Packet::Request { identifier: 3, data: TypeData::Unknown(18, body) }
                .encode()
                .unwrap();
            let _ = h.feed(&p);
            let _ = h.feed(&Packet::Success { identifier: 3 }.encode().unwrap());
        }

        /// Every byte of the Challenge is under AT_MAC: any change is refused
        /// (never a Challenge response, never EAP-Success accepted).
        #[test]
        fn mutated_challenge_is_refused(pos in 0usize..200, val in 1u8..=255) {
            let mut h = Harness::new();
            h.start(&[1]);
            let mut p = challenge(3, &RANDS[..2], &RANDS[..2]);
            let n = p.len();
            p[pos % n] ^= val;
            let a = h.feed(&p);
            // A mutated Type byte makes it another method's request: the
            // answer (a Nak, another method's error) is then no EAP-SIM packet.
            if let Action::Send(b) = &a
                && let Ok(r) = SimPacket::decode(b)
            {
                prop_assert_ne!(r.message.subtype, SimSubtype::Challenge);
            }
            let s = h.feed(&Packet::Success { identifier: p[1] }.encode().unwrap());
            prop_assert!(!matches!(s, Action::Done(Outcome::Success(_))));
        }
    }
}
