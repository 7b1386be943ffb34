//! Prometheus metrics (`[metrics] listen`): the registry and the handles the
//! RADIUS core bumps. Every handle the hot path touches (per client: requests,
//! responses, drops, duplicate-cache hits) is created at start and is a
//! `prometheus-client` counter — one atomic add, no lock, no map lookup.
//! Authentication and store-call latencies go to [`histogram::AtomicHistogram`]s
//! (atomic adds too); only the reject-reason family looks its series up (a
//! read lock, once per reject).
//! Values owned elsewhere (EAP sessions, SQN reservations, early evictions,
//! auth-log drops) are read at each scrape ([`Metrics::probe`]).
//!
//! [`http`] serves the text; [`droplog`] logs dropped requests at `warn`,
//! rate-limited; [`metered`] times the subscriber store's calls.

pub mod das;
pub mod droplog;
pub mod histogram;
pub mod http;
pub mod metered;

use crate::eap_server::{AuthResult, Reject, Report};
use crate::hss::HssError;
use crate::radius::{Counters, DropReason};
use eap::aka::keys::Method;
use histogram::AtomicHistogram;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Duration;

/// Label set: `(name, value)` pairs.
type Labels = Vec<(&'static str, String)>;

/// The client label of requests from an address no `[[client]]` covers.
pub const UNKNOWN_CLIENT: &str = "(unknown)";

/// RADIUS codes counted per client (requests).
const REQUEST_CODES: [&str; 4] = [
    "access_request",
    "accounting_request",
    "status_server",
    "other",
];

/// RADIUS codes counted per client (responses).
const RESPONSE_CODES: [&str; 5] = [
    "access_accept",
    "access_reject",
    "access_challenge",
    "accounting_response",
    "other",
];

/// Why a request got no answer, as the `reason` label: every [`DropReason`]
/// and `duplicate` (a retransmission of a request still in progress, RFC 5080 §2.2.2).
pub const DROP_REASONS: [&str; 10] = [
    "unknown_client",
    "malformed",
    "missing_message_authenticator",
    "bad_authenticator",
    "unexpected_code",
    "eap_discarded",
    "accounting_not_recorded",
    "encode_failed",
    "store_busy",
    "duplicate",
];

/// Index of `r` in [`DROP_REASONS`].
pub fn drop_index(r: DropReason) -> usize {
    match r {
        DropReason::UnknownClient => 0,
        DropReason::Malformed => 1,
        DropReason::MissingMessageAuthenticator => 2,
        DropReason::BadAuthenticator => 3,
        DropReason::UnexpectedCode => 4,
        DropReason::EapDiscarded => 5,
        DropReason::AccountingNotRecorded => 6,
        DropReason::EncodeFailed => 7,
        DropReason::StoreBusy => 8,
    }
}

/// [`DROP_REASONS`] index of an in-progress duplicate.
const DUPLICATE: usize = 9;

/// The `method` label: the EAP method that ran, `none` when none started.
const METHODS: [&str; 4] = ["none", "aka", "aka_prime", "sim"];

fn method_index(m: Option<Method>) -> usize {
    match m {
        None => 0,
        Some(Method::Aka) => 1,
        Some(Method::AkaPrime) => 2,
    }
}

/// The `reason` label of an authentication reject: the [`Reject`] variant.
pub fn reject_label(r: &Reject) -> &'static str {
    match r {
        Reject::EapMalformed => "eap_malformed",
        Reject::UnknownState => "unknown_state",
        Reject::NotIdentityResponse => "not_identity_response",
        Reject::NakAfterMethodStarted => "nak_after_method_started",
        Reject::SecondNak => "second_nak",
        Reject::MethodRefused => "method_refused",
        Reject::OtherEapType => "other_eap_type",
        Reject::OtherAkaMethod => "other_aka_method",
        Reject::ClientError => "client_error",
        Reject::AuthenticationReject => "authentication_reject",
        Reject::UnexpectedSubtype(_) => "unexpected_subtype",
        Reject::NoIdentityAttribute => "no_identity_attribute",
        Reject::NoPermanentIdentity => "no_permanent_identity",
        Reject::NoUsableIdentity => "no_usable_identity",
        Reject::NoImsi => "no_imsi",
        Reject::IdentityNotUtf8 => "identity_not_utf8",
        Reject::DecryptedNotPermanent => "decrypted_not_permanent",
        Reject::Undecryptable => "undecryptable",
        Reject::BadMac => "bad_mac",
        Reject::NoRes => "no_res",
        Reject::ResMismatch => "res_mismatch",
        Reject::CheckcodeMismatch => "checkcode_mismatch",
        Reject::SecondSyncFailure => "second_sync_failure",
        Reject::NoAuts => "no_auts",
        Reject::Reauth(_) => "reauth",
        Reject::BadNotificationResponse => "bad_notification_response",
        Reject::SubscriberChanged => "subscriber_changed",
        Reject::Hss(HssError::UnknownSubscriber) => "unknown_subscriber",
        Reject::Hss(HssError::ResyncMacFailure) => "resync_mac_failure",
        Reject::Hss(_) => "store_error",
        Reject::NetworkNameTooLong => "network_name_too_long",
        Reject::Encoding => "encoding",
        Reject::Rng => "rng",
        Reject::UnsupportedVersion => "sim_unsupported_version",
        Reject::NoNonceMt => "sim_no_nonce_mt",
        Reject::BadTriplets => "sim_bad_triplets",
        Reject::Barred => "barred",
    }
}

