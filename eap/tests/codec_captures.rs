//! Real EAP-AKA and EAP-AKA' packets, decoded, re-encoded byte for byte and
//! checked against the crypto: AT_MAC verified, AT_ENCR_DATA decrypted and
//! its attributes decoded, AT_CHECKCODE recomputed.
//!
//! Where they come from: captured on this project's test machine
//! (2026-11-27) from two tools nobody here wrote — Debian's hostapd 2.10 as a
//! RADIUS server with its internal EAP-AKA/AKA' server (`eap_server=1`,
//! `eap_sim_aka_result_ind=1`, default identity round), and Debian's
//! eapol_test 2.10 as the peer (`external_sim=1`, `phase1="result_ind=1"`,
//! `-r 1`), over RADIUS on 127.0.0.1. The EAP-Message attributes were taken
//! from eapol_test's RADIUS dump (`-W`, default debug output). The
//! authentication vector fed to both sides (through hostapd's hlr_auc_gw
//! socket and eapol_test's external-SIM control socket) is the fixed one
//! below; hostapd chose everything else (identifiers, IV, pseudonyms,
//! re-authentication identities, MACs).
//! The exchanges: Response/Identity, Request/AKA-Identity (AT_ANY_ID_REQ),
//! Response/AKA-Identity (AT_IDENTITY), Request/AKA-Challenge (AT_RAND,
//! AT_AUTN, [AT_KDF, AT_KDF_INPUT,] AT_IV, AT_ENCR_DATA, AT_CHECKCODE,
//! [AT_BIDDING,] AT_RESULT_IND, AT_MAC), Response/AKA-Challenge (AT_RES,
//! AT_CHECKCODE, AT_RESULT_IND, AT_MAC), Request/Response AKA-Notification
//! (Success, AT_MAC), EAP-Success, then the next Response/Identity with the
//! fast re-authentication identity received in AT_ENCR_DATA, and the
//! EAP-Failure hostapd answered it with.

use eap::aka::attr::{AtNotification, Attribute, Checkcode};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{Method, derive_aka, derive_aka_prime_from_ck_ik};
use eap::aka::message::{
    IdReq, Subtype, decode_encrypted_attributes, encode_encrypted_attributes, mac_value_offset,
    verify_packet,
};
use eap::aka::{encr, keys::Keys};
use eap::packet::{Packet, TypeData};
use eap::secret::{Ck, Ik};
use eap::umts::Autn;

const RAND: &str = "00112233445566778899aabbccddeeff";
const AUTN: &str = "11223344556680000102030405060708";
const IK: &str = "000102030405060708090a0b0c0d0e0f";
const CK: &str = "f0e0d0c0b0a090807060504030201000";
const RES: &str = "a1a2a3a4a5a6a7a8";

const AKA_RESP_IDENTITY: &str = concat!(
    "02ad0038013032333431353039393939393939393940776c616e2e6d6e633031",
    "352e6d63633233342e336770706e6574776f726b2e6f7267",
);
const AKA_REQ_AKA_IDENTITY: &str = "01ae000c170500000d010000";
const AKA_RESP_AKA_IDENTITY: &str = concat!(
    "02ae0040170500000e0e00333032333431353039393939393939393940776c61",
    "6e2e6d6e633031352e6d63633233342e336770706e6574776f726b2e6f726700",
);
const AKA_REQ_CHALLENGE: &str = concat!(
    "01af00bc170100000105000000112233445566778899aabbccddeeff02050000",
    "1122334455668000010203040506070881050000013892bb209acf897f2a68b3",
    "f3276faf821100004d0f120f53a2c26f5bee5b7a2a69825676b9a5f64b7e2cab",
    "e6dd9462ccd46ce0b49a7e61252fee90272869dbcb135d7f5d7b53c5ebabfdb5",
    "ba3d06fe150cab2486060000e7d6a98086dc3b3f9bca8832d6c07305526bc3cd",
    "87010000880100000b0500007e34b646702fcae29b5c0dd4a855f5cf",
);
const AKA_RESP_CHALLENGE: &str = concat!(
    "02af00441701000003030040a1a2a3a4a5a6a7a886060000e7d6a98086dc3b3f",
    "9bca8832d6c07305526bc3cd870100000b050000eb924c537dfcd12c4f528be2",
    "e5de565e",
);
const AKA_REQ_NOTIFICATION: &str =
    "01b00020170c00000c0180000b050000bb8db06f6d53b27da6f4b7d90b8e418e";
