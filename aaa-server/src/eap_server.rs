//! The EAP-AKA (RFC 4187) / EAP-AKA' (RFC 9048) server, sans-IO.
//!
//! [`EapServer::step`] takes the EAP packet of one Access-Request, the RADIUS
//! State it carried and `now`, and returns what to answer. One session per
//! authentication, found by its State (16 bytes from the OS RNG), in one of
//! four phases: [`IdentityPhase`] (an AKA-Identity round is outstanding),
//! [`ChallengePhase`] (an AKA-Challenge), [`ReauthPhase`] (an
//! AKA-Reauthentication) or [`NotifyPhase`] (a protected result Notification). Sessions are bounded
//! by `max_sessions` and expire `session_timeout` after they started.
//!
//! With [`EapServer::set_privacy`] (the `[privacy]` table) it also issues
//! pseudonyms and fast re-authentication identities in the Challenge,
//! resolves them statelessly ([`crate::privacy`]), runs fast
//! re-authentication ([`ReauthPhase`]), protected result indication
//! ([`NotifyPhase`]) and decrypts IMSI-privacy identities.

use crate::config::{EapConfig, MethodName};
use crate::hss::{Hss, HssError, Imsi, VectorKind};
use crate::privacy::{
    PendingReauth, PrivacyServer, ReauthExchange, ReauthFailure, ReauthOutcome, ReauthRandom,
    ReauthStart, Resolution, challenge_attributes, check_notification_response,
    check_reauth_response, issue_after_full_auth, result_notification, start_reauth,
};
use eap::aka::attr::{
    AtAnyIdReq, AtAutn, AtBidding, AtCheckcode, AtFullauthIdReq, AtKdf, AtKdfInput, AtMac,
    AtPermanentIdReq, AtRand, AtResultInd,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{self, Keys, Method};
use eap::aka::mac::NO_EXTRA;
use eap::aka::message::{IdReq, Message, Subtype, verify_packet};
use eap::identity::{IdentityKind, Nai, mask_identity};
use eap::packet::{Packet, TypeData, packet_length, types};
use eap::secret::{KAut, KEncr, Msk};
use eap::umts::{AuthVector, Res};
use std::collections::{HashMap, VecDeque};
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
    /// `success` or why it failed.
    pub result: &'static str,
    /// RADIUS round trips of this authentication (Access-Requests received).
    pub round_trips: u32,
    /// From the first Access-Request to now.
    pub duration: Duration,
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
        /// For the log.
        report: Report,
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
    Discard(&'static str),
}

/// An AKA-Identity round is outstanding (RFC 4187 §4.1.6).
#[derive(Debug)]
pub struct IdentityPhase {
    /// The identity request level sent last.
    level: IdReq,
}

/// An AKA-Challenge is outstanding (RFC 4187 §9.3, RFC 9048 §3).
///
/// Kept small: one is held per authentication in flight. Only what the
/// response needs is stored (K_aut to verify it, the MSK to export); the
/// identity and the user name are stored only when they differ from what
/// the session already holds.
#[derive(Debug)]
pub struct ChallengePhase {
    /// The identity the keys are bound to (the last one the peer sent);
    /// `None`: the session's EAP-Response/Identity identity.
    identity: Option<Box<[u8]>>,
    /// The permanent user name (NAI user part) for the issued identities and
    /// a resynchronisation; `None`: the user part of the bound identity.
    permanent_user: Option<Box<str>>,
    rand: [u8; 16],
    xres: Res,
    k_aut: KAut,
    msk: Msk,
    /// True once a Synchronization-Failure was served (at most once).
    resynced: bool,
    /// The subscriber's HSS version when the vector was issued (checked
    /// with [`Hss::current`] before Access-Accept).
    version: u64,
}

/// Why an authentication whose subscriber was removed or changed while it
/// was in flight ends in Access-Reject.
pub const SUBSCRIBER_CHANGED: &str = "subscriber removed or changed during authentication";

/// The user part of `identity` (up to its last `@`).
fn local_part(identity: &[u8]) -> &[u8] {
    match identity.iter().rposition(|&b| b == b'@') {
        Some(i) => &identity[..i],
        None => identity,
    }
}

/// An AKA-Reauthentication is outstanding (RFC 4187 §5, RFC 9048 §3.5).
#[derive(Debug)]
pub struct ReauthPhase {
    pending: Box<PendingReauth>,
}

/// A protected result Notification is outstanding (RFC 4187 §6.2).
#[derive(Debug)]
pub struct NotifyPhase {
    k_aut: KAut,
    /// After a fast re-authentication: K_encr and the counter to echo.
    reauth: Option<(KEncr, u16)>,
    /// Success: the MSK and User-Name to send after the peer's answer;
    /// failure: why.
    outcome: Result<(Msk, Vec<u8>), &'static str>,
    /// The report result on success.
    result: &'static str,
}

#[derive(Debug)]
enum Phase {
    Identity(IdentityPhase),
    Challenge(Box<ChallengePhase>),
    Reauth(ReauthPhase),
    Notify(Box<NotifyPhase>),
}

/// One authentication in flight (about 100 bytes plus its boxed phase: the
/// server holds one per outstanding Access-Challenge).
#[derive(Debug)]
struct Session {
    started: Instant,
    round_trips: u32,
    /// Identifier of the outstanding EAP-Request.
    last_id: u8,
    method: Method,
    /// The peer already used its Legacy-Nak.
    nak_used: bool,
    /// The identity of EAP-Response/Identity (what a method restart goes back to).
    eap_identity: Box<[u8]>,
    /// The identity to log, MSIN masked; `None`: `eap_identity` masked.
    log_identity: Option<Box<str>>,
    /// AT_CHECKCODE over the AKA-Identity packets of the current method;
    /// `None` while there were none (RFC 4187 §10.13).
    checkcode: Option<Box<CheckcodeHash>>,
    phase: Phase,
}

impl Session {
    fn set_log_identity(&mut self, identity: &[u8]) {
        self.log_identity = Some(mask_identity(identity).into_boxed_str());
    }

    /// Adds an AKA-Identity packet to AT_CHECKCODE.
    fn checkcode_update(&mut self, packet: &[u8]) {
        let method = self.method;
        self.checkcode
            .get_or_insert_with(|| Box::new(CheckcodeHash::new(method)))
            .update(packet);
    }
}

/// The EAP server: sessions plus the HSS.
pub struct EapServer {
    hss: Arc<dyn Hss>,
    methods: Vec<Method>,
    network_name: Vec<u8>,
    session_timeout: Duration,
    max_sessions: usize,
    sessions: HashMap<StateId, Session>,
    order: VecDeque<(Instant, StateId)>,
    privacy: Option<Arc<PrivacyServer>>,
    /// `now` as unix seconds: an instant and its unix time (for identity expiry).
    clock: (Instant, u64),
}

fn to_method(m: MethodName) -> Method {
    match m {
        MethodName::Aka => Method::Aka,
        MethodName::AkaPrime => Method::AkaPrime,
    }
}

fn kind_of(m: Method) -> VectorKind {
    match m {
        Method::Aka => VectorKind::Aka,
        Method::AkaPrime => VectorKind::AkaPrime,
    }
}

fn failure(id: u8) -> Vec<u8> {
    vec![4, id, 0, 4]
}

fn success(id: u8) -> Vec<u8> {
    vec![3, id, 0, 4]
}

/// The IMSI of a permanent identity (leading 0/6, decorated or not).
fn permanent_imsi(identity: &[u8]) -> Option<(Method, Imsi)> {
    let nai = Nai::parse(identity).ok()?;
    let IdentityKind::Permanent(m) = nai.kind() else {
        return None;
    };
    let imsi = nai.imsi().ok()??;
    Some((m, Imsi::parse(imsi.as_str()).ok()?))
}

/// The NAI user part of a permanent identity (what issued identities seal).
fn user_part(identity: &[u8]) -> Option<String> {
    Nai::parse(identity).ok().map(|n| n.user().to_owned())
}

/// The realm of `identity`, if it has one.
fn realm_of(identity: &[u8]) -> Option<String> {
    Nai::parse(identity)
        .ok()
        .and_then(|n| n.home_realm().map(str::to_owned))
        .filter(|r| !r.is_empty())
}

/// The IMSI of a permanent user name.
fn imsi_of_user(user: &str) -> Result<Imsi, Fail> {
    permanent_imsi(user.as_bytes())
        .map(|(_, i)| i)
        .ok_or(Fail("temporary identity names no IMSI"))
}

/// How specific an identity request is (Any < Fullauth < Permanent).
fn rank(l: IdReq) -> u8 {
    match l {
        IdReq::Any => 0,
        IdReq::Fullauth => 1,
        IdReq::Permanent => 2,
    }
}

/// The next identity request: `want`, or one level more specific than
/// `current` when `want` would not narrow it (None: nothing left to ask).
fn escalate(current: Option<IdReq>, want: IdReq) -> Option<IdReq> {
    match current {
        None => Some(want),
        Some(c) if rank(want) > rank(c) => Some(want),
        Some(IdReq::Any) => Some(IdReq::Fullauth),
        Some(IdReq::Fullauth) => Some(IdReq::Permanent),
        Some(IdReq::Permanent) => None,
    }
}

fn reauth_failure(f: ReauthFailure) -> &'static str {
    match f {
        ReauthFailure::Malformed => "re-authentication response malformed",
        ReauthFailure::ClientError => "peer sent Client-Error",
        ReauthFailure::BadMac => "re-authentication AT_MAC does not verify",
        ReauthFailure::BadEncryptedData => "re-authentication AT_ENCR_DATA malformed",
        ReauthFailure::CounterMismatch => "re-authentication AT_COUNTER mismatch",
        ReauthFailure::BadCheckcode => "re-authentication AT_CHECKCODE does not match",
    }
}

