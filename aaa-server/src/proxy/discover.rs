//! RFC 7585 dynamic discovery for `action = "discover"` realms: NAPTR for
//! the realm with service `aaa+auth:radius.tls.tcp` and flag `s`, then SRV,
//! then A/AAAA (hickory-resolver), then RadSec with `[tls_client]` through
//! the existing RadSec client ([`super::radsec`]).
//!
//! - 3GPP realms `wlan.mncXXX.mccYYY.3gppnetwork.org` are looked up as
//!   `wlan.mncXXX.mccYYY.pub.3gppnetwork.org` (GSMA IR.67 §2.4: the public
//!   DNS tree of the 3GPP realm).
//! - Order: NAPTR `order` then `preference` (RFC 3403 §4.1), then SRV
//!   `priority`, weighted-random by `weight` within a priority (RFC 2782).
//! - Results are cached until their smallest TTL (at most [`MAX_CACHE`]
//!   realms). Failures (NXDOMAIN, no NAPTR/SRV/address, timeout) are
//!   cached for `[dns] negative_ttl` (at most [`MAX_CACHE`] names), so a
//!   failing realm does not query the DNS, nor hold a store worker for the
//!   DNS timeout, on every request.
//! - A discovered home server that does not answer is marked dead (by SRV
//!   target and address) and skipped for `[proxy] dead_time`.
//! - Certificate (RFC 7585 §2.1.4): the home server's certificate must chain
//!   to `[tls_client] ca` and carry the NAI realm or the SRV target as a DNS
//!   subjectAltName. (The NAIRealm otherName of RFC 7585 §2.2 is not read:
//!   webpki matches DNS names only.)
//! - Failure (NXDOMAIN, no usable NAPTR, no SRV, no address, timeout) is an
//!   error: the request is answered Access-Reject, counted and logged.
//! - The lookup runs on a small tokio runtime of its own; the store worker
//!   that forwards the request waits for it at most `[proxy] timeout`.

use super::radsec::{self, TlsExchangeError};
use super::udp::Answered;
use super::{AnswerError, Forward, HomeServer, Proxy, ProxyError};
use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::{RData, RecordType};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The NAPTR service of RADIUS/TLS (RFC 7585 §2.1.1).
pub const SERVICE: &str = "aaa+auth:radius.tls.tcp";
/// At most this many realms are cached.
pub const MAX_CACHE: usize = 1024;

/// A failed [`Discovery::resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failed {
    /// Why.
    pub error: DiscoveryError,
    /// From the negative cache: the DNS was not asked.
    pub cached: bool,
}

/// Why discovery found no home server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    /// The realm does not exist in the DNS.
    #[error("NXDOMAIN")]
    NxDomain,
    /// No NAPTR with service `aaa+auth:radius.tls.tcp` and flag `s`.
    #[error("no usable NAPTR")]
    NoNaptr,
    /// The NAPTR replacements have no SRV records.
    #[error("no SRV")]
    NoSrv,
    /// The SRV targets have no addresses.
    #[error("no address for the SRV targets")]
    NoAddress,
    /// The DNS did not answer in time.
    #[error("DNS timeout")]
    Timeout,
    /// The realm is not a DNS name, or the resolver failed otherwise.
    #[error("DNS lookup failed")]
    Resolver,
}

/// One NAPTR record (RFC 3403 §4.1), text fields lower case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Naptr {
    /// ORDER.
    pub order: u16,
    /// PREFERENCE.
    pub preference: u16,
    /// FLAGS.
    pub flags: String,
    /// SERVICES.
    pub services: String,
    /// REPLACEMENT (the SRV owner name).
    pub replacement: String,
}

/// One SRV record (RFC 2782).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srv {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight within a priority.
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Target host name (no trailing dot).
    pub target: String,
}

/// A discovered home server: the SRV target and one of its addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// SRV target (the TLS server name).
    pub host: String,
    /// Address and SRV port.
    pub addr: SocketAddr,
}

/// The name to look up for `realm`: 3GPP realms move to the public tree
/// (GSMA IR.67: `wlan.mncXXX.mccYYY.3gppnetwork.org` →
/// `wlan.mncXXX.mccYYY.pub.3gppnetwork.org`); others unchanged.
pub fn lookup_name(realm: &str) -> String {
    let realm = realm.trim_end_matches('.').to_ascii_lowercase();
    match realm.strip_suffix(".3gppnetwork.org") {
        Some(head) if !head.ends_with(".pub") && !head.is_empty() => {
            format!("{head}.pub.3gppnetwork.org")
        }
        _ => realm,
    }
}

