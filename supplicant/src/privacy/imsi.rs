//! IMSI privacy on the peer: the permanent identity encrypted under the
//! operator's RSA public key, exactly as wpa_supplicant's `imsi_privacy_cert`
//! / `imsi_privacy_attr` produce it (hostap `eap_aka_encrypt_identity`,
//! 2022+; not in Debian's 2.10):
//!
//! identity = `0x00` ‖ base64(RSA-OAEP(SHA-256, MGF1-SHA-256, empty label,
//! permanent NAI)) [ ‖ `,` ‖ attribute ].
//!
//! Send it instead of the permanent NAI (EAP-Response/Identity or
//! AT_IDENTITY), but derive MK with the plain permanent NAI: the server
//! decrypts and uses that (hostapd replaces the identity with the decrypted
//! one). OAEP is randomised: every encryption differs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::md::Md;
use openssl::pkey::{PKey, Public};
use openssl::pkey_ctx::PkeyCtx;
use openssl::rsa::Padding;
use openssl::x509::X509;
use std::path::Path;

/// An operator certificate problem.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The file cannot be read, or is too large.
    #[error(transparent)]
    Read(#[from] crate::input::InputError),
    /// Not a PEM X.509 certificate with an RSA key.
    #[error("not a PEM X.509 certificate with an RSA public key")]
    NotRsaCertificate,
    /// The certificate's validity period has ended.
    #[error("IMSI privacy certificate expired (notAfter {0}); refusing to use it")]
    Expired(String),
    /// The certificate's validity period has not started.
    #[error("IMSI privacy certificate not yet valid (notBefore {0})")]
    NotYetValid(String),
    /// The identity does not fit one RSA-OAEP block, or OpenSSL failed.
    #[error("identity cannot be encrypted with this key")]
    Encrypt,
}

/// The operator's IMSI-privacy certificate (RSA public key).
pub struct OperatorCert {
    key: PKey<Public>,
    not_after: String,
}

impl core::fmt::Debug for OperatorCert {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "OperatorCert(RSA-{}, notAfter {})",
            self.key.bits(),
            self.not_after
        )
    }
}

impl OperatorCert {
    /// Parses a PEM certificate and checks it is valid at `now` (unix seconds).
    ///
    /// # Errors
    /// [`CertError::NotRsaCertificate`], [`CertError::Expired`],
    /// [`CertError::NotYetValid`].
    pub fn from_pem(pem: &[u8], now: i64) -> Result<Self, CertError> {
        let cert = X509::from_pem(pem).map_err(|_| CertError::NotRsaCertificate)?;
        let key = cert
            .public_key()
            .map_err(|_| CertError::NotRsaCertificate)?;
        if key.rsa().is_err() {
            return Err(CertError::NotRsaCertificate);
        }
        let t = Asn1Time::from_unix(now).map_err(|_| CertError::NotRsaCertificate)?;
        if cert.not_after() < t {
            return Err(CertError::Expired(cert.not_after().to_string()));
        }
        if cert.not_before() > t {
            return Err(CertError::NotYetValid(cert.not_before().to_string()));
        }
        Ok(Self {
            key,
            not_after: cert.not_after().to_string(),
        })
    }

    /// [`OperatorCert::from_pem`] from a file.
    ///
    /// # Errors
    /// [`CertError::Read`] and the errors of [`OperatorCert::from_pem`].
    pub fn load_pem(path: &Path, now: i64) -> Result<Self, CertError> {
        let pem = crate::input::read_capped(path, crate::input::CERT_FILE)?;
        Self::from_pem(&pem, now)
    }

