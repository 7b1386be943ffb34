//! The peer against a scripted server built from the `eap` crate.

use super::*;
use crate::usim::Usim;
use crate::usim::sim::tests::{IMSI, keys as sub_keys, test_sim};
use crate::usim::sim::{MemoryStore, Simulator};
use eap::aka::attr::{AtAutn, AtBidding, AtKdfInput, AtNotification, AtPermanentIdReq, AtRand};
use eap::umts::{Amf, AuthVector, Sqn};

const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";

fn config(methods: Methods) -> PeerConfig {
    PeerConfig {
        imsi: Imsi::parse(IMSI).unwrap(),
        mnc_len: MncLen::Two,
        realm: None,
        methods,
        network_name: Some(b"WLAN".to_vec()),
    }
}

struct Harness {
    peer: Peer,
    usim: Usim<Simulator<MemoryStore>>,
    usim_calls: u32,
}

impl Harness {
    fn new(methods: Methods) -> Self {
        let mut usim = Usim::new(test_sim(None));
        usim.select_usim().unwrap();
        Self {
            peer: Peer::new(config(methods)),
            usim,
            usim_calls: 0,
        }
    }

    /// Feeds a packet, running the USIM when asked.
    fn feed(&mut self, p: &[u8]) -> Action {
        match self.peer.handle(p) {
            Action::Authenticate { rand, autn } => {
                self.usim_calls += 1;
                let r = self.usim.authenticate(&rand, &autn).unwrap();
                self.peer.usim_result(r)
            }
            a => a,
        }
    }

    fn send(&mut self, p: &[u8]) -> Packet {
        match self.feed(p) {
            Action::Send(b) => Packet::decode(&b).unwrap(),
            other => panic!("expected a response, got {other:?}"),
        }
    }
}

fn identity_request(id: u8) -> Vec<u8> {
    Packet::Request {
        identifier: id,
        data: TypeData::Identity(vec![]),
    }
    .encode()
    .unwrap()
}

fn aka_msg(p: &Packet) -> (Method, &Message) {
    p.aka().expect("an AKA response")
}

/// The server side of one Challenge.
struct ServerChallenge {
    av: AuthVector,
    keys: Keys,
    packet: Vec<u8>,
}

#[derive(Clone)]
struct ChallengeOpts {
    method: Method,
    identity: String,
    sqn: Sqn,
    amf: Amf,
    kdfs: Vec<u16>,
    kdf_input: Option<Vec<u8>>,
    checkcode: Option<eap::aka::attr::Checkcode>,
    bidding: Option<bool>,
    mac: bool,
    result_ind: bool,
    server_keys: eap::umts::SubscriberKeys,
}

impl ChallengeOpts {
    fn new(method: Method) -> Self {
        let lead = if method == Method::Aka { '0' } else { '6' };
        Self {
            method,
            identity: format!("{lead}{IMSI}@{REALM}"),
            sqn: Sqn::from_seq_ind(2, 1),
            amf: Amf([0x80, 0x00]),
            kdfs: if method == Method::AkaPrime {
                vec![1]
            } else {
                vec![]
            },
            kdf_input: (method == Method::AkaPrime).then(|| b"WLAN".to_vec()),
            checkcode: None,
            bidding: None,
            mac: true,
            result_ind: false,
            server_keys: sub_keys(),
        }
    }

