//! The RADIUS proxy (RFC 2865 §2.3, RFC 3579, RFC 5080), sans-IO: the realm
//! table ([`Proxy::route`]), the request as it goes to a home server and
//! the answer as it goes back to the NAS ([`Forward`]), and which home
//! servers are alive ([`Proxy::candidates`], [`Proxy::mark_dead`]). The
//! socket work (send, wait, retransmit, fail over) is in [`udp`].
//!
//! Per hop: the NAS's Proxy-State attributes are kept and ours appended
//! (RFC 2865 §5.33); Message-Authenticator is checked on the way in (by the
//! RADIUS server) and made anew on the way out with the next hop's secret
//! (RFC 3579 §3.2); the Response Authenticator is checked against our
//! Request Authenticator and made anew for the NAS; MS-MPPE-Send/Recv-Key
//! are decrypted with the home secret and encrypted again for the NAS
//! (RFC 2548 §2.4.2); EAP-Message, State, Chargeable-User-Identity
//! (RFC 4372) and everything else pass untouched.

pub mod acct;
pub mod aio;
pub mod config;
pub mod discover;
pub mod radsec;
pub mod ttl;
pub mod udp;

use crate::radius::crypto;
use crate::radius::wire;
pub use config::{
    Balance, HomeServer, ProxyConfig, ProxySettings, Realm, RealmAction, RealmPattern,
};
use eap::secret::SecretBytes;
use radius::core::code::Code;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// User-Name (RFC 2865 §5.1).
pub const USER_NAME: u8 = 1;
/// User-Password (RFC 2865 §5.2).
pub const USER_PASSWORD: u8 = 2;
/// Proxy-State (RFC 2865 §5.33).
pub const PROXY_STATE: u8 = 33;
/// Operator-Name (RFC 5580 §4.1).
pub const OPERATOR_NAME: u8 = 126;
/// State (RFC 2865 §5.24).
pub const STATE: u8 = 24;

/// How long after its Access-Challenge a State still leads to the home
/// server that sent it (an EAP round trip through the NAS and the peer
/// takes seconds; hostapd gives up on a round after 30 s).
pub const STICKY_TTL: Duration = Duration::from_secs(120);
/// At most this many EAP conversations are remembered (about 100 octets each).
pub const STICKY_CAPACITY: usize = 65_536;
/// At most this many discovered home servers carry a dead mark.
pub const DISCOVERED_DEAD_CAPACITY: usize = 1024;

/// Where a request goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// Our EAP server.
    Local,
    /// Access-Reject (`action = "reject"`).
    Reject,
    /// To the home servers of realm number `.0`.
    Proxy(usize),
}

/// Why a proxied request got Access-Reject instead of the home server's answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// Every home server of the realm is dead or did not answer in time.
    #[error("no home server answered")]
    NoLiveServer,
    /// The request carries User-Password, which this proxy does not re-hide.
    #[error("User-Password is not proxied")]
    UserPassword,
    /// The request would exceed 4096 octets with our attributes.
    #[error("request too large to forward")]
    TooLarge,
    /// Sending failed (no route, no socket).
    #[error("cannot send to the home server")]
    Send,
    /// The home server's answer could not be re-encoded for the NAS.
    #[error("cannot re-encode the home server's answer")]
    Encode,
    /// RFC 7585 dynamic discovery found no home server.
    #[error("discovery failed: {0}")]
    Discovery(discover::DiscoveryError),
    /// The request continues an EAP conversation (its State came from one
    /// home server) and that server is dead: no other server knows it.
    #[error("the home server of this EAP conversation is dead")]
    ConversationServerDead,
}

