//! The Dynamic Authorization client (RFC 5176), sans I/O: it builds
//! Disconnect-Request and CoA-Request packets for a NAS's Dynamic
//! Authorization Server (hostapd's `radius_das_port`), matches the
//! ACK/NAK that come back, and says when to retransmit (exponential
//! backoff, the same packet each time, RFC 5080 §2.2.1) and when to give
//! up. Sockets and clocks belong to the caller ([`udp`]).

use crate::radius::crypto::{MESSAGE_AUTHENTICATOR, check_response, hmac_md5};
use hmac::Mac;
use md5::{Digest, Md5};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// Disconnect-Request (RFC 5176 §3).
pub const DISCONNECT_REQUEST: u8 = 40;
/// Disconnect-ACK.
pub const DISCONNECT_ACK: u8 = 41;
/// Disconnect-NAK.
pub const DISCONNECT_NAK: u8 = 42;
/// CoA-Request.
pub const COA_REQUEST: u8 = 43;
/// CoA-ACK.
pub const COA_ACK: u8 = 44;
/// CoA-NAK.
pub const COA_NAK: u8 = 45;
/// User-Name (RFC 2865 §5.1).
pub const USER_NAME: u8 = 1;
/// Calling-Station-Id (RFC 2865 §5.31).
pub const CALLING_STATION_ID: u8 = 31;
/// Acct-Session-Id (RFC 2866 §5.5).
pub const ACCT_SESSION_ID: u8 = 44;
/// Event-Timestamp (RFC 2869 §5.3).
pub const EVENT_TIMESTAMP: u8 = 55;
/// Error-Cause (RFC 5176 §3.5).
pub const ERROR_CAUSE: u8 = 101;

/// Which request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DasKind {
    /// Disconnect-Request: end the session.
    Disconnect,
    /// CoA-Request: new authorization attributes for the session.
    Coa,
}

impl DasKind {
    fn code(self) -> u8 {
        match self {
            DasKind::Disconnect => DISCONNECT_REQUEST,
            DasKind::Coa => COA_REQUEST,
        }
    }
}

impl std::fmt::Display for DasKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DasKind::Disconnect => "Disconnect-Request",
            DasKind::Coa => "CoA-Request",
        })
    }
}

/// The session as the NAS knows it (hostapd's DAS matches on these).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionRef {
    /// User-Name as in the session's accounting.
    pub user_name: String,
    /// Acct-Session-Id.
    pub acct_session_id: String,
    /// Calling-Station-Id (the station's MAC), when known.
    pub calling_station_id: Option<String>,
}

/// A datagram to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The NAS's DAS address.
    pub to: SocketAddr,
    /// The packet.
    pub bytes: Vec<u8>,
}

/// What became of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DasEvent {
    /// Disconnect-ACK / CoA-ACK.
    Ack {
        /// Which request.
        kind: DasKind,
        /// Its NAS.
        nas: SocketAddr,
        /// Its Acct-Session-Id.
        session: String,
    },
    /// Disconnect-NAK / CoA-NAK.
    Nak {
        /// Which request.
        kind: DasKind,
        /// Its NAS.
        nas: SocketAddr,
        /// Its Acct-Session-Id.
        session: String,
        /// Error-Cause (RFC 5176 §3.5), if given.
        error_cause: Option<u32>,
    },
    /// No answer after every retransmission.
    TimedOut {
        /// Which request.
        kind: DasKind,
        /// Its NAS.
        nas: SocketAddr,
        /// Its Acct-Session-Id.
        session: String,
    },
}

/// Why a received datagram was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DasDrop {
    /// Not a RADIUS packet, or not an ACK/NAK.
    #[error("malformed or not a Disconnect/CoA response")]
    Malformed,
    /// No request of ours has this source and Identifier (or the kind differs).
    #[error("unsolicited response")]
    Unsolicited,
    /// Response Authenticator or Message-Authenticator does not verify.
    #[error("bad authenticator")]
    BadAuthenticator,
}

