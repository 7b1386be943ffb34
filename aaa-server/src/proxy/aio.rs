//! The proxy exchange on a tokio runtime of its own ([`ProxyLane`]), so a
//! silent home server holds no store worker: a UDP exchange (send,
//! retransmit, Status-Server probe, fail over) is a task that waits without
//! a thread. RadSec home servers and RFC 7585 discovery keep their blocking
//! clients ([`super::radsec`], [`super::discover`]) on the runtime's
//! blocking pool (not the store workers). The decisions are the same as in
//! the blocking [`super::udp::exchange`]: [`Proxy::plan`], dead marks,
//! [`Proxy::answered`].

use super::udp::Answered;
use super::{AnswerError, Forward, HomeServer, Proxy, ProxyError};
use crate::radius::{Handled, Job, RadiusServer, pool::Replier};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use zeroize::Zeroizing;

/// Proxied requests in flight at most; more are dropped like a full store
/// queue (counted; the NAS retransmits).
pub const MAX_IN_FLIGHT: usize = 4096;

/// The runtime proxied requests run on.
pub struct ProxyLane {
    rt: Option<tokio::runtime::Runtime>,
    core: Arc<RadiusServer>,
    reply: Replier,
    in_flight: Arc<tokio::sync::Semaphore>,
}

impl std::fmt::Debug for ProxyLane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxyLane").finish_non_exhaustive()
    }
}

impl Drop for ProxyLane {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            // Exchanges in progress get their time to finish (bounded by
            // the proxy timers); the NAS retransmits the rest.
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

impl ProxyLane {
    /// Starts the runtime (one worker thread: the tasks only wait).
    ///
    /// # Errors
    /// The runtime cannot start.
    pub fn start(core: &Arc<RadiusServer>, reply: Replier) -> std::io::Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(256)
            .thread_name("aaa-proxy")
            .enable_all()
            .build()?;
        Ok(ProxyLane {
            rt: Some(rt),
            core: core.clone(),
            reply,
            in_flight: Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT)),
        })
    }

    /// Runs a proxied request's job to its reply on the runtime; gives the
    /// job back when [`MAX_IN_FLIGHT`] are in flight.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        let (Some(rt), Ok(permit)) = (self.rt.as_ref(), self.in_flight.clone().try_acquire_owned())
        else {
            return Err(job);
        };
        let (core, reply) = (self.core.clone(), self.reply.clone());
        rt.spawn(async move {
            let _permit = permit;
            let (listener, from) = (job.listener(), job.from());
            let mut step = Handled::Deferred(job);
            loop {
                match step {
                    Handled::Deferred(job) => {
                        let performed = core.perform_async(job).await;
                        step = core.resume(performed, Instant::now());
                    }
                    Handled::Reply((bytes, effects)) => {
                        if let Some(bytes) = bytes {
                            reply(listener, from, &bytes);
                        }
                        crate::radius::udp::log_effects(&core, from, effects);
                        return;
                    }
                }
            }
        });
        Ok(())
    }
}

/// [`super::udp::exchange`] without holding a thread while a UDP home
/// server is waited for.
pub async fn exchange(
    proxy: Arc<Proxy>,
    fwd: Arc<Forward>,
    nas_identifier: u8,
    nas_secret: Zeroizing<Vec<u8>>,
    nas_authenticator: [u8; 16],
) -> Result<Answered, ProxyError> {
    if proxy.is_discover(fwd.realm) {
        return tokio::task::spawn_blocking(move || {
            super::discover::exchange(
                &proxy,
                &fwd,
                nas_identifier,
                &nas_secret,
                &nas_authenticator,
            )
        })
        .await
        .unwrap_or(Err(ProxyError::Send));
    }
    let Some(secret) = proxy.secret(fwd.realm) else {
        return Err(ProxyError::NoLiveServer);
    };
    let secret = Zeroizing::new(secret.expose().to_vec());
    let request_state = fwd.state.clone();
    for (j, server) in proxy.plan(fwd.realm, request_state.as_deref(), Instant::now())? {
        let outcome = if server.tls_host.is_some() {
            let (p, f, s) = (proxy.clone(), fwd.clone(), server.clone());
            let nas = (nas_identifier, nas_secret.clone(), nas_authenticator);
            tokio::task::spawn_blocking(move || radsec_once(&p, &f, j, &s, &nas))
                .await
                .unwrap_or(Outcome::Next)
        } else {
            udp_once(
                &proxy,
                &fwd,
                (j, &server),
                &secret,
                (nas_identifier, &nas_secret, &nas_authenticator),
            )
            .await
        };
        match outcome {
            Outcome::Answered(response, state) => {
                proxy.mark_alive(fwd.realm, j);
                proxy.answered(
                    fwd.realm,
                    j,
                    request_state.as_deref(),
                    state.as_deref(),
                    Instant::now(),
                );
                proxy.count_answered();
                return Ok(Answered {
                    response,
                    server: server.uri,
                });
            }
            Outcome::Fatal(e) => return Err(e),
            Outcome::Next => {}
        }
    }
    proxy.count_no_live_server();
    Err(ProxyError::NoLiveServer)
}

/// What one home server gave.
enum Outcome {
    Answered(crate::radius::wire::Response, Option<Vec<u8>>),
    /// Try the next server (this one is marked dead, or refused the answer).
    Next,
    /// Stop: Access-Reject for this reason.
    Fatal(ProxyError),
}