    fn build(&self, id: u8) -> ServerChallenge {
        let av = self
            .server_keys
            .generate_vector(self.sqn, self.amf, [0x5A; 16]);
        let keys = match self.method {
            Method::Aka => keys::derive_aka(self.identity.as_bytes(), &av.ik, &av.ck),
            Method::AkaPrime => keys::derive_aka_prime_from_ck_ik(
                self.identity.as_bytes(),
                &av.ck,
                &av.ik,
                self.kdf_input.as_deref().unwrap_or(b"WLAN"),
                &av.autn.sqn_xor_ak(),
            )
            .unwrap(),
        };
        let mut m = Message::new(Subtype::Challenge)
            .with(AtRand::new(av.rand))
            .with(AtAutn::new(av.autn));
        if let Some(n) = &self.kdf_input {
            m.push(AtKdfInput {
                network_name: n.clone(),
            });
        }
        for k in &self.kdfs {
            m.push(AtKdf { kdf: *k });
        }
        if let Some(c) = self.checkcode {
            m.push(AtCheckcode::new(c));
        }
        if let Some(d) = self.bidding {
            m.push(AtBidding { d, reserved: 0 });
        }
        if self.result_ind {
            m.push(AtResultInd::default());
        }
        if self.mac {
            m.push(AtMac::ZEROED);
        }
        let mut packet = Packet::Request {
            identifier: id,
            data: TypeData::from_aka(self.method, m),
        }
        .encode()
        .unwrap();
        if self.mac {
            message::sign_packet(&keys.k_aut, &mut packet, NO_EXTRA).unwrap();
        }
        ServerChallenge { av, keys, packet }
    }
}

fn expect_subtype(p: &Packet, method: Method, st: Subtype) {
    let (m, msg) = aka_msg(p);
    assert_eq!(m, method);
    assert_eq!(msg.subtype, st, "{msg:?}");
}

fn success(id: u8) -> Vec<u8> {
    Packet::Success { identifier: id }.encode().unwrap()
}

fn failure(id: u8) -> Vec<u8> {
    Packet::Failure { identifier: id }.encode().unwrap()
}

