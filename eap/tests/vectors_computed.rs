//! Vectors for what the RFCs publish none of — AT_MAC over a packet and the
//! fast re-authentication keys — computed independently of this crate with
//! python3's `hmac`/`hashlib` and a pure-Python SHA-1 compression function
//! (the script checks itself against the FIPS 186-2 PRF vector and the
//! EAP-AKA K_encr vector first). Inputs: the K_aut/MK/K_re of the published
//! vectors (testdata/vectors), packets laid out by hand as RFC 4187 §9.3 /
//! RFC 9048 §3 describe.
//!
//! ```python
//! import hmac, hashlib, struct
//! def att(t, body): return bytes([t, (len(body) + 2) // 4]) + body
//! def eap(code, ident, typ, sub, attrs):
//!     body = bytes([typ, sub, 0, 0]) + attrs
//!     return bytes([code, ident]) + struct.pack(">H", 4 + len(body)) + body
//! mac0 = att(11, b"\0\0" + b"\0" * 16)
//! aka_pkt = eap(1, 0x2a, 23, 1, att(1, b"\0\0" + RAND) + att(2, b"\0\0" + AUTN) + mac0)
//! hmac.new(kaut_aka, aka_pkt, hashlib.sha1).digest()[:16]
//! prime_pkt = eap(1, 0x2a, 50, 1, att(1, b"\0\0" + RAND) + att(2, b"\0\0" + AUTN)
//!                 + att(24, b"\0\x01") + att(23, b"\0\x04WLAN") + mac0)
//! hmac.new(kaut_prime, prime_pkt, hashlib.sha256).digest()[:16]
//! resp = eap(2, 0x2b, 23, 13, mac0)                      # re-auth response
//! hmac.new(kaut_aka, resp + NONCE_S, hashlib.sha1).digest()[:16]
//! # re-auth keys: XKEY' = sha1(id + counter + NONCE_S + MK), prf(XKEY', 128)
//! # and prf'(K_re, b"EAP-AKA' re-auth" + id + counter + NONCE_S, 128)
//! ```

use eap::aka::keys::{self, ReauthSecret};
use eap::aka::mac;
use eap::secret::{KAut, KAutAka, KAutAkaPrime, KRe, Mk};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const AKA_CHALLENGE: &str = "012a0044170100000105000081e92b6c0ee0e12ebceba8d92a99dfa502050000bb52e91c747ac3ab2a5c23d15ee351d50b05000000000000000000000000000000000000";
const PRIME_CHALLENGE: &str = "012a0050320100000105000081e92b6c0ee0e12ebceba8d92a99dfa502050000bb52e91c747ac3ab2a5c23d15ee351d51801000117020004574c414e0b05000000000000000000000000000000000000";
const REAUTH_RESPONSE: &str = "022b001c170d00000b05000000000000000000000000000000000000";

fn kaut_aka() -> KAut {
    KAut::Aka(KAutAka::from_slice(&h("18c044070e5e642a2643876ff7a83812")).unwrap())
}

fn kaut_prime() -> KAut {
    KAut::AkaPrime(
        KAutAkaPrime::from_slice(&h(
            "0842ea722ff6835bfa2032499fc3ec23c2f0e388b4f07543ffc677f1696d71ea",
        ))
        .unwrap(),
    )
}

fn nonce_s() -> [u8; 16] {
    core::array::from_fn(|i| 0x10 + i as u8)
}

#[test]
fn at_mac_eap_aka_challenge_hmac_sha1_128() {
    let mut p = h(AKA_CHALLENGE);
    assert_eq!(p.len(), 68);
    let want = h("0ffba5382145cae7067e526f573fdbad");
    assert_eq!(
        mac::compute(&kaut_aka(), &p, 52, mac::NO_EXTRA).unwrap()[..],
        want[..]
    );
    mac::sign(&kaut_aka(), &mut p, 52, mac::NO_EXTRA).unwrap();
    assert_eq!(p[52..], want[..]);
    assert!(mac::verify(&kaut_aka(), &p, 52, mac::NO_EXTRA));
    // The AKA' key does not verify an AKA MAC.
    assert!(!mac::verify(&kaut_prime(), &p, 52, mac::NO_EXTRA));
}

#[test]
fn at_mac_eap_aka_prime_challenge_hmac_sha256_128() {
    let mut p = h(PRIME_CHALLENGE);
    assert_eq!(p.len(), 80);
    let want = h("89ce2f346b92b337d93762976de33cf0");
    assert_eq!(
        mac::compute(&kaut_prime(), &p, 64, mac::NO_EXTRA).unwrap()[..],
        want[..]
    );
    mac::sign(&kaut_prime(), &mut p, 64, mac::NO_EXTRA).unwrap();
    assert_eq!(p[64..], want[..]);
    assert!(mac::verify(&kaut_prime(), &p, 64, mac::NO_EXTRA));
    p[20] ^= 0x80; // flip a RAND bit
    assert!(!mac::verify(&kaut_prime(), &p, 64, mac::NO_EXTRA));
}

