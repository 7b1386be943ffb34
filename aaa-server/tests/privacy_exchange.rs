//! Issue 8 building blocks end to end, in memory: a full EAP-AKA'
//! authentication (RFC 5448 Appendix C case 1 keys) issues a pseudonym and a
//! re-auth identity in the Challenge; a *second server instance* holding the
//! same key set resolves them and runs fast re-authentication; counter
//! replay, tampering and key rotation fall back to full authentication.
//!
//! The peer here is written from `eap` primitives only (an independent check
//! of the wire format; the supplicant's own peer code has its twin test in
//! supplicant/tests/privacy_exchange.rs). IMSI privacy is checked against the
//! `openssl` command-line tool.

mod common;
use aaa_server::privacy::{
    IssueFor, KeySet, NextIdentities, Policy, PrivacyKeyStore, ReauthContext, ReauthExchange,
    ReauthFailure, ReauthOutcome, ReauthRandom, ReauthStart, SqliteKeyStore, TemporaryKind,
    Unresolved, challenge_attributes, check_reauth_response, issue_after_full_auth,
    resolve_pseudonym, start_reauth,
};
use eap::aka::attr::{
    AtAutn, AtCounter, AtCounterTooSmall, AtEncrData, AtIv, AtKdf, AtKdfInput, AtMac, AtRand,
    Attribute,
};
use eap::aka::keys::{Keys, Method, ReauthSecret, derive_aka_prime_from_ck_ik, derive_reauth};
use eap::aka::message::{
    IdReq, Message, Subtype, decode_encrypted_attributes, encode_encrypted_attributes,
    mac_value_offset,
};
use eap::aka::{encr, mac};
use eap::packet::Packet;
use eap::secret::{Ck, Ik, KAut, KEncr, Msk};
use eap::umts::Autn;

const REALM: &str = "wlan.mnc555.mcc444.3gppnetwork.org";
const KEY1: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const KEY2: &str = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";

fn h<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

struct Case {
    identity: String,
    rand: [u8; 16],
    autn: [u8; 16],
    keys: Keys,
    msk: [u8; 64],
}

/// RFC 5448 Appendix C test case 1 from testdata/vectors (fails if missing).
fn case1() -> Case {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/eap_aka_prime_keys.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/vectors/eap_aka_prime_keys.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let c = &v["test_cases"][0];
    let s = |k: &str| c[k].as_str().unwrap().to_owned();
    let autn: [u8; 16] = h(&s("AUTN"));
    let sqn_xor_ak: [u8; 6] = autn[..6].try_into().unwrap();
    let keys = derive_aka_prime_from_ck_ik(
        s("identity").as_bytes(),
        &Ck::new(h(&s("CK"))),
        &Ik::new(h(&s("IK"))),
        s("network_name").as_bytes(),
        &sqn_xor_ak,
    )
    .unwrap();
    Case {
        identity: s("identity"),
        rand: h(&s("RAND")),
        autn,
        keys,
        msk: h(&s("MSK")),
    }
}

fn server_keys(current: u8, keys: &[(u8, &str)]) -> KeySet {
    KeySet::from_config(current, keys).unwrap()
}

/// The server's EAP-Request/AKA'-Challenge with the identities it issues.
fn challenge(case: &Case, next: &NextIdentities) -> Vec<u8> {
    let mut m = Message::new(Subtype::Challenge)
        .with(AtRand::new(case.rand))
        .with(AtAutn::new(Autn(case.autn)))
        .with(AtKdf::CK_IK_PRIME)
        .with(AtKdfInput {
            network_name: b"WLAN".to_vec(),
        });
    if let Some((iv, data)) = challenge_attributes(&case.keys.k_encr, [0x11; 16], next).unwrap() {
        m.push(iv);
        m.push(data);
    }
    m.push(AtMac::ZEROED);
    let (mut p, at) = Packet::aka_request(1, Method::AkaPrime, m)
        .encode_with_mac_offset()
        .unwrap();
    mac::sign(&case.keys.k_aut, &mut p, at.unwrap(), mac::NO_EXTRA).unwrap();
    p
}

