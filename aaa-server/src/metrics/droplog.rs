//! The `warn` line for a dropped request, rate-limited per (client address,
//! reason), sans-IO: [`DropLog::note`] takes `now` and says whether to log
//! and how many lines were suppressed since the last one. [`log_dropped`] is
//! the shell: one process-wide limiter behind a mutex that only dropped
//! datagrams take (answered requests never do).

use crate::radius::DropReason;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line per (client, reason) in this time.
pub const WINDOW: Duration = Duration::from_secs(10);

/// Most (client, reason) pairs remembered: source addresses of unknown
/// clients are chosen by whoever sends, so the table is bounded.
pub const MAX_KEYS: usize = 4096;

/// What to do with one drop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Log it, saying that `suppressed` earlier drops were not logged.
    Log {
        /// Drops of this pair (or, when the table was full, of any pair) not logged since the last line.
        suppressed: u64,
    },
    /// Count it; the next logged line reports it.
    Suppress,
}

#[derive(Debug)]
struct Entry {
    logged_at: Instant,
    suppressed: u64,
}

/// The rate limiter.
#[derive(Debug)]
pub struct DropLog {
    window: Duration,
    max_keys: usize,
    entries: HashMap<(IpAddr, DropReason), Entry>,
    /// Drops suppressed because the table was full, reported on the next line.
    overflow: u64,
}

impl Default for DropLog {
    fn default() -> Self {
        Self::new(WINDOW, MAX_KEYS)
    }
}

impl DropLog {
    /// One line per pair per `window`, at most `max_keys` pairs.
    pub fn new(window: Duration, max_keys: usize) -> Self {
        DropLog {
            window,
            max_keys: max_keys.max(1),
            entries: HashMap::new(),
            overflow: 0,
        }
    }

    /// A drop of a request from `from` for `reason` at `now`.
    pub fn note(&mut self, from: IpAddr, reason: DropReason, now: Instant) -> Verdict {
        let window = self.window;
        if let Some(e) = self.entries.get_mut(&(from, reason)) {
            if now.saturating_duration_since(e.logged_at) < window {
                e.suppressed += 1;
                return Verdict::Suppress;
            }
            let suppressed = std::mem::take(&mut e.suppressed) + std::mem::take(&mut self.overflow);
            e.logged_at = now;
            return Verdict::Log { suppressed };
        }
        if self.entries.len() >= self.max_keys {
            // Pairs whose window is over and that have nothing to report go.
            self.entries.retain(|_, e| {
                now.saturating_duration_since(e.logged_at) < window || e.suppressed > 0
            });
            if self.entries.len() >= self.max_keys {
                self.overflow += 1;
                return Verdict::Suppress;
            }
        }
        self.entries.insert(
            (from, reason),
            Entry {
                logged_at: now,
                suppressed: 0,
            },
        );
        Verdict::Log {
            suppressed: std::mem::take(&mut self.overflow),
        }
    }
}

/// The likely cause of a drop, for the operator.
pub fn likely_cause(r: DropReason) -> &'static str {
    match r {
        DropReason::UnknownClient => "address not in any [[client]] network?",
        DropReason::Malformed => "not RADIUS, or truncated?",
        DropReason::MissingMessageAuthenticator => {
            "NAS does not send Message-Authenticator (RFC 3579, BlastRADIUS)?"
        }
        DropReason::BadAuthenticator => "wrong shared secret?",
        DropReason::UnexpectedCode => "packet sent to the wrong port?",
        DropReason::EapDiscarded => "EAP packet out of sequence (stale retransmission?)",
        DropReason::AccountingNotRecorded => {
            "subscriber store failing, or (proxied realm) no home server answered? the NAS will retry"
        }
        DropReason::EncodeFailed => "response too large to encode?",
        DropReason::StoreBusy => "store workers saturated: [hss] workers or the store too slow?",
    }
}

/// What the line calls the drop.
fn what(r: DropReason) -> &'static str {
    match r {
        DropReason::UnknownClient => "request from unknown client",
        DropReason::Malformed => "malformed packet",
        DropReason::MissingMessageAuthenticator => "request without Message-Authenticator",
        DropReason::BadAuthenticator => "bad Message-Authenticator or Request Authenticator",
        DropReason::UnexpectedCode => "unexpected RADIUS code",
        DropReason::EapDiscarded => "EAP packet discarded",
        DropReason::AccountingNotRecorded => "accounting request not recorded",
        DropReason::EncodeFailed => "response not encoded",
        DropReason::StoreBusy => "request dropped, store workers busy",
    }
}

