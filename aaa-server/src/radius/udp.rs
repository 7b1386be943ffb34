//! The only code that owns the RADIUS sockets: worker threads that each
//! block in `recv_from` on a shared socket, hand the datagram to
//! [`RadiusServer::receive`] and send back what it returns — no task, no
//! thread hop and no allocation per datagram beyond what the core does. A
//! request that needs the subscriber store comes back as a [`Job`] and goes
//! to the store workers ([`super::pool`]), which answer it; the socket
//! worker goes on receiving. Workers look at the shutdown flag at least
//! every [`POLL`], then finish the request in hand and return.

use super::pool::StoreQueue;
use super::{Effect, Handled, Job, Listener, RadiusServer, Reply};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Receive buffer: RADIUS packets are at most 4096 bytes (RFC 2865 §3).
const BUF: usize = 4096;

/// How often an idle worker checks the shutdown flag.
pub const POLL: Duration = Duration::from_millis(100);

/// Logs the effects of one request.
pub fn log_effects(from: SocketAddr, effects: &[Effect]) {
    for e in effects {
        match e {
            Effect::AuthFinished { client, report } => tracing::info!(
                client = %client,
                nas = %from,
                identity = %report.identity,
                method = report.method.map(|m| m.name()).unwrap_or("-"),
                result = %report.result,
                round_trips = report.round_trips,
                duration_ms = format_args!("{:.1}", report.duration.as_secs_f64() * 1000.0),
                "authentication finished"
            ),
            Effect::Dropped(r) => tracing::debug!(from = %from, reason = r.as_str(), "dropped"),
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
    let mut buf = vec![0u8; BUF];
    while !shutdown.load(Ordering::Relaxed) {
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(x) => x,
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
        let datagram = &buf[..n];
        tracing::debug!(from = %from, code = datagram.first().copied().unwrap_or(0), len = n, ?listener, "datagram");
        let now = Instant::now();
        let Some((reply, effects)) = dispatch(core, store, listener, from, datagram, now) else {
            continue;
        };
        if let Some(bytes) = reply {
            tracing::debug!(to = %from, code = bytes.first().copied().unwrap_or(0), len = bytes.len(), "reply");
            if let Err(e) = socket.send_to(&bytes, from) {
                tracing::warn!(to = %from, error = %e, "send failed");
            }
        }
        log_effects(from, &effects);
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
