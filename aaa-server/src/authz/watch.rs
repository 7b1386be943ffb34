//! The disconnect watcher of a running `serve`: every [`SCAN`] it looks at
//! the subscribers that have active sessions (from accounting) on a NAS with
//! a `das`, and sends each session a Disconnect-Request (RFC 5176) once its
//! subscriber is removed, barred, or its K/OPc changed since the last look;
//! when its reply attributes (group's or own) changed, a CoA-Request with
//! the new ones, and a Disconnect-Request if the NAS NAKs it or never
//! answers it. Every [`IDLE_SWEEP`] it closes the sessions idle for
//! `[radius] session_idle_timeout` (with no `das` anywhere, that is all it does).
//! One thread, one UDP socket, a [`DasClient`]; nothing here blocks the
//! RADIUS workers. Outcomes are counted in [`DasMetrics`] (`aaa_das_*`).
//!
//! Several nodes on one PostgreSQL store each run a watcher and each sees
//! the same change; before sending, a watcher claims the (session, kind,
//! attributes digest) with [`WatchStore::claim`], on this thread, and only
//! the winner sends (`hss::postgres::das_claim`). SQLite always grants it.

use super::das::{DasClient, DasEvent, DasKind, Retry, SessionRef, udp::log};
use super::sessions::ActiveSession;
use super::store::WatchStore;
use crate::config::{Client, Config};
use crate::hss::{HssError, Imsi};
use crate::metrics::das::DasMetrics;
use std::collections::{HashMap, HashSet};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// How often the watcher looks at the store: the delay between `subscriber
/// bar` (or remove, or a K change) and the Disconnect-Request, at most.
pub const SCAN: Duration = Duration::from_millis(250);

/// How often sessions idle for `[radius] session_idle_timeout` are closed.
pub const IDLE_SWEEP: Duration = Duration::from_secs(10);

/// How long a Disconnect/CoA claim is kept once its session has ended
/// (ended sessions' claims are deleted at the idle sweep after that): far
/// longer than one scan of any node, so no node that still lists the
/// session claims it again.
pub const CLAIM_KEEP: Duration = Duration::from_secs(60);

/// A subscriber as the watcher compares it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubscriberState {
    /// Removed.
    Gone,
    /// Barred.
    Barred,
    /// Present: an MD5 fingerprint of K‖OPc (kept in memory only, never logged).
    Keys([u8; 16]),
}

/// The DAS request for each of `sessions` whose client has a `das`:
/// (DAS address, the client's secret, the session).
pub fn targets(
    clients: &[Client],
    sessions: &[ActiveSession],
) -> Vec<(SocketAddr, Zeroizing<Vec<u8>>, SessionRef)> {
    sessions
        .iter()
        .filter_map(|s| {
            let c = clients.iter().find(|c| c.name == s.client)?;
            Some((
                c.das?,
                Zeroizing::new(c.secret.expose().to_vec()),
                SessionRef {
                    user_name: s.user_name.clone(),
                    acct_session_id: s.session_id.clone(),
                    calling_station_id: (!s.calling_station_id.is_empty())
                        .then(|| s.calling_station_id.clone()),
                },
            ))
        })
        .collect()
}

/// Starts the watcher; it ends once `stop` is set. With no client that has
/// a `das`, it only closes idle sessions.
pub fn spawn(
    cfg: &Config,
    store: Arc<dyn WatchStore>,
    stop: Arc<AtomicBool>,
    metrics: &crate::metrics::Metrics,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let idle = cfg.radius.session_idle_timeout;
    if cfg.clients.iter().all(|c| c.das.is_none()) {
        return std::thread::Builder::new()
            .name("session-idle".into())
            .spawn(move || {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    close_idle(&*store, idle, &mut next);
                    std::thread::sleep(SCAN);
                }
            })
            .map(Some);
    }
    let m = DasMetrics::register(metrics);
    let v6 = cfg
        .clients
        .iter()
        .any(|c| c.das.is_some_and(|d| d.is_ipv6()));
    let sock = UdpSocket::bind(if v6 { "[::]:0" } else { "0.0.0.0:0" })?;
    sock.set_read_timeout(Some(Duration::from_millis(50)))?;
    tracing::info!(local = %sock.local_addr()?, "disconnect watcher started");
    let clients = cfg.clients.clone();
    std::thread::Builder::new()
        .name("das-watch".into())
        .spawn(move || run(&clients, &*store, &sock, &stop, idle, &m))
        .map(Some)
}