/// Subscriber-store calls that are timed (`call` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCall {
    /// A vector (SQN advanced and committed when the range runs out).
    Vector,
    /// Resynchronisation from AUTS (TS 33.102 §6.3.5).
    Resync,
    /// The subscriber check before Access-Accept.
    Current,
    /// An accounting record stored.
    Accounting,
    /// GSM triplets for EAP-SIM (RFC 4186 §9.3).
    Triplets,
    /// Barring and reply attributes (before the vector and before Accept).
    Authorization,
}

impl StoreCall {
    const ALL: [StoreCall; 6] = [
        StoreCall::Vector,
        StoreCall::Resync,
        StoreCall::Current,
        StoreCall::Accounting,
        StoreCall::Triplets,
        StoreCall::Authorization,
    ];

    fn label(self) -> &'static str {
        match self {
            StoreCall::Vector => "vector",
            StoreCall::Resync => "resync",
            StoreCall::Current => "current",
            StoreCall::Accounting => "accounting",
            StoreCall::Triplets => "triplets",
            StoreCall::Authorization => "authorization",
        }
    }
}

/// One client's hot-path counters (the RADIUS core keeps one per client,
/// in its client order: [`Metrics::client`]).
#[derive(Clone, Debug)]
pub struct ClientMetrics {
    requests: [Counter; REQUEST_CODES.len()],
    responses: [Counter; RESPONSE_CODES.len()],
    drops: [Counter; DROP_REASONS.len()],
    duplicate_hits: Counter,
}

impl ClientMetrics {
    /// A parsed request with RADIUS code `code`.
    pub fn request(&self, code: u8) {
        let i = match code {
            1 => 0,
            4 => 1,
            12 => 2,
            _ => 3,
        };
        self.requests[i].inc();
    }

    /// A response with RADIUS code `code` sent.
    pub fn response(&self, code: u8) {
        let i = match code {
            2 => 0,
            3 => 1,
            11 => 2,
            5 => 3,
            _ => 4,
        };
        self.responses[i].inc();
    }

    /// A datagram dropped.
    pub fn dropped(&self, r: DropReason) {
        self.drops[drop_index(r)].inc();
    }

    /// A retransmission of a request in progress, dropped.
    pub fn duplicate_dropped(&self) {
        self.drops[DUPLICATE].inc();
    }

    /// A retransmission answered from the duplicate cache.
    pub fn duplicate_hit(&self) {
        self.duplicate_hits.inc();
    }
}

/// Per-method authentication handles.
#[derive(Debug)]
struct MethodMetrics {
    accepts: Counter,
    rejects: Counter,
    duration: AtomicHistogram,
}

