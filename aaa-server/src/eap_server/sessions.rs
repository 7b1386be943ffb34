//! The sessions in flight, in [`SHARDS`] independently locked shards keyed
//! by the State's first byte (random): a step takes its session out under
//! its shard's lock, works with no lock held and puts it back. While the
//! store works on a step, the session's slot is [`Slot::Busy`].

use super::StateId;
use super::aka::Phase;
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::Method;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Number of shards (a power of two).
pub const SHARDS: usize = 16;

/// What every phase of a session shares (about 90 bytes).
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub started: Instant,
    /// RADIUS round trips (Access-Requests received).
    pub round_trips: u32,
    /// Identifier of the outstanding EAP-Request.
    pub last_id: u8,
    pub method: Method,
    /// EAP-SIM (RFC 4186) runs instead of `method`.
    pub sim: bool,
    /// The peer already used its Legacy-Nak.
    pub nak_used: bool,
    /// The identity of EAP-Response/Identity (what a method restart goes back to).
    /// Shared: the copy of the session a step keeps, in case its store work
    /// is abandoned, takes no allocation for it.
    pub eap_identity: std::sync::Arc<[u8]>,
    /// The identity to log, MSIN masked; `None`: `eap_identity` masked.
    pub log_identity: Option<Box<str>>,
    /// AT_CHECKCODE over the AKA-Identity packets of the current method;
    /// `None` while there were none (RFC 4187 §10.13).
    pub checkcode: Option<Box<CheckcodeHash>>,
    /// Reply attributes for Access-Accept (set by the check before it).
    pub reply: Option<Box<crate::authz::ReplyAttributes>>,
    /// The subscriber, once the check before Access-Accept named it (boxed:
    /// a session stays within 96 octets, see `session_state_stays_small`).
    pub imsi: Option<Box<crate::hss::Imsi>>,
}

impl Common {
    pub fn set_log_identity(&mut self, identity: &[u8]) {
        self.log_identity = Some(crate::logging::identity(identity).into_boxed_str());
    }

    /// Adds an AKA-Identity packet to AT_CHECKCODE.
    pub fn checkcode_update(&mut self, packet: &[u8]) {
        let method = self.method;
        self.checkcode
            .get_or_insert_with(|| Box::new(CheckcodeHash::new(method)))
            .update(packet);
    }

    /// The Identifier of the next request (and remembers it as outstanding).
    pub fn next_id(&mut self) -> u8 {
        self.last_id = self.last_id.wrapping_add(1);
        self.last_id
    }

    /// The identity for the log, MSIN masked.
    pub fn log_identity(&self) -> String {
        self.log_identity.as_deref().map_or_else(
            || crate::logging::identity(&self.eap_identity),
            str::to_owned,
        )
    }
}

/// One authentication in flight, waiting for the peer.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub common: Common,
    pub phase: Phase,
}

/// A table entry.
enum Slot {
    /// Waiting for the peer's next response.
    Idle(Session),
    /// Taken out by a step that has not finished (the store is working).
    Busy { started: Instant },
}

impl Slot {
    fn started(&self) -> Instant {
        match self {
            Slot::Idle(s) => s.common.started,
            Slot::Busy { started } => *started,
        }
    }
}

/// The table's hasher: foldhash (several times cheaper than std's SipHash),
/// seeded at random per process and per table. Only States the server drew
/// at random are inserted, so no peer can build a collision chain; a
/// forged State only costs one lookup among random keys.
type Hasher = foldhash::fast::RandomState;

#[derive(Default)]
struct Shard {
    map: HashMap<StateId, Slot, Hasher>,
    /// Sessions by start time, for expiry and eviction.
    order: VecDeque<(Instant, StateId)>,
}

impl Shard {
    /// Removes the entry queued as `(started, id)` if it is still that one.
    fn evict(&mut self, started: Instant, id: &StateId) -> bool {
        if self.map.get(id).is_some_and(|s| s.started() == started) {
            self.map.remove(id);
            return true;
        }
        false
    }

