//! The RADIUS exchange (RFC 2865, 2866, 3579, 5080, 5997, 2548), sans-IO:
//! [`RadiusServer::receive`] takes the listener, the client's address, one
//! datagram and `now`, and returns the reply (if any) and effects for the
//! log — or, when the request needs the subscriber store, a [`Job`]. The
//! shell runs [`RadiusServer::perform`] for it on a store worker
//! ([`pool`]: it may block) and [`RadiusServer::resume`] makes the reply,
//! again without waiting. [`RadiusServer::handle`] does all of it on the
//! calling thread. Requests are read through a checked, borrowed view
//! ([`wire::Request`]); the `radius` crate decodes accounting attributes;
//! Message-Authenticator, the MS-MPPE keys and the duplicate cache are here.
//!
//! Everything takes `&self`: several socket and store workers call it at
//! once. No lock shared by other requests is held while anything slow runs:
//! the duplicate cache and the EAP session table each take their own short
//! lock to look up or put back an entry.

mod acct_proxy;
pub mod crypto;
pub mod debug;
pub mod dup;
pub mod mmsg;
pub mod pool;
pub mod udp;
pub mod wire;

use crate::config::{Client, Config};
use crate::eap_server::{
    AuthResult, Deferred, EapServer, OsRandom, Outcome, Performed, Reject, Report, Step as EapStep,
};
use crate::hss::{AccountingLog, AccountingRecord, Hss};
use crypto::{KeyedMac, MaCheck};
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866, rfc2869};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Which socket a datagram arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The authentication port (Access-Request, Status-Server).
    Auth,
    /// The accounting port (Accounting-Request, Status-Server).
    Accounting,
}

/// A client named by its transport ([`RadiusServer::add_transport_clients`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientId(usize);

/// Why a datagram got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The source address matches no `[[client]]`.
    UnknownClient,
    /// The datagram is not a RADIUS packet (`radius` decode error).
    Malformed,
    /// Message-Authenticator missing where required (RFC 3579 §3.2, BlastRADIUS).
    MissingMessageAuthenticator,
    /// Message-Authenticator or Accounting Request Authenticator wrong.
    BadAuthenticator,
    /// A code this listener does not serve.
    UnexpectedCode,
    /// The EAP server discarded the EAP packet (RFC 3748 §4.1).
    EapDiscarded,
    /// Accounting could not be recorded (the NAS will retry).
    AccountingNotRecorded,
    /// The response could not be encoded.
    EncodeFailed,
    /// The store workers' queue is full (the NAS will retransmit).
    StoreBusy,
}

impl DropReason {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::UnknownClient => "unknown client",
            DropReason::Malformed => "malformed packet",
            DropReason::MissingMessageAuthenticator => "no Message-Authenticator",
            DropReason::BadAuthenticator => "bad authenticator",
            DropReason::UnexpectedCode => "unexpected code",
            DropReason::EapDiscarded => "EAP packet discarded",
            DropReason::AccountingNotRecorded => "accounting not recorded",
            DropReason::EncodeFailed => "response encoding failed",
            DropReason::StoreBusy => "store workers busy",
        }
    }
}

/// Something the shell should log or count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The datagram was dropped.
    Dropped(DropReason),
    /// A retransmission got the cached response (RFC 5080 §2.2.2).
    DuplicateAnswered,
    /// A retransmission arrived while its original was in progress: dropped,
    /// the original's answer follows (RFC 5080 §2.2.2).
    DuplicateInProgress,
    /// An authentication finished.
    AuthFinished {
        /// The client's name (shared with its [`ClientEntry`]: no copy per authentication).
        client: Arc<str>,
        /// What happened.
        report: Report,
    },
    /// An accounting record was stored.
    AccountingRecorded {
        /// The client's name.
        client: String,
        /// Acct-Status-Type.
        status_type: u32,
    },
}

/// Counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub received: u64,
    /// Responses sent (including cached ones).
    pub answered: u64,
    /// Dropped: unknown client.
    pub unknown_client: u64,
    /// Dropped: decode failure.
    pub malformed: u64,
    /// Dropped: Message-Authenticator missing.
    pub missing_message_authenticator: u64,
    /// Dropped: bad authenticator.
    pub bad_authenticator: u64,
    /// Dropped: anything else.
    pub other_drops: u64,
    /// Duplicates answered from the cache.
    pub duplicates: u64,
    /// Duplicates dropped because their original was in progress.
    pub duplicates_in_progress: u64,
    /// Cached answers pushed out before `duplicate_window` by `duplicate_cache_size`.
    pub duplicate_early_evictions: u64,
    /// Requests handed to the store workers.
    pub deferred: u64,
    /// Dropped: the store workers' queue was full.
    pub store_busy: u64,
    /// Authentications ended with Access-Accept.
    pub accepted: u64,
    /// Of `accepted`, those by EAP-SIM (RFC 4186, the weakest method).
    pub accepted_sim: u64,
    /// Authentications ended with Access-Reject because of the store ([`Reject::Hss`]).
    pub rejected_by_store: u64,
    /// Authentications ended with Access-Reject for any other [`Reject`].
    pub rejected: u64,
    /// Authentications ended with Access-Reject: the subscriber is barred ([`Reject::Barred`]).
    pub rejected_barred: u64,
}

