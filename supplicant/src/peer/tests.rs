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
    /// Attributes sent inside AT_ENCR_DATA (AT_NEXT_PSEUDONYM, AT_NEXT_REAUTH_ID).
    encr: Vec<Attribute>,
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
            encr: Vec::new(),
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
        if !self.encr.is_empty() {
            let plain = message::encode_encrypted_attributes(&self.encr).unwrap();
            let ct = eap::aka::encr::encrypt(&keys.k_encr, &[3; 16], &plain).unwrap();
            m.push(eap::aka::attr::AtIv::new([3; 16]));
            m.push(eap::aka::attr::AtEncrData::new(ct));
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
        let mut cc = CheckcodeHash::new(method);
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

// ---- identity privacy and fast re-authentication ----

mod privacy {
    use super::*;
    use crate::privacy::PeerReauth;
    use eap::aka::attr::{AtCounter, AtEncrData, AtIv, AtNextPseudonym, AtNextReauthId, AtNonceS};
    use eap::aka::{encr, mac};

    const NONCE_S: [u8; 16] = [9; 16];

    fn privacy_peer(state: PrivacyState) -> Harness {
        let mut h = Harness::new(Methods::only(Method::AkaPrime));
        h.peer = Peer::with_privacy(
            config(Methods::only(Method::AkaPrime)),
            PrivacyOptions {
                state,
                ..PrivacyOptions::default()
            },
        );
        h.peer.set_iv([0x11; 16]);
        h
    }

    /// A full authentication whose Challenge carries a pseudonym and a re-auth id.
    fn learned_state() -> (PrivacyState, Keys) {
        let mut h = privacy_peer(PrivacyState::default());
        h.send(&identity_request(1));
        let mut opts = ChallengeOpts::new(Method::AkaPrime);
        opts.encr = vec![
            Attribute::NextPseudonym(AtNextPseudonym {
                pseudonym: b"7pseudo".to_vec(),
            }),
            Attribute::NextReauthId(AtNextReauthId {
                reauth_id: format!("8reauth@{REALM}").into_bytes(),
            }),
        ];
        let ch = opts.build(2);
        expect_subtype(&h.send(&ch.packet), Method::AkaPrime, Subtype::Challenge);
        assert!(h.peer.take_privacy_changed(), "learned identities to save");
        match h.feed(&success(2)) {
            Action::Done(Outcome::Success(s)) => {
                assert_eq!(s.kind, AuthKind::Full);
                assert_eq!(s.identity_kind, IdentityKind::Permanent);
            }
            other => panic!("{other:?}"),
        }
        let st = h.peer.privacy_state().clone();
        assert_eq!(st.pseudonym, Some(format!("7pseudo@{REALM}")));
        assert_eq!(
            st.reauth.as_ref().unwrap().identity,
            format!("8reauth@{REALM}")
        );
        (st, ch.keys)
    }

    fn reauth_request(
        st: &PeerReauth,
        id: u8,
        counter: u16,
        next: Option<&str>,
        sign: bool,
    ) -> Vec<u8> {
        reauth_request_with(st, id, counter, next, sign, None)
    }

    /// The same, with AT_CHECKCODE when `checkcode` is given.
    fn reauth_request_with(
        st: &PeerReauth,
        id: u8,
        counter: u16,
        next: Option<&str>,
        sign: bool,
        checkcode: Option<eap::aka::attr::Checkcode>,
    ) -> Vec<u8> {
        let mut enc = vec![
            Attribute::Counter(AtCounter { counter }),
            Attribute::NonceS(AtNonceS::new(NONCE_S)),
        ];
        if let Some(n) = next {
            enc.push(Attribute::NextReauthId(AtNextReauthId {
                reauth_id: n.as_bytes().to_vec(),
            }));
        }
        let plain = message::encode_encrypted_attributes(&enc).unwrap();
        let ct = encr::encrypt(&st.k_encr, &[4; 16], &plain).unwrap();
        let mut m = Message::new(Subtype::Reauthentication)
            .with(AtIv::new([4; 16]))
            .with(AtEncrData::new(ct));
        if let Some(cc) = checkcode {
            m.push(eap::aka::attr::AtCheckcode::new(cc));
        }
        m.push(AtMac::ZEROED);
        let (mut p, at) = Packet::aka_request(id, Method::AkaPrime, m)
            .encode_with_mac_offset()
            .unwrap();
        if sign {
            mac::sign(&st.k_aut, &mut p, at.unwrap(), mac::NO_EXTRA).unwrap();
        }
        p
    }

    fn sent_identity(h: &mut Harness) -> String {
        let r = h.send(&identity_request(1));
        let TypeData::Identity(id) = r.data().unwrap() else {
            panic!("{r:?}")
        };
        String::from_utf8(id.clone()).unwrap()
    }

    #[test]
    fn fast_reauth_after_a_full_authentication() {
        let (st, _) = learned_state();
        let reauth = st.reauth.clone().unwrap();
        let mut h = privacy_peer(st);
        assert_eq!(sent_identity(&mut h), reauth.identity);
        assert_eq!(h.peer.identity_kind(), IdentityKind::Reauth);
        let next = format!("8next@{REALM}");
        let raw = match h.feed(&reauth_request(&reauth, 2, 1, Some(&next), true)) {
            Action::Send(b) => b,
            other => panic!("{other:?}"),
        };
        // The counter and the next re-auth id must be saved before sending.
        assert!(h.peer.take_privacy_changed());
        let saved = h.peer.privacy_state().reauth.clone().unwrap();
        assert_eq!(
            (saved.identity.as_str(), saved.last_counter),
            (next.as_str(), 1)
        );
        let off = message::mac_value_offset(&raw).unwrap().unwrap();
        assert!(
            mac::verify(&reauth.k_aut, &raw, off, &NONCE_S),
            "AT_MAC over NONCE_S"
        );
        match h.feed(&success(2)) {
            Action::Done(Outcome::Success(s)) => {
                assert_eq!(s.kind, AuthKind::Reauth);
                assert_eq!(s.identity, reauth.identity);
                let want =
                    keys::derive_reauth(&reauth.secret, reauth.identity.as_bytes(), 1, &NONCE_S);
                assert_eq!(s.keys.msk, want.msk);
            }
            other => panic!("{other:?}"),
        }
    }

    /// RFC 4187 §10.13: after an AKA-Identity round the Re-authentication
    /// request's AT_CHECKCODE must cover that round, and the response echoes it.
    #[test]
    fn reauth_after_an_identity_round_checks_and_echoes_at_checkcode() {
        let (st, _) = learned_state();
        let reauth = st.reauth.clone().unwrap();
        for good in [true, false] {
            let mut h = privacy_peer(st.clone());
            sent_identity(&mut h);
            let id_req = Packet::aka_request(
                2,
                Method::AkaPrime,
                Message::new(Subtype::Identity).with(eap::aka::attr::AtAnyIdReq::default()),
            )
            .encode()
            .unwrap();
            let id_resp = match h.feed(&id_req) {
                Action::Send(b) => b,
                other => panic!("{other:?}"),
            };
            let decoded = Packet::decode(&id_resp).unwrap();
            assert_eq!(
                aka_msg(&decoded).1.identity(),
                Some(reauth.identity.as_bytes()),
                "AT_ANY_ID_REQ answered with the re-auth id"
            );
            let mut round = CheckcodeHash::new(Method::AkaPrime);
            round.update(&id_req);
            round.update(&id_resp);
            let sent = if good {
                round.to_attr()
            } else {
                eap::aka::attr::Checkcode::Sha256([7; 32])
            };
            let req = reauth_request_with(&reauth, 3, 1, None, true, Some(sent));
            let r = h.send(&req);
            let (_, m) = aka_msg(&r);
            if good {
                assert_eq!(m.subtype, Subtype::Reauthentication);
                assert_eq!(m.checkcode(), Some(&sent), "AT_CHECKCODE echoed");
            } else {
                assert_eq!(m.subtype, Subtype::ClientError);
            }
        }
    }

    #[test]
    fn replayed_counter_gets_counter_too_small_then_full_auth_with_reauth_id() {
        let (mut st, _) = learned_state();
        st.reauth.as_mut().unwrap().last_counter = 3;
        let reauth = st.reauth.clone().unwrap();
        let mut h = privacy_peer(st);
        assert_eq!(sent_identity(&mut h), reauth.identity);
        let r = h.send(&reauth_request(&reauth, 2, 3, None, true));
        let (_, m) = aka_msg(&r);
        assert_eq!(m.subtype, Subtype::Reauthentication);
        let plain = encr::decrypt(&reauth.k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
        let attrs = message::decode_encrypted_attributes(&plain).unwrap();
        assert!(
            attrs
                .iter()
                .any(|a| matches!(a, Attribute::CounterTooSmall(_)))
        );
        assert!(h.peer.take_privacy_changed());
        assert!(
            h.peer.privacy_state().reauth.is_none(),
            "re-auth state dropped"
        );
        assert!(h.peer.privacy_state().pseudonym.is_some(), "pseudonym kept");
        // RFC 4187 §5.4: the full authentication that follows derives MK
        // with the re-auth identity just used.
        let mut opts = ChallengeOpts::new(Method::AkaPrime);
        opts.identity = reauth.identity.clone();
        let ch = opts.build(3);
        expect_subtype(&h.send(&ch.packet), Method::AkaPrime, Subtype::Challenge);
        match h.feed(&success(3)) {
            Action::Done(Outcome::Success(s)) => {
                assert_eq!(s.kind, AuthKind::Full);
                assert_eq!(s.keys.msk, ch.keys.msk);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_mac_on_reauth_is_client_error_and_forgets_the_reauth_state() {
        let (st, _) = learned_state();
        let reauth = st.reauth.clone().unwrap();
        let mut h = privacy_peer(st);
        sent_identity(&mut h);
        let r = h.send(&reauth_request(&reauth, 2, 1, None, false));
        expect_subtype(&r, Method::AkaPrime, Subtype::ClientError);
        assert!(h.peer.take_privacy_changed());
        assert!(h.peer.privacy_state().reauth.is_none());
        assert!(h.peer.privacy_state().pseudonym.is_some());
        assert!(matches!(
            h.feed(&failure(3)),
            Action::Done(Outcome::Failure { .. })
        ));
        // Without a re-auth identity, a Re-authentication request is refused.
        let mut h = privacy_peer(PrivacyState::default());
        sent_identity(&mut h);
        let r = h.send(&reauth_request(&reauth, 2, 1, None, true));
        expect_subtype(&r, Method::AkaPrime, Subtype::ClientError);
    }

    #[test]
    fn fullauth_id_req_drops_the_reauth_id_and_sends_the_pseudonym() {
        let (st, _) = learned_state();
        let mut h = privacy_peer(st);
        sent_identity(&mut h);
        let req = Packet::aka_request(
            2,
            Method::AkaPrime,
            Message::new(Subtype::Identity).with(eap::aka::attr::AtFullauthIdReq::default()),
        )
        .encode()
        .unwrap();
        let r = h.send(&req);
        assert_eq!(
            aka_msg(&r).1.identity(),
            Some(format!("7pseudo@{REALM}").as_bytes())
        );
        assert_eq!(h.peer.identity_kind(), IdentityKind::Pseudonym);
        assert!(h.peer.privacy_state().reauth.is_none());
    }

    fn operator_cert() -> OperatorCert {
        use openssl::asn1::Asn1Time;
        use openssl::pkey::PKey;
        use openssl::x509::X509;
        let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
        let mut b = X509::builder().unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(0).unwrap()).unwrap();
        b.set_not_after(&Asn1Time::from_unix(4_000_000_000).unwrap())
            .unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256())
            .unwrap();
        OperatorCert::from_pem(&b.build().to_pem().unwrap(), 1_000).unwrap()
    }

    #[test]
    fn imsi_privacy_sends_the_encrypted_identity_and_derives_with_the_plain_one() {
        let mut h = Harness::new(Methods::only(Method::AkaPrime));
        h.peer = Peer::with_privacy(
            config(Methods::only(Method::AkaPrime)),
            PrivacyOptions {
                cert: Some(operator_cert()),
                cert_attr: Some("CertificateSerialNumber=1".into()),
                ..PrivacyOptions::default()
            },
        );
        assert_eq!(sent_identity(&mut h), format!("anonymous@{REALM}"));
        assert_eq!(h.peer.identity_kind(), IdentityKind::Encrypted);
        let req = Packet::aka_request(
            2,
            Method::AkaPrime,
            Message::new(Subtype::Identity).with(AtPermanentIdReq::default()),
        )
        .encode()
        .unwrap();
        let r = h.send(&req);
        let id = aka_msg(&r).1.identity().unwrap().to_vec();
        assert_eq!(id[0], 0, "encrypted identity starts with NUL");
        assert!(id.ends_with(b",CertificateSerialNumber=1"));
        assert!(
            !String::from_utf8_lossy(&id).contains(IMSI),
            "no clear IMSI"
        );
        // MK is derived with the plain permanent identity (the server decrypts it).
        let ch = ChallengeOpts::new(Method::AkaPrime).build(3);
        expect_subtype(&h.send(&ch.packet), Method::AkaPrime, Subtype::Challenge);
        match h.feed(&success(3)) {
            Action::Done(Outcome::Success(s)) => {
                assert_eq!(s.keys.msk, ch.keys.msk);
                assert_eq!(s.identity_kind, IdentityKind::Encrypted);
            }
            other => panic!("{other:?}"),
        }
    }
}
