//! Durable SQN range reservation (sans-IO part).
//!
//! Committing one SQLite transaction per vector costs one fsync per
//! authentication. Instead the store persists a *high-water mark* ahead of
//! use: one committed transaction moves a subscriber's stored SQN from `old`
//! to [`advance`]`(old, n)`, and the SQNs in between are then handed out from
//! memory ([`Range::take`]). The store never issues an SQN above the mark it
//! has committed, so after a crash (even `kill -9` mid-commit) the next
//! process reserves above the stored mark and no SQN is issued twice.
//!
//! The price is a gap: a crash or restart skips at most the unused part of
//! one reservation ([`RESERVATION_SEQS`] SEQ values) per subscriber. The USIM
//! accepts any SEQ above its highest accepted SEQ_MS up to Δ (3GPP TS 33.102
//! Annex C.2.1; Annex C.3.2 recommends Δ = 2^28), so a gap of 2^10 is harmless:
//! it takes 2^18 consecutive restarts without a single authentication of that
//! subscriber before a vector could fall outside Δ (the USIM then resyncs).
//! SEQ and IND keep advancing together exactly as [`super::next_sqn`] does
//! (Annex C.1.1–C.1.2, non-time-based SEQ, IND cycling through 2^5 slots).

use eap::umts::Sqn;

/// SEQ values reserved per subscriber in one committed transaction (2^10).
pub const RESERVATION_SEQS: u64 = 1 << 10;

/// A background refill is asked for when fewer than this many remain.
pub const REFILL_BELOW: u64 = RESERVATION_SEQS / 2;

/// `n` steps of [`super::next_sqn`]: SEQ + n and IND + n (mod 2^5).
pub fn advance(sqn: Sqn, n: u64) -> Sqn {
    Sqn::from_seq_ind(sqn.seq() + n, (u64::from(sqn.ind()) + n) as u8)
}

/// The later of two SQNs by SEQ (the IND of the later one).
pub fn later(a: Sqn, b: Sqn) -> Sqn {
    if b.seq() > a.seq() { b } else { a }
}

/// SQNs this process may still issue for one subscriber: `(last, limit]` by
/// SEQ, where `limit` has been committed to the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The last SQN issued (or the stored mark the reservation started from).
    pub last: Sqn,
    /// The committed high-water mark: nothing above it is ever issued.
    pub limit: Sqn,
}

impl Range {
    /// The range committed by moving the stored SQN from `stored` to `committed`.
    pub fn reserved(stored: Sqn, committed: Sqn) -> Self {
        Self {
            last: stored,
            limit: committed,
        }
    }

    /// SEQ values left.
    pub fn remaining(&self) -> u64 {
        self.limit.seq().saturating_sub(self.last.seq())
    }

    /// The next SQN (SEQ + 1, IND + 1), or `None` when the range is used up.
    pub fn take(&mut self) -> Option<Sqn> {
        if self.remaining() == 0 {
            return None;
        }
        self.last = super::next_sqn(self.last);
        Some(self.last)
    }

    /// After a commit moved the stored SQN from `stored` to `committed`: the
    /// range grows when it ended exactly at `stored` (nobody else reserved in
    /// between); otherwise it is replaced by `(stored, committed]` — the gap
    /// was reserved by another process sharing the store.
    pub fn extend(&mut self, stored: Sqn, committed: Sqn) {
        if self.limit == stored && self.last.seq() <= stored.seq() {
            self.limit = committed;
        } else {
            *self = Self::reserved(stored, committed);
        }
    }

    /// Resynchronisation to the USIM's SQN_MS (TS 33.102 §6.3.5): when
    /// SQN_MS lies inside this range the range continues after it (never
    /// going back) and returns true; otherwise false and the caller commits
    /// a fresh range above `later(SQN_MS, stored mark)`.
    pub fn resync_within(&mut self, sqn_ms: Sqn) -> bool {
        if sqn_ms.seq() > self.limit.seq() {
            return false;
        }
        self.last = later(self.last, sqn_ms);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::super::next_sqn;
    use super::*;

    #[test]
    fn advance_is_n_steps_of_next_sqn() {
        for start in [
            Sqn::default(),
            Sqn::from_seq_ind(5, 31),
            Sqn::from_seq_ind(123, 7),
        ] {
            let mut s = start;
            for n in 0..70 {
                assert_eq!(advance(start, n), s, "{start:?} + {n}");
                s = next_sqn(s);
            }
        }
    }

    #[test]
    fn a_range_hands_out_exactly_the_committed_values_in_order() {
        let stored = Sqn::from_seq_ind(10, 30);
        let mut r = Range::reserved(stored, advance(stored, 4));
        let got: Vec<Sqn> = std::iter::from_fn(|| r.take()).collect();
        assert_eq!(
            got,
            vec![
                Sqn::from_seq_ind(11, 31),
                Sqn::from_seq_ind(12, 0),
                Sqn::from_seq_ind(13, 1),
                Sqn::from_seq_ind(14, 2),
            ]
        );
        assert_eq!(r.remaining(), 0);
        assert_eq!(r.take(), None, "never above the committed mark");
    }

    #[test]
    fn extend_continues_or_jumps_over_foreign_reservations() {
        let s0 = Sqn::from_seq_ind(0, 0);
        let mut r = Range::reserved(s0, advance(s0, 2));
        r.take();
        // Contiguous: the next commit started at our limit.
        r.extend(advance(s0, 2), advance(s0, 6));
        assert_eq!(r.remaining(), 5);
        assert_eq!(r.take(), Some(advance(s0, 2)));
        // Someone else reserved (6, 9]: we must not issue 7..=9.
        r.extend(advance(s0, 9), advance(s0, 12));
        assert_eq!(r.take(), Some(advance(s0, 10)));
    }

    #[test]
    fn resync_never_goes_back_and_leaves_the_range_above_sqn_ms() {
        let s0 = Sqn::from_seq_ind(100, 4);
        let mut r = Range::reserved(s0, advance(s0, 100));
        for _ in 0..10 {
            r.take();
        }
        // SQN_MS inside the range: continue after it.
        let ms = Sqn::from_seq_ind(150, 9);
        assert!(r.resync_within(ms));
        assert_eq!(r.take(), Some(Sqn::from_seq_ind(151, 10)));
        // SQN_MS below what we issued: keep going forward.
        assert!(r.resync_within(Sqn::from_seq_ind(120, 0)));
        assert_eq!(r.take().unwrap().seq(), 152);
        // SQN_MS above the committed mark: the caller must commit a new range.
        assert!(!r.resync_within(Sqn::from_seq_ind(201, 0)));
        assert_eq!(r.last.seq(), 152);
    }

    #[test]
    fn later_compares_seq() {
        assert_eq!(
            later(Sqn::from_seq_ind(3, 31), Sqn::from_seq_ind(4, 0)),
            Sqn::from_seq_ind(4, 0)
        );
        assert_eq!(
            later(Sqn::from_seq_ind(4, 1), Sqn::from_seq_ind(4, 0)),
            Sqn::from_seq_ind(4, 1)
        );
    }
}
