//! The RADIUS exchange (RFC 2865, 2866, 3579, 5080, 5997, 2548) as a pure
//! function: [`RadiusServer::handle`] takes the listener, the client's
//! address, one datagram and `now`, and returns the reply (if any) and
//! effects for the log. The `radius` crate decodes and frames attributes;
//! Message-Authenticator, the MS-MPPE keys and the duplicate cache are here.
//!
//! `handle` takes `&self`: several socket workers call it at once. Decoding,
//! the authenticator checks and building the response (the MD5 work) run
//! without a lock; only the duplicate cache and the EAP step each take their
//! own short lock.

pub mod crypto;
pub mod dup;
pub mod udp;
pub mod wire;

use crate::config::{Client, Config};
use crate::eap_server::{EapServer, Outcome, Report};
use crate::hss::{AccountingLog, AccountingRecord, Hss};
use crypto::{KeyedMac, MaCheck};
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866, rfc2869};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Which socket a datagram arrived on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Listener {
    /// The authentication port (Access-Request, Status-Server).
    Auth,
    /// The accounting port (Accounting-Request, Status-Server).
    Accounting,
}

/// Why a datagram got no answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// The source address matches no `[[client]]`.
    UnknownClient,
    /// The datagram is not a RADIUS packet (`radius` decode error).
    Malformed,
    /// Message-Authenticator missing where required (RFC 3579 §3.2, BlastRADIUS).
    MissingMessageAuthenticator,
    /// Message-Authenticator or Accounting Request Authenticator wrong.
    BadAuthenticator,
    /// A code this listener does not serve.
    UnexpectedCode,
    /// The EAP server discarded the EAP packet (RFC 3748 §4.1).
    EapDiscarded,
    /// Accounting could not be recorded (the NAS will retry).
    AccountingNotRecorded,
    /// The response could not be encoded.
    EncodeFailed,
}

impl DropReason {
    /// A short name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::UnknownClient => "unknown client",
            DropReason::Malformed => "malformed packet",
            DropReason::MissingMessageAuthenticator => "no Message-Authenticator",
            DropReason::BadAuthenticator => "bad authenticator",
            DropReason::UnexpectedCode => "unexpected code",
            DropReason::EapDiscarded => "EAP packet discarded",
            DropReason::AccountingNotRecorded => "accounting not recorded",
            DropReason::EncodeFailed => "response encoding failed",
        }
    }
}

/// Something the shell should log or count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// The datagram was dropped.
    Dropped(DropReason),
    /// A retransmission got the cached response (RFC 5080 §2.2.2).
    DuplicateAnswered,
    /// A retransmission arrived while its original was in progress: dropped,
    /// the original's answer follows (RFC 5080 §2.2.2).
    DuplicateInProgress,
    /// An authentication finished.
    AuthFinished {
        /// The client's name.
        client: String,
        /// What happened.
        report: Report,
    },
    /// An accounting record was stored.
    AccountingRecorded {
        /// The client's name.
        client: String,
        /// Acct-Status-Type.
        status_type: u32,
    },
}

/// Counters since start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub received: u64,
    /// Responses sent (including cached ones).
    pub answered: u64,
    /// Dropped: unknown client.
    pub unknown_client: u64,
    /// Dropped: decode failure.
    pub malformed: u64,
    /// Dropped: Message-Authenticator missing.
    pub missing_message_authenticator: u64,
    /// Dropped: bad authenticator.
    pub bad_authenticator: u64,
    /// Dropped: anything else.
    pub other_drops: u64,
    /// Duplicates answered from the cache.
    pub duplicates: u64,
    /// Duplicates dropped because their original was in progress.
    pub duplicates_in_progress: u64,
}

/// [`Counters`], updated by several workers at once.
#[derive(Default)]
struct AtomicCounters {
    received: AtomicU64,
    answered: AtomicU64,
    unknown_client: AtomicU64,
    malformed: AtomicU64,
    missing_message_authenticator: AtomicU64,
    bad_authenticator: AtomicU64,
    other_drops: AtomicU64,
    duplicates: AtomicU64,
    duplicates_in_progress: AtomicU64,
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

impl AtomicCounters {
    fn snapshot(&self) -> Counters {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            received: get(&self.received),
            answered: get(&self.answered),
            unknown_client: get(&self.unknown_client),
            malformed: get(&self.malformed),
            missing_message_authenticator: get(&self.missing_message_authenticator),
            bad_authenticator: get(&self.bad_authenticator),
            other_drops: get(&self.other_drops),
            duplicates: get(&self.duplicates),
            duplicates_in_progress: get(&self.duplicates_in_progress),
        }
    }
}

