//! Stateless identities: a pseudonym or fast re-authentication identity is
//! the data the server needs, encrypted and authenticated under a
//! [`KeySet`] key (in the spirit of the encrypted temporary identities of
//! 3GPP TS 33.234 §6.1.1 / TS 23.003 §19.3).
//!
//! User part = prefix digit ‖ base64url-no-pad( key index (1) ‖ IV (16) ‖
//! AES-128-CBC(enc subkey, IV, payload ‖ PKCS#7 padding) ‖
//! HMAC-SHA-256(mac subkey, prefix ‖ key index ‖ IV ‖ ciphertext)[..16] ).
//! Encrypt-then-MAC: the tag is checked (constant time) before anything is
//! decrypted, so padding is never an oracle. The prefix digit is bound into
//! the tag, so a pseudonym cannot be replayed as a re-auth identity.
//!
//! Prefixes (RFC 4187 §4.1.1.7, RFC 9048 §3, TS 23.003 §19.3): `2` EAP-AKA
//! pseudonym, `7` EAP-AKA' pseudonym, `4` EAP-AKA re-auth id, `8` EAP-AKA'
//! re-auth id.

use super::keys::{KeySet, PrivacyKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use eap::aka::encr;
use eap::aka::message::IdReq;
use eap::secret::KEncr;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Length of the truncated HMAC-SHA-256 tag.
pub const TAG_LEN: usize = 16;
/// Length of the CBC IV.
pub const IV_LEN: usize = 16;
/// Overhead of a sealed identity before base64: key index, IV, tag.
pub const OVERHEAD: usize = 1 + IV_LEN + TAG_LEN;

/// Why a received pseudonym or re-auth identity does not resolve. None of
/// these is an authentication failure: the server asks for another identity
/// ([`Unresolved::id_req`]) and runs a full authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Unresolved {
    /// The user part does not start with the expected prefix digit.
    #[error("identity does not start with the expected prefix")]
    WrongPrefix,
    /// The rest is not base64url, or too short to hold a sealed value.
    #[error("identity is not a sealed value")]
    BadEncoding,
    /// Sealed under a key index this node does not accept (unknown or retired).
    #[error("identity sealed under unknown or retired key {0}")]
    UnknownKey(u8),
    /// The tag does not verify (forged, corrupted, or another key with that index).
    #[error("identity tag does not verify")]
    BadTag,
    /// Authentic but the content is not what this version writes.
    #[error("identity content malformed")]
    Malformed,
    /// An authentic re-authentication identity past its expiry.
    #[error("re-authentication identity expired")]
    Expired,
    /// The identity is not a NAI (no user part, bad UTF-8).
    #[error("identity is not a NAI")]
    NotNai,
}

/// What kind of temporary identity, for choosing the identity request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemporaryKind {
    /// A pseudonym: on failure ask for the permanent identity.
    Pseudonym,
    /// A fast re-auth identity: on failure ask for a full-auth identity.
    Reauth,
}

impl TemporaryKind {
    /// The AKA-Identity request to send when such an identity does not
    /// resolve (RFC 4187 §4.1.5 / §4.1.6): AT_PERMANENT_ID_REQ after an
    /// unknown pseudonym, AT_FULLAUTH_ID_REQ after an unknown re-auth id.
    pub fn fallback_id_req(self) -> IdReq {
        match self {
            TemporaryKind::Pseudonym => IdReq::Permanent,
            TemporaryKind::Reauth => IdReq::Fullauth,
        }
    }
}

fn tag(key: &PrivacyKey, prefix: u8, idx: u8, iv: &[u8], ct: &[u8]) -> Hmac<Sha256> {
    let mut m = match <Hmac<Sha256> as KeyInit>::new_from_slice(key.mac_key()) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    m.update(&[prefix, idx]);
    m.update(iv);
    m.update(ct);
    m
}

/// Length of the base64url text for `payload_len` bytes of payload.
pub fn sealed_text_len(payload_len: usize) -> usize {
    let raw = OVERHEAD + (payload_len / 16 + 1) * 16;
    1 + (4 * raw).div_ceil(3)
}

/// Seals `payload` under the current key: returns the user part
/// (`prefix` digit + base64url text).
pub fn seal(keys: &KeySet, prefix: u8, payload: &[u8], iv: [u8; IV_LEN]) -> String {
    let key = keys.current();
    let pad = 16 - payload.len() % 16;
    let mut buf = Zeroizing::new(Vec::with_capacity(payload.len() + pad));
    buf.extend_from_slice(payload);
    buf.resize(payload.len() + pad, u8::try_from(pad).unwrap_or(16));
    let enc = KEncr::new(*key.enc_key());
    // The buffer is a non-empty multiple of 16, so encryption cannot fail.
    let _ = encr::encrypt_in_place(&enc, &iv, &mut buf);
    let mut out = Vec::with_capacity(OVERHEAD + buf.len());
    out.push(key.index());
    out.extend_from_slice(&iv);
    out.extend_from_slice(&buf);
    let t = tag(key, prefix, key.index(), &iv, &buf)
        .finalize()
        .into_bytes();
    out.extend_from_slice(&t[..TAG_LEN]);
    let mut s = String::with_capacity(1 + out.len().div_ceil(3) * 4);
    s.push(char::from(prefix));
    URL_SAFE_NO_PAD.encode_string(&out, &mut s);
    s
}

