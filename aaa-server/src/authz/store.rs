//! What the disconnect watcher ([`super::watch`]) reads from a store: the
//! active sessions and each subscriber's state and authorization. Both the
//! SQLite and the PostgreSQL store implement it (the PostgreSQL side is in
//! `hss::postgres::authz` and `hss::postgres::das_claim`).

use super::das::DasKind;
use super::sessions::ActiveSession;
use super::watch::SubscriberState;
use crate::hss::{Hss, HssError, Imsi, SqliteStore};

/// A store the disconnect watcher can scan.
pub trait WatchStore: Hss + Send + Sync {
    /// Active sessions, of `imsi` only when given.
    fn sessions(&self, imsi: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError>;
    /// Removed, barred, or a fingerprint of its keys.
    fn subscriber_state(&self, imsi: &Imsi) -> Result<SubscriberState, HssError>;
    /// Closes the sessions with no accounting for `idle` before `now`
    /// (Unix seconds); how many.
    fn close_idle_sessions(&self, idle: std::time::Duration, now: i64) -> Result<usize, HssError>;
    /// Takes the right to send `kind` to the session (`client`,
    /// `session_id`) for the change fingerprinted by `digest` (empty for a
    /// Disconnect): true when this node is to send it, false when another
    /// node sharing the store already claimed it. A single-node store
    /// (SQLite) always grants it.
    fn claim(
        &self,
        client: &str,
        session_id: &str,
        kind: DasKind,
        digest: &[u8],
    ) -> Result<bool, HssError>;
    /// Forgets the claims older than `keep` of sessions that have ended; how many.
    fn expire_claims(&self, keep: std::time::Duration) -> Result<usize, HssError>;
}

impl WatchStore for SqliteStore {
    fn sessions(&self, imsi: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError> {
        SqliteStore::sessions(self, imsi)
    }
    fn subscriber_state(&self, imsi: &Imsi) -> Result<SubscriberState, HssError> {
        SqliteStore::subscriber_state(self, imsi)
    }
    fn close_idle_sessions(&self, idle: std::time::Duration, now: i64) -> Result<usize, HssError> {
        SqliteStore::close_idle_sessions(self, idle, now)
    }
    /// One node: nothing to share, the watcher's memory decides alone.
    fn claim(&self, _: &str, _: &str, _: DasKind, _: &[u8]) -> Result<bool, HssError> {
        Ok(true)
    }
    fn expire_claims(&self, _: std::time::Duration) -> Result<usize, HssError> {
        Ok(0)
    }
}