/// What the watcher remembers between scans.
#[derive(Default)]
struct Seen {
    /// Per IMSI with sessions: removed / barred / key fingerprint.
    state: HashMap<String, SubscriberState>,
    /// Per IMSI with sessions: the reply attributes it was last given.
    reply: HashMap<String, super::ReplyAttributes>,
    /// Sessions already sent a Disconnect-Request.
    sent: HashSet<(String, String)>,
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Closes idle sessions once `next` has passed, then sets the next time.
fn close_idle(store: &dyn WatchStore, idle: Duration, next: &mut Instant) {
    if Instant::now() < *next {
        return;
    }
    *next = Instant::now() + IDLE_SWEEP;
    let now = i64::try_from(unix_now()).unwrap_or(i64::MAX);
    match store.close_idle_sessions(idle, now) {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            closed = n,
            idle_secs = idle.as_secs(),
            "idle sessions closed"
        ),
        Err(e) => tracing::warn!(error = %e, "idle sessions: store"),
    }
    if let Err(e) = store.expire_claims(CLAIM_KEEP) {
        tracing::warn!(error = %e, "Disconnect/CoA claims: store");
    }
}

/// A request's outcome: logged, counted, and for a CoA the NAS refused or
/// never answered, the Disconnect-Request in its place.
fn outcome(das: &mut DasClient, sock: &UdpSocket, m: &DasMetrics, ev: &DasEvent) {
    log(ev);
    m.event(ev);
    if let Some(r) = das.disconnect_after(ev, Instant::now(), unix_now()) {
        let (nas, session) = match ev {
            DasEvent::Ack { nas, session, .. }
            | DasEvent::Nak { nas, session, .. }
            | DasEvent::TimedOut { nas, session, .. } => (nas, session),
        };
        match r {
            Ok(t) => {
                // The NAS does not take the change: a Disconnect makes
                // the station authenticate again and get it.
                tracing::info!(nas = %nas, session = %session, why = "CoA failed", "Disconnect-Request sent");
                m.sent(DasKind::Disconnect);
                m.coa_fallback();
                let _ = sock.send_to(&t.bytes, t.to);
            }
            Err(e) => tracing::warn!(nas = %nas, error = %e, "Disconnect-Request not sent"),
        }
    }
}

fn run(
    clients: &[Client],
    store: &dyn WatchStore,
    sock: &UdpSocket,
    stop: &AtomicBool,
    idle: Duration,
    m: &DasMetrics,
) {
    let mut das = DasClient::new(Retry::default());
    let mut seen = Seen::default();
    let mut next_scan = Instant::now();
    let mut next_sweep = Instant::now();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::Relaxed) {
        close_idle(store, idle, &mut next_sweep);
        if Instant::now() >= next_scan {
            next_scan = Instant::now() + SCAN;
            if let Err(e) = scan(clients, store, sock, &mut das, &mut seen, m) {
                tracing::warn!(error = %e, "disconnect watcher: store");
            }
        }
        // A timeout (nothing received) is the usual case.
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            match das.receive(from, &buf[..n]) {
                Ok(ev) => outcome(&mut das, sock, m, &ev),
                Err(why) => {
                    m.dropped(why);
                    tracing::warn!(from = %from, why = %why, "DAS response dropped");
                }
            }
        }
        let (tx, gone) = das.poll(Instant::now());
        m.retransmitted(tx.len());
        for t in tx {
            let _ = sock.send_to(&t.bytes, t.to);
        }
        for ev in &gone {
            outcome(&mut das, sock, m, ev);
        }
    }
    tracing::info!(counters = ?das.counters, "disconnect watcher stopped");
}

