//! The only code that owns the RADIUS sockets: a tokio UDP loop per
//! listener that hands each datagram to [`RadiusServer::handle`] on a
//! blocking thread (the HSS is SQLite) and sends back what it returns.
//! On shutdown it stops reading, waits for in-flight requests and returns.

use super::{Effect, Listener, RadiusServer};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// Receive buffer: RADIUS packets are at most 4096 bytes (RFC 2865 §3).
const BUF: usize = 4096;

/// Logs the effects of one request.
pub fn log_effects(from: SocketAddr, effects: &[Effect]) {
    for e in effects {
        match e {
            Effect::AuthFinished { client, report } => tracing::info!(
                client = %client,
                nas = %from,
                identity = %report.identity,
                method = report.method.map(|m| m.name()).unwrap_or("-"),
                result = report.result,
                round_trips = report.round_trips,
                duration_ms = format_args!("{:.1}", report.duration.as_secs_f64() * 1000.0),
                "authentication finished"
            ),
            Effect::Dropped(r) => tracing::debug!(from = %from, reason = r.as_str(), "dropped"),
            Effect::DuplicateAnswered => {
                tracing::debug!(from = %from, "retransmission answered from cache")
            }
            Effect::AccountingRecorded {
                client,
                status_type,
            } => tracing::debug!(client = %client, status_type, "accounting recorded"),
        }
    }
}

/// Serves `socket` as `listener` until `shutdown` turns true, then waits for
/// the requests in flight.
pub async fn serve(
    socket: Arc<UdpSocket>,
    listener: Listener,
    core: Arc<Mutex<RadiusServer>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut inflight = JoinSet::new();
    let mut buf = vec![0u8; BUF];
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = socket.recv_from(&mut buf) => {
                let (n, from) = match r {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "recv failed");
                        continue;
                    }
                };
                tracing::debug!(from = %from, code = buf.first().copied().unwrap_or(0), len = n, ?listener, "datagram");
                let datagram = buf[..n].to_vec();
                let core = core.clone();
                let socket = socket.clone();
                inflight.spawn(async move {
                    let reply = tokio::task::spawn_blocking(move || {
                        let now = Instant::now();
                        // A panic in an earlier request must not stop the server:
                        // take the state even if the lock was poisoned.
                        let mut core = core.lock().unwrap_or_else(|e| e.into_inner());
                        let (reply, effects) = core.handle(listener, from, &datagram, now);
                        drop(core);
                        log_effects(from, &effects);
                        reply
                    })
                    .await
                    .ok()
                    .flatten();
                    if let Some(bytes) = reply {
                        tracing::debug!(to = %from, code = bytes.first().copied().unwrap_or(0), len = bytes.len(), "reply");
                        if let Err(e) = socket.send_to(&bytes, from).await {
                            tracing::warn!(to = %from, error = %e, "send failed");
                        }
                    }
                });
                // Reap finished tasks so the set does not grow.
                while inflight.try_join_next().is_some() {}
            }
        }
    }
    while inflight.join_next().await.is_some() {}
}
