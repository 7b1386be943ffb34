//! The store workers: a bounded pool of threads that run the requests
//! needing the subscriber store ([`Job`]s: vectors, resynchronisations,
//! IMSI-privacy decryption, accounting writes). They block in the store —
//! which may be slow or remote — so the socket workers never do: a socket
//! worker hands the job over with [`StoreQueue::submit`] and goes back to
//! `recv`. A worker runs the job, makes the reply (a pure step), sends it on
//! the listener's socket and logs. When the queue is full the job is
//! abandoned and counted (the NAS retransmits).

use super::{Handled, Job, Listener, RadiusServer, udp};
use std::net::{SocketAddr, UdpSocket};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

/// Store workers when `[hss] workers` is not set.
pub const DEFAULT_WORKERS: usize = 32;

/// Jobs that may wait per worker before new ones are dropped.
pub const QUEUE_PER_WORKER: usize = 64;

/// Sends a reply: the listener's socket, the client's address, the bytes.
pub type Replier = Arc<dyn Fn(Listener, SocketAddr, &[u8]) + Send + Sync>;

/// A replier sending on `auth` and `accounting` (clones of the listening sockets).
pub fn socket_replier(auth: UdpSocket, accounting: UdpSocket) -> Replier {
    Arc::new(move |listener, to, bytes| {
        let socket = match listener {
            Listener::Auth => &auth,
            Listener::Accounting => &accounting,
        };
        tracing::debug!(to = %to, code = bytes.first().copied().unwrap_or(0), len = bytes.len(), "reply");
        super::debug::print(super::debug::Direction::Sent, to, bytes);
        if let Err(e) = socket.send_to(bytes, to) {
            tracing::warn!(to = %to, error = %e, "send failed");
        }
    })
}

/// Where socket workers hand jobs to; cheap to clone.
#[derive(Clone)]
pub struct StoreQueue {
    tx: SyncSender<Job>,
    /// Proxied requests go here instead: they wait for a home server, not
    /// for the store, and must not hold a store worker meanwhile.
    proxy: Option<Arc<crate::proxy::aio::ProxyLane>>,
}

impl StoreQueue {
    /// Queues `job`; gives it back when the queue is full (or the pool stopped).
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        if job.is_proxy()
            && let Some(lane) = &self.proxy
        {
            return lane.submit(job);
        }
        self.tx.try_send(job).map_err(|e| match e {
            TrySendError::Full(j) | TrySendError::Disconnected(j) => j,
        })
    }
}

/// The running pool.
pub struct StorePool {
    queue: StoreQueue,
    workers: Vec<JoinHandle<()>>,
}

impl StorePool {
    /// Starts `workers` threads (at least one) with room for
    /// `workers × QUEUE_PER_WORKER` waiting jobs.
    pub fn start(
        core: &Arc<RadiusServer>,
        reply: Replier,
        workers: usize,
    ) -> std::io::Result<Self> {
        let workers = workers.max(1);
        let (tx, rx) = sync_channel(workers.saturating_mul(QUEUE_PER_WORKER));
        let rx = Arc::new(Mutex::new(rx));
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let (core, reply, rx) = (core.clone(), reply.clone(), rx.clone());
            handles.push(
                std::thread::Builder::new()
                    .name(format!("store-{i}"))
                    .spawn(move || work(&core, &reply, &rx))?,
            );
        }
        let lane = crate::proxy::aio::ProxyLane::start(core, reply)?;
        Ok(Self {
            queue: StoreQueue {
                tx,
                proxy: Some(Arc::new(lane)),
            },
            workers: handles,
        })
    }

    /// The queue socket workers submit to.
    pub fn queue(&self) -> StoreQueue {
        self.queue.clone()
    }

    /// Finishes the queued jobs and stops, once every [`StoreQueue`] clone
    /// is gone (join the socket workers first).
    pub fn join(self) {
        drop(self.queue);
        for w in self.workers {
            let _ = w.join();
        }
    }
}

/// One worker: jobs until every sender is gone.
fn work(core: &RadiusServer, reply: &Replier, rx: &Mutex<Receiver<Job>>) {
    loop {
        // The lock is held only while waiting for the next job.
        let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
            Ok(j) => j,
            Err(_) => return,
        };
        run(core, reply, job);
    }
}

/// Runs a job to its reply (a step may need the store twice: AUTS, then a vector).
pub fn run(core: &RadiusServer, reply: &Replier, job: Job) {
    let (listener, from) = (job.listener(), job.from());
    let mut step = Handled::Deferred(job);
    loop {
        match step {
            Handled::Deferred(job) => {
                let performed = core.perform(job);
                step = core.resume(performed, Instant::now());
            }
            Handled::Reply((bytes, effects)) => {
                if let Some(bytes) = bytes {
                    reply(listener, from, &bytes);
                }
                udp::log_effects(core, from, effects);
                return;
            }
        }
    }
}