static LIMITER: Mutex<Option<DropLog>> = Mutex::new(None);

/// Logs a dropped datagram from `from` (of the `[[client]]` named `client`,
/// if any) at `warn`, rate-limited.
pub fn log_dropped(client: Option<&str>, from: SocketAddr, reason: DropReason) {
    let verdict = {
        let mut g = LIMITER.lock().unwrap_or_else(|e| e.into_inner());
        g.get_or_insert_with(DropLog::default)
            .note(from.ip(), reason, Instant::now())
    };
    match verdict {
        Verdict::Suppress => {}
        Verdict::Log { suppressed: 0 } => tracing::warn!(
            client = client.unwrap_or(crate::metrics::UNKNOWN_CLIENT),
            from = %from,
            reason = reason.as_str(),
            "dropped: {} from {}: {}",
            what(reason),
            from.ip(),
            likely_cause(reason)
        ),
        Verdict::Log { suppressed } => tracing::warn!(
            client = client.unwrap_or(crate::metrics::UNKNOWN_CLIENT),
            from = %from,
            reason = reason.as_str(),
            suppressed,
            "dropped: {} from {}: {} ({suppressed} more not logged since the last line)",
            what(reason),
            from.ip(),
            likely_cause(reason)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn one_line_per_pair_per_window_then_the_suppressed_count() {
        let t0 = Instant::now();
        let mut d = DropLog::new(Duration::from_secs(10), 16);
        let a = ip("10.0.0.5");
        let bad = DropReason::BadAuthenticator;
        assert_eq!(d.note(a, bad, t0), Verdict::Log { suppressed: 0 });
        for i in 1..=5 {
            assert_eq!(
                d.note(a, bad, t0 + Duration::from_secs(i)),
                Verdict::Suppress
            );
        }
        // Another reason or another client has its own budget.
        assert_eq!(
            d.note(a, DropReason::Malformed, t0 + Duration::from_secs(1)),
            Verdict::Log { suppressed: 0 }
        );
        assert_eq!(
            d.note(ip("10.0.0.6"), bad, t0 + Duration::from_secs(1)),
            Verdict::Log { suppressed: 0 }
        );
        assert_eq!(
            d.note(a, bad, t0 + Duration::from_secs(10)),
            Verdict::Log { suppressed: 5 }
        );
        assert_eq!(
            d.note(a, bad, t0 + Duration::from_secs(11)),
            Verdict::Suppress
        );
        assert_eq!(
            d.note(a, bad, t0 + Duration::from_secs(30)),
            Verdict::Log { suppressed: 1 }
        );
    }

    #[test]
    fn the_table_is_bounded_and_overflow_is_reported() {
        let t0 = Instant::now();
        let mut d = DropLog::new(Duration::from_secs(10), 2);
        let u = DropReason::UnknownClient;
        assert!(matches!(
            d.note(ip("192.0.2.1"), u, t0),
            Verdict::Log { .. }
        ));
        assert!(matches!(
            d.note(ip("192.0.2.2"), u, t0),
            Verdict::Log { .. }
        ));
        // Full, nothing expired: spoofed sources cannot grow the table.
        assert_eq!(d.note(ip("192.0.2.3"), u, t0), Verdict::Suppress);
        assert_eq!(d.note(ip("192.0.2.4"), u, t0), Verdict::Suppress);
        assert_eq!(d.entries.len(), 2);
        // Once the window is over, old pairs make room; the overflow is reported.
        assert_eq!(
            d.note(ip("192.0.2.5"), u, t0 + Duration::from_secs(10)),
            Verdict::Log { suppressed: 2 }
        );
    }

    #[test]
    fn every_reason_names_a_cause() {
        for r in [
            DropReason::UnknownClient,
            DropReason::Malformed,
            DropReason::MissingMessageAuthenticator,
            DropReason::BadAuthenticator,
            DropReason::UnexpectedCode,
            DropReason::EapDiscarded,
            DropReason::AccountingNotRecorded,
            DropReason::EncodeFailed,
            DropReason::StoreBusy,
        ] {
            assert!(!likely_cause(r).is_empty());
            assert!(!what(r).is_empty());
        }
    }
}
