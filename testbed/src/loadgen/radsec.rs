//! The RadSec transport of the load generator (RFC 6614): the same
//! [`Authentication`]s as over UDP, carried over TLS connections (tokio-rustls,
//! ring, our test certificate), packets framed by their Length field (RFC
//! 6613 §2.1). Requests are multiplexed by Identifier: a connection carries
//! at most [`MAX_IN_FLIGHT_PER_CONNECTION`] authentications, and a slot's
//! Identifier is its index, so an answer finds its authentication without a
//! lookup. No retransmission over TCP (RFC 6614 §2.4 / RFC 6613 §2.5): an
//! answer not in within `timeout × (retries + 1)` is a timeout.
//!
//! The clock starts once every connection's handshake is done: the figures
//! are for RADIUS over established connections, as between roaming
//! partners, not for handshakes.

use super::auth::{Authentication, Failure, Nas, Step};
use super::engine::{RunResult, Stop, Tally, process_cpu};
use super::subscribers::Card;
use eap::aka::keys::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Authentications in flight per TLS connection (RADIUS Identifiers are 8 bits).
pub const MAX_IN_FLIGHT_PER_CONNECTION: usize = 256;

/// The RADIUS shared secret over RadSec (RFC 6614 §2.3).
pub const SECRET: &[u8] = b"radsec";

/// Largest RADIUS packet accepted from the server (RFC 2865 §3 allows 4096).
const MAX_PACKET: usize = 4096;

/// Our TLS client side: the CA the server must chain to, our certificate and
/// key, and the name the server's certificate must carry.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    server_name: ServerName<'static>,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// From PEM files; `server_name` is a DNS name or an IP address. The
    /// session keys go to `SSLKEYLOGFILE` when it is set (for tshark).
    pub fn from_files(
        ca: &Path,
        cert: &Path,
        key: &Path,
        server_name: &str,
    ) -> Result<Self, String> {
        let pem = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(ca).map_err(|e| pem(ca, &e))? {
            roots
                .add(c.map_err(|e| pem(ca, &e))?)
                .map_err(|e| pem(ca, &e))?;
        }
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| pem(cert, &e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem(cert, &e))?;
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem(key, &e))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS versions: {e}"))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key_der)
            .map_err(|e| format!("TLS client certificate: {e}"))?;
        config.key_log = Arc::new(rustls::KeyLogFile::new());
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| format!("TLS server name {server_name:?}: {e}"))?;
        Ok(Self {
            config: Arc::new(config),
            server_name,
        })
    }

    /// Connects once and says what was negotiated: `"TLSv1_3 / TLS13_AES_256_GCM_SHA384"`.
    pub fn negotiated(&self, addr: SocketAddr) -> Result<String, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))?;
        rt.block_on(async {
            let mut s = self.connect(addr).await?;
            let c = s.get_ref().1;
            let text = format!(
                "{} / {}",
                c.protocol_version()
                    .map_or("?".into(), |v| format!("{v:?}")),
                c.negotiated_cipher_suite()
                    .map_or("?".into(), |cs| format!("{:?}", cs.suite()))
            );
            let _ = s.shutdown().await;
            Ok(text)
        })
    }

    async fn connect(
        &self,
        addr: SocketAddr,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("TCP connect {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        tokio_rustls::TlsConnector::from(self.config.clone())
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| format!("TLS handshake with {addr}: {e}"))
    }
}

/// What to run over RadSec.
#[derive(Debug, Clone)]
pub struct Load {
    /// The RadSec server.
    pub server: SocketAddr,
    /// NAS-Identifier (the secret is [`SECRET`]) and the response checks.
    pub nas: Nas,
    /// Authentications in flight at once, over all connections.
    pub concurrency: usize,
    /// TLS connections (the concurrency is spread over them).
    pub connections: usize,
    /// When to stop.
    pub stop: Stop,
    /// EAP-AKA or EAP-AKA'.
    pub method: Method,
    /// How long one round may take before the authentication is a timeout
    /// (times `retries + 1`, as the UDP engine's retransmissions would).
    pub timeout: Duration,
    /// See `timeout`.
    pub retries: u32,
}

