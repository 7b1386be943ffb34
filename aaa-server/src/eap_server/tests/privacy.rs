//! The `[privacy]` paths of the state machine: identities issued in the
//! Challenge, pseudonym start, fast re-authentication, AT_COUNTER_TOO_SMALL,
//! a retired key, result indication, an undecryptable identity.

use super::*;
use crate::privacy::{KeySet, Policy, PrivacyKey, PrivacyServer, ReauthFailure, make_pseudonym};
use eap::aka::attr::AtResultInd;
use eap::aka::attr::{AtCounter, AtCounterTooSmall, AtEncrData, AtIv, Attribute};
use eap::aka::keys::derive_reauth;
use eap::aka::message::{decode_encrypted_attributes, encode_encrypted_attributes};
use eap::aka::{encr, mac};

const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";

fn privacy(keys: KeySet, result_indication: bool) -> Arc<PrivacyServer> {
    Arc::new(PrivacyServer {
        keys,
        policy: Policy {
            result_indication,
            ..Policy::default()
        },
        imsi_key: None,
        realm: "fallback.example".into(),
    })
}

fn key_set(index: u8) -> KeySet {
    KeySet::new(PrivacyKey::new(index, [index; 32]), vec![]).unwrap()
}

fn server(keys: KeySet, result_ind: bool) -> EapServer {
    let mut s = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    s.set_privacy(privacy(keys, result_ind));
    s
}

fn encrypted(k_encr: &eap::secret::KEncr, m: &Message) -> Vec<Attribute> {
    let plain = encr::decrypt(k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
    decode_encrypted_attributes(&plain).unwrap()
}

/// The peer's side of a run: answers Identity/Challenge with [`TestPeer`],
/// Reauthentication with the re-auth keys (`too_small`: AT_COUNTER_TOO_SMALL),
/// Notification with AT_MAC (and the counter after a re-authentication).
/// How the test peer answers an AKA-Reauthentication.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Quirk {
    /// As RFC 4187 says (AT_CHECKCODE echoed when the request had one).
    None,
    /// With AT_COUNTER_TOO_SMALL.
    CounterTooSmall,
    /// With an AT_CHECKCODE that does not match the identity round.
    BadCheckcode,
}

struct Run {
    /// The AKA-Identity requests and responses, in order.
    identity_round: Vec<Vec<u8>>,
    /// AT_CHECKCODE of the AKA-Reauthentication request.
    reauth_checkcode: Option<eap::aka::attr::Checkcode>,
    outcome: Outcome,
    rounds: u32,
    /// AT_NEXT_PSEUDONYM / AT_NEXT_REAUTH_ID of the last Challenge.
    issued: Option<(String, String)>,
    /// The MSK the peer derived in a fast re-authentication.
    reauth_msk: Option<Msk>,
    notifications: u32,
}