#[test]
fn at_mac_reauth_response_covers_nonce_s() {
    let mut p = h(REAUTH_RESPONSE);
    let want = h("b961deb63b4b49260c720892ab3778bc");
    mac::sign(&kaut_aka(), &mut p, 12, &nonce_s()).unwrap();
    assert_eq!(p[12..], want[..]);
    assert!(mac::verify(&kaut_aka(), &p, 12, &nonce_s()));
    assert!(!mac::verify(&kaut_aka(), &p, 12, mac::NO_EXTRA));
}

#[test]
fn eap_aka_reauth_keys() {
    // MK of the EAP-AKA vector (identity 0555444333222111).
    let mk = Mk::from_slice(&h("f5f57b91e7e9f17d5a78386d40c2cead45a160bb")).unwrap();
    let k = keys::derive_reauth(
        &ReauthSecret::Mk(mk),
        b"4reauth-id@wlan.mnc001.mcc001.3gppnetwork.org",
        7,
        &nonce_s(),
    );
    assert_eq!(
        hex::encode(k.msk.expose()),
        "2460946066da3b3296211473c45918bf46158d718a3c1ab4b62de500cf6d1917dab10fd5d364a82747a4d03ea938cbe284e909d77a2e8f3fdf419bf95b6d9e6f"
    );
    assert_eq!(
        hex::encode(k.emsk.expose()),
        "34b27adb022352e02380e3c7f5308c95eaff95a4ff7f332c75dd84fcd1735035e70430b172b1b8ae7e7b7834e0869492b178576e197988313e673429fd188055"
    );
}

#[test]
fn eap_aka_mk_matches_independent_sha1() {
    let k = keys::derive_aka(
        b"0555444333222111",
        &eap::secret::Ik::from_slice(&h("9744871ad32bf9bbd1dd5ce54e3e2e5a")).unwrap(),
        &eap::secret::Ck::from_slice(&h("5349fbe098649f948f5d2e973a81c00f")).unwrap(),
    );
    let ReauthSecret::Mk(mk) = &k.reauth else {
        panic!("EAP-AKA keeps MK")
    };
    assert_eq!(
        hex::encode(mk.expose()),
        "f5f57b91e7e9f17d5a78386d40c2cead45a160bb"
    );
}

#[test]
fn eap_aka_prime_reauth_keys() {
    // K_re of RFC 5448 test case 1.
    let k_re = KRe::from_slice(&h(
        "cf83aa8bc7e0aced892acc98e76a9b2095b558c7795c7094715cb3393aa7d17a",
    ))
    .unwrap();
    let k = keys::derive_reauth(
        &ReauthSecret::KRe(k_re),
        b"8reauth-id@wlan.mnc001.mcc001.3gppnetwork.org",
        7,
        &nonce_s(),
    );
    assert_eq!(
        hex::encode(k.msk.expose()),
        "91ff4b4fa96738e945adba427a50b8d08aed389d745454bed42478e0cf8e5278820df174fd466be8d26ff84b1ef1c2ba84afc9f658c88659ebefbd8b37a34aad"
    );
    assert_eq!(
        hex::encode(k.emsk.expose()),
        "0c6049119aba81ef787ab2072753a025f2d4d3389bb01f01266c10c9f02ab38c338bb338a1a51a8e883cd9f8fc959bf1f0e1ad6e61b739405b7b47ff5f33b9a3"
    );
}

/// `req = eap(1, 1, 50, 5, att(13, b"\0\0"))` (AT_ANY_ID_REQ) and
/// `resp = eap(2, 1, 50, 5, att(14, len ‖ identity ‖ pad))` (AT_IDENTITY
/// "6001010123456789@wlan.mnc001.mcc001.3gppnetwork.org");
/// `hashlib.sha1(req + resp)` and `hashlib.sha256(req + resp)`.
#[test]
fn at_checkcode_over_identity_round() {
    use eap::aka::checkcode::CheckcodeHash;
    use eap::aka::keys::Method;
    let req = h("0101000c320500000d010000");
    let resp = h(
        "02010040320500000e0e00333630303130313031323334353637383940776c616e2e6d6e633030312e6d63633030312e336770706e6574776f726b2e6f726700",
    );
    for (m, want) in [
        (Method::Aka, "3d08f1607017b6518917e9ef95035e60b1011a9d"),
        (
            Method::AkaPrime,
            "404a168bf954270cf4baaef3b2d45acf6e5ab4f7f625cb65ef518e74f38bb645",
        ),
    ] {
        let mut c = CheckcodeHash::new(m);
        c.update(&req);
        c.update(&resp);
        assert_eq!(hex::encode(c.wire_value()), want);
        assert!(c.verify(&h(want)));
        assert!(!CheckcodeHash::new(m).verify(&h(want)));
    }
}