const AKA_RESP_NOTIFICATION: &str = "02b0001c170c00000b050000e2f7c41f9e46cb16224d9089d9567619";
const AKA_SUCCESS: &str = "03b00004";
const AKA_RESP_IDENTITY_REAUTH: &str = "02ea001a01346131356164313037346532376465356231313836";
const AKA_FAILURE: &str = "04000004";
const AKAP_RESP_IDENTITY: &str = concat!(
    "02520038013632333431353039393939393939393940776c616e2e6d6e633031",
    "352e6d63633233342e336770706e6574776f726b2e6f7267",
);
const AKAP_REQ_AKA_IDENTITY: &str = "0153000c320500000d010000";
const AKAP_RESP_AKA_IDENTITY: &str = concat!(
    "02530040320500000e0e00333632333431353039393939393939393940776c61",
    "6e2e6d6e633031352e6d63633233342e336770706e6574776f726b2e6f726700",
);
const AKAP_REQ_CHALLENGE: &str = concat!(
    "015400d0320100000105000000112233445566778899aabbccddeeff02050000",
    "112233445566800001020304050607081801000117020004574c414e81050000",
    "aec98f6a72a34bf342775d3b1a25b5ca8211000082eefb158d50a2f93dac2f42",
    "e1496e4963fb81fd8043cbfdc0fa60d1e92eb9b19736138316aabfc54ad54450",
    "3adab9d14b3fbf69a5a1c3507705f41515b0e13f860900008d6d828bbbb6cb78",
    "e5cd178a737c833f4318027e7ea639eab16cd6d80763ad3a870100000b050000",
    "5c4f62c414f963bf2a84647a243c25fd",
);
const AKAP_RESP_CHALLENGE: &str = concat!(
    "025400503201000003030040a1a2a3a4a5a6a7a8860900008d6d828bbbb6cb78",
    "e5cd178a737c833f4318027e7ea639eab16cd6d80763ad3a870100000b050000",
    "93b84f1442909301d944aaa1611af12e",
);
const AKAP_REQ_NOTIFICATION: &str =
    "01550020320c00000c0180000b0500004f1790588a959e3035f1e16a173c8a3f";
const AKAP_RESP_NOTIFICATION: &str = "0255001c320c00000b050000cda4625255feb0db88bb57cf93b1f0f6";
const AKAP_SUCCESS: &str = "03550004";
const AKAP_RESP_IDENTITY_REAUTH: &str = "02a2001a01383132326233313764363261643831376138353334";
const AKAP_FAILURE: &str = "04000004";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

fn arr16(s: &str) -> [u8; 16] {
    h(s).try_into().unwrap()
}

const AKA_ALL: [&str; 10] = [
    AKA_RESP_IDENTITY,
    AKA_REQ_AKA_IDENTITY,
    AKA_RESP_AKA_IDENTITY,
    AKA_REQ_CHALLENGE,
    AKA_RESP_CHALLENGE,
    AKA_REQ_NOTIFICATION,
    AKA_RESP_NOTIFICATION,
    AKA_SUCCESS,
    AKA_RESP_IDENTITY_REAUTH,
    AKA_FAILURE,
];
const AKAP_ALL: [&str; 10] = [
    AKAP_RESP_IDENTITY,
    AKAP_REQ_AKA_IDENTITY,
    AKAP_RESP_AKA_IDENTITY,
    AKAP_REQ_CHALLENGE,
    AKAP_RESP_CHALLENGE,
    AKAP_REQ_NOTIFICATION,
    AKAP_RESP_NOTIFICATION,
    AKAP_SUCCESS,
    AKAP_RESP_IDENTITY_REAUTH,
    AKAP_FAILURE,
];