fn run_with(server: &mut EapServer, peer: &mut TestPeer, result_ind: bool, quirk: Quirk) -> Run {
    let now = Instant::now();
    let mut out = server.step(None, &peer.identity_response(1), now);
    let mut r = Run {
        identity_round: Vec::new(),
        reauth_checkcode: None,
        outcome: Outcome::Discard(Discard::SessionGone),
        rounds: 1,
        issued: None,
        reauth_msk: None,
        notifications: 0,
    };
    let mut reauth_ctr: Option<u16> = None;
    loop {
        let Outcome::Challenge { eap, state } = out else {
            r.outcome = out;
            return r;
        };
        r.rounds += 1;
        assert!(r.rounds < 10, "too many rounds");
        let pkt = Packet::decode(&eap).unwrap();
        let (method, msg) = pkt.aka().unwrap();
        let id = pkt.identifier();
        let resp = match msg.subtype {
            Subtype::Reauthentication => {
                let full = peer.full.clone().expect("a full authentication first");
                let off = eap::aka::message::mac_value_offset(&eap).unwrap().unwrap();
                assert!(
                    mac::verify(&full.k_aut, &eap, off, NO_EXTRA),
                    "server AT_MAC"
                );
                let attrs = encrypted(&full.k_encr, msg);
                let counter = attrs
                    .iter()
                    .find_map(|a| match a {
                        Attribute::Counter(c) => Some(c.counter),
                        _ => None,
                    })
                    .unwrap();
                let nonce_s = attrs
                    .iter()
                    .find_map(|a| match a {
                        Attribute::NonceS(n) => Some(n.nonce_s),
                        _ => None,
                    })
                    .unwrap();
                let mut enc = vec![Attribute::Counter(AtCounter { counter })];
                r.reauth_checkcode = msg.checkcode().copied();
                if quirk == Quirk::CounterTooSmall {
                    enc.push(Attribute::CounterTooSmall(AtCounterTooSmall::default()));
                } else {
                    r.reauth_msk =
                        Some(derive_reauth(&full.reauth, &peer.identity, counter, &nonce_s).msk);
                    reauth_ctr = Some(counter);
                }
                let ct = encr::encrypt(
                    &full.k_encr,
                    &[3; 16],
                    &encode_encrypted_attributes(&enc).unwrap(),
                )
                .unwrap();
                let mut m = Message::new(Subtype::Reauthentication)
                    .with(AtIv::new([3; 16]))
                    .with(AtEncrData::new(ct));
                if result_ind {
                    m.push(AtResultInd::default());
                }
                match (quirk, msg.checkcode()) {
                    (Quirk::BadCheckcode, _) => {
                        m.push(AtCheckcode::new(eap::aka::attr::Checkcode::Sha256([7; 32])))
                    }
                    (_, Some(cc)) => m.push(AtCheckcode::new(*cc)),
                    _ => {}
                }
                m.push(AtMac::ZEROED);
                let (mut b, at) = Packet::aka_response(id, method, m)
                    .encode_with_mac_offset()
                    .unwrap();
                mac::sign(&full.k_aut, &mut b, at.unwrap(), &nonce_s).unwrap();
                b
            }
            Subtype::Notification => {
                r.notifications += 1;
                let full = peer.full.clone().unwrap();
                let off = eap::aka::message::mac_value_offset(&eap).unwrap().unwrap();
                assert!(
                    mac::verify(&full.k_aut, &eap, off, NO_EXTRA),
                    "notification MAC"
                );
                let mut m = Message::new(Subtype::Notification);
                if let Some(counter) = reauth_ctr {
                    let ct = encr::encrypt(
                        &full.k_encr,
                        &[4; 16],
                        &encode_encrypted_attributes(&[Attribute::Counter(AtCounter { counter })])
                            .unwrap(),
                    )
                    .unwrap();
                    m.push(AtIv::new([4; 16]));
                    m.push(AtEncrData::new(ct));
                }
                m.push(AtMac::ZEROED);
                let (mut b, at) = Packet::aka_response(id, method, m)
                    .encode_with_mac_offset()
                    .unwrap();
                mac::sign(&full.k_aut, &mut b, at.unwrap(), NO_EXTRA).unwrap();
                b
            }
            Subtype::Challenge => {
                let b = peer.handle(&eap);
                let answered = Packet::decode(&b)
                    .ok()
                    .and_then(|p| p.aka().map(|(_, m)| m.subtype == Subtype::Challenge))
                    == Some(true);
                if let Some(full) = &peer.full
                    && answered
                    && msg.encr_data().is_some()
                {
                    let attrs = encrypted(&full.k_encr, msg);
                    let get = |want: u8| {
                        attrs.iter().find_map(|a| match (a, want) {
                            (Attribute::NextPseudonym(p), 0) => {
                                Some(String::from_utf8(p.pseudonym.clone()).unwrap())
                            }
                            (Attribute::NextReauthId(x), 1) => {
                                Some(String::from_utf8(x.reauth_id.clone()).unwrap())
                            }
                            _ => None,
                        })
                    };
                    r.issued = Some((get(0).unwrap(), get(1).unwrap()));
                }
                if result_ind && msg.result_ind() {
                    // Re-sign the response with AT_RESULT_IND added.
                    let p = Packet::decode(&b).unwrap();
                    let (_, m) = p.aka().unwrap();
                    let mut m2 = Message::new(Subtype::Challenge).with(AtRes {
                        res: m.res().unwrap().clone(),
                    });
                    m2.push(AtResultInd::default());
                    m2.push(AtMac::ZEROED);
                    let (mut b2, at) = Packet::aka_response(id, method, m2)
                        .encode_with_mac_offset()
                        .unwrap();
                    let k = &peer.full.as_ref().unwrap().k_aut;
                    mac::sign(k, &mut b2, at.unwrap(), NO_EXTRA).unwrap();
                    b2
                } else {
                    b
                }
            }
            Subtype::Identity => {
                let b = peer.handle(&eap);
                r.identity_round.push(eap.clone());
                r.identity_round.push(b.clone());
                b
            }
            _ => peer.handle(&eap),
        };
        out = server.step(Some(&state), &resp, now);
    }
}

fn accept(o: &Outcome) -> (&Msk, &Report) {
    match o {
        Outcome::Accept { msk, report, .. } => (msk, report),
        o => panic!("{o:?}"),
    }
}