/// Per-call store handles.
#[derive(Debug)]
struct CallMetrics {
    duration: AtomicHistogram,
    errors: Counter,
}

/// Authentication latency buckets (seconds): a full AKA is 2–3 round trips
/// to the peer, tens of ms on a LAN, seconds over a slow backhaul.
static AUTH_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Store-call latency buckets (seconds): from a cached range to an fsync'd commit.
static STORE_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// A value read at each scrape.
pub type ProbeFn = Box<dyn Fn() -> u64 + Send + Sync>;

/// Values owned elsewhere, read at each scrape.
struct Probes(Vec<(&'static str, &'static str, MetricType, ProbeFn)>);

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|p| p.0)).finish()
    }
}

/// Reads a labeled gauge at scrape: one (labels, value) per series.
pub type LabeledProbeFn = Box<dyn Fn() -> Vec<(Vec<(String, String)>, i64)> + Send + Sync>;

/// Gauges with labels read at each scrape (home servers, RadSec clients).
struct LabeledProbes(Vec<(&'static str, &'static str, LabeledProbeFn)>);

impl std::fmt::Debug for LabeledProbes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.iter().map(|p| p.0)).finish()
    }
}

impl Collector for LabeledProbes {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, read) in &self.0 {
            let rows = read();
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (labels, v) in rows {
                let g = ConstGauge::new(v);
                g.encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

impl Collector for Probes {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for (name, help, kind, read) in &self.0 {
            let v = read();
            match kind {
                MetricType::Counter => {
                    let c = ConstCounter::new(v);
                    c.encode(encoder.encode_descriptor(name, help, None, c.metric_type())?)?;
                }
                _ => {
                    let g = ConstGauge::new(i64::try_from(v).unwrap_or(i64::MAX));
                    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)?;
                }
            }
        }
        Ok(())
    }
}