/// Why a home server's datagram was not accepted as the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// Not a RADIUS packet.
    #[error("malformed")]
    Malformed,
    /// Another Identifier (a stray or late answer).
    #[error("identifier mismatch")]
    Identifier,
    /// Response Authenticator or Message-Authenticator wrong or missing.
    #[error("bad authenticator")]
    BadAuthenticator,
    /// Not Access-Accept, -Reject or -Challenge.
    #[error("unexpected code")]
    UnexpectedCode,
    /// Our Proxy-State did not come back (RFC 2865 §5.33).
    #[error("Proxy-State missing")]
    ProxyStateMissing,
    /// An MS-MPPE key could not be decrypted or the answer not re-encoded.
    #[error("cannot re-encode")]
    Encode,
}

/// Proxy counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyCounters {
    /// Requests forwarded to a home server.
    pub forwarded: u64,
    /// Answers from home servers passed to the NAS.
    pub answered: u64,
    /// Requests answered Access-Reject because no home server answered.
    pub no_live_server: u64,
    /// Requests refused by `action = "reject"`.
    pub rejected_by_realm: u64,
    /// Home-server datagrams discarded (bad authenticator, stray, malformed).
    pub bad_answers: u64,
    /// Home servers marked dead.
    pub marked_dead: u64,
    /// Requests answered Access-Reject because RFC 7585 discovery failed.
    pub discovery_failed: u64,
    /// Of those, answered from the negative cache without asking the DNS.
    pub discovery_negative_cached: u64,
    /// Requests answered Access-Reject because their conversation's home
    /// server is dead ([`ProxyError::ConversationServerDead`]).
    pub conversation_server_dead: u64,
    /// Conversations forgotten before [`STICKY_TTL`] because the map was full.
    pub sticky_evicted: u64,
    /// Accounting-Requests routed to a proxied realm ([`acct`]).
    pub accounting_proxied: u64,
    /// Of those, the ones no home server answered: no Accounting-Response
    /// went to the NAS (RFC 2866 §4.1), which retransmits.
    pub accounting_unanswered: u64,
}

#[derive(Default)]
struct AtomicProxyCounters {
    forwarded: AtomicU64,
    answered: AtomicU64,
    no_live_server: AtomicU64,
    rejected_by_realm: AtomicU64,
    bad_answers: AtomicU64,
    marked_dead: AtomicU64,
    discovery_failed: AtomicU64,
    discovery_negative_cached: AtomicU64,
    conversation_server_dead: AtomicU64,
    sticky_evicted: AtomicU64,
    accounting_proxied: AtomicU64,
    accounting_unanswered: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// A discovered home server: SRV target and address.
pub type DiscoveredServer = (String, std::net::SocketAddr);

/// The realm table, the home servers' liveness and the counters.
pub struct Proxy {
    realms: Vec<Realm>,
    settings: ProxySettings,
    tls_client: Option<std::sync::Arc<rustls::ClientConfig>>,
    tls_pool: radsec::Pool,
    /// `[tls_client] ca`, for the certificate check of discovered servers.
    tls_roots: Option<std::sync::Arc<rustls::RootCertStore>>,
    /// The resolver for `action = "discover"` realms (none if no such realm).
    discovery: Option<discover::Discovery>,
    /// Per realm, per server: dead until this instant.
    dead_until: Mutex<Vec<Vec<Option<Instant>>>>,
    /// Per realm: the round-robin position for new conversations.
    cursor: Vec<AtomicUsize>,
    /// (realm, State of an Access-Challenge) → the server that sent it.
    sticky: Mutex<ttl::TtlMap<(usize, Vec<u8>), usize>>,
    /// Discovered home servers (SRV target, address) that did not answer,
    /// skipped for `dead_time`.
    discovered_dead: Mutex<ttl::TtlMap<(String, std::net::SocketAddr), ()>>,
    /// (realm name, State of an Access-Challenge) → the discovered server
    /// (SRV target, address) that sent it.
    discovered_sticky: Mutex<ttl::TtlMap<(String, Vec<u8>), DiscoveredServer>>,
    /// Shared with the table this one replaced on SIGHUP, so the counters
    /// run on across reloads.
    counters: std::sync::Arc<AtomicProxyCounters>,
}

/// Names the table's size only: realms carry home-server secrets.
impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("realms", &self.realms.len())
            .finish_non_exhaustive()
    }
}

