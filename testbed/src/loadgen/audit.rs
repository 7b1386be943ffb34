//! The SQN audit (`testbed loadgen --sqn-audit FILE`): every AKA-Challenge a
//! simulated USIM receives is recorded with the SEQ its AUTN carries
//! (SQN = (SQN ⊕ AK) ⊕ f5(RAND); the load generator knows K and OPc), the
//! server that issued it, what the card did and how the conversation ended.
//! A SEQ that reaches one subscriber twice was issued twice (TS 33.102
//! Annex C forbids it); [`Report::duplicates`] counts them.
//!
//! With the audit on, the cards are also strict ([`SqnArray::strict`]): any
//! SEQ not above the highest one a card accepted makes it resynchronise, so
//! zero resyncs and zero failures alone already prove that no SEQ was reused
//! or reordered for a subscriber.
//!
//! [`SqnArray::strict`]: supplicant::usim::sim::sqn::SqnArray::strict

use eap::umts::{Amf, Autn, Sqn, SubscriberKeys};
use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};
use supplicant::usim::client::{INS_AUTHENTICATE, P2_AUTH_3G};
use supplicant::usim::sim::{MemoryStore, Simulator};
use supplicant::usim::transport::{CardTransport, TransportError};

/// What the card made of one challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsimVerdict {
    /// SEQ fresh: RES, CK, IK returned.
    Accepted,
    /// SEQ not fresh (or too far ahead): AUTS returned.
    Resync,
    /// MAC-A wrong: the SEQ read from AUTN is meaningless.
    MacFailure,
}

impl UsimVerdict {
    /// As written in the audit file.
    pub fn name(self) -> &'static str {
        match self {
            UsimVerdict::Accepted => "ok",
            UsimVerdict::Resync => "resync",
            UsimVerdict::MacFailure => "mac-failure",
        }
    }
}

/// One AKA-Challenge a card received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// SEQ (the SQN without its IND bits).
    pub seq: u64,
    /// IND.
    pub ind: u8,
    /// Index of the server the conversation ran on.
    pub server: usize,
    /// What the card did.
    pub usim: UsimVerdict,
    /// How the conversation ended: `accept`, a failure key
    /// (`access-reject`, `timeout`, …), `superseded` (the card resynchronised
    /// and a later challenge of the same conversation followed), or `open`
    /// (the run stopped first).
    pub outcome: &'static str,
    /// When the card received it, milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// When the conversation ended, milliseconds since the Unix epoch (0 while open).
    pub end_ms: u64,
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The card transport of the load generator: the supplicant's USIM simulator,
/// and, when auditing, a recorder of the SEQ of every AUTHENTICATE (3G
/// context) that passes through. Without the audit it only forwards.
pub struct AuditedSim {
    sim: Simulator<MemoryStore>,
    /// The card's keys, present only when auditing.
    keys: Option<SubscriberKeys>,
    server: usize,
    /// Challenges so far; those from `open` on belong to the conversation in flight.
    log: Vec<Challenge>,
    open: usize,
}

impl std::fmt::Debug for AuditedSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditedSim")
            .field("auditing", &self.keys.is_some())
            .field("challenges", &self.log.len())
            .finish_non_exhaustive()
    }
}

impl AuditedSim {
    /// Forwards to `sim`; with `keys`, records every challenge and makes
    /// the card strict.
    pub fn new(sim: Simulator<MemoryStore>, keys: Option<SubscriberKeys>) -> Self {
        let sim = if keys.is_some() {
            sim.with_strict_sqn()
        } else {
            sim
        };
        Self {
            sim,
            keys,
            server: 0,
            log: Vec::new(),
            open: 0,
        }
    }

    /// Whether challenges are recorded.
    pub fn auditing(&self) -> bool {
        self.keys.is_some()
    }

    /// A conversation starts on server `server`.
    pub fn begin(&mut self, server: usize) {
        self.server = server;
        self.open = self.log.len();
    }

    /// The conversation ended with `outcome` (see [`Challenge::outcome`]).
    pub fn end(&mut self, outcome: &'static str) {
        if self.open >= self.log.len() {
            return;
        }
        let now = unix_ms();
        let last = self.log.len() - 1;
        for (i, c) in self.log[self.open..].iter_mut().enumerate() {
            c.outcome = if self.open + i == last {
                outcome
            } else {
                "superseded"
            };
            c.end_ms = now;
        }
        self.open = self.log.len();
    }