fn full_run(method: Method, methods: Methods) {
    let mut h = Harness::new(methods);
    let r = h.send(&identity_request(1));
    let TypeData::Identity(id) = r.data().unwrap() else {
        panic!()
    };
    let opts = ChallengeOpts::new(method);
    assert_eq!(String::from_utf8_lossy(id), opts.identity);
    let ch = opts.build(2);
    let raw = match h.feed(&ch.packet) {
        Action::Send(b) => b,
        other => panic!("{other:?}"),
    };
    let r = Packet::decode(&raw).unwrap();
    expect_subtype(&r, method, Subtype::Challenge);
    let (_, msg) = aka_msg(&r);
    assert!(msg.res().unwrap().ct_eq(&ch.av.xres));
    assert!(
        message::verify_packet(&ch.keys.k_aut, &raw, NO_EXTRA),
        "server verifies our AT_MAC"
    );
    assert_eq!(msg.checkcode(), Some(&eap::aka::attr::Checkcode::Empty));
    match h.feed(&success(2)) {
        Action::Done(Outcome::Success(s)) => {
            assert_eq!(s.method, method);
            assert_eq!(s.keys.msk, ch.keys.msk);
            assert_eq!(s.identity, opts.identity);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(h.peer.round_trips(), 2);
}

#[test]
fn aka_success() {
    full_run(Method::Aka, Methods::only(Method::Aka));
}

#[test]
fn aka_prime_success() {
    full_run(Method::AkaPrime, Methods::only(Method::AkaPrime));
    full_run(Method::AkaPrime, Methods::BOTH);
}

#[test]
fn identity_round_and_checkcode() {
    for method in [Method::Aka, Method::AkaPrime] {
        let mut h = Harness::new(Methods::only(method));
        h.send(&identity_request(1));
        let req = Packet::Request {
            identifier: 2,
            data: TypeData::from_aka(
                method,
                Message::new(Subtype::Identity).with(AtPermanentIdReq::default()),
            ),
        }
        .encode()
        .unwrap();
        let raw = match h.feed(&req) {
            Action::Send(b) => b,
            other => panic!("{other:?}"),
        };
        let r = Packet::decode(&raw).unwrap();
        expect_subtype(&r, method, Subtype::Identity);
        let mut cc = Checkcode::new(method);
        cc.update(&req);
        cc.update(&raw);
        let mut opts = ChallengeOpts::new(method);
        opts.checkcode = Some(cc.to_attr());
        let ch = opts.build(3);
        let r = h.send(&ch.packet);
        expect_subtype(&r, method, Subtype::Challenge);
        assert_eq!(aka_msg(&r).1.checkcode(), Some(&cc.to_attr()));
        assert!(matches!(
            h.feed(&success(3)),
            Action::Done(Outcome::Success(_))
        ));

        // Tampered identity round: checkcode mismatch → Client-Error.
        let mut h = Harness::new(Methods::only(method));
        h.send(&identity_request(1));
        h.send(&req);
        let mut opts = ChallengeOpts::new(method);
        opts.checkcode = Some(eap::aka::attr::Checkcode::Empty);
        let r = h.send(&opts.build(3).packet);
        expect_subtype(&r, method, Subtype::ClientError);
        assert!(
            matches!(h.feed(&success(3)), Action::Discard(_)),
            "no success after a client error"
        );
        assert!(matches!(
            h.feed(&failure(3)),
            Action::Done(Outcome::Failure { .. })
        ));
    }
}

#[test]
fn identity_requests_out_of_order() {
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let perm = |id| {
        Packet::Request {
            identifier: id,
            data: TypeData::Aka(Message::new(Subtype::Identity).with(AtPermanentIdReq::default())),
        }
        .encode()
        .unwrap()
    };
    let any = Packet::Request {
        identifier: 3,
        data: TypeData::Aka(
            Message::new(Subtype::Identity).with(eap::aka::attr::AtAnyIdReq::default()),
        ),
    }
    .encode()
    .unwrap();
    expect_subtype(&h.send(&perm(2)), Method::Aka, Subtype::Identity);
    expect_subtype(&h.send(&any), Method::Aka, Subtype::ClientError);
    // More than three rounds.
    let mut h = Harness::new(Methods::only(Method::Aka));
    for id in 2..5 {
        expect_subtype(&h.send(&perm(id)), Method::Aka, Subtype::Identity);
    }
    expect_subtype(&h.send(&perm(9)), Method::Aka, Subtype::ClientError);
}

#[test]
fn mac_missing_or_wrong_is_client_error() {
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::Aka);
    opts.mac = false;
    let r = h.send(&opts.build(2).packet);
    expect_subtype(&r, Method::Aka, Subtype::ClientError);
    assert_eq!(h.usim_calls, 0, "no AUTHENTICATE without AT_MAC");

    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::Aka);
    opts.identity = "0wrong@identity".into(); // keys derived from another identity
    let r = h.send(&opts.build(2).packet);
    expect_subtype(&r, Method::Aka, Subtype::ClientError);
    assert!(matches!(h.feed(&success(2)), Action::Discard(_)));
}