#[test]
fn full_auth_issues_identities_then_fast_reauth_on_another_server() {
    let (imsi, k, opc) = subscriber(0);
    let mut a = server(key_set(1), false);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut a, &mut peer, false, Quirk::None);
    let (msk, report) = accept(&r.outcome);
    assert_eq!(Some(msk), peer.msk.as_ref());
    assert_eq!(report.result, AuthResult::Success(Success::Full));
    let (pseudonym, reauth_id) = r.issued.expect("AT_ENCR_DATA in the Challenge");
    assert!(pseudonym.starts_with('7'), "{pseudonym}");
    assert!(
        reauth_id.starts_with('8') && reauth_id.ends_with(REALM),
        "{reauth_id}"
    );

    // Another server with the same key set: fast re-authentication.
    let mut b = server(key_set(1), false);
    peer.identity = reauth_id.into_bytes();
    let r = run_with(&mut b, &mut peer, false, Quirk::None);
    assert_eq!(
        r.reauth_checkcode, None,
        "no identity round, no AT_CHECKCODE"
    );
    let (msk, report) = accept(&r.outcome);
    assert_eq!(
        Some(msk),
        r.reauth_msk.as_ref(),
        "MSK from the re-auth keys"
    );
    assert_ne!(Some(msk), peer.msk.as_ref());
    assert_eq!(report.result, AuthResult::Success(Success::FastReauth));
    assert_eq!(r.rounds, 2);
    // Its identity in the log is the masked permanent user.
    assert!(
        report.identity.starts_with("6001010"),
        "{}",
        report.identity
    );
}

#[test]
fn pseudonym_starts_a_full_auth_and_a_retired_key_asks_for_the_permanent_id() {
    let (imsi, k, opc) = subscriber(1);
    let user = format!("6{imsi}");
    let p1 = make_pseudonym(&key_set(1), Method::AkaPrime, &user, [1; 16]).unwrap();
    let mut s = server(key_set(1), false);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = format!("{p1}@{REALM}").into_bytes();
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    let (msk, _) = accept(&r.outcome);
    // MK identity is the pseudonym as received (RFC 4187 §7): the peer used it.
    assert_eq!(Some(msk), peer.msk.as_ref());
    assert_eq!(r.rounds, 2, "no identity round");

    // Key 1 retired: AT_PERMANENT_ID_REQ, then a full authentication.
    let mut s = server(key_set(2), false);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = format!("{p1}@{REALM}").into_bytes();
    let out = s.step(None, &peer.identity_response(1), Instant::now());
    let Outcome::Challenge { eap, .. } = &out else {
        panic!("{out:?}")
    };
    let pkt = Packet::decode(eap).unwrap();
    assert_eq!(pkt.aka().unwrap().1.id_req(), Some(IdReq::Permanent));
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    assert!(
        matches!(r.outcome, Outcome::Accept { .. }),
        "{:?}",
        r.outcome
    );
    assert_eq!(r.rounds, 3);
}

#[test]
fn counter_too_small_runs_a_full_auth_with_the_reauth_id_as_mk_identity() {
    let (imsi, k, opc) = subscriber(2);
    let mut s = server(key_set(1), false);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    let (_, reauth_id) = r.issued.unwrap();
    peer.identity = reauth_id.into_bytes();
    let r = run_with(&mut s, &mut peer, false, Quirk::CounterTooSmall);
    let (msk, report) = accept(&r.outcome);
    // TestPeer derived the full-auth keys from the re-auth identity it sent.
    assert_eq!(Some(msk), peer.msk.as_ref());
    assert_eq!(report.result, AuthResult::Success(Success::Full));
    assert_eq!(r.rounds, 3, "Identity, Reauthentication, Challenge");
}

#[test]
fn retired_reauth_id_asks_for_a_full_auth_identity() {
    let (imsi, k, opc) = subscriber(0);
    let mut a = server(key_set(1), false);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut a, &mut peer, false, Quirk::None);
    let (_, reauth_id) = r.issued.unwrap();
    let mut c = server(key_set(2), false);
    // A fresh USIM view: C's store starts its SQNs where A's did.
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = reauth_id.into_bytes();
    let out = c.step(None, &peer.identity_response(1), Instant::now());
    let Outcome::Challenge { eap, .. } = &out else {
        panic!("{out:?}")
    };
    let pkt = Packet::decode(eap).unwrap();
    assert_eq!(pkt.aka().unwrap().1.id_req(), Some(IdReq::Fullauth));
    let r = run_with(&mut c, &mut peer, false, Quirk::None);
    let (_, report) = accept(&r.outcome);
    assert_eq!(report.result, AuthResult::Success(Success::Full));
}