/// The realm of a User-Name (RFC 7542 §2.2: after the last `@`), lower case.
pub fn realm_of(user_name: &[u8]) -> Option<String> {
    let at = user_name.iter().rposition(|&b| b == b'@')?;
    let realm = std::str::from_utf8(&user_name[at + 1..]).ok()?;
    (!realm.is_empty()).then(|| realm.to_ascii_lowercase())
}

impl RealmPattern {
    /// How specifically this pattern matches `realm` (higher wins), or `None`.
    fn score(&self, realm: &str) -> Option<(u8, usize)> {
        match self {
            RealmPattern::Exact(e) => (e == realm).then_some((3, e.len())),
            RealmPattern::Suffix(s) => realm.ends_with(s.as_str()).then_some((2, s.len())),
            RealmPattern::Regex(r) => r.is_match(realm).then_some((1, 0)),
            RealmPattern::Any => Some((0, 0)),
        }
    }
}

impl Proxy {
    /// A proxy for `cfg`.
    pub fn new(cfg: &ProxyConfig) -> Self {
        let dead = cfg
            .realms
            .iter()
            .map(|r| match &r.action {
                RealmAction::Proxy { servers, .. } => vec![None; servers.len()],
                _ => Vec::new(),
            })
            .collect();
        let discovery = cfg
            .realms
            .iter()
            .any(|r| matches!(r.action, RealmAction::Discover))
            .then(|| {
                discover::Discovery::new(
                    cfg.dns_servers.as_deref(),
                    cfg.settings.timeout,
                    cfg.dns_negative_ttl,
                )
                    .map_err(|e| tracing::error!(error = %e, "RFC 7585 discovery unavailable; discover realms get Access-Reject"))
                    .ok()
            })
            .flatten();
        Proxy {
            tls_roots: cfg.tls_client_roots.clone(),
            discovery,
            realms: cfg.realms.clone(),
            settings: cfg.settings.clone(),
            tls_client: cfg.tls_client.clone(),
            tls_pool: radsec::Pool::default(),
            dead_until: Mutex::new(dead),
            cursor: cfg.realms.iter().map(|_| AtomicUsize::new(0)).collect(),
            sticky: Mutex::new(ttl::TtlMap::new(STICKY_CAPACITY, STICKY_TTL)),
            discovered_dead: Mutex::new(ttl::TtlMap::new(
                DISCOVERED_DEAD_CAPACITY,
                cfg.settings.dead_time,
            )),
            discovered_sticky: Mutex::new(ttl::TtlMap::new(STICKY_CAPACITY, STICKY_TTL)),
            counters: Default::default(),
        }
    }

    /// A table built from `cfg` (a reload) that keeps this one's counters;
    /// dead marks start afresh.
    pub fn reconfigured(&self, cfg: &ProxyConfig) -> Self {
        Proxy {
            counters: self.counters.clone(),
            ..Proxy::new(cfg)
        }
    }

    /// `[proxy]` settings.
    pub fn settings(&self) -> &ProxySettings {
        &self.settings
    }

    /// Realm number `i`.
    pub fn realm(&self, i: usize) -> Option<&Realm> {
        self.realms.get(i)
    }

    /// Where a request with this User-Name goes: the most specific realm
    /// row wins (exact, then longest `*.suffix`, then the first matching
    /// `~regex`, then `*`). No realm in the name, or no row matching: local.
    pub fn route(&self, user_name: Option<&[u8]>) -> Route {
        match self.best(user_name).map(|i| (i, &self.realms[i].action)) {
            None | Some((_, RealmAction::Local)) => Route::Local,
            Some((_, RealmAction::Reject)) => {
                bump(&self.counters.rejected_by_realm);
                Route::Reject
            }
            Some((i, RealmAction::Proxy { .. } | RealmAction::Discover)) => Route::Proxy(i),
        }
    }