#[test]
fn network_mac_failure_is_authentication_reject() {
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::Aka);
    opts.server_keys =
        eap::umts::SubscriberKeys::new(eap::secret::K::new([9; 16]), sub_keys().opc.clone());
    let r = h.send(&opts.build(2).packet);
    expect_subtype(&r, Method::Aka, Subtype::AuthenticationReject);
    match h.feed(&failure(2)) {
        Action::Done(Outcome::Failure { reason, .. }) => {
            assert!(reason.contains("MAC-A"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn stale_sqn_gives_synchronization_failure_then_success() {
    for method in [Method::Aka, Method::AkaPrime] {
        let mut h = Harness::new(Methods::only(method));
        h.send(&identity_request(1));
        let mut opts = ChallengeOpts::new(method);
        opts.sqn = Sqn::from_seq_ind(1, 0); // the card has seen SEQ 1 everywhere
        let ch = opts.build(2);
        let r = h.send(&ch.packet);
        expect_subtype(&r, method, Subtype::SynchronizationFailure);
        let (_, msg) = aka_msg(&r);
        let auts = msg.auts().unwrap();
        let sqn_ms = sub_keys().resync(&ch.av.rand, auts).unwrap();
        assert_eq!(sqn_ms.seq(), 1);
        if method == Method::AkaPrime {
            assert_eq!(msg.kdfs().collect::<Vec<_>>(), vec![1]);
        }
        // The server resynchronises and sends a fresh Challenge.
        opts.sqn = Sqn::from_seq_ind(sqn_ms.seq() + 1, 0);
        let ch = opts.build(3);
        expect_subtype(&h.send(&ch.packet), method, Subtype::Challenge);
        assert!(matches!(
            h.feed(&success(3)),
            Action::Done(Outcome::Success(_))
        ));
    }
}

#[test]
fn kdf_negotiation_and_downgrade() {
    // Server prefers an unknown KDF 7, also offers 1: the peer asks for 1.
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::AkaPrime);
    opts.kdfs = vec![7, 1];
    let r = h.send(&opts.build(2).packet);
    expect_subtype(&r, Method::AkaPrime, Subtype::Challenge);
    let (_, msg) = aka_msg(&r);
    assert_eq!(msg.kdfs().collect::<Vec<_>>(), vec![1]);
    assert!(msg.mac().is_none() && msg.res().is_none());
    assert_eq!(h.usim_calls, 0);
    // Correct second Challenge: [1, 7, 1].
    let mut ok = opts.clone();
    ok.kdfs = vec![1, 7, 1];
    expect_subtype(
        &h.send(&ok.build(3).packet),
        Method::AkaPrime,
        Subtype::Challenge,
    );
    assert!(matches!(
        h.feed(&success(3)),
        Action::Done(Outcome::Success(_))
    ));

    // Tampered second Challenge (the original list changed): reject.
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    h.send(&opts.build(2).packet);
    let mut bad = opts.clone();
    bad.kdfs = vec![1];
    expect_subtype(
        &h.send(&bad.build(3).packet),
        Method::AkaPrime,
        Subtype::AuthenticationReject,
    );

    // Only unknown KDFs: reject.
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    let mut none = ChallengeOpts::new(Method::AkaPrime);
    none.kdfs = vec![7];
    expect_subtype(
        &h.send(&none.build(2).packet),
        Method::AkaPrime,
        Subtype::AuthenticationReject,
    );

    // No AT_KDF at all.
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    let mut missing = ChallengeOpts::new(Method::AkaPrime);
    missing.kdfs = vec![];
    expect_subtype(
        &h.send(&missing.build(2).packet),
        Method::AkaPrime,
        Subtype::ClientError,
    );
}

#[test]
fn network_name_and_separation_bit() {
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::AkaPrime);
    opts.kdf_input = Some(b"HRPD".to_vec());
    expect_subtype(
        &h.send(&opts.build(2).packet),
        Method::AkaPrime,
        Subtype::AuthenticationReject,
    );

    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::AkaPrime);
    opts.amf = Amf([0x00, 0x00]);
    expect_subtype(
        &h.send(&opts.build(2).packet),
        Method::AkaPrime,
        Subtype::AuthenticationReject,
    );
    assert_eq!(h.usim_calls, 0);

    // Without an expected name any name is taken.
    let mut cfg = config(Methods::only(Method::AkaPrime));
    cfg.network_name = None;
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.peer = Peer::new(cfg);
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::AkaPrime);
    opts.kdf_input = Some(b"HRPD".to_vec());
    expect_subtype(
        &h.send(&opts.build(2).packet),
        Method::AkaPrime,
        Subtype::Challenge,
    );
}

#[test]
fn bidding_down_is_client_error() {
    let mut h = Harness::new(Methods::BOTH);
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::Aka);
    opts.bidding = Some(true);
    opts.identity = h.peer.config.permanent_identity(Method::AkaPrime);
    expect_subtype(
        &h.send(&opts.build(2).packet),
        Method::Aka,
        Subtype::ClientError,
    );

    // Only AKA enabled locally: D bit is fine.
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::Aka);
    opts.bidding = Some(true);
    expect_subtype(
        &h.send(&opts.build(2).packet),
        Method::Aka,
        Subtype::Challenge,
    );
}