    /// The encrypted identity for `permanent_nai`, with the optional key
    /// identifier attribute (`imsi_privacy_attr`).
    ///
    /// # Errors
    /// [`CertError::Encrypt`].
    pub fn encrypt_identity(
        &self,
        permanent_nai: &str,
        attr: Option<&str>,
    ) -> Result<Vec<u8>, CertError> {
        let run = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
            let mut ctx = PkeyCtx::new(&self.key)?;
            ctx.encrypt_init()?;
            ctx.set_rsa_padding(Padding::PKCS1_OAEP)?;
            ctx.set_rsa_oaep_md(Md::sha256())?;
            ctx.set_rsa_mgf1_md(Md::sha256())?;
            let mut out = Vec::new();
            ctx.encrypt_to_vec(permanent_nai.as_bytes(), &mut out)?;
            Ok(out)
        };
        let ct = run().map_err(|_| CertError::Encrypt)?;
        let mut id = vec![0u8];
        id.extend_from_slice(STANDARD.encode(&ct).as_bytes());
        if let Some(a) = attr {
            id.push(b',');
            id.extend_from_slice(a.as_bytes());
        }
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use openssl::bn::BigNum;
    use openssl::hash::MessageDigest;
    use openssl::rsa::Rsa;
    use openssl::x509::X509NameBuilder;

    /// A self-signed certificate valid from `from` to `to` (unix seconds) and its private key.
    pub(crate) fn cert(from: i64, to: i64) -> (Vec<u8>, PKey<openssl::pkey::Private>) {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "imsi-privacy").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(from).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(to).unwrap()).unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build().to_pem().unwrap(), key)
    }

    #[test]
    fn encrypts_what_the_private_key_decrypts() {
        let (pem, key) = cert(1_000, 2_000_000_000);
        let c = OperatorCert::from_pem(&pem, 1_700_000_000).unwrap();
        let nai = "0234150999999999@wlan.mnc015.mcc234.3gppnetwork.org";
        let id = c
            .encrypt_identity(nai, Some("CertificateSerialNumber=1"))
            .unwrap();
        assert_eq!(id[0], 0);
        let s = std::str::from_utf8(&id[1..]).unwrap();
        let (b64, attr) = s.split_once(',').unwrap();
        assert_eq!(attr, "CertificateSerialNumber=1");
        let ct = STANDARD.decode(b64).unwrap();
        assert_eq!(ct.len(), 256);
        let mut ctx = PkeyCtx::new(&key).unwrap();
        ctx.decrypt_init().unwrap();
        ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
        ctx.set_rsa_oaep_md(Md::sha256()).unwrap();
        ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
        let mut out = Vec::new();
        ctx.decrypt_to_vec(&ct, &mut out).unwrap();
        assert_eq!(out, nai.as_bytes());
        // Randomised: two encryptions differ.
        assert_ne!(
            c.encrypt_identity(nai, None).unwrap(),
            c.encrypt_identity(nai, None).unwrap()
        );
        // Too long for one OAEP block (2048-bit: at most 190 bytes).
        assert!(matches!(
            c.encrypt_identity(&"9".repeat(191), None),
            Err(CertError::Encrypt)
        ));
    }

    #[test]
    fn refuses_expired_not_yet_valid_and_garbage() {
        let (pem, _) = cert(1_000, 2_000);
        assert!(matches!(
            OperatorCert::from_pem(&pem, 3_000),
            Err(CertError::Expired(_))
        ));
        assert!(matches!(
            OperatorCert::from_pem(&pem, 500),
            Err(CertError::NotYetValid(_))
        ));
        assert!(OperatorCert::from_pem(&pem, 1_500).is_ok());
        assert!(matches!(
            OperatorCert::from_pem(b"junk", 0),
            Err(CertError::NotRsaCertificate)
        ));
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            OperatorCert::load_pem(&dir.path().join("none"), 0),
            Err(CertError::Read(_))
        ));
        // A certificate file is read no further than 64 KiB.
        let big = dir.path().join("big.pem");
        std::fs::write(&big, vec![b'A'; 70_000]).unwrap();
        let e = OperatorCert::load_pem(&big, 0).unwrap_err().to_string();
        assert!(
            e.contains("big.pem:0: the IMSI privacy certificate is larger than 65536 bytes"),
            "{e}"
        );
    }
}