/// Sends one request, logging it.
#[allow(clippy::too_many_arguments)]
fn send(
    das: &mut DasClient,
    sock: &UdpSocket,
    to: SocketAddr,
    secret: &[u8],
    kind: DasKind,
    session: &SessionRef,
    extra: &[(u8, Vec<u8>)],
    why: &str,
    m: &DasMetrics,
) {
    match das.request(to, secret, kind, session, extra, Instant::now(), unix_now()) {
        Ok(t) => {
            tracing::info!(nas = %to, session = %session.acct_session_id, why, "{kind} sent");
            m.sent(kind);
            let _ = sock.send_to(&t.bytes, t.to);
        }
        Err(e) => tracing::warn!(nas = %to, error = %e, "{kind} not sent"),
    }
}

/// MD5 of the encoded attributes of a CoA-Request: its claim's digest.
fn digest(extra: &[(u8, Vec<u8>)]) -> Vec<u8> {
    use md5::{Digest, Md5};
    let mut h = Md5::new();
    for (t, v) in extra {
        h.update([*t]);
        h.update((v.len() as u32).to_be_bytes());
        h.update(v);
    }
    h.finalize().to_vec()
}

/// For each of `sessions` whose client has a `das`: claims `kind` at
/// `digest` ([`WatchStore::claim`]) and sends the request when this node
/// won; counts it as claimed elsewhere when another node did. Returns the
/// (client, Acct-Session-Id) decided either way, and whether some claim
/// failed (store unreachable: that session is tried again next scan).
#[allow(clippy::too_many_arguments)]
fn claim_and_send(
    clients: &[Client],
    store: &dyn WatchStore,
    sock: &UdpSocket,
    das: &mut DasClient,
    sessions: &[&ActiveSession],
    kind: DasKind,
    (digest, extra): (&[u8], &[(u8, Vec<u8>)]),
    why: &str,
    m: &DasMetrics,
) -> (Vec<(String, String)>, bool) {
    let mut decided = Vec::new();
    let mut failed = false;
    for s in sessions {
        let Some((to, secret, session)) = targets(clients, std::slice::from_ref(*s)).pop() else {
            continue;
        };
        match store.claim(&s.client, &s.session_id, kind, digest) {
            Ok(true) => send(das, sock, to, &secret, kind, &session, extra, why, m),
            Ok(false) => {
                tracing::debug!(nas = %to, session = %s.session_id, why, "{kind} claimed by another node");
                m.claimed_elsewhere(kind);
            }
            Err(e) => {
                tracing::warn!(nas = %to, session = %s.session_id, error = %e, "{kind} not claimed: store");
                failed = true;
                continue;
            }
        }
        decided.push((s.client.clone(), s.session_id.clone()));
    }
    (decided, failed)
}

