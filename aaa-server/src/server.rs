//! `aaa-server serve`: opens the store, reserves SQNs, binds the sockets,
//! runs the socket workers until SIGINT or SIGTERM, then lets the requests
//! in hand finish.

use crate::config::Config;
use crate::hss::SqliteStore;
use crate::radius::{Listener, RadiusServer, udp};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::signal::unix::{SignalKind, signal};

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The subscriber store.
    #[error("{0}")]
    Store(#[from] crate::hss::HssError),
    /// `[privacy]`: the key store or the IMSI-privacy key.
    #[error("{0}")]
    Privacy(#[from] crate::privacy::startup::StartupError),
    /// Binding sockets, signals, the runtime.
    #[error("{what}: {err}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        err: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServeError {
    let what = what.into();
    move |err| ServeError::Io { what, err }
}

/// Worker threads on the authentication socket: one per core, or
/// `AAA_SERVER_AUTH_THREADS` (benchmarking: the load generator may share the cores).
fn auth_workers() -> usize {
    std::env::var("AAA_SERVER_AUTH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(cfg: Config) -> Result<(), ServeError> {
    let store = Arc::new(SqliteStore::open(&cfg.database)?);
    // One committed transaction reserves SQNs for everybody: no request
    // waits for an fsync until a range runs out.
    let reserved = store.reserve_all()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("tokio runtime"))?;
    let (mut sigint, mut sigterm) = rt.block_on(async {
        Ok::<_, ServeError>((
            signal(SignalKind::interrupt()).map_err(io("SIGINT handler"))?,
            signal(SignalKind::terminate()).map_err(io("SIGTERM handler"))?,
        ))
    })?;
    let auth = UdpSocket::bind(cfg.listen).map_err(io(format!("bind {}", cfg.listen)))?;
    let acct = UdpSocket::bind(cfg.accounting_listen)
        .map_err(io(format!("bind {}", cfg.accounting_listen)))?;
    udp::enlarge_buffers(&auth);
    udp::enlarge_buffers(&acct);
    let privacy = Arc::new(crate::privacy::startup::build(&cfg.privacy, &cfg.database)?);
    let mut radius = RadiusServer::new(&cfg, store.clone(), store);
    radius.set_privacy(privacy);
    let core = Arc::new(radius);
    let shutdown = Arc::new(AtomicBool::new(false));
    let mut workers = udp::spawn_workers(&auth, Listener::Auth, &core, &shutdown, auth_workers())
        .map_err(io("auth workers"))?;
    workers.extend(
        udp::spawn_workers(&acct, Listener::Accounting, &core, &shutdown, 1)
            .map_err(io("accounting worker"))?,
    );
    tracing::info!(
        auth = %auth.local_addr().map_err(io("local_addr"))?,
        accounting = %acct.local_addr().map_err(io("local_addr"))?,
        clients = cfg.clients.len(),
        methods = ?cfg.eap.methods,
        subscribers = reserved,
        "aaa-server listening"
    );
    rt.block_on(async {
        tokio::select! {
            _ = sigint.recv() => {},
            _ = sigterm.recv() => {},
        }
    });
    tracing::info!("shutting down: finishing requests in flight");
    shutdown.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    tracing::info!(counters = ?core.counters(), "stopped");
    Ok(())
}