#[test]
fn success_and_failure_rules() {
    let mut h = Harness::new(Methods::only(Method::Aka));
    assert!(matches!(h.feed(&success(1)), Action::Discard(_)));
    h.send(&identity_request(1));
    assert!(matches!(h.feed(&success(1)), Action::Discard(_)));
    assert!(matches!(
        h.feed(&failure(1)),
        Action::Done(Outcome::Failure { .. })
    ));
    assert!(
        matches!(h.feed(&identity_request(5)), Action::Discard(_)),
        "done stays done"
    );
}

#[test]
fn unknown_method_gets_nak() {
    let mut h = Harness::new(Methods::BOTH);
    h.send(&identity_request(1));
    let peap = Packet::Request {
        identifier: 2,
        data: TypeData::Unknown(25, vec![0x20]),
    }
    .encode()
    .unwrap();
    match h.send(&peap).data() {
        Some(TypeData::Nak(v)) => assert_eq!(v, &vec![50, 23]),
        other => panic!("{other:?}"),
    }
    // AKA' only: an AKA request gets a Nak for 50.
    let mut h = Harness::new(Methods::only(Method::AkaPrime));
    h.send(&identity_request(1));
    let ch = ChallengeOpts::new(Method::Aka).build(2);
    match h.send(&ch.packet).data() {
        Some(TypeData::Nak(v)) => assert_eq!(v, &vec![50]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn retransmitted_challenge_is_answered_without_the_usim() {
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let ch = ChallengeOpts::new(Method::Aka).build(2);
    let Action::Send(a) = h.feed(&ch.packet) else {
        panic!()
    };
    let Action::Send(b) = h.feed(&ch.packet) else {
        panic!()
    };
    assert_eq!(a, b);
    assert_eq!(h.usim_calls, 1);
}

#[test]
fn notifications() {
    // Pre-challenge failure notification: empty response, then failure.
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let n = Packet::Request {
        identifier: 2,
        data: TypeData::Aka(
            Message::new(Subtype::Notification).with(AtNotification::from_value(16384 | 1026)),
        ),
    }
    .encode()
    .unwrap();
    let r = h.send(&n);
    expect_subtype(&r, Method::Aka, Subtype::Notification);
    assert!(aka_msg(&r).1.attributes.is_empty());
    assert!(matches!(
        h.feed(&failure(2)),
        Action::Done(Outcome::Failure { .. })
    ));

    // Post-challenge success notification with result indication.
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let mut opts = ChallengeOpts::new(Method::Aka);
    opts.result_ind = true;
    let ch = opts.build(2);
    let r = h.send(&ch.packet);
    assert!(aka_msg(&r).1.result_ind());
    let mut n = Packet::Request {
        identifier: 3,
        data: TypeData::Aka(
            Message::new(Subtype::Notification)
                .with(AtNotification::SUCCESS)
                .with(AtMac::ZEROED),
        ),
    }
    .encode()
    .unwrap();
    let unsigned = n.clone();
    message::sign_packet(&ch.keys.k_aut, &mut n, NO_EXTRA).unwrap();
    let Action::Send(raw) = h.feed(&n) else {
        panic!()
    };
    assert!(message::verify_packet(&ch.keys.k_aut, &raw, NO_EXTRA));
    assert!(matches!(
        h.feed(&success(3)),
        Action::Done(Outcome::Success(_))
    ));

    // Same notification with a bad MAC: client error.
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    h.send(&opts.build(2).packet);
    expect_subtype(&h.send(&unsigned), Method::Aka, Subtype::ClientError);

    // A success notification before the Challenge.
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    expect_subtype(&h.send(&unsigned), Method::Aka, Subtype::ClientError);
}

#[test]
fn malformed_requests() {
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    let good = ChallengeOpts::new(Method::Aka).build(2).packet;
    // Truncated EAP (Length beyond the buffer): discarded.
    assert!(matches!(
        h.feed(&good[..good.len() - 4]),
        Action::Discard(_)
    ));
    assert!(matches!(h.feed(&[1, 2]), Action::Discard(_)));
    assert!(matches!(h.feed(&[]), Action::Discard(_)));
    assert!(
        matches!(h.feed(&[9, 1, 0, 4]), Action::Discard(_)),
        "unknown code"
    );
    // Attribute with length 0: Client-Error.
    let mut zero = vec![1, 3, 0, 12, 23, 1, 0, 0, 1, 0, 0, 0];
    expect_subtype(&h.send(&zero), Method::Aka, Subtype::ClientError);
    // Attribute longer than the message.
    let mut h = Harness::new(Methods::only(Method::Aka));
    zero[9] = 9;
    expect_subtype(&h.send(&zero), Method::Aka, Subtype::ClientError);
    // Short AT_RAND (length 4 instead of 5).
    let mut h = Harness::new(Methods::only(Method::Aka));
    let mut short = good.clone();
    assert_eq!(short[8], 1); // AT_RAND right after subtype+reserved
    short[9] = 4;
    expect_subtype(&h.send(&short), Method::Aka, Subtype::ClientError);
    // Unexpected subtypes in a request.
    for st in [
        Subtype::SynchronizationFailure,
        Subtype::AuthenticationReject,
        Subtype::ClientError,
    ] {
        let mut h = Harness::new(Methods::only(Method::Aka));
        let p = Packet::Request {
            identifier: 4,
            data: TypeData::Aka(Message::new(st)),
        }
        .encode()
        .unwrap();
        expect_subtype(&h.send(&p), Method::Aka, Subtype::ClientError);
    }
    // Unknown subtype number.
    let mut h = Harness::new(Methods::only(Method::Aka));
    expect_subtype(
        &h.send(&[1, 7, 0, 8, 23, 99, 0, 0]),
        Method::Aka,
        Subtype::ClientError,
    );
    // AKA-Identity without an identity request.
    let mut h = Harness::new(Methods::only(Method::Aka));
    let p = Packet::Request {
        identifier: 4,
        data: TypeData::Aka(Message::new(Subtype::Identity)),
    }
    .encode()
    .unwrap();
    expect_subtype(&h.send(&p), Method::Aka, Subtype::ClientError);
    // A Response sent to the peer.
    let mut h = Harness::new(Methods::only(Method::Aka));
    let p = Packet::Response {
        identifier: 4,
        data: TypeData::Identity(b"x".to_vec()),
    }
    .encode()
    .unwrap();
    assert!(matches!(h.feed(&p), Action::Discard(_)));
    // A second Challenge after a valid one.
    let mut h = Harness::new(Methods::only(Method::Aka));
    h.send(&identity_request(1));
    h.send(&ChallengeOpts::new(Method::Aka).build(2).packet);
    let mut again = ChallengeOpts::new(Method::Aka);
    again.sqn = Sqn::from_seq_ind(3, 1);
    expect_subtype(
        &h.send(&again.build(3).packet),
        Method::Aka,
        Subtype::ClientError,
    );
    // usim_result without a Challenge.
    let mut h = Harness::new(Methods::only(Method::Aka));
    assert!(matches!(
        h.peer.usim_result(AuthResult::MacFailure),
        Action::Discard(_)
    ));
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        #[test]
        fn never_panics(packets in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..80), 1..6)) {
            let mut h = Harness::new(Methods::BOTH);
            h.feed(&identity_request(1));
            for p in packets {
                let _ = h.feed(&p);
            }
        }

        #[test]
        fn mutated_challenge_never_panics(pos in 0usize..200, val in any::<u8>()) {
            let mut h = Harness::new(Methods::BOTH);
            h.feed(&identity_request(1));
            let mut p = ChallengeOpts::new(Method::AkaPrime).build(2).packet;
            let n = p.len();
            p[pos % n] = val;
            let _ = h.feed(&p);
            let _ = h.feed(&success(2));
        }
    }
}