fn scan(
    clients: &[Client],
    store: &dyn WatchStore,
    sock: &UdpSocket,
    das: &mut DasClient,
    seen: &mut Seen,
    m: &DasMetrics,
) -> Result<(), HssError> {
    let Seen {
        state: known,
        reply,
        sent,
    } = seen;
    let sessions = store.sessions(None)?;
    sent.retain(|k| {
        sessions
            .iter()
            .any(|s| s.client == k.0 && s.session_id == k.1)
    });
    let mut by_imsi: HashMap<&str, Vec<&ActiveSession>> = HashMap::new();
    for s in &sessions {
        if let Some(i) = &s.imsi {
            by_imsi.entry(i).or_default().push(s);
        }
    }
    known.retain(|i, _| by_imsi.contains_key(i.as_str()));
    reply.retain(|i, _| by_imsi.contains_key(i.as_str()));
    for (imsi, list) in by_imsi {
        let Ok(parsed) = Imsi::parse(imsi) else {
            continue;
        };
        let now = store.subscriber_state(&parsed)?;
        let before = known.insert(imsi.to_string(), now.clone());
        let why = match (&now, &before) {
            (SubscriberState::Gone, _) => "subscriber removed",
            (SubscriberState::Barred, _) => "subscriber barred",
            (SubscriberState::Keys(k), Some(SubscriberState::Keys(b))) if k != b => {
                "subscriber K/OPc changed"
            }
            _ => {
                // Still served: a change of its reply attributes (its
                // group's or its own) goes to the NAS as a CoA-Request.
                let a = store.authorization(&parsed)?.reply;
                let before = reply.insert(imsi.to_string(), a.clone());
                if let Some(b) = before
                    && b != a
                {
                    let extra = super::encode(&a);
                    let (_, failed) = claim_and_send(
                        clients,
                        store,
                        sock,
                        das,
                        &list,
                        DasKind::Coa,
                        (&digest(&extra), &extra),
                        "reply attributes changed",
                        m,
                    );
                    if failed {
                        // Seen as a change again next scan; the sessions
                        // already claimed at this digest are not sent twice.
                        reply.insert(imsi.to_string(), b);
                    }
                }
                continue;
            }
        };
        reply.remove(imsi);
        let fresh: Vec<&ActiveSession> = list
            .into_iter()
            .filter(|s| !sent.contains(&(s.client.clone(), s.session_id.clone())))
            .collect();
        let (decided, failed) = claim_and_send(
            clients,
            store,
            sock,
            das,
            &fresh,
            DasKind::Disconnect,
            (&[], &[]),
            why,
            m,
        );
        sent.extend(decided);
        if failed && let Some(b) = before {
            // A K/OPc change is seen against the state before it: keep
            // that, so the next scan tries the sessions not claimed again.
            known.insert(imsi.to_string(), b);
        }
    }
    Ok(())
}

