//! Chargeable-User-Identity (RFC 4372) as a home server: when the NAS asks
//! for a CUI (the attribute with a single NUL octet, RFC 4372 §2.1, or
//! empty, or carrying a CUI it had before), the Access-Accept carries one
//! derived from the subscriber and the requesting operator:
//!
//! `CUI = hex(HMAC-SHA-256(key, IMSI ‖ 0x00 ‖ operator)[..16])`
//!
//! where `operator` is the request's Operator-Name (RFC 5580 §4.1, as sent)
//! or, when absent, the RADIUS client's configured name. The same subscriber
//! seen through the same operator always gets the same CUI (stable, no
//! state kept: a stateless keyed hash); two operators get unrelated values
//! (unlinkable without the key); the key is `[cui] key_file` (mode 0600).
//! No CUI without a request for one, nor without `[cui]`.

use crate::config::ConfigError;
use crate::input::{MAX_KEY_FILE, read_capped};
use crate::radius::wire;
use eap::secret::SecretBytes;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// Chargeable-User-Identity (RFC 4372 §2).
pub const CHARGEABLE_USER_IDENTITY: u8 = 89;
/// Operator-Name (RFC 5580 §4.1).
pub const OPERATOR_NAME: u8 = 126;
/// The key must hold at least this many octets.
pub const MIN_KEY_LEN: usize = 32;
/// Octets of the HMAC kept (hex-encoded: twice as many characters).
pub const CUI_OCTETS: usize = 16;

/// The CUI key (zeroized, never printed).
pub struct CuiKey(SecretBytes);

impl std::fmt::Debug for CuiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CuiKey(<hidden>)")
    }
}

impl CuiKey {
    /// A key from its octets (at least [`MIN_KEY_LEN`]).
    pub fn new(bytes: Vec<u8>) -> Option<Self> {
        (bytes.len() >= MIN_KEY_LEN).then(|| CuiKey(SecretBytes::new(bytes)))
    }

    /// The CUI of subscriber `imsi` as seen by `operator`.
    pub fn derive(&self, imsi: &str, operator: &[u8]) -> String {
        use hmac::{KeyInit, Mac};
        // HMAC accepts keys of any length.
        let mut m = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(self.0.expose())
            .expect("HMAC takes any key length");
        m.update(imsi.as_bytes());
        m.update(&[0]);
        m.update(operator);
        hex::encode(&m.finalize().into_bytes()[..CUI_OCTETS])
    }
}

/// Whom to derive a CUI for, taken from a request that asks for one: the
/// Operator-Name, or the client's name when the request carries none.
/// `None` when the request carries no Chargeable-User-Identity.
pub fn requested(req: &wire::Request<'_>, client_name: &str) -> Option<Box<[u8]>> {
    req.first(CHARGEABLE_USER_IDENTITY)?;
    Some(
        req.first(OPERATOR_NAME)
            .unwrap_or(client_name.as_bytes())
            .into(),
    )
}

/// `[cui]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCui {
    key_file: Spanned<String>,
}

type Err<'a> = &'a dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError;

/// Reads `[cui] key_file` (relative to the configuration's directory):
/// mode 0600 or stricter, at least [`MIN_KEY_LEN`] octets once trailing
/// whitespace (a final newline) is removed.
pub(crate) fn parse(raw: &RawCui, path: &Path, err: Err<'_>) -> Result<CuiKey, ConfigError> {
    use std::os::unix::fs::PermissionsExt;
    let p = std::path::PathBuf::from(raw.key_file.get_ref());
    let file = match (p.is_relative(), path.parent()) {
        (true, Some(dir)) => dir.join(p),
        _ => p,
    };
    let fail = |m: String| err(raw.key_file.span(), "cui.key_file", m);
    let mode = std::fs::metadata(&file)
        .map_err(|e| {
            fail(format!(
                "{}: {}",
                file.display(),
                crate::input::os_message(&e)
            ))
        })?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(fail(format!(
            "{}: readable by group/others (mode {mode:03o}); run chmod 600 {}",
            file.display(),
            file.display()
        )));
    }
    let mut bytes = read_capped(&file, MAX_KEY_FILE).map_err(|e| fail(e.to_string()))?;
    while bytes.last().is_some_and(u8::is_ascii_whitespace) {
        bytes.pop();
    }
    CuiKey::new(bytes).ok_or_else(|| {
        fail(format!(
            "{}: the key must have at least {MIN_KEY_LEN} octets (openssl rand -hex 32 > {})",
            file.display(),
            file.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CuiKey {
        CuiKey::new(vec![b; 32]).unwrap()
    }

    #[test]
    fn stable_per_subscriber_and_operator_unlinkable_across_operators() {
        let k = key(1);
        let a = k.derive("001010000000001", b"1visited.example");
        assert_eq!(a, k.derive("001010000000001", b"1visited.example"));
        assert_eq!(a.len(), 2 * CUI_OCTETS);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, k.derive("001010000000001", b"1other.example"));
        assert_ne!(a, k.derive("001010000000002", b"1visited.example"));
        assert_ne!(a, key(2).derive("001010000000001", b"1visited.example"));
        // The separator keeps (IMSI, operator) pairs apart.
        assert_ne!(k.derive("00101", b"1x"), k.derive("001011", b"x"));
    }

    #[test]
    fn known_value() {
        // HMAC-SHA-256 with key 32 × 0x01 over "001010000000001\0" "1visited.example",
        // computed with `openssl dgst -sha256 -mac HMAC -macopt hexkey:0101…`.
        let k = key(1);
        assert_eq!(
            k.derive("001010000000001", b"1visited.example"),
            "268ff90c166b089f9f0a5bccbe0d40da"
        );
    }

    #[test]
    fn short_keys_are_refused_and_the_key_is_not_printed() {
        assert!(CuiKey::new(vec![0; 31]).is_none());
        assert_eq!(format!("{:?}", key(7)), "CuiKey(<hidden>)");
    }

    fn request(attrs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut p = vec![1, 1, 0, 0];
        p.extend_from_slice(&[0; 16]);
        for (t, v) in attrs {
            p.push(*t);
            p.push(v.len() as u8 + 2);
            p.extend_from_slice(v);
        }
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        p
    }

    #[test]
    fn a_request_asks_with_a_nul_or_empty_cui() {
        let r = request(&[(1, b"u@x"), (89, &[0])]);
        let v = wire::Request::new_checked(&r).unwrap();
        assert_eq!(requested(&v, "nas-1").as_deref(), Some(&b"nas-1"[..]));
        let r = request(&[(89, &[]), (126, b"1op.example")]);
        let v = wire::Request::new_checked(&r).unwrap();
        assert_eq!(requested(&v, "nas-1").as_deref(), Some(&b"1op.example"[..]));
        let r = request(&[(1, b"u@x"), (126, b"1op.example")]);
        let v = wire::Request::new_checked(&r).unwrap();
        assert_eq!(requested(&v, "nas-1"), None, "not asked");
    }
}
