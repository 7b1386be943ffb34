//! The RADIUS exchange (RFC 2865, 2866, 3579, 5080, 5997, 2548) as a pure
//! function: [`RadiusServer::handle`] takes the listener, the client's
//! address, one datagram and `now`, and returns the reply (if any) and
//! effects for the log. The `radius` crate decodes and frames attributes;
//! Message-Authenticator, the MS-MPPE keys and the duplicate cache are here.

pub mod crypto;
pub mod dup;
pub mod udp;

use crate::config::{Client, Config};
use crate::eap_server::{EapServer, Outcome, Report};
use crate::hss::{AccountingLog, AccountingRecord, Hss};
use crypto::MaCheck;
use radius::core::avp::AVP;
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::{rfc2865, rfc2866, rfc2869};
use std::net::SocketAddr;
use std::sync::Arc;
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
}

/// The RADIUS server core.
pub struct RadiusServer {
    clients: Vec<Client>,
    eap: EapServer,
    accounting: Arc<dyn AccountingLog>,
    session_timeout_secs: u32,
    cache: dup::DupCache,
    /// Counters.
    pub counters: Counters,
}

type Reply = (Option<Vec<u8>>, Vec<Effect>);

impl RadiusServer {
    /// A server for `cfg` using `hss` for vectors and `accounting` for records.
    pub fn new(cfg: &Config, hss: Arc<dyn Hss>, accounting: Arc<dyn AccountingLog>) -> Self {
        Self {
            clients: cfg.clients.clone(),
            eap: EapServer::new(hss, &cfg.eap),
            accounting,
            session_timeout_secs: u32::try_from(cfg.eap.session_timeout.as_secs()).unwrap_or(30),
            cache: dup::DupCache::new(std::time::Duration::from_secs(30), 65_536),
            counters: Counters::default(),
        }
    }

    fn drop(&mut self, r: DropReason) -> Reply {
        match r {
            DropReason::UnknownClient => self.counters.unknown_client += 1,
            DropReason::Malformed => self.counters.malformed += 1,
            DropReason::MissingMessageAuthenticator => {
                self.counters.missing_message_authenticator += 1
            }
            DropReason::BadAuthenticator => self.counters.bad_authenticator += 1,
            _ => self.counters.other_drops += 1,
        }
        (None, vec![Effect::Dropped(r)])
    }

    /// Handles one datagram from `from` on `listener`.
    pub fn handle(
        &mut self,
        listener: Listener,
        from: SocketAddr,
        datagram: &[u8],
        now: Instant,
    ) -> Reply {
        self.counters.received += 1;
        let Some(client) = self
            .clients
            .iter()
            .find(|c| c.network.contains(from.ip()))
            .cloned()
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
                match crypto::check_request(raw, secret, true) {
                    MaCheck::Invalid
                        if crypto::check_request(raw, secret, false) != MaCheck::Valid =>
                    {
                        MaCheck::Invalid
                    }
                    MaCheck::Invalid => MaCheck::Valid,
                    m => m,
                }
            }
            _ => crypto::check_request(raw, secret, false),
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
        if matches!(code, Code::AccessRequest | Code::AccountingRequest)
            && let Some(cached) = self.cache.get(&key, now)
        {
            self.counters.duplicates += 1;
            self.counters.answered += 1;
            return (Some(cached), vec![Effect::DuplicateAnswered]);
        }