/// How `concurrency` authentications are spread over `connections`
/// (the first ones get one more); an error when one would carry more than
/// [`MAX_IN_FLIGHT_PER_CONNECTION`].
pub fn spread(concurrency: usize, connections: usize) -> Result<Vec<usize>, String> {
    if concurrency == 0 || connections == 0 {
        return Err("concurrency and connections must be at least 1".into());
    }
    if connections > concurrency {
        return Err(format!(
            "{connections} connections for {concurrency} authentications in flight: some would stay idle"
        ));
    }
    let (each, extra) = (concurrency / connections, concurrency % connections);
    let v: Vec<usize> = (0..connections)
        .map(|i| each + usize::from(i < extra))
        .collect();
    if v[0] > MAX_IN_FLIGHT_PER_CONNECTION {
        return Err(format!(
            "{} authentications on one connection: at most {MAX_IN_FLIGHT_PER_CONNECTION} (RADIUS Identifiers); use more connections",
            v[0]
        ));
    }
    Ok(v)
}

/// The packets complete in `buf` (RADIUS/TCP framing by Length): their
/// lengths in order, or an error for a Length below 20 or above `max`.
pub fn frames(buf: &[u8], max: usize) -> Result<Vec<usize>, String> {
    let mut out = Vec::new();
    let mut rest = buf;
    while rest.len() >= 4 {
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        if !(20..=max).contains(&len) {
            return Err(format!("RADIUS/TLS framing: Length {len}"));
        }
        if rest.len() < len {
            break;
        }
        out.push(len);
        rest = &rest[len..];
    }
    Ok(out)
}

struct Shared {
    started: AtomicU64,
    stop_all: AtomicBool,
    deadline: Option<Instant>,
    cards: Mutex<VecDeque<Card>>,
}

impl Shared {
    fn may_start(&self, stop: Stop) -> bool {
        if self.stop_all.load(Ordering::Relaxed) {
            return false;
        }
        match stop {
            Stop::Count(n) => self.started.fetch_add(1, Ordering::Relaxed) < n,
            Stop::Duration(_) => self.deadline.is_none_or(|d| Instant::now() < d),
        }
    }

    fn take_card(&self) -> Option<Card> {
        self.cards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front()
    }

    fn put_card(&self, c: Card) {
        self.cards
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(c);
    }
}

fn fail(t: &mut Tally, f: Failure) {
    let e = t
        .failures
        .entry(f.key())
        .or_insert_with(|| (0, f.to_string()));
    e.0 += 1;
}

fn merge(into: &mut Tally, o: Tally) {
    into.successes += o.successes;
    into.latencies_us.extend(o.latencies_us);
    for (k, (n, ex)) in o.failures {
        into.failures.entry(k).or_insert((0, ex)).0 += n;
    }
    into.requests += o.requests;
    into.retransmissions += o.retransmissions;
    into.stale += o.stale;
    into.resyncs += o.resyncs;
    into.success_rounds += o.success_rounds;
    into.held += o.held;
}

fn random16() -> Result<[u8; 16], String> {
    let mut a = [0u8; 16];
    getrandom::fill(&mut a).map_err(|e| format!("getrandom: {e}"))?;
    Ok(a)
}