    /// The challenges recorded.
    pub fn challenges(&self) -> &[Challenge] {
        &self.log
    }

    /// The simulator.
    pub fn simulator(&self) -> &Simulator<MemoryStore> {
        &self.sim
    }

    fn record(&mut self, apdu: &[u8]) {
        let Some(keys) = &self.keys else { return };
        // CLA INS P1 P2 Lc=34 | 16 RAND 16 AUTN (TS 31.102 §7.1.1).
        let [_, INS_AUTHENTICATE, 0, P2_AUTH_3G, 34, 16, rest @ ..] = apdu else {
            return;
        };
        if rest.len() < 33 || rest[16] != 16 {
            return;
        }
        let (Ok(rand), Ok(autn)) = (
            <[u8; 16]>::try_from(&rest[..16]),
            <[u8; 16]>::try_from(&rest[17..33]),
        ) else {
            return;
        };
        let (sqn, usim) = match keys.authenticate(&rand, &Autn(autn)) {
            // Accepted or not is known once the simulator answered (transmit).
            Ok(r) => (r.sqn, UsimVerdict::Resync),
            Err(_) => {
                // AUTN's first 6 bytes are SQN ⊕ AK; a vector for SQN 0 and
                // the same RAND carries AK itself there.
                let ak = keys.generate_vector(Sqn::from_seq_ind(0, 0), Amf([0; 2]), rand);
                let mut b = [0u8; 6];
                for (o, (x, y)) in b.iter_mut().zip(autn.iter().zip(ak.autn.0.iter())) {
                    *o = x ^ y;
                }
                (Sqn::from_bytes(b), UsimVerdict::MacFailure)
            }
        };
        self.log.push(Challenge {
            seq: sqn.seq(),
            ind: sqn.ind(),
            server: self.server,
            usim,
            outcome: "open",
            at_ms: unix_ms(),
            end_ms: 0,
        });
    }
}

impl CardTransport for AuditedSim {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.keys.is_none() {
            return Ok(self.sim.process(apdu));
        }
        let n = self.log.len();
        let before = self.sim.state().sqn.seq_ms();
        self.record(apdu);
        let out = self.sim.process(apdu);
        if self.log.len() > n
            && let Some(c) = self.log.last_mut()
            && c.usim == UsimVerdict::Resync
            && self.sim.state().sqn.seq_ms() != before
        {
            c.usim = UsimVerdict::Accepted;
        }
        Ok(out)
    }
}

/// The audit over a run: challenges, and SEQs a subscriber received twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Challenges recorded.
    pub challenges: u64,
    /// Subscribers that received at least one.
    pub subscribers: u64,
    /// (subscriber, SEQ) pairs received more than once.
    pub duplicates: u64,
    /// Challenges the cards answered with AUTS.
    pub resyncs: u64,
    /// Challenges per server, in the order the servers were given.
    pub per_server: Vec<u64>,
}

/// Counts `log`: each item is one subscriber's IMSI and its challenges in order.
pub fn report<'a>(
    servers: usize,
    log: impl IntoIterator<Item = (&'a str, &'a [Challenge])>,
) -> Report {
    let mut r = Report {
        per_server: vec![0; servers],
        ..Report::default()
    };
    for (_, cs) in log {
        if cs.is_empty() {
            continue;
        }
        r.subscribers += 1;
        let mut seen = HashSet::with_capacity(cs.len());
        let mut twice = BTreeMap::new();
        for c in cs {
            r.challenges += 1;
            if c.usim == UsimVerdict::Resync {
                r.resyncs += 1;
            }
            if let Some(n) = r.per_server.get_mut(c.server) {
                *n += 1;
            }
            if c.usim != UsimVerdict::MacFailure && !seen.insert(c.seq) {
                *twice.entry(c.seq).or_insert(0u64) += 1;
            }
        }
        r.duplicates += twice.len() as u64;
    }
    r
}

