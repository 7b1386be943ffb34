//! The supplicant's privacy building blocks against a server written here
//! from `eap` primitives only (the aaa-server side has its twin test in
//! aaa-server/tests/privacy_exchange.rs): learn identities from a Challenge,
//! persist them, fast re-authenticate with matching MSKs, refuse a replayed
//! counter, forget on failure. IMSI privacy is checked against the `openssl`
//! command-line tool.

use eap::aka::attr::{
    AtAutn, AtCounter, AtEncrData, AtIv, AtKdf, AtKdfInput, AtMac, AtNextPseudonym, AtNextReauthId,
    AtNonceS, AtRand, Attribute,
};
use eap::aka::keys::{Keys, Method, derive_aka_prime_from_ck_ik, derive_reauth};
use eap::aka::message::{
    IdReq, Message, Subtype, decode_encrypted_attributes, encode_encrypted_attributes,
    mac_value_offset,
};
use eap::aka::{encr, mac};
use eap::packet::Packet;
use eap::secret::{Ck, Ik};
use eap::umts::Autn;
use supplicant::privacy::{
    FailureKind, IdentityChoice, PeerReauthResult, PrivacyState, learn_from_challenge,
    process_reauth_request,
};

const REALM: &str = "wlan.mnc555.mcc444.3gppnetwork.org";

fn h<const N: usize>(s: &str) -> [u8; N] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// RFC 5448 Appendix C case 1 keys from testdata/vectors (fails if missing).
fn case1() -> (Keys, [u8; 16], [u8; 16], [u8; 64]) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/eap_aka_prime_keys.json"
    );
    let text = std::fs::read_to_string(path).expect("testdata/vectors/eap_aka_prime_keys.json");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let c = &v["test_cases"][0];
    let s = |k: &str| c[k].as_str().unwrap().to_owned();
    let autn: [u8; 16] = h(&s("AUTN"));
    let keys = derive_aka_prime_from_ck_ik(
        s("identity").as_bytes(),
        &Ck::new(h(&s("CK"))),
        &Ik::new(h(&s("IK"))),
        s("network_name").as_bytes(),
        &autn[..6].try_into().unwrap(),
    )
    .unwrap();
    (keys, h(&s("RAND")), autn, h(&s("MSK")))
}

fn encrypted(keys: &Keys, iv: [u8; 16], attrs: &[Attribute]) -> (AtIv, AtEncrData) {
    let ct = encr::encrypt(
        &keys.k_encr,
        &iv,
        &encode_encrypted_attributes(attrs).unwrap(),
    )
    .unwrap();
    (AtIv::new(iv), AtEncrData::new(ct))
}

/// Test server: EAP-Request/AKA'-Reauthentication with counter, NONCE_S and a next id.
fn reauth_request(keys: &Keys, id: u8, counter: u16, nonce_s: [u8; 16], next: &str) -> Vec<u8> {
    let (iv, data) = encrypted(
        keys,
        [0x5a; 16],
        &[
            Attribute::Counter(AtCounter { counter }),
            Attribute::NonceS(AtNonceS::new(nonce_s)),
            Attribute::NextReauthId(AtNextReauthId {
                reauth_id: next.as_bytes().to_vec(),
            }),
        ],
    );
    let m = Message::new(Subtype::Reauthentication)
        .with(iv)
        .with(data)
        .with(AtMac::ZEROED);
    let (mut p, at) = Packet::aka_request(id, Method::AkaPrime, m)
        .encode_with_mac_offset()
        .unwrap();
    mac::sign(&keys.k_aut, &mut p, at.unwrap(), mac::NO_EXTRA).unwrap();
    p
}