/// [`Counters`], updated by several workers at once.
#[derive(Default)]
struct AtomicCounters {
    received: AtomicU64,
    answered: AtomicU64,
    unknown_client: AtomicU64,
    malformed: AtomicU64,
    missing_message_authenticator: AtomicU64,
    bad_authenticator: AtomicU64,
    other_drops: AtomicU64,
    duplicates: AtomicU64,
    duplicates_in_progress: AtomicU64,
    deferred: AtomicU64,
    store_busy: AtomicU64,
    accepted: AtomicU64,
    accepted_sim: AtomicU64,
    rejected_by_store: AtomicU64,
    rejected: AtomicU64,
    rejected_barred: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl AtomicCounters {
    fn snapshot(&self) -> Counters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            received: get(&self.received),
            answered: get(&self.answered),
            unknown_client: get(&self.unknown_client),
            malformed: get(&self.malformed),
            missing_message_authenticator: get(&self.missing_message_authenticator),
            bad_authenticator: get(&self.bad_authenticator),
            other_drops: get(&self.other_drops),
            duplicates: get(&self.duplicates),
            duplicates_in_progress: get(&self.duplicates_in_progress),
            duplicate_early_evictions: 0,
            deferred: get(&self.deferred),
            store_busy: get(&self.store_busy),
            accepted: get(&self.accepted),
            accepted_sim: get(&self.accepted_sim),
            rejected_by_store: get(&self.rejected_by_store),
            rejected: get(&self.rejected),
            rejected_barred: get(&self.rejected_barred),
        }
    }
}

/// A client with its secret-keyed HMAC-MD5 state (keyed once). A request
/// holds its client's entry to the end, so a reload that changes the
/// secret does not change it under a request in flight.
pub struct ClientEntry {
    client: Client,
    /// `client.name`, shared by the log lines of its authentications.
    name: Arc<str>,
    keyed: KeyedMac,
    /// Its Prometheus series (by name: a reload keeps them).
    metrics: crate::metrics::ClientMetrics,
}

impl ClientEntry {
    fn new(client: &Client, metrics: &crate::metrics::Metrics) -> Arc<Self> {
        Arc::new(ClientEntry {
            client: client.clone(),
            name: Arc::from(client.name.as_str()),
            keyed: crypto::hmac_md5(client.secret.expose()),
            metrics: metrics.client(&client.name),
        })
    }
}

impl std::fmt::Debug for ClientEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ClientEntry")
            .field(&self.client.name)
            .finish()
    }
}

/// The RADIUS server core.
pub struct RadiusServer {
    /// The clients matched by source address, first match wins: swapped
    /// whole by [`RadiusServer::set_clients`] (SIGHUP), read without a lock.
    clients: arc_swap::ArcSwap<Vec<Arc<ClientEntry>>>,
    /// Clients authenticated by their transport ([`RadiusServer::add_transport_clients`],
    /// RadSec): never matched by address; [`ClientId`] indexes them.
    transport_clients: Vec<Arc<ClientEntry>>,
    eap: EapServer,
    accounting: Arc<dyn AccountingLog>,
    session_timeout_secs: u32,
    cache: dup::DupCache,
    counters: AtomicCounters,
    /// The realm table (`[[realm]]`); `None`: everything is local.
    /// Swapped whole on SIGHUP ([`RadiusServer::set_proxy`]).
    proxy: arc_swap::ArcSwapOption<crate::proxy::Proxy>,
    metrics: Arc<crate::metrics::Metrics>,
    /// Requests from no known client.
    unknown_metrics: crate::metrics::ClientMetrics,
    /// `[cui]`: the key Chargeable-User-Identities are derived with.
    cui: Option<Arc<crate::cui::CuiKey>>,
}

/// The reply to send (if any) and what to log.
pub type Reply = (Option<Vec<u8>>, Vec<Effect>);

/// What [`RadiusServer::receive`] and [`RadiusServer::resume`] give.
#[derive(Debug)]
pub enum Handled {
    /// Send this now (or nothing).
    Reply(Reply),
    /// The request needs the subscriber store: run [`RadiusServer::perform`]
    /// on a store worker, then [`RadiusServer::resume`].
    Deferred(Job),
}

/// The response could not be encoded or signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("response encoding failed")]
pub struct EncodeFailed;

/// What a response needs from its request.
#[derive(Debug)]
struct ReplyTo {
    /// The client, as configured when the request arrived.
    client: Arc<ClientEntry>,
    identifier: u8,
    authenticator: [u8; 16],
    /// Proxy-State attributes, copied unmodified and in order (RFC 2865 §5.33).
    proxy_state: Vec<Vec<u8>>,
    /// The request asked for a Chargeable-User-Identity (RFC 4372) and
    /// `[cui]` is configured: the operator to derive it for ([`crate::cui`]).
    cui_operator: Option<Box<[u8]>>,
}

