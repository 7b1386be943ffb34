//! IMSI privacy: the permanent identity encrypted under the operator's RSA
//! public key, as wpa_supplicant's `imsi_privacy_cert` sends it and hostapd's
//! `imsi_privacy_key` decrypts it (hostap `eap_aka_encrypt_identity` /
//! `eap_aka_determine_identity`, 2022+; not in 2.10):
//!
//! identity = `0x00` ‖ base64(RSA-OAEP(SHA-256, MGF1-SHA-256, empty label,
//! permanent NAI)) [ ‖ `,` ‖ key-identifier attribute (`imsi_privacy_attr`,
//! e.g. `CertificateSerialNumber=…`) ].
//!
//! The decrypted value is the whole permanent NAI (`0<IMSI>@realm`); hostapd
//! replaces the EAP identity with it, so it is also the identity for MK
//! derivation (RFC 4187 §7) on both sides — the peer derives with its
//! configured, unencrypted identity.
//!
//! Decryption goes through OpenSSL (constant-time RSA; the `rsa` crate is not
//! used because of RUSTSEC-2023-0071). A decryption failure is reported as one
//! error whatever its cause (no padding oracle).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use eap::identity::{IdentityKind, Nai};
use openssl::md::Md;
use openssl::pkey::{PKey, Private};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// IMSI privacy key or identity problem.
#[derive(Debug, thiserror::Error)]
pub enum ImsiPrivacyError {
    /// The key file cannot be read.
    #[error("{path}: {err}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// The key file is readable by group or others.
    #[error("{path}: mode {mode:04o} gives the private key to group/others; chmod 600 it")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Too large to be a key file.
    #[error("{0}")]
    Input(crate::input::InputError),
    /// Not a PEM RSA private key.
    #[error("{0}: not a PEM RSA private key")]
    NotRsaKey(String),
    /// The identity does not start with the NUL byte of an encrypted identity.
    #[error("identity is not an encrypted identity (no leading NUL)")]
    NotEncrypted,
    /// Bad base64, wrong length, or decryption failed (one error on purpose).
    #[error("encrypted identity does not decrypt")]
    Decrypt,
    /// It decrypted, but to something other than a permanent NAI.
    #[error("encrypted identity does not hold a permanent identity")]
    NotPermanent,
}

/// True for an identity in the encrypted-IMSI form (first byte NUL).
pub fn is_encrypted_identity(identity: &[u8]) -> bool {
    identity.first() == Some(&0)
}

/// The result of decrypting an encrypted identity.
#[derive(Clone, PartialEq, Eq)]
pub struct DecryptedIdentity {
    /// The permanent NAI (`0<IMSI>@realm` or `6<IMSI>@realm`).
    pub identity: String,
    /// The key-identifier attribute after `,`, if the peer sent one.
    pub key_identifier: Option<String>,
}

impl core::fmt::Debug for DecryptedIdentity {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptedIdentity")
            .field(
                "identity",
                &eap::identity::mask_identity(self.identity.as_bytes()),
            )
            .field("key_identifier", &self.key_identifier)
            .finish()
    }
}

/// The operator's RSA private key (`[privacy] imsi_privacy_key`).
pub struct ImsiPrivacyKey {
    key: PKey<Private>,
}

impl core::fmt::Debug for ImsiPrivacyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ImsiPrivacyKey(RSA-{}, <redacted>)", self.key.bits())
    }
}

