//! The TLS side of RadSec (RFC 6614 §2.3): the server certificate, the CA
//! client certificates must chain to (mutual authentication, TLS 1.2 and
//! 1.3, rustls with the ring provider), and which `[[radsec.client]]` a
//! verified certificate is (its DNS subjectAltNames against the patterns).

use super::config::{RadsecClient, RadsecConfig};
use crate::input::{InputError, MAX_KEY_FILE, read_capped};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the RadSec TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A file could not be read.
    #[error("radsec: {0}")]
    Read(#[from] InputError),
    /// The private key file is readable by group or others.
    #[error(
        "radsec.private_key: {}: readable by group/others (mode {mode:03o}); run chmod 600 {}",
        path.display(),
        path.display()
    )]
    KeyPermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file holds no usable PEM object of the expected kind.
    #[error("{key}: {}: {what}", path.display())]
    Pem {
        /// The configuration key naming the file.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        what: String,
    },
    /// rustls refused the certificate, key or CA set (a key not matching the leaf…).
    #[error("radsec: {0}")]
    Tls(#[from] rustls::Error),
    /// The client-certificate verifier could not be built (an empty CA file…).
    #[error("radsec.ca: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
}

fn pem_err(key: &'static str, path: &Path, what: impl ToString) -> TlsSetupError {
    TlsSetupError::Pem {
        key,
        path: path.to_path_buf(),
        what: what.to_string(),
    }
}

fn certificates(
    key: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let bytes = read_capped(path, MAX_KEY_FILE)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_err(key, path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(pem_err(key, path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|err| InputError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(TlsSetupError::KeyPermissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    let bytes = zeroize::Zeroizing::new(read_capped(path, MAX_KEY_FILE)?);
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
        pem_err(
            "radsec.private_key",
            path,
            format!("no usable private key: {e}"),
        )
    })
}

/// The rustls server configuration for `cfg`: reads and checks every file.
///
/// # Errors
/// A file unreadable or not PEM, the key not 0600 or not the leaf's, no CA.
pub fn server_config(cfg: &RadsecConfig) -> Result<Arc<rustls::ServerConfig>, TlsSetupError> {
    let chain = certificates("radsec.certificate", &cfg.certificate)?;
    let key = private_key(&cfg.private_key)?;
    let mut roots = rustls::RootCertStore::empty();
    for c in certificates("radsec.ca", &cfg.ca)? {
        roots.add(c).map_err(|e| {
            pem_err(
                "radsec.ca",
                &cfg.ca,
                format!("unusable CA certificate: {e}"),
            )
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)?;
    // SSLKEYLOGFILE, when set, lets tshark decode captures (tests, debugging).
    config.key_log = Arc::new(rustls::KeyLogFile::new());
    // No TLS 1.3 session tickets: RadSec connections are long-lived, and
    // FreeRADIUS 3.2.1 as a RadSec client now and then loses the first
    // request it writes while our NewSessionTickets arrive (seen in a capture
    // by tests/freeradius.rs: logged as sent, never on the wire).
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// The DNS subjectAltNames of a DER certificate (empty when it has none or
/// does not parse: the verifier accepted it, so the latter does not happen).
pub fn dns_names(der: &[u8]) -> Vec<String> {
    let Ok(x) = openssl::x509::X509::from_der(der) else {
        return Vec::new();
    };
    x.subject_alt_names()
        .map(|names| {
            names
                .iter()
                .filter_map(|n| n.dnsname().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the DNS name `name` (from a certificate) matches `pattern`:
/// equal (ASCII case-insensitive), or `*.rest` with `name` one label
/// followed by `.rest`.
pub fn san_matches(pattern: &str, name: &str) -> bool {
    let (pattern, name) = (pattern.to_ascii_lowercase(), name.to_ascii_lowercase());
    if pattern == name {
        return true;
    }
    match (pattern.strip_prefix("*."), name.split_once('.')) {
        (Some(rest), Some((label, name_rest))) => {
            !label.is_empty() && label != "*" && name_rest == rest
        }
        _ => false,
    }
}

/// The first client whose pattern matches one of `names` (or that has no
/// pattern): its index in `clients`.
pub fn identify(clients: &[RadsecClient], names: &[String]) -> Option<usize> {
    clients.iter().position(|c| match &c.subject_alt_name {
        None => true,
        Some(p) => names.iter().any(|n| san_matches(p, n)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(san: Option<&str>) -> RadsecClient {
        RadsecClient {
            name: "c".into(),
            subject_alt_name: san.map(str::to_string),
        }
    }

    #[test]
    fn wildcard_patterns_match_one_label() {
        assert!(san_matches("*.partner-a.example", "nas1.partner-a.example"));
        assert!(san_matches("*.partner-a.example", "NAS1.Partner-A.example"));
        assert!(san_matches("*.partner-a.example", "*.partner-a.example"));
        assert!(!san_matches("*.partner-a.example", "partner-a.example"));
        assert!(!san_matches("*.partner-a.example", "a.b.partner-a.example"));
        assert!(!san_matches("*.partner-a.example", "nas.partner-b.example"));
        assert!(san_matches("nas.example", "nas.example"));
        assert!(!san_matches("nas.example", "x.nas.example"));
    }

    #[test]
    fn first_matching_client_wins() {
        let cs = [client(Some("*.a.example")), client(None)];
        assert_eq!(identify(&cs, &["x.a.example".into()]), Some(0));
        assert_eq!(identify(&cs, &["x.b.example".into()]), Some(1));
        assert_eq!(identify(&cs[..1], &["x.b.example".into()]), None);
        assert_eq!(identify(&cs[..1], &[]), None);
    }
}