    /// The realm row a User-Name matches most specifically, if any.
    fn best(&self, user_name: Option<&[u8]>) -> Option<usize> {
        let realm = user_name.and_then(realm_of)?;
        let mut best: Option<((u8, usize), usize)> = None;
        for (i, r) in self.realms.iter().enumerate() {
            if let Some(s) = r.pattern.score(&realm)
                && best.is_none_or(|(b, _)| s > b)
            {
                best = Some((s, i));
            }
        }
        best.map(|(_, i)| i)
    }

    /// The home servers of realm `realm` to try now, in order: the live ones.
    pub fn candidates(&self, realm: usize, now: Instant) -> Vec<(usize, HomeServer)> {
        let Some(Realm {
            action: RealmAction::Proxy { servers, .. },
            ..
        }) = self.realms.get(realm)
        else {
            return Vec::new();
        };
        let dead = self.dead_until.lock().unwrap_or_else(|e| e.into_inner());
        servers
            .iter()
            .enumerate()
            .filter(|(j, _)| {
                dead.get(realm)
                    .and_then(|d| d.get(*j))
                    .copied()
                    .flatten()
                    .is_none_or(|until| now >= until)
            })
            .map(|(j, s)| (j, s.clone()))
            .collect()
    }

    /// The home servers to try for a request of realm `realm` carrying
    /// `state`, in order (sans-IO).
    ///
    /// - A State that came in an Access-Challenge from server X: X only
    ///   (the EAP conversation lives there), or
    ///   [`ProxyError::ConversationServerDead`] while X is dead.
    /// - Otherwise (a new conversation, or a State we do not know): the live
    ///   servers, starting with the next one in turn (`balance =
    ///   "round_robin"`) or in `servers` order (`"failover"`).
    pub fn plan(
        &self,
        realm: usize,
        state: Option<&[u8]>,
        now: Instant,
    ) -> Result<Vec<(usize, HomeServer)>, ProxyError> {
        let mut live = self.candidates(realm, now);
        if let Some(state) = state {
            let owner = self
                .sticky
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&(realm, state.to_vec()), now);
            if let Some(j) = owner {
                live.retain(|(k, _)| *k == j);
                if live.is_empty() {
                    bump(&self.counters.conversation_server_dead);
                    return Err(ProxyError::ConversationServerDead);
                }
                return Ok(live);
            }
        }
        let round_robin = matches!(
            self.realms.get(realm).map(|r| &r.action),
            Some(RealmAction::Proxy {
                balance: Balance::RoundRobin,
                ..
            })
        );
        if round_robin
            && !live.is_empty()
            && let Some(c) = self.cursor.get(realm)
        {
            let n = c.fetch_add(1, Ordering::Relaxed) % live.len();
            live.rotate_left(n);
        }
        Ok(live)
    }

    /// Server `server` of realm `realm` answered a request carrying
    /// `request_state` with an Access-Challenge carrying `challenge_state`
    /// (or a final answer, `None`): the conversation's next request goes
    /// there too; a finished conversation is forgotten.
    pub fn answered(
        &self,
        realm: usize,
        server: usize,
        request_state: Option<&[u8]>,
        challenge_state: Option<&[u8]>,
        now: Instant,
    ) {
        let mut m = self.sticky.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = request_state {
            m.remove(&(realm, s.to_vec()));
        }
        if let Some(s) = challenge_state {
            let before = m.evicted();
            m.insert((realm, s.to_vec()), server, now);
            if m.evicted() > before {
                self.counters
                    .sticky_evicted
                    .fetch_add(m.evicted() - before, Ordering::Relaxed);
            }
        }
    }

    /// Whether a discovered home server (SRV target `host` at `addr`)
    /// carries a dead mark at `now`.
    pub fn discovered_is_dead(&self, host: &str, addr: std::net::SocketAddr, now: Instant) -> bool {
        self.discovered_dead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(host.to_string(), addr), now)
            .is_some()
    }

    /// The discovered home server (SRV target, address) whose
    /// Access-Challenge carried `state` for realm `realm_name`, if known.
    pub fn discovered_owner(
        &self,
        realm_name: &str,
        state: &[u8],
        now: Instant,
    ) -> Option<DiscoveredServer> {
        self.discovered_sticky
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(realm_name.to_string(), state.to_vec()), now)
    }

    /// [`Proxy::answered`] for a discovered home server.
    pub fn discovered_answered(
        &self,
        realm_name: &str,
        server: (&str, std::net::SocketAddr),
        request_state: Option<&[u8]>,
        challenge_state: Option<&[u8]>,
        now: Instant,
    ) {
        let mut m = self
            .discovered_sticky
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = request_state {
            m.remove(&(realm_name.to_string(), s.to_vec()));
        }
        if let Some(s) = challenge_state {
            let before = m.evicted();
            m.insert(
                (realm_name.to_string(), s.to_vec()),
                (server.0.to_string(), server.1),
                now,
            );
            if m.evicted() > before {
                self.counters
                    .sticky_evicted
                    .fetch_add(m.evicted() - before, Ordering::Relaxed);
            }
        }
    }

    /// Counts a request refused because its conversation's server is dead.
    pub(crate) fn count_conversation_server_dead(&self) {
        bump(&self.counters.conversation_server_dead);
    }

    /// Marks a discovered home server dead for `dead_time`.
    pub fn mark_discovered_dead(&self, host: &str, addr: std::net::SocketAddr, now: Instant) {
        bump(&self.counters.marked_dead);
        self.discovered_dead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((host.to_string(), addr), (), now);
    }

    /// Marks a discovered home server alive (it answered).
    pub fn mark_discovered_alive(&self, host: &str, addr: std::net::SocketAddr) {
        self.discovered_dead
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(host.to_string(), addr));
    }

    /// Marks server `server` of realm `realm` dead for `dead_time`.
    pub fn mark_dead(&self, realm: usize, server: usize, now: Instant) {
        bump(&self.counters.marked_dead);
        let mut dead = self.dead_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = dead.get_mut(realm).and_then(|d| d.get_mut(server)) {
            *slot = Some(now + self.settings.dead_time);
        }
    }

    /// Whether server `server` of realm `realm` carries a dead mark (expired
    /// or not): the shell probes it with Status-Server before using it again.
    pub fn was_dead(&self, realm: usize, server: usize) -> bool {
        let dead = self.dead_until.lock().unwrap_or_else(|e| e.into_inner());
        dead.get(realm)
            .and_then(|d| d.get(server))
            .is_some_and(Option::is_some)
    }

    /// Home servers (over all realms) carrying a dead mark that has not
    /// expired at `now`.
    pub fn dead_servers(&self, now: Instant) -> u64 {
        let dead = self.dead_until.lock().unwrap_or_else(|e| e.into_inner());
        dead.iter()
            .flatten()
            .filter(|d| d.is_some_and(|until| now < until))
            .count() as u64
    }

    /// Every home server as (realm, server, live at `now`).
    pub fn home_servers(&self, now: Instant) -> Vec<(String, String, bool)> {
        let dead = self.dead_until.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = Vec::new();
        for (i, r) in self.realms.iter().enumerate() {
            if let RealmAction::Proxy { servers, .. } = &r.action {
                for (j, s) in servers.iter().enumerate() {
                    let up = dead
                        .get(i)
                        .and_then(|d| d.get(j))
                        .copied()
                        .flatten()
                        .is_none_or(|until| now >= until);
                    out.push((r.name.clone(), s.uri.clone(), up));
                }
            }
        }
        out
    }

    /// Marks server `server` of realm `realm` alive (it answered).
    pub fn mark_alive(&self, realm: usize, server: usize) {
        let mut dead = self.dead_until.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = dead.get_mut(realm).and_then(|d| d.get_mut(server)) {
            *slot = None;
        }
    }

    /// The shared secret with realm `realm`'s home servers.
    pub fn secret(&self, realm: usize) -> Option<&SecretBytes> {
        match &self.realms.get(realm)?.action {
            RealmAction::Proxy { secret, .. } => Some(secret),
            _ => None,
        }
    }

    /// Counts an answer passed on, a request with no answer, a bad datagram.
    pub(crate) fn count_answered(&self) {
        bump(&self.counters.answered);
    }

    pub(crate) fn count_no_live_server(&self) {
        bump(&self.counters.no_live_server);
    }

    pub(crate) fn count_bad_answer(&self) {
        bump(&self.counters.bad_answers);
    }

    pub(crate) fn count_discovery_failed(&self) {
        bump(&self.counters.discovery_failed);
    }

    pub(crate) fn count_discovery_negative_cached(&self) {
        bump(&self.counters.discovery_negative_cached);
    }

    /// Whether realm `realm` has `action = "discover"`.
    pub fn is_discover(&self, realm: usize) -> bool {
        self.realms
            .get(realm)
            .is_some_and(|r| matches!(r.action, RealmAction::Discover))
    }

    pub(crate) fn count_forwarded(&self) {
        bump(&self.counters.forwarded);
    }

    /// The counters since start.
    pub fn counters(&self) -> ProxyCounters {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ProxyCounters {
            forwarded: g(&c.forwarded),
            answered: g(&c.answered),
            no_live_server: g(&c.no_live_server),
            rejected_by_realm: g(&c.rejected_by_realm),
            bad_answers: g(&c.bad_answers),
            marked_dead: g(&c.marked_dead),
            discovery_failed: g(&c.discovery_failed),
            discovery_negative_cached: g(&c.discovery_negative_cached),
            conversation_server_dead: g(&c.conversation_server_dead),
            sticky_evicted: g(&c.sticky_evicted),
            accounting_proxied: g(&c.accounting_proxied),
            accounting_unanswered: g(&c.accounting_unanswered),
        }
    }
}