impl ImsiPrivacyKey {
    /// Loads a PEM RSA private key (PKCS#1 or PKCS#8) from `path`, refusing a
    /// file that group or others may read (mode must be 0600 or stricter).
    ///
    /// # Errors
    /// [`ImsiPrivacyError::Read`], [`ImsiPrivacyError::Permissions`],
    /// [`ImsiPrivacyError::NotRsaKey`].
    pub fn load_pem(path: &Path) -> Result<Self, ImsiPrivacyError> {
        use std::os::unix::fs::PermissionsExt;
        let read_err = |err| ImsiPrivacyError::Read {
            path: path.to_owned(),
            err,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(ImsiPrivacyError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        let pem = Zeroizing::new(
            crate::input::read_capped(path, crate::input::MAX_KEY_FILE).map_err(|e| match e {
                crate::input::InputError::Read { err, .. } => read_err(err),
                e => ImsiPrivacyError::Input(e),
            })?,
        );
        Self::from_pem(&pem).map_err(|_| ImsiPrivacyError::NotRsaKey(path.display().to_string()))
    }

    /// Parses a PEM RSA private key.
    ///
    /// # Errors
    /// [`ImsiPrivacyError::NotRsaKey`].
    pub fn from_pem(pem: &[u8]) -> Result<Self, ImsiPrivacyError> {
        let key = PKey::private_key_from_pem(pem)
            .map_err(|_| ImsiPrivacyError::NotRsaKey("key".into()))?;
        if key.rsa().is_err() {
            return Err(ImsiPrivacyError::NotRsaKey("key".into()));
        }
        Ok(Self { key })
    }

    /// RSA-OAEP-SHA-256 decryption of raw ciphertext.
    fn decrypt_raw(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, ImsiPrivacyError> {
        let run = || -> Result<Zeroizing<Vec<u8>>, openssl::error::ErrorStack> {
            let mut ctx = PkeyCtx::new(&self.key)?;
            ctx.decrypt_init()?;
            ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
            ctx.set_rsa_oaep_md(Md::sha256())?;
            ctx.set_rsa_mgf1_md(Md::sha256())?;
            let mut out = Zeroizing::new(Vec::new());
            ctx.decrypt_to_vec(ct, &mut out)?;
            Ok(out)
        };
        run().map_err(|_| ImsiPrivacyError::Decrypt)
    }

    /// Decrypts an encrypted identity (NUL ‖ base64 [‖ `,` attribute]).
    ///
    /// # Errors
    /// [`ImsiPrivacyError::NotEncrypted`], [`ImsiPrivacyError::Decrypt`],
    /// [`ImsiPrivacyError::NotPermanent`]. hostapd answers all of them with a
    /// failure notification; the peer will not send anything else.
    pub fn decrypt_identity(&self, identity: &[u8]) -> Result<DecryptedIdentity, ImsiPrivacyError> {
        let rest = identity
            .strip_prefix(&[0])
            .ok_or(ImsiPrivacyError::NotEncrypted)?;
        let (b64, attr) = match rest.iter().position(|&b| b == b',') {
            Some(i) => (&rest[..i], Some(&rest[i + 1..])),
            None => (rest, None),
        };
        // A 4096-bit key gives 684 base64 characters; refuse anything much larger.
        if b64.len() > 2048 {
            return Err(ImsiPrivacyError::Decrypt);
        }
        let ct = STANDARD
            .decode(b64)
            .map_err(|_| ImsiPrivacyError::Decrypt)?;
        let pt = self.decrypt_raw(&ct)?;
        let s = std::str::from_utf8(&pt).map_err(|_| ImsiPrivacyError::NotPermanent)?;
        let nai = Nai::parse_str(s).map_err(|_| ImsiPrivacyError::NotPermanent)?;
        if !matches!(nai.kind(), IdentityKind::Permanent(_)) || !matches!(nai.imsi(), Ok(Some(_))) {
            return Err(ImsiPrivacyError::NotPermanent);
        }
        let key_identifier = match attr {
            Some(a) => Some(
                std::str::from_utf8(a)
                    .map_err(|_| ImsiPrivacyError::Decrypt)?
                    .to_owned(),
            ),
            None => None,
        };
        Ok(DecryptedIdentity {
            identity: s.to_owned(),
            key_identifier,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::rsa::Rsa;

    fn key_pair() -> (ImsiPrivacyKey, PKey<openssl::pkey::Public>) {
        let rsa = Rsa::generate(2048).unwrap();
        let pem = rsa.private_key_to_pem().unwrap();
        let public = PKey::public_key_from_pem(&rsa.public_key_to_pem().unwrap()).unwrap();
        (ImsiPrivacyKey::from_pem(&pem).unwrap(), public)
    }

    fn encrypt(public: &PKey<openssl::pkey::Public>, pt: &[u8]) -> Vec<u8> {
        let mut ctx = PkeyCtx::new(public).unwrap();
        ctx.encrypt_init().unwrap();
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        ctx.set_rsa_oaep_md(Md::sha256()).unwrap();
        ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
        let mut out = Vec::new();
        ctx.encrypt_to_vec(pt, &mut out).unwrap();
        out
    }

    #[test]
    fn decrypts_with_and_without_attribute_and_rejects_garbage() {
        let (k, public) = key_pair();
        let nai = "0234150999999999@wlan.mnc015.mcc234.3gppnetwork.org";
        let ct = STANDARD.encode(encrypt(&public, nai.as_bytes()));
        let mut id = vec![0u8];
        id.extend_from_slice(ct.as_bytes());
        let d = k.decrypt_identity(&id).unwrap();
        assert_eq!(d.identity, nai);
        assert_eq!(d.key_identifier, None);
        assert!(!format!("{d:?}").contains("150999999999"));
        let mut with_attr = id.clone();
        with_attr.extend_from_slice(b",CertificateSerialNumber=1234");
        assert_eq!(
            k.decrypt_identity(&with_attr)
                .unwrap()
                .key_identifier
                .as_deref(),
            Some("CertificateSerialNumber=1234")
        );
        assert!(matches!(
            k.decrypt_identity(&id[1..]),
            Err(ImsiPrivacyError::NotEncrypted)
        ));
        assert!(matches!(
            k.decrypt_identity(b"\0!!!"),
            Err(ImsiPrivacyError::Decrypt)
        ));
        let mut flipped = STANDARD.decode(ct.as_bytes()).unwrap();
        flipped[10] ^= 1;
        let mut bad = vec![0u8];
        bad.extend_from_slice(STANDARD.encode(&flipped).as_bytes());
        assert!(matches!(
            k.decrypt_identity(&bad),
            Err(ImsiPrivacyError::Decrypt)
        ));
        let pseud = STANDARD.encode(encrypt(&public, b"2pseudonym@realm"));
        let mut p = vec![0u8];
        p.extend_from_slice(pseud.as_bytes());
        assert!(matches!(
            k.decrypt_identity(&p),
            Err(ImsiPrivacyError::NotPermanent)
        ));
        assert!(is_encrypted_identity(&id));
        assert!(!is_encrypted_identity(b"0234"));
        assert!(!is_encrypted_identity(b""));
    }

    #[test]
    fn load_pem_checks_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("imsi.key");
        let rsa = Rsa::generate(2048).unwrap();
        std::fs::write(&path, rsa.private_key_to_pem().unwrap()).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = ImsiPrivacyKey::load_pem(&path).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let k = ImsiPrivacyKey::load_pem(&path).unwrap();
        assert_eq!(format!("{k:?}"), "ImsiPrivacyKey(RSA-2048, <redacted>)");
        std::fs::write(&path, b"not a key").unwrap();
        assert!(matches!(
            ImsiPrivacyKey::load_pem(&path),
            Err(ImsiPrivacyError::NotRsaKey(_))
        ));
        assert!(matches!(
            ImsiPrivacyKey::load_pem(&dir.path().join("missing")),
            Err(ImsiPrivacyError::Read { .. })
        ));
    }
}
