//! SQN freshness on the USIM: the array scheme of 3GPP TS 33.102 Annex C.2
//! (one SEQ per IND, a limit Δ on jumps, an optional age limit L).

use eap::umts::Sqn;

/// Number of array entries: 2^IND_BITS (TS 33.102 Annex C.3.4 recommends a = 32).
pub const ENTRIES: usize = 1 << Sqn::IND_BITS;
/// Default Δ, the largest accepted jump of SEQ above SEQ_MS (Annex C.2.2; 2^28
/// as in C.3.2's example).
pub const DEFAULT_DELTA: u64 = 1 << 28;

/// What the USIM decides about a received SQN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Fresh: the entry for IND is to be updated to SEQ.
    Accept,
    /// SEQ ≤ SEQ_MS(IND): replayed or out of order (Annex C.2.2).
    Stale,
    /// SEQ − SEQ_MS > Δ: a jump that would bring SQN near wrap-around (C.2.2).
    TooFarAhead,
    /// SEQ_MS − SEQ ≥ L: too old (optional C.2.2 age limit).
    TooOld,
}

/// The USIM's SQN state: SEQ_MS(i) for every IND i.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqnArray {
    seq: [u64; ENTRIES],
    /// Δ.
    pub delta: u64,
    /// L, the optional age limit.
    pub age_limit: Option<u64>,
    /// Accept only a SEQ above SEQ_MS, whatever its IND (see [`SqnArray::strict`]).
    strict: bool,
}

impl SqnArray {
    /// An array whose every entry is SEQ of `highest` (nothing older is accepted).
    pub fn starting_at(highest: Sqn) -> Self {
        Self {
            seq: [highest.seq(); ENTRIES],
            delta: DEFAULT_DELTA,
            age_limit: None,
            strict: false,
        }
    }

    /// An array from stored entries.
    pub fn from_entries(seq: [u64; ENTRIES]) -> Self {
        Self {
            seq,
            delta: DEFAULT_DELTA,
            age_limit: None,
            strict: false,
        }
    }

    /// This array, strict: any SEQ not above SEQ_MS is [`Freshness::Stale`],
    /// as if the array had one entry (Annex C.1's counter scheme). Annex C.2
    /// accepts an older SEQ in another IND slot; a strict card resynchronises
    /// on every SEQ it may have seen, so an HSS that never reuses a SEQ and
    /// issues each subscriber's SEQs in order sees no AUTS from it.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }

    /// Whether [`SqnArray::strict`] was applied.
    pub fn is_strict(&self) -> bool {
        self.strict
    }

    /// The stored entries.
    pub fn entries(&self) -> &[u64; ENTRIES] {
        &self.seq
    }

    /// SEQ_MS: the highest SEQ accepted so far.
    pub fn seq_ms(&self) -> u64 {
        self.seq.iter().copied().max().unwrap_or(0)
    }

    /// SQN_MS as sent in AUTS: the highest accepted SEQ with the IND of the
    /// entry that holds it (Annex C.2.3 / §6.3.5).
    pub fn sqn_ms(&self) -> Sqn {
        let max = self.seq_ms();
        let ind = self.seq.iter().position(|&s| s == max).unwrap_or(0);
        Sqn::from_seq_ind(max, ind as u8)
    }

    /// Checks `sqn` (Annex C.2.2) without changing the array.
    pub fn check(&self, sqn: Sqn) -> Freshness {
        let seq = sqn.seq();
        let seq_ms = self.seq_ms();
        if seq > seq_ms && seq - seq_ms > self.delta {
            return Freshness::TooFarAhead;
        }
        if seq <= self.seq[usize::from(sqn.ind())] || (self.strict && seq <= seq_ms) {
            return Freshness::Stale;
        }
        if let Some(l) = self.age_limit
            && seq_ms > seq
            && seq_ms - seq >= l
        {
            return Freshness::TooOld;
        }
        Freshness::Accept
    }

    /// Records an accepted `sqn`: SEQ_MS(IND) := SEQ.
    pub fn accept(&mut self, sqn: Sqn) {
        self.seq[usize::from(sqn.ind())] = sqn.seq();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_rejects_every_seq_not_above_seq_ms() {
        let mut a = SqnArray::starting_at(Sqn::from_seq_ind(10, 0)).strict();
        assert!(a.is_strict());
        a.accept(Sqn::from_seq_ind(20, 4));
        // Annex C.2 alone would accept these (their IND slots hold 10).
        assert_eq!(a.check(Sqn::from_seq_ind(15, 3)), Freshness::Stale);
        assert_eq!(a.check(Sqn::from_seq_ind(20, 5)), Freshness::Stale);
        assert_eq!(a.check(Sqn::from_seq_ind(21, 5)), Freshness::Accept);
        let loose = SqnArray::starting_at(Sqn::from_seq_ind(20, 4));
        assert!(!loose.is_strict());
    }

    #[test]
    fn fresh_stale_and_ind_independence() {
        let mut a = SqnArray::starting_at(Sqn::from_seq_ind(10, 0));
        assert_eq!(a.check(Sqn::from_seq_ind(10, 3)), Freshness::Stale);
        assert_eq!(a.check(Sqn::from_seq_ind(11, 3)), Freshness::Accept);
        a.accept(Sqn::from_seq_ind(11, 3));
        assert_eq!(
            a.check(Sqn::from_seq_ind(11, 3)),
            Freshness::Stale,
            "replay"
        );
        // A vector generated earlier for another IND is still usable (the
        // point of the array: out-of-order use across serving nodes).
        assert_eq!(a.check(Sqn::from_seq_ind(11, 4)), Freshness::Accept);
        a.accept(Sqn::from_seq_ind(15, 4));
        assert_eq!(a.check(Sqn::from_seq_ind(12, 3)), Freshness::Accept);
        assert_eq!(a.sqn_ms(), Sqn::from_seq_ind(15, 4));
    }

    #[test]
    fn delta_limits_jumps() {
        let a = SqnArray::starting_at(Sqn::from_seq_ind(100, 0));
        assert_eq!(
            a.check(Sqn::from_seq_ind(100 + DEFAULT_DELTA, 1)),
            Freshness::Accept
        );
        assert_eq!(
            a.check(Sqn::from_seq_ind(101 + DEFAULT_DELTA, 1)),
            Freshness::TooFarAhead
        );
        // The very top of the SQN space (wrap-around bait) is refused.
        assert_eq!(a.check(Sqn::new(Sqn::MAX).unwrap()), Freshness::TooFarAhead);
    }

    #[test]
    fn age_limit() {
        let mut a = SqnArray::from_entries([0; ENTRIES]);
        a.age_limit = Some(50);
        a.accept(Sqn::from_seq_ind(100, 0));
        assert_eq!(a.check(Sqn::from_seq_ind(51, 1)), Freshness::Accept);
        assert_eq!(a.check(Sqn::from_seq_ind(50, 1)), Freshness::TooOld);
    }
}
