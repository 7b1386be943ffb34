//! `[radsec]` and `[[radsec.client]]`: the RadSec listener (RFC 6614), its
//! certificate files and limits, and the clients allowed in by certificate.

use crate::config::ConfigError;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::Spanned;

/// `[radsec]`: the RadSec (RADIUS over TLS, RFC 6614) listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadsecConfig {
    /// TCP address (default `0.0.0.0:2083`, RFC 6614 §2.1).
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first (resolved against the config file's directory).
    pub certificate: PathBuf,
    /// PEM private key of the leaf; refused unless mode 0600 (or stricter).
    pub private_key: PathBuf,
    /// PEM CA certificates client certificates must chain to.
    pub ca: PathBuf,
    /// Clients, first match wins.
    pub clients: Vec<RadsecClient>,
    /// Limits against floods and slow peers.
    pub limits: Limits,
}

/// `[[radsec.client]]`: who may connect, identified by certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RadsecClient {
    /// A name for logs and accounting records.
    pub name: String,
    /// A DNS subjectAltName pattern (`host.example`, `*.example`: one
    /// leftmost label); `None`: any certificate from `ca`.
    pub subject_alt_name: Option<String>,
}

/// `[radsec]` limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once (TLS handshakes included); more are closed at accept.
    pub max_connections: usize,
    /// Requests of one connection being answered at once; past it the
    /// connection is not read (TCP flow control slows the peer).
    pub max_in_flight: usize,
    /// A connection with no packet for this long is closed.
    pub idle_timeout: Duration,
    /// A TLS handshake not finished in this time is abandoned (slowloris).
    pub handshake_timeout: Duration,
    /// The largest RADIUS packet accepted (RFC 2865 §3: 4096; RFC 7930 allows up to 65535).
    pub max_packet_length: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_in_flight: 64,
            idle_timeout: Duration::from_secs(120),
            handshake_timeout: Duration::from_secs(10),
            max_packet_length: 4096,
        }
    }
}

/// The `[radsec]` table as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRadsec {
    listen: Option<Spanned<String>>,
    certificate: Spanned<String>,
    private_key: Spanned<String>,
    ca: Spanned<String>,
    max_connections: Option<Spanned<u64>>,
    max_in_flight: Option<Spanned<u64>>,
    idle_timeout: Option<Spanned<u64>>,
    handshake_timeout: Option<Spanned<u64>>,
    max_packet_length: Option<Spanned<u64>>,
    #[serde(default)]
    client: Vec<RawRadsecClient>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRadsecClient {
    name: Spanned<String>,
    subject_alt_name: Option<Spanned<String>>,
}

type Err<'a> = &'a dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError;