/// One request on its way to a home server: the attributes to send
/// (everything from the NAS but Message-Authenticator, then Operator-Name
/// if configured and absent, then our Proxy-State).
#[derive(Debug)]
pub struct Forward {
    /// Realm number in the table.
    pub realm: usize,
    /// The attributes, encoded, after the leading Message-Authenticator.
    attrs: Vec<u8>,
    /// Our Proxy-State value.
    proxy_state: [u8; 8],
    /// The User-Name's realm (for logs).
    pub realm_name: String,
    /// The NAS's State (RFC 2865 §5.24): which conversation this continues.
    pub state: Option<Vec<u8>>,
    /// Access-Request, or Accounting-Request ([`acct`]).
    code: Code,
    /// An Accounting-Request from the NAS carried Message-Authenticator:
    /// ours carries one too (Access-Requests always do).
    sign: bool,
}

impl Forward {
    /// Prepares `req` (already checked by the RADIUS server) for realm `realm`.
    pub fn new(
        req: &wire::Request<'_>,
        realm: usize,
        operator_name: Option<&str>,
        proxy_state: [u8; 8],
    ) -> Result<Self, ProxyError> {
        let mut attrs = Vec::with_capacity(req.bytes().len());
        let mut has_operator = false;
        for a in req.attrs() {
            match a.typ {
                crypto::MESSAGE_AUTHENTICATOR => continue,
                USER_PASSWORD => return Err(ProxyError::UserPassword),
                OPERATOR_NAME => has_operator = true,
                _ => {}
            }
            push_attr(&mut attrs, a.typ, a.value)?;
        }
        if let (Some(op), false) = (operator_name, has_operator) {
            push_attr(&mut attrs, OPERATOR_NAME, op.as_bytes())?;
        }
        push_attr(&mut attrs, PROXY_STATE, &proxy_state)?;
        if 20 + 18 + attrs.len() > 4096 {
            return Err(ProxyError::TooLarge);
        }
        let realm_name = req.first(USER_NAME).and_then(realm_of).unwrap_or_default();
        Ok(Forward {
            realm,
            attrs,
            proxy_state,
            realm_name,
            state: req.first(STATE).map(<[u8]>::to_vec),
            code: Code::AccessRequest,
            sign: true,
        })
    }