/// A lock whose state stays usable after a panic elsewhere (the server
/// keeps serving; every step leaves the state consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The RADIUS server core.
pub struct RadiusServer {
    /// Each client with its secret-keyed HMAC-MD5 state (keyed once).
    clients: Arc<[(Client, KeyedMac)]>,
    eap: Mutex<EapServer>,
    accounting: Arc<dyn AccountingLog>,
    session_timeout_secs: u32,
    cache: dup::DupCache,
    counters: AtomicCounters,
}

type Reply = (Option<Vec<u8>>, Vec<Effect>);

impl RadiusServer {
    /// A server for `cfg` using `hss` for vectors and `accounting` for records.
    pub fn new(cfg: &Config, hss: Arc<dyn Hss>, accounting: Arc<dyn AccountingLog>) -> Self {
        Self {
            clients: cfg
                .clients
                .iter()
                .map(|c| (c.clone(), crypto::hmac_md5(c.secret.expose())))
                .collect(),
            eap: Mutex::new(EapServer::new(hss, &cfg.eap)),
            accounting,
            session_timeout_secs: u32::try_from(cfg.eap.session_timeout.as_secs()).unwrap_or(30),
            // 7/8 of 2^16: the cache's hash table stays at 2^16 buckets.
            cache: dup::DupCache::new(std::time::Duration::from_secs(30), 57_344),
            counters: AtomicCounters::default(),
        }
    }

    /// Turns on `[privacy]` in the EAP server (issue 8).
    pub fn set_privacy(&mut self, privacy: Arc<crate::privacy::PrivacyServer>) {
        self.eap
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .set_privacy(privacy);
    }

    /// The counters since start.
    pub fn counters(&self) -> Counters {
        self.counters.snapshot()
    }

    fn drop(&self, r: DropReason) -> Reply {
        let c = &self.counters;
        bump(match r {
            DropReason::UnknownClient => &c.unknown_client,
            DropReason::Malformed => &c.malformed,
            DropReason::MissingMessageAuthenticator => &c.missing_message_authenticator,
            DropReason::BadAuthenticator => &c.bad_authenticator,
            _ => &c.other_drops,
        });
        (None, vec![Effect::Dropped(r)])
    }

