//! One EAP-AKA' exchange end to end, on the RFC 5448 test case 1 subscriber
//! (testdata/vectors/eap_aka_prime_keys.json), with the codec and the crypto
//! of this crate: identity round + checkcode, Challenge with AT_MAC and an
//! encrypted AT_NEXT_REAUTH_ID, the peer's USIM check, key derivation on both
//! sides, the Challenge response, then a fast re-authentication. The keys the
//! two sides derive must equal the published ones.

use eap::aka::attr::{
    AtAnyIdReq, AtAutn, AtCheckcode, AtCounter, AtEncrData, AtIdentity, AtIv, AtKdf, AtKdfInput,
    AtMac, AtNextReauthId, AtNonceS, AtRand, AtRes, Attribute, decode_encrypted_attributes,
    encode_encrypted_attributes,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{self, Method};
use eap::aka::message::{Message, Subtype, mac_value_offset};
use eap::aka::{encr, mac};
use eap::identity::{IdentityKind, classify};
use eap::packet::{Packet, TypeData};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use serde_json::Value;

fn case1() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/vectors/eap_aka_prime_keys.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read test vectors {path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["test_cases"][0].clone()
}

fn hx<const N: usize>(v: &Value, k: &str) -> [u8; N] {
    hex::decode(v[k].as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn request(id: u8, m: Message) -> Packet {
    Packet::Request {
        identifier: id,
        data: TypeData::from_aka(Method::AkaPrime, m),
    }
}

fn response(id: u8, m: Message) -> Packet {
    Packet::Response {
        identifier: id,
        data: TypeData::from_aka(Method::AkaPrime, m),
    }
}

fn message(p: &Packet) -> &Message {
    let (method, m) = p.aka().expect("an EAP-AKA' packet");
    assert_eq!(method, Method::AkaPrime);
    m
}

#[test]
fn aka_prime_full_and_fast_reauth() {
    let c = case1();
    let identity = c["identity"].as_str().unwrap().as_bytes().to_vec();
    let network = c["network_name"].as_str().unwrap().as_bytes().to_vec();
    let m = &c["milenage_inputs"];
    let sub = SubscriberKeys::new(K::new(hx(m, "K")), Opc::new(hx(m, "OPc")));
    let mut server_cc = CheckcodeHash::new(Method::AkaPrime);
    let mut peer_cc = CheckcodeHash::new(Method::AkaPrime);

    // --- Identity round (RFC 4187 §9.2): the peer answers with its identity.
    let (req, _) = request(
        1,
        Message::new(Subtype::Identity).with(AtAnyIdReq::default()),
    )
    .encode_with_mac_offset()
    .unwrap();
    server_cc.update(&req);
    let req_p = Packet::decode(&req).unwrap();
    peer_cc.update(&req);
    assert!(message(&req_p).id_req().is_some());
    let (resp, _) = response(
        1,
        Message::new(Subtype::Identity).with(AtIdentity {
            identity: identity.clone(),
        }),
    )
    .encode_with_mac_offset()
    .unwrap();
    peer_cc.update(&resp);
    let resp_p = Packet::decode(&resp).unwrap();
    server_cc.update(&resp);
    let got_identity = message(&resp_p).identity().unwrap().to_vec();
    assert_eq!(got_identity, identity);
    // "0555444333222111": a permanent EAP-AKA identity, used here as RFC 5448 does.
    assert_eq!(
        classify(&got_identity),
        IdentityKind::Permanent(Method::Aka)
    );

    // --- Server: vector, keys, Challenge with encrypted AT_NEXT_REAUTH_ID.
    let av = sub.generate_vector(
        Sqn::from_bytes(hx(m, "SQN")),
        Amf(hx(m, "AMF")),
        hx(&c, "RAND"),
    );
    let server_keys = keys::derive_aka_prime_from_ck_ik(
        &got_identity,
        &av.ck,
        &av.ik,
        &network,
        &av.autn.sqn_xor_ak(),
    )
    .unwrap();
    assert_eq!(
        server_keys.msk.expose()[..],
        hex::decode(c["MSK"].as_str().unwrap()).unwrap()
    );
    let iv = [0x5a; 16];
    let reauth_id = b"8reauth-1@wlan.mnc001.mcc001.3gppnetwork.org".to_vec();
    let plain = encode_encrypted_attributes(&[Attribute::from(AtNextReauthId {
        reauth_id: reauth_id.clone(),
    })])
    .unwrap();
    let ciphertext = encr::encrypt(&server_keys.k_encr, &iv, &plain).unwrap();
    let challenge = request(
        2,
        Message::new(Subtype::Challenge)
            .with(AtRand::new(av.rand))
            .with(AtAutn::new(av.autn))
            .with(AtKdfInput {
                network_name: network.clone(),
            })
            .with(AtKdf::CK_IK_PRIME)
            .with(AtCheckcode::new(server_cc.to_attr()))
            .with(AtIv::new(iv))
            .with(AtEncrData::new(ciphertext))
            .with(AtMac::ZEROED),
    );
    let (mut wire, off) = challenge.encode_with_mac_offset().unwrap();
    let off = off.expect("AT_MAC offset");
    mac::sign(&server_keys.k_aut, &mut wire, off, mac::NO_EXTRA).unwrap();

    // --- Peer: decode, USIM, keys, MAC, checkcode, decrypt.
    let p = Packet::decode(&wire).unwrap();
    let msg = message(&p);
    let usim = sub
        .authenticate(msg.rand().unwrap(), msg.autn().unwrap())
        .unwrap();
    let peer_keys = keys::derive_aka_prime_from_ck_ik(
        &identity,
        &usim.ck,
        &usim.ik,
        msg.kdf_input().unwrap(),
        &msg.autn().unwrap().sqn_xor_ak(),
    )
    .unwrap();
    assert_eq!(peer_keys, server_keys);
    let peer_off = mac_value_offset(&wire).unwrap().unwrap();
    assert_eq!(peer_off, off);
    assert!(mac::verify(
        &peer_keys.k_aut,
        &wire,
        peer_off,
        mac::NO_EXTRA
    ));
    assert!(peer_cc.verify_attr(msg.checkcode().unwrap()));
    let decrypted = encr::decrypt(
        &peer_keys.k_encr,
        msg.iv().unwrap(),
        msg.encr_data().unwrap(),
    )
    .unwrap();
    let inner = decode_encrypted_attributes(&decrypted).unwrap();
    assert!(inner.contains(&Attribute::from(AtNextReauthId {
        reauth_id: reauth_id.clone()
    })));
    // A tampered packet fails.
    let mut bad = wire.clone();
    bad[10] ^= 1;
    assert!(!mac::verify(
        &peer_keys.k_aut,
        &bad,
        peer_off,
        mac::NO_EXTRA
    ));

    // --- Peer's Challenge response: AT_RES + AT_MAC over the packet only.
    let (mut resp, roff) = response(
        2,
        Message::new(Subtype::Challenge)
            .with(AtRes { res: usim.res })
            .with(AtCheckcode::new(peer_cc.to_attr()))
            .with(AtMac::ZEROED),
    )
    .encode_with_mac_offset()
    .unwrap();
    mac::sign(&peer_keys.k_aut, &mut resp, roff.unwrap(), mac::NO_EXTRA).unwrap();
    let rp = Packet::decode(&resp).unwrap();
    let off = mac_value_offset(&resp).unwrap().unwrap();
    assert!(mac::verify(&server_keys.k_aut, &resp, off, mac::NO_EXTRA));
    assert!(message(&rp).res().unwrap().ct_eq(&av.xres));

    // --- Fast re-authentication (RFC 4187 §5, RFC 9048 §3.5).
    assert_eq!(
        classify(&reauth_id),
        IdentityKind::FastReauth(Method::AkaPrime)
    );
    let nonce_s = [0x33; 16];
    let counter = 1u16;
    let iv2 = [0x77; 16];
    let plain = encode_encrypted_attributes(&[
        Attribute::from(AtCounter { counter }),
        Attribute::from(AtNonceS::new(nonce_s)),
    ])
    .unwrap();
    let (mut rq, off) = request(
        3,
        Message::new(Subtype::Reauthentication)
            .with(AtIv::new(iv2))
            .with(AtEncrData::new(
                encr::encrypt(&server_keys.k_encr, &iv2, &plain).unwrap(),
            ))
            .with(AtMac::ZEROED),
    )
    .encode_with_mac_offset()
    .unwrap();
    mac::sign(&server_keys.k_aut, &mut rq, off.unwrap(), mac::NO_EXTRA).unwrap();
    let server_re = keys::derive_reauth(&server_keys.reauth, &reauth_id, counter, &nonce_s);

    let p = Packet::decode(&rq).unwrap();
    let msg = message(&p);
    assert!(mac::verify(
        &peer_keys.k_aut,
        &rq,
        mac_value_offset(&rq).unwrap().unwrap(),
        mac::NO_EXTRA
    ));
    let inner = decode_encrypted_attributes(
        &encr::decrypt(
            &peer_keys.k_encr,
            msg.iv().unwrap(),
            msg.encr_data().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let got_nonce = inner
        .iter()
        .find_map(|a| match a {
            Attribute::NonceS(n) => Some(n.nonce_s),
            _ => None,
        })
        .unwrap();
    let got_counter = inner
        .iter()
        .find_map(|a| match a {
            Attribute::Counter(c) => Some(c.counter),
            _ => None,
        })
        .unwrap();
    let peer_re = keys::derive_reauth(&peer_keys.reauth, &reauth_id, got_counter, &got_nonce);
    assert_eq!(peer_re, server_re);
    assert_ne!(peer_re.msk, server_keys.msk);

    // The peer's re-auth response MAC covers NONCE_S.
    let (mut rr, off) = response(
        3,
        Message::new(Subtype::Reauthentication).with(AtMac::ZEROED),
    )
    .encode_with_mac_offset()
    .unwrap();
    let off = off.unwrap();
    mac::sign(&peer_keys.k_aut, &mut rr, off, &got_nonce).unwrap();
    assert!(mac::verify(&server_keys.k_aut, &rr, off, &nonce_s));
    assert!(!mac::verify(&server_keys.k_aut, &rr, off, mac::NO_EXTRA));
}
