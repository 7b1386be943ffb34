//! RFC 5080 §2.2.2 duplicate detection: a retransmitted request (same client
//! address and port, Identifier and Request Authenticator) is answered with
//! the cached response instead of running the exchange again; one that
//! arrives while its original is still being processed is dropped.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What identifies a request: client address/port, Identifier, Request Authenticator.
pub type RequestKey = (SocketAddr, u8, [u8; 16]);

/// [`RequestKey`] packed into 35 bytes (a `SocketAddr` alone takes 32):
/// the cache holds tens of thousands of them.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Packed {
    /// IPv6, or IPv4 as an IPv4-mapped IPv6 address.
    addr: [u8; 16],
    port: [u8; 2],
    identifier: u8,
    authenticator: [u8; 16],
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

/// What [`DupCache::begin`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Not seen: now marked in progress; the caller must
    /// [`DupCache::complete`] or [`DupCache::abandon`] it.
    New,
    /// The original is still being processed: drop this copy (the
    /// original's answer goes to the same address and port).
    InProgress,
    /// Answered before: send these bytes again.
    Answered(Vec<u8>),
}

/// A request in progress (`None`) or its answer.
type Slot = Option<Box<[u8]>>;

struct Inner {
    map: HashMap<Packed, (Slot, Instant)>,
    order: VecDeque<(Instant, Packed)>,
}

/// Bounded, time-limited cache of responses and of requests in progress;
/// internally synchronised.
pub struct DupCache {
    lifetime: Duration,
    max: usize,
    inner: Mutex<Inner>,
}

impl Inner {
    /// Drops expired entries, and the oldest ones while more than `keep` are held.
    fn expire(&mut self, now: Instant, lifetime: Duration, keep: usize) {
        while let Some(&(t, key)) = self.order.front() {
            if now.saturating_duration_since(t) < lifetime && self.map.len() <= keep {
                break;
            }
            self.order.pop_front();
            // One hash lookup: remove only if this is the entry queued at `t`.
            if let Entry::Occupied(e) = self.map.entry(key)
                && e.get().1 == t
            {
                e.remove();
            }
        }
    }
}

impl DupCache {
    /// Keeps responses for `lifetime`, at most `max` of them.
    pub fn new(lifetime: Duration, max: usize) -> Self {
        Self {
            lifetime,
            max,
            inner: Mutex::new(Inner {
                // Sized once: no rehash pauses while the cache fills up.
                map: HashMap::with_capacity(max.min(1 << 20)),
                order: VecDeque::with_capacity(max.min(1 << 20)),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks `key` up; a new key is marked in progress.
    pub fn begin(&self, key: &RequestKey, now: Instant) -> Lookup {
        let key = pack(key);
        let mut inner = self.lock();
        inner.expire(now, self.lifetime, self.max);
        if let Some((slot, _)) = inner.map.get(&key) {
            return match slot {
                Some(r) => Lookup::Answered(r.to_vec()),
                None => Lookup::InProgress,
            };
        }
        // Make room first: the table never grows past `max` entries.
        inner.expire(now, self.lifetime, self.max.saturating_sub(1));
        inner.map.insert(key, (None, now));
        inner.order.push_back((now, key));
        Lookup::New
    }

    /// Caches `response` for `key` (begun before). A newer request from the
    /// same client with the same Identifier replaces nothing else: its
    /// authenticator differs.
    pub fn complete(&self, key: &RequestKey, response: &[u8], now: Instant) {
        let key = pack(key);
        let mut inner = self.lock();
        if let Some(entry) = inner.map.get_mut(&key) {
            entry.0 = Some(response.into());
            return;
        }
        // Expired or evicted while in progress: cache it anew.
        inner.expire(now, self.lifetime, self.max.saturating_sub(1));
        inner.map.insert(key, (Some(response.into()), now));
        inner.order.push_back((now, key));
    }

    /// Forgets a request that ends without an answer (the NAS's
    /// retransmission is then handled as new).
    pub fn abandon(&self, key: &RequestKey) {
        let key = pack(key);
        let mut inner = self.lock();
        if let Entry::Occupied(e) = inner.map.entry(key)
            && e.get().0.is_none()
        {
            e.remove();
        }
    }

    /// Number of entries (answers and requests in progress).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.lock().map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(c: &DupCache, k: &RequestKey, r: &[u8], t: Instant) {
        assert_eq!(c.begin(k, t), Lookup::New);
        c.complete(k, r, t);
    }

    #[test]
    fn hit_expire_and_bound() {
        let c = DupCache::new(Duration::from_secs(10), 2);
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let t = Instant::now();
        answer(&c, &(a, 1, [0; 16]), &[1], t);
        assert_eq!(c.begin(&(a, 1, [0; 16]), t), Lookup::Answered(vec![1]));
        assert_eq!(
            c.begin(&(a, 1, [1; 16]), t),
            Lookup::New,
            "other authenticator"
        );
        c.abandon(&(a, 1, [1; 16]));
        let other = ("127.0.0.1:1001".parse().unwrap(), 1, [0; 16]);
        assert_eq!(c.begin(&other, t), Lookup::New);
        c.abandon(&other);
        answer(&c, &(a, 2, [0; 16]), &[2], t);
        answer(&c, &(a, 3, [0; 16]), &[3], t);
        assert_eq!(c.len(), 2);
        assert_eq!(c.begin(&(a, 1, [0; 16]), t), Lookup::New, "oldest evicted");
        c.abandon(&(a, 1, [0; 16]));
        let later = t + Duration::from_secs(11);
        assert_eq!(c.begin(&(a, 3, [0; 16]), later), Lookup::New);
        c.abandon(&(a, 3, [0; 16]));
        assert!(c.is_empty());
    }

    #[test]
    fn in_progress_until_completed_or_abandoned() {
        let c = DupCache::new(Duration::from_secs(10), 8);
        let t = Instant::now();
        let k = ("10.0.0.1:1812".parse().unwrap(), 7, [9; 16]);
        assert_eq!(c.begin(&k, t), Lookup::New);
        assert_eq!(c.begin(&k, t), Lookup::InProgress);
        c.complete(&k, &[5], t);
        assert_eq!(c.begin(&k, t), Lookup::Answered(vec![5]));
        // An answered request is not forgotten by abandon().
        c.abandon(&k);
        assert_eq!(c.begin(&k, t), Lookup::Answered(vec![5]));
        let k2 = ("10.0.0.1:1812".parse().unwrap(), 8, [9; 16]);
        assert_eq!(c.begin(&k2, t), Lookup::New);
        c.abandon(&k2);
        assert_eq!(c.begin(&k2, t), Lookup::New, "abandoned: handled as new");
    }

    #[test]
    fn addresses_and_ports_stay_apart_when_packed() {
        let c = DupCache::new(Duration::from_secs(10), 8);
        let t = Instant::now();
        let v4: SocketAddr = "10.0.0.1:1812".parse().unwrap();
        answer(&c, &(v4, 7, [9; 16]), &[1], t);
        for other in ["[2001:db8::1]:1812", "10.0.0.1:1813", "10.0.0.2:1812"] {
            assert_eq!(
                c.begin(&(other.parse().unwrap(), 7, [9; 16]), t),
                Lookup::New
            );
        }
        assert_eq!(c.begin(&(v4, 7, [9; 16]), t), Lookup::Answered(vec![1]));
    }
}