/// Why a request could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DasError {
    /// 256 requests to this NAS are in flight.
    #[error("no free RADIUS Identifier for this NAS")]
    Busy,
    /// An attribute or the packet is too long.
    #[error("request too large")]
    TooLarge,
}

/// Counters (every request, response and drop).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DasCounters {
    /// Requests sent (first transmissions).
    pub sent: u64,
    /// Retransmissions.
    pub retransmitted: u64,
    /// ACKs.
    pub acks: u64,
    /// NAKs.
    pub naks: u64,
    /// Requests given up.
    pub timeouts: u64,
    /// Dropped: malformed.
    pub dropped_malformed: u64,
    /// Dropped: unsolicited.
    pub dropped_unsolicited: u64,
    /// Dropped: bad authenticator.
    pub dropped_bad_authenticator: u64,
    /// Disconnect-Requests sent because a CoA-Request was NAKed or unanswered.
    pub coa_fallbacks: u64,
}

/// Retransmission policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Wait before the first retransmission (doubled each time).
    pub initial: Duration,
    /// Transmissions in all (first one included).
    pub attempts: u32,
}

impl Default for Retry {
    /// 1 s, 2 s, 4 s: four transmissions, given up 15 s after the first.
    fn default() -> Self {
        Retry {
            initial: Duration::from_secs(1),
            attempts: 4,
        }
    }
}

struct Pending {
    kind: DasKind,
    session: String,
    bytes: Vec<u8>,
    secret: Zeroizing<Vec<u8>>,
    sent: u32,
    wait: Duration,
    next_at: Instant,
    /// A CoA-Request's session, for the Disconnect-Request if it fails.
    coa_session: Option<SessionRef>,
}

/// A failed CoA-Request's shared secret and session.
type Refused = (Zeroizing<Vec<u8>>, SessionRef);

/// The client: requests in flight by (NAS, Identifier).
pub struct DasClient {
    retry: Retry,
    pending: HashMap<(SocketAddr, u8), Pending>,
    next_id: HashMap<SocketAddr, u8>,
    /// CoA-Requests NAKed or given up, by (NAS, Acct-Session-Id): what
    /// [`DasClient::disconnect_after`] disconnects.
    refused: HashMap<(SocketAddr, String), Refused>,
    /// What happened so far.
    pub counters: DasCounters,
}

impl DasClient {
    /// A client retransmitting per `retry`.
    pub fn new(retry: Retry) -> Self {
        DasClient {
            retry,
            pending: HashMap::new(),
            next_id: HashMap::new(),
            refused: HashMap::new(),
            counters: DasCounters::default(),
        }
    }

