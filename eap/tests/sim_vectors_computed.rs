//! EAP-SIM values RFC 4186 publishes no vector for — the fast
//! re-authentication keys and the AT_MAC of a Re-authentication response —
//! computed independently of this crate with python3's `hashlib`/`hmac` and
//! a pure-Python SHA-1 compression function. The script first checks itself
//! against the FIPS 186-2 PRF vector and the RFC 4186 Appendix A K_encr,
//! K_aut, MSK and EMSK. Inputs: the RFC 4186 Appendix A MK and K_aut, the
//! re-authentication identity the same appendix hands out in
//! AT_NEXT_REAUTH_ID, counter 1, NONCE_S = 10 11 … 1f.
//!
//! ```python
//! mk = sha1(identity + kc1 + kc2 + kc3 + nonce_mt + b"\0\1" + b"\0\1")
//! xkey = sha1(reauth_id + struct.pack(">H", 1) + nonce_s + mk)
//! msk, emsk = prf(xkey, 128)[:64], prf(xkey, 128)[64:]    # FIPS 186-2, b = 160
//! resp = eap(2, 0x2b, 18, 13, att(11, b"\0\0" + b"\0" * 16))  # SIM re-auth response
//! hmac.new(k_aut, resp + nonce_s, hashlib.sha1).digest()[:16]
//! ```

use eap::secret::{KAut, KAutAka, Mk};
use eap::sim::attr::AtMac;
use eap::sim::keys;
use eap::sim::message::{Message, SimPacket, Subtype, sign_packet, verify_packet};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

const RFC4186_MK: &str = "e576d5ca332e9930018bf1baee2763c795b3c712";
const RFC4186_K_AUT: &str = "25af1942efcbf4bc72b3943421f2a974";
const REAUTH_ID: &str =
    "Y24fNSrz8BP274jOJaF17WfxI8YO7QX00pMXk9XMMVOw7broaNhTczuFq53aEpOkk3L0dm@eapsim.foo";

fn nonce_s() -> [u8; 16] {
    core::array::from_fn(|i| 0x10 + i as u8)
}

#[test]
fn sim_fast_reauth_keys() {
    let mk = Mk::from_slice(&h(RFC4186_MK)).unwrap();
    let r = keys::derive_reauth_keys(&mk, REAUTH_ID.as_bytes(), 1, &nonce_s());
    assert_eq!(
        hex::encode(r.msk.expose()),
        "343214ec3442172b89a1364caf01fdec9779628e72f38903f179df249d996fd091c6e44e64286f0d70256d90774361a0e0d1758a4d25597bcdffcb0e25e3a965"
    );
    assert_eq!(
        hex::encode(r.emsk.expose()),
        "fd0f1a497cc9de614e5c37d37a50e2ba6466ecc5bd123e4d3694b2cdd09fe4db09b43dc946dcead14fc57df41302dc4c3be9c23750fbd129e6370883caf4ef9f"
    );
    // the counter is an input
    let r2 = keys::derive_reauth_keys(&mk, REAUTH_ID.as_bytes(), 2, &nonce_s());
    assert_ne!(r2.msk, r.msk);
}

#[test]
fn sim_reauth_response_mac_covers_nonce_s() {
    let k_aut = KAut::Aka(KAutAka::from_slice(&h(RFC4186_K_AUT)).unwrap());
    let p = SimPacket::response(
        0x2b,
        Message::new(Subtype::Reauthentication).with(AtMac::ZEROED),
    );
    let mut b = p.encode().unwrap();
    assert_eq!(
        hex::encode(&b),
        "022b001c120d00000b05000000000000000000000000000000000000"
    );
    sign_packet(&k_aut, &mut b, &nonce_s()).unwrap();
    assert_eq!(hex::encode(&b[12..28]), "1835002eaf979d88f6849b49daf6414f");
    assert!(verify_packet(&k_aut, &b, &nonce_s()));
    assert!(!verify_packet(&k_aut, &b, &[]));
}