        let (reply, effects) = match (code, listener) {
            (Code::StatusServer, _) => {
                let resp = req.make_response_packet(match listener {
                    Listener::Auth => Code::AccessAccept,
                    Listener::Accounting => Code::AccountingResponse,
                });
                (self.finish(resp, &req, &req_auth, secret), Vec::new())
            }
            (Code::AccessRequest, Listener::Auth) => {
                self.access_request(&client, &req, &req_auth, now)
            }
            (Code::AccountingRequest, Listener::Accounting) => {
                let rec = accounting_record(&client, &req);
                if let Err(e) = self.accounting.record(&rec) {
                    tracing::warn!(client = %client.name, error = %e, "accounting not recorded");
                    return self.drop(DropReason::AccountingNotRecorded);
                }
                let resp = req.make_response_packet(Code::AccountingResponse);
                (
                    self.finish(resp, &req, &req_auth, secret),
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
                if code != Code::StatusServer {
                    self.cache.insert(key, bytes.clone(), now);
                }
                self.counters.answered += 1;
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
        &mut self,
        client: &Client,
        req: &Packet,
        req_auth: &[u8; 16],
        now: Instant,
    ) -> (Result<Option<Vec<u8>>, ()>, Vec<Effect>) {
        let secret = client.secret.expose();
        let Some(eap) = rfc2869::lookup_eap_message(req) else {
            // Only EAP is offered: PAP/CHAP requests are rejected.
            let resp = req.make_response_packet(Code::AccessReject);
            return (self.finish(resp, req, req_auth, secret), Vec::new());
        };
        let state = rfc2865::lookup_state(req);
        tracing::debug!(
            client = %client.name,
            id = req.get_identifier(),
            eap_len = eap.len(),
            has_state = state.is_some(),
            "Access-Request"
        );
        let finished = |report: Report| Effect::AuthFinished {
            client: client.name.clone(),
            report,
        };
        match self.eap.step(state.as_deref(), &eap, now) {
            Outcome::Challenge { eap, state } => {
                let mut resp = req.make_response_packet(Code::AccessChallenge);
                add_ma_placeholder(&mut resp);
                rfc2869::add_eap_message(&mut resp, &eap);
                rfc2865::add_state(&mut resp, &state);
                rfc2865::add_session_timeout(&mut resp, self.session_timeout_secs);
                (self.finish_with_ma(resp, req, req_auth, secret), Vec::new())
            }
            Outcome::Request { eap } => {
                let mut resp = req.make_response_packet(Code::AccessChallenge);
                add_ma_placeholder(&mut resp);
                rfc2869::add_eap_message(&mut resp, &eap);
                (self.finish_with_ma(resp, req, req_auth, secret), Vec::new())
            }
            Outcome::Accept {
                eap,
                msk,
                user_name,
                report,
            } => {
                let mut resp = req.make_response_packet(Code::AccessAccept);
                add_ma_placeholder(&mut resp);
                rfc2869::add_eap_message(&mut resp, &eap);
                rfc2865::add_user_name(&mut resp, &user_name);
                let mut salts = [0u8; 4];
                if getrandom::fill(&mut salts).is_err() {
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
                resp.add(AVP::from_bytes(
                    crypto::VENDOR_SPECIFIC,
                    &crypto::mppe_key_vsa(
                        crypto::MS_MPPE_RECV_KEY,
                        &m[..32],
                        secret,
                        req_auth,
                        recv_salt,
                    ),
                ));
                resp.add(AVP::from_bytes(
                    crypto::VENDOR_SPECIFIC,
                    &crypto::mppe_key_vsa(
                        crypto::MS_MPPE_SEND_KEY,
                        &m[32..],
                        secret,
                        req_auth,
                        send_salt,
                    ),
                ));
                (
                    self.finish_with_ma(resp, req, req_auth, secret),
                    vec![finished(report)],
                )
            }
            Outcome::Reject { eap, report } => {
                let mut resp = req.make_response_packet(Code::AccessReject);
                add_ma_placeholder(&mut resp);
                rfc2869::add_eap_message(&mut resp, &eap);
                (
                    self.finish_with_ma(resp, req, req_auth, secret),
                    report.map(finished).into_iter().collect(),
                )
            }
            Outcome::Discard(why) => {
                tracing::debug!(client = %client.name, why, "EAP packet discarded");
                (Ok(None), Vec::new())
            }
        }
    }

    /// Adds the Message-Authenticator placeholder first, then Proxy-State, and completes.
    fn finish(
        &self,
        mut resp: Packet,
        req: &Packet,
        req_auth: &[u8; 16],
        secret: &[u8],
    ) -> Result<Option<Vec<u8>>, ()> {
        add_ma_placeholder(&mut resp);
        self.finish_with_ma(resp, req, req_auth, secret)
    }

    fn finish_with_ma(
        &self,
        mut resp: Packet,
        req: &Packet,
        req_auth: &[u8; 16],
        secret: &[u8],
    ) -> Result<Option<Vec<u8>>, ()> {
        // RFC 2865 §5.33: Proxy-State copied unmodified, in order.
        for ps in rfc2865::lookup_all_proxy_state(req) {
            rfc2865::add_proxy_state(&mut resp, &ps);
        }
        let mut bytes = resp.encode().map_err(|_| ())?;
        if bytes.len() > 4096 || !crypto::finish_response(&mut bytes, req_auth, secret) {
            return Err(());
        }
        Ok(Some(bytes))
    }
}

/// Message-Authenticator first (BlastRADIUS), zeroed until `finish_response`.
fn add_ma_placeholder(resp: &mut Packet) {
    resp.add(AVP::from_bytes(crypto::MESSAGE_AUTHENTICATOR, &[0u8; 16]));
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