    /// Requests in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Builds a request for `session` to the DAS at `to` (shared secret
    /// `secret`), with `extra` attributes (a CoA's new authorization) and
    /// Event-Timestamp `unix`; returns the first transmission.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &mut self,
        to: SocketAddr,
        secret: &[u8],
        kind: DasKind,
        session: &SessionRef,
        extra: &[(u8, Vec<u8>)],
        now: Instant,
        unix: u64,
    ) -> Result<Transmit, DasError> {
        let start = *self.next_id.get(&to).unwrap_or(&0);
        let id = (0..=255u8)
            .map(|i| start.wrapping_add(i))
            .find(|id| !self.pending.contains_key(&(to, *id)))
            .ok_or(DasError::Busy)?;
        self.next_id.insert(to, id.wrapping_add(1));
        let bytes = encode_request(kind, id, secret, session, extra, unix)?;
        self.pending.insert(
            (to, id),
            Pending {
                kind,
                session: session.acct_session_id.clone(),
                bytes: bytes.clone(),
                secret: Zeroizing::new(secret.to_vec()),
                sent: 1,
                wait: self.retry.initial,
                next_at: now + self.retry.initial,
                coa_session: (kind == DasKind::Coa).then(|| session.clone()),
            },
        );
        self.counters.sent += 1;
        Ok(Transmit { to, bytes })
    }

    /// A datagram from `from`: the request it answers is done.
    pub fn receive(&mut self, from: SocketAddr, bytes: &[u8]) -> Result<DasEvent, DasDrop> {
        let r = self.match_response(from, bytes);
        match &r {
            Ok(DasEvent::Ack { .. }) => self.counters.acks += 1,
            Ok(DasEvent::Nak { .. }) => self.counters.naks += 1,
            Ok(DasEvent::TimedOut { .. }) => {}
            Err(DasDrop::Malformed) => self.counters.dropped_malformed += 1,
            Err(DasDrop::Unsolicited) => self.counters.dropped_unsolicited += 1,
            Err(DasDrop::BadAuthenticator) => self.counters.dropped_bad_authenticator += 1,
        }
        r
    }

    fn match_response(&mut self, from: SocketAddr, bytes: &[u8]) -> Result<DasEvent, DasDrop> {
        let (code, id, len) = match bytes {
            [c, i, l0, l1, ..] if bytes.len() >= 20 => {
                (*c, *i, usize::from(u16::from_be_bytes([*l0, *l1])))
            }
            _ => return Err(DasDrop::Malformed),
        };
        if !(20..=4096).contains(&len) || len > bytes.len() {
            return Err(DasDrop::Malformed);
        }
        let packet = &bytes[..len];
        let (kind, ack) = match code {
            DISCONNECT_ACK => (DasKind::Disconnect, true),
            DISCONNECT_NAK => (DasKind::Disconnect, false),
            COA_ACK => (DasKind::Coa, true),
            COA_NAK => (DasKind::Coa, false),
            _ => return Err(DasDrop::Malformed),
        };
        let p = self
            .pending
            .get(&(from, id))
            .filter(|p| p.kind == kind)
            .ok_or(DasDrop::Unsolicited)?;
        let mut request_auth = [0u8; 16];
        request_auth.copy_from_slice(&p.bytes[4..20]);
        if !check_response(packet, &request_auth, &p.secret) {
            return Err(DasDrop::BadAuthenticator);
        }
        let error_cause = attrs(packet)
            .find(|(t, v)| *t == ERROR_CAUSE && v.len() == 4)
            .map(|(_, v)| u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
        let mut p = self
            .pending
            .remove(&(from, id))
            .ok_or(DasDrop::Unsolicited)?;
        if !ack {
            self.note_refused(from, &mut p);
        }
        Ok(if ack {
            DasEvent::Ack {
                kind,
                nas: from,
                session: p.session,
            }
        } else {
            DasEvent::Nak {
                kind,
                nas: from,
                session: p.session,
                error_cause,
            }
        })
    }

    /// Retransmissions due at `now`, and the requests given up.
    pub fn poll(&mut self, now: Instant) -> (Vec<Transmit>, Vec<DasEvent>) {
        let mut out = Vec::new();
        let mut gone = Vec::new();
        for (&(to, id), p) in self.pending.iter_mut() {
            if p.next_at > now {
                continue;
            }
            if p.sent >= self.retry.attempts {
                gone.push((to, id));
                continue;
            }
            p.sent += 1;
            p.wait *= 2;
            p.next_at = now + p.wait;
            out.push(Transmit {
                to,
                bytes: p.bytes.clone(),
            });
        }
        self.counters.retransmitted += out.len() as u64;
        let mut events = Vec::with_capacity(gone.len());
        for k in gone {
            if let Some(mut p) = self.pending.remove(&k) {
                self.note_refused(k.0, &mut p);
                events.push(DasEvent::TimedOut {
                    kind: p.kind,
                    nas: k.0,
                    session: p.session,
                });
            }
        }
        self.counters.timeouts += events.len() as u64;
        (out, events)
    }

    /// Remembers a failed CoA-Request's session for [`DasClient::disconnect_after`].
    fn note_refused(&mut self, nas: SocketAddr, p: &mut Pending) {
        if let Some(s) = p.coa_session.take() {
            let secret = std::mem::take(&mut p.secret);
            self.refused.insert((nas, p.session.clone()), (secret, s));
        }
    }

    /// For a CoA-NAK or a CoA-Request given up (every retransmission
    /// unanswered), the Disconnect-Request for the same session: the
    /// station authenticates again and gets its new authorization (the
    /// fallback RFC 5176 §3.2 leaves to the server). `None` for any other
    /// event. Pass every event, or failed CoA sessions stay remembered.
    pub fn disconnect_after(
        &mut self,
        ev: &DasEvent,
        now: Instant,
        unix: u64,
    ) -> Option<Result<Transmit, DasError>> {
        let (DasEvent::Nak {
            kind: DasKind::Coa,
            nas,
            session,
            ..
        }
        | DasEvent::TimedOut {
            kind: DasKind::Coa,
            nas,
            session,
        }) = ev
        else {
            return None;
        };
        let (secret, s) = self.refused.remove(&(*nas, session.clone()))?;
        let r = self.request(*nas, &secret, DasKind::Disconnect, &s, &[], now, unix);
        if r.is_ok() {
            self.counters.coa_fallbacks += 1;
        }
        Some(r)
    }

    /// When [`DasClient::poll`] has something to do next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.next_at).min()
    }
}

