//! `aaa-server serve`: checks everything it can without changing anything
//! ([`preflight`], also `serve --check`), binds the sockets, opens the
//! store (SQNs are reserved at each subscriber's first vector), runs the
//! socket workers until SIGINT or SIGTERM,
//! then lets the requests in hand finish. SIGHUP reloads what can change
//! while running (clients and secrets, privacy keys, the log settings, [`Lifecycle`]); systemd hears of each step
//! through [`crate::notify`].

use crate::config::{Config, Logging};
use crate::hss::SqliteStore;
use crate::hss::sqlite::StoreCheck;
use crate::notify::Notifier;
use crate::privacy::startup::KeySource;
use crate::radius::pool::{StorePool, socket_replier};
use crate::radius::{Listener, RadiusServer, udp};
use std::net::UdpSocket;
use std::path::PathBuf;
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
    /// `[radsec]`: the certificate files or the listener.
    #[error("{0}")]
    Radsec(#[from] crate::radsec::RadsecError),
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

/// What [`preflight`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Preflight {
    /// The subscriber store.
    pub store: StoreCheck,
    /// Where the identity-protection keys come from.
    pub keys: KeySource,
}

/// Everything `serve` checks before it binds, changing nothing (no file is
/// created, no SQN reserved, no key generated): `serve --check` is this.
/// The configuration itself (addresses distinct and parsed, clients, keys in
/// it) was checked by [`Config::load`].
///
/// # Errors
/// The store is not a regular file, is readable by group/others, is not a
/// subscriber store; the IMSI-privacy key or the stored key set is unusable.
pub fn preflight(cfg: &Config) -> Result<Preflight, ServeError> {
    let store = match &cfg.postgres {
        Some(pg) => StoreCheck::Present {
            subscribers: crate::hss::postgres::PgStore::check(&pg.url, pg.password_file.as_deref())
                .map_err(crate::hss::HssError::from)?,
        },
        None => SqliteStore::check_file(&cfg.database)?,
    };
    let keys = crate::privacy::startup::check(&cfg.privacy, &cfg.database)?;
    if let Some(r) = &cfg.radsec {
        crate::radsec::check(r)?;
    }
    Ok(Preflight { store, keys })
}

/// Applies new logging settings; an error names what is wrong.
pub type ApplyLogging = Box<dyn Fn(&Logging) -> Result<(), String>>;

/// What SIGHUP reloads. Without a configuration path a SIGHUP is logged and
/// ignored.
pub struct Lifecycle {
    /// The configuration file re-read on SIGHUP.
    pub config_path: Option<PathBuf>,
    /// Applies new logging settings (the binary owns the tracing subscriber).
    pub apply_logging: ApplyLogging,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            config_path: None,
            apply_logging: Box::new(|_| Ok(())),
        }
    }
}

/// The settings of `new` that differ from the running `old` and need a
/// restart. Clients and `[privacy]` are reloaded, not listed.
fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let mut v = Vec::new();
    if old.listen != new.listen {
        v.push("listen");
    }
    if old.accounting_listen != new.accounting_listen {
        v.push("accounting_listen");
    }
    if old.database != new.database {
        v.push("hss.database");
    }
    if old.hss_workers != new.hss_workers {
        v.push("hss.workers");
    }
    if old.postgres != new.postgres {
        v.push("hss.backend/url/password_file/sqn_lease");
    }
    if format!("{:?}", old.eap) != format!("{:?}", new.eap) {
        v.push("eap");
    }
    if old.radius != new.radius {
        v.push("radius");
    }
    if old.radsec != new.radsec {
        v.push("radsec");
    }
    v
}

