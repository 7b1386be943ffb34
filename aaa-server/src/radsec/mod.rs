//! RadSec: RADIUS over TLS (RFC 6614) as a home server. Partners connect
//! over TCP (port 2083), both sides present certificates (TLS 1.2 or 1.3),
//! the client certificate names the `[[radsec.client]]`, and the RADIUS
//! packets on the stream (framed by their Length, RFC 6613) go to the same
//! [`RadiusServer`] as UDP datagrams do — [`RadiusServer::receive_as`] with
//! the shared secret `radsec` (RFC 6614 §2.3). Status-Server (RFC 5997) and
//! accounting are answered on the same connection.
//!
//! ```text
//! radsec/
//!   config.rs  [radsec], [[radsec.client]], Limits
//!   tls.rs     rustls server config (ring), client identification by DNS SAN
//!   frame.rs   RADIUS/TCP framing (sans-IO)
//!   mod.rs     the shell: accept loop, one task per connection, counters
//! ```
//!
//! The shell runs on its own thread and tokio runtime. Store work (vectors,
//! accounting) runs on tokio's blocking pool, at most `[hss] workers` at
//! once. Limits: connections at once, requests in flight per connection,
//! an idle timeout, a handshake timeout and a maximum packet length. A
//! connection that fails them, or whose TLS or certificate is refused, is
//! closed, counted ([`Counters`]) and logged at warn.

pub mod config;
pub mod frame;
pub mod tls;

pub use config::{Limits, RadsecClient, RadsecConfig};

use crate::config::{Cidr, Client};
use crate::radius::{ClientId, DropReason, Effect, Handled, RadiusServer, udp::log_effects_for};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, mpsc, watch};

/// The RADIUS shared secret of every RadSec connection (RFC 6614 §2.3).
pub const SECRET: &str = "radsec";

/// How long a closing connection waits for answers still being made.
const DRAIN: Duration = Duration::from_secs(5);

/// Why RadSec could not start.
#[derive(Debug, thiserror::Error)]
pub enum RadsecError {
    /// The certificate, key or CA files.
    #[error("{0}")]
    Tls(#[from] tls::TlsSetupError),
    /// Binding the listener, or starting its thread or runtime.
    #[error("radsec: {what}: {err}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        err: std::io::Error,
    },
}

/// RadSec counters since start, updated by every connection; a snapshot
/// is [`Counters::snapshot`].
#[derive(Debug, Default)]
pub struct Counters {
    accepted: AtomicU64,
    active: AtomicU64,
    over_limit: AtomicU64,
    handshake_timeouts: AtomicU64,
    tls_failures: AtomicU64,
    certificates_refused: AtomicU64,
    no_matching_client: AtomicU64,
    established: AtomicU64,
    framing_errors: AtomicU64,
    tls_record_errors: AtomicU64,
    malformed: AtomicU64,
    idle_timeouts: AtomicU64,
    packets: AtomicU64,
    /// Established connections open now, per client name.
    per_client: std::sync::Mutex<std::collections::BTreeMap<String, i64>>,
}

/// Counts an established connection of a client until dropped.
struct ClientConnection<'a> {
    counters: &'a Counters,
    name: String,
}

impl<'a> ClientConnection<'a> {
    fn open(counters: &'a Counters, name: &str) -> Self {
        *counters
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(name.to_string())
            .or_default() += 1;
        ClientConnection {
            counters,
            name: name.to_string(),
        }
    }
}

impl Drop for ClientConnection<'_> {
    fn drop(&mut self) {
        if let Some(n) = self
            .counters
            .per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&self.name)
        {
            *n -= 1;
        }
    }
}