/// The server's metrics: the registry and the handles.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<Labels, Counter>,
    responses: Family<Labels, Counter>,
    drops: Family<Labels, Counter>,
    dup_hits: Family<Labels, Counter>,
    methods: [MethodMetrics; METHODS.len()],
    rejects: Family<Labels, Counter>,
    privacy_decrypt_failures: Counter,
    calls: [CallMetrics; StoreCall::ALL.len()],
    probes: Mutex<Vec<(&'static str, &'static str, MetricType, ProbeFn)>>,
    labeled_probes: Mutex<Vec<(&'static str, &'static str, LabeledProbeFn)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The registry with every family; per-client series come with [`Metrics::client`].
    pub fn new() -> Self {
        let mut reg = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let responses = Family::<Labels, Counter>::default();
        let drops = Family::<Labels, Counter>::default();
        let dup_hits = Family::<Labels, Counter>::default();
        reg.register(
            "aaa_radius_requests",
            "RADIUS requests from a known client that parsed, by client and code",
            requests.clone(),
        );
        reg.register(
            "aaa_radius_responses",
            "RADIUS responses sent (cached answers to retransmissions excluded), by client and code",
            responses.clone(),
        );
        reg.register(
            "aaa_radius_dropped",
            "RADIUS datagrams dropped without an answer, by client and reason",
            drops.clone(),
        );
        reg.register(
            "aaa_radius_duplicate_cache_hits",
            "Retransmissions answered from the duplicate cache (RFC 5080), by client",
            dup_hits.clone(),
        );

        let accepts = Family::<Labels, Counter>::default();
        let auth_rejects = Family::<Labels, Counter>::default();
        let durations = Family::<Labels, AtomicHistogram>::new_with_constructor(
            (|| AtomicHistogram::new(&AUTH_BUCKETS)) as fn() -> AtomicHistogram,
        );
        let methods = std::array::from_fn(|i| {
            let l = vec![("method", METHODS[i].to_string())];
            MethodMetrics {
                accepts: accepts.get_or_create(&l).clone(),
                rejects: auth_rejects.get_or_create(&l).clone(),
                duration: durations.get_or_create(&l).clone(),
            }
        });
        reg.register(
            "aaa_auth_accepts",
            "Authentications ended with Access-Accept, by EAP method",
            accepts,
        );
        reg.register(
            "aaa_auth_rejects",
            "Authentications ended with Access-Reject, by EAP method",
            auth_rejects,
        );
        reg.register(
            "aaa_auth_duration_seconds",
            "Authentication time from the first Access-Request to Accept or Reject, by EAP method",
            durations,
        );
        let rejects = Family::<Labels, Counter>::default();
        reg.register(
            "aaa_auth_reject_reasons",
            "Authentications ended with Access-Reject, by reason",
            rejects.clone(),
        );
        let privacy_decrypt_failures = Counter::default();
        reg.register(
            "aaa_privacy_decrypt_failures",
            "IMSI-privacy identities that did not decrypt",
            privacy_decrypt_failures.clone(),
        );

        let call_durations = Family::<Labels, AtomicHistogram>::new_with_constructor(
            (|| AtomicHistogram::new(&STORE_BUCKETS)) as fn() -> AtomicHistogram,
        );
        let call_errors = Family::<Labels, Counter>::default();
        let calls = std::array::from_fn(|i| {
            let l = vec![("call", StoreCall::ALL[i].label().to_string())];
            CallMetrics {
                duration: call_durations.get_or_create(&l).clone(),
                errors: call_errors.get_or_create(&l).clone(),
            }
        });
        reg.register(
            "aaa_hss_call_duration_seconds",
            "Subscriber-store calls made on the store workers, by call",
            call_durations,
        );
        reg.register(
            "aaa_hss_call_errors",
            "Subscriber-store calls that failed, by call",
            call_errors,
        );
        Metrics {
            registry: Mutex::new(reg),
            requests,
            responses,
            drops,
            dup_hits,
            methods,
            rejects,
            privacy_decrypt_failures,
            calls,
            probes: Mutex::new(Vec::new()),
            labeled_probes: Mutex::new(Vec::new()),
        }
    }

    /// The series of the client named `name`, created now (all zero).
    pub fn client(&self, name: &str) -> ClientMetrics {
        self.client_series(name, false)
    }

    /// The series of requests from no known client (only `unknown_client` drops).
    pub fn unknown_client(&self) -> ClientMetrics {
        self.client_series(UNKNOWN_CLIENT, true)
    }

    fn client_series(&self, name: &str, unknown: bool) -> ClientMetrics {
        let series = |f: &Family<Labels, Counter>, key: &'static str, value: &str| {
            f.get_or_create(&vec![
                ("client", name.to_string()),
                (key, value.to_string()),
            ])
            .clone()
        };
        ClientMetrics {
            requests: std::array::from_fn(|i| {
                if unknown {
                    Counter::default()
                } else {
                    series(&self.requests, "code", REQUEST_CODES[i])
                }
            }),
            responses: std::array::from_fn(|i| {
                if unknown {
                    Counter::default()
                } else {
                    series(&self.responses, "code", RESPONSE_CODES[i])
                }
            }),
            // An unknown client has one reason; a known one every other.
            drops: std::array::from_fn(|i| {
                if unknown == (i == 0) {
                    series(&self.drops, "reason", DROP_REASONS[i])
                } else {
                    Counter::default()
                }
            }),
            duplicate_hits: if unknown {
                Counter::default()
            } else {
                self.dup_hits
                    .get_or_create(&vec![("client", name.to_string())])
                    .clone()
            },
        }
    }

    /// An authentication finished.
    pub fn auth_finished(&self, report: &Report) {
        let m = &self.methods[if report.eap_sim {
            3
        } else {
            method_index(report.method)
        }];
        m.duration.observe(report.duration);
        match &report.result {
            AuthResult::Success(_) => {
                m.accepts.inc();
            }
            AuthResult::Reject(r) => {
                m.rejects.inc();
                if matches!(r, Reject::Undecryptable) {
                    self.privacy_decrypt_failures.inc();
                }
                self.rejects
                    .get_or_create(&vec![("reason", reject_label(r).to_string())])
                    .inc();
            }
        }
    }

    /// A store call took `took` and failed or not.
    pub fn store_call(&self, call: StoreCall, took: Duration, failed: bool) {
        let i = StoreCall::ALL.iter().position(|c| *c == call).unwrap_or(0);
        let m = &self.calls[i];
        m.duration.observe(took);
        if failed {
            m.errors.inc();
        }
    }

    /// A gauge with labels, read at each scrape. Call before the first scrape.
    pub fn labeled_probe(&self, name: &'static str, help: &'static str, read: LabeledProbeFn) {
        self.labeled_probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, help, read));
    }

    /// Adds a value read at each scrape: a counter (`name` without
    /// `_total`) or a gauge. Call before the first scrape.
    pub fn probe(&self, name: &'static str, help: &'static str, counter: bool, read: ProbeFn) {
        let kind = if counter {
            MetricType::Counter
        } else {
            MetricType::Gauge
        };
        self.probes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, help, kind, read));
    }

    /// The exposition: OpenMetrics text (`openmetrics`) or the classic
    /// Prometheus text format 0.0.4 (what promtool 2.42 parses).
    pub fn encode(&self, openmetrics: bool) -> String {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        let probes = std::mem::take(&mut *self.probes.lock().unwrap_or_else(|e| e.into_inner()));
        if !probes.is_empty() {
            reg.register_collector(Box::new(Probes(probes)));
        }
        let labeled = std::mem::take(
            &mut *self
                .labeled_probes
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        if !labeled.is_empty() {
            reg.register_collector(Box::new(LabeledProbes(labeled)));
        }
        let mut out = String::with_capacity(16 * 1024);
        let r = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &reg)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &reg)
        };
        // Writing to a String cannot fail; a failure would be a label bug.
        if r.is_err() {
            tracing::error!("metrics encoding failed");
        }
        out
    }
}