/// A request waiting for the store: its dup-cache entry stays "in progress"
/// until [`RadiusServer::resume`] or [`RadiusServer::abandon`] ends it.
#[derive(Debug)]
pub struct Job(Box<JobInner>);

#[derive(Debug)]
struct JobInner {
    head: Head,
    work: Work,
}

/// Where a job's reply goes.
#[derive(Debug)]
struct Head {
    listener: Listener,
    from: SocketAddr,
    key: dup::RequestKey,
    to: ReplyTo,
}

#[derive(Debug)]
enum Work {
    /// An EAP step.
    Eap(Deferred),
    /// An accounting record to store (RFC 2866 §4.1: answered once stored).
    Accounting(AccountingRecord),
    /// A request for a home server ([`crate::proxy`]).
    /// Forwarded with the realm table it was routed by (a reload may
    /// replace the table meanwhile).
    Proxy(Arc<crate::proxy::Proxy>, crate::proxy::Forward),
}

/// A [`Job`] whose store work is done.
#[derive(Debug)]
pub struct PerformedJob(Box<PerformedInner>);

#[derive(Debug)]
struct PerformedInner {
    head: Head,
    done: WorkDone,
}

#[derive(Debug)]
enum WorkDone {
    Eap(Performed),
    Accounting(Result<AccountingRecord, crate::hss::HssError>),
    Proxy(
        String,
        Result<crate::proxy::udp::Answered, crate::proxy::ProxyError>,
    ),
}

impl Job {
    /// A request for a home server ([`crate::proxy`]): run it with
    /// [`RadiusServer::perform_async`] ([`crate::proxy::aio::ProxyLane`]).
    pub fn is_proxy(&self) -> bool {
        matches!(self.0.work, Work::Proxy(..))
    }

    /// The socket the reply goes out on.
    pub fn listener(&self) -> Listener {
        self.0.head.listener
    }

    /// Where the reply goes.
    pub fn from(&self) -> SocketAddr {
        self.0.head.from
    }
}

/// An answer now, or a job for the store workers.
enum Step {
    Now(Result<Option<Vec<u8>>, EncodeFailed>, Vec<Effect>),
    Later(Work),
}

impl RadiusServer {
    /// A server for `cfg` using `hss` for vectors and `accounting` for records.
    pub fn new(cfg: &Config, hss: Arc<dyn Hss>, accounting: Arc<dyn AccountingLog>) -> Self {
        let metrics = Arc::new(crate::metrics::Metrics::new());
        Self::with_metrics(cfg, hss, accounting, metrics)
    }

    /// As [`RadiusServer::new`], counting into `metrics`.
    pub fn with_metrics(
        cfg: &Config,
        hss: Arc<dyn Hss>,
        accounting: Arc<dyn AccountingLog>,
        metrics: Arc<crate::metrics::Metrics>,
    ) -> Self {
        Self {
            clients: arc_swap::ArcSwap::from_pointee(
                cfg.clients
                    .iter()
                    .map(|c| ClientEntry::new(c, &metrics))
                    .collect(),
            ),
            transport_clients: Vec::new(),
            eap: EapServer::new(hss, &cfg.eap),
            accounting,
            session_timeout_secs: u32::try_from(cfg.eap.session_timeout.as_secs()).unwrap_or(30),
            cache: dup::DupCache::new(cfg.radius.duplicate_window, cfg.radius.duplicate_cache_size),
            counters: AtomicCounters::default(),
            proxy: arc_swap::ArcSwapOption::from(
                (!cfg.proxy.realms.is_empty())
                    .then(|| Arc::new(crate::proxy::Proxy::new(&cfg.proxy))),
            ),
            unknown_metrics: metrics.unknown_client(),
            metrics,
            cui: cfg.cui.clone(),
        }
    }

    /// Replaces the clients and their secrets (SIGHUP). Requests already
    /// received finish with the client they arrived under; EAP sessions are
    /// kept (they are keyed by State, not by client). Transport clients
    /// (RadSec) are not affected. A client keeps its metric series by name.
    pub fn set_clients(&self, clients: &[Client]) {
        self.clients.store(Arc::new(
            clients
                .iter()
                .map(|c| ClientEntry::new(c, &self.metrics))
                .collect(),
        ));
    }

