//! `[[realm]]` and `[proxy]`: which realms are served here, which are
//! proxied to home servers, which are refused.

use crate::config::ConfigError;
use eap::secret::SecretBytes;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;
use toml::Spanned;

/// `[[realm]]` and `[proxy]`, validated. No realms: everything is local.
#[derive(Clone, Debug, Default)]
pub struct ProxyConfig {
    /// The realm table (most specific match wins, see [`RealmPattern`]).
    pub realms: Vec<Realm>,
    /// `[proxy]` settings.
    pub settings: ProxySettings,
    /// `[tls_client]`: our TLS client for `radsec://` home servers.
    pub tls_client: Option<std::sync::Arc<rustls::ClientConfig>>,
    /// `[tls_client] ca` (the certificate check of discovered home servers).
    pub tls_client_roots: Option<std::sync::Arc<rustls::RootCertStore>>,
    /// `[dns] servers` (UDP); `None`: /etc/resolv.conf.
    pub dns_servers: Option<Vec<SocketAddr>>,
    /// `[dns] negative_ttl`: how long a failed discovery is remembered.
    pub dns_negative_ttl: Duration,
}

/// The default of `[dns] negative_ttl`.
pub const DEFAULT_NEGATIVE_TTL: Duration = Duration::from_secs(60);

/// `[[realm]] balance`: how new EAP conversations pick a home server.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Balance {
    /// Each new conversation (no State) goes to the next live server in turn.
    #[default]
    RoundRobin,
    /// Every new conversation goes to the first live server in `servers` order.
    Failover,
}

/// `[proxy]`: timers and the Operator-Name added on the way out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxySettings {
    /// Operator-Name (RFC 5580 §4.1: namespace digit then name, `"1example.net"`),
    /// added to proxied requests that carry none.
    pub operator_name: Option<String>,
    /// How long to wait for a home server's answer before retransmitting.
    pub timeout: Duration,
    /// Retransmissions to one home server before it is marked dead.
    pub retries: u32,
    /// How long a dead home server is skipped.
    pub dead_time: Duration,
}

impl Default for ProxySettings {
    fn default() -> Self {
        ProxySettings {
            operator_name: None,
            timeout: Duration::from_secs(3),
            retries: 1,
            dead_time: Duration::from_secs(30),
        }
    }
}

/// One `[[realm]]` row.
#[derive(Clone, Debug)]
pub struct Realm {
    /// `name` as written (for logs).
    pub name: String,
    /// What `name` matches.
    pub pattern: RealmPattern,
    /// What to do with a matching request.
    pub action: RealmAction,
}

/// A realm name: `example.org`, `*.example.org`, `~regex` or `*`.
#[derive(Clone, Debug)]
pub enum RealmPattern {
    /// Exactly this realm (lower case).
    Exact(String),
    /// Any realm ending in this suffix (lower case, leading dot kept).
    Suffix(String),
    /// A regular expression (case-insensitive) over the realm.
    Regex(regex::Regex),
    /// Any realm.
    Any,
}

/// What a realm's requests get.
#[derive(Clone, Debug)]
pub enum RealmAction {
    /// Our EAP server.
    Local,
    /// Access-Reject.
    Reject,
    /// Forwarded to the first live home server.
    Proxy {
        /// Home servers in order of preference (failover, RFC 5080 §2.2.1 style).
        servers: Vec<HomeServer>,
        /// Shared secret with the home servers.
        secret: SecretBytes,
        /// How new conversations are spread over `servers`.
        balance: Balance,
    },
    /// RFC 7585 dynamic discovery (NAPTR, SRV, A/AAAA), then RadSec.
    Discover,
}

