//! The EAP server, sans-IO: EAP-AKA (RFC 4187) and EAP-AKA' (RFC 9048).
//!
//! [`EapServer::begin`] takes the EAP packet of one Access-Request, the
//! RADIUS State it carried, `now` and a [`Random`] source, and returns a
//! [`Step`]: the [`Outcome`] to answer now, or [`Deferred`] work that needs
//! the subscriber store (a vector, a resynchronisation, an IMSI-privacy
//! decryption). The shell runs [`EapServer::perform`] for it — on a store
//! worker, blocking, no lock held — and [`EapServer::resume`] makes the
//! answer from the result, again without waiting. [`EapServer::step`] does
//! all of it on the calling thread.
//!
//! One session per authentication, found by its State (16 random bytes), in
//! a sharded table ([`sessions`]): a step takes its session out, works with
//! no shared lock held and puts it back. The method's phases are types in
//! [`aka`]; why an authentication fails is a [`Reject`].
//!
//! With [`EapServer::set_privacy`] (the `[privacy]` table) it also issues
//! pseudonyms and fast re-authentication identities in the Challenge,
//! resolves them statelessly ([`crate::privacy`]), runs fast
//! re-authentication, protected result indication and decrypts
//! IMSI-privacy identities.

mod aka;
mod random;
mod reject;
mod sessions;
mod sim;
mod store;

pub use random::{OsRandom, Random};
pub use reject::{AuthResult, Discard, Reject, Round, Success};
pub use sessions::SHARDS;

use crate::config::{EapConfig, MethodName};
use crate::hss::Hss;
use crate::privacy::PrivacyServer;
use aka::Next;
use eap::aka::keys::Method;
use eap::identity::{IdentityKind, Nai};
use eap::packet::{Packet, TypeData, packet_length, types};
use eap::secret::Msk;
use sessions::{Common, Session, Sessions, Take};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The RADIUS State value that names a session (RFC 2865 §5.24).
pub type StateId = [u8; 16];

/// What a finished authentication looked like, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The identity with the MSIN masked.
    pub identity: String,
    /// The method that ran (None when it never got that far).
    pub method: Option<Method>,
    /// Success, or why it failed.
    pub result: AuthResult,
    /// RADIUS round trips of this authentication (Access-Requests received).
    pub round_trips: u32,
    /// From the first Access-Request to now.
    pub duration: Duration,
    /// EAP-SIM (RFC 4186) ran, not `method`.
    pub eap_sim: bool,
}

impl Report {
    /// The method's name for logs and counters ("sim", "aka", "aka-prime").
    pub fn method_name(&self) -> Option<&'static str> {
        if self.eap_sim {
            return Some("sim");
        }
        self.method.map(|m| m.name())
    }
}

/// What to answer.
#[derive(Debug)]
pub enum Outcome {
    /// Access-Challenge carrying `eap` and State `state`.
    Challenge {
        /// The EAP-Request.
        eap: Vec<u8>,
        /// The session's State.
        state: StateId,
    },
    /// Access-Challenge carrying `eap` without State (EAP-Request/Identity
    /// answering an EAP-Start, RFC 3579 §2.1).
    Request {
        /// The EAP-Request.
        eap: Vec<u8>,
    },
    /// Access-Accept carrying EAP-Success and the MSK.
    Accept {
        /// EAP-Success.
        eap: Vec<u8>,
        /// The MSK for the MS-MPPE keys.
        msk: Msk,
        /// User-Name for the Access-Accept (the identity the keys were derived from).
        user_name: String,
        /// The subscriber's reply attributes (group's under its own), if any.
        reply: Option<Box<crate::authz::ReplyAttributes>>,
        /// For the log.
        report: Report,
        /// The subscriber (for Chargeable-User-Identity, RFC 4372).
        imsi: Option<crate::hss::Imsi>,
    },
    /// Access-Reject carrying EAP-Failure.
    Reject {
        /// EAP-Failure.
        eap: Vec<u8>,
        /// For the log (None when no session was involved).
        report: Option<Report>,
    },
    /// No answer at all (RFC 3748 §4.1: a response that does not match the
    /// outstanding request is silently discarded).
    Discard(Discard),
}