/// The values of [`Counters`] at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CounterValues {
    /// TCP connections accepted.
    pub accepted: u64,
    /// Connections open now (handshaking or established).
    pub active: u64,
    /// Closed at once: `max_connections` were open.
    pub over_limit: u64,
    /// TLS handshakes not finished within `handshake_timeout`.
    pub handshake_timeouts: u64,
    /// TLS handshakes failed for anything but the client certificate (not TLS, no common version…).
    pub tls_failures: u64,
    /// Client certificates refused: none, another CA, expired, not for client use.
    pub certificates_refused: u64,
    /// Verified certificates that no `[[radsec.client]]` matches (SAN mismatch).
    pub no_matching_client: u64,
    /// Connections that completed the handshake and were identified.
    pub established: u64,
    /// Closed: a Length field out of range (garbage on the stream).
    pub framing_errors: u64,
    /// Closed: bytes after the handshake that are not a valid TLS record (bad MAC, not TLS).
    pub tls_record_errors: u64,
    /// Closed: a packet the RADIUS core found malformed.
    pub malformed: u64,
    /// Closed: no packet for `idle_timeout`.
    pub idle_timeouts: u64,
    /// RADIUS packets received on established connections.
    pub packets: u64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    /// Established connections open now, per client name (a client that
    /// has had one stays listed, at 0).
    pub fn client_connections(&self) -> Vec<(String, i64)> {
        self.per_client
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    /// The current values.
    pub fn snapshot(&self) -> CounterValues {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterValues {
            accepted: g(&self.accepted),
            active: g(&self.active),
            over_limit: g(&self.over_limit),
            handshake_timeouts: g(&self.handshake_timeouts),
            tls_failures: g(&self.tls_failures),
            certificates_refused: g(&self.certificates_refused),
            no_matching_client: g(&self.no_matching_client),
            established: g(&self.established),
            framing_errors: g(&self.framing_errors),
            tls_record_errors: g(&self.tls_record_errors),
            malformed: g(&self.malformed),
            idle_timeouts: g(&self.idle_timeouts),
            packets: g(&self.packets),
        }
    }
}

/// What [`prepare`] makes before the core is shared: the TLS configuration
/// and the clients' ids in the core.
pub struct Prepared {
    cfg: RadsecConfig,
    tls: Arc<rustls::ServerConfig>,
    ids: Vec<ClientId>,
}

/// Reads the certificate files (also `serve --check`) without binding anything.
///
/// # Errors
/// See [`tls::server_config`].
pub fn check(cfg: &RadsecConfig) -> Result<(), RadsecError> {
    tls::server_config(cfg)?;
    Ok(())
}

/// Loads the TLS configuration and adds the `[[radsec.client]]`s to `core`
/// (secret `radsec`; they never match a UDP source address).
///
/// # Errors
/// See [`tls::server_config`].
pub fn prepare(cfg: &RadsecConfig, core: &mut RadiusServer) -> Result<Prepared, RadsecError> {
    let tls = tls::server_config(cfg)?;
    let clients: Vec<Client> = cfg
        .clients
        .iter()
        .map(|c| Client {
            name: c.name.clone(),
            // Unused: transport clients are never looked up by address.
            network: Cidr::parse("0.0.0.0/32").expect("a valid network"),
            secret: eap::secret::SecretBytes::from(SECRET),
            // TLS protects every packet; EAP and Status-Server still need it (RFC 3579, 5997).
            require_message_authenticator: false,
            // Disconnect/CoA go to UDP NASes only.
            das: None,
        })
        .collect();
    let ids = core.add_transport_clients(&clients);
    Ok(Prepared {
        cfg: cfg.clone(),
        tls,
        ids,
    })
}

/// The running listener.
pub struct Handle {
    addr: SocketAddr,
    counters: Arc<Counters>,
    stop: watch::Sender<bool>,
    thread: std::thread::JoinHandle<()>,
}

impl Handle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters (shared: they go on counting).
    pub fn counters(&self) -> Arc<Counters> {
        self.counters.clone()
    }

    /// Stops accepting, closes every connection (answers being made get
    /// up to a second) and joins the thread.
    pub fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.thread.join();
    }
}

struct Shared {
    core: Arc<RadiusServer>,
    acceptor: tokio_rustls::TlsAcceptor,
    clients: Vec<RadsecClient>,
    /// `ids[i]` names `clients[i]` in the core.
    ids: Vec<ClientId>,
    limits: Limits,
    counters: Arc<Counters>,
}