/// The attributes of a checked packet.
fn attrs(packet: &[u8]) -> impl Iterator<Item = (u8, &[u8])> {
    let mut rest = packet.get(20..).unwrap_or(&[]);
    std::iter::from_fn(move || {
        let (&t, r) = rest.split_first()?;
        let l = usize::from(*r.first()?);
        let v = rest.get(2..l)?;
        rest = &rest[l..];
        Some((t, v))
    })
}

/// A Disconnect- or CoA-Request: the session's identification,
/// Event-Timestamp, `extra`, Message-Authenticator (HMAC-MD5 with the
/// Authenticator field zero), then the Request Authenticator
/// MD5(Code‖Identifier‖Length‖16 zero octets‖Attributes‖Secret) (RFC 5176 §2.3, §3.1).
pub fn encode_request(
    kind: DasKind,
    id: u8,
    secret: &[u8],
    session: &SessionRef,
    extra: &[(u8, Vec<u8>)],
    unix: u64,
) -> Result<Vec<u8>, DasError> {
    let mut p = vec![kind.code(), id, 0, 0];
    p.extend_from_slice(&[0; 16]);
    let mut put = |t: u8, v: &[u8]| -> Result<(), DasError> {
        if v.len() > 253 {
            return Err(DasError::TooLarge);
        }
        p.push(t);
        p.push((v.len() + 2) as u8);
        p.extend_from_slice(v);
        Ok(())
    };
    put(USER_NAME, session.user_name.as_bytes())?;
    put(ACCT_SESSION_ID, session.acct_session_id.as_bytes())?;
    if let Some(c) = &session.calling_station_id {
        put(CALLING_STATION_ID, c.as_bytes())?;
    }
    put(EVENT_TIMESTAMP, &(unix as u32).to_be_bytes())?;
    for (t, v) in extra {
        put(*t, v)?;
    }
    put(MESSAGE_AUTHENTICATOR, &[0; 16])?;
    if p.len() > 4096 {
        return Err(DasError::TooLarge);
    }
    let len = p.len();
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    let mut m = hmac_md5(secret);
    m.update(&p);
    let ma = m.finalize().into_bytes();
    p[len - 16..].copy_from_slice(&ma);
    let mut h = Md5::new();
    h.update(&p);
    h.update(secret);
    let auth = h.finalize();
    p[4..20].copy_from_slice(&auth);
    Ok(p)
}

pub mod udp {
    //! The UDP shell: one socket, [`super::DasClient`] driven until every
    //! request is answered or given up; each outcome logged.
    use super::*;
    use std::net::UdpSocket;