    /// The series of `client`, or of requests from no known client.
    fn client_metrics<'a>(
        &'a self,
        client: Option<&'a Arc<ClientEntry>>,
    ) -> &'a crate::metrics::ClientMetrics {
        client.map_or(&self.unknown_metrics, |c| &c.metrics)
    }

    /// Home servers marked dead now, when a realm table is configured.
    pub fn proxy_dead_servers(&self) -> Option<u64> {
        self.proxy
            .load()
            .as_ref()
            .map(|p| p.dead_servers(std::time::Instant::now()))
    }

    /// Every proxied realm's home servers as (realm, server, live now).
    pub fn proxy_home_servers(&self) -> Vec<(String, String, bool)> {
        self.proxy
            .load()
            .as_ref()
            .map(|p| p.home_servers(std::time::Instant::now()))
            .unwrap_or_default()
    }

    /// Replaces the realm table (SIGHUP): requests already routed finish
    /// with the table they were routed by; the counters run on.
    pub fn set_proxy(&self, cfg: &crate::proxy::ProxyConfig) {
        let next = if cfg.realms.is_empty() {
            None
        } else {
            Some(Arc::new(match self.proxy.load_full() {
                Some(old) => old.reconfigured(cfg),
                None => crate::proxy::Proxy::new(cfg),
            }))
        };
        self.proxy.store(next);
    }

    /// The proxy's counters, when a realm table is configured.
    pub fn proxy_counters(&self) -> Option<crate::proxy::ProxyCounters> {
        self.proxy.load().as_ref().map(|p| p.counters())
    }

    /// Adds clients that their transport authenticates (RadSec: a TLS
    /// certificate; shared secret `radsec`, RFC 6614 §2.3). They are never
    /// matched by source address; [`RadiusServer::receive_as`] names them.
    pub fn add_transport_clients(&mut self, clients: &[Client]) -> Vec<ClientId> {
        let first = self.transport_clients.len();
        let entries: Vec<_> = clients
            .iter()
            .map(|c| ClientEntry::new(c, &self.metrics))
            .collect();
        self.transport_clients.extend(entries);
        (first..self.transport_clients.len())
            .map(ClientId)
            .collect()
    }

    /// The Prometheus metrics this server counts into.
    pub fn metrics(&self) -> &Arc<crate::metrics::Metrics> {
        &self.metrics
    }

    /// Turns on `[privacy]` in the EAP server (issue 8).
    pub fn set_privacy(&mut self, privacy: Arc<crate::privacy::PrivacyServer>) {
        self.eap.set_privacy(privacy);
    }

    /// Replaces the `[privacy]` keys and settings of the running server (SIGHUP).
    pub fn replace_privacy(&self, privacy: Arc<crate::privacy::PrivacyServer>) {
        self.eap.replace_privacy(privacy);
    }

    /// The counters since start.
    pub fn counters(&self) -> Counters {
        Counters {
            duplicate_early_evictions: self.cache.stats().early_evictions,
            ..self.counters.snapshot()
        }
    }

    /// The name of the `[[client]]` whose network holds `from` (first match, as for requests).
    pub fn client_name(&self, from: SocketAddr) -> Option<String> {
        self.clients
            .load()
            .iter()
            .find(|c| c.client.network.contains(from.ip()))
            .map(|c| c.client.name.clone())
    }

    /// The name of a client its transport authenticated ([`RadiusServer::add_transport_clients`]).
    pub fn transport_client_name(&self, id: ClientId) -> Option<&str> {
        self.transport_clients
            .get(id.0)
            .map(|c| c.client.name.as_str())
    }

    /// EAP sessions held (waiting for the peer or for the store).
    pub fn eap_sessions(&self) -> usize {
        self.eap.session_count()
    }

    fn drop(&self, client: Option<&Arc<ClientEntry>>, r: DropReason) -> Reply {
        self.client_metrics(client).dropped(r);
        let c = &self.counters;
        bump(match r {
            DropReason::UnknownClient => &c.unknown_client,
            DropReason::Malformed => &c.malformed,
            DropReason::MissingMessageAuthenticator => &c.missing_message_authenticator,
            DropReason::BadAuthenticator => &c.bad_authenticator,
            DropReason::StoreBusy => &c.store_busy,
            _ => &c.other_drops,
        });
        (None, vec![Effect::Dropped(r)])
    }

    /// Handles one datagram from `from` on `listener` on the calling
    /// thread, store calls included (tests, fuzzing, one-shot tools).
    pub fn handle(
        &self,
        listener: Listener,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Reply {
        let mut step = self.receive(listener, from, datagram, now);
        loop {
            match step {
                Handled::Reply(r) => return r,
                Handled::Deferred(job) => step = self.resume(self.perform(job), now),
            }
        }
    }

    /// Handles one datagram from `from` on `listener` without waiting: a
    /// request that needs the subscriber store comes back as a [`Job`].
    pub fn receive(
        &self,
        listener: Listener,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Handled {
        bump(&self.counters.received);
        let Some(client) = self
            .clients
            .load()
            .iter()
            .find(|c| c.client.network.contains(from.ip()))
            .cloned()
        else {
            return Handled::Reply(self.drop(None, DropReason::UnknownClient));
        };
        self.receive_client(listener, client, from, datagram, now)
    }

    /// As [`RadiusServer::receive`] for a request whose transport already
    /// named its client (RadSec). `from` keys the duplicate cache.
    pub fn receive_as(
        &self,
        listener: Listener,
        client: ClientId,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Handled {
        bump(&self.counters.received);
        let Some(client) = self.transport_clients.get(client.0).cloned() else {
            return Handled::Reply(self.drop(None, DropReason::UnknownClient));
        };
        self.receive_client(listener, client, from, datagram, now)
    }

    fn receive_client(
        &self,
        listener: Listener,
        client: Arc<ClientEntry>,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Handled {
        let (cl, keyed) = (&client.client, &client.keyed);
        let secret = cl.secret.expose();
        // A checked, borrowed view: no per-attribute allocation.
        let Ok(req) = wire::Request::new_checked(datagram) else {
            return Handled::Reply(self.drop(Some(&client), DropReason::Malformed));
        };
        self.client_metrics(Some(&client))
            .request(datagram.first().copied().unwrap_or(0));
        // Octets beyond Length are padding (RFC 2865 §3).
        let raw = req.bytes();
        let req_auth = req.authenticator();
        let code = req.code();
        let ma = match code {
            Code::AccountingRequest => {
                if !Packet::is_authentic_request(raw, secret) {
                    return Handled::Reply(self.drop(Some(&client), DropReason::BadAuthenticator));
                }
                match crypto::check_request_keyed(raw, keyed, true) {
                    MaCheck::Invalid
                        if crypto::check_request_keyed(raw, keyed, false) != MaCheck::Valid =>
                    {
                        MaCheck::Invalid
                    }
                    MaCheck::Invalid => MaCheck::Valid,
                    m => m,
                }
            }
            _ => crypto::check_request_keyed(raw, keyed, false),
        };
        if ma == MaCheck::Invalid {
            return Handled::Reply(self.drop(Some(&client), DropReason::BadAuthenticator));
        }
        let has_eap = req.first(rfc2869::EAP_MESSAGE_TYPE).is_some();
        let ma_required = match code {
            // RFC 3579 §3.2: always with EAP-Message; BlastRADIUS: per client.
            Code::AccessRequest => cl.require_message_authenticator || has_eap,
            // RFC 5997 §3.
            Code::StatusServer => true,
            _ => false,
        };
        if ma_required && ma == MaCheck::Missing {
            return Handled::Reply(
                self.drop(Some(&client), DropReason::MissingMessageAuthenticator),
            );
        }
        let to = ReplyTo {
            client: client.clone(),
            identifier: req.identifier(),
            authenticator: req_auth,
            proxy_state: req
                .all(rfc2865::PROXY_STATE_TYPE)
                .map(<[u8]>::to_vec)
                .collect(),
            cui_operator: self
                .cui
                .as_ref()
                .and_then(|_| crate::cui::requested(&req, &client.client.name)),
        };

        // --- duplicate detection (RFC 5080 §2.2.2): begin ---
        let key = (from, req.identifier(), req_auth);
        let cached = matches!(
            (code, listener),
            (Code::AccessRequest, Listener::Auth) | (Code::AccountingRequest, Listener::Accounting)
        );
        if cached {
            match self.cache.begin(&key, now) {
                dup::Lookup::New => {}
                dup::Lookup::Answered(bytes) => {
                    bump(&self.counters.duplicates);
                    bump(&self.counters.answered);
                    self.client_metrics(Some(&client)).duplicate_hit();
                    return Handled::Reply((Some(bytes), vec![Effect::DuplicateAnswered]));
                }
                dup::Lookup::InProgress => {
                    bump(&self.counters.duplicates_in_progress);
                    self.client_metrics(Some(&client)).duplicate_dropped();
                    return Handled::Reply((None, vec![Effect::DuplicateInProgress]));
                }
            }
        }
        let step = match (code, listener) {
            (Code::StatusServer, _) => {
                let resp = wire::Response::new(
                    match listener {
                        Listener::Auth => Code::AccessAccept,
                        Listener::Accounting => Code::AccountingResponse,
                    },
                    to.identifier,
                );
                Step::Now(self.finish(resp, &to), Vec::new())
            }
            (Code::AccessRequest, Listener::Auth) => self.access_request(&to, &req, now),
            (Code::AccountingRequest, Listener::Accounting) => {
                if let Some(step) = self.route_accounting(&to, &req) {
                    step
                } else {
                    // Accounting is off the authentication path: the `radius`
                    // crate's typed lookups read its attributes.
                    let Ok(packet) = Packet::decode(raw, secret) else {
                        self.cache.abandon(&key);
                        return Handled::Reply(self.drop(Some(&client), DropReason::Malformed));
                    };
                    Step::Later(Work::Accounting(accounting_record(cl, &packet)))
                }
            }
            _ => return Handled::Reply(self.drop(Some(&client), DropReason::UnexpectedCode)),
        };
        match step {
            Step::Now(reply, effects) => {
                Handled::Reply(self.conclude(&client, cached.then_some(&key), reply, effects, now))
            }
            Step::Later(work) => {
                bump(&self.counters.deferred);
                Handled::Deferred(Job(Box::new(JobInner {
                    head: Head {
                        listener,
                        from,
                        key,
                        to,
                    },
                    work,
                })))
            }
        }
    }

    /// Does a job's store work (blocks: the store may be slow or remote).
    /// Holds no lock of the server's.
    pub fn perform(&self, job: Job) -> PerformedJob {
        let JobInner { head, work } = *job.0;
        let done = match work {
            Work::Eap(d) => WorkDone::Eap(self.eap.perform(d)),
            Work::Accounting(rec) => {
                WorkDone::Accounting(self.accounting.record(&rec).map(|()| rec))
            }
            Work::Proxy(p, fwd) => {
                let r = crate::proxy::udp::exchange(
                    &p,
                    &fwd,
                    head.to.identifier,
                    head.to.client.client.secret.expose(),
                    &head.to.authenticator,
                );
                WorkDone::Proxy(fwd.realm_name, r)
            }
        };
        PerformedJob(Box::new(PerformedInner { head, done }))
    }

    /// [`RadiusServer::perform`] for a proxied request without holding a
    /// thread while the home server is waited for; other jobs are performed
    /// as by `perform` (blocking).
    pub async fn perform_async(&self, job: Job) -> PerformedJob {
        let JobInner { head, work } = *job.0;
        let Work::Proxy(p, fwd) = work else {
            return self.perform(Job(Box::new(JobInner { head, work })));
        };
        let realm_name = fwd.realm_name.clone();
        let r = crate::proxy::aio::exchange(
            p,
            Arc::new(fwd),
            head.to.identifier,
            zeroize::Zeroizing::new(head.to.client.client.secret.expose().to_vec()),
            head.to.authenticator,
        )
        .await;
        PerformedJob(Box::new(PerformedInner {
            head,
            done: WorkDone::Proxy(realm_name, r),
        }))
    }

    /// Makes the reply from a performed job, without waiting (or hands
    /// back the job when the EAP step needs the store once more).
    pub fn resume(&self, p: PerformedJob, now: Instant) -> Handled {
        let PerformedInner { head, done } = *p.0;
        let to = &head.to;
        let (reply, effects) = match done {
            WorkDone::Eap(performed) => match self.eap.resume(performed, now, &mut OsRandom) {
                EapStep::Done(outcome) => self.eap_reply(to, outcome),
                EapStep::Deferred(d) => {
                    return Handled::Deferred(Job(Box::new(JobInner {
                        head,
                        work: Work::Eap(d),
                    })));
                }
            },
            WorkDone::Accounting(Ok(rec)) => {
                let resp = wire::Response::new(Code::AccountingResponse, to.identifier);
                (
                    self.finish_accounting(resp, to),
                    vec![Effect::AccountingRecorded {
                        client: to.client.client.name.clone(),
                        status_type: rec.status_type,
                    }],
                )
            }
            WorkDone::Proxy(realm, Ok(a)) => {
                tracing::info!(client = %to.client.client.name, realm = %realm, server = %a.server, "proxied");
                if head.listener == Listener::Accounting {
                    (self.finish_accounting(a.response, to), Vec::new())
                } else {
                    (self.finish(a.response, to), Vec::new())
                }
            }
            WorkDone::Proxy(realm, Err(e)) if head.listener == Listener::Accounting => {
                return Handled::Reply(self.accounting_unanswered(&head, &realm, e));
            }
            WorkDone::Proxy(realm, Err(e)) => {
                tracing::warn!(client = %to.client.client.name, realm = %realm, reason = %e, "proxy: Access-Reject");
                let resp = wire::Response::new(Code::AccessReject, to.identifier);
                (self.finish(resp, to), Vec::new())
            }
            WorkDone::Accounting(Err(e)) => {
                tracing::warn!(client = %to.client.client.name, error = %e, "accounting not recorded");
                self.cache.abandon(&head.key);
                return Handled::Reply(
                    self.drop(Some(&to.client), DropReason::AccountingNotRecorded),
                );
            }
        };
        Handled::Reply(self.conclude(&to.client, Some(&head.key), reply, effects, now))
    }

    /// Drops a job the store workers cannot take (their queue is full): the
    /// request is forgotten as if never received, its EAP session left as it
    /// was, so the NAS's retransmission is served normally.
    pub fn abandon(&self, job: Job) -> Reply {
        let JobInner { head, work } = *job.0;
        self.cache.abandon(&head.key);
        if let Work::Eap(d) = work {
            self.eap.abandon(d);
        }
        self.drop(Some(&head.to.client), DropReason::StoreBusy)
    }

    /// Counts the reply and records it (or the lack of one) in the duplicate cache.
    fn conclude(
        &self,
        client: &Arc<ClientEntry>,
        key: Option<&dup::RequestKey>,
        reply: Result<Option<Vec<u8>>, EncodeFailed>,
        effects: Vec<Effect>,
        now: Instant,
    ) -> Reply {
        let (out, mut e) = match reply {
            Ok(Some(bytes)) => {
                bump(&self.counters.answered);
                (Some(bytes), Vec::new())
            }
            Ok(None) => self.drop(Some(client), DropReason::EapDiscarded),
            Err(EncodeFailed) => self.drop(Some(client), DropReason::EncodeFailed),
        };
        if let Some(key) = key {
            match &out {
                Some(bytes) => self.cache.complete(key, bytes, now),
                None => self.cache.abandon(key),
            }
        }
        // --- duplicate detection: end ---
        for ef in &effects {
            if let Effect::AuthFinished { report, .. } = ef {
                self.metrics.auth_finished(report);
                if report.eap_sim && matches!(report.result, AuthResult::Success(_)) {
                    bump(&self.counters.accepted_sim);
                }
                bump(match &report.result {
                    AuthResult::Success(_) => &self.counters.accepted,
                    AuthResult::Reject(Reject::Hss(_)) => &self.counters.rejected_by_store,
                    AuthResult::Reject(Reject::Barred) => &self.counters.rejected_barred,
                    AuthResult::Reject(_) => &self.counters.rejected,
                });
            }
        }
        if e.is_empty() {
            (out, effects)
        } else {
            e.extend(effects);
            (out, e)
        }
    }

    fn access_request(&self, to: &ReplyTo, req: &wire::Request<'_>, now: Instant) -> Step {
        let client = &to.client.client;
        if let Some(p) = self.proxy.load_full()
            && let Some(step) = self.route(&p, to, req)
        {
            return step;
        }
        let Some(eap) = req.eap_message() else {
            // Only EAP is offered: PAP/CHAP requests are rejected.
            let resp = wire::Response::new(Code::AccessReject, to.identifier);
            return Step::Now(self.finish(resp, to), Vec::new());
        };
        let state = req.first(rfc2865::STATE_TYPE);
        tracing::debug!(
            client = %client.name,
            id = to.identifier,
            eap_len = eap.len(),
            has_state = state.is_some(),
            "Access-Request"
        );
        match self.eap.begin(state, &eap, now, &mut OsRandom) {
            EapStep::Done(outcome) => {
                let (reply, effects) = self.eap_reply(to, outcome);
                Step::Now(reply, effects)
            }
            EapStep::Deferred(d) => Step::Later(Work::Eap(d)),
        }
    }

    /// Routes by realm ([`crate::proxy`]); `None`: served here.
    fn route(
        &self,
        p: &Arc<crate::proxy::Proxy>,
        to: &ReplyTo,
        req: &wire::Request<'_>,
    ) -> Option<Step> {
        use crate::proxy::{Forward, ProxyError, Route};
        let reject = || {
            let resp = wire::Response::new(Code::AccessReject, to.identifier);
            Step::Now(self.finish(resp, to), Vec::new())
        };
        let i = match p.route(req.first(rfc2865::USER_NAME_TYPE)) {
            Route::Local => return None,
            Route::Reject => return Some(reject()),
            Route::Proxy(i) => i,
        };
        let mut token = [0u8; 8];
        let fwd = crate::hss::rng::fill(&mut token)
            .map_err(|_| ProxyError::Send)
            .and_then(|()| Forward::new(req, i, p.settings().operator_name.as_deref(), token));
        Some(match fwd {
            Ok(f) => Step::Later(Work::Proxy(p.clone(), f)),
            Err(e) => {
                tracing::warn!(reason = %e, "proxy: Access-Reject");
                reject()
            }
        })
    }

    /// The Access-Challenge, -Accept or -Reject for an EAP outcome.
    fn eap_reply(
        &self,
        to: &ReplyTo,
        outcome: Outcome,
    ) -> (Result<Option<Vec<u8>>, EncodeFailed>, Vec<Effect>) {
        let client = &to.client.client;
        let secret = client.secret.expose();
        let id = to.identifier;
        let finished = |report: Report| Effect::AuthFinished {
            client: to.client.name.clone(),
            report,
        };
        // Room for the whole response, so it is built in one allocation.
        let room = |eap: &[u8], more: usize| {
            wire::Response::split_len(eap.len())
                + more
                + to.proxy_state.iter().map(|p| 2 + p.len()).sum::<usize>()
        };
        match outcome {
            Outcome::Challenge { eap, state } => {
                let mut resp =
                    wire::Response::with_capacity(Code::AccessChallenge, id, room(&eap, 18 + 6));
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap)
                    .attr(rfc2865::STATE_TYPE, &state)
                    .attr(
                        rfc2865::SESSION_TIMEOUT_TYPE,
                        &self.session_timeout_secs.to_be_bytes(),
                    );
                (self.finish(resp, to), Vec::new())
            }
            Outcome::Request { eap } => {
                let mut resp =
                    wire::Response::with_capacity(Code::AccessChallenge, id, room(&eap, 0));
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap);
                (self.finish(resp, to), Vec::new())
            }
            Outcome::Accept {
                eap,
                msk,
                user_name,
                reply,
                report,
                imsi,
            } => {
                // User-Name, two MS-MPPE key VSAs of 58 octets, and some
                // room for reply attributes and a Chargeable-User-Identity.
                let more = 2 + user_name.len() + 2 * 58 + 128;
                let mut resp =
                    wire::Response::with_capacity(Code::AccessAccept, id, room(&eap, more));
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap)
                    .attr(rfc2865::USER_NAME_TYPE, user_name.as_bytes());
                let mut salts = [0u8; 4];
                if crate::hss::rng::fill(&mut salts).is_err() {
                    return (Err(EncodeFailed), vec![finished(report)]);
                }
                let recv_salt = [salts[0], salts[1]];
                // The two salts must differ (RFC 2548 §2.4.2).
                let send_salt =
                    if [salts[2] | 0x80, salts[3]] == [recv_salt[0] | 0x80, recv_salt[1]] {
                        [salts[2], salts[3] ^ 1]
                    } else {
                        [salts[2], salts[3]]
                    };
                let m = msk.expose();
                // Encrypted straight into the response (RFC 2548 §2.4.2).
                resp.attr_with(crypto::VENDOR_SPECIFIC, |out| {
                    crypto::write_mppe_key_vsa(
                        out,
                        crypto::MS_MPPE_RECV_KEY,
                        &m[..32],
                        secret,
                        &to.authenticator,
                        recv_salt,
                    )
                })
                .attr_with(crypto::VENDOR_SPECIFIC, |out| {
                    crypto::write_mppe_key_vsa(
                        out,
                        crypto::MS_MPPE_SEND_KEY,
                        &m[32..],
                        secret,
                        &to.authenticator,
                        send_salt,
                    )
                });
                for (typ, value) in reply
                    .as_deref()
                    .map(crate::authz::encode)
                    .unwrap_or_default()
                {
                    resp.attr(typ, &value);
                }
                // RFC 4372 §2.1: a CUI only when the NAS asked for one.
                if let (Some(key), Some(op), Some(imsi)) = (&self.cui, &to.cui_operator, &imsi) {
                    resp.attr(
                        crate::cui::CHARGEABLE_USER_IDENTITY,
                        key.derive(imsi.as_str(), op).as_bytes(),
                    );
                }
                (self.finish(resp, to), vec![finished(report)])
            }
            Outcome::Reject { eap, report } => {
                let mut resp = wire::Response::with_capacity(Code::AccessReject, id, room(&eap, 0));
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap);
                (
                    self.finish(resp, to),
                    report.map(finished).into_iter().collect(),
                )
            }
            Outcome::Discard(why) => {
                tracing::debug!(client = %client.name, why = %why, "EAP packet discarded");
                (Ok(None), Vec::new())
            }
        }
    }

    /// Copies Proxy-State (RFC 2865 §5.33: unmodified, in order) and fills in
    /// Message-Authenticator and the Response Authenticator.
    fn finish(
        &self,
        mut resp: wire::Response,
        to: &ReplyTo,
    ) -> Result<Option<Vec<u8>>, EncodeFailed> {
        let (client, keyed) = (&to.client.client, &to.client.keyed);
        for ps in &to.proxy_state {
            resp.attr(rfc2865::PROXY_STATE_TYPE, ps);
        }
        let mut bytes = resp.into_bytes().ok_or(EncodeFailed)?;
        if !crypto::finish_response_keyed(
            &mut bytes,
            &to.authenticator,
            keyed,
            client.secret.expose(),
        ) {
            return Err(EncodeFailed);
        }
        self.client_metrics(Some(&to.client))
            .response(bytes.first().copied().unwrap_or(0));
        Ok(Some(bytes))
    }
}

