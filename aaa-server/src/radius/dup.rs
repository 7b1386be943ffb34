//! RFC 5080 §2.2.2 duplicate detection: a retransmitted request (same client
//! address and port, Identifier and Request Authenticator) is answered with
//! the cached response instead of running the exchange again.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
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

/// Bounded, time-limited cache of responses.
pub struct DupCache {
    lifetime: Duration,
    max: usize,
    map: HashMap<Packed, (Box<[u8]>, Instant)>,
    order: VecDeque<(Instant, Packed)>,
}

impl DupCache {
    /// Keeps responses for `lifetime`, at most `max` of them.
    pub fn new(lifetime: Duration, max: usize) -> Self {
        Self {
            lifetime,
            max,
            // Sized once: no rehash pauses while the cache fills up.
            map: HashMap::with_capacity(max.min(1 << 20)),
            order: VecDeque::with_capacity(max.min(1 << 20)),
        }
    }

    /// Drops expired responses, and the oldest ones while more than `keep` are held.
    fn expire(&mut self, now: Instant, keep: usize) {
        while let Some(&(t, key)) = self.order.front() {
            if now.saturating_duration_since(t) < self.lifetime && self.map.len() <= keep {
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
        self.expire(now, self.max);
        self.map.get(&pack(key)).map(|(r, _)| r.to_vec())
    }

    /// Caches `response` for `key`. A newer request from the same client
    /// with the same Identifier replaces nothing else: its authenticator differs.
    pub fn insert(&mut self, key: RequestKey, response: Vec<u8>, now: Instant) {
        let key = pack(&key);
        // Make room first: the table never grows past `max` entries.
        self.expire(now, self.max.saturating_sub(1));
        self.map.insert(key, (response.into_boxed_slice(), now));
        self.order.push_back((now, key));
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

    #[test]
    fn addresses_and_ports_stay_apart_when_packed() {
        let mut c = DupCache::new(Duration::from_secs(10), 8);
        let t = Instant::now();
        let v4: SocketAddr = "10.0.0.1:1812".parse().unwrap();
        c.insert((v4, 7, [9; 16]), vec![1], t);
        for other in ["[2001:db8::1]:1812", "10.0.0.1:1813", "10.0.0.2:1812"] {
            assert_eq!(c.get(&(other.parse().unwrap(), 7, [9; 16]), t), None);
        }
        assert_eq!(c.get(&(v4, 7, [9; 16]), t), Some(vec![1]));
    }
}