    /// Sends each `(to, secret, session)` a request of `kind` and waits for
    /// the answers (retransmitting per `retry`). Returns the outcomes and the counters.
    pub fn run(
        kind: DasKind,
        requests: &[(SocketAddr, Zeroizing<Vec<u8>>, SessionRef)],
        extra: &[(u8, Vec<u8>)],
        retry: Retry,
    ) -> std::io::Result<(Vec<DasEvent>, DasCounters)> {
        let bind: SocketAddr = if requests.iter().any(|r| r.0.is_ipv6()) {
            "[::]:0".parse().unwrap_or_else(|_| unreachable!())
        } else {
            "0.0.0.0:0".parse().unwrap_or_else(|_| unreachable!())
        };
        let sock = UdpSocket::bind(bind)?;
        let mut c = DasClient::new(retry);
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut events = Vec::new();
        for (to, secret, session) in requests {
            match c.request(*to, secret, kind, session, extra, Instant::now(), unix) {
                Ok(t) => {
                    sock.send_to(&t.bytes, t.to)?;
                    tracing::info!(nas = %to, session = %session.acct_session_id, "{kind} sent");
                }
                Err(e) => tracing::warn!(nas = %to, error = %e, "{kind} not sent"),
            }
        }
        let mut buf = [0u8; 4096];
        while c.in_flight() > 0 {
            let now = Instant::now();
            let wait = c
                .next_deadline()
                .map_or(Duration::from_millis(100), |d| {
                    d.saturating_duration_since(now)
                })
                .max(Duration::from_millis(1));
            sock.set_read_timeout(Some(wait))?;
            match sock.recv_from(&mut buf) {
                Ok((n, from)) => match c.receive(from, &buf[..n]) {
                    Ok(ev) => {
                        log(&ev);
                        events.push(ev);
                    }
                    Err(why) => tracing::warn!(from = %from, why = %why, "DAS response dropped"),
                },
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => return Err(e),
            }
            let (tx, gone) = c.poll(Instant::now());
            for t in tx {
                sock.send_to(&t.bytes, t.to)?;
            }
            for ev in gone {
                log(&ev);
                events.push(ev);
            }
        }
        Ok((events, c.counters))
    }