    /// Handles one datagram from `from` on `listener`.
    pub fn handle(
        &self,
        listener: Listener,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Reply {
        bump(&self.counters.received);
        let Some((client, keyed)) = self
            .clients
            .iter()
            .find(|c| c.0.network.contains(from.ip()))
        else {
            return self.drop(DropReason::UnknownClient);
        };
        let secret = client.secret.expose();
        let Ok(req) = Packet::decode(datagram, secret) else {
            return self.drop(DropReason::Malformed);
        };
        // Octets beyond Length are padding (RFC 2865 §3); decode checked Length.
        let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
        let raw = &datagram[..len];
        let mut req_auth = [0u8; 16];
        req_auth.copy_from_slice(&raw[4..20]);

        let code = req.get_code();
        let ma = match code {
            Code::AccountingRequest => {
                if !Packet::is_authentic_request(raw, secret) {
                    return self.drop(DropReason::BadAuthenticator);
                }
                match crypto::check_request_keyed(raw, keyed, true) {
                    MaCheck::Invalid
                        if crypto::check_request_keyed(raw, keyed, false) != MaCheck::Valid =>
                    {
                        MaCheck::Invalid
                    }
                    MaCheck::Invalid => MaCheck::Valid,
                    m => m,
                }
            }
            _ => crypto::check_request_keyed(raw, keyed, false),
        };
        if ma == MaCheck::Invalid {
            return self.drop(DropReason::BadAuthenticator);
        }
        let has_eap = req.lookup(rfc2869::EAP_MESSAGE_TYPE).is_some();
        let ma_required = match code {
            // RFC 3579 §3.2: always with EAP-Message; BlastRADIUS: per client.
            Code::AccessRequest => client.require_message_authenticator || has_eap,
            // RFC 5997 §3.
            Code::StatusServer => true,
            _ => false,
        };
        if ma_required && ma == MaCheck::Missing {
            return self.drop(DropReason::MissingMessageAuthenticator);
        }

        let key = (from, req.get_identifier(), req_auth);
        let cached = matches!(code, Code::AccessRequest | Code::AccountingRequest);
        if cached {
            match self.cache.begin(&key, now) {
                dup::Lookup::New => {}
                dup::Lookup::Answered(bytes) => {
                    bump(&self.counters.duplicates);
                    bump(&self.counters.answered);
                    return (Some(bytes), vec![Effect::DuplicateAnswered]);
                }
                dup::Lookup::InProgress => {
                    bump(&self.counters.duplicates_in_progress);
                    return (None, vec![Effect::DuplicateInProgress]);
                }
            }
        }
        let (reply, effects) = self.dispatch(code, listener, client, keyed, &req, &req_auth, now);
        if cached {
            match &reply {
                Some(bytes) => self.cache.complete(&key, bytes, now),
                None => self.cache.abandon(&key),
            }
        }
        (reply, effects)
    }

    /// Runs the request (no duplicate check).
    #[allow(clippy::too_many_arguments)]
    fn dispatch(
        &self,
        code: Code,
        listener: Listener,
        client: &Client,
        keyed: &KeyedMac,
        req: &Packet,
        req_auth: &[u8; 16],
        now: Instant,
    ) -> Reply {
        let req_auth = *req_auth;
        let secret = client.secret.expose();

        let (reply, effects) = match (code, listener) {
            (Code::StatusServer, _) => {
                let resp = wire::Response::new(
                    match listener {
                        Listener::Auth => Code::AccessAccept,
                        Listener::Accounting => Code::AccountingResponse,
                    },
                    req.get_identifier(),
                );
                (finish(resp, req, &req_auth, keyed, secret), Vec::new())
            }
            (Code::AccessRequest, Listener::Auth) => {
                self.access_request(client, keyed, req, &req_auth, now)
            }
            (Code::AccountingRequest, Listener::Accounting) => {
                let rec = accounting_record(client, req);
                if let Err(e) = self.accounting.record(&rec) {
                    tracing::warn!(client = %client.name, error = %e, "accounting not recorded");
                    return self.drop(DropReason::AccountingNotRecorded);
                }
                let resp = wire::Response::new(Code::AccountingResponse, req.get_identifier());
                (
                    finish(resp, req, &req_auth, keyed, secret),
                    vec![Effect::AccountingRecorded {
                        client: client.name.clone(),
                        status_type: rec.status_type,
                    }],
                )
            }
            _ => return self.drop(DropReason::UnexpectedCode),
        };
        match reply {
            Ok(Some(bytes)) => {
                bump(&self.counters.answered);
                (Some(bytes), effects)
            }
            Ok(None) => {
                let (r, mut e) = self.drop(DropReason::EapDiscarded);
                e.extend(effects);
                (r, e)
            }
            Err(()) => {
                let (r, mut e) = self.drop(DropReason::EncodeFailed);
                e.extend(effects);
                (r, e)
            }
        }
    }

    fn access_request(
        &self,
        client: &Client,
        keyed: &KeyedMac,
        req: &Packet,
        req_auth: &[u8; 16],
        now: Instant,
    ) -> (Result<Option<Vec<u8>>, ()>, Vec<Effect>) {
        let secret = client.secret.expose();
        let id = req.get_identifier();
        let Some(eap) = rfc2869::lookup_eap_message(req) else {
            // Only EAP is offered: PAP/CHAP requests are rejected.
            let resp = wire::Response::new(Code::AccessReject, id);
            return (finish(resp, req, req_auth, keyed, secret), Vec::new());
        };
        let state = rfc2865::lookup_state(req);
        tracing::debug!(
            client = %client.name,
            id,
            eap_len = eap.len(),
            has_state = state.is_some(),
            "Access-Request"
        );
        let finished = |report: Report| Effect::AuthFinished {
            client: client.name.clone(),
            report,
        };
        // The EAP lock is held for the step only (the guard is a temporary).
        let outcome = lock(&self.eap).step(state.as_deref(), &eap, now);
        match outcome {
            Outcome::Challenge { eap, state } => {
                let mut resp = wire::Response::new(Code::AccessChallenge, id);
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap)
                    .attr(rfc2865::STATE_TYPE, &state)
                    .attr(
                        rfc2865::SESSION_TIMEOUT_TYPE,
                        &self.session_timeout_secs.to_be_bytes(),
                    );
                (finish(resp, req, req_auth, keyed, secret), Vec::new())
            }
            Outcome::Request { eap } => {
                let mut resp = wire::Response::new(Code::AccessChallenge, id);
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap);
                (finish(resp, req, req_auth, keyed, secret), Vec::new())
            }
            Outcome::Accept {
                eap,
                msk,
                user_name,
                report,
            } => {
                let mut resp = wire::Response::new(Code::AccessAccept, id);
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap)
                    .attr(rfc2865::USER_NAME_TYPE, user_name.as_bytes());
                let mut salts = [0u8; 4];
                if crate::hss::rng::fill(&mut salts).is_err() {
                    return (Err(()), vec![finished(report)]);
                }
                let recv_salt = [salts[0], salts[1]];
                // The two salts must differ (RFC 2548 §2.4.2).
                let send_salt =
                    if [salts[2] | 0x80, salts[3]] == [recv_salt[0] | 0x80, recv_salt[1]] {
                        [salts[2], salts[3] ^ 1]
                    } else {
                        [salts[2], salts[3]]
                    };
                let m = msk.expose();
                resp.attr(
                    crypto::VENDOR_SPECIFIC,
                    &crypto::mppe_key_vsa(
                        crypto::MS_MPPE_RECV_KEY,
                        &m[..32],
                        secret,
                        req_auth,
                        recv_salt,
                    ),
                )
                .attr(
                    crypto::VENDOR_SPECIFIC,
                    &crypto::mppe_key_vsa(
                        crypto::MS_MPPE_SEND_KEY,
                        &m[32..],
                        secret,
                        req_auth,
                        send_salt,
                    ),
                );
                (
                    finish(resp, req, req_auth, keyed, secret),
                    vec![finished(report)],
                )
            }
            Outcome::Reject { eap, report } => {
                let mut resp = wire::Response::new(Code::AccessReject, id);
                resp.split_attr(rfc2869::EAP_MESSAGE_TYPE, &eap);
                (
                    finish(resp, req, req_auth, keyed, secret),
                    report.map(finished).into_iter().collect(),
                )
            }
            Outcome::Discard(why) => {
                tracing::debug!(client = %client.name, why = %why, "EAP packet discarded");
                (Ok(None), Vec::new())
            }
        }
    }
}

