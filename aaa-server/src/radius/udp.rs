//! The only code that owns the RADIUS sockets: worker threads that each
//! block in `recvmmsg` on a shared socket (up to [`BATCH`] datagrams per
//! call), hand each datagram to [`RadiusServer::receive`] and send back the
//! answers with one `sendmmsg` — no task, no thread hop and no allocation
//! per datagram beyond what the core does. A request that needs the
//! subscriber store comes back as a [`Job`] and goes to the store workers
//! ([`super::pool`]), which answer it; the socket worker goes on receiving.
//! Workers look at the shutdown flag at least every [`POLL`], then finish
//! the requests in hand and return.

use super::pool::StoreQueue;
use super::{Effect, Handled, Job, Listener, RadiusServer, Reply, mmsg};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Receive buffer: RADIUS packets are at most 4096 bytes (RFC 2865 §3).
const BUF: usize = 4096;

/// Datagrams taken per `recvmmsg` (those already queued; never waits for more).
pub const BATCH: usize = 32;

/// How often an idle worker checks the shutdown flag.
pub const POLL: Duration = Duration::from_millis(100);

/// Logs the effects of one request; the per-authentication line goes to
/// the log thread ([`crate::auth_log`]).
pub fn log_effects(core: &RadiusServer, from: SocketAddr, effects: Vec<Effect>) {
    log_effects_for(|| core.client_name(from), from, effects);
}

/// As [`log_effects`], with the client's name from `client` (asked only
/// when a drop is logged; RadSec knows its client by certificate).
pub fn log_effects_for<S: AsRef<str>>(
    client: impl Fn() -> Option<S>,
    from: SocketAddr,
    effects: Vec<Effect>,
) {
    for e in effects {
        match e {
            Effect::AuthFinished { client, report } => {
                crate::auth_log::submit(crate::auth_log::AuthLine {
                    client,
                    nas: from,
                    report,
                })
            }
            Effect::Dropped(r) => {
                crate::metrics::droplog::log_dropped(client().as_ref().map(AsRef::as_ref), from, r)
            }
            Effect::DuplicateAnswered => {
                tracing::debug!(from = %from, "retransmission answered from cache")
            }
            Effect::DuplicateInProgress => {
                tracing::debug!(from = %from, "retransmission of a request in progress dropped")
            }
            Effect::AccountingRecorded {
                client,
                status_type,
            } => tracing::debug!(client = %client, status_type, "accounting recorded"),
        }
    }
}

/// Serves `socket` as `listener` on the calling thread until `shutdown` is
/// set. Several threads may serve clones of the same socket: the kernel
/// gives each datagram to one of them.
pub fn serve(
    socket: &UdpSocket,
    listener: Listener,
    core: &RadiusServer,
    store: &StoreQueue,
    shutdown: &AtomicBool,
) -> std::io::Result<()> {
    socket.set_read_timeout(Some(POLL))?;
    let mut batch = mmsg::RecvBatch::new(BATCH, BUF);
    let mut replies: Vec<(Vec<u8>, SocketAddr)> = Vec::with_capacity(BATCH);
    let mut effects: Vec<(SocketAddr, Vec<Effect>)> = Vec::with_capacity(BATCH);
    let mut out = mmsg::SendBatch::default();
    while !shutdown.load(Ordering::Relaxed) {
        let n = match batch.recv(socket) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "recv failed");
                continue;
            }
        };
        let now = Instant::now();
        for i in 0..n {
            let Some((from, datagram)) = batch.get(i) else {
                continue;
            };
            tracing::debug!(from = %from, code = datagram.first().copied().unwrap_or(0), len = datagram.len(), ?listener, "datagram");
            super::debug::print(super::debug::Direction::Received, from, datagram);
            let Some((reply, e)) = dispatch(core, store, listener, from, datagram, now) else {
                continue;
            };
            if let Some(bytes) = reply {
                tracing::debug!(to = %from, code = bytes.first().copied().unwrap_or(0), len = bytes.len(), "reply");
                super::debug::print(super::debug::Direction::Sent, from, &bytes);
                replies.push((bytes, from));
            }
            if !e.is_empty() {
                effects.push((from, e));
            }
        }
        match out.send(socket, replies.iter().map(|(b, a)| (&b[..], *a))) {
            Ok(sent) if sent < replies.len() => {
                tracing::warn!(lost = replies.len() - sent, "some replies not sent")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, count = replies.len(), "send failed"),
        }
        replies.clear();
        for (from, e) in effects.drain(..) {
            log_effects(core, from, e);
        }
    }
    Ok(())
}

/// Runs the fast path of one datagram; hands a request that needs the
/// store to the store workers (None: they answer it).
fn dispatch(
    core: &RadiusServer,
    store: &StoreQueue,
    listener: Listener,
    from: SocketAddr,
    datagram: &[u8],
    now: Instant,
) -> Option<Reply> {
    match core.receive(listener, from, datagram, now) {
        Handled::Reply(r) => Some(r),
        Handled::Deferred(job) => store.submit(job).err().map(|job: Job| core.abandon(job)),
    }
}

/// Socket buffer size asked for: a burst of thousands of datagrams fits
/// (the kernel caps it at `net.core.rmem_max` / `wmem_max`). With the
/// default (~208 KiB) 256 requests in flight already overflowed it and
/// the NAS had to retransmit.
pub const SOCKET_BUFFER: usize = 4 << 20;

/// Enlarges the receive and send buffers of `socket` (best effort: logged, not fatal).
pub fn enlarge_buffers(socket: &UdpSocket) {
    let s = socket2::SockRef::from(socket);
    if let Err(e) = s.set_recv_buffer_size(SOCKET_BUFFER) {
        tracing::warn!(error = %e, "SO_RCVBUF not set");
    }
    if let Err(e) = s.set_send_buffer_size(SOCKET_BUFFER) {
        tracing::warn!(error = %e, "SO_SNDBUF not set");
    }
}

/// Runs `threads` workers on clones of `socket` until `shutdown` is set.
pub fn spawn_workers(
    socket: &UdpSocket,
    listener: Listener,
    core: &Arc<RadiusServer>,
    store: &StoreQueue,
    shutdown: &Arc<AtomicBool>,
    threads: usize,
) -> std::io::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut out = Vec::with_capacity(threads);
    for i in 0..threads.max(1) {
        let socket = socket.try_clone()?;
        let core = core.clone();
        let shutdown = shutdown.clone();
        let store = store.clone();
        out.push(
            std::thread::Builder::new()
                .name(format!("radius-{listener:?}-{i}").to_lowercase())
                .spawn(move || {
                    if let Err(e) = serve(&socket, listener, &core, &store, &shutdown) {
                        tracing::error!(error = %e, ?listener, "socket worker stopped");
                    }
                })?,
        );
    }
    Ok(out)
}
