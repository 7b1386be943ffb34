//! What the disconnect watcher ([`super::watch`]) reads from a store: the
//! active sessions and each subscriber's state and authorization. Both the
//! SQLite and the PostgreSQL store implement it (the PostgreSQL side is in
//! `hss::postgres::authz`).

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
}