/// A DNS name pattern: labels of letters, digits and `-`, optionally `*.` first.
fn valid_pattern(p: &str) -> bool {
    let rest = p.strip_prefix("*.").unwrap_or(p);
    !rest.is_empty()
        && rest.len() <= 253
        && rest.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

impl RawRadsec {
    /// Validates `[radsec]`; paths are resolved against `path`'s directory.
    pub(crate) fn parse(&self, path: &Path, err: Err<'_>) -> Result<RadsecConfig, ConfigError> {
        let listen = match &self.listen {
            None => SocketAddr::from(([0, 0, 0, 0], 2083)),
            Some(s) => s.get_ref().parse().map_err(|_| {
                err(
                    s.span(),
                    "radsec.listen",
                    format!(
                        "expected a string \"ip:port\" like \"0.0.0.0:2083\", found \"{}\"",
                        s.get_ref()
                    ),
                )
            })?,
        };
        let file = |s: &Spanned<String>, key: &str| -> Result<PathBuf, ConfigError> {
            if s.get_ref().is_empty() {
                return Err(err(
                    s.span(),
                    key,
                    "must not be empty, expected a path".into(),
                ));
            }
            let p = PathBuf::from(s.get_ref());
            Ok(match (p.is_relative(), path.parent()) {
                (true, Some(dir)) => dir.join(p),
                _ => p,
            })
        };
        let certificate = file(&self.certificate, "radsec.certificate")?;
        let private_key = file(&self.private_key, "radsec.private_key")?;
        let ca = file(&self.ca, "radsec.ca")?;
        let d = Limits::default();
        let range = |v: &Option<Spanned<u64>>,
                     key: &str,
                     lo: u64,
                     hi: u64,
                     default: u64|
         -> Result<u64, ConfigError> {
            match v {
                None => Ok(default),
                Some(s) if (lo..=hi).contains(s.get_ref()) => Ok(*s.get_ref()),
                Some(s) => Err(err(s.span(), key, format!("must be {lo}..={hi}"))),
            }
        };
        let limits = Limits {
            max_connections: range(
                &self.max_connections,
                "radsec.max_connections",
                1,
                1_000_000,
                d.max_connections as u64,
            )? as usize,
            max_in_flight: range(
                &self.max_in_flight,
                "radsec.max_in_flight",
                1,
                256,
                d.max_in_flight as u64,
            )? as usize,
            idle_timeout: Duration::from_secs(range(
                &self.idle_timeout,
                "radsec.idle_timeout",
                1,
                86_400,
                d.idle_timeout.as_secs(),
            )?),
            handshake_timeout: Duration::from_secs(range(
                &self.handshake_timeout,
                "radsec.handshake_timeout",
                1,
                300,
                d.handshake_timeout.as_secs(),
            )?),
            max_packet_length: range(
                &self.max_packet_length,
                "radsec.max_packet_length",
                20,
                65_535,
                d.max_packet_length as u64,
            )? as usize,
        };
        let mut clients = Vec::new();
        for (i, c) in self.client.iter().enumerate() {
            if c.name.get_ref().is_empty() {
                return Err(err(
                    c.name.span(),
                    &format!("radsec.client[{i}].name"),
                    "must not be empty".into(),
                ));
            }
            let san = match &c.subject_alt_name {
                None => None,
                Some(s) if valid_pattern(s.get_ref()) => Some(s.get_ref().to_ascii_lowercase()),
                Some(s) => {
                    return Err(err(
                        s.span(),
                        &format!("radsec.client[{i}].subject_alt_name"),
                        format!(
                            "expected a DNS name like \"nas.example\" or \"*.example\", found \"{}\"",
                            s.get_ref()
                        ),
                    ));
                }
            };
            clients.push(RadsecClient {
                name: c.name.get_ref().clone(),
                subject_alt_name: san,
            });
        }
        if clients.is_empty() {
            return Err(err(
                0..0,
                "radsec.client",
                "no [[radsec.client]] configured: every connection would be refused".into(),
            ));
        }
        Ok(RadsecConfig {
            listen,
            certificate,
            private_key,
            ca,
            clients,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "[[client]]\nnetwork = \"127.0.0.1\"\nsecret = \"s\"\n\
                        [hss]\ndatabase = \"x.db\"\n";

    fn parse(radsec: &str) -> Result<crate::config::Config, ConfigError> {
        crate::config::Config::parse(&format!("{BASE}{radsec}"), Path::new("/tmp/aaa.toml"))
    }

    #[test]
    fn defaults_and_paths() {
        let c = parse(
            "[radsec]\ncertificate = \"s.pem\"\nprivate_key = \"/k/s.key\"\nca = \"ca.pem\"\n\
             [[radsec.client]]\nname = \"partner-a\"\nsubject_alt_name = \"*.Partner-A.example\"\n",
        )
        .unwrap();
        let r = c.radsec.unwrap();
        assert_eq!(r.listen, SocketAddr::from(([0, 0, 0, 0], 2083)));
        assert_eq!(r.certificate, PathBuf::from("/tmp/s.pem"));
        assert_eq!(r.private_key, PathBuf::from("/k/s.key"));
        assert_eq!(r.limits, Limits::default());
        assert_eq!(
            r.clients[0].subject_alt_name.as_deref(),
            Some("*.partner-a.example")
        );
        assert!(parse("").unwrap().radsec.is_none());
    }

    #[test]
    fn errors_name_line_and_key() {
        let head = "[radsec]\ncertificate = \"s.pem\"\nprivate_key = \"s.key\"\nca = \"ca.pem\"\n";
        let e = parse(&format!(
            "{head}[[radsec.client]]\nname = \"a\"\nsubject_alt_name = \"a.*.example\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "/tmp/aaa.toml:12: radsec.client[0].subject_alt_name: expected a DNS name"
            ),
            "{e}"
        );
        let e = parse(&format!(
            "{head}max_in_flight = 0\n[[radsec.client]]\nname = \"a\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(":10: radsec.max_in_flight: must be 1..=256"),
            "{e}"
        );
        let e = parse(head).unwrap_err().to_string();
        assert!(e.contains("radsec.client: no [[radsec.client]]"), "{e}");
        let e = parse("[radsec]\ncertificate = \"s.pem\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("radsec.private_key: required"), "{e}");
    }

    #[test]
    fn patterns() {
        assert!(valid_pattern("nas.example"));
        assert!(valid_pattern("*.partner-a.example"));
        assert!(!valid_pattern("*"));
        assert!(!valid_pattern("a.*.example"));
        assert!(!valid_pattern("a..example"));
        assert!(!valid_pattern(""));
    }
}