/// Adds the values `core` and the store own, read at each scrape (weak
/// references: the registry does not keep the server alive).
/// `sqn_reservations` reads the store's count of SQN commits.
pub fn register_probes(
    core: &std::sync::Arc<crate::radius::RadiusServer>,
    sqn_reservations: ProbeFn,
) {
    let m = core.metrics();
    let counters = |f: fn(&Counters) -> u64| -> ProbeFn {
        let w = std::sync::Arc::downgrade(core);
        Box::new(move || w.upgrade().map_or(0, |c| f(&c.counters())))
    };
    m.probe(
        "aaa_radius_received",
        "RADIUS datagrams received on both sockets",
        true,
        counters(|c| c.received),
    );
    m.probe(
        "aaa_radius_answered",
        "RADIUS responses sent, cached answers to retransmissions included",
        true,
        counters(|c| c.answered),
    );
    m.probe(
        "aaa_radius_duplicate_cache_early_evictions",
        "Cached answers pushed out of the duplicate cache before duplicate_window by duplicate_cache_size",
        true,
        counters(|c| c.duplicate_early_evictions),
    );
    m.probe(
        "aaa_store_jobs",
        "Requests handed to the store workers",
        true,
        counters(|c| c.deferred),
    );
    let w = std::sync::Arc::downgrade(core);
    m.probe(
        "aaa_eap_sessions",
        "EAP sessions in flight (waiting for the peer or the store)",
        false,
        Box::new(move || w.upgrade().map_or(0, |c| c.eap_sessions() as u64)),
    );
    m.probe(
        "aaa_sqn_reservations",
        "SQN ranges committed to the store (per subscriber, resynchronisations included)",
        true,
        sqn_reservations,
    );
    m.probe(
        "aaa_auth_log_lines_dropped",
        "Per-authentication log lines dropped because the log thread's queue was full",
        true,
        Box::new(crate::auth_log::dropped),
    );
}

