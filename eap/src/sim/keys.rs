//! EAP-SIM keys (RFC 4186 §7) and the extra data its AT_MAC covers.
//!
//! MK = SHA1(Identity ‖ n*Kc ‖ NONCE_MT ‖ Version List ‖ Selected Version);
//! from there EAP-SIM and EAP-AKA share everything: the FIPS 186-2 PRF splits
//! MK into K_encr (16), K_aut (16), MSK (64), EMSK (64), and fast
//! re-authentication derives MSK/EMSK from XKEY' = SHA1(Identity ‖ counter ‖
//! NONCE_S ‖ MK) (RFC 4186 §7 is RFC 4187 §7 word for word). So the result is
//! the [`Keys`] of `aka::keys`, with K_aut of the 16-byte HMAC-SHA1 kind and
//! MK kept for re-authentication (its `method()` reads `Method::Aka`, the
//! family whose key hierarchy it is).
//!
//! AT_MAC is HMAC-SHA1-128 with K_aut over the EAP packet (AT_MAC value
//! zeroed) followed by `extra` (`aka::mac`, `sim::message::sign_packet`):
//!
//! | message                                   | sender | `extra`                      |
//! |-------------------------------------------|--------|------------------------------|
//! | EAP-Request/SIM/Challenge                 | server | NONCE_MT of the Start response (§9.3) |
//! | EAP-Response/SIM/Challenge                | peer   | n*SRES, [`n_sres`] (§9.4)    |
//! | EAP-Request/SIM/Re-authentication         | server | nothing (§9.7)               |
//! | EAP-Response/SIM/Re-authentication        | peer   | NONCE_S the server sent (§9.8) |
//! | EAP-Request/SIM/Notification (P bit = 0)  | server | nothing (§9.9)               |
//! | EAP-Response/SIM/Notification (P bit = 0) | peer   | nothing (§9.10)              |

use crate::aka::keys::derive_aka_from_mk;
pub use crate::aka::keys::{Keys, ReauthKeys, ReauthSecret, derive_reauth, fips186_2_prf};
use crate::gsm::Sres;
use crate::secret::{Kc, Mk};
use sha1::{Digest, Sha1};
use zeroize::Zeroizing;

/// MK = SHA1(Identity ‖ n*Kc ‖ NONCE_MT ‖ Version List ‖ Selected Version)
/// (RFC 4186 §7).
///
/// `identity` is the peer identity of the last AT_IDENTITY (or of the
/// EAP-Response/Identity when there was no Start round with one), without a
/// trailing NUL; `kcs` the Kc of each triplet in AT_RAND order; `versions`
/// the AT_VERSION_LIST the server sent, in its order; `selected` the
/// AT_SELECTED_VERSION of the peer.
pub fn master_key(
    identity: &[u8],
    kcs: &[Kc],
    nonce_mt: &[u8; 16],
    versions: &[u16],
    selected: u16,
) -> Mk {
    let mut h = Sha1::new();
    h.update(identity);
    for kc in kcs {
        h.update(kc.expose());
    }
    h.update(nonce_mt);
    for v in versions {
        h.update(v.to_be_bytes());
    }
    h.update(selected.to_be_bytes());
    let mut out = Zeroizing::new(sha1::digest::Output::<Sha1>::default());
    h.finalize_into(&mut out);
    let mut mk = Zeroizing::new([0u8; 20]);
    mk.copy_from_slice(&out);
    Mk::new(*mk)
}

/// Full EAP-SIM key derivation (RFC 4186 §7): [`master_key`], then K_encr,
/// K_aut, MSK and EMSK from the FIPS 186-2 PRF, MK kept for fast re-authentication.
pub fn derive_keys(
    identity: &[u8],
    kcs: &[Kc],
    nonce_mt: &[u8; 16],
    versions: &[u16],
    selected: u16,
) -> Keys {
    derive_aka_from_mk(&master_key(identity, kcs, nonce_mt, versions, selected))
}

/// Fast re-authentication keys (RFC 4186 §7): MSK‖EMSK = PRF(SHA1(Identity ‖
/// counter ‖ NONCE_S ‖ MK)); `identity` is the re-authentication identity the
/// peer used. The same computation as EAP-AKA's ([`derive_reauth`]).
pub fn derive_reauth_keys(
    mk: &Mk,
    identity: &[u8],
    counter: u16,
    nonce_s: &[u8; 16],
) -> ReauthKeys {
    derive_reauth(&ReauthSecret::Mk(mk.clone()), identity, counter, nonce_s)
}

/// n*SRES, the `extra` of the EAP-Response/SIM/Challenge AT_MAC (RFC 4186
/// §9.4): the SRES values in AT_RAND order, concatenated.
pub fn n_sres(sres: &[Sres]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(4 * sres.len()));
    for s in sres {
        out.extend_from_slice(s.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aka::keys::Method;

    fn kcs() -> [Kc; 3] {
        [Kc::new([1; 8]), Kc::new([2; 8]), Kc::new([3; 8])]
    }

    #[test]
    fn master_key_is_sha1_of_the_concatenation() {
        let nonce = [7u8; 16];
        let mk = master_key(b"1id", &kcs(), &nonce, &[1, 2], 1);
        let mut input = b"1id".to_vec();
        input.extend([1; 8]);
        input.extend([2; 8]);
        input.extend([3; 8]);
        input.extend(nonce);
        input.extend([0, 1, 0, 2, 0, 1]);
        let want: [u8; 20] = Sha1::digest(&input).into();
        assert_eq!(mk.expose(), &want);
        // every input matters, the Kc order too
        assert_ne!(mk, master_key(b"1ie", &kcs(), &nonce, &[1, 2], 1));
        let k = kcs();
        let swapped = [k[1].clone(), k[0].clone(), k[2].clone()];
        assert_ne!(mk, master_key(b"1id", &swapped, &nonce, &[1, 2], 1));
        assert_ne!(mk, master_key(b"1id", &kcs(), &[8; 16], &[1, 2], 1));
        assert_ne!(mk, master_key(b"1id", &kcs(), &nonce, &[1], 1));
        assert_ne!(mk, master_key(b"1id", &kcs(), &nonce, &[1, 2], 2));
    }

    #[test]
    fn keys_and_reauth_follow_the_aka_hierarchy() {
        let nonce = [7u8; 16];
        let k = derive_keys(b"1id", &kcs(), &nonce, &[1], 1);
        let mk = master_key(b"1id", &kcs(), &nonce, &[1], 1);
        assert_eq!(k, derive_aka_from_mk(&mk));
        assert_eq!(k.k_aut.expose().len(), 16);
        assert_eq!(k.method(), Method::Aka);
        let r = derive_reauth_keys(&mk, b"reauth@x", 3, &[5; 16]);
        assert_eq!(r, derive_reauth(&k.reauth, b"reauth@x", 3, &[5; 16]));
        assert_ne!(r.msk, k.msk);
    }

    #[test]
    fn n_sres_concatenates_in_order() {
        let s = [Sres([1, 2, 3, 4]), Sres([5, 6, 7, 8])];
        assert_eq!(&n_sres(&s)[..], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(n_sres(&[]).is_empty());
    }
}