/// What [`EapServer::begin`] and [`EapServer::resume`] give.
#[allow(
    clippy::large_enum_variant,
    reason = "returned by value and matched at once, never stored: boxing the \
              Outcome would cost every step an allocation, the deferred one \
              is already boxed"
)]
#[derive(Debug)]
pub enum Step {
    /// Answer now.
    Done(Outcome),
    /// Run [`EapServer::perform`] (it may block), then [`EapServer::resume`].
    Deferred(Deferred),
}

/// A step waiting for the subscriber store. Its session is out of the
/// table, marked busy: a retransmission finds it busy, not gone.
#[derive(Debug)]
pub struct Deferred(Box<DeferredInner>);

/// What a [`Deferred`] holds (boxed: only a step that waits pays for it).
#[derive(Debug)]
struct DeferredInner {
    sid: StateId,
    /// The session was created by this step (not yet in the table).
    new: bool,
    common: Common,
    work: store::Work,
    /// The session as it was before this step, to put back if the work is
    /// abandoned (the peer's retransmission then finds it unchanged).
    before: Option<Session>,
}

/// [`Deferred`] work done: ready for [`EapServer::resume`].
#[derive(Debug)]
pub struct Performed {
    sid: StateId,
    new: bool,
    common: Common,
    done: store::Done,
}

/// Per-step context: the configuration plus the injected clock and RNG.
pub(crate) struct Cx<'a> {
    server: &'a EapServer,
    privacy: Option<&'a PrivacyServer>,
    now: Instant,
    rng: &'a mut dyn Random,
}

impl Cx<'_> {
    fn enabled(&self, m: Method) -> bool {
        self.server.methods.contains(&m)
    }

    fn network_name(&self) -> &[u8] {
        &self.server.network_name
    }

    fn unix(&self, at: Instant) -> u64 {
        self.server.unix(at)
    }

    fn result_indication(&self) -> bool {
        self.privacy.is_some_and(|p| p.policy.result_indication)
    }

    /// Legacy-Nak (RFC 3748 §5.3.1): the first method of `[eap] methods`
    /// that the peer names in `wanted` and is not the one running —
    /// `Some(None)` for EAP-SIM; `None` when there is none.
    fn nak_pick(&self, c: &Common, wanted: &[u8]) -> Option<Option<Method>> {
        self.server.order.iter().find_map(|m| {
            let (t, pick) = match m {
                MethodName::Sim => (eap::sim::message::EAP_TYPE_SIM, None),
                MethodName::Aka => (types::AKA, Some(Method::Aka)),
                MethodName::AkaPrime => (types::AKA_PRIME, Some(Method::AkaPrime)),
            };
            let running = match pick {
                None => c.sim,
                Some(m) => !c.sim && c.method == m,
            };
            (wanted.contains(&t) && !running).then_some(pick)
        })
    }
}

/// The EAP server: sessions plus the HSS.
pub struct EapServer {
    hss: Arc<dyn Hss>,
    methods: Vec<Method>,
    /// EAP-SIM is enabled.
    sim: bool,
    /// EAP-SIM comes first in `[eap] methods`.
    sim_first: bool,
    /// `[eap] methods` as configured (the order of preference).
    order: Vec<MethodName>,
    network_name: Vec<u8>,
    sessions: Sessions,
    /// Swapped whole on SIGHUP ([`EapServer::replace_privacy`]); each step
    /// reads it once, without a lock.
    privacy: arc_swap::ArcSwapOption<PrivacyServer>,
    /// `now` as unix seconds: an instant and its unix time (for identity expiry).
    clock: (Instant, u64),
}

fn to_method(m: MethodName) -> Option<Method> {
    match m {
        MethodName::Aka => Some(Method::Aka),
        MethodName::AkaPrime => Some(Method::AkaPrime),
        MethodName::Sim => None,
    }
}

fn failure(id: u8) -> Vec<u8> {
    vec![4, id, 0, 4]
}

fn success(id: u8) -> Vec<u8> {
    vec![3, id, 0, 4]
}