/// `aaa_hss_store_up` and `aaa_hss_store_unreachable_total` of a PostgreSQL
/// store, read at each scrape (a weak reference).
pub fn register_store_up(metrics: &Metrics, store: &std::sync::Arc<crate::hss::postgres::PgStore>) {
    let w = std::sync::Arc::downgrade(store);
    metrics.probe(
        "aaa_hss_store_up",
        "1 while PostgreSQL answers this node, 0 while it cannot connect",
        false,
        Box::new(move || w.upgrade().map_or(0, |s| u64::from(s.reachable()))),
    );
    let w = std::sync::Arc::downgrade(store);
    metrics.probe(
        "aaa_hss_store_unreachable",
        "Times PostgreSQL became unreachable from this node (store up 1 -> 0)",
        true,
        Box::new(move || w.upgrade().map_or(0, |s| s.unreachable_count())),
    );
}

/// RadSec counters exposed at each scrape: (name, help, counter or gauge, value).
type RadsecProbe = (
    &'static str,
    &'static str,
    bool,
    fn(&crate::radsec::CounterValues) -> u64,
);

const RADSEC_PROBES: [RadsecProbe; 13] = [
    (
        "aaa_radsec_connections_accepted",
        "RadSec TCP connections accepted",
        true,
        |c| c.accepted,
    ),
    (
        "aaa_radsec_connections_active",
        "RadSec connections open now (handshaking or established)",
        false,
        |c| c.active,
    ),
    (
        "aaa_radsec_connections_established",
        "RadSec connections that completed the handshake and were identified",
        true,
        |c| c.established,
    ),
    (
        "aaa_radsec_connections_over_limit",
        "RadSec connections closed at accept: max_connections were open",
        true,
        |c| c.over_limit,
    ),
    (
        "aaa_radsec_handshake_timeouts",
        "RadSec TLS handshakes not finished within handshake_timeout",
        true,
        |c| c.handshake_timeouts,
    ),
    (
        "aaa_radsec_tls_failures",
        "RadSec TLS handshakes failed for anything but the client certificate",
        true,
        |c| c.tls_failures,
    ),
    (
        "aaa_radsec_certificates_refused",
        "RadSec client certificates refused (none, another CA, expired, not for client use)",
        true,
        |c| c.certificates_refused,
    ),
    (
        "aaa_radsec_no_matching_client",
        "RadSec verified certificates that no [[radsec.client]] matches",
        true,
        |c| c.no_matching_client,
    ),
    (
        "aaa_radsec_framing_errors",
        "RadSec connections closed: a Length field out of range",
        true,
        |c| c.framing_errors,
    ),
    (
        "aaa_radsec_tls_record_errors",
        "RadSec connections closed: bytes that are not a valid TLS record",
        true,
        |c| c.tls_record_errors,
    ),
    (
        "aaa_radsec_malformed",
        "RadSec connections closed: a packet the RADIUS core found malformed",
        true,
        |c| c.malformed,
    ),
    (
        "aaa_radsec_idle_timeouts",
        "RadSec connections closed after idle_timeout",
        true,
        |c| c.idle_timeouts,
    ),
    (
        "aaa_radsec_packets",
        "RADIUS packets received on established RadSec connections",
        true,
        |c| c.packets,
    ),
];

/// Adds the RadSec listener's counters, read at each scrape.
pub fn register_radsec_probes(
    metrics: &Metrics,
    counters: &std::sync::Arc<crate::radsec::Counters>,
) {
    for (name, help, counter, get) in RADSEC_PROBES {
        let c = counters.clone();
        metrics.probe(name, help, counter, Box::new(move || get(&c.snapshot())));
    }
    let c = counters.clone();
    metrics.labeled_probe(
        "aaa_radsec_client_connections",
        "Established RadSec connections open now, per [[radsec.client]]",
        Box::new(move || {
            c.client_connections()
                .into_iter()
                .map(|(client, n)| (vec![("client".to_string(), client)], n))
                .collect()
        }),
    );
}