/// Binds `[radsec] listen` and serves it on a thread of its own; store work
/// runs on at most `store_workers` threads.
///
/// # Errors
/// The address cannot be bound, the thread or runtime cannot start.
pub fn start(
    prepared: Prepared,
    core: Arc<RadiusServer>,
    store_workers: usize,
) -> Result<Handle, RadsecError> {
    let io = |what: String| move |err| RadsecError::Io { what, err };
    let Prepared { cfg, tls, ids } = prepared;
    let listener =
        std::net::TcpListener::bind(cfg.listen).map_err(io(format!("bind {}", cfg.listen)))?;
    listener
        .set_nonblocking(true)
        .map_err(io("set_nonblocking".into()))?;
    let addr = listener.local_addr().map_err(io("local_addr".into()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(store_workers.max(1))
        .thread_name("radsec")
        .enable_all()
        .build()
        .map_err(io("tokio runtime".into()))?;
    let counters = Arc::new(Counters::default());
    let shared = Arc::new(Shared {
        core,
        acceptor: tokio_rustls::TlsAcceptor::from(tls),
        clients: cfg.clients.clone(),
        ids,
        limits: cfg.limits.clone(),
        counters: counters.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let thread = std::thread::Builder::new()
        .name("radsec-accept".into())
        .spawn(move || {
            rt.block_on(async move {
                match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => accept_loop(l, shared, stopped).await,
                    Err(e) => tracing::error!(error = %e, "radsec listener unusable"),
                }
            });
            rt.shutdown_timeout(Duration::from_secs(1));
        })
        .map_err(io("thread".into()))?;
    tracing::info!(
        address = %addr,
        clients = cfg.clients.len(),
        max_connections = cfg.limits.max_connections,
        "radsec listening"
    );
    Ok(Handle {
        addr,
        counters,
        stop,
        thread,
    })
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let slots = Arc::new(Semaphore::new(shared.limits.max_connections));
    loop {
        let (tcp, peer) = tokio::select! {
            _ = stopped.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "radsec accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        bump(&shared.counters.accepted);
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            bump(&shared.counters.over_limit);
            tracing::warn!(peer = %peer, limit = shared.limits.max_connections, "radsec connection refused: max_connections open");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            shared.counters.active.fetch_add(1, Ordering::Relaxed);
            let end = connection(tcp, peer, &shared).await;
            shared.counters.active.fetch_sub(1, Ordering::Relaxed);
            end.record(peer, &shared.counters);
            drop(slot);
        });
    }
}

/// How a connection ended.
#[derive(Debug)]
enum End {
    HandshakeTimeout,
    Tls(String),
    Certificate(String),
    NoClient(Vec<String>),
    Framing(frame::FrameError),
    TlsRecord(std::io::Error),
    Malformed,
    Idle,
    Closed,
    Io(std::io::Error),
}

impl End {
    fn record(self, peer: SocketAddr, c: &Counters) {
        match self {
            End::HandshakeTimeout => {
                bump(&c.handshake_timeouts);
                tracing::warn!(peer = %peer, "radsec connection closed: TLS handshake timeout");
            }
            End::Tls(e) => {
                bump(&c.tls_failures);
                tracing::warn!(peer = %peer, error = %e, "radsec connection closed: TLS handshake failed");
            }
            End::Certificate(e) => {
                bump(&c.certificates_refused);
                tracing::warn!(peer = %peer, error = %e, "radsec connection closed: client certificate refused");
            }
            End::NoClient(names) => {
                bump(&c.no_matching_client);
                tracing::warn!(peer = %peer, dns_names = ?names, "radsec connection closed: certificate matches no radsec.client subject_alt_name");
            }
            End::Framing(e) => {
                bump(&c.framing_errors);
                tracing::warn!(peer = %peer, error = %e, "radsec connection closed: not RADIUS/TCP");
            }
            End::TlsRecord(e) => {
                bump(&c.tls_record_errors);
                tracing::warn!(peer = %peer, error = %e, "radsec connection closed: bad TLS record");
            }
            End::Malformed => {
                bump(&c.malformed);
                tracing::warn!(peer = %peer, "radsec connection closed: malformed RADIUS packet");
            }
            End::Idle => {
                bump(&c.idle_timeouts);
                tracing::info!(peer = %peer, "radsec connection closed: idle");
            }
            End::Closed => tracing::info!(peer = %peer, "radsec connection closed by the peer"),
            End::Io(e) => tracing::info!(peer = %peer, error = %e, "radsec connection lost"),
        }
    }
}

/// The handshake error's kind: the client certificate, or anything else.
fn handshake_end(e: &std::io::Error) -> End {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(
            r @ (rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented),
        ) => End::Certificate(r.to_string()),
        Some(r) => End::Tls(r.to_string()),
        None => End::Tls(e.to_string()),
    }
}

/// A failed read: the peer's end, a bad TLS record, or the network.
fn read_end(e: std::io::Error) -> End {
    match e.kind() {
        std::io::ErrorKind::UnexpectedEof => End::Closed,
        std::io::ErrorKind::InvalidData => End::TlsRecord(e),
        _ => End::Io(e),
    }
}

async fn connection(tcp: tokio::net::TcpStream, peer: SocketAddr, sh: &Shared) -> End {
    let limits = &sh.limits;
    let stream = match tokio::time::timeout(limits.handshake_timeout, sh.acceptor.accept(tcp)).await
    {
        Err(_) => return End::HandshakeTimeout,
        Ok(Err(e)) => return handshake_end(&e),
        Ok(Ok(s)) => s,
    };
    let names = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|leaf| tls::dns_names(leaf))
        .unwrap_or_default();
    let Some(i) = tls::identify(&sh.clients, &names) else {
        return End::NoClient(names);
    };
    let (client, id) = (&sh.clients[i], sh.ids[i]);
    bump(&sh.counters.established);
    let _open = ClientConnection::open(&sh.counters, &client.name);
    tracing::info!(peer = %peer, client = %client.name, "radsec connection established");

    let (mut rd, mut wr) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(limits.max_in_flight);
    let writer = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            crate::radius::debug::print(crate::radius::debug::Direction::Sent, peer, &bytes);
            wr.write_all(&bytes).await?;
        }
        wr.shutdown().await
    });
    let in_flight = Arc::new(Semaphore::new(limits.max_in_flight));
    let mut head = [0u8; frame::HEADER];
    let end = loop {
        match tokio::time::timeout(limits.idle_timeout, rd.read_exact(&mut head)).await {
            Err(_) => break End::Idle,
            Ok(Err(e)) => break read_end(e),
            Ok(Ok(_)) => {}
        }
        let len = match frame::packet_length(&head, limits.max_packet_length) {
            Ok(n) => n,
            Err(e) => break End::Framing(e),
        };
        let mut packet = vec![0u8; len];
        packet[..frame::HEADER].copy_from_slice(&head);
        match tokio::time::timeout(
            limits.idle_timeout,
            rd.read_exact(&mut packet[frame::HEADER..]),
        )
        .await
        {
            Err(_) => break End::Idle,
            Ok(Err(e)) => break read_end(e),
            Ok(Ok(_)) => {}
        }
        bump(&sh.counters.packets);
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break End::Closed;
        };
        let listener = frame::listener_for(packet[0]);
        crate::radius::debug::print(crate::radius::debug::Direction::Received, peer, &packet);
        match sh
            .core
            .receive_as(listener, id, peer, &packet, Instant::now())
        {
            Handled::Reply((bytes, effects)) => {
                let malformed = effects.contains(&Effect::Dropped(DropReason::Malformed));
                log_effects_for(|| sh.core.transport_client_name(id), peer, effects);
                if malformed {
                    break End::Malformed;
                }
                if let Some(b) = bytes
                    && tx.send(b).await.is_err()
                {
                    break End::Closed;
                }
                drop(permit);
            }
            // A proxied request waits for its home server as a task
            // (proxy::aio), holding no blocking-pool thread.
            Handled::Deferred(job) if job.is_proxy() => {
                let (core, tx) = (sh.core.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    let performed = core.perform_async(job).await;
                    let (bytes, effects) = match core.resume(performed, Instant::now()) {
                        Handled::Reply(r) => r,
                        // A proxy job needs no second step; never left in progress.
                        Handled::Deferred(job) => core.abandon(job),
                    };
                    if let Some(b) = bytes {
                        let _ = tx.send(b).await;
                    }
                    log_effects_for(|| core.transport_client_name(id), peer, effects);
                });
            }
            Handled::Deferred(job) => {
                let (core, tx) = (sh.core.clone(), tx.clone());
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    let mut step = Handled::Deferred(job);
                    loop {
                        match step {
                            Handled::Deferred(job) => {
                                step = core.resume(core.perform(job), Instant::now());
                            }
                            Handled::Reply((bytes, effects)) => {
                                if let Some(b) = bytes {
                                    let _ = tx.blocking_send(b);
                                }
                                log_effects_for(|| core.transport_client_name(id), peer, effects);
                                return;
                            }
                        }
                    }
                });
            }
        }
    };
    drop(tx);
    match end {
        // The peer is done sending: the answers being made still go out.
        End::Closed | End::Idle => {
            let _ = tokio::time::timeout(DRAIN, writer).await;
        }
        _ => writer.abort(),
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn established_connections_are_counted_per_client_while_open() {
        let c = Counters::default();
        let a = ClientConnection::open(&c, "partner-a");
        let b = ClientConnection::open(&c, "partner-a");
        let z = ClientConnection::open(&c, "partner-z");
        assert_eq!(
            c.client_connections(),
            [("partner-a".to_string(), 2), ("partner-z".to_string(), 1)]
        );
        drop((a, z));
        assert_eq!(
            c.client_connections(),
            [("partner-a".to_string(), 1), ("partner-z".to_string(), 0)]
        );
        drop(b);
        assert_eq!(c.client_connections()[0].1, 0);
    }
    use crate::radius::Listener;

    fn core() -> RadiusServer {
        let cfg = crate::config::Config::parse(
            "[[client]]\nnetwork = \"127.0.0.1\"\nsecret = \"udp-secret\"\n[hss]\ndatabase = \"x.db\"\n",
            std::path::Path::new("/tmp/aaa.toml"),
        )
        .unwrap();
        let store = Arc::new(crate::hss::SqliteStore::open_in_memory().unwrap());
        RadiusServer::new(&cfg, store.clone(), store)
    }

    /// Status-Server with Message-Authenticator signed with `secret`.
    fn status_server(secret: &[u8]) -> Vec<u8> {
        let mut p = vec![12, 5, 0, 38];
        p.extend_from_slice(&[7; 16]);
        p.extend_from_slice(&[80, 18]);
        p.extend_from_slice(&[0; 16]);
        use hmac::Mac;
        let mut m = crate::radius::crypto::hmac_md5(secret);
        m.update(&p);
        let v = m.finalize().into_bytes();
        p[22..].copy_from_slice(&v);
        p
    }

    #[test]
    fn transport_clients_use_radsec_and_never_match_by_address() {
        let mut core = core();
        let client = Client {
            name: "partner-a".into(),
            network: Cidr::parse("0.0.0.0/0").unwrap(),
            secret: eap::secret::SecretBytes::from(SECRET),
            require_message_authenticator: false,
            das: None,
        };
        let id = core.add_transport_clients(&[client])[0];
        let now = Instant::now();
        let peer: SocketAddr = "192.0.2.1:40000".parse().unwrap();
        let req = status_server(SECRET.as_bytes());
        // By address (UDP), even a 0.0.0.0/0 transport client is unknown.
        let Handled::Reply((None, e)) = core.receive(Listener::Auth, peer, &req, now) else {
            panic!("answered over UDP");
        };
        assert_eq!(e, vec![Effect::Dropped(DropReason::UnknownClient)]);
        // Named by the transport: Access-Accept (RFC 5997 §3).
        let Handled::Reply((Some(resp), _)) = core.receive_as(Listener::Auth, id, peer, &req, now)
        else {
            panic!("not answered");
        };
        assert_eq!((resp[0], resp[1]), (2, 5));
        // The UDP client's secret does not open the RadSec client.
        let wrong = status_server(b"udp-secret");
        let Handled::Reply((None, e)) = core.receive_as(Listener::Auth, id, peer, &wrong, now)
        else {
            panic!("answered with the wrong secret");
        };
        assert_eq!(e, vec![Effect::Dropped(DropReason::BadAuthenticator)]);
    }
}