/// Test peer: what a peer keeps for fast re-authentication.
struct TestPeer {
    reauth_id: String,
    k_re: ReauthSecret,
    k_encr: KEncr,
    k_aut: KAut,
    last_counter: u16,
}

fn decrypt(k_encr: &KEncr, m: &Message) -> Vec<Attribute> {
    let plain = encr::decrypt(k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
    decode_encrypted_attributes(&plain).unwrap()
}

/// Test peer: verifies the Challenge MAC and reads AT_NEXT_PSEUDONYM / AT_NEXT_REAUTH_ID.
fn peer_learn(keys: &Keys, packet: &[u8]) -> (String, String) {
    assert!(mac::verify(
        &keys.k_aut,
        packet,
        mac_value_offset(packet).unwrap().unwrap(),
        mac::NO_EXTRA
    ));
    let p = Packet::decode(packet).unwrap();
    let (_, m) = p.aka().unwrap();
    let attrs = decrypt(&keys.k_encr, m);
    let pseudonym = attrs.iter().find_map(|a| match a {
        Attribute::NextPseudonym(p) => Some(String::from_utf8(p.pseudonym.clone()).unwrap()),
        _ => None,
    });
    let reauth = attrs.iter().find_map(|a| match a {
        Attribute::NextReauthId(r) => Some(String::from_utf8(r.reauth_id.clone()).unwrap()),
        _ => None,
    });
    (pseudonym.unwrap(), reauth.unwrap())
}

/// Test peer: answers an AKA'-Reauthentication request per RFC 4187 §5 /
/// §9.8. Returns the response and, when the counter was fresh, the MSK and
/// the next re-auth id.
fn peer_reauth(peer: &mut TestPeer, request: &[u8]) -> (Vec<u8>, Option<(Msk, Option<String>)>) {
    assert!(mac::verify(
        &peer.k_aut,
        request,
        mac_value_offset(request).unwrap().unwrap(),
        mac::NO_EXTRA
    ));
    let p = Packet::decode(request).unwrap();
    let (method, m) = p.aka().unwrap();
    assert_eq!(
        (method, m.subtype),
        (Method::AkaPrime, Subtype::Reauthentication)
    );
    let attrs = decrypt(&peer.k_encr, m);
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
    let next = attrs.iter().find_map(|a| match a {
        Attribute::NextReauthId(r) => Some(String::from_utf8(r.reauth_id.clone()).unwrap()),
        _ => None,
    });
    let fresh = counter > peer.last_counter;
    let mut enc = vec![Attribute::Counter(AtCounter { counter })];
    if !fresh {
        enc.push(Attribute::CounterTooSmall(AtCounterTooSmall::default()));
    }
    let ct = encr::encrypt(
        &peer.k_encr,
        &[0x22; 16],
        &encode_encrypted_attributes(&enc).unwrap(),
    )
    .unwrap();
    let m = Message::new(Subtype::Reauthentication)
        .with(AtIv::new([0x22; 16]))
        .with(AtEncrData::new(ct))
        .with(AtMac::ZEROED);
    let (mut resp, at) = Packet::aka_response(p.identifier(), Method::AkaPrime, m)
        .encode_with_mac_offset()
        .unwrap();
    mac::sign(&peer.k_aut, &mut resp, at.unwrap(), &nonce_s).unwrap();
    if !fresh {
        return (resp, None);
    }
    let msk = derive_reauth(&peer.k_re, peer.reauth_id.as_bytes(), counter, &nonce_s).msk;
    peer.last_counter = counter;
    (resp, Some((msk, next)))
}

fn random(seed: u8) -> ReauthRandom {
    ReauthRandom {
        nonce_s: [seed; 16],
        iv: [seed.wrapping_add(1); 16],
        next_id_iv: [seed.wrapping_add(2); 16],
    }
}

/// The exchange of a re-authentication that came without an identity round.
fn exchange(identity: &[u8], identifier: u8) -> ReauthExchange<'_> {
    ReauthExchange {
        identity,
        identifier,
        checkcode: None,
    }
}