/// One RadSec home server, blocking (on the runtime's blocking pool).
fn radsec_once(
    proxy: &Proxy,
    fwd: &Forward,
    j: usize,
    server: &HomeServer,
    nas: &(u8, Zeroizing<Vec<u8>>, [u8; 16]),
) -> Outcome {
    let (Some(host), Some(tls)) = (server.tls_host.as_deref(), proxy.tls_client.as_ref()) else {
        return Outcome::Next;
    };
    let settings = proxy.settings();
    proxy.count_forwarded();
    match super::radsec::exchange(
        &proxy.tls_pool,
        tls,
        (host, server.addr),
        settings.timeout * (settings.retries + 1),
        fwd,
        (nas.0, &nas.1, &nas.2),
    ) {
        Ok((response, state)) => Outcome::Answered(response, state),
        Err(super::radsec::TlsExchangeError::Refused(e)) => {
            proxy.count_bad_answer();
            tracing::warn!(realm = %fwd.realm_name, server = %server.uri, error = %e, "home server answer refused");
            if e == AnswerError::Encode {
                Outcome::Fatal(ProxyError::Encode)
            } else {
                Outcome::Next
            }
        }
        Err(super::radsec::TlsExchangeError::Unreachable) => {
            tracing::warn!(realm = %fwd.realm_name, server = %server.uri, "home server did not answer over TLS; marked dead");
            proxy.mark_dead(fwd.realm, j, Instant::now());
            Outcome::Next
        }
    }
}

/// One UDP home server: probe it if it was dead, send, retransmit
/// `retries` times every `timeout`, take the first valid answer.
async fn udp_once(
    proxy: &Proxy,
    fwd: &Forward,
    (j, server): (usize, &HomeServer),
    secret: &[u8],
    (nas_identifier, nas_secret, nas_authenticator): (u8, &[u8], &[u8; 16]),
) -> Outcome {
    let settings = proxy.settings();
    let mut rnd = [0u8; 17];
    if crate::hss::rng::fill(&mut rnd).is_err() {
        return Outcome::Fatal(ProxyError::Send);
    }
    let identifier = rnd[0];
    let mut authenticator = [0u8; 16];
    authenticator.copy_from_slice(&rnd[1..]);
    let packet = fwd.request(identifier, &authenticator, secret);
    // An Accounting-Request's authenticator is computed (RFC 2866 §3).
    authenticator.copy_from_slice(&packet[4..20]);
    let bind: SocketAddr = if server.addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let Ok(sock) = UdpSocket::bind(bind).await else {
        return Outcome::Fatal(ProxyError::Send);
    };
    if sock.connect(fwd.home_addr(server.addr)).await.is_err() {
        proxy.mark_dead(fwd.realm, j, Instant::now());
        return Outcome::Next;
    }
    if proxy.was_dead(fwd.realm, j) {
        if !probe(&sock, settings.timeout, secret).await {
            tracing::warn!(realm = %fwd.realm_name, server = %server.uri, "Status-Server probe unanswered; still dead");
            proxy.mark_dead(fwd.realm, j, Instant::now());
            return Outcome::Next;
        }
        tracing::info!(realm = %fwd.realm_name, server = %server.uri, "home server answered Status-Server; revived");
        proxy.mark_alive(fwd.realm, j);
    }
    proxy.count_forwarded();
    let mut buf = vec![0u8; 4096];
    for _ in 0..=settings.retries {
        // An ICMP unreachable from an earlier send shows up as an error here or on recv.
        let _ = sock.send(&packet).await;
        let deadline = tokio::time::Instant::now() + settings.timeout;
        loop {
            let n = match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Ok(n)) => n,
                // ECONNREFUSED (ICMP port unreachable): wait out the timeout.
                Ok(Err(_)) => {
                    tokio::time::sleep_until(deadline).await;
                    break;
                }
            };
            match fwd.answer_with_state(
                &buf[..n],
                identifier,
                &authenticator,
                secret,
                nas_identifier,
                nas_secret,
                nas_authenticator,
            ) {
                Ok((response, state)) => return Outcome::Answered(response, state),
                Err(e) => {
                    proxy.count_bad_answer();
                    tracing::debug!(server = %server.uri, error = %e, "home server datagram discarded");
                    if e == AnswerError::Encode {
                        return Outcome::Fatal(ProxyError::Encode);
                    }
                }
            }
        }
    }
    tracing::warn!(realm = %fwd.realm_name, server = %server.uri, "home server did not answer; marked dead");
    proxy.mark_dead(fwd.realm, j, Instant::now());
    Outcome::Next
}

/// Status-Server on `sock` (connected); whether it was answered within `timeout`.
async fn probe(sock: &UdpSocket, timeout: Duration, secret: &[u8]) -> bool {
    let mut rnd = [0u8; 17];
    if crate::hss::rng::fill(&mut rnd).is_err() {
        return false;
    }
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&rnd[1..]);
    if sock
        .send(&super::status_server(rnd[0], &auth, secret))
        .await
        .is_err()
    {
        return false;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    let mut buf = vec![0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, sock.recv(&mut buf)).await {
            Ok(Ok(n)) if super::is_status_answer(&buf[..n], rnd[0], &auth, secret) => return true,
            Ok(Ok(_)) => {}
            _ => return false,
        }
    }
}