/// Writes the audit file: a header, then one line per challenge,
/// `imsi seq ind server usim outcome at_ms end_ms` separated by tabs.
pub fn write<'a>(
    path: &Path,
    servers: &[String],
    log: impl IntoIterator<Item = (&'a str, &'a [Challenge])>,
) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "# imsi\tseq\tind\tserver\tusim\toutcome\tat_ms\tend_ms")?;
    for (imsi, cs) in log {
        for c in cs {
            let server = servers.get(c.server).map_or("?", String::as_str);
            writeln!(
                f,
                "{imsi}\t{}\t{}\t{server}\t{}\t{}\t{}\t{}",
                c.seq,
                c.ind,
                c.usim.name(),
                c.outcome,
                c.at_ms,
                c.end_ms
            )?;
        }
    }
    f.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loadgen::subscribers::{Card, keys};
    use eap::aka::keys::Method;
    use supplicant::peer::Methods;
    use supplicant::usim::AuthResult;

    fn challenge(card: &mut Card, seq: u64, ind: u8) -> AuthResult {
        let av = keys(3, card.index).generate_vector(
            Sqn::from_seq_ind(seq, ind),
            Amf([0x80, 0]),
            [seq as u8; 16],
        );
        card.usim.authenticate(&av.rand, &av.autn).unwrap()
    }

    #[test]
    fn records_each_challenge_and_resyncs_on_any_seq_not_above_seq_ms() {
        let mut c = Card::with_audit(3, 7, 0, Methods::only(Method::Aka), true).unwrap();
        c.begin(2);
        assert!(matches!(
            challenge(&mut c, 5, 5),
            AuthResult::Success { .. }
        ));
        c.end("accept");
        c.begin(0);
        // Annex C.2 alone would accept SEQ 5 in IND slot 6 (it holds 0).
        assert!(matches!(
            challenge(&mut c, 5, 6),
            AuthResult::SyncFailure { .. }
        ));
        assert!(matches!(
            challenge(&mut c, 6, 6),
            AuthResult::Success { .. }
        ));
        c.end("accept");
        c.begin(1);
        let bad = Autn([0; 16]);
        assert!(matches!(
            c.usim.authenticate(&[1; 16], &bad).unwrap(),
            AuthResult::MacFailure
        ));
        c.end("access-reject");
        let log = c.challenges().to_vec();
        let got: Vec<_> = log
            .iter()
            .map(|x| (x.seq, x.server, x.usim, x.outcome))
            .collect();
        assert_eq!(
            got[..3],
            [
                (5, 2, UsimVerdict::Accepted, "accept"),
                (5, 0, UsimVerdict::Resync, "superseded"),
                (6, 0, UsimVerdict::Accepted, "accept"),
            ]
        );
        assert_eq!(log[3].usim, UsimVerdict::MacFailure);
        assert!(log.iter().all(|x| x.end_ms >= x.at_ms && x.at_ms > 0));
        let imsi = crate::loadgen::subscribers::imsi(7);
        let r = report(3, [(imsi.as_str(), log.as_slice())]);
        assert_eq!(r.challenges, 4);
        assert_eq!(r.subscribers, 1);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.resyncs, 1);
        assert_eq!(r.per_server, [2, 1, 1]);

        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("audit.tsv");
        let names = ["a:1".to_string(), "b:2".into(), "c:3".into()];
        write(&f, &names, [(imsi.as_str(), log.as_slice())]).unwrap();
        let text = std::fs::read_to_string(&f).unwrap();
        let second = text.lines().nth(2).unwrap();
        assert!(
            second.starts_with(&format!("{imsi}\t5\t6\ta:1\tresync\tsuperseded\t")),
            "{second}"
        );
        assert_eq!(text.lines().count(), 5);
    }

    #[test]
    fn without_the_audit_the_card_is_annex_c_and_records_nothing() {
        let mut c = Card::new(3, 8, 0, Methods::only(Method::Aka)).unwrap();
        c.begin(1);
        assert!(matches!(
            challenge(&mut c, 5, 5),
            AuthResult::Success { .. }
        ));
        assert!(matches!(
            challenge(&mut c, 4, 6),
            AuthResult::Success { .. }
        ));
        c.end("accept");
        assert!(c.challenges().is_empty());
        assert!(!c.usim.transport_mut().auditing());
    }
}