/// Copies Proxy-State (RFC 2865 §5.33: unmodified, in order) and fills in
/// Message-Authenticator and the Response Authenticator.
fn finish(
    mut resp: wire::Response,
    req: &Packet,
    req_auth: &[u8; 16],
    keyed: &KeyedMac,
    secret: &[u8],
) -> Result<Option<Vec<u8>>, ()> {
    for ps in req.lookup_all(rfc2865::PROXY_STATE_TYPE) {
        resp.attr(rfc2865::PROXY_STATE_TYPE, &ps.encode_bytes());
    }
    let mut bytes = resp.into_bytes().ok_or(())?;
    if !crypto::finish_response_keyed(&mut bytes, req_auth, keyed, secret) {
        return Err(());
    }
    Ok(Some(bytes))
}

fn accounting_record(client: &Client, req: &Packet) -> AccountingRecord {
    let u32_of = |v: Option<Result<u32, _>>| v.and_then(Result::ok).unwrap_or(0);
    let string_of = |v: Option<Result<String, _>>| v.and_then(Result::ok).unwrap_or_default();
    let octets = |lo: u32, hi: u32| (u64::from(hi) << 32) | u64::from(lo);
    let nas = match rfc2865::lookup_nas_identifier(req).and_then(Result::ok) {
        Some(n) => n,
        None => rfc2865::lookup_nas_ip_address(req)
            .and_then(Result::ok)
            .map(|ip| ip.to_string())
            .unwrap_or_default(),
    };
    AccountingRecord {
        client: client.name.clone(),
        session_id: string_of(rfc2866::lookup_acct_session_id(req)),
        status_type: u32_of(rfc2866::lookup_acct_status_type(req)),
        user: string_of(rfc2865::lookup_user_name(req)),
        nas,
        input_octets: octets(
            u32_of(rfc2866::lookup_acct_input_octets(req)),
            u32_of(rfc2869::lookup_acct_input_gigawords(req)),
        ),
        output_octets: octets(
            u32_of(rfc2866::lookup_acct_output_octets(req)),
            u32_of(rfc2869::lookup_acct_output_gigawords(req)),
        ),
        session_time: u32_of(rfc2866::lookup_acct_session_time(req)),
    }
}

#[cfg(test)]
mod tests;