    /// Drops entries older than `timeout`; returns how many.
    fn expire(&mut self, now: Instant, timeout: Duration) -> usize {
        let mut n = 0;
        while let Some(&(started, id)) = self.order.front() {
            if now.saturating_duration_since(started) < timeout {
                break;
            }
            self.order.pop_front();
            n += usize::from(self.evict(started, &id));
        }
        n
    }

    /// Drops the oldest entry; false when empty.
    fn evict_oldest(&mut self) -> Option<bool> {
        let (started, id) = self.order.pop_front()?;
        Some(self.evict(started, &id))
    }
}

/// What [`Sessions::take`] found.
pub(crate) enum Take {
    /// No session has this State.
    Missing,
    /// A step of this session is still running.
    Busy,
    /// The session, now marked busy in the table.
    Taken(Session),
}

/// The sharded session table.
pub(crate) struct Sessions {
    shards: Box<[Mutex<Shard>]>,
    timeout: Duration,
    max: usize,
    count: AtomicUsize,
}

/// A lock whose state stays usable after a panic elsewhere.
fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sessions {
    pub fn new(timeout: Duration, max: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            timeout,
            max: max.max(1),
            count: AtomicUsize::new(0),
        }
    }

    fn shard(&self, id: &StateId) -> &Mutex<Shard> {
        &self.shards[usize::from(id[0]) % SHARDS]
    }

    fn uncount(&self, n: usize) {
        if n > 0 {
            self.count.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Entries held (idle and busy).
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Drops expired sessions in every shard.
    pub fn expire(&self, now: Instant) {
        for s in &*self.shards {
            let n = lock(s).expire(now, self.timeout);
            self.uncount(n);
        }
    }

    /// Takes the session `id` out, leaving it marked busy.
    pub fn take(&self, id: &StateId, now: Instant) -> Take {
        let mut shard = lock(self.shard(id));
        let expired = shard.expire(now, self.timeout);
        let out = match shard.map.get_mut(id) {
            None => Take::Missing,
            Some(slot) => {
                let started = slot.started();
                match std::mem::replace(slot, Slot::Busy { started }) {
                    Slot::Idle(s) => Take::Taken(s),
                    Slot::Busy { .. } => Take::Busy,
                }
            }
        };
        drop(shard);
        self.uncount(expired);
        out
    }

    /// Puts a taken session back; false (and the session dropped) when its
    /// slot expired or was evicted meanwhile.
    pub fn put_back(&self, id: &StateId, session: Session) -> bool {
        let mut shard = lock(self.shard(id));
        match shard.map.get_mut(id) {
            Some(slot @ Slot::Busy { .. }) if slot.started() == session.common.started => {
                *slot = Slot::Idle(session);
                true
            }
            _ => false,
        }
    }

    /// Ends a taken session (its slot goes).
    pub fn remove(&self, id: &StateId) {
        let removed = lock(self.shard(id)).map.remove(id).is_some();
        self.uncount(usize::from(removed));
    }

    /// Adds a new session (busy when `session` is `None`), making room by
    /// dropping the oldest ones while `max` are held.
    pub fn insert(&self, id: StateId, session: Option<Session>, started: Instant) {
        let own = usize::from(id[0]) % SHARDS;
        // Make room: the oldest of this shard first, then of the others.
        let mut i = 0;
        while self.count.load(Ordering::Relaxed) >= self.max && i < SHARDS {
            let evicted = lock(&self.shards[(own + i) % SHARDS]).evict_oldest();
            match evicted {
                Some(hit) => self.uncount(usize::from(hit)),
                None => i += 1,
            }
        }
        let slot = match session {
            Some(s) => Slot::Idle(s),
            None => Slot::Busy { started },
        };
        let mut shard = lock(&self.shards[own]);
        let expired = shard.expire(started, self.timeout);
        shard.order.push_back((started, id));
        let replaced = shard.map.insert(id, slot).is_some();
        drop(shard);
        self.uncount(expired);
        if !replaced {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
    }
}
