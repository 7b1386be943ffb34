//! A bounded map whose entries expire a fixed time after they were last
//! set, sans-IO (`now` is a parameter): the State → home server map of EAP
//! conversations, the dead marks of discovered home servers and the
//! negative cache of failed discoveries.
//!
//! Every entry lives the same `ttl`, so insertion order is expiry order: a
//! FIFO of (key, generation) finds the expired entries in O(1) amortised.
//! When the map is full, the oldest entry is evicted early (counted).
//! Hand-written rather than a cache crate: it is 100 lines, needs `now` as
//! a parameter for tests, and the crates at hand (moka, lru) read the clock
//! themselves.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::time::{Duration, Instant};

/// A map of at most `capacity` entries, each valid for `ttl` after its
/// last [`TtlMap::insert`].
#[derive(Debug)]
pub struct TtlMap<K, V> {
    entries: HashMap<K, Entry<V>>,
    /// Insertion order: (key, generation); an entry set again since has
    /// another generation and the old element is skipped.
    order: VecDeque<(K, u64)>,
    generation: u64,
    capacity: usize,
    ttl: Duration,
    evicted: u64,
}

#[derive(Debug)]
struct Entry<V> {
    value: V,
    until: Instant,
    generation: u64,
}

impl<K: Hash + Eq + Clone, V: Clone> TtlMap<K, V> {
    /// An empty map (`capacity` at least 1).
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        TtlMap {
            entries: HashMap::new(),
            order: VecDeque::new(),
            generation: 0,
            capacity: capacity.max(1),
            ttl,
            evicted: 0,
        }
    }

    /// The value for `key` if set less than `ttl` before `now`.
    pub fn get(&self, key: &K, now: Instant) -> Option<V> {
        self.entries
            .get(key)
            .filter(|e| now < e.until)
            .map(|e| e.value.clone())
    }

    /// Sets `key` to `value` until `now + ttl`, evicting the oldest entry
    /// when full.
    pub fn insert(&mut self, key: K, value: V, now: Instant) {
        self.expire(now);
        if !self.entries.contains_key(&key) {
            while self.entries.len() >= self.capacity {
                let Some((k, g)) = self.order.pop_front() else {
                    break;
                };
                if self.entries.get(&k).is_some_and(|e| e.generation == g) {
                    self.entries.remove(&k);
                    self.evicted += 1;
                }
            }
        }
        self.generation += 1;
        let g = self.generation;
        self.order.push_back((key.clone(), g));
        self.entries.insert(
            key,
            Entry {
                value,
                until: now + self.ttl,
                generation: g,
            },
        );
        // Keys set again and again leave stale elements behind: compact.
        if self.order.len() > 2 * self.capacity {
            let entries = &self.entries;
            self.order
                .retain(|(k, g)| entries.get(k).is_some_and(|e| e.generation == *g));
        }
    }

    /// Forgets `key`.
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Drops the entries expired at `now`.
    pub fn expire(&mut self, now: Instant) {
        while let Some((k, g)) = self.order.front() {
            match self.entries.get(k) {
                Some(e) if e.generation == *g => {
                    if now < e.until {
                        break;
                    }
                    self.entries.remove(k);
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// Entries held (expired ones not yet dropped included).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries evicted before their time because the map was full.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(10);

    #[test]
    fn entries_expire_after_ttl() {
        let t0 = Instant::now();
        let mut m = TtlMap::new(4, TTL);
        m.insert("a", 1, t0);
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(9)), Some(1));
        assert_eq!(m.get(&"a", t0 + TTL), None);
        m.expire(t0 + TTL);
        assert!(m.is_empty());
    }

    #[test]
    fn setting_again_extends_and_replaces() {
        let t0 = Instant::now();
        let mut m = TtlMap::new(4, TTL);
        m.insert("a", 1, t0);
        m.insert("a", 2, t0 + Duration::from_secs(5));
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(12)), Some(2));
        // The stale first element does not expire the newer entry.
        m.expire(t0 + Duration::from_secs(12));
        assert_eq!(m.len(), 1);
        assert_eq!(m.get(&"a", t0 + Duration::from_secs(15)), None);
    }

    #[test]
    fn full_map_evicts_the_oldest_and_counts() {
        let t0 = Instant::now();
        let mut m = TtlMap::new(2, TTL);
        m.insert(1, 'a', t0);
        m.insert(2, 'b', t0);
        m.insert(3, 'c', t0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.get(&1, t0), None);
        assert_eq!(m.get(&3, t0), Some('c'));
        assert_eq!(m.evicted(), 1);
        // Expired entries make room without counting as evictions.
        m.insert(4, 'd', t0 + TTL);
        assert_eq!(m.evicted(), 1);
        assert_eq!(m.len(), 1);
    }

    #[test]
    fn a_key_set_repeatedly_stays_bounded() {
        let t0 = Instant::now();
        let mut m = TtlMap::new(3, TTL);
        m.insert(0, 0, t0);
        for i in 0..1000 {
            m.insert(1, i, t0);
        }
        assert!(m.order.len() <= 6);
        assert_eq!(m.get(&0, t0), Some(0));
        assert_eq!(m.get(&1, t0), Some(999));
        m.remove(&1);
        assert_eq!(m.get(&1, t0), None);
    }
}