fn request(start: ReauthStart) -> (Vec<u8>, Box<aaa_server::privacy::PendingReauth>) {
    match start {
        ReauthStart::Request { packet, pending } => (packet, pending),
        ReauthStart::FullAuth { .. } => panic!("expected a Re-authentication request"),
    }
}

#[test]
fn full_auth_then_fast_reauth_on_another_node_then_replay_and_rotation() {
    let case = case1();
    assert_eq!(case.keys.msk.expose(), &case.msk, "vector keys");
    let policy = Policy {
        reauth_limit: 3,
        ..Policy::default()
    };
    let now = 1_800_000_000;
    // Node A: full authentication issues a pseudonym and a re-auth id.
    let node_a = server_keys(1, &[(1, KEY1)]);
    let permanent = format!("6{}", &case.identity[1..]);
    let next = issue_after_full_auth(
        &node_a,
        &policy,
        IssueFor {
            permanent_user: &permanent,
            version: 0,
        },
        &case.keys,
        REALM,
        now,
        [[0x33; 16], [0x44; 16]],
    )
    .unwrap();
    let (pseudonym, reauth_id) = peer_learn(&case.keys, &challenge(&case, &next));
    assert!(pseudonym.starts_with('7') && !pseudonym.contains('@'));
    assert!(reauth_id.starts_with('8') && reauth_id.ends_with(REALM));
    assert!(reauth_id.len() <= 253);
    assert!(!pseudonym.contains(&case.identity[1..]) && !reauth_id.contains(&case.identity[1..]));

    let mut peer = TestPeer {
        reauth_id: reauth_id.clone(),
        k_re: case.keys.reauth.clone(),
        k_encr: case.keys.k_encr.clone(),
        k_aut: case.keys.k_aut.clone(),
        last_counter: 0,
    };

    // Node B: a separate instance with the same configured key set.
    let node_b = server_keys(1, &[(1, KEY1)]);
    let p = resolve_pseudonym(&node_b, format!("{pseudonym}@{REALM}").as_bytes()).unwrap();
    assert_eq!(
        (p.method, p.permanent_user.as_str()),
        (Method::AkaPrime, permanent.as_str())
    );
    let ctx = ReauthContext::open(&node_b, reauth_id.as_bytes(), now + 60).unwrap();
    assert_eq!(ctx.counter(), 1);
    let (req, pending) = request(
        start_reauth(
            &node_b,
            &policy,
            ctx,
            exchange(reauth_id.as_bytes(), 7),
            REALM,
            random(1),
        )
        .unwrap(),
    );
    let (resp, got) = peer_reauth(&mut peer, &req);
    let (peer_msk, next_id) = got.expect("fresh counter");
    let next_id = next_id.expect("a next re-auth id within the limit");
    match check_reauth_response(pending, &resp) {
        ReauthOutcome::Success {
            msk,
            permanent_user,
            next_reauth_id,
            ..
        } => {
            assert_eq!(msk, peer_msk, "server and peer MSK");
            assert_ne!(
                msk.expose(),
                &case.msk,
                "a fresh MSK, not the full-auth one"
            );
            assert_eq!(permanent_user, permanent);
            assert_eq!(next_reauth_id.as_deref(), Some(next_id.as_str()));
        }
        other => panic!("{other:?}"),
    }

    // Second fast re-authentication, back on node A, with the new id (counter 2).
    peer.reauth_id = next_id.clone();
    let ctx2 = ReauthContext::open(&node_a, next_id.as_bytes(), now + 120).unwrap();
    assert_eq!(ctx2.counter(), 2);
    let (req2, pending2) = request(
        start_reauth(
            &node_a,
            &policy,
            ctx2,
            exchange(next_id.as_bytes(), 8),
            REALM,
            random(2),
        )
        .unwrap(),
    );
    let (resp2, got2) = peer_reauth(&mut peer, &req2);
    let (msk2, _) = got2.unwrap();
    assert!(
        matches!(check_reauth_response(pending2, &resp2), ReauthOutcome::Success { msk, .. } if msk == msk2)
    );

    // Replay: someone presents the first re-auth id again (counter 1 ≤ 2):
    // the peer answers AT_COUNTER_TOO_SMALL, the server runs a full authentication.
    peer.reauth_id = reauth_id.clone();
    let old = ReauthContext::open(&node_b, reauth_id.as_bytes(), now + 180).unwrap();
    let (req3, pending3) = request(
        start_reauth(
            &node_b,
            &policy,
            old,
            exchange(reauth_id.as_bytes(), 9),
            REALM,
            random(3),
        )
        .unwrap(),
    );
    let (resp3, got3) = peer_reauth(&mut peer, &req3);
    assert!(got3.is_none());
    match check_reauth_response(pending3, &resp3) {
        ReauthOutcome::FullAuth {
            permanent_user,
            mk_identity,
        } => {
            assert_eq!(permanent_user, permanent);
            assert_eq!(mk_identity, reauth_id.as_bytes());
        }
        other => panic!("{other:?}"),
    }

    // Rotation: node C has key 2 current and key 1 still accepted → resolves;
    // node D has retired key 1 → falls back to full authentication, never fails.
    let node_c = server_keys(2, &[(2, KEY2), (1, KEY1)]);
    assert!(ReauthContext::open(&node_c, next_id.as_bytes(), now).is_ok());
    assert!(resolve_pseudonym(&node_c, pseudonym.as_bytes()).is_ok());
    let node_d = server_keys(2, &[(2, KEY2)]);
    let e = ReauthContext::open(&node_d, next_id.as_bytes(), now).unwrap_err();
    assert_eq!(e, Unresolved::UnknownKey(1));
    assert_eq!(TemporaryKind::Reauth.fallback_id_req(), IdReq::Fullauth);
    assert_eq!(
        resolve_pseudonym(&node_d, pseudonym.as_bytes()).unwrap_err(),
        Unresolved::UnknownKey(1)
    );
    assert_eq!(TemporaryKind::Pseudonym.fallback_id_req(), IdReq::Permanent);
    // A key with the same index but other bytes: the tag fails.
    let impostor = server_keys(1, &[(1, KEY2)]);
    assert_eq!(
        ReauthContext::open(&impostor, next_id.as_bytes(), now).unwrap_err(),
        Unresolved::BadTag
    );
    // Expiry.
    assert_eq!(
        ReauthContext::open(&node_a, next_id.as_bytes(), now + policy.reauth_lifetime).unwrap_err(),
        Unresolved::Expired
    );
}