    /// Logs an outcome.
    pub fn log(ev: &DasEvent) {
        match ev {
            DasEvent::Ack { kind, nas, session } => {
                tracing::info!(nas = %nas, session = %session, "{kind} acknowledged (ACK)")
            }
            DasEvent::Nak {
                kind,
                nas,
                session,
                error_cause,
            } => {
                tracing::warn!(nas = %nas, session = %session, error_cause = ?error_cause, "{kind} refused (NAK)")
            }
            DasEvent::TimedOut { kind, nas, session } => {
                tracing::warn!(nas = %nas, session = %session, "{kind} unanswered, given up")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::radius::crypto::{MaCheck, check_request, finish_response};

    const SECRET: &[u8] = b"das-secret";

    fn nas() -> SocketAddr {
        "192.0.2.1:3799".parse().unwrap()
    }

    fn session() -> SessionRef {
        SessionRef {
            user_name: "6001010000000001@wlan.mnc001.mcc001.3gppnetwork.org".into(),
            acct_session_id: "5F1A2B3C-00000001".into(),
            calling_station_id: Some("02-00-00-00-00-01".into()),
        }
    }

    /// The NAS's answer to `req`, as hostapd's radius_msg_finish_das_resp makes it.
    fn answer(req: &[u8], code: u8, cause: Option<u32>) -> Vec<u8> {
        let mut p = vec![code, req[1], 0, 0];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[MESSAGE_AUTHENTICATOR, 18]);
        p.extend_from_slice(&[0; 16]);
        if let Some(c) = cause {
            p.extend_from_slice(&[ERROR_CAUSE, 6]);
            p.extend_from_slice(&c.to_be_bytes());
        }
        let l = p.len() as u16;
        p[2..4].copy_from_slice(&l.to_be_bytes());
        let mut auth = [0u8; 16];
        auth.copy_from_slice(&req[4..20]);
        assert!(finish_response(&mut p, &auth, SECRET));
        p
    }

    #[test]
    fn request_carries_the_session_timestamp_and_verifies_as_a_das_checks_it() {
        let p =
            encode_request(DasKind::Disconnect, 7, SECRET, &session(), &[], 0x5f00_0000).unwrap();
        assert_eq!((p[0], p[1]), (40, 7));
        let a: Vec<(u8, &[u8])> = attrs(&p).collect();
        assert_eq!(a[0], (1, session().user_name.as_bytes()));
        assert_eq!(a[1], (44, &b"5F1A2B3C-00000001"[..]));
        assert_eq!(a[2], (31, &b"02-00-00-00-00-01"[..]));
        assert_eq!(a[3], (55, &[0x5f, 0, 0, 0][..]));
        assert_eq!(a[4].0, 80);
        // Request Authenticator: MD5 over the packet with 16 zero octets, then the secret.
        let mut zeroed = p.clone();
        zeroed[4..20].fill(0);
        let mut h = Md5::new();
        h.update(&zeroed);
        h.update(SECRET);
        assert_eq!(&h.finalize()[..], &p[4..20]);
        // Message-Authenticator with the Authenticator field zero.
        assert_eq!(check_request(&p, SECRET, true), MaCheck::Valid);
        assert_eq!(check_request(&p, b"other", true), MaCheck::Invalid);
    }

    #[test]
    fn ack_nak_unsolicited_and_bad_answers() {
        let mut c = DasClient::new(Retry::default());
        let now = Instant::now();
        let t = c
            .request(nas(), SECRET, DasKind::Disconnect, &session(), &[], now, 1)
            .unwrap();
        // Wrong source, wrong kind, bad authenticator, garbage: dropped, still pending.
        let other: SocketAddr = "192.0.2.2:3799".parse().unwrap();
        let ack = answer(&t.bytes, DISCONNECT_ACK, None);
        assert_eq!(c.receive(other, &ack), Err(DasDrop::Unsolicited));
        let coa = answer(&t.bytes, COA_ACK, None);
        assert_eq!(c.receive(nas(), &coa), Err(DasDrop::Unsolicited));
        let mut bad = ack.clone();
        bad[5] ^= 1;
        assert_eq!(c.receive(nas(), &bad), Err(DasDrop::BadAuthenticator));
        assert_eq!(c.receive(nas(), &[1, 2, 3]), Err(DasDrop::Malformed));
        assert_eq!(c.in_flight(), 1);
        assert_eq!(
            c.receive(nas(), &ack),
            Ok(DasEvent::Ack {
                kind: DasKind::Disconnect,
                nas: nas(),
                session: session().acct_session_id
            })
        );
        // A duplicate of the answer is unsolicited now.
        assert_eq!(c.receive(nas(), &ack), Err(DasDrop::Unsolicited));
        let t = c
            .request(
                nas(),
                SECRET,
                DasKind::Coa,
                &session(),
                &[(27, vec![0, 0, 0, 60])],
                now,
                1,
            )
            .unwrap();
        assert_eq!(t.bytes[0], COA_REQUEST);
        let nak = answer(&t.bytes, COA_NAK, Some(405));
        assert!(matches!(
            c.receive(nas(), &nak),
            Ok(DasEvent::Nak {
                error_cause: Some(405),
                ..
            })
        ));
        let k = c.counters;
        assert_eq!((k.sent, k.acks, k.naks), (2, 1, 1));
        assert_eq!(
            (
                k.dropped_unsolicited,
                k.dropped_bad_authenticator,
                k.dropped_malformed
            ),
            (3, 1, 1)
        );
    }

    #[test]
    fn retransmits_the_same_packet_with_backoff_then_gives_up() {
        let mut c = DasClient::new(Retry {
            initial: Duration::from_secs(1),
            attempts: 3,
        });
        let t0 = Instant::now();
        let t = c
            .request(nas(), SECRET, DasKind::Disconnect, &session(), &[], t0, 1)
            .unwrap();
        assert_eq!(c.poll(t0 + Duration::from_millis(999)), (vec![], vec![]));
        let (tx, ev) = c.poll(t0 + Duration::from_secs(1));
        assert_eq!((tx, ev), (vec![t.clone()], vec![]));
        // The next wait is doubled: 2 s after the retransmission.
        assert_eq!(c.poll(t0 + Duration::from_millis(2999)).0, vec![]);
        assert_eq!(c.poll(t0 + Duration::from_secs(3)).0, vec![t]);
        let (tx, ev) = c.poll(t0 + Duration::from_secs(7));
        assert!(tx.is_empty());
        assert!(matches!(ev.as_slice(), [DasEvent::TimedOut { .. }]));
        assert_eq!(c.in_flight(), 0);
        assert_eq!((c.counters.retransmitted, c.counters.timeouts), (2, 1));
    }

    #[test]
    fn a_coa_naked_or_unanswered_becomes_a_disconnect() {
        let mut c = DasClient::new(Retry {
            initial: Duration::from_secs(1),
            attempts: 2,
        });
        let t0 = Instant::now();
        let attrs27 = [(27, vec![0, 0, 0, 60])];
        // Unanswered: given up after 1 s + 2 s, then a Disconnect-Request.
        let coa = c
            .request(nas(), SECRET, DasKind::Coa, &session(), &attrs27, t0, 1)
            .unwrap();
        assert_eq!(c.poll(t0 + Duration::from_secs(1)).0, vec![coa]);
        let (_, gone) = c.poll(t0 + Duration::from_secs(3));
        let [
            ev @ DasEvent::TimedOut {
                kind: DasKind::Coa, ..
            },
        ] = gone.as_slice()
        else {
            panic!("{gone:?}");
        };
        let t = c
            .disconnect_after(ev, t0 + Duration::from_secs(3), 9)
            .unwrap()
            .unwrap();
        assert_eq!((t.to, t.bytes[0]), (nas(), DISCONNECT_REQUEST));
        assert_eq!(
            t.bytes,
            encode_request(DasKind::Disconnect, t.bytes[1], SECRET, &session(), &[], 9).unwrap()
        );
        // Once only.
        assert_eq!(c.disconnect_after(ev, t0, 9), None);
        // The Disconnect is a request like any other: ACKed.
        let ack = answer(&t.bytes, DISCONNECT_ACK, None);
        let ev = c.receive(nas(), &ack).unwrap();
        assert!(matches!(
            ev,
            DasEvent::Ack {
                kind: DasKind::Disconnect,
                ..
            }
        ));
        assert_eq!(c.disconnect_after(&ev, t0, 9), None);
        // NAKed: the same.
        let coa = c
            .request(nas(), SECRET, DasKind::Coa, &session(), &attrs27, t0, 1)
            .unwrap();
        let ev = c
            .receive(nas(), &answer(&coa.bytes, COA_NAK, Some(405)))
            .unwrap();
        let t = c.disconnect_after(&ev, t0, 9).unwrap().unwrap();
        assert_eq!(t.bytes[0], DISCONNECT_REQUEST);
        // An ACKed CoA, a NAKed Disconnect: nothing more.
        let coa = c
            .request(nas(), SECRET, DasKind::Coa, &session(), &attrs27, t0, 1)
            .unwrap();
        let ev = c
            .receive(nas(), &answer(&coa.bytes, COA_ACK, None))
            .unwrap();
        assert_eq!(c.disconnect_after(&ev, t0, 9), None);
        let ev = c
            .receive(nas(), &answer(&t.bytes, DISCONNECT_NAK, Some(503)))
            .unwrap();
        assert_eq!(c.disconnect_after(&ev, t0, 9), None);
        assert_eq!(c.counters.coa_fallbacks, 2);
        assert!(c.refused.is_empty());
    }

    #[test]
    fn identifiers_are_distinct_per_nas_until_exhausted() {
        let mut c = DasClient::new(Retry::default());
        let now = Instant::now();
        let mut ids = std::collections::HashSet::new();
        for _ in 0..256 {
            let t = c
                .request(nas(), SECRET, DasKind::Disconnect, &session(), &[], now, 1)
                .unwrap();
            assert!(ids.insert(t.bytes[1]));
        }
        assert_eq!(
            c.request(nas(), SECRET, DasKind::Disconnect, &session(), &[], now, 1),
            Err(DasError::Busy)
        );
    }
}