/// Opens a user part sealed by [`seal`] with `prefix`; returns the payload.
///
/// # Errors
/// [`Unresolved`] (never a panic, whatever the input).
pub fn open(keys: &KeySet, prefix: u8, user: &str) -> Result<Zeroizing<Vec<u8>>, Unresolved> {
    let rest = user
        .strip_prefix(char::from(prefix))
        .ok_or(Unresolved::WrongPrefix)?;
    // Longest legal identity is 253 bytes; refuse anything larger before decoding.
    if rest.len() > 512 {
        return Err(Unresolved::BadEncoding);
    }
    let raw = URL_SAFE_NO_PAD
        .decode(rest)
        .map_err(|_| Unresolved::BadEncoding)?;
    if raw.len() < OVERHEAD + 16 || !(raw.len() - OVERHEAD).is_multiple_of(16) {
        return Err(Unresolved::BadEncoding);
    }
    let idx = raw[0];
    let key = keys.get(idx).ok_or(Unresolved::UnknownKey(idx))?;
    let (iv, rest) = raw[1..].split_at(IV_LEN);
    let (ct, received) = rest.split_at(rest.len() - TAG_LEN);
    tag(key, prefix, idx, iv, ct)
        .verify_truncated_left(received)
        .map_err(|_| Unresolved::BadTag)?;
    let iv: [u8; IV_LEN] = iv.try_into().map_err(|_| Unresolved::BadEncoding)?;
    let enc = KEncr::new(*key.enc_key());
    let mut pt = encr::decrypt(&enc, &iv, ct).map_err(|_| Unresolved::Malformed)?;
    let pad = usize::from(*pt.last().ok_or(Unresolved::Malformed)?);
    if pad == 0
        || pad > 16
        || pad > pt.len()
        || pt[pt.len() - pad..].iter().any(|&b| usize::from(b) != pad)
    {
        return Err(Unresolved::Malformed);
    }
    let n = pt.len() - pad;
    pt.truncate(n);
    Ok(pt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(i: u8) -> KeySet {
        KeySet::new(PrivacyKey::new(i, [i; 32]), vec![]).unwrap()
    }

    #[test]
    fn round_trip_and_length() {
        let k = set(1);
        for n in [0usize, 1, 15, 16, 17, 100] {
            let p: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let s = seal(&k, b'7', &p, [9; 16]);
            assert_eq!(s.len(), sealed_text_len(n), "n={n}");
            assert!(s.starts_with('7'));
            assert!(
                s[1..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(&open(&k, b'7', &s).unwrap()[..], &p[..]);
        }
    }

    #[test]
    fn every_failure_is_typed() {
        let k = set(1);
        let s = seal(&k, b'2', b"0234150999999999", [3; 16]);
        assert_eq!(open(&k, b'4', &s), Err(Unresolved::WrongPrefix));
        assert_eq!(open(&k, b'2', "2!!!"), Err(Unresolved::BadEncoding));
        assert_eq!(open(&k, b'2', "2AAAA"), Err(Unresolved::BadEncoding));
        assert_eq!(open(&set(2), b'2', &s), Err(Unresolved::UnknownKey(1)));
        // Same index, different secret: the tag fails.
        let other = KeySet::new(PrivacyKey::new(1, [7; 32]), vec![]).unwrap();
        assert_eq!(open(&other, b'2', &s), Err(Unresolved::BadTag));
        // The prefix is authenticated: relabelling a pseudonym as a re-auth id fails.
        let relabelled = format!("4{}", &s[1..]);
        assert_eq!(open(&k, b'4', &relabelled), Err(Unresolved::BadTag));
        // Every single-character change is rejected.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in 1..s.len() {
            let mut b = s.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let t = String::from_utf8(b).unwrap();
            if t != s {
                assert!(open(&k, b'2', &t).is_err(), "position {i}");
            }
            let _ = alphabet;
        }
    }

    #[test]
    fn older_key_still_opens_retired_does_not() {
        let old = PrivacyKey::new(1, [1; 32]);
        let s = seal(
            &KeySet::new(old.clone(), vec![]).unwrap(),
            b'8',
            b"x",
            [0; 16],
        );
        let rotated = KeySet::new(PrivacyKey::new(2, [2; 32]), vec![old]).unwrap();
        assert_eq!(&open(&rotated, b'8', &s).unwrap()[..], b"x");
        let retired = KeySet::new(PrivacyKey::new(2, [2; 32]), vec![]).unwrap();
        assert_eq!(open(&retired, b'8', &s), Err(Unresolved::UnknownKey(1)));
    }

    #[test]
    fn fallback_requests() {
        assert_eq!(TemporaryKind::Pseudonym.fallback_id_req(), IdReq::Permanent);
        assert_eq!(TemporaryKind::Reauth.fallback_id_req(), IdReq::Fullauth);
    }

    proptest! {
        #[test]
        fn open_never_panics(s in "\\PC{0,300}") {
            let k = set(1);
            let _ = open(&k, b'2', &s);
        }

        #[test]
        fn open_random_base64_never_resolves(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let k = set(1);
            let s = format!("2{}", URL_SAFE_NO_PAD.encode(&bytes));
            prop_assert!(open(&k, b'2', &s).is_err());
        }
    }
}