fn report(c: &Common, now: Instant, result: AuthResult) -> Report {
    Report {
        identity: c.log_identity(),
        method: Some(c.method),
        result,
        round_trips: c.round_trips,
        duration: now.saturating_duration_since(c.started),
        eap_sim: c.sim,
    }
}

impl EapServer {
    /// A server with the configured methods and limits.
    pub fn new(hss: Arc<dyn Hss>, cfg: &EapConfig) -> Self {
        Self {
            hss,
            methods: cfg.methods.iter().copied().filter_map(to_method).collect(),
            sim: cfg.methods.contains(&MethodName::Sim),
            sim_first: cfg.methods.first() == Some(&MethodName::Sim),
            order: cfg.methods.clone(),
            network_name: cfg.network_name.as_bytes().to_vec(),
            sessions: Sessions::new(cfg.session_timeout, cfg.max_sessions),
            privacy: arc_swap::ArcSwapOption::empty(),
            clock: (
                Instant::now(),
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            ),
        }
    }

    /// Turns on the `[privacy]` features: pseudonyms, fast
    /// re-authentication, result indication, IMSI privacy.
    pub fn set_privacy(&mut self, privacy: Arc<PrivacyServer>) {
        self.privacy.store(Some(privacy));
    }

    /// Replaces the `[privacy]` settings and keys of a running server
    /// (SIGHUP): steps already under way finish with the ones they read;
    /// sessions are kept. Older keys stay usable for as long as the new
    /// key set lists them.
    pub fn replace_privacy(&self, privacy: Arc<PrivacyServer>) {
        self.privacy.store(Some(privacy));
    }

    /// Sets which unix time `at` is (tests; the default is the clock at construction).
    pub fn set_clock(&mut self, at: Instant, unix: u64) {
        self.clock = (at, unix);
    }

    fn unix(&self, now: Instant) -> u64 {
        let (at, unix) = self.clock;
        match now.checked_duration_since(at) {
            Some(d) => unix.saturating_add(d.as_secs()),
            None => unix.saturating_sub(at.duration_since(now).as_secs()),
        }
    }

    /// Sessions currently held (waiting for the peer or for the store).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Drops the sessions older than `session_timeout` in every shard (each
    /// step already does so in the shard it touches).
    pub fn expire(&self, now: Instant) {
        self.sessions.expire(now);
    }