#[test]
fn result_indication_after_full_and_fast_auth() {
    let (imsi, k, opc) = subscriber(1);
    let mut s = server(key_set(1), true);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut s, &mut peer, true, Quirk::None);
    let (msk, _) = accept(&r.outcome);
    assert_eq!(Some(msk), peer.msk.as_ref());
    assert_eq!((r.notifications, r.rounds), (1, 3));
    let (_, reauth_id) = r.issued.unwrap();
    peer.identity = reauth_id.into_bytes();
    let r = run_with(&mut s, &mut peer, true, Quirk::None);
    let (msk, report) = accept(&r.outcome);
    assert_eq!(Some(msk), r.reauth_msk.as_ref());
    assert_eq!(report.result, AuthResult::Success(Success::FastReauth));
    assert_eq!(r.notifications, 1);

    // Without the peer's AT_RESULT_IND: no notification.
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    assert!(matches!(r.outcome, Outcome::Accept { .. }));
    assert_eq!(r.notifications, 0);
}

#[test]
fn undecryptable_identity_is_rejected_and_privacy_off_changes_nothing() {
    let s = server(key_set(1), false);
    let id = Packet::Response {
        identifier: 1,
        data: TypeData::Identity(b"\0AAAA".to_vec()),
    }
    .encode()
    .unwrap();
    let out = s.step(None, &id, Instant::now());
    assert!(
        matches!(&out, Outcome::Reject { report: Some(r), .. } if r.result == AuthResult::Reject(Reject::Undecryptable)),
        "{out:?}"
    );
    // Without set_privacy a Challenge carries no AT_ENCR_DATA.
    let (imsi, k, opc) = subscriber(0);
    let mut plain = EapServer::new(store_with_vectors(), &cfg(&[MethodName::AkaPrime]));
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut plain, &mut peer, false, Quirk::None);
    assert!(matches!(r.outcome, Outcome::Accept { .. }));
    assert!(r.issued.is_none());
}

#[test]
fn reauth_id_in_at_identity_after_any_id_req() {
    let (imsi, k, opc) = subscriber(2);
    let mut s = server(key_set(1), false);
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    let (_, reauth_id) = r.issued.unwrap();
    // EAP-Response/Identity is anonymous; AT_IDENTITY carries the re-auth id.
    peer.identity = format!("@{REALM}").into_bytes();
    peer.permanent = reauth_id.into_bytes();
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    let (msk, report) = accept(&r.outcome);
    assert_eq!(Some(msk), r.reauth_msk.as_ref());
    assert_eq!(report.result, AuthResult::Success(Success::FastReauth));
    assert_eq!(r.rounds, 3, "Identity, AKA-Identity, Reauthentication");
    // RFC 4187 §10.13: the request carries AT_CHECKCODE over the identity round.
    assert_eq!(r.identity_round.len(), 2);
    let mut expected = CheckcodeHash::new(Method::AkaPrime);
    for p in &r.identity_round {
        expected.update(p);
    }
    let sent = r
        .reauth_checkcode
        .expect("AT_CHECKCODE in the re-authentication request");
    assert!(
        expected.verify_attr(&sent),
        "AT_CHECKCODE over the identity round"
    );

    // A response whose AT_CHECKCODE does not match is refused.
    let r = run_with(&mut s, &mut peer, false, Quirk::BadCheckcode);
    let Outcome::Reject { report, .. } = &r.outcome else {
        panic!("rejected expected");
    };
    assert_eq!(
        report.as_ref().unwrap().result,
        AuthResult::Reject(Reject::Reauth(ReauthFailure::BadCheckcode))
    );
}

fn rejected(o: &Outcome) -> &AuthResult {
    match o {
        Outcome::Reject {
            report: Some(r), ..
        } => &r.result,
        o => panic!("{o:?}"),
    }
}

