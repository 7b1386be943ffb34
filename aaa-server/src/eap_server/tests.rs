//! Both halves in memory: the server against a small test peer built from
//! `eap` and `eap::umts`, with subscribers from testdata/vectors/milenage.json.

use super::*;
use crate::hss::SqliteStore;
use crate::hss::sqlite::NewSubscriber;
use crate::hss::{HssError, Imsi, VectorKind};
use eap::aka::attr::{AtAuts, AtIdentity, AtRes};
use eap::aka::attr::{AtCheckcode, AtMac};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{self, Keys};
use eap::aka::mac::NO_EXTRA;
use eap::aka::message::{IdReq, Message, Subtype, verify_packet};
use eap::secret::{K, Opc};
use eap::umts::AuthVector;
use eap::umts::{Amf, Sqn, SubscriberKeys};

/// A subscriber of the shared Milenage vectors: (IMSI, K, OPc).
pub(crate) fn vector_subscribers() -> Vec<(String, [u8; 16], [u8; 16])> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/milenage.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/vectors/milenage.json must exist");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut out = Vec::new();
    for (i, set) in v["sets"].as_array().unwrap().iter().enumerate() {
        let (Some(k), Some(opc)) = (set["K"].as_str(), set["OPc"].as_str()) else {
            continue;
        };
        let mut kk = [0; 16];
        let mut oo = [0; 16];
        hex::decode_to_slice(k, &mut kk).unwrap();
        hex::decode_to_slice(opc, &mut oo).unwrap();
        out.push((format!("00101{:010}", i + 1), kk, oo));
    }
    assert!(out.len() >= 3);
    out
}

pub(crate) fn store_with_vectors() -> Arc<SqliteStore> {
    let s = SqliteStore::open_in_memory().unwrap();
    for (imsi, k, opc) in vector_subscribers() {
        s.add(&NewSubscriber {
            imsi: Imsi::parse(&imsi).unwrap(),
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            amf: Amf([0x80, 0]),
            sqn: Sqn::default(),
        })
        .unwrap();
    }
    Arc::new(s)
}

/// A minimal EAP-AKA/AKA' peer with a USIM (test code).
pub(crate) struct TestPeer {
    pub keys: SubscriberKeys,
    pub identity: Vec<u8>,
    pub permanent: Vec<u8>,
    pub methods: Vec<Method>,
    pub sqn_ms: Sqn,
    pub network_name: Vec<u8>,
    checkcode: Option<CheckcodeHash>,
    k_aut: Option<eap::secret::KAut>,
    pub msk: Option<Msk>,
    pub saw_bidding: Option<bool>,
    pub syncs: u32,
    /// The keys of the last full authentication.
    pub full: Option<Keys>,
}

impl TestPeer {
    pub fn new(imsi: &str, k: [u8; 16], opc: [u8; 16], method: Method) -> Self {
        let lead = if method == Method::Aka { '0' } else { '6' };
        let id = format!("{lead}{imsi}@wlan.mnc001.mcc001.3gppnetwork.org").into_bytes();
        Self {
            keys: SubscriberKeys::new(K::new(k), Opc::new(opc)),
            identity: id.clone(),
            permanent: id,
            methods: vec![method],
            sqn_ms: Sqn::default(),
            network_name: b"WLAN".to_vec(),
            checkcode: None,
            k_aut: None,
            msk: None,
            saw_bidding: None,
            syncs: 0,
            full: None,
        }
    }

    /// The EAP-Response/Identity.
    pub fn identity_response(&self, id: u8) -> Vec<u8> {
        Packet::Response {
            identifier: id,
            data: TypeData::Identity(self.identity.clone()),
        }
        .encode()
        .unwrap()
    }

    fn respond(&self, id: u8, method: Method, msg: Message) -> Vec<u8> {
        Packet::Response {
            identifier: id,
            data: TypeData::from_aka(method, msg),
        }
        .encode()
        .unwrap()
    }