/// Outcomes a caller may want to count.
pub fn acked(events: &[DasEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, DasEvent::Ack { .. }))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::{AccountingLog, AccountingRecord};
    use std::sync::Mutex;

    /// A claim: client, Acct-Session-Id, kind, digest.
    type Claim = (String, String, DasKind, Vec<u8>);

    /// A store shared by two nodes whose claims are kept in one set, as
    /// `das_claim` keeps them for every node of a PostgreSQL store.
    struct Shared {
        sessions: Vec<ActiveSession>,
        state: Mutex<SubscriberState>,
        claims: Mutex<HashSet<Claim>>,
        unreachable: AtomicBool,
    }

    impl crate::hss::Hss for Shared {
        fn vector(
            &self,
            _: &Imsi,
            _: crate::hss::VectorKind,
        ) -> Result<eap::umts::AuthVector, HssError> {
            Err(HssError::UnknownSubscriber)
        }
        fn resync(
            &self,
            _: &Imsi,
            _: &[u8; 16],
            _: &eap::umts::Auts,
        ) -> Result<eap::umts::Sqn, HssError> {
            Err(HssError::UnknownSubscriber)
        }
        fn authorization(&self, _: &Imsi) -> Result<crate::authz::Authorization, HssError> {
            Ok(crate::authz::Authorization::default())
        }
    }

    impl WatchStore for Shared {
        fn sessions(&self, _: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError> {
            Ok(self.sessions.clone())
        }
        fn subscriber_state(&self, _: &Imsi) -> Result<SubscriberState, HssError> {
            Ok(self.state.lock().unwrap().clone())
        }
        fn close_idle_sessions(&self, _: Duration, _: i64) -> Result<usize, HssError> {
            Ok(0)
        }
        fn claim(&self, c: &str, s: &str, k: DasKind, d: &[u8]) -> Result<bool, HssError> {
            if self.unreachable.load(Ordering::Relaxed) {
                return Err(HssError::Store("unreachable".into()));
            }
            let mut claims = self.claims.lock().unwrap();
            claims.retain(|x| !(x.0 == c && x.1 == s && x.2 == k && x.3 != d));
            Ok(claims.insert((c.into(), s.into(), k, d.to_vec())))
        }
        fn expire_claims(&self, _: Duration) -> Result<usize, HssError> {
            Ok(0)
        }
    }

    /// Codes of the datagrams waiting at `nas`.
    fn received(nas: &UdpSocket) -> Vec<u8> {
        let mut buf = [0u8; 4096];
        let mut codes = Vec::new();
        while let Ok((n, _)) = nas.recv_from(&mut buf) {
            codes.extend(buf[..n.min(1)].iter());
        }
        codes
    }

    #[test]
    fn of_two_nodes_one_sends_and_a_failed_claim_is_tried_again() {
        let nas = UdpSocket::bind("127.0.0.1:0").unwrap();
        nas.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let clients = vec![Client {
            name: "ap1".into(),
            network: crate::config::Cidr::parse("127.0.0.1/32").unwrap(),
            secret: eap::secret::SecretBytes::new(b"s3cret".to_vec()),
            require_message_authenticator: false,
            das: Some(nas.local_addr().unwrap()),
        }];
        let store = Shared {
            sessions: vec![ActiveSession {
                client: "ap1".into(),
                nas: "ap1".into(),
                session_id: "s1".into(),
                user_name: "0001010000000001@x".into(),
                imsi: Some("001010000000001".into()),
                calling_station_id: "02-00-00-00-00-01".into(),
                started: 0,
                updated: 0,
            }],
            state: Mutex::new(SubscriberState::Keys([1; 16])),
            claims: Mutex::default(),
            unreachable: AtomicBool::new(false),
        };
        let metrics = crate::metrics::Metrics::new();
        let m = DasMetrics::register(&metrics);
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut nodes: Vec<(DasClient, Seen)> = (0..2)
            .map(|_| (DasClient::new(Retry::default()), Seen::default()))
            .collect();
        let mut scan_all = |only: Option<usize>| {
            for (i, (das, seen)) in nodes.iter_mut().enumerate() {
                if only.is_none_or(|o| o == i) {
                    scan(&clients, &store, &sock, das, seen, &m).unwrap();
                }
            }
        };
        scan_all(None);
        assert!(received(&nas).is_empty(), "first look: nothing changed");
        // K changes while node 0 cannot claim: nothing leaves it.
        *store.state.lock().unwrap() = SubscriberState::Keys([2; 16]);
        store.unreachable.store(true, Ordering::Relaxed);
        scan_all(Some(0));
        assert!(received(&nas).is_empty());
        // Reachable again: node 0 tries again and sends, node 1 does not.
        store.unreachable.store(false, Ordering::Relaxed);
        scan_all(Some(0));
        assert_eq!(received(&nas), [40], "node 0's Disconnect-Request");
        scan_all(Some(1));
        assert!(received(&nas).is_empty(), "node 1 lost the claim");
        // Barred afterwards: the session had its Disconnect.
        *store.state.lock().unwrap() = SubscriberState::Barred;
        scan_all(None);
        assert!(received(&nas).is_empty());
        let t = metrics.encode(false);
        for line in [
            r#"aaa_das_requests_total{kind="disconnect"} 1"#,
            r#"aaa_das_claimed_elsewhere_total{kind="disconnect"} 1"#,
        ] {
            assert!(t.contains(line), "{line} not in\n{t}");
        }
    }

    #[test]
    fn the_timer_closes_idle_sessions_without_new_accounting() {
        let store = crate::hss::SqliteStore::open_in_memory().unwrap();
        let rec = AccountingRecord {
            client: "ap1".into(),
            session_id: "s1".into(),
            status_type: 1,
            user: "6001010000000001@x".into(),
            ..Default::default()
        };
        store.record(&rec).unwrap();
        let idle = Duration::from_secs(3600);
        let mut next = Instant::now();
        close_idle(&store, idle, &mut next);
        assert!(next > Instant::now() + IDLE_SWEEP / 2, "next sweep set");
        assert_eq!(store.sessions(None).unwrap().len(), 1, "not idle yet");
        // An hour and a second later (the session's last update moved back),
        // with no accounting in between: closed at the next sweep only.
        let conn = store.lock().unwrap();
        conn.execute("UPDATE acct_session SET updated = updated - 3601", [])
            .unwrap();
        drop(conn);
        close_idle(&store, idle, &mut next);
        assert_eq!(store.sessions(None).unwrap().len(), 1, "sweep not due");
        next = Instant::now();
        close_idle(&store, idle, &mut next);
        assert!(store.sessions(None).unwrap().is_empty());
    }
}