fn rand16() -> Result<[u8; 16], Fail> {
    crate::privacy::random::<16>().map_err(|_| Fail("random number generator failed"))
}

/// Why a step ends the authentication.
struct Fail(&'static str);

impl From<HssError> for Fail {
    fn from(e: HssError) -> Self {
        Fail(match e {
            HssError::UnknownSubscriber | HssError::BadImsi => "unknown subscriber",
            HssError::ResyncMacFailure => "AUTS does not verify",
            _ => "HSS error",
        })
    }
}

impl EapServer {
    /// A server with the configured methods and limits.
    pub fn new(hss: Arc<dyn Hss>, cfg: &EapConfig) -> Self {
        Self {
            hss,
            methods: cfg.methods.iter().copied().map(to_method).collect(),
            network_name: cfg.network_name.as_bytes().to_vec(),
            session_timeout: cfg.session_timeout,
            max_sessions: cfg.max_sessions,
            sessions: HashMap::new(),
            order: VecDeque::new(),
            privacy: None,
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
        self.privacy = Some(privacy);
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

    /// Sessions currently held.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    fn enabled(&self, m: Method) -> bool {
        self.methods.contains(&m)
    }

    /// Drops sessions older than `session_timeout`.
    fn expire(&mut self, now: Instant) {
        while let Some(&(started, id)) = self.order.front() {
            if now.saturating_duration_since(started) < self.session_timeout {
                break;
            }
            self.order.pop_front();
            if self.sessions.get(&id).is_some_and(|s| s.started == started) {
                self.sessions.remove(&id);
            }
        }
    }

    /// Makes room for one more session by dropping the oldest.
    fn make_room(&mut self) {
        while self.sessions.len() >= self.max_sessions {
            let Some((started, id)) = self.order.pop_front() else {
                break;
            };
            if self.sessions.get(&id).is_some_and(|s| s.started == started) {
                self.sessions.remove(&id);
            }
        }
    }

    /// Handles the EAP packet of one Access-Request.
    pub fn step(&mut self, state: Option<&[u8]>, eap: &[u8], now: Instant) -> Outcome {
        self.expire(now);
        if eap.is_empty() && state.is_none() {
            // EAP-Start (RFC 3579 §2.1): ask for the identity; no session yet.
            return Outcome::Request {
                eap: vec![1, 0, 0, 5, types::IDENTITY],
            };
        }
        let len = match packet_length(eap) {
            Ok(l) => l,
            Err(_) => return Outcome::Discard("EAP header malformed"),
        };
        let raw = &eap[..len];
        let id = raw[1];
        let session = state
            .and_then(|s| <StateId>::try_from(s).ok())
            .and_then(|s| self.sessions.remove(&s).map(|sess| (s, sess)));
        let pkt = match Packet::decode(raw) {
            Ok(p) => p,
            Err(_) => {
                let report = session.map(|(_, s)| s.report(now, "EAP packet does not parse"));
                return Outcome::Reject {
                    eap: failure(id),
                    report,
                };
            }
        };
        match session {
            None if state.is_some() => Outcome::Reject {
                eap: failure(id),
                report: None,
            },
            None => self.start(&pkt, now),
            Some((sid, mut s)) => {
                if !matches!(pkt, Packet::Response { .. }) {
                    self.sessions.insert(sid, s);
                    return Outcome::Discard("not an EAP-Response");
                }
                if pkt.identifier() != s.last_id {
                    self.sessions.insert(sid, s);
                    return Outcome::Discard("EAP Identifier does not match the request");
                }
                s.round_trips += 1;
                match self.respond(&mut s, &pkt, raw, now) {
                    Ok(Next::Request(eap)) => {
                        self.sessions.insert(sid, s);
                        Outcome::Challenge { eap, state: sid }
                    }
                    Ok(Next::Success(msk, identity, result)) => Outcome::Accept {
                        eap: success(s.last_id),
                        msk,
                        user_name: String::from_utf8_lossy(&identity).into_owned(),
                        report: s.report(now, result),
                    },
                    Err(Fail(why)) => Outcome::Reject {
                        eap: failure(s.last_id),
                        report: Some(s.report(now, why)),
                    },
                }
            }
        }
    }

    /// A new authentication: only EAP-Response/Identity starts one.
    fn start(&mut self, pkt: &Packet, now: Instant) -> Outcome {
        let Packet::Response {
            identifier,
            data: TypeData::Identity(identity),
        } = pkt
        else {
            return Outcome::Reject {
                eap: failure(pkt.identifier()),
                report: None,
            };
        };
        let mut sid = [0u8; 16];
        if crate::hss::rng::fill(&mut sid).is_err() {
            return Outcome::Discard("random number generator failed");
        }
        let method = match IdentityKind::from_leading(
            Nai::parse(identity)
                .ok()
                .and_then(|n| n.user().bytes().next())
                .unwrap_or(0),
        )
        .method()
        {
            Some(m) if self.enabled(m) => m,
            _ => self.methods[0],
        };
        let mut s = Session {
            started: now,
            round_trips: 1,
            last_id: *identifier,
            eap_identity: identity.as_slice().into(),
            log_identity: None,
            method,
            nak_used: false,
            checkcode: None,
            phase: Phase::Identity(IdentityPhase { level: IdReq::Any }),
        };
        match self.begin_method(&mut s, now) {
            Ok(eap) => {
                self.make_room();
                self.order.push_back((now, sid));
                self.sessions.insert(sid, s);
                Outcome::Challenge { eap, state: sid }
            }
            Err(Fail(why)) => Outcome::Reject {
                eap: failure(s.last_id),
                report: Some(s.report(now, why)),
            },
        }
    }

    /// The first request of `s.method` for the EAP-Response/Identity identity:
    /// a Challenge for a permanent NAI, else an AKA-Identity round.
    fn begin_method(&self, s: &mut Session, now: Instant) -> Result<Vec<u8>, Fail> {
        s.checkcode = None;
        let identity = s.eap_identity.to_vec();
        let nai = Nai::parse(&identity).ok();
        if !nai.is_some_and(|n| n.is_decorated())
            && let Some(r) = self.privacy_step(s, &identity, None, now)
        {
            return r;
        }
        if let Some((_, imsi)) =
            permanent_imsi(&identity).filter(|_| !nai.is_some_and(|n| n.is_decorated()))
        {
            let user = user_part(&identity).unwrap_or_default();
            return self.challenge(s, identity, imsi, false, user);
        }
        // RFC 4187 §4.1.6: an unknown re-authentication identity gets
        // AT_FULLAUTH_ID_REQ, an unknown pseudonym or a decorated permanent
        // NAI AT_PERMANENT_ID_REQ, anything else AT_ANY_ID_REQ.
        let level = match nai.map(|n| n.kind()) {
            Some(IdentityKind::FastReauth(_)) => IdReq::Fullauth,
            Some(IdentityKind::Pseudonym(_)) | Some(IdentityKind::Permanent(_)) => IdReq::Permanent,
            _ => IdReq::Any,
        };
        self.identity_request(s, level)
    }

    /// What the privacy features make of a received identity (RFC 4187
    /// §4.1, §5; `current`: the identity request it answers). `None`: handle
    /// it as without privacy (a permanent identity, or something else).
    fn privacy_step(
        &self,
        s: &mut Session,
        identity: &[u8],
        current: Option<IdReq>,
        now: Instant,
    ) -> Option<Result<Vec<u8>, Fail>> {
        let p = self.privacy.as_ref()?;
        let ask = |s: &mut Session, want: IdReq| match escalate(current, want) {
            Some(l) => self.identity_request(s, l),
            None => Err(Fail("peer gave no usable identity")),
        };
        Some(match p.resolve(identity, self.unix(now)) {
            Resolution::Permanent | Resolution::Other => return None,
            Resolution::Pseudonym(r) => {
                s.set_log_identity(r.permanent_user.as_bytes());
                // RFC 4187 §7: the MK identity is the pseudonym as received.
                imsi_of_user(&r.permanent_user).and_then(|imsi| {
                    self.challenge(s, identity.to_vec(), imsi, false, r.permanent_user)
                })
            }
            Resolution::Decrypted(d) => {
                let id = d.identity.as_bytes().to_vec();
                s.set_log_identity(&id);
                match (permanent_imsi(&id), user_part(&id)) {
                    (Some((_, imsi)), Some(user)) => self.challenge(s, id, imsi, false, user),
                    _ => Err(Fail("decrypted identity is not a permanent NAI")),
                }
            }
            Resolution::Reauth(ctx) => {
                s.set_log_identity(ctx.permanent_user().as_bytes());
                if ctx.method() != s.method {
                    return Some(ask(s, IdReq::Fullauth));
                }
                self.reauth(s, p, ctx, identity, current)
            }
            Resolution::AskAgain { id_req, .. } => ask(s, id_req),
            Resolution::Undecryptable(_) => Err(Fail("encrypted identity does not decrypt")),
        })
    }

    /// Starts a fast re-authentication (RFC 4187 §5.1, §9.7).
    fn reauth(
        &self,
        s: &mut Session,
        p: &PrivacyServer,
        ctx: crate::privacy::ReauthContext,
        identity: &[u8],
        current: Option<IdReq>,
    ) -> Result<Vec<u8>, Fail> {
        let random = ReauthRandom {
            nonce_s: rand16()?,
            iv: rand16()?,
            next_id_iv: rand16()?,
        };
        let realm = realm_of(identity).unwrap_or_else(|| p.realm.clone());
        let id = s.last_id.wrapping_add(1);
        let exchange = ReauthExchange {
            identity,
            identifier: id,
            checkcode: s.checkcode.as_deref(),
        };
        match start_reauth(&p.keys, &p.policy, ctx, exchange, &realm, random)
            .map_err(|_| Fail("encoding failed"))?
        {
            ReauthStart::Request { packet, pending } => {
                s.last_id = id;
                s.phase = Phase::Reauth(ReauthPhase { pending });
                Ok(packet)
            }
            ReauthStart::FullAuth { .. } => match escalate(current, IdReq::Fullauth) {
                Some(l) => self.identity_request(s, l),
                None => Err(Fail("peer gave no usable identity")),
            },
        }
    }

    fn next_id(s: &mut Session) -> u8 {
        s.last_id = s.last_id.wrapping_add(1);
        s.last_id
    }

    fn identity_request(&self, s: &mut Session, level: IdReq) -> Result<Vec<u8>, Fail> {
        let msg = match level {
            IdReq::Any => Message::new(Subtype::Identity).with(AtAnyIdReq { reserved: 0 }),
            IdReq::Fullauth => {
                Message::new(Subtype::Identity).with(AtFullauthIdReq { reserved: 0 })
            }
            IdReq::Permanent => {
                Message::new(Subtype::Identity).with(AtPermanentIdReq { reserved: 0 })
            }
        };
        let pkt = Packet::Request {
            identifier: Self::next_id(s),
            data: TypeData::from_aka(s.method, msg),
        };
        let bytes = pkt.encode().map_err(|_| Fail("encoding failed"))?;
        s.checkcode_update(&bytes);
        s.phase = Phase::Identity(IdentityPhase { level });
        Ok(bytes)
    }

    /// Gets a vector and builds the AKA-Challenge (RFC 4187 §9.3, RFC 9048 §3).
    fn challenge(
        &self,
        s: &mut Session,
        identity: Vec<u8>,
        imsi: Imsi,
        resynced: bool,
        permanent_user: String,
    ) -> Result<Vec<u8>, Fail> {
        let (v, version): (AuthVector, u64) =
            self.hss.vector_versioned(&imsi, kind_of(s.method))?;
        let keys = match s.method {
            Method::Aka => keys::derive_aka(&identity, &v.ik, &v.ck),
            Method::AkaPrime => {
                let (ckp, ikp) =
                    keys::ck_ik_prime(&v.ck, &v.ik, &self.network_name, &v.autn.sqn_xor_ak())
                        .map_err(|_| Fail("network name too long"))?;
                keys::derive_aka_prime(&identity, &ckp, &ikp)
            }
        };
        let mut msg = Message::new(Subtype::Challenge)
            .with(AtRand {
                rand: v.rand,
                reserved: 0,
            })
            .with(AtAutn {
                autn: v.autn,
                reserved: 0,
            });
        match s.method {
            Method::AkaPrime => {
                msg.push(AtKdf::CK_IK_PRIME);
                msg.push(AtKdfInput {
                    network_name: self.network_name.clone(),
                });
            }
            Method::Aka => {
                // RFC 9048 §4: tell the peer AKA' was available (bidding down).
                if self.enabled(Method::AkaPrime) {
                    msg.push(AtBidding {
                        d: true,
                        reserved: 0,
                    });
                }
            }
        }
        if let Some(cc) = s.checkcode.as_deref().filter(|c| c.packets() > 0) {
            msg.push(AtCheckcode {
                checkcode: cc.to_attr(),
                reserved: 0,
            });
        }
        if let Some(p) = &self.privacy {
            // RFC 4187 §9.3: AT_NEXT_PSEUDONYM / AT_NEXT_REAUTH_ID in AT_ENCR_DATA.
            let realm = realm_of(&identity).unwrap_or_else(|| p.realm.clone());
            let unix = self.unix(s.started);
            let next = issue_after_full_auth(
                &p.keys,
                &p.policy,
                &permanent_user,
                &keys,
                &realm,
                unix,
                [rand16()?, rand16()?],
            );
            // A user name that cannot be sealed just gets no identities.
            if let Ok(next) = next
                && let Some((iv, data)) = challenge_attributes(&keys.k_encr, rand16()?, &next)
                    .map_err(|_| Fail("encoding failed"))?
            {
                msg.push(iv);
                msg.push(data);
            }
            if p.policy.result_indication {
                msg.push(AtResultInd::default());
            }
        }
        msg.push(AtMac::ZEROED);
        let pkt = Packet::Request {
            identifier: Self::next_id(s),
            data: TypeData::from_aka(s.method, msg),
        };
        let (mut bytes, mac) = pkt
            .encode_with_mac_offset()
            .map_err(|_| Fail("encoding failed"))?;
        let off = mac.ok_or(Fail("encoding failed"))?;
        eap::aka::mac::sign(&keys.k_aut, &mut bytes, off, NO_EXTRA)
            .map_err(|_| Fail("encoding failed"))?;
        let Keys { k_aut, msk, .. } = keys;
        let permanent_user = (local_part(&identity) != permanent_user.as_bytes())
            .then(|| permanent_user.into_boxed_str());
        let identity = (*identity != *s.eap_identity).then(|| identity.into_boxed_slice());
        s.phase = Phase::Challenge(Box::new(ChallengePhase {
            identity,
            permanent_user,
            rand: v.rand,
            xres: v.xres.clone(),
            k_aut,
            msk,
            resynced,
            version,
        }));
        Ok(bytes)
    }

    /// Handles an EAP-Response whose Identifier matches the outstanding request.
    fn respond(
        &self,
        s: &mut Session,
        pkt: &Packet,
        raw: &[u8],
        now: Instant,
    ) -> Result<Next, Fail> {
        let Some(data) = pkt.data() else {
            return Err(Fail("not an EAP-Response"));
        };
        if let TypeData::Nak(wanted) = data {
            if !matches!(s.phase, Phase::Identity(_) | Phase::Challenge(_)) {
                return Err(Fail("Legacy-Nak after the method started"));
            }
            return self.nak(s, wanted, now).map(Next::Request);
        }
        let Some((method, msg)) = data.aka() else {
            return Err(Fail("peer answered with another EAP type"));
        };
        if method != s.method {
            return Err(Fail("peer answered with the other AKA method"));
        }
        match msg.subtype {
            Subtype::ClientError => return Err(Fail("peer sent Client-Error")),
            Subtype::AuthenticationReject => return Err(Fail("peer sent Authentication-Reject")),
            _ => {}
        }
        match &mut s.phase {
            Phase::Identity(_) => {
                if msg.subtype != Subtype::Identity {
                    return Err(Fail("unexpected AKA subtype in the identity round"));
                }
                s.checkcode_update(raw);
                let identity = msg
                    .identity()
                    .ok_or(Fail("AKA-Identity response without AT_IDENTITY"))?
                    .to_vec();
                s.set_log_identity(&identity);
                let Phase::Identity(IdentityPhase { level }) = &s.phase else {
                    return Err(Fail("internal"));
                };
                let level = *level;
                if let Some(r) = self.privacy_step(s, &identity, Some(level), now) {
                    return r.map(Next::Request);
                }
                if let Some((_, imsi)) = permanent_imsi(&identity) {
                    let user = user_part(&identity).unwrap_or_default();
                    return self
                        .challenge(s, identity, imsi, false, user)
                        .map(Next::Request);
                }
                // Ask again, one level more specific (Any → Fullauth → Permanent).
                let next = match (
                    level,
                    IdentityKind::from_leading(identity.first().copied().unwrap_or(0)),
                ) {
                    (IdReq::Any, IdentityKind::Pseudonym(_)) => IdReq::Permanent,
                    (IdReq::Any, _) => IdReq::Fullauth,
                    (IdReq::Fullauth, _) => IdReq::Permanent,
                    (IdReq::Permanent, _) => {
                        return Err(Fail("peer gave no permanent identity"));
                    }
                };
                self.identity_request(s, next).map(Next::Request)
            }
            Phase::Challenge(c) => match msg.subtype {
                Subtype::Challenge => {
                    // RFC 4187 §6.2: both sides asked for protected result indication.
                    let result_ind = msg.result_ind()
                        && self
                            .privacy
                            .as_ref()
                            .is_some_and(|p| p.policy.result_indication);
                    if !verify_packet(&c.k_aut, raw, NO_EXTRA) {
                        return Err(Fail("AT_MAC does not verify"));
                    }
                    let res = msg
                        .res()
                        .ok_or(Fail("AKA-Challenge response without AT_RES"))?;
                    if !res.ct_eq(&c.xres) {
                        if result_ind {
                            let k_aut = c.k_aut.clone();
                            return self
                                .notify(s, k_aut, None, Err("RES does not match XRES"), "")
                                .map(Next::Request);
                        }
                        return Err(Fail("RES does not match XRES"));
                    }
                    // AT_CHECKCODE is optional in the response (RFC 4187 §10.13); checked when sent.
                    let checkcode_ok = |cc| match s.checkcode.as_deref() {
                        Some(ours) => ours.verify_attr(cc),
                        None => CheckcodeHash::new(s.method).verify_attr(cc),
                    };
                    if msg.checkcode().is_some_and(|cc| !checkcode_ok(cc)) {
                        return Err(Fail("AT_CHECKCODE does not match"));
                    }
                    // Removed, or K/OPc/AMF/SQN set, since the vector was issued.
                    let user = match c.permanent_user.as_deref() {
                        Some(u) => u.as_bytes(),
                        None => local_part(c.identity.as_deref().unwrap_or(&s.eap_identity)),
                    };
                    let user =
                        std::str::from_utf8(user).map_err(|_| Fail("identity is not UTF-8"))?;
                    if !self.hss.current(&imsi_of_user(user)?, c.version)? {
                        return Err(Fail(SUBSCRIBER_CHANGED));
                    }
                    let c = std::mem::replace(
                        &mut s.phase,
                        Phase::Identity(IdentityPhase { level: IdReq::Any }),
                    );
                    let Phase::Challenge(c) = c else {
                        return Err(Fail("internal"));
                    };
                    let ChallengePhase {
                        k_aut,
                        msk,
                        identity,
                        ..
                    } = *c;
                    let identity = identity.map_or_else(|| s.eap_identity.to_vec(), Vec::from);
                    if result_ind {
                        return self
                            .notify(s, k_aut, None, Ok((msk, identity)), "success")
                            .map(Next::Request);
                    }
                    Ok(Next::Success(msk, identity, "success"))
                }
                Subtype::SynchronizationFailure => {
                    if c.resynced {
                        return Err(Fail("second Synchronization-Failure"));
                    }
                    let auts = msg
                        .auts()
                        .ok_or(Fail("Synchronization-Failure without AT_AUTS"))?;
                    let identity = c.identity.as_deref().unwrap_or(&s.eap_identity).to_vec();
                    let user = match c.permanent_user.as_deref() {
                        Some(u) => u.to_owned(),
                        None => String::from_utf8(local_part(&identity).to_vec())
                            .map_err(|_| Fail("identity is not UTF-8"))?,
                    };
                    let imsi = imsi_of_user(&user)?;
                    self.hss.resync(&imsi, &c.rand, auts)?;
                    self.challenge(s, identity, imsi, true, user)
                        .map(Next::Request)
                }
                _ => Err(Fail("unexpected AKA subtype in the challenge round")),
            },
            Phase::Reauth(_) => {
                let Phase::Reauth(ReauthPhase { pending }) = std::mem::replace(
                    &mut s.phase,
                    Phase::Identity(IdentityPhase { level: IdReq::Any }),
                ) else {
                    return Err(Fail("internal"));
                };
                let mk_identity = pending.identity().to_vec();
                match check_reauth_response(pending, raw) {
                    ReauthOutcome::Success {
                        msk,
                        use_result_ind,
                        context,
                        ..
                    } => {
                        const FAST: &str = "success (fast re-authentication)";
                        if use_result_ind {
                            let k = (context.k_encr().clone(), context.counter());
                            return self
                                .notify(
                                    s,
                                    context.k_aut().clone(),
                                    Some(k),
                                    Ok((msk, mk_identity)),
                                    FAST,
                                )
                                .map(Next::Request);
                        }
                        Ok(Next::Success(msk, mk_identity, FAST))
                    }
                    // AT_COUNTER_TOO_SMALL (RFC 4187 §5.4): full authentication,
                    // no new identity round.
                    ReauthOutcome::FullAuth {
                        permanent_user,
                        mk_identity,
                    } => {
                        let imsi = imsi_of_user(&permanent_user)?;
                        self.challenge(s, mk_identity, imsi, false, permanent_user)
                            .map(Next::Request)
                    }
                    ReauthOutcome::Failure(f) => Err(Fail(reauth_failure(f))),
                }
            }
            Phase::Notify(n) => {
                if msg.subtype != Subtype::Notification {
                    return Err(Fail("unexpected AKA subtype after a result notification"));
                }
                let reauth = n.reauth.as_ref().map(|(k, c)| (k, *c));
                if !check_notification_response(s.method, s.last_id, &n.k_aut, reauth, raw) {
                    return Err(Fail("notification response does not verify"));
                }
                let Phase::Notify(n) = std::mem::replace(
                    &mut s.phase,
                    Phase::Identity(IdentityPhase { level: IdReq::Any }),
                ) else {
                    return Err(Fail("internal"));
                };
                match n.outcome {
                    Ok((msk, identity)) => Ok(Next::Success(msk, identity, n.result)),
                    Err(why) => Err(Fail(why)),
                }
            }
        }
    }

    /// Sends a protected success or failure Notification (RFC 4187 §6.2,
    /// §9.10) and waits for its answer before EAP-Success/Failure.
    fn notify(
        &self,
        s: &mut Session,
        k_aut: KAut,
        reauth: Option<(KEncr, u16)>,
        outcome: Result<(Msk, Vec<u8>), &'static str>,
        result: &'static str,
    ) -> Result<Vec<u8>, Fail> {
        let iv = rand16()?;
        let id = s.last_id.wrapping_add(1);
        let pkt = result_notification(
            s.method,
            id,
            &k_aut,
            outcome.is_ok(),
            reauth.as_ref().map(|(k, c)| (k, *c, iv)),
        )
        .map_err(|_| Fail("encoding failed"))?;
        s.last_id = id;
        s.phase = Phase::Notify(Box::new(NotifyPhase {
            k_aut,
            reauth,
            outcome,
            result,
        }));
        Ok(pkt)
    }

    /// Legacy-Nak (RFC 3748 §5.3.1): switch to the other AKA method once.
    fn nak(&self, s: &mut Session, wanted: &[u8], now: Instant) -> Result<Vec<u8>, Fail> {
        if s.nak_used {
            return Err(Fail("second Legacy-Nak"));
        }
        s.nak_used = true;
        let other = wanted
            .iter()
            .filter_map(|t| match *t {
                types::AKA => Some(Method::Aka),
                types::AKA_PRIME => Some(Method::AkaPrime),
                _ => None,
            })
            .find(|m| *m != s.method && self.enabled(*m))
            .ok_or(Fail("peer refused the method (Legacy-Nak)"))?;
        s.method = other;
        self.begin_method(s, now)
    }
}

enum Next {
    Request(Vec<u8>),
    /// EAP-Success: the MSK, the User-Name and the report result.
    Success(Msk, Vec<u8>, &'static str),
}

impl Session {
    fn report(&self, now: Instant, result: &'static str) -> Report {
        Report {
            identity: self
                .log_identity
                .as_deref()
                .map_or_else(|| mask_identity(&self.eap_identity), str::to_owned),
            method: Some(self.method),
            result,
            round_trips: self.round_trips,
            duration: now.saturating_duration_since(self.started),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