    /// Whether this is an Accounting-Request ([`acct`]).
    pub fn is_accounting(&self) -> bool {
        self.code == Code::AccountingRequest
    }

    /// The Access-Request for a home server: `identifier`, Request
    /// Authenticator `authenticator` (random), Message-Authenticator first,
    /// signed with `secret` (RFC 3579 §3.2).
    ///
    /// An Accounting-Request ignores `authenticator`: its Request
    /// Authenticator is computed with `secret` (RFC 2866 §3); take the one
    /// to check the answer with from the packet's octets 4..20.
    pub fn request(&self, identifier: u8, authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        use hmac::Mac;
        if self.is_accounting() {
            return acct::request(&self.attrs, self.sign, identifier, secret);
        }
        let mut p = Vec::with_capacity(38 + self.attrs.len());
        p.extend_from_slice(&[Code::AccessRequest as u8, identifier, 0, 0]);
        p.extend_from_slice(authenticator);
        p.extend_from_slice(&[crypto::MESSAGE_AUTHENTICATOR, 18]);
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&self.attrs);
        let len = (p.len() as u16).to_be_bytes();
        p[2..4].copy_from_slice(&len);
        let mut m = crypto::hmac_md5(secret);
        m.update(&p);
        let ma = m.finalize().into_bytes();
        p[22..38].copy_from_slice(&ma);
        p
    }

    /// Checks a home server's datagram against the request we sent
    /// (`identifier`, `authenticator`, `home_secret`) and turns it into the
    /// response for the NAS: identifier `nas_identifier`, MPPE keys
    /// re-encrypted with `nas_secret` and `nas_authenticator`, Proxy-State
    /// and Message-Authenticator left out (the RADIUS server adds the NAS's
    /// Proxy-State and signs). EAP and the rest pass unchanged.
    #[allow(clippy::too_many_arguments)]
    pub fn answer(
        &self,
        datagram: &[u8],
        identifier: u8,
        authenticator: &[u8; 16],
        home_secret: &[u8],
        nas_identifier: u8,
        nas_secret: &[u8],
        nas_authenticator: &[u8; 16],
    ) -> Result<wire::Response, AnswerError> {
        self.answer_with_state(
            datagram,
            identifier,
            authenticator,
            home_secret,
            nas_identifier,
            nas_secret,
            nas_authenticator,
        )
        .map(|(r, _)| r)
    }

    /// [`Forward::answer`], and the State of an Access-Challenge (`None`
    /// for a final answer): what [`Proxy::answered`] remembers.
    #[allow(clippy::too_many_arguments)]
    pub fn answer_with_state(
        &self,
        datagram: &[u8],
        identifier: u8,
        authenticator: &[u8; 16],
        home_secret: &[u8],
        nas_identifier: u8,
        nas_secret: &[u8],
        nas_authenticator: &[u8; 16],
    ) -> Result<(wire::Response, Option<Vec<u8>>), AnswerError> {
        let resp = wire::Request::new_checked(datagram).map_err(|_| AnswerError::Malformed)?;
        if resp.identifier() != identifier {
            return Err(AnswerError::Identifier);
        }
        let code = resp.code();
        if self.is_accounting() {
            return acct::answer(
                &resp,
                authenticator,
                home_secret,
                &self.proxy_state,
                nas_identifier,
            )
            .map(|r| (r, None));
        }
        if !crypto::check_response(resp.bytes(), authenticator, home_secret) {
            return Err(AnswerError::BadAuthenticator);
        }
        if !matches!(
            code,
            Code::AccessAccept | Code::AccessReject | Code::AccessChallenge
        ) {
            return Err(AnswerError::UnexpectedCode);
        }
        if !resp.all(PROXY_STATE).any(|v| v == self.proxy_state) {
            return Err(AnswerError::ProxyStateMissing);
        }
        let mut out = wire::Response::new(code, nas_identifier);
        for a in resp.attrs() {
            match a.typ {
                crypto::MESSAGE_AUTHENTICATOR | PROXY_STATE => {}
                crypto::VENDOR_SPECIFIC if is_mppe_key(a.value) => {
                    let key = zeroize::Zeroizing::new(
                        crypto::mppe_key_decrypt(a.value, home_secret, authenticator)
                            .ok_or(AnswerError::Encode)?,
                    );
                    let mut salt = [0u8; 2];
                    crate::hss::rng::fill(&mut salt).map_err(|_| AnswerError::Encode)?;
                    // Send (16) and Recv (17) salts differ in the low bit (RFC 2548 §2.4.2).
                    salt[1] = (salt[1] & !1) | (a.value[4] & 1);
                    out.attr(
                        crypto::VENDOR_SPECIFIC,
                        &crypto::mppe_key_vsa(
                            a.value[4],
                            &key,
                            nas_secret,
                            nas_authenticator,
                            salt,
                        ),
                    );
                }
                _ => {
                    out.attr(a.typ, a.value);
                }
            }
        }
        let state = (code == Code::AccessChallenge)
            .then(|| resp.first(STATE).map(<[u8]>::to_vec))
            .flatten();
        Ok((out, state))
    }
}