/// The 1-based line of `key = …` in the file at `path` (for an error found
/// after parsing, such as a key file that cannot be read).
fn setting_line(path: &std::path::Path, key: &str) -> Option<usize> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|r| r.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// SIGHUP: re-reads the configuration and applies the clients and their
/// secrets, the `[privacy]` keys and settings, `log_level` and
/// `[logging] log_identities`, all or nothing: a file that does not load or
/// a key file that cannot be used changes nothing (the error says why). EAP
/// sessions in flight are kept. Other changed settings are named in a
/// warning (they take effect on restart).
fn reload(running: &mut Config, core: &RadiusServer, life: &Lifecycle, notify: &Notifier) {
    notify.reloading();
    let failed = |e: &dyn std::fmt::Display| {
        tracing::error!("reload failed, keeping the running configuration: {e}");
    };
    match &life.config_path {
        None => tracing::warn!("SIGHUP: no configuration file to re-read; nothing changed"),
        Some(path) => match Config::load_with_logging(path) {
            Err(e) => failed(&e),
            // The store stays the running one (`hss.database` needs a restart).
            Ok((new, logging)) => {
                match crate::privacy::startup::build(&new.privacy, &running.database) {
                    Err(e) => match setting_line(path, "imsi_privacy_key") {
                        Some(line)
                            if matches!(e, crate::privacy::startup::StartupError::ImsiKey(_)) =>
                        {
                            failed(&format_args!("{}:{line}: {e}", path.display()))
                        }
                        _ => failed(&format_args!("{}: {e}", path.display())),
                    },
                    Ok(privacy) => match (life.apply_logging)(&logging) {
                        Err(e) => failed(&format_args!("{}: log_level: {e}", path.display())),
                        Ok(()) => {
                            crate::logging::set_identities(logging.identities);
                            core.set_clients(&new.clients);
                            core.set_proxy(&new.proxy);
                            core.replace_privacy(Arc::new(privacy));
                            tracing::info!(
                                config = %path.display(),
                                log_level = %logging.level,
                                log_identities = logging.identities.as_str(),
                                clients = new.clients.len(),
                                "configuration reloaded"
                            );
                            tracing::debug!("debug logging is on");
                            let pending = restart_needed(running, &new);
                            if !pending.is_empty() {
                                tracing::warn!(
                                    "changed settings that need a restart (the running values stay): {}",
                                    pending.join(", ")
                                );
                            }
                            running.clients = new.clients;
                            running.privacy = new.privacy;
                            running.proxy = new.proxy;
                        }
                    },
                }
            }
        },
    }
    notify.ready();
}

/// Runs the server until SIGINT/SIGTERM, without reload ([`run_with`]).
pub fn run(cfg: Config) -> Result<(), ServeError> {
    run_with(cfg, Lifecycle::default())
}