/// Runs `load` over TLS: `cards` as in [`super::engine::drive`] (at least
/// `concurrency`, returned with their SQN state).
pub fn drive(load: &Load, tls: &TlsClient, cards: &mut Vec<Card>) -> Result<RunResult, String> {
    let per_conn = spread(load.concurrency, load.connections)?;
    if cards.len() < load.concurrency {
        return Err(format!(
            "{} subscribers cannot keep {} authentications in flight",
            cards.len(),
            load.concurrency
        ));
    }
    let threads = load
        .connections
        .min(std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let deck: VecDeque<Card> = std::mem::take(cards).into();
    let (out, back) = rt.block_on(async move {
        let mut streams = Vec::new();
        for _ in 0..load.connections {
            match tls.connect(load.server).await {
                Ok(s) => streams.push(s),
                Err(e) => return (Err(e), deck),
            }
        }
        // The clock starts with every connection up.
        let t0 = Instant::now();
        let cpu0 = process_cpu();
        let shared = Arc::new(Shared {
            started: AtomicU64::new(0),
            stop_all: AtomicBool::new(false),
            deadline: match load.stop {
                Stop::Duration(d) => Some(t0 + d),
                Stop::Count(_) => None,
            },
            cards: Mutex::new(deck),
        });
        let load = Arc::new(load.clone());
        let tasks: Vec<_> = streams
            .into_iter()
            .zip(per_conn)
            .map(|(s, n)| tokio::spawn(connection(s, n, load.clone(), shared.clone())))
            .collect();
        let mut tally = Tally::default();
        let mut err = None;
        for t in tasks {
            match t.await {
                Ok(Ok(g)) => merge(&mut tally, g),
                Ok(Err(e)) => {
                    shared.stop_all.store(true, Ordering::Relaxed);
                    err = Some(e);
                }
                Err(e) => err = Some(format!("RadSec task: {e}")),
            }
        }
        let elapsed = t0.elapsed();
        let cpu = process_cpu().saturating_sub(cpu0);
        let back = std::mem::take(&mut *shared.cards.lock().unwrap_or_else(|e| e.into_inner()));
        let out = match err {
            Some(e) => Err(e),
            None => Ok(RunResult {
                tally,
                elapsed,
                cpu,
            }),
        };
        (out, back)
    });
    *cards = back.into();
    cards.sort_by_key(|c| c.index);
    out
}

struct Slot {
    auth: Authentication,
    card: Card,
    started: Instant,
    sent_at: Instant,
}

/// One TLS connection carrying `n` authentications at a time.
async fn connection(
    mut stream: tokio_rustls::client::TlsStream<TcpStream>,
    n: usize,
    load: Arc<Load>,
    shared: Arc<Shared>,
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut slots: Vec<Option<Slot>> = (0..n).map(|_| None).collect();
    let mut idle: Vec<usize> = (0..n).rev().collect();
    let mut stopped = false;
    let deadline = load.timeout * (load.retries + 1);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut inbuf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 32 * 1024];
    let mut out: Vec<u8> = Vec::with_capacity(64 * 1024);

    loop {
        // Start authentications in idle slots while the stop rule allows.
        while !stopped && let Some(&i) = idle.last() {
            if !shared.may_start(load.stop) {
                stopped = true;
                break;
            }
            let Some(card) = shared.take_card() else {
                return Err("no free subscriber".into());
            };
            idle.pop();
            let (auth, step) = Authentication::start(
                &card.peer,
                card.calling_station_id(),
                load.method,
                &load.nas,
                i as u8,
                random16()?,
                Vec::with_capacity(256),
            );
            match step {
                Step::Send(p) => {
                    tally.requests += 1;
                    out.extend_from_slice(&p);
                    let now = Instant::now();
                    slots[i] = Some(Slot {
                        auth,
                        card,
                        started: now,
                        sent_at: now,
                    });
                }
                Step::Failed(f) => {
                    fail(&mut tally, f);
                    shared.put_card(card);
                    idle.push(i);
                }
                Step::Success | Step::Held => {
                    fail(
                        &mut tally,
                        Failure::PeerFailure("success before any answer".into()),
                    );
                    shared.put_card(card);
                    idle.push(i);
                }
            }
        }
        if !out.is_empty() {
            stream
                .write_all(&out)
                .await
                .map_err(|e| format!("RadSec write: {e}"))?;
            stream
                .flush()
                .await
                .map_err(|e| format!("RadSec flush: {e}"))?;
            out.clear();
        }
        if stopped && idle.len() == n {
            break;
        }
        tokio::select! {
            r = stream.read(&mut chunk) => {
                let len = r.map_err(|e| format!("RadSec read: {e}"))?;
                if len == 0 {
                    return Err("RadSec: the server closed the connection".into());
                }
                inbuf.extend_from_slice(&chunk[..len]);
                let lens = frames(&inbuf, MAX_PACKET)?;
                let mut at = 0;
                for l in lens {
                    let d = &inbuf[at..at + l];
                    at += l;
                    let i = usize::from(d[1]);
                    let Some(slot) = slots.get_mut(i).and_then(Option::as_mut) else {
                        tally.stale += 1;
                        continue;
                    };
                    let Some(step) = slot.auth.on_datagram(
                        &mut slot.card.usim,
                        &load.nas,
                        d,
                        random16()?,
                        Vec::with_capacity(256),
                    ) else {
                        tally.stale += 1;
                        continue;
                    };
                    match step {
                        Step::Send(p) => {
                            tally.requests += 1;
                            out.extend_from_slice(&p);
                            slot.sent_at = Instant::now();
                        }
                        Step::Success => {
                            let Some(s) = slots[i].take() else { continue };
                            tally.successes += 1;
                            tally.success_rounds += u64::from(s.auth.rounds());
                            tally.resyncs += u64::from(s.auth.resyncs());
                            tally.latencies_us.push(
                                s.started.elapsed().as_micros().min(u32::MAX as u128) as u32,
                            );
                            shared.put_card(s.card);
                            idle.push(i);
                        }
                        Step::Held | Step::Failed(_) => {
                            let Some(s) = slots[i].take() else { continue };
                            tally.resyncs += u64::from(s.auth.resyncs());
                            match step {
                                Step::Failed(f) => fail(&mut tally, f),
                                _ => tally.held += 1,
                            }
                            shared.put_card(s.card);
                            idle.push(i);
                        }
                    }
                }
                inbuf.drain(..at);
            }
            _ = tick.tick() => {
                let now = Instant::now();
                for (i, slot) in slots.iter_mut().enumerate() {
                    if slot.as_ref().is_some_and(|s| now.duration_since(s.sent_at) >= deadline)
                        && let Some(s) = slot.take()
                    {
                        fail(&mut tally, Failure::Timeout);
                        shared.put_card(s.card);
                        idle.push(i);
                    }
                }
            }
        }
    }
    // RFC 6614 §2.5 / RFC 5246: close the TLS session cleanly.
    let _ = stream.shutdown().await;
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrency_is_spread_over_the_connections() {
        assert_eq!(spread(64, 1).unwrap(), vec![64]);
        assert_eq!(spread(64, 16).unwrap(), vec![4; 16]);
        assert_eq!(spread(10, 4).unwrap(), vec![3, 3, 2, 2]);
        assert_eq!(spread(256, 1).unwrap(), vec![256]);
        assert!(spread(257, 1).is_err());
        assert_eq!(spread(512, 2).unwrap(), vec![256, 256]);
        assert!(spread(1, 16).is_err());
        assert!(spread(0, 1).is_err());
    }

    #[test]
    fn frames_are_cut_by_length() {
        let mut b = vec![11, 1, 0, 20];
        b.extend([0; 16]);
        b.extend([2, 2, 0, 22]);
        b.extend([0; 18]);
        b.extend([2, 3, 0, 30, 0]); // incomplete
        assert_eq!(frames(&b, 4096).unwrap(), vec![20, 22]);
        assert_eq!(frames(&b[..3], 4096).unwrap(), Vec::<usize>::new());
        assert!(frames(&[1, 1, 0, 19], 4096).is_err());
        assert!(frames(&[1, 1, 0x10, 0x01], 4096).is_err());
    }
}