/// A home server (`udp://HOST:PORT` or `radsec://HOST:PORT`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HomeServer {
    /// As written in `servers`.
    pub uri: String,
    /// The resolved address.
    pub addr: SocketAddr,
    /// `Some(HOST)` for RadSec (the name its certificate must carry).
    pub tls_host: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRealm {
    name: Spanned<String>,
    action: Spanned<String>,
    servers: Option<Spanned<Vec<String>>>,
    secret: Option<Spanned<String>>,
    balance: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTlsClient {
    certificate: Spanned<String>,
    private_key: Spanned<String>,
    ca: Spanned<String>,
}

/// `[dns]`.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDns {
    servers: Option<Spanned<Vec<String>>>,
    negative_ttl: Option<Spanned<u64>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProxy {
    operator_name: Option<Spanned<String>>,
    timeout: Option<Spanned<u64>>,
    retries: Option<Spanned<u64>>,
    dead_time: Option<Spanned<u64>>,
}

type Err<'a> = &'a dyn Fn(std::ops::Range<usize>, &str, String) -> ConfigError;

fn parse_pattern(name: &str) -> Result<RealmPattern, String> {
    if name == "*" {
        return Ok(RealmPattern::Any);
    }
    if let Some(re) = name.strip_prefix('~') {
        return regex::RegexBuilder::new(re)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map(RealmPattern::Regex)
            .map_err(|e| format!("not a regular expression: {e}"));
    }
    let (suffix, rest) = match name.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let ok = !rest.is_empty()
        && rest.len() <= 253
        && rest.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if !ok {
        return Err(format!(
            "expected a realm (\"example.org\"), \"*.example.org\", \"~regex\" or \"*\", found \"{name}\""
        ));
    }
    let rest = rest.to_ascii_lowercase();
    Ok(if suffix {
        RealmPattern::Suffix(format!(".{rest}"))
    } else {
        RealmPattern::Exact(rest)
    })
}

fn parse_server(uri: &str) -> Result<HomeServer, String> {
    use std::net::ToSocketAddrs;
    let (hostport, tls) = match (uri.strip_prefix("udp://"), uri.strip_prefix("radsec://")) {
        (Some(h), _) => (h, false),
        (_, Some(h)) => (h, true),
        _ => {
            return Err(format!(
                "expected \"udp://HOST:PORT\" or \"radsec://HOST:PORT\", found \"{uri}\""
            ));
        }
    };
    let addrs: Vec<SocketAddr> = hostport
        .to_socket_addrs()
        .map(Iterator::collect)
        .unwrap_or_default();
    let addr = addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| format!("\"{uri}\": cannot resolve HOST:PORT"))?;
    let host = hostport
        .rsplit_once(':')
        .map_or(hostport, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    Ok(HomeServer {
        uri: uri.to_string(),
        addr,
        tls_host: tls.then(|| host.to_string()),
    })
}

pub(crate) fn parse(
    realms: &[RawRealm],
    proxy: Option<&RawProxy>,
    tls_client: Option<&RawTlsClient>,
    dns: Option<&RawDns>,
    path: &std::path::Path,
    err: Err<'_>,
) -> Result<ProxyConfig, ConfigError> {
    let mut out = Vec::new();
    for (i, r) in realms.iter().enumerate() {
        let key = |k: &str| format!("realm[{i}].{k}");
        let name = r.name.get_ref();
        let pattern = parse_pattern(name).map_err(|m| err(r.name.span(), &key("name"), m))?;
        let action = match r.action.get_ref().as_str() {
            "local" | "reject" | "discover" => {
                if let Some(b) = &r.balance {
                    return Err(err(
                        b.span(),
                        &key("balance"),
                        "only for action = \"proxy\"".into(),
                    ));
                }
                if let Some(s) = &r.servers {
                    return Err(err(
                        s.span(),
                        &key("servers"),
                        "only for action = \"proxy\"".into(),
                    ));
                }
                if r.action.get_ref() == "discover" {
                    if let Some(x) = &r.secret {
                        return Err(err(
                            x.span(),
                            &key("secret"),
                            "action = \"discover\" uses RadSec (secret \"radsec\", RFC 6614)"
                                .into(),
                        ));
                    }
                    if tls_client.is_none() {
                        return Err(err(
                            r.action.span(),
                            &key("action"),
                            "action = \"discover\" needs a [tls_client] table".into(),
                        ));
                    }
                    out.push(Realm {
                        name: name.clone(),
                        pattern,
                        action: RealmAction::Discover,
                    });
                    continue;
                }
                if r.action.get_ref() == "local" {
                    RealmAction::Local
                } else {
                    RealmAction::Reject
                }
            }
            "proxy" => {
                let Some(s) = &r.servers else {
                    return Err(err(
                        r.action.span(),
                        &key("servers"),
                        "action = \"proxy\" needs servers = [\"udp://HOST:PORT\", …]".into(),
                    ));
                };
                if s.get_ref().is_empty() {
                    return Err(err(s.span(), &key("servers"), "must not be empty".into()));
                }
                let servers = s
                    .get_ref()
                    .iter()
                    .map(|u| parse_server(u))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|m| err(s.span(), &key("servers"), m))?;
                if servers.iter().any(|s| s.tls_host.is_some()) && tls_client.is_none() {
                    return Err(err(
                        s.span(),
                        &key("servers"),
                        "radsec:// home servers need a [tls_client] table".into(),
                    ));
                }
                let secret = match &r.secret {
                    Some(x) if !x.get_ref().is_empty() => SecretBytes::from(x.get_ref().as_str()),
                    Some(x) => {
                        return Err(err(x.span(), &key("secret"), "must not be empty".into()));
                    }
                    None if servers.iter().all(|s| s.tls_host.is_some()) => {
                        SecretBytes::from("radsec")
                    }
                    None => {
                        return Err(err(
                            r.action.span(),
                            &key("secret"),
                            "udp:// home servers need a shared secret".into(),
                        ));
                    }
                };
                let balance = match r.balance.as_ref().map(|b| (b, b.get_ref().as_str())) {
                    None | Some((_, "round_robin")) => Balance::RoundRobin,
                    Some((_, "failover")) => Balance::Failover,
                    Some((b, other)) => {
                        return Err(err(
                            b.span(),
                            &key("balance"),
                            format!("expected \"round_robin\" or \"failover\", found \"{other}\""),
                        ));
                    }
                };
                RealmAction::Proxy {
                    servers,
                    secret,
                    balance,
                }
            }
            other => {
                return Err(err(
                    r.action.span(),
                    &key("action"),
                    format!(
                        "expected \"local\", \"proxy\", \"discover\" or \"reject\", found \"{other}\""
                    ),
                ));
            }
        };
        out.push(Realm {
            name: name.clone(),
            pattern,
            action,
        });
    }
    let mut settings = ProxySettings::default();
    if let Some(p) = proxy {
        let secs = |v: &Option<Spanned<u64>>, k: &str, lo: u64, hi: u64, def: u64| match v {
            None => Ok(def),
            Some(s) if (lo..=hi).contains(s.get_ref()) => Ok(*s.get_ref()),
            Some(s) => Err(err(
                s.span(),
                &format!("proxy.{k}"),
                format!("must be {lo}..={hi}"),
            )),
        };
        settings.timeout = Duration::from_secs(secs(&p.timeout, "timeout", 1, 60, 3)?);
        settings.retries = secs(&p.retries, "retries", 0, 10, 1)? as u32;
        settings.dead_time = Duration::from_secs(secs(&p.dead_time, "dead_time", 1, 3600, 30)?);
        if let Some(o) = &p.operator_name {
            let v = o.get_ref();
            // RFC 5580 §4.1: a namespace digit, then the name; one attribute.
            if v.len() < 2 || v.len() > 253 || !v.as_bytes()[0].is_ascii_digit() {
                return Err(err(
                    o.span(),
                    "proxy.operator_name",
                    "expected a namespace digit then a name, like \"1example.net\" (RFC 5580), at most 253 bytes".into(),
                ));
            }
            settings.operator_name = Some(v.clone());
        }
    }
    let dns_servers = match dns.and_then(|d| d.servers.as_ref()) {
        None => None,
        Some(s) => {
            if s.get_ref().is_empty() {
                return Err(err(s.span(), "dns.servers", "must not be empty".into()));
            }
            let v = s
                .get_ref()
                .iter()
                .map(|a| {
                    a.parse::<SocketAddr>().map_err(|_| {
                        err(
                            s.span(),
                            "dns.servers",
                            format!("expected \"IP:PORT\" (\"[IPv6]:PORT\"), found \"{a}\""),
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(v)
        }
    };
    let dns_negative_ttl = match dns.and_then(|d| d.negative_ttl.as_ref()) {
        None => DEFAULT_NEGATIVE_TTL,
        Some(t) if (1..=3600).contains(t.get_ref()) => Duration::from_secs(*t.get_ref()),
        Some(t) => {
            return Err(err(t.span(), "dns.negative_ttl", "must be 1..=3600".into()));
        }
    };
    let mut tls_client_roots = None;
    let tls_client = match tls_client {
        None => None,
        Some(t) => {
            let resolve = |s: &Spanned<String>| {
                let p = std::path::PathBuf::from(s.get_ref());
                match (p.is_relative(), path.parent()) {
                    (true, Some(dir)) => dir.join(p),
                    _ => p,
                }
            };
            tls_client_roots = Some(std::sync::Arc::new(
                super::radsec::ca_roots(&resolve(&t.ca))
                    .map_err(|m| err(t.ca.span(), "tls_client.ca", m))?,
            ));
            let cfg = super::radsec::client_config(
                &resolve(&t.certificate),
                &resolve(&t.private_key),
                &resolve(&t.ca),
            )
            .map_err(|(k, m)| {
                let span = match k {
                    "tls_client.private_key" => t.private_key.span(),
                    "tls_client.ca" => t.ca.span(),
                    _ => t.certificate.span(),
                };
                err(span, k, m)
            })?;
            Some(cfg)
        }
    };
    Ok(ProxyConfig {
        realms: out,
        settings,
        tls_client,
        tls_client_roots,
        dns_servers,
        dns_negative_ttl,
    })
}
