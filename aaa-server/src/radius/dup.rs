//! RFC 5080 §2.2.2 duplicate detection: a retransmitted request (same client
//! address and port, Identifier and Request Authenticator) is answered with
//! the cached response instead of running the exchange again.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// What identifies a request: client address/port, Identifier, Request Authenticator.
pub type RequestKey = (SocketAddr, u8, [u8; 16]);

/// Bounded, time-limited cache of responses.
pub struct DupCache {
    lifetime: Duration,
    max: usize,
    map: HashMap<RequestKey, (Vec<u8>, Instant)>,
    order: VecDeque<(Instant, RequestKey)>,
}

impl DupCache {
    /// Keeps responses for `lifetime`, at most `max` of them.
    pub fn new(lifetime: Duration, max: usize) -> Self {
        Self {
            lifetime,
            max,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some(&(t, key)) = self.order.front() {
            if now.saturating_duration_since(t) < self.lifetime && self.map.len() <= self.max {
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

    /// The cached response for `key`.
    pub fn get(&mut self, key: &RequestKey, now: Instant) -> Option<Vec<u8>> {
        self.expire(now);
        self.map.get(key).map(|(r, _)| r.clone())
    }

    /// Caches `response` for `key`. A newer request from the same client
    /// with the same Identifier replaces nothing else: its authenticator differs.
    pub fn insert(&mut self, key: RequestKey, response: Vec<u8>, now: Instant) {
        self.map.insert(key, (response, now));
        self.order.push_back((now, key));
        self.expire(now);
    }

    /// Number of cached responses.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_expire_and_bound() {
        let mut c = DupCache::new(Duration::from_secs(10), 2);
        let a: SocketAddr = "127.0.0.1:1000".parse().unwrap();
        let t = Instant::now();
        c.insert((a, 1, [0; 16]), vec![1], t);
        assert_eq!(c.get(&(a, 1, [0; 16]), t), Some(vec![1]));
        assert_eq!(c.get(&(a, 1, [1; 16]), t), None, "other authenticator");
        assert_eq!(
            c.get(&("127.0.0.1:1001".parse().unwrap(), 1, [0; 16]), t),
            None
        );
        c.insert((a, 2, [0; 16]), vec![2], t);
        c.insert((a, 3, [0; 16]), vec![3], t);
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(&(a, 1, [0; 16]), t), None, "oldest evicted");
        assert_eq!(c.get(&(a, 3, [0; 16]), t + Duration::from_secs(11)), None);
        assert!(c.is_empty());
    }
}