/// Runs the server until SIGINT/SIGTERM; SIGHUP reloads ([`Lifecycle`]).
/// Sends systemd `READY=1` once the sockets are bound and the store is
/// open, `RELOADING=1`/`READY=1` around a reload, `STOPPING=1` on shutdown and
/// `WATCHDOG=1` every half `WATCHDOG_USEC`.
///
/// Nothing is written before both sockets are bound: a start that fails
/// (an address in use, a bad store) leaves every subscriber's SQN as it was.
pub fn run_with(mut cfg: Config, life: Lifecycle) -> Result<(), ServeError> {
    preflight(&cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("tokio runtime"))?;
    let (mut sigint, mut sigterm, mut sighup) = rt.block_on(async {
        Ok::<_, ServeError>((
            signal(SignalKind::interrupt()).map_err(io("SIGINT handler"))?,
            signal(SignalKind::terminate()).map_err(io("SIGTERM handler"))?,
            signal(SignalKind::hangup()).map_err(io("SIGHUP handler"))?,
        ))
    })?;
    let notify = Notifier::from_env();
    let auth = UdpSocket::bind(cfg.listen).map_err(io(format!("bind {}", cfg.listen)))?;
    let acct = UdpSocket::bind(cfg.accounting_listen)
        .map_err(io(format!("bind {}", cfg.accounting_listen)))?;
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let metrics_http = match cfg.metrics.listen {
        None => None,
        Some(addr) => {
            let m = crate::metrics::http::MetricsServer::start(addr, metrics.clone())
                .map_err(io(format!("bind metrics {addr}")))?;
            tracing::info!(addr = %m.local_addr(), "metrics endpoint listening on /metrics");
            Some(m)
        }
    };
    udp::enlarge_buffers(&auth);
    udp::enlarge_buffers(&acct);
    let privacy = Arc::new(crate::privacy::startup::build(&cfg.privacy, &cfg.database)?);
    // No SQN is reserved at start: each subscriber's first vector commits
    // its first range.
    let das_stop = Arc::new(AtomicBool::new(false));
    let (subscribers, mut radius, sqn_reservations, das_watch) = match &cfg.postgres {
        Some(pg) => {
            let store = Arc::new(
                crate::hss::postgres::PgStore::open(
                    &pg.url,
                    pg.password_file.as_deref(),
                    pg.sqn_lease,
                )
                .map_err(crate::hss::HssError::from)?,
            );
            let metered = Arc::new(crate::metrics::metered::Metered::new(
                store.clone(),
                metrics.clone(),
            ));
            let w = Arc::downgrade(&store);
            let reservations: crate::metrics::ProbeFn =
                Box::new(move || w.upgrade().map_or(0, |s| s.sqn_reservations()));
            crate::metrics::register_store_up(&metrics, &store);
            let das_watch =
                crate::authz::watch::spawn(&cfg, store.clone(), das_stop.clone(), &metrics)
                    .map_err(io("disconnect watcher"))?;
            (
                store.subscriber_count()?,
                RadiusServer::with_metrics(&cfg, metered.clone(), metered, metrics),
                reservations,
                das_watch,
            )
        }
        None => {
            let store = Arc::new(SqliteStore::open(&cfg.database)?);
            let metered = Arc::new(crate::metrics::metered::Metered::new(
                store.clone(),
                metrics.clone(),
            ));
            let w = Arc::downgrade(&store);
            let reservations: crate::metrics::ProbeFn =
                Box::new(move || w.upgrade().map_or(0, |s| s.sqn_reservations()));
            let das_watch =
                crate::authz::watch::spawn(&cfg, store.clone(), das_stop.clone(), &metrics)
                    .map_err(io("disconnect watcher"))?;
            (
                store.subscriber_count()?,
                RadiusServer::with_metrics(&cfg, metered.clone(), metered, metrics),
                reservations,
                das_watch,
            )
        }
    };
    radius.set_privacy(privacy);
    let radsec = match &cfg.radsec {
        Some(r) => Some(crate::radsec::prepare(r, &mut radius)?),
        None => None,
    };
    let core = Arc::new(radius);
    if metrics_http.is_some() {
        crate::metrics::register_probes(&core, sqn_reservations);
    }
    crate::auth_log::start().map_err(io("log thread"))?;
    let shutdown = Arc::new(AtomicBool::new(false));
    // Requests that wait for the store (vectors, resynchronisation, IMSI
    // privacy, accounting) run here, never on the socket workers.
    let replier = socket_replier(
        auth.try_clone().map_err(io("auth socket"))?,
        acct.try_clone().map_err(io("accounting socket"))?,
    );
    let pool = StorePool::start(&core, replier, cfg.hss_workers).map_err(io("store workers"))?;
    let queue = pool.queue();
    let mut workers = udp::spawn_workers(
        &auth,
        Listener::Auth,
        &core,
        &queue,
        &shutdown,
        auth_workers(),
    )
    .map_err(io("auth workers"))?;
    workers.extend(
        udp::spawn_workers(&acct, Listener::Accounting, &core, &queue, &shutdown, 1)
            .map_err(io("accounting worker"))?,
    );
    drop(queue);
    let radsec = match radsec {
        Some(p) => Some(crate::radsec::start(p, core.clone(), cfg.hss_workers)?),
        None => None,
    };
    if let (Some(h), Some(_)) = (&radsec, &metrics_http) {
        crate::metrics::register_radsec_probes(core.metrics(), &h.counters());
    }
    // Registered without a realm table too: SIGHUP may add one (0 until then).
    if metrics_http.is_some() {
        crate::metrics::register_proxy_probes(&core);
    }
    tracing::info!(
        auth = %auth.local_addr().map_err(io("local_addr"))?,
        accounting = %acct.local_addr().map_err(io("local_addr"))?,
        clients = cfg.clients.len(),
        store_workers = cfg.hss_workers,
        methods = ?cfg.eap.methods,
        subscribers,
        "aaa-server listening"
    );
    notify.ready();
    let watchdog = crate::notify::watchdog_interval();
    rt.block_on(async {
        let mut tick = watchdog.map(tokio::time::interval);
        loop {
            let beat = async {
                match tick.as_mut() {
                    Some(t) => {
                        t.tick().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = sigint.recv() => break,
                _ = sigterm.recv() => break,
                _ = sighup.recv() => reload(&mut cfg, &core, &life, &notify),
                () = beat => notify.watchdog(),
            }
        }
    });
    notify.stopping();
    tracing::info!("shutting down: finishing requests in flight");
    shutdown.store(true, Ordering::Relaxed);
    if let Some(h) = radsec {
        let counters = h.counters();
        h.stop();
        crate::metrics::log_radsec_counters(&counters.snapshot());
    }
    for w in workers {
        let _ = w.join();
    }
    pool.join();
    das_stop.store(true, Ordering::Relaxed);
    if let Some(w) = das_watch {
        let _ = w.join();
    }
    crate::auth_log::stop();
    if let Some(m) = metrics_http {
        m.stop();
    }
    crate::metrics::log_counters(&core.counters(), crate::auth_log::dropped());
    Ok(())
}