#[test]
fn reauth_limit_and_tampered_responses() {
    let case = case1();
    let node = server_keys(1, &[(1, KEY1)]);
    let policy = Policy {
        reauth_limit: 1,
        ..Policy::default()
    };
    let next = issue_after_full_auth(
        &node,
        &policy,
        IssueFor {
            permanent_user: "6555444333222111",
            version: 0,
        },
        &case.keys,
        REALM,
        0,
        [[1; 16], [2; 16]],
    )
    .unwrap();
    let id = next.reauth_id.unwrap();
    let ctx = ReauthContext::open(&node, id.as_bytes(), 1).unwrap();
    // A fresh request/pending pair for the same context each time.
    let fresh = || {
        request(
            start_reauth(
                &node,
                &policy,
                ctx.clone(),
                exchange(id.as_bytes(), 3),
                REALM,
                random(5),
            )
            .unwrap(),
        )
    };
    let (req, _) = fresh();
    // At the limit: no AT_NEXT_REAUTH_ID is issued.
    let mut peer = TestPeer {
        reauth_id: id.clone(),
        k_re: case.keys.reauth.clone(),
        k_encr: case.keys.k_encr.clone(),
        k_aut: case.keys.k_aut.clone(),
        last_counter: 0,
    };
    let (resp, got) = peer_reauth(&mut peer, &req);
    assert_eq!(got.unwrap().1, None);
    // Tampering with any byte of the response fails it.
    for i in [5usize, 10, 30, resp.len() - 1] {
        let (_, pending) = fresh();
        let mut bad = resp.clone();
        bad[i] ^= 0x40;
        assert!(
            matches!(
                check_reauth_response(pending, &bad),
                ReauthOutcome::Failure(_)
            ),
            "byte {i}"
        );
    }
    // A response MAC'd without NONCE_S is rejected.
    let (_, pending) = fresh();
    let mut no_nonce = resp.clone();
    let off = mac_value_offset(&no_nonce).unwrap().unwrap();
    mac::sign(&case.keys.k_aut, &mut no_nonce, off, mac::NO_EXTRA).unwrap();
    assert!(matches!(
        check_reauth_response(pending, &no_nonce),
        ReauthOutcome::Failure(ReauthFailure::BadMac)
    ));
    // Garbage.
    for junk in [&[][..], &[2, 3, 0, 4][..], &[2, 3, 0, 8, 50, 13, 0, 0][..]] {
        let (_, pending) = fresh();
        assert!(matches!(
            check_reauth_response(pending, junk),
            ReauthOutcome::Failure(_)
        ));
    }
    // Beyond the limit: full authentication.
    let beyond = ctx.next().unwrap();
    assert!(matches!(
        start_reauth(
            &node,
            &policy,
            beyond,
            ReauthExchange {
                identity: id.as_bytes(),
                identifier: 3,
                checkcode: None
            },
            REALM,
            random(5)
        )
        .unwrap(),
        ReauthStart::FullAuth { .. }
    ));
}