/// A fast re-authentication of a subscriber whose K was set, or who was
/// removed, since the full authentication that issued its re-auth identity
/// ends in `SubscriberChanged` (with or without result indication); an
/// untouched subscriber keeps fast re-authenticating, and a pseudonym of the
/// removed one gets no vector.
#[test]
fn fast_reauth_after_a_subscriber_change_is_rejected() {
    use crate::hss::sqlite::SubscriberUpdate;
    for result_ind in [false, true] {
        let store = store_with_vectors();
        let mut s = EapServer::new(store.clone(), &cfg(&[MethodName::AkaPrime]));
        s.set_privacy(privacy(key_set(1), result_ind));
        let mut peers: Vec<TestPeer> = (0..3)
            .map(|i| {
                let (imsi, k, opc) = subscriber(i);
                TestPeer::new(&imsi, k, opc, Method::AkaPrime)
            })
            .collect();
        for p in &mut peers {
            let r = run_with(&mut s, p, result_ind, Quirk::None);
            accept(&r.outcome);
            p.identity = r.issued.unwrap().1.into_bytes();
        }
        let imsi = |i: usize| Imsi::parse(&subscriber(i).0).unwrap();
        store
            .set(
                &imsi(0),
                &SubscriberUpdate {
                    k: Some(K::new([0x42; 16])),
                    ..SubscriberUpdate::default()
                },
            )
            .unwrap();
        store.remove(&imsi(1)).unwrap();
        for (i, want) in [
            AuthResult::Reject(Reject::SubscriberChanged),
            AuthResult::Reject(Reject::SubscriberChanged),
        ]
        .into_iter()
        .enumerate()
        {
            let r = run_with(&mut s, &mut peers[i], result_ind, Quirk::None);
            assert_eq!(rejected(&r.outcome), &want, "subscriber {i}");
            assert_eq!(r.rounds, 2, "rejected at the re-authentication response");
            assert!(r.reauth_msk.is_some(), "the peer did re-authenticate");
        }
        let r = run_with(&mut s, &mut peers[2], result_ind, Quirk::None);
        let (_, report) = accept(&r.outcome);
        assert_eq!(report.result, AuthResult::Success(Success::FastReauth));
        assert_eq!(store.changed_during_auth(), 2);

        // The removed subscriber's pseudonym: a full authentication, no vector.
        let (imsi1, k, opc) = subscriber(1);
        let p =
            make_pseudonym(&key_set(1), Method::AkaPrime, &format!("6{imsi1}"), [1; 16]).unwrap();
        let mut peer = TestPeer::new(&imsi1, k, opc, Method::AkaPrime);
        peer.identity = format!("{p}@{REALM}").into_bytes();
        let r = run_with(&mut s, &mut peer, result_ind, Quirk::None);
        assert_eq!(
            rejected(&r.outcome),
            &AuthResult::Reject(Reject::Hss(HssError::UnknownSubscriber))
        );
    }
}

#[test]
fn replaced_keys_open_old_pseudonyms_while_listed_and_keep_sessions() {
    let (imsi, k, opc) = subscriber(1);
    let user = format!("6{imsi}");
    let p1 = make_pseudonym(&key_set(1), Method::AkaPrime, &user, [1; 16]).unwrap();
    let mut s = server(key_set(1), false);

    // A session in flight across a replacement (SIGHUP) finishes.
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    let now = Instant::now();
    let Outcome::Challenge { eap, state } = s.step(None, &peer.identity_response(1), now) else {
        panic!("no challenge")
    };
    let rotated = KeySet::new(
        PrivacyKey::new(2, [2; 32]),
        vec![PrivacyKey::new(1, [1; 32])],
    )
    .unwrap();
    s.replace_privacy(privacy(rotated, false));
    let resp = peer.handle(&eap);
    let out = s.step(Some(&state), &resp, now);
    assert!(matches!(out, Outcome::Accept { .. }), "{out:?}");

    // Key 2 current, key 1 still listed: the old pseudonym starts a full
    // authentication without an identity round.
    let mut peer = TestPeer::new(&imsi, k, opc, Method::AkaPrime);
    peer.identity = format!("{p1}@{REALM}").into_bytes();
    let r = run_with(&mut s, &mut peer, false, Quirk::None);
    accept(&r.outcome);
    assert_eq!(r.rounds, 2, "no identity round");

    // Key 1 dropped from the list: the peer is asked for its permanent identity.
    s.replace_privacy(privacy(key_set(2), false));
    let out = s.step(None, &peer_identity(&p1), Instant::now());
    let Outcome::Challenge { eap, .. } = &out else {
        panic!("{out:?}")
    };
    let pkt = Packet::decode(eap).unwrap();
    assert_eq!(pkt.aka().unwrap().1.id_req(), Some(IdReq::Permanent));
}

/// EAP-Response/Identity (Identifier 1) with `pseudonym@REALM`.
fn peer_identity(pseudonym: &str) -> Vec<u8> {
    let mut eap = vec![2, 1, 0, 0, 1];
    eap.extend_from_slice(format!("{pseudonym}@{REALM}").as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    eap
}