/// The SRV owner names of the usable NAPTRs (service `aaa+auth:radius.tls.tcp`,
/// flag `s`), by order then preference (RFC 7585 §2.3.2, RFC 3403 §4.1).
pub fn usable_naptrs(records: &[Naptr]) -> Vec<String> {
    let mut v: Vec<&Naptr> = records
        .iter()
        .filter(|n| n.flags.eq_ignore_ascii_case("s") && n.services.eq_ignore_ascii_case(SERVICE))
        .collect();
    v.sort_by_key(|n| (n.order, n.preference));
    let mut out: Vec<String> = Vec::new();
    for n in v {
        if !out.contains(&n.replacement) {
            out.push(n.replacement.clone());
        }
    }
    out
}

/// SRV records in the order to try (RFC 2782): by priority, and within a
/// priority by weighted random selection; `rnd(n)` returns a number in `0..=n`.
pub fn order_srv(mut records: Vec<Srv>, rnd: &mut dyn FnMut(u32) -> u32) -> Vec<Srv> {
    records.sort_by_key(|s| (s.priority, s.weight != 0));
    let mut out = Vec::with_capacity(records.len());
    while !records.is_empty() {
        let prio = records[0].priority;
        let end = records
            .iter()
            .position(|s| s.priority != prio)
            .unwrap_or(records.len());
        let mut group: Vec<Srv> = records.drain(..end).collect();
        while !group.is_empty() {
            let sum: u32 = group.iter().map(|s| u32::from(s.weight)).sum();
            let pick = rnd(sum).min(sum);
            let mut running = 0u32;
            let idx = group
                .iter()
                .position(|s| {
                    running += u32::from(s.weight);
                    running >= pick
                })
                .unwrap_or(0);
            out.push(group.remove(idx));
        }
    }
    out
}

fn random_upto(n: u32) -> u32 {
    let mut b = [0u8; 4];
    if crate::hss::rng::fill(&mut b).is_err() || n == 0 {
        return 0;
    }
    u32::from_le_bytes(b) % (n + 1)
}

/// The resolver, its runtime and the cache.
pub struct Discovery {
    rt: Option<tokio::runtime::Runtime>,
    resolver: Arc<TokioResolver>,
    timeout: Duration,
    cache: Mutex<HashMap<String, (Instant, Vec<Target>)>>,
    /// Names whose discovery failed, for `[dns] negative_ttl`.
    negative: Mutex<super::ttl::TtlMap<String, DiscoveryError>>,
}

impl std::fmt::Debug for Discovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Discovery")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Drop for Discovery {
    fn drop(&mut self) {
        // Allowed inside an async context, unlike dropping the runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

impl Discovery {
    /// A resolver asking `servers` (UDP), or those of /etc/resolv.conf;
    /// each lookup bounded by `timeout`; failures remembered `negative_ttl`.
    ///
    /// # Errors
    /// The runtime cannot start or /etc/resolv.conf is unreadable.
    pub fn new(
        servers: Option<&[SocketAddr]>,
        timeout: Duration,
        negative_ttl: Duration,
    ) -> Result<Self, String> {
        use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
        use hickory_resolver::name_server::TokioConnectionProvider;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("aaa-dns")
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        let (config, mut opts) = match servers {
            Some(list) => {
                let mut c = ResolverConfig::new();
                for a in list {
                    c.add_name_server(NameServerConfig::new(
                        *a,
                        hickory_resolver::proto::xfer::Protocol::Udp,
                    ));
                }
                (c, ResolverOpts::default())
            }
            None => hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| format!("/etc/resolv.conf: {e}"))?,
        };
        opts.timeout = timeout;
        opts.attempts = 1;
        opts.cache_size = 4 * MAX_CACHE;
        opts.ndots = 0;
        let _guard = rt.enter();
        let resolver = hickory_resolver::Resolver::builder_with_config(
            config,
            TokioConnectionProvider::default(),
        )
        .with_options(opts)
        .build();
        drop(_guard);
        Ok(Discovery {
            rt: Some(rt),
            resolver: Arc::new(resolver),
            timeout,
            cache: Mutex::new(HashMap::new()),
            negative: Mutex::new(super::ttl::TtlMap::new(MAX_CACHE, negative_ttl)),
        })
    }

    /// The home servers for `realm`, in the order to try (cached until the
    /// smallest TTL of the records that gave them; a failure is cached for
    /// `negative_ttl`).
    ///
    /// # Errors
    /// See [`DiscoveryError`].
    pub fn resolve(&self, realm: &str) -> Result<Vec<Target>, Failed> {
        let name = lookup_name(realm);
        let now = Instant::now();
        {
            let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((until, t)) = cache.get(&name)
                && now < *until
            {
                return Ok(t.clone());
            }
        }
        if let Some(error) = self
            .negative
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name, now)
        {
            return Err(Failed {
                error,
                cached: true,
            });
        }
        self.lookup_now(&name, now).map_err(|error| {
            self.negative
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(name.clone(), error, Instant::now());
            Failed {
                error,
                cached: false,
            }
        })
    }

    /// Asks the DNS for `name` and caches the answer.
    fn lookup_now(&self, name: &str, now: Instant) -> Result<Vec<Target>, DiscoveryError> {
        let name = name.to_string();
        let rt = self.rt.as_ref().ok_or(DiscoveryError::Resolver)?;
        let (tx, rx) = std::sync::mpsc::channel();
        let resolver = self.resolver.clone();
        let (q, timeout) = (name.clone(), self.timeout);
        rt.spawn(async move {
            let r = tokio::time::timeout(timeout, lookup(&resolver, &q))
                .await
                .unwrap_or(Err(DiscoveryError::Timeout));
            let _ = tx.send(r);
        });
        let (targets, until) = rx
            .recv_timeout(self.timeout + Duration::from_millis(100))
            .unwrap_or(Err(DiscoveryError::Timeout))?;
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= MAX_CACHE {
            cache.retain(|_, (u, _)| now < *u);
            if cache.len() >= MAX_CACHE {
                cache.clear();
            }
        }
        cache.insert(name, (until, targets.clone()));
        Ok(targets)
    }
}