/// Test server: checks the response MAC (over packet ‖ NONCE_S) and returns the encrypted attributes.
fn server_check(keys: &Keys, resp: &[u8], nonce_s: &[u8; 16]) -> Vec<Attribute> {
    let off = mac_value_offset(resp).unwrap().unwrap();
    assert!(
        mac::verify(&keys.k_aut, resp, off, nonce_s),
        "response AT_MAC"
    );
    let p = Packet::decode(resp).unwrap();
    let (_, m) = p.aka().unwrap();
    assert_eq!(m.subtype, Subtype::Reauthentication);
    let plain = encr::decrypt(&keys.k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
    decode_encrypted_attributes(&plain).unwrap()
}

#[test]
fn learn_persist_reauthenticate_replay_forget() {
    let (keys, rand, autn, vector_msk) = case1();
    assert_eq!(keys.msk.expose(), &vector_msk);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("profile.privacy.toml");
    let permanent = format!("6555444333222111@{REALM}");

    // Full authentication: the Challenge carries the next identities.
    let (iv, data) = encrypted(
        &keys,
        [0x11; 16],
        &[
            Attribute::NextPseudonym(AtNextPseudonym {
                pseudonym: b"7opaque-pseudonym".to_vec(),
            }),
            Attribute::NextReauthId(AtNextReauthId {
                reauth_id: format!("8opaque-reauth@{REALM}").into_bytes(),
            }),
        ],
    );
    let challenge = Message::new(Subtype::Challenge)
        .with(AtRand::new(rand))
        .with(AtAutn::new(Autn(autn)))
        .with(AtKdf::CK_IK_PRIME)
        .with(AtKdfInput {
            network_name: b"WLAN".to_vec(),
        })
        .with(iv)
        .with(data)
        .with(AtMac::ZEROED);
    let learned = learn_from_challenge(&keys.k_encr, &challenge).unwrap();
    let mut st = PrivacyState::load(&path).unwrap();
    st.after_full_auth(learned, &keys, Some(REALM));
    st.save(&path).unwrap();

    // Next run: the state comes back from the 0600 file; re-auth id first.
    let mut st = PrivacyState::load(&path).unwrap();
    let (choice, identity) = st.select_identity(None, &permanent);
    assert_eq!(choice, IdentityChoice::Reauth);
    assert_eq!(identity, format!("8opaque-reauth@{REALM}"));

    // Fast re-authentication, counter 1.
    let req = reauth_request(&keys, 42, 1, [0x77; 16], &format!("8next@{REALM}"));
    let reauth = st.reauth.clone().unwrap();
    let (response, msk) = match process_reauth_request(&reauth, &req, [0x33; 16], false, None) {
        PeerReauthResult::Success {
            response,
            msk,
            counter,
            learned,
            ..
        } => {
            assert_eq!(counter, 1);
            let r = st.reauth.as_mut().unwrap();
            r.last_counter = counter;
            r.identity = learned.reauth_id.unwrap();
            st.save(&path).unwrap();
            (response, msk)
        }
        other => panic!("{other:?}"),
    };
    let attrs = server_check(&keys, &response, &[0x77; 16]);
    assert!(
        attrs
            .iter()
            .any(|a| matches!(a, Attribute::Counter(c) if c.counter == 1))
    );
    assert!(
        !attrs
            .iter()
            .any(|a| matches!(a, Attribute::CounterTooSmall(_)))
    );
    let server_msk = derive_reauth(
        &keys.reauth,
        format!("8opaque-reauth@{REALM}").as_bytes(),
        1,
        &[0x77; 16],
    )
    .msk;
    assert_eq!(msk, server_msk, "peer and server MSK");
    assert_ne!(msk.expose(), &vector_msk);

    // Replay of the same request after restart: counter 1 ≤ stored 1.
    let st2 = PrivacyState::load(&path).unwrap();
    let r2 = st2.reauth.clone().unwrap();
    assert_eq!(r2.last_counter, 1);
    assert_eq!(r2.identity, format!("8next@{REALM}"));
    match process_reauth_request(&r2, &req, [0x34; 16], false, None) {
        PeerReauthResult::CounterTooSmall { response, received } => {
            assert_eq!(received, 1);
            let attrs = server_check(&keys, &response, &[0x77; 16]);
            assert!(
                attrs
                    .iter()
                    .any(|a| matches!(a, Attribute::CounterTooSmall(_)))
            );
        }
        other => panic!("{other:?}"),
    }
    // A fresh counter 2 with the new id works.
    let req2 = reauth_request(&keys, 43, 2, [0x78; 16], &format!("8third@{REALM}"));
    assert!(matches!(
        process_reauth_request(&r2, &req2, [0x35; 16], false, None),
        PeerReauthResult::Success { counter: 2, .. }
    ));

    // Failure after re-auth forgets it; the server then asks for the full-auth id.
    let mut st3 = st2.clone();
    st3.on_failure(FailureKind::Reauth);
    st3.save(&path).unwrap();
    let mut st3 = PrivacyState::load(&path).unwrap();
    assert!(st3.reauth.is_none());
    assert_eq!(
        st3.select_identity(Some(IdReq::Fullauth), &permanent),
        (
            IdentityChoice::Pseudonym,
            format!("7opaque-pseudonym@{REALM}")
        )
    );
    assert_eq!(
        st3.select_identity(Some(IdReq::Permanent), &permanent),
        (IdentityChoice::Permanent, permanent.clone())
    );
}

fn openssl(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("openssl")
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the openssl command-line tool (Debian package openssl) is required");
    let mut input = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        input.write_all(data).unwrap();
    }
    drop(input);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Our encrypted identity decrypts with `openssl pkeyutl` (RSA-OAEP,
/// SHA-256, MGF1-SHA-256) to the permanent NAI; an expired certificate is refused.
#[test]
fn imsi_privacy_identity_decrypts_with_openssl_cli() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k.pem");
    let cert = dir.path().join("c.pem");
    openssl(
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            key.to_str().unwrap(),
            "-out",
            cert.to_str().unwrap(),
            "-days",
            "30",
            "-subj",
            "/CN=imsi-privacy",
        ],
        None,
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let c = supplicant::privacy::OperatorCert::load_pem(&cert, now).unwrap();
    let nai = format!("0555444333222111@{REALM}");
    let id = c
        .encrypt_identity(&nai, Some("CertificateSerialNumber=1"))
        .unwrap();
    assert_eq!(id[0], 0);
    let text = std::str::from_utf8(&id[1..]).unwrap();
    let (b64, attr) = text.split_once(',').unwrap();
    assert_eq!(attr, "CertificateSerialNumber=1");
    let ct = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap();
    let ct_path = dir.path().join("ct.bin");
    std::fs::write(&ct_path, &ct).unwrap();
    let plain = openssl(
        &[
            "pkeyutl",
            "-decrypt",
            "-inkey",
            key.to_str().unwrap(),
            "-in",
            ct_path.to_str().unwrap(),
            "-pkeyopt",
            "rsa_padding_mode:oaep",
            "-pkeyopt",
            "rsa_oaep_md:sha256",
            "-pkeyopt",
            "rsa_mgf1_md:sha256",
        ],
        None,
    );
    assert_eq!(plain, nai.as_bytes());
    // 31 days later the 30-day certificate has expired: refused.
    let e = supplicant::privacy::OperatorCert::load_pem(&cert, now + 31 * 86_400).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
}