/// The proxy's counters and dead home servers (`[[realm]]` with
/// `action = "proxy"`), read at each scrape.
pub fn register_proxy_probes(core: &std::sync::Arc<crate::radius::RadiusServer>) {
    type Get = fn(&crate::proxy::ProxyCounters) -> u64;
    let probes: [(&'static str, &'static str, Get); 12] = [
        (
            "aaa_proxy_forwarded",
            "Requests forwarded to a home server",
            |c| c.forwarded,
        ),
        (
            "aaa_proxy_answered",
            "Home-server answers passed back to the NAS",
            |c| c.answered,
        ),
        (
            "aaa_proxy_no_live_server",
            "Requests answered Access-Reject because no home server answered",
            |c| c.no_live_server,
        ),
        (
            "aaa_proxy_rejected_by_realm",
            "Requests refused by a realm with action = \"reject\"",
            |c| c.rejected_by_realm,
        ),
        (
            "aaa_proxy_discovery_failed",
            "Requests answered Access-Reject because RFC 7585 discovery found no home server",
            |c| c.discovery_failed,
        ),
        (
            "aaa_proxy_bad_answers",
            "Home-server datagrams discarded (bad authenticator, stray, malformed)",
            |c| c.bad_answers,
        ),
        (
            "aaa_proxy_marked_dead",
            "Times a home server was marked dead",
            |c| c.marked_dead,
        ),
        (
            "aaa_proxy_discovery_negative_cached",
            "Failed RFC 7585 discoveries answered from the negative cache, without a DNS query",
            |c| c.discovery_negative_cached,
        ),
        (
            "aaa_proxy_conversation_server_dead",
            "Requests answered Access-Reject because their EAP conversation's home server is dead",
            |c| c.conversation_server_dead,
        ),
        (
            "aaa_proxy_sticky_evicted",
            "EAP conversations forgotten early because the State-to-home-server map was full",
            |c| c.sticky_evicted,
        ),
        (
            "aaa_proxy_accounting_proxied",
            "Accounting-Requests routed to a home server",
            |c| c.accounting_proxied,
        ),
        (
            "aaa_proxy_accounting_unanswered",
            "Proxied Accounting-Requests no home server answered (no Accounting-Response sent)",
            |c| c.accounting_unanswered,
        ),
    ];
    let m = core.metrics();
    for (name, help, get) in probes {
        let w = std::sync::Arc::downgrade(core);
        m.probe(
            name,
            help,
            true,
            Box::new(move || {
                w.upgrade()
                    .and_then(|c| c.proxy_counters())
                    .map_or(0, |c| get(&c))
            }),
        );
    }
    let w = std::sync::Arc::downgrade(core);
    m.labeled_probe(
        "aaa_proxy_home_server_up",
        "1 while a home server is live, 0 while it is marked dead (per realm and server)",
        Box::new(move || {
            w.upgrade()
                .map(|c| c.proxy_home_servers())
                .unwrap_or_default()
                .into_iter()
                .map(|(realm, server, up)| {
                    (
                        vec![("realm".to_string(), realm), ("server".to_string(), server)],
                        i64::from(up),
                    )
                })
                .collect()
        }),
    );
    let w = std::sync::Arc::downgrade(core);
    m.probe(
        "aaa_proxy_home_servers_dead",
        "Home servers currently marked dead (skipped until dead_time passes)",
        false,
        Box::new(move || {
            w.upgrade()
                .and_then(|c| c.proxy_dead_servers())
                .unwrap_or(0)
        }),
    );
}

/// Logs the RadSec counters as one line with a field each (at shutdown).
pub fn log_radsec_counters(c: &crate::radsec::CounterValues) {
    tracing::info!(
        accepted = c.accepted,
        active = c.active,
        established = c.established,
        over_limit = c.over_limit,
        handshake_timeouts = c.handshake_timeouts,
        tls_failures = c.tls_failures,
        certificates_refused = c.certificates_refused,
        no_matching_client = c.no_matching_client,
        framing_errors = c.framing_errors,
        tls_record_errors = c.tls_record_errors,
        malformed = c.malformed,
        idle_timeouts = c.idle_timeouts,
        packets = c.packets,
        "radsec stopped"
    );
}