    fn cx<'a>(
        &'a self,
        privacy: &'a Option<Arc<PrivacyServer>>,
        now: Instant,
        rng: &'a mut dyn Random,
    ) -> Cx<'a> {
        Cx {
            server: self,
            privacy: privacy.as_deref(),
            now,
            rng,
        }
    }

    /// Handles the EAP packet of one Access-Request on the calling thread,
    /// store calls included, with the OS RNG.
    pub fn step(&self, state: Option<&[u8]>, eap: &[u8], now: Instant) -> Outcome {
        self.step_with(state, eap, now, &mut OsRandom)
    }

    /// [`step`](Self::step) with the given RNG.
    pub fn step_with(
        &self,
        state: Option<&[u8]>,
        eap: &[u8],
        now: Instant,
        rng: &mut dyn Random,
    ) -> Outcome {
        let mut step = self.begin(state, eap, now, rng);
        loop {
            match step {
                Step::Done(o) => return o,
                Step::Deferred(d) => step = self.resume(self.perform(d), now, rng),
            }
        }
    }

    /// Handles the EAP packet of one Access-Request without waiting.
    pub fn begin(
        &self,
        state: Option<&[u8]>,
        eap: &[u8],
        now: Instant,
        rng: &mut dyn Random,
    ) -> Step {
        if eap.is_empty() && state.is_none() {
            // EAP-Start (RFC 3579 §2.1): ask for the identity; no session yet.
            return Step::Done(Outcome::Request {
                eap: vec![1, 0, 0, 5, types::IDENTITY],
            });
        }
        let Ok(len) = packet_length(eap) else {
            return Step::Done(Outcome::Discard(Discard::HeaderMalformed));
        };
        let raw = &eap[..len];
        let id = raw[1];
        let unknown = Step::Done(Outcome::Reject {
            eap: failure(id),
            report: None,
        });
        let pkt = Packet::decode(raw);
        let Some(state) = state else {
            return match pkt {
                Ok(pkt) => self.start(&pkt, now, rng),
                Err(_) => unknown,
            };
        };
        let Ok(sid) = StateId::try_from(state) else {
            return unknown;
        };
        let session = match self.sessions.take(&sid, now) {
            Take::Missing => return unknown,
            Take::Busy => return Step::Done(Outcome::Discard(Discard::SessionBusy)),
            Take::Taken(s) => s,
        };
        let Ok(pkt) = pkt else {
            self.sessions.remove(&sid);
            let r = report(
                &session.common,
                now,
                AuthResult::Reject(Reject::EapMalformed),
            );
            return Step::Done(Outcome::Reject {
                eap: failure(id),
                report: Some(r),
            });
        };
        let discard = if !matches!(pkt, Packet::Response { .. }) {
            Some(Discard::NotAResponse)
        } else if pkt.identifier() != session.common.last_id {
            Some(Discard::IdentifierMismatch)
        } else {
            None
        };
        if let Some(why) = discard {
            self.sessions.put_back(&sid, session);
            return Step::Done(Outcome::Discard(why));
        }
        // Kept only where the step may go to the store: if that work is
        // abandoned, the session goes back as it was.
        // A copy on the stack (no allocation of its own): it is boxed only
        // when the step does defer.
        let before = may_defer(&session.phase).then(|| session.clone());
        let Session { mut common, phase } = session;
        common.round_trips += 1;
        let privacy = self.privacy.load_full();
        let mut cx = self.cx(&privacy, now, rng);
        let next = match phase {
            aka::Phase::Sim(p) => sim::receive(&mut cx, &mut common, *p, &pkt, raw),
            phase => aka::receive(&mut cx, &mut common, phase, &pkt, raw),
        };
        let next = self.at_once(&mut cx, &mut common, next);
        self.settle(sid, false, common, next, before, now)
    }

    /// A new authentication: only EAP-Response/Identity starts one.
    fn start(&self, pkt: &Packet, now: Instant, rng: &mut dyn Random) -> Step {
        let Packet::Response {
            identifier,
            data: TypeData::Identity(identity),
        } = pkt
        else {
            return Step::Done(Outcome::Reject {
                eap: failure(pkt.identifier()),
                report: None,
            });
        };
        let mut sid = [0u8; 16];
        if rng.fill(&mut sid).is_err() {
            return Step::Done(Outcome::Discard(Discard::Rng));
        }
        let leading = Nai::parse(identity)
            .ok()
            .and_then(|n| n.user().bytes().next())
            .unwrap_or(0);
        let by_identity = IdentityKind::from_leading(leading)
            .method()
            .filter(|m| self.methods.contains(m));
        let method =
            by_identity.unwrap_or(self.methods.first().copied().unwrap_or(Method::AkaPrime));
        let mut common = Common {
            started: now,
            round_trips: 1,
            last_id: *identifier,
            eap_identity: identity.as_slice().into(),
            log_identity: None,
            method,
            sim: false,
            nak_used: false,
            checkcode: None,
            reply: None,
            imsi: None,
        };
        let privacy = self.privacy.load_full();
        let mut cx = self.cx(&privacy, now, rng);
        // EAP-SIM for a SIM identity, or when it is preferred and the
        // identity names no enabled EAP-AKA method.
        let sim = self.sim
            && (sim::is_sim_identity(&cx, identity)
                || (by_identity.is_none() && (self.sim_first || self.methods.is_empty())));
        let next = if sim {
            sim::begin(&mut cx, &mut common)
        } else {
            aka::begin_method(&mut cx, &mut common)
        };
        let next = self.at_once(&mut cx, &mut common, next);
        self.settle(sid, true, common, next, None, now)
    }

    /// Runs deferred work: the store call or the decryption. Blocks; holds
    /// no lock of the server's.
    pub fn perform(&self, d: Deferred) -> Performed {
        let DeferredInner {
            sid,
            new,
            common,
            work,
            before: _,
        } = *d.0;
        let done = store::perform(work, &*self.hss, self.privacy.load().as_deref());
        Performed {
            sid,
            new,
            common,
            done,
        }
    }

    /// Continues a step with the result of its deferred work.
    pub fn resume(&self, p: Performed, now: Instant, rng: &mut dyn Random) -> Step {
        let Performed {
            sid,
            new,
            mut common,
            done,
        } = p;
        let privacy = self.privacy.load_full();
        let mut cx = self.cx(&privacy, now, rng);
        let next = resume_method(&mut cx, &mut common, done);
        let next = self.at_once(&mut cx, &mut common, next);
        self.settle(sid, new, common, next, None, now)
    }

    /// Continues through store work the store can do at once from memory
    /// ([`Hss::try_vector`]); what remains goes to the store workers.
    fn at_once(
        &self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        mut next: Result<Next, Reject>,
    ) -> Result<Next, Reject> {
        loop {
            match next {
                Ok(Next::Store(work)) => match store::try_now(work, &*self.hss, cx.now) {
                    Ok(done) => next = resume_method(cx, c, done),
                    Err(work) => return Ok(Next::Store(work)),
                },
                other => return other,
            }
        }
    }

    /// Gives up deferred work (the store workers are saturated): the
    /// session goes back as it was before the step, so the peer's
    /// retransmission is served normally.
    pub fn abandon(&self, d: Deferred) {
        let d = *d.0;
        if d.new {
            return;
        }
        match d.before {
            Some(s) => {
                self.sessions.put_back(&d.sid, s);
            }
            None => self.sessions.remove(&d.sid),
        }
    }

    /// Turns a step's result into the answer and puts the session where it belongs.
    fn settle(
        &self,
        sid: StateId,
        new: bool,
        mut common: Common,
        next: Result<Next, Reject>,
        before: Option<Session>,
        now: Instant,
    ) -> Step {
        let end = |sessions: &Sessions| {
            if !new {
                sessions.remove(&sid);
            }
        };
        Step::Done(match next {
            Ok(Next::Request(eap, phase)) => {
                let started = common.started;
                let session = Session { common, phase };
                if new {
                    self.sessions.insert(sid, Some(session), started);
                } else if !self.sessions.put_back(&sid, session) {
                    return Step::Done(Outcome::Discard(Discard::SessionGone));
                }
                Outcome::Challenge { eap, state: sid }
            }
            Ok(Next::Store(work)) => {
                return Step::Deferred(Deferred(Box::new(DeferredInner {
                    sid,
                    new,
                    common,
                    work,
                    before,
                })));
            }
            Ok(Next::Success(msk, identity, how, imsi)) => {
                end(&self.sessions);
                // The session ends here: its reply attributes and IMSI move
                // into the answer; the identity becomes User-Name without a
                // copy when it is UTF-8 (as it nearly always is).
                Outcome::Accept {
                    eap: success(common.last_id),
                    reply: common.reply.take(),
                    msk,
                    user_name: String::from_utf8(identity)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
                    report: report(&common, now, AuthResult::Success(how)),
                    imsi: imsi.or_else(|| common.imsi.take().map(|i| *i)),
                }
            }
            Err(why) => {
                end(&self.sessions);
                Outcome::Reject {
                    eap: failure(common.last_id),
                    report: Some(report(&common, now, AuthResult::Reject(why))),
                }
            }
        })
    }
}

/// Whether answering a response in `phase` may need the store: an identity
/// (vector, decryption), a re-authentication (the subscriber check, or a
/// counter too small), a Challenge response (the subscriber check, a
/// Synchronization-Failure, a Legacy-Nak restarting the method).
fn may_defer(phase: &aka::Phase) -> bool {
    match phase {
        aka::Phase::Identity(_) | aka::Phase::Reauth(_) => true,
        aka::Phase::Notify(_) => false,
        aka::Phase::Sim(_) => true,
        // A Nak, a Synchronization-Failure, or the response's subscriber check.
        aka::Phase::Challenge(_) => true,
    }
}

/// Continues the session's method with what the store answered.
fn resume_method(cx: &mut Cx<'_>, c: &mut Common, done: store::Done) -> Result<Next, Reject> {
    if c.sim {
        sim::resume(cx, c, done)
    } else {
        aka::resume(cx, c, done)
    }
}

#[cfg(test)]
pub(crate) mod tests;