    /// Answers one EAP-Request.
    pub fn handle(&mut self, req: &[u8]) -> Vec<u8> {
        let pkt = Packet::decode(req).unwrap();
        let id = pkt.identifier();
        let Some((method, msg)) = pkt.aka() else {
            panic!("not AKA: {pkt:?}");
        };
        if !self.methods.contains(&method) {
            let want = self.methods.iter().map(|m| m.eap_type()).collect();
            return Packet::Response {
                identifier: id,
                data: TypeData::Nak(want),
            }
            .encode()
            .unwrap();
        }
        let cc = self
            .checkcode
            .get_or_insert_with(|| CheckcodeHash::new(method));
        if cc.method() != method {
            *cc = CheckcodeHash::new(method);
        }
        match msg.subtype {
            Subtype::Identity => {
                self.checkcode.as_mut().unwrap().update(req);
                self.identity = self.permanent.clone();
                let r = self.respond(
                    id,
                    method,
                    Message::new(Subtype::Identity).with(AtIdentity {
                        identity: self.permanent.clone(),
                    }),
                );
                self.checkcode.as_mut().unwrap().update(&r);
                r
            }
            Subtype::Challenge => {
                self.saw_bidding = msg.bidding();
                let rand = *msg.rand().unwrap();
                let autn = *msg.autn().unwrap();
                let Ok(u) = self.keys.authenticate(&rand, &autn) else {
                    return self.respond(id, method, Message::new(Subtype::AuthenticationReject));
                };
                if u.sqn.seq() <= self.sqn_ms.seq() {
                    self.syncs += 1;
                    let auts = self.keys.auts(&rand, self.sqn_ms);
                    return self.respond(
                        id,
                        method,
                        Message::new(Subtype::SynchronizationFailure).with(AtAuts { auts }),
                    );
                }
                self.sqn_ms = u.sqn;
                let keys = match method {
                    Method::Aka => keys::derive_aka(&self.identity, &u.ik, &u.ck),
                    Method::AkaPrime => {
                        assert!(u.amf.separation_bit(), "AKA' needs the separation bit");
                        assert_eq!(msg.kdfs().collect::<Vec<_>>(), vec![1]);
                        assert_eq!(msg.kdf_input(), Some(&self.network_name[..]));
                        let (c, i) =
                            keys::ck_ik_prime(&u.ck, &u.ik, &self.network_name, &autn.sqn_xor_ak())
                                .unwrap();
                        keys::derive_aka_prime(&self.identity, &c, &i)
                    }
                };
                assert!(verify_packet(&keys.k_aut, req, NO_EXTRA), "server AT_MAC");
                let cc = self.checkcode.as_ref().unwrap();
                if let Some(c) = msg.checkcode() {
                    assert!(cc.verify_attr(c), "server AT_CHECKCODE");
                }
                let mut m = Message::new(Subtype::Challenge).with(AtRes { res: u.res.clone() });
                if cc.packets() > 0 {
                    m.push(AtCheckcode {
                        checkcode: cc.to_attr(),
                        reserved: 0,
                    });
                }
                m.push(AtMac::ZEROED);
                let (mut bytes, off) = Packet::Response {
                    identifier: id,
                    data: TypeData::from_aka(method, m),
                }
                .encode_with_mac_offset()
                .unwrap();
                eap::aka::mac::sign(&keys.k_aut, &mut bytes, off.unwrap(), NO_EXTRA).unwrap();
                self.msk = Some(keys.msk.clone());
                self.k_aut = Some(keys.k_aut.clone());
                self.full = Some(keys);
                bytes
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

pub(crate) fn cfg(methods: &[MethodName]) -> EapConfig {
    EapConfig {
        methods: methods.to_vec(),
        network_name: "WLAN".into(),
        session_timeout: Duration::from_secs(30),
        max_sessions: 100,
    }
}

/// Runs an exchange to the end; returns the final outcome and the number of requests.
fn run(server: &mut EapServer, peer: &mut TestPeer) -> (Outcome, u32) {
    let now = Instant::now();
    let mut out = server.step(None, &peer.identity_response(1), now);
    let mut n = 1;
    loop {
        match out {
            Outcome::Challenge { eap, state } => {
                n += 1;
                assert!(n < 10, "too many rounds");
                let resp = peer.handle(&eap);
                out = server.step(Some(&state), &resp, now);
            }
            o => return (o, n),
        }
    }
}

fn subscriber(i: usize) -> (String, [u8; 16], [u8; 16]) {
    vector_subscribers().swap_remove(i)
}

#[test]
fn aka_prime_permanent_identity_succeeds_with_same_msk() {
    let (imsi, k, opc) = subscriber(0);
    let mut server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let (out, rounds) = run(&mut server, &mut peer);
    let Outcome::Accept {
        msk,
        report,
        user_name,
        eap,
        reply,
        imsi: accepted_imsi,
    } = out
    else {
        panic!("{out:?}");
    };
    assert_eq!(Some(msk), peer.msk);
    assert_eq!(
        reply, None,
        "a store without groups sends no reply attributes"
    );
    assert_eq!(eap[0], 3);
    assert_eq!(rounds, 2, "permanent NAI goes straight to the Challenge");
    assert_eq!(report.result, AuthResult::Success(Success::Full));
    assert_eq!(report.method, Some(Method::AkaPrime));
    assert!(!report.identity.contains(&imsi[6..]), "{}", report.identity);
    assert_eq!(user_name.as_bytes(), &peer.identity[..]);
    assert_eq!(
        accepted_imsi.as_ref().map(|i| i.as_str()),
        Some(imsi.as_str()),
        "the subscriber, for Chargeable-User-Identity"
    );
    assert_eq!(server.session_count(), 0);
}

#[test]
fn aka_with_bidding_when_aka_prime_enabled() {
    let (imsi, k, opc) = subscriber(1);
    let mut server = EapServer::new(
        store_with_vectors(),
        &cfg(&[MethodName::AkaPrime, MethodName::Aka]),
    );
    let mut peer = TestPeer::new(&imsi, k, opc, Method::Aka);
    let (out, _) = run(&mut server, &mut peer);
    assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
    assert_eq!(peer.saw_bidding, Some(true));

    let mut server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::Aka]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::Aka);
    let (out, _) = run(&mut server, &mut peer);
    assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
    assert_eq!(peer.saw_bidding, None);
}

#[test]
fn anonymous_identity_gets_identity_round_and_checkcode() {
    let (imsi, k, opc) = subscriber(2);
    for method in [Method::Aka, Method::AkaPrime] {
        let mut server = EapServer::new(
            store_with_vectors(),
            &cfg(&[MethodName::AkaPrime, MethodName::Aka]),
        );
        let mut peer = TestPeer::new(&imsi, k, opc, method);
        peer.identity = b"anonymous@wlan.mnc001.mcc001.3gppnetwork.org".to_vec();
        let (out, rounds) = run(&mut server, &mut peer);
        assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
        // Identity, AKA-Identity, (Nak to AKA for the AKA peer, which restarts the round), Challenge.
        assert!(rounds >= 3, "{rounds}");
        assert!(peer.checkcode.as_ref().unwrap().packets() == 2);
    }
}

#[test]
fn pseudonym_gets_permanent_id_request() {
    let (imsi, k, opc) = subscriber(0);
    let store = store_with_vectors();
    let server = EapServer::new(store, &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = b"7pseudonym@realm".to_vec();
    let out = server.step(None, &peer.identity_response(5), Instant::now());
    let Outcome::Challenge { eap, .. } = out else {
        panic!("{out:?}")
    };
    let pkt = Packet::decode(&eap).unwrap();
    assert_eq!(pkt.identifier(), 6);
    assert_eq!(pkt.aka().unwrap().1.id_req(), Some(IdReq::Permanent));
}

#[test]
fn usim_ahead_resyncs_once_then_succeeds() {
    let (imsi, k, opc) = subscriber(1);
    let store = store_with_vectors();
    let mut server = EapServer::new(store.clone(), &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.sqn_ms = Sqn::from_seq_ind(5000, 7);
    let (out, rounds) = run(&mut server, &mut peer);
    assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
    assert_eq!(peer.syncs, 1);
    assert_eq!(rounds, 3);
    assert!(store.sqn(&Imsi::parse(&imsi).unwrap()).unwrap().seq() > 5000);
}

/// An HSS whose resync "succeeds" without moving SQN: the USIM stays ahead.
struct StuckHss(Arc<SqliteStore>);
impl Hss for StuckHss {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.0.vector(imsi, kind)
    }
    fn resync(&self, _: &Imsi, _: &[u8; 16], _: &eap::umts::Auts) -> Result<Sqn, HssError> {
        Ok(Sqn::default())
    }
}

#[test]
fn second_sync_failure_is_rejected() {
    let (imsi, k, opc) = subscriber(1);
    let mut server = EapServer::new(
        Arc::new(StuckHss(store_with_vectors())),
        &cfg(&[MethodName::Aka]),
    );
    let mut peer = TestPeer::new(&imsi, k, opc, Method::Aka);
    peer.sqn_ms = Sqn::from_seq_ind(5000, 7);
    let (out, _) = run(&mut server, &mut peer);
    let Outcome::Reject { report, eap } = out else {
        panic!("{out:?}")
    };
    assert_eq!(eap[0], 4);
    assert_eq!(
        report.unwrap().result,
        AuthResult::Reject(Reject::SecondSyncFailure)
    );
    assert_eq!(peer.syncs, 2);
}

#[test]
fn wrong_k_unknown_subscriber_and_wrong_res() {
    let (imsi, k, opc) = subscriber(0);
    let mut server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, [0x55; 16], opc, Method::AkaPrime);
    let (out, _) = run(&mut server, &mut peer);
    let Outcome::Reject { report, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        report.unwrap().result,
        AuthResult::Reject(Reject::AuthenticationReject)
    );

    let mut peer = TestPeer::new("001019999999999", k, opc, Method::AkaPrime);
    let (out, rounds) = run(&mut server, &mut peer);
    let Outcome::Reject { report, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        (report.unwrap().result, rounds),
        (
            AuthResult::Reject(Reject::Hss(HssError::UnknownSubscriber)),
            1
        )
    );

    // A response whose RES is wrong but whose AT_MAC is right cannot be built
    // without the keys; flip a RES byte and the MAC check fails first.
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let now = Instant::now();
    let Outcome::Challenge { eap, state } = server.step(None, &peer.identity_response(1), now)
    else {
        panic!()
    };
    let mut resp = peer.handle(&eap);
    let res_at = resp.iter().position(|b| *b == 3).unwrap(); // AT_RES type after the header
    assert!(res_at >= 8);
    let last = resp.len() - 1;
    resp[last - 20] ^= 0xff;
    let Outcome::Reject { report, .. } = server.step(Some(&state), &resp, now) else {
        panic!()
    };
    assert_eq!(report.unwrap().result, AuthResult::Reject(Reject::BadMac));
}

#[test]
fn legacy_nak_switches_method_once() {
    let (imsi, k, opc) = subscriber(2);
    let mut server = EapServer::new(
        store_with_vectors(),
        &cfg(&[MethodName::AkaPrime, MethodName::Aka]),
    );
    let mut peer = TestPeer::new(&imsi, k, opc, Method::Aka);
    peer.identity = format!("6{imsi}@realm").into_bytes(); // claims AKA', only does AKA
    peer.permanent = peer.identity.clone();
    let (out, rounds) = run(&mut server, &mut peer);
    assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
    assert_eq!(rounds, 3);

    // Nak for a method that is not enabled: rejected.
    let mut server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::Aka);
    let (out, _) = run(&mut server, &mut peer);
    let Outcome::Reject { report, .. } = out else {
        panic!("{out:?}")
    };
    assert_eq!(
        report.unwrap().result,
        AuthResult::Reject(Reject::MethodRefused)
    );
}

#[test]
fn mismatched_identifier_is_discarded_and_unknown_state_rejected() {
    let (imsi, k, opc) = subscriber(0);
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let now = Instant::now();
    let Outcome::Challenge { eap, state } = server.step(None, &peer.identity_response(1), now)
    else {
        panic!()
    };
    let mut resp = peer.handle(&eap);
    resp[1] = resp[1].wrapping_add(1);
    assert!(matches!(
        server.step(Some(&state), &resp, now),
        Outcome::Discard(_)
    ));
    assert_eq!(server.session_count(), 1, "session kept after a discard");
    assert!(matches!(
        server.step(Some(&[9; 16]), &resp, now),
        Outcome::Reject { report: None, .. }
    ));
    // Garbage EAP: rejected or discarded, never a panic.
    assert!(matches!(
        server.step(Some(&state), &[2, 1, 0, 9, 23, 1, 0], now),
        Outcome::Discard(_)
    ));
    assert!(matches!(
        server.step(Some(&state), &[2, 1, 0, 7, 23, 1, 0], now),
        Outcome::Reject {
            report: Some(_),
            ..
        }
    ));
    assert!(matches!(server.step(None, &[2], now), Outcome::Discard(_)));
    // EAP-Start: EAP-Request/Identity, no session.
    let n = server.session_count();
    assert!(matches!(
        server.step(None, &[], now),
        Outcome::Request { eap } if eap == [1, 0, 0, 5, 1]
    ));
    assert_eq!(server.session_count(), n);
    assert!(matches!(
        server.step(None, &[1, 1, 0, 5, 1], now),
        Outcome::Reject { report: None, .. }
    ));
}

#[test]
fn sessions_are_bounded_and_expire() {
    let (imsi, k, opc) = subscriber(0);
    let mut c = cfg(&[MethodName::AkaPrime]);
    c.max_sessions = 3;
    c.session_timeout = Duration::from_secs(5);
    let server = EapServer::new(store_with_vectors(), &c);
    let peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let t0 = Instant::now();
    let mut states = Vec::new();
    for i in 0..5 {
        let Outcome::Challenge { state, .. } = server.step(None, &peer.identity_response(i), t0)
        else {
            panic!()
        };
        states.push(state);
    }
    assert_eq!(server.session_count(), 3);
    assert_ne!(states[0], states[1], "State values differ");
    server.expire(t0 + Duration::from_secs(6));
    assert_eq!(server.session_count(), 0);
}

mod privacy;

/// The per-session footprint stays small: one Session is held per
/// authentication in flight (issue 7: ≤ 1 KiB of server memory each).
#[test]
fn session_state_stays_small() {
    let session = std::mem::size_of::<Session>();
    let challenge = std::mem::size_of::<aka::Challenge>();
    eprintln!("Session {session} B, Challenge {challenge} B");
    assert!(session <= 96, "Session is {session} bytes");
    assert!(challenge <= 176, "Challenge is {challenge} bytes");
}

/// Counts up from `seed`: a deterministic [`Random`].
struct CountingRandom(u8);

impl Random for CountingRandom {
    fn fill(&mut self, out: &mut [u8]) -> Result<(), Reject> {
        for b in out {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}

/// An HSS that always hands out the same vector (fixed RAND and SQN).
struct FixedHss(SubscriberKeys);

impl Hss for FixedHss {
    fn vector(&self, _: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        let amf = crate::hss::vector_amf(Amf([0x80, 0]), kind);
        Ok(self
            .0
            .generate_vector(Sqn::from_seq_ind(1, 1), amf, [7; 16]))
    }
    fn resync(&self, _: &Imsi, _: &[u8; 16], _: &eap::umts::Auts) -> Result<Sqn, HssError> {
        Err(HssError::ResyncMacFailure)
    }
}

/// Runs an identity round, a Challenge carrying encrypted next identities
/// and the Accept with the RNG seeded `seed`; returns every EAP packet
/// the server sent.
fn transcript(seed: u8) -> Vec<Vec<u8>> {
    let (imsi, k, opc) = subscriber(0);
    let hss = Arc::new(FixedHss(SubscriberKeys::new(K::new(k), Opc::new(opc))));
    let mut server = EapServer::new(hss, &cfg(&[MethodName::AkaPrime]));
    let t0 = Instant::now();
    server.set_clock(t0, 1_700_000_000);
    server.set_privacy(Arc::new(PrivacyServer {
        keys: crate::privacy::KeySet::new(crate::privacy::PrivacyKey::new(1, [3; 32]), vec![])
            .unwrap(),
        policy: crate::privacy::Policy::default(),
        imsi_key: None,
        realm: "example.org".into(),
    }));
    let mut rng = CountingRandom(seed);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = b"anonymous@example.org".to_vec();
    let mut sent = Vec::new();
    let mut out = server.step_with(None, &peer.identity_response(1), t0, &mut rng);
    loop {
        match out {
            Outcome::Challenge { eap, state } => {
                sent.push(state.to_vec());
                let resp = peer.handle(&eap);
                sent.push(eap);
                out = server.step_with(Some(&state), &resp, t0, &mut rng);
            }
            Outcome::Accept { eap, msk, .. } => {
                sent.push(eap);
                sent.push(msk.expose().to_vec());
                return sent;
            }
            other => panic!("{other:?}"),
        }
    }
}

/// With the clock and the RNG injected, a whole exchange replays byte for
/// byte: State values, the AKA'-Challenge with its encrypted identities,
/// EAP-Success and the MSK. Another seed changes what the RNG feeds.
#[test]
fn transcripts_replay_byte_exact_with_injected_clock_and_rng() {
    let a = transcript(1);
    assert_eq!(a, transcript(1));
    assert_eq!(a.len(), 6, "identity round, Challenge, Success + MSK");
    assert_eq!(
        a[0],
        (1..=16).collect::<Vec<u8>>(),
        "State: the RNG's first 16 bytes"
    );
    let b = transcript(101);
    assert_ne!(a[0], b[0], "State");
    assert_eq!(a[1], b[1], "the AKA-Identity request uses no randomness");
    assert_ne!(a[3], b[3], "AT_IV / AT_ENCR_DATA in the Challenge");
    assert_eq!(a[5], b[5], "the MSK depends on the vector only");
}

/// Reject variants keep their cause and print the log text.
#[test]
fn reject_variants_display_and_keep_the_hss_cause() {
    let r: Reject = HssError::UnknownSubscriber.into();
    assert_eq!(r, Reject::Hss(HssError::UnknownSubscriber));
    assert_eq!(r.to_string(), "unknown subscriber");
    assert_eq!(
        Reject::UnexpectedSubtype(Round::Challenge).to_string(),
        "unexpected AKA subtype in the challenge round"
    );
    assert_eq!(
        AuthResult::Success(Success::FastReauth).to_string(),
        "success (fast re-authentication)"
    );
    assert_eq!(Discard::SessionBusy.to_string(), "session busy");
}

/// A step that needs the store hands back its session's work; until it is
/// resumed the session is busy (a second request for it is discarded, not
/// run), and an abandoned step leaves the session as it was.
/// A store that answers nothing from memory: every call is store work.
pub(crate) struct Remote(pub Arc<SqliteStore>);

impl Hss for Remote {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.0.vector(imsi, kind)
    }
    fn resync(
        &self,
        imsi: &Imsi,
        rand: &[u8; 16],
        auts: &eap::umts::Auts,
    ) -> Result<Sqn, HssError> {
        self.0.resync(imsi, rand, auts)
    }
}

#[test]
fn deferred_step_marks_the_session_busy_and_abandon_restores_it() {
    let (imsi, k, opc) = subscriber(2);
    let server = EapServer::new(
        Arc::new(Remote(store_with_vectors())),
        &cfg(&[MethodName::AkaPrime]),
    );
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = b"anonymous@realm".to_vec();
    let now = Instant::now();
    let rng: &mut dyn Random = &mut OsRandom;
    let Step::Done(Outcome::Challenge { eap, state }) =
        server.begin(None, &peer.identity_response(1), now, rng)
    else {
        panic!("an anonymous identity gets an AKA-Identity round without the store");
    };
    let resp = peer.handle(&eap);
    let Step::Deferred(d) = server.begin(Some(&state), &resp, now, rng) else {
        panic!("the permanent identity needs a vector");
    };
    assert!(matches!(
        server.begin(Some(&state), &resp, now, rng),
        Step::Done(Outcome::Discard(Discard::SessionBusy))
    ));
    server.abandon(d);
    assert_eq!(server.session_count(), 1);
    // The same response again: the session was put back as it was.
    let Step::Deferred(d) = server.begin(Some(&state), &resp, now, rng) else {
        panic!("deferred again");
    };
    let Step::Done(Outcome::Challenge { eap, state: s2 }) =
        server.resume(server.perform(d), now, rng)
    else {
        panic!("the Challenge");
    };
    assert_eq!(s2, state);
    let out = server.step(Some(&state), &peer.handle(&eap), now);
    assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");
    assert_eq!(server.session_count(), 0);
}

/// A vector the store holds in memory (a reserved SQN range) is taken on
/// the spot: no store work, no thread hop. The first one needs a commit.
#[test]
fn vector_from_memory_is_taken_without_store_work() {
    let (imsi, k, opc) = subscriber(0);
    let server = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let now = Instant::now();
    let rng: &mut dyn Random = &mut OsRandom;
    let first = server.begin(None, &peer.identity_response(1), now, rng);
    let Step::Deferred(d) = first else {
        panic!("the first vector commits a reservation: store work, got {first:?}");
    };
    assert!(matches!(
        server.resume(server.perform(d), now, rng),
        Step::Done(Outcome::Challenge { .. })
    ));
    let second = server.begin(None, &peer.identity_response(1), now, rng);
    assert!(
        matches!(second, Step::Done(Outcome::Challenge { .. })),
        "from the reserved range at once, got {second:?}"
    );
}