#[test]
fn two_nodes_share_a_generated_key_through_one_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hss.db");
    let a = rusqlite::Connection::open(&db).unwrap();
    let b = rusqlite::Connection::open(&db).unwrap();
    let keys_a = SqliteKeyStore::new(&a).load_or_create().unwrap();
    let keys_b = SqliteKeyStore::new(&b).load_or_create().unwrap();
    let p = aaa_server::privacy::make_pseudonym(&keys_a, Method::Aka, "0001010000000001", [9; 16])
        .unwrap();
    assert_eq!(
        resolve_pseudonym(&keys_b, p.as_bytes())
            .unwrap()
            .permanent_user,
        "0001010000000001"
    );
    // Rotation through the store: old identities keep resolving until the key is retired.
    let rotated = SqliteKeyStore::new(&a).rotate(0).unwrap();
    assert!(resolve_pseudonym(&rotated, p.as_bytes()).is_ok());
    assert!(SqliteKeyStore::new(&b).retire(1).unwrap());
    let retired = SqliteKeyStore::new(&b).load_or_create().unwrap();
    assert_eq!(
        resolve_pseudonym(&retired, p.as_bytes()).unwrap_err(),
        Unresolved::UnknownKey(1)
    );
}

/// `openssl pkeyutl` (not our code) encrypts the permanent identity with
/// RSA-OAEP-SHA-256 the way hostap's crypto_rsa_oaep_sha256_encrypt does;
/// our server decrypts it from a 0600 PEM key file.
#[test]
fn imsi_privacy_decrypts_what_openssl_cli_encrypts() {
    use base64::Engine;
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let (key, pub_path) = common::imsi_privacy_keypair(dir.path());
    let nai = "0555444333222111@wlan.mnc555.mcc444.3gppnetwork.org";
    let ct = common::openssl(
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            pub_path.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        nai.as_bytes(),
    );
    assert_eq!(ct.len(), 256);
    let mut identity = vec![0u8];
    identity.extend_from_slice(
        base64::engine::general_purpose::STANDARD
            .encode(&ct)
            .as_bytes(),
    );
    identity.extend_from_slice(b",CertificateSerialNumber=4660");

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = aaa_server::privacy::ImsiPrivacyKey::load_pem(&key).unwrap_err();
    assert!(err.to_string().contains("0640"), "{err}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let k = aaa_server::privacy::ImsiPrivacyKey::load_pem(&key).unwrap();
    assert!(aaa_server::privacy::is_encrypted_identity(&identity));
    let d = k.decrypt_identity(&identity).unwrap();
    assert_eq!(d.identity, nai);
    assert_eq!(
        d.key_identifier.as_deref(),
        Some("CertificateSerialNumber=4660")
    );
}