/// Logs the counters since start as one line with a field each (at shutdown).
pub fn log_counters(c: &Counters, auth_log_lines_dropped: u64) {
    tracing::info!(
        received = c.received,
        answered = c.answered,
        accepted = c.accepted,
        accepted_sim = c.accepted_sim,
        rejected = c.rejected,
        rejected_by_store = c.rejected_by_store,
        rejected_barred = c.rejected_barred,
        unknown_client = c.unknown_client,
        malformed = c.malformed,
        missing_message_authenticator = c.missing_message_authenticator,
        bad_authenticator = c.bad_authenticator,
        other_drops = c.other_drops,
        duplicates = c.duplicates,
        duplicates_in_progress = c.duplicates_in_progress,
        duplicate_early_evictions = c.duplicate_early_evictions,
        deferred = c.deferred,
        store_busy = c.store_busy,
        auth_log_lines_dropped,
        "stopped"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_listen_is_parsed_and_off_by_default() {
        use crate::config::Config;
        use std::path::Path;
        let base =
            "[[client]]\nnetwork = \"10.0.0.0/8\"\nsecret = \"s\"\n[hss]\ndatabase = \"s.db\"\n";
        let c = Config::parse(base, Path::new("aaa.toml")).unwrap();
        assert_eq!(c.metrics.listen, None);
        let on = format!("{base}[metrics]\nlisten = \"127.0.0.1:9812\"\n");
        let c = Config::parse(&on, Path::new("aaa.toml")).unwrap();
        assert_eq!(c.metrics.listen, Some("127.0.0.1:9812".parse().unwrap()));
        let bad = format!("{base}[metrics]\nlisten = \"9812\"\n");
        let e = Config::parse(&bad, Path::new("aaa.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("aaa.toml:7: metrics.listen: expected"), "{e}");
        let unknown = format!("{base}[metrics]\nlisen = \"127.0.0.1:9812\"\n");
        assert!(Config::parse(&unknown, Path::new("aaa.toml")).is_err());
    }

    #[test]
    fn radsec_counters_are_exposed() {
        let m = Metrics::new();
        let c = std::sync::Arc::new(crate::radsec::Counters::default());
        register_radsec_probes(&m, &c);
        let text = m.encode(false);
        assert!(text.contains("# TYPE aaa_radsec_connections_active gauge"));
        assert!(text.contains("aaa_radsec_connections_active 0"));
        assert!(text.contains("aaa_radsec_packets_total 0"));
        // 13 unlabeled series (HELP, TYPE, sample) and the per-client gauge's
        // HELP and TYPE (no client connected yet).
        assert_eq!(text.matches("aaa_radsec_").count(), 13 * 3 + 2);
        assert!(text.contains("# TYPE aaa_radsec_client_connections gauge"));
    }

    #[test]
    fn counts_per_client_and_both_formats() {
        let m = Metrics::new();
        let ap1 = m.client("ap1");
        ap1.request(1);
        ap1.response(11);
        ap1.dropped(DropReason::BadAuthenticator);
        m.unknown_client().dropped(DropReason::UnknownClient);
        m.probe("aaa_eap_sessions", "EAP sessions", false, Box::new(|| 7));
        let classic = m.encode(false);
        assert!(classic.contains("# TYPE aaa_radius_requests_total counter"));
        assert!(
            classic.contains(r#"aaa_radius_requests_total{client="ap1",code="access_request"} 1"#)
        );
        assert!(
            classic
                .contains(r#"aaa_radius_dropped_total{client="ap1",reason="bad_authenticator"} 1"#)
        );
        assert!(
            classic.contains(
                r#"aaa_radius_dropped_total{client="(unknown)",reason="unknown_client"} 1"#
            )
        );
        assert!(!classic.contains(r#"client="(unknown)",reason="malformed""#));
        assert!(classic.contains("aaa_eap_sessions 7"));
        assert!(!classic.contains("# EOF"));
        let om = m.encode(true);
        assert!(om.ends_with("# EOF\n"));
        assert!(om.contains("# TYPE aaa_radius_requests counter"));
    }
}
