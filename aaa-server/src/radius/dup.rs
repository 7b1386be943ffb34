//! RFC 5080 §2.2.2 duplicate detection: a retransmitted request (same client
//! address and source port, Identifier and Request Authenticator) is
//! answered with the cached response instead of running the exchange again.
//!
//! The cache keeps every answer for at least `window` (FreeRADIUS'
//! `cleanup_delay`, default 5 s) whatever the load: entries leave by age,
//! not by count. Only the size cap (`max_entries`) can push an answer out
//! earlier, and [`DupStats::early_evictions`] counts each time it does.
//!
//! A request is marked in progress when it is first seen ([`DupCache::begin`]),
//! so a retransmission that arrives while its original is still being
//! processed is recognised ([`Lookup::InProgress`]) and dropped: the
//! original's answer goes out once it is ready.
//!
//! The cache is sharded: each shard has its own lock, held for a hash
//! lookup and an insert or removal, never while a response is built.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What identifies a request: client address/port, Identifier, Request Authenticator.
pub type RequestKey = (SocketAddr, u8, [u8; 16]);

/// [`RequestKey`] packed into 35 bytes (a `SocketAddr` alone takes 32):
/// the cache holds hundreds of thousands of them.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Packed {
    /// IPv6, or IPv4 as an IPv4-mapped IPv6 address.
    addr: [u8; 16],
    port: [u8; 2],
    identifier: u8,
    authenticator: [u8; 16],
}

impl std::hash::Hash for Packed {
    /// Three words instead of four length-prefixed byte strings.
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u128(u128::from_ne_bytes(self.addr));
        h.write_u128(u128::from_ne_bytes(self.authenticator));
        h.write_u32(u32::from_ne_bytes([
            self.port[0],
            self.port[1],
            self.identifier,
            0,
        ]));
    }
}

fn pack(k: &RequestKey) -> Packed {
    Packed {
        addr: match k.0.ip() {
            IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            IpAddr::V6(a) => a.octets(),
        },
        port: k.0.port().to_be_bytes(),
        identifier: k.1,
        authenticator: k.2,
    }
}

/// Number of shards (a power of two).
const SHARDS: usize = 16;

/// What [`DupCache::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Not seen within the window: now marked in progress; the caller must
    /// [`DupCache::complete`] or [`DupCache::abandon`] it.
    New,
    /// The original is still being processed: drop this copy.
    InProgress,
    /// Answered before: send these bytes again.
    Answered(Vec<u8>),
}

/// The cache's counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DupStats {
    /// Retransmissions answered from the cache.
    pub hits: u64,
    /// Retransmissions dropped because their original was in progress.
    pub in_progress_hits: u64,
    /// Entries pushed out before `window` by the size cap.
    pub early_evictions: u64,
    /// Entries held now (answered and in progress).
    pub entries: u64,
}

enum Slot {
    InProgress,
    Answered(Box<[u8]>),
}

/// The shards' hasher: foldhash (several times cheaper than std's SipHash
/// on this 35-byte key), seeded at random per process and per table. The
/// key is chosen by the NAS side, so it stays a keyed hash: without the
/// seed no set of keys collides in every process. foldhash does not claim
/// to resist an attacker who recovers the seed from timing; that is
/// accepted here because only configured clients reach the cache, after
/// the Message-Authenticator check (required with EAP, RFC 3579 §3.2),
/// the seed is never shown, and a shard holds at most `per_shard`
/// entries, which bounds what a collision chain can cost.
type Hasher = foldhash::fast::RandomState;

/// One shard: entries by key, and (time, key) in the order they were first
/// seen. An entry is queued once: its answer's time is in the map, and an
/// answered entry whose queued time has passed the window goes to the back
/// again with its answer's time (kept at least `window` after the answer).
struct Shard {
    map: HashMap<Packed, (Slot, Instant), Hasher>,
    order: VecDeque<(Instant, Packed)>,
}

/// Sharded, time-limited cache of responses (`&self`: shared by all workers).
pub struct DupCache {
    window: Duration,
    /// Entries per shard.
    per_shard: usize,
    shards: Box<[Mutex<Shard>]>,
    hits: AtomicU64,
    in_progress_hits: AtomicU64,
    early_evictions: AtomicU64,
}