fn accounting_record(client: &Client, req: &Packet) -> AccountingRecord {
    let u32_of = |v: Option<Result<u32, _>>| v.and_then(Result::ok).unwrap_or(0);
    let string_of = |v: Option<Result<String, _>>| v.and_then(Result::ok).unwrap_or_default();
    let octets = |lo: u32, hi: u32| (u64::from(hi) << 32) | u64::from(lo);
    let nas = match rfc2865::lookup_nas_identifier(req).and_then(Result::ok) {
        Some(n) => n,
        None => rfc2865::lookup_nas_ip_address(req)
            .and_then(Result::ok)
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
    };
    AccountingRecord {
        client: client.name.clone(),
        session_id: string_of(rfc2866::lookup_acct_session_id(req)),
        status_type: u32_of(rfc2866::lookup_acct_status_type(req)),
        user: string_of(rfc2865::lookup_user_name(req)),
        nas,
        input_octets: octets(
            u32_of(rfc2866::lookup_acct_input_octets(req)),
            u32_of(rfc2869::lookup_acct_input_gigawords(req)),
        ),
        output_octets: octets(
            u32_of(rfc2866::lookup_acct_output_octets(req)),
            u32_of(rfc2869::lookup_acct_output_gigawords(req)),
        ),
        session_time: u32_of(rfc2866::lookup_acct_session_time(req)),
        event_timestamp: rfc2869::lookup_event_timestamp(req)
            .and_then(Result::ok)
            .and_then(|t| u64::try_from(t.timestamp()).ok()),
        delay_time: rfc2866::lookup_acct_delay_time(req).and_then(Result::ok),
        calling_station_id: string_of(rfc2865::lookup_calling_station_id(req)),
    }
}

#[cfg(test)]
mod tests;
