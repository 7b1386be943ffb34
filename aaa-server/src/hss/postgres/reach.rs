//! Whether PostgreSQL answers this node: the `aaa_hss_store_up` gauge and
//! `aaa_hss_store_unreachable_total` counter (docs/metrics.md), with one
//! `warn` line when it stops answering and one `info` line when it answers
//! again, however many calls fail in between.
//!
//! "Answers" means a connection opened or a statement came back (a statement
//! the server refused is an answer too); "unreachable" means a new
//! connection could not be opened. The change poller tries every
//! [`super::POLL`], so the state follows the database within a poll even
//! with no authentication traffic.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// The reachability state of one node's PostgreSQL store.
#[derive(Debug)]
pub struct Reach {
    up: AtomicBool,
    lost: AtomicU64,
}

impl Default for Reach {
    fn default() -> Self {
        Self::new()
    }
}

impl Reach {
    /// Reachable (the store was just opened).
    pub fn new() -> Self {
        Self {
            up: AtomicBool::new(true),
            lost: AtomicU64::new(0),
        }
    }

    /// Whether the last attempt got an answer.
    pub fn up(&self) -> bool {
        self.up.load(Ordering::Relaxed)
    }

    /// Times the store became unreachable since start.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// PostgreSQL answered; logs once when it had been unreachable. Returns
    /// whether this was that transition.
    pub fn answered(&self) -> bool {
        if self.up.load(Ordering::Relaxed) || self.up.swap(true, Ordering::AcqRel) {
            return false;
        }
        tracing::info!("PostgreSQL reachable again: vectors and Access-Accepts resume");
        true
    }

    /// No connection could be opened (`why`); logs once per outage. Returns
    /// whether this was the transition.
    pub fn failed(&self, why: &str) -> bool {
        if !self.up.swap(false, Ordering::AcqRel) {
            return false;
        }
        self.lost.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            error = why,
            "PostgreSQL unreachable: no vector and no Access-Accept until it answers again"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_transition_per_outage() {
        let r = Reach::new();
        assert!(r.up());
        assert!(!r.answered());
        assert!(r.failed("connection refused"));
        assert!(!r.failed("connection refused"));
        assert!(!r.up());
        assert_eq!(r.lost(), 1);
        assert!(r.answered());
        assert!(!r.answered());
        assert!(r.up());
        assert!(r.failed("no such file"));
        assert_eq!(r.lost(), 2);
    }
}