fn lock(m: &Mutex<Shard>) -> MutexGuard<'_, Shard> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shard {
    /// Drops entries older than `window`, and the oldest ones while more
    /// than `keep` are held; returns how many of those were still in their window.
    fn expire(&mut self, now: Instant, window: Duration, keep: usize) -> u64 {
        let mut early = 0;
        while let Some(&(t, key)) = self.order.front() {
            let expired = now.saturating_duration_since(t) >= window;
            if !expired && self.map.len() <= keep {
                break;
            }
            self.order.pop_front();
            let Entry::Occupied(e) = self.map.entry(key) else {
                continue;
            };
            let at = e.get().1;
            if at > t {
                // Answered (or seen anew) after it was queued.
                if now.saturating_duration_since(at) >= window {
                    e.remove();
                    continue;
                }
                if expired {
                    // Still in its window: queued again at its own time.
                    self.order.push_back((at, key));
                    continue;
                }
            }
            e.remove();
            if now.saturating_duration_since(at) < window {
                early += 1;
            }
        }
        early
    }
}

impl DupCache {
    /// Keeps responses for `window`, at most about `max_entries` of them
    /// (answered and in progress together).
    pub fn new(window: Duration, max_entries: usize) -> Self {
        let per_shard = max_entries.div_ceil(SHARDS).max(1);
        // Not sized for the cap: entries hashed all over a table sized for
        // 400 000 would touch a page each (RSS) long before it is full.
        let cap = per_shard.min(1024);
        Self {
            window,
            per_shard,
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        map: HashMap::with_capacity_and_hasher(cap, Hasher::default()),
                        order: VecDeque::with_capacity(cap),
                    })
                })
                .collect(),
            hits: AtomicU64::new(0),
            in_progress_hits: AtomicU64::new(0),
            early_evictions: AtomicU64::new(0),
        }
    }

    /// The window every answer stays answerable for.
    pub fn window(&self) -> Duration {
        self.window
    }

    fn shard(&self, k: &Packed) -> &Mutex<Shard> {
        // The Request Authenticator is the NAS's random number (RFC 2865
        // §3); the map inside the shard hashes the whole key ([`Hasher`]).
        let i = usize::from(k.authenticator[0] ^ k.authenticator[15] ^ k.port[1]);
        &self.shards[i % SHARDS]
    }

    /// Looks `key` up; a key not seen within the window is marked in progress.
    pub fn begin(&self, key: &RequestKey, now: Instant) -> Lookup {
        let k = pack(key);
        let mut s = lock(self.shard(&k));
        let early = s.expire(now, self.window, self.per_shard.saturating_sub(1));
        if early > 0 {
            self.early_evictions.fetch_add(early, Ordering::Relaxed);
        }
        match s.map.entry(k) {
            Entry::Occupied(e) => match &e.get().0 {
                Slot::InProgress => {
                    self.in_progress_hits.fetch_add(1, Ordering::Relaxed);
                    Lookup::InProgress
                }
                Slot::Answered(b) => {
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    Lookup::Answered(b.to_vec())
                }
            },
            Entry::Vacant(v) => {
                v.insert((Slot::InProgress, now));
                s.order.push_back((now, k));
                Lookup::New
            }
        }
    }

    /// Stores the answer to `key`; it is answerable until `now + window`.
    pub fn complete(&self, key: &RequestKey, response: &[u8], now: Instant) {
        let k = pack(key);
        let mut s = lock(self.shard(&k));
        // Usually replaces the in-progress mark: no room to make.
        let early = s.expire(now, self.window, self.per_shard);
        if early > 0 {
            self.early_evictions.fetch_add(early, Ordering::Relaxed);
        }
        let answered = (Slot::Answered(response.into()), now);
        // Queued once, when first seen; the expiry looks at this time.
        if let Some(slot) = s.map.get_mut(&k) {
            *slot = answered;
        } else {
            s.map.insert(k, answered);
            s.order.push_back((now, k));
        }
    }

    /// Forgets `key` (its request got no answer): a retransmission is processed anew.
    pub fn abandon(&self, key: &RequestKey) {
        let k = pack(key);
        let mut s = lock(self.shard(&k));
        if let Entry::Occupied(e) = s.map.entry(k)
            && matches!(e.get().0, Slot::InProgress)
        {
            e.remove();
        }
    }

    /// The counters.
    pub fn stats(&self) -> DupStats {
        DupStats {
            hits: self.hits.load(Ordering::Relaxed),
            in_progress_hits: self.in_progress_hits.load(Ordering::Relaxed),
            early_evictions: self.early_evictions.load(Ordering::Relaxed),
            entries: self.len() as u64,
        }
    }

    /// Entries held (answered and in progress).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).map.len()).sum()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn new_in_progress_answered_then_expired_after_the_window() {
        let c = DupCache::new(Duration::from_secs(5), 1000);
        let a = addr("127.0.0.1:1000");
        let t = Instant::now();
        let k = (a, 1, [7; 16]);
        assert_eq!(c.begin(&k, t), Lookup::New);
        assert_eq!(c.begin(&k, t), Lookup::InProgress);
        c.complete(&k, &[1, 2, 3], t + Duration::from_secs(1));
        // Answerable for the whole window after the answer, not after the request.
        assert_eq!(
            c.begin(&k, t + Duration::from_millis(5999)),
            Lookup::Answered(vec![1, 2, 3])
        );
        assert_eq!(
            c.begin(&(a, 1, [8; 16]), t),
            Lookup::New,
            "other authenticator"
        );
        assert_eq!(
            c.begin(&(addr("127.0.0.1:1001"), 1, [7; 16]), t),
            Lookup::New
        );
        assert_eq!(c.begin(&k, t + Duration::from_secs(6)), Lookup::New);
        let s = c.stats();
        assert_eq!((s.hits, s.in_progress_hits, s.early_evictions), (1, 1, 0));
    }

    #[test]
    fn abandoned_requests_are_processed_anew() {
        let c = DupCache::new(Duration::from_secs(5), 1000);
        let k = (addr("10.0.0.1:1812"), 9, [1; 16]);
        let t = Instant::now();
        assert_eq!(c.begin(&k, t), Lookup::New);
        c.abandon(&k);
        assert_eq!(c.begin(&k, t), Lookup::New);
        c.complete(&k, &[5], t);
        c.abandon(&k);
        assert_eq!(c.begin(&k, t), Lookup::Answered(vec![5]), "answers stay");
    }

    #[test]
    fn the_count_never_evicts_within_the_window_below_the_cap() {
        // 100 000 answers over 4 s in a cache sized for them: all answerable.
        let c = DupCache::new(Duration::from_secs(5), 120_000);
        let t = Instant::now();
        let key = |i: u32| {
            let mut auth = [0u8; 16];
            auth[..4].copy_from_slice(&i.to_be_bytes());
            auth[15] = i as u8;
            (addr("127.0.0.1:2000"), i as u8, auth)
        };
        for i in 0..100_000u32 {
            let now = t + Duration::from_micros(40 * u64::from(i));
            assert_eq!(c.begin(&key(i), now), Lookup::New);
            c.complete(&key(i), &i.to_be_bytes(), now);
        }
        let end = t + Duration::from_secs(4);
        assert_eq!(
            c.begin(&key(0), end),
            Lookup::Answered(0u32.to_be_bytes().to_vec())
        );
        assert_eq!(c.stats().early_evictions, 0);
    }

    #[test]
    fn the_cap_evicts_early_and_counts_it() {
        let c = DupCache::new(Duration::from_secs(5), SHARDS * 2);
        let t = Instant::now();
        let a = addr("127.0.0.1:1000");
        // Same shard: authenticator[0] ^ authenticator[15] ^ port low byte fixed.
        let k = |i: u8| (a, i, [0; 16]);
        for i in 0..3 {
            assert_eq!(c.begin(&k(i), t), Lookup::New);
            c.complete(&k(i), &[i], t);
        }
        assert_eq!(c.begin(&k(0), t), Lookup::New, "oldest pushed out");
        assert!(c.stats().early_evictions >= 1);
        assert!(c.len() <= SHARDS * 2);
    }

    #[test]
    fn addresses_and_ports_stay_apart_when_packed() {
        let c = DupCache::new(Duration::from_secs(10), 64);
        let t = Instant::now();
        let v4 = addr("10.0.0.1:1812");
        assert_eq!(c.begin(&(v4, 7, [9; 16]), t), Lookup::New);
        c.complete(&(v4, 7, [9; 16]), &[1], t);
        for other in ["[2001:db8::1]:1812", "10.0.0.1:1813", "10.0.0.2:1812"] {
            assert_eq!(c.begin(&(addr(other), 7, [9; 16]), t), Lookup::New);
        }
        assert_eq!(c.begin(&(v4, 7, [9; 16]), t), Lookup::Answered(vec![1]));
    }
}