/// A Status-Server (RFC 5997 §3) to probe a home server: Message-Authenticator
/// only, signed with `secret`.
pub fn status_server(identifier: u8, authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
    use hmac::Mac;
    let mut p = vec![Code::StatusServer as u8, identifier, 0, 38];
    p.extend_from_slice(authenticator);
    p.extend_from_slice(&[crypto::MESSAGE_AUTHENTICATOR, 18]);
    p.extend_from_slice(&[0; 16]);
    let mut m = crypto::hmac_md5(secret);
    m.update(&p);
    let ma = m.finalize().into_bytes();
    p[22..38].copy_from_slice(&ma);
    p
}

/// Whether `datagram` is the home server's Access-Accept (authentication
/// port) or Accounting-Response (accounting port) to our [`status_server`]
/// (RFC 5997 §3: authenticators checked).
pub fn is_status_answer(
    datagram: &[u8],
    identifier: u8,
    authenticator: &[u8; 16],
    secret: &[u8],
) -> bool {
    wire::Request::new_checked(datagram).is_ok_and(|r| {
        matches!(r.code(), Code::AccessAccept | Code::AccountingResponse)
            && r.identifier() == identifier
            && crypto::check_response(r.bytes(), authenticator, secret)
    })
}

/// An MS-MPPE-Send-Key or -Recv-Key VSA value (RFC 2548 §2.4.2, §2.4.3).
fn is_mppe_key(v: &[u8]) -> bool {
    v.len() >= 6
        && v[..4] == crypto::VENDOR_MICROSOFT.to_be_bytes()
        && matches!(v[4], crypto::MS_MPPE_SEND_KEY | crypto::MS_MPPE_RECV_KEY)
}

fn push_attr(buf: &mut Vec<u8>, typ: u8, value: &[u8]) -> Result<(), ProxyError> {
    if value.len() > wire::MAX_VALUE {
        return Err(ProxyError::TooLarge);
    }
    buf.push(typ);
    buf.push((value.len() + 2) as u8);
    buf.extend_from_slice(value);
    Ok(())
}

#[cfg(test)]
mod tests;