#[test]
fn every_captured_packet_decodes_and_reencodes_byte_exact() {
    for s in AKA_ALL.iter().chain(AKAP_ALL.iter()) {
        let b = h(s);
        let p = Packet::decode(&b).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(p.encode().unwrap(), b, "{s}");
        let (_, mac) = p.encode_with_mac_offset().unwrap();
        if p.aka().is_some() {
            assert_eq!(mac_value_offset(&b).unwrap(), mac);
        }
    }
}

fn aka(s: &str) -> (Packet, eap::aka::message::Message) {
    let p = Packet::decode(&h(s)).unwrap();
    let m = p.aka().unwrap().1.clone();
    (p, m)
}

/// Identity the keys are derived from: the one in AT_IDENTITY.
fn identity(resp_aka_identity: &str) -> Vec<u8> {
    aka(resp_aka_identity).1.identity().unwrap().to_vec()
}

fn check_exchange(method: Method, all: &[&str; 10], keys: &Keys) {
    let [
        resp_id,
        req_aka_id,
        resp_aka_id,
        req_chal,
        resp_chal,
        req_notif,
        resp_notif,
        success,
        resp_id_reauth,
        failure,
    ] = *all;
    // EAP-Response/Identity: the permanent NAI
    let p = Packet::decode(&h(resp_id)).unwrap();
    let TypeData::Identity(id) = p.data().unwrap() else {
        panic!("not an identity response")
    };
    let prefix = if method == Method::Aka { b'0' } else { b'6' };
    assert_eq!(id[0], prefix);
    assert!(id.ends_with(b"@wlan.mnc015.mcc234.3gppnetwork.org"));

    // AKA-Identity round
    let (p, m) = aka(req_aka_id);
    assert_eq!(p.aka().unwrap().0, method);
    assert_eq!(m.subtype, Subtype::Identity);
    assert_eq!(m.id_req(), Some(IdReq::Any));
    let (_, m) = aka(resp_aka_id);
    assert_eq!(m.identity(), Some(&id[..]));

    // Challenge request
    let (p, m) = aka(req_chal);
    assert!(matches!(p, Packet::Request { .. }));
    assert_eq!(m.subtype, Subtype::Challenge);
    assert_eq!(m.rand(), Some(&arr16(RAND)));
    assert_eq!(m.autn(), Some(&Autn(arr16(AUTN))));
    assert!(m.result_ind());
    assert!(m.mac().is_some());
    match method {
        Method::Aka => {
            assert_eq!(m.kdfs().count(), 0);
            assert_eq!(m.bidding(), Some(false));
            assert!(matches!(m.checkcode(), Some(Checkcode::Sha1(_))));
        }
        Method::AkaPrime => {
            assert_eq!(m.kdfs().collect::<Vec<_>>(), vec![1]);
            assert_eq!(m.kdf_input(), Some(&b"WLAN"[..]));
            assert_eq!(m.bidding(), None);
            assert!(matches!(m.checkcode(), Some(Checkcode::Sha256(_))));
        }
    }
    // AT_CHECKCODE = hash of the two AKA-Identity packets (RFC 4187 §10.13)
    let mut cc = CheckcodeHash::new(method);
    cc.update(&h(req_aka_id));
    cc.update(&h(resp_aka_id));
    assert_eq!(m.checkcode(), Some(&cc.to_attr()));
    // AT_MAC of the server's challenge: no extra data
    assert!(verify_packet(&keys.k_aut, &h(req_chal), &[]));
    let mut tampered = h(req_chal);
    tampered[12] ^= 0x80;
    assert!(!verify_packet(&keys.k_aut, &tampered, &[]));
    // AT_ENCR_DATA: next pseudonym and next re-auth identity, padded
    let plain = encr::decrypt(&keys.k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
    let inner = decode_encrypted_attributes(&plain).unwrap();
    assert_eq!(encode_encrypted_attributes(&inner).unwrap(), &plain[..]);
    let reauth_id = inner
        .iter()
        .find_map(|a| match a {
            Attribute::NextReauthId(r) => Some(r.reauth_id.clone()),
            _ => None,
        })
        .unwrap();
    let pseudonym = inner
        .iter()
        .find_map(|a| match a {
            Attribute::NextPseudonym(p) => Some(p.pseudonym.clone()),
            _ => None,
        })
        .unwrap();
    assert!(!pseudonym.is_empty());
    assert!(matches!(inner.last(), Some(Attribute::Padding(_))));

    // Challenge response
    let (p, m) = aka(resp_chal);
    assert!(matches!(p, Packet::Response { .. }));
    assert_eq!(m.res().unwrap().as_bytes(), &h(RES)[..]);
    assert_eq!(m.checkcode(), Some(&cc.to_attr()));
    assert!(m.result_ind());
    assert!(verify_packet(&keys.k_aut, &h(resp_chal), &[]));

    // Success notification round (P = 0: protected by AT_MAC)
    let (_, m) = aka(req_notif);
    assert_eq!(m.subtype, Subtype::Notification);
    assert_eq!(m.notification(), Some(AtNotification::SUCCESS));
    assert!(verify_packet(&keys.k_aut, &h(req_notif), &[]));
    let (_, m) = aka(resp_notif);
    assert_eq!(m.notification(), None);
    assert!(verify_packet(&keys.k_aut, &h(resp_notif), &[]));

    assert!(matches!(
        Packet::decode(&h(success)).unwrap(),
        Packet::Success { .. }
    ));
    // the peer came back with the re-auth identity it got in AT_NEXT_REAUTH_ID
    let p = Packet::decode(&h(resp_id_reauth)).unwrap();
    assert_eq!(p.data(), Some(&TypeData::Identity(reauth_id.clone())));
    assert_eq!(
        reauth_id[0],
        if method == Method::Aka { b'4' } else { b'8' }
    );
    assert!(matches!(
        Packet::decode(&h(failure)).unwrap(),
        Packet::Failure { identifier: 0 }
    ));
}

#[test]
fn hostapd_eap_aka_exchange() {
    let id = identity(AKA_RESP_AKA_IDENTITY);
    let keys = derive_aka(&id, &Ik::new(arr16(IK)), &Ck::new(arr16(CK)));
    check_exchange(Method::Aka, &AKA_ALL, &keys);
}

#[test]
fn hostapd_eap_aka_prime_exchange() {
    let id = identity(AKAP_RESP_AKA_IDENTITY);
    let autn = Autn(arr16(AUTN));
    let keys = derive_aka_prime_from_ck_ik(
        &id,
        &Ck::new(arr16(CK)),
        &Ik::new(arr16(IK)),
        b"WLAN",
        &autn.sqn_xor_ak(),
    )
    .unwrap();
    check_exchange(Method::AkaPrime, &AKAP_ALL, &keys);
}

#[test]
fn captured_packets_with_wrong_keys_do_not_verify() {
    let id = identity(AKA_RESP_AKA_IDENTITY);
    let keys = derive_aka(&id, &Ik::new([0; 16]), &Ck::new(arr16(CK)));
    assert!(!verify_packet(&keys.k_aut, &h(AKA_REQ_CHALLENGE), &[]));
}

#[test]
fn captured_challenge_is_rejected_by_the_other_method() {
    // an EAP-AKA' challenge relabelled as EAP-AKA carries AT_KDF_INPUT, which
    // RFC 4187 does not know: a non-skippable attribute, so the message is invalid
    let mut b = h(AKAP_REQ_CHALLENGE);
    b[4] = 23;
    assert!(Packet::decode(&b).is_err());
    // and an EAP-AKA challenge relabelled as AKA' has a 20-byte checkcode
    let mut b = h(AKA_REQ_CHALLENGE);
    b[4] = 50;
    assert!(Packet::decode(&b).is_err());
}