fn dns_error(e: &hickory_resolver::ResolveError) -> DiscoveryError {
    if e.is_nx_domain() {
        DiscoveryError::NxDomain
    } else if e.is_no_records_found() {
        DiscoveryError::NoNaptr
    } else {
        DiscoveryError::Resolver
    }
}

fn fqdn(name: &str) -> Result<hickory_resolver::Name, DiscoveryError> {
    let n = if name.ends_with('.') {
        name.to_string()
    } else {
        format!("{name}.")
    };
    hickory_resolver::Name::from_ascii(n).map_err(|_| DiscoveryError::Resolver)
}

fn host_of(n: &hickory_resolver::Name) -> String {
    n.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// NAPTR → SRV → A/AAAA for `name`; the targets and when they expire.
async fn lookup(
    resolver: &TokioResolver,
    name: &str,
) -> Result<(Vec<Target>, Instant), DiscoveryError> {
    let naptr = resolver
        .lookup(fqdn(name)?, RecordType::NAPTR)
        .await
        .map_err(|e| dns_error(&e))?;
    let mut until = naptr.valid_until();
    let records: Vec<Naptr> = naptr
        .record_iter()
        .filter_map(|r| match r.data() {
            RData::NAPTR(n) => Some(Naptr {
                order: n.order(),
                preference: n.preference(),
                flags: String::from_utf8_lossy(n.flags()).to_ascii_lowercase(),
                services: String::from_utf8_lossy(n.services()).to_ascii_lowercase(),
                replacement: host_of(n.replacement()),
            }),
            _ => None,
        })
        .collect();
    let owners = usable_naptrs(&records);
    if owners.is_empty() {
        return Err(DiscoveryError::NoNaptr);
    }
    let mut srvs = Vec::new();
    for owner in owners {
        let Ok(l) = resolver.lookup(fqdn(&owner)?, RecordType::SRV).await else {
            continue;
        };
        until = until.min(l.valid_until());
        let group: Vec<Srv> = l
            .record_iter()
            .filter_map(|r| match r.data() {
                RData::SRV(s) => Some(Srv {
                    priority: s.priority(),
                    weight: s.weight(),
                    port: s.port(),
                    target: host_of(s.target()),
                }),
                _ => None,
            })
            .collect();
        srvs.extend(order_srv(group, &mut random_upto));
    }
    if srvs.is_empty() {
        return Err(DiscoveryError::NoSrv);
    }
    let mut out = Vec::new();
    for s in srvs {
        let Ok(ips) = resolver.lookup_ip(fqdn(&s.target)?).await else {
            continue;
        };
        until = until.min(ips.valid_until());
        for ip in ips.iter() {
            out.push(Target {
                host: s.target.clone(),
                addr: SocketAddr::new(ip, s.port),
            });
        }
    }
    if out.is_empty() {
        return Err(DiscoveryError::NoAddress);
    }
    Ok((out, until))
}

/// Accepts a certificate valid for the SRV target (the TLS server name) or,
/// failing that, for the NAI realm (RFC 7585 §2.1.4).
#[derive(Debug)]
struct RealmOrTarget {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    realm: ServerName<'static>,
}

impl ServerCertVerifier for RealmOrTarget {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        use rustls::{CertificateError, Error};
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => self.inner.verify_server_cert(
                end_entity,
                intermediates,
                &self.realm,
                ocsp_response,
                now,
            ),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// `[tls_client]` with the realm-or-target certificate check for `realm`.
fn client_for_realm(
    base: &Arc<rustls::ClientConfig>,
    roots: &Arc<rustls::RootCertStore>,
    realm: &str,
) -> Option<Arc<rustls::ClientConfig>> {
    let realm = ServerName::try_from(realm.to_string()).ok()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner =
        rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider)
            .build()
            .ok()?;
    let mut cfg = (**base).clone();
    cfg.dangerous()
        .set_certificate_verifier(Arc::new(RealmOrTarget { inner, realm }));
    Some(Arc::new(cfg))
}

/// Discovers the home servers of `fwd`'s realm and forwards over RadSec to
/// the first that answers. Runs on a store worker (it blocks, bounded by
/// `[proxy] timeout` for DNS and `timeout × (retries + 1)` per server).
pub fn exchange(
    proxy: &Proxy,
    fwd: &Forward,
    nas_identifier: u8,
    nas_secret: &[u8],
    nas_authenticator: &[u8; 16],
) -> Result<Answered, ProxyError> {
    let realm = fwd.realm_name.as_str();
    let targets = match proxy.discovery.as_ref() {
        None => Err(Failed {
            error: DiscoveryError::Resolver,
            cached: false,
        }),
        Some(d) => d.resolve(realm),
    };
    let mut targets = match targets {
        Ok(t) => t,
        Err(Failed { error, cached }) => {
            proxy.count_discovery_failed();
            if cached {
                proxy.count_discovery_negative_cached();
                tracing::warn!(realm = %realm, lookup = %lookup_name(realm), error = %error, "RFC 7585 discovery failed (negative cache); Access-Reject");
            } else {
                tracing::warn!(realm = %realm, lookup = %lookup_name(realm), error = %error, "RFC 7585 discovery failed; Access-Reject");
            }
            return Err(ProxyError::Discovery(error));
        }
    };
    let (Some(base), Some(roots)) = (proxy.tls_client.as_ref(), proxy.tls_roots.as_ref()) else {
        return Err(ProxyError::NoLiveServer);
    };
    let Some(tls) = client_for_realm(base, roots, realm) else {
        proxy.count_discovery_failed();
        return Err(ProxyError::Discovery(DiscoveryError::Resolver));
    };
    // A conversation goes on with the server of its Access-Challenge, even
    // if the DNS answer changed since; never to another one.
    let request_state = fwd.state.as_deref();
    if let Some(state) = request_state
        && let Some((host, addr)) = proxy.discovered_owner(realm, state, Instant::now())
    {
        if proxy.discovered_is_dead(&host, addr, Instant::now()) {
            proxy.count_conversation_server_dead();
            return Err(ProxyError::ConversationServerDead);
        }
        targets = vec![Target { host, addr }];
    }
    let settings = proxy.settings();
    let budget = settings.timeout * (settings.retries + 1);
    for t in targets {
        if proxy.discovered_is_dead(&t.host, t.addr, Instant::now()) {
            tracing::debug!(realm = %realm, server = %t.host, address = %t.addr, "discovered home server marked dead; skipped");
            continue;
        }
        let server = HomeServer {
            uri: format!("radsec://{}:{} (discovered)", t.host, t.addr.port()),
            addr: t.addr,
            tls_host: Some(t.host.clone()),
        };
        proxy.count_forwarded();
        // Pooled connections are keyed by realm too: one verified for another realm's name is not reused.
        let key = format!("{realm}|{}", t.host);
        match radsec::exchange_keyed(
            &proxy.tls_pool,
            &key,
            &tls,
            (&t.host, t.addr),
            budget,
            fwd,
            (nas_identifier, nas_secret, nas_authenticator),
        ) {
            Ok((response, state)) => {
                proxy.mark_discovered_alive(&t.host, t.addr);
                proxy.discovered_answered(
                    realm,
                    (&t.host, t.addr),
                    request_state,
                    state.as_deref(),
                    Instant::now(),
                );
                proxy.count_answered();
                return Ok(Answered {
                    response,
                    server: server.uri,
                });
            }
            Err(TlsExchangeError::Refused(e)) => {
                proxy.count_bad_answer();
                tracing::warn!(realm = %realm, server = %server.uri, error = %e, "home server answer refused");
                if e == AnswerError::Encode {
                    return Err(ProxyError::Encode);
                }
            }
            Err(TlsExchangeError::Unreachable) => {
                tracing::warn!(realm = %realm, server = %server.uri, address = %t.addr, "discovered home server did not answer over TLS (or its certificate names neither the realm nor the SRV target); marked dead");
                proxy.mark_discovered_dead(&t.host, t.addr, Instant::now());
            }
        }
    }
    proxy.count_no_live_server();
    Err(ProxyError::NoLiveServer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naptr(order: u16, pref: u16, flags: &str, svc: &str, repl: &str) -> Naptr {
        Naptr {
            order,
            preference: pref,
            flags: flags.into(),
            services: svc.into(),
            replacement: repl.into(),
        }
    }

    #[test]
    fn rewrites_3gpp_realms_to_the_public_tree() {
        assert_eq!(
            lookup_name("wlan.mnc001.mcc001.3gppnetwork.org"),
            "wlan.mnc001.mcc001.pub.3gppnetwork.org"
        );
        assert_eq!(
            lookup_name("WLAN.MNC015.MCC234.3GPPNETWORK.ORG."),
            "wlan.mnc015.mcc234.pub.3gppnetwork.org"
        );
        assert_eq!(
            lookup_name("wlan.mnc001.mcc001.pub.3gppnetwork.org"),
            "wlan.mnc001.mcc001.pub.3gppnetwork.org"
        );
        assert_eq!(lookup_name("example.org"), "example.org");
        assert_eq!(lookup_name("3gppnetwork.org"), "3gppnetwork.org");
    }

    #[test]
    fn naptrs_filtered_and_ordered_by_order_then_preference() {
        let v = vec![
            naptr(20, 10, "s", SERVICE, "_radiustls._tcp.c.example"),
            naptr(10, 20, "s", SERVICE, "_radiustls._tcp.b.example"),
            naptr(
                10,
                10,
                "S",
                "AAA+AUTH:RADIUS.TLS.TCP",
                "_radiustls._tcp.a.example",
            ),
            naptr(
                1,
                1,
                "s",
                "aaa+auth:radius.dtls.udp",
                "_radiusdtls._udp.x.example",
            ),
            naptr(1, 1, "a", SERVICE, "y.example"),
            naptr(1, 1, "s", "x-eduroam:radius.tls", "z.example"),
        ];
        assert_eq!(
            usable_naptrs(&v),
            [
                "_radiustls._tcp.a.example",
                "_radiustls._tcp.b.example",
                "_radiustls._tcp.c.example"
            ]
        );
        assert!(usable_naptrs(&[naptr(1, 1, "u", SERVICE, "x")]).is_empty());
    }

    fn srv(priority: u16, weight: u16, target: &str) -> Srv {
        Srv {
            priority,
            weight,
            port: 2083,
            target: target.into(),
        }
    }

    #[test]
    fn srv_by_priority_then_weight() {
        let v = vec![
            srv(20, 0, "c"),
            srv(10, 10, "a"),
            srv(10, 90, "b"),
            srv(5, 0, "z"),
        ];
        let order = |pick: u32| {
            order_srv(v.clone(), &mut |_| pick)
                .into_iter()
                .map(|s| s.target)
                .collect::<Vec<_>>()
        };
        // Random 0: the first of the priority-10 group (a, running sum 10).
        assert_eq!(order(0), ["z", "a", "b", "c"]);
        // Random 50: past a's 10, within b's 10..=100.
        assert_eq!(order(50), ["z", "b", "a", "c"]);
        // Weight 0 goes first in its group, still reachable (RFC 2782).
        let w0 = order_srv(vec![srv(1, 5, "x"), srv(1, 0, "w")], &mut |_| 0);
        assert_eq!(w0[0].target, "w");
        // Every record comes out once whatever the random numbers.
        let mut n = 7u32;
        let all = order_srv(v.clone(), &mut |m| {
            n = n.wrapping_mul(31).wrapping_add(3);
            n % (m + 1)
        });
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].target, "z");
        assert_eq!(all[3].target, "c");
    }
}
