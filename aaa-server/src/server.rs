//! `aaa-server serve`: opens the store, binds the sockets, runs the UDP loops
//! until SIGINT or SIGTERM, then lets the requests in flight finish.

use crate::config::Config;
use crate::hss::SqliteStore;
use crate::radius::{Listener, RadiusServer, udp};
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The subscriber store.
    #[error("{0}")]
    Store(#[from] crate::hss::HssError),
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

/// Runs the server until SIGINT/SIGTERM.
pub fn run(cfg: Config) -> Result<(), ServeError> {
    let store = Arc::new(SqliteStore::open(&cfg.database)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(io("tokio runtime"))?;
    rt.block_on(async move {
        let auth = Arc::new(
            UdpSocket::bind(cfg.listen)
                .await
                .map_err(io(format!("bind {}", cfg.listen)))?,
        );
        let acct = Arc::new(
            UdpSocket::bind(cfg.accounting_listen)
                .await
                .map_err(io(format!("bind {}", cfg.accounting_listen)))?,
        );
        let mut sigint = signal(SignalKind::interrupt()).map_err(io("SIGINT handler"))?;
        let mut sigterm = signal(SignalKind::terminate()).map_err(io("SIGTERM handler"))?;
        let core = Arc::new(Mutex::new(RadiusServer::new(&cfg, store.clone(), store)));
        tracing::info!(
            auth = %auth.local_addr().map_err(io("local_addr"))?,
            accounting = %acct.local_addr().map_err(io("local_addr"))?,
            clients = cfg.clients.len(),
            methods = ?cfg.eap.methods,
            "aaa-server listening"
        );
        let (tx, rx) = watch::channel(false);
        let a = tokio::spawn(udp::serve(auth, Listener::Auth, core.clone(), rx.clone()));
        let b = tokio::spawn(udp::serve(acct, Listener::Accounting, core.clone(), rx));
        tokio::select! {
            _ = sigint.recv() => {},
            _ = sigterm.recv() => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
        let _ = tx.send(true);
        let _ = a.await;
        let _ = b.await;
        if let Ok(c) = core.lock() {
            tracing::info!(counters = ?c.counters, "stopped");
        }
        Ok(())
    })
}
