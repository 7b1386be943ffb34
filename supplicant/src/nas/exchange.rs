//! One authentication as a NAS + supplicant pair, sans-IO: EAP from the
//! peer state machine ([`crate::peer::Peer`]) with a USIM behind it, wrapped
//! in Access-Requests; RADIUS responses in, the next Access-Request (or the
//! verdict) out. No socket, no clock.

use super::radius::{self, RequestBuilder, Response};
use crate::peer::{Action, Outcome, Peer, PeerConfig};
use crate::usim::{AuthResult, CardTransport, Usim};
use eap::aka::keys::Method;

/// At most this many RADIUS round trips per authentication (identity
/// rounds, a resync and the Challenge fit in far fewer).
pub const MAX_ROUNDS: u32 = 12;

/// Why an authentication failed. Each is counted under [`Failure::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No answer after the retransmissions.
    Timeout,
    /// Access-Reject (with what the peer made of the EAP in it).
    AccessReject(String),
    /// A response that failed the RADIUS checks.
    BadResponse(radius::ResponseError),
    /// A response code other than Accept/Reject/Challenge.
    UnexpectedCode(u8),
    /// Access-Challenge or -Accept without EAP-Message.
    NoEapMessage,
    /// The peer discarded the EAP packet (nothing to send back).
    PeerDiscarded(String),
    /// The peer ended in failure (EAP-Failure, or Success it did not accept).
    PeerFailure(String),
    /// Access-Accept without the MS-MPPE keys.
    MppeMissing,
    /// MS-MPPE keys that differ from the MSK the peer derived.
    MppeMismatch,
    /// The server authenticated with the other method.
    WrongMethod(Method),
    /// The USIM client failed (not a MAC/sync verdict: a transport problem).
    Usim(String),
    /// More than [`MAX_ROUNDS`] round trips.
    TooManyRounds,
    /// The request could not be encoded (over 4096 octets).
    Encode,
}

impl Failure {
    /// The counter this failure goes under.
    pub fn key(&self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::AccessReject(_) => "access-reject",
            Failure::BadResponse(radius::ResponseError::BadResponseAuthenticator) => {
                "bad-response-authenticator"
            }
            Failure::BadResponse(radius::ResponseError::BadMessageAuthenticator) => {
                "bad-message-authenticator"
            }
            Failure::BadResponse(radius::ResponseError::MissingMessageAuthenticator) => {
                "missing-message-authenticator"
            }
            Failure::BadResponse(radius::ResponseError::MessageAuthenticatorNotFirst) => {
                "message-authenticator-not-first"
            }
            Failure::BadResponse(radius::ResponseError::BadMppe(_)) => "bad-mppe-attribute",
            Failure::BadResponse(radius::ResponseError::Malformed(_)) => "malformed-response",
            Failure::UnexpectedCode(_) => "unexpected-code",
            Failure::NoEapMessage => "no-eap-message",
            Failure::PeerDiscarded(_) => "peer-discarded",
            Failure::PeerFailure(_) => "peer-failure",
            Failure::MppeMissing => "mppe-missing",
            Failure::MppeMismatch => "mppe-mismatch",
            Failure::WrongMethod(_) => "wrong-method",
            Failure::Usim(_) => "usim",
            Failure::TooManyRounds => "too-many-rounds",
            Failure::Encode => "encode",
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Timeout => write!(f, "no answer after retransmissions"),
            Failure::AccessReject(r) => write!(f, "Access-Reject ({r})"),
            Failure::BadResponse(e) => write!(f, "{e}"),
            Failure::UnexpectedCode(c) => write!(f, "unexpected RADIUS code {c}"),
            Failure::NoEapMessage => write!(f, "response without EAP-Message"),
            Failure::PeerDiscarded(r) => write!(f, "peer discarded the EAP request: {r}"),
            Failure::PeerFailure(r) => write!(f, "peer: {r}"),
            Failure::MppeMissing => write!(f, "Access-Accept without MS-MPPE keys"),
            Failure::MppeMismatch => write!(f, "MS-MPPE keys differ from the peer's MSK"),
            Failure::WrongMethod(m) => write!(f, "server used {}", m.name()),
            Failure::Usim(e) => write!(f, "USIM: {e}"),
            Failure::TooManyRounds => write!(f, "more than {MAX_ROUNDS} round trips"),
            Failure::Encode => write!(f, "request over 4096 octets"),
        }
    }
}

/// What the shell does next.
#[derive(Debug)]
pub enum Step {
    /// Send this Access-Request (its authenticator is remembered).
    Send(Vec<u8>),
    /// Authenticated, keys checked.
    Success,
    /// Hold mode: the AKA-Challenge arrived and is left unanswered, so the
    /// server keeps a session in flight (for measuring memory per session).
    Held,
    /// Failed.
    Failed(Failure),
}

/// A Calling-Station-Id in the IEEE 802 form of RFC 3580 §3.21
/// (`02-00-00-00-00-07`).
pub fn calling_station_id(mac: [u8; 6]) -> Vec<u8> {
    let h: Vec<String> = mac.iter().map(|b| format!("{b:02X}")).collect();
    h.join("-").into_bytes()
}

/// The NAS attributes each request carries.
#[derive(Debug, Clone)]
pub struct Nas {
    /// NAS-Identifier.
    pub identifier: Vec<u8>,
    /// The shared secret.
    pub secret: Vec<u8>,
    /// Require Message-Authenticator as the first attribute of responses
    /// (BlastRADIUS hardening; hostapd 2.10 puts it last).
    pub require_ma_first: bool,
}

/// One authentication in progress.
#[derive(Debug)]
pub struct Authentication {
    peer: Peer,
    method: Method,
    /// The peer runs EAP-SIM only (its `Success::method` is then the key
    /// family `Aka`; `method_name` says EAP-SIM).
    sim: bool,
    identifier: u8,
    request_authenticator: [u8; 16],
    state: Option<Vec<u8>>,
    calling_station: Vec<u8>,
    rounds: u32,
    resyncs: u32,
    hold: bool,
    fresh_identifiers: bool,
}

impl Authentication {
    /// Stop at the AKA-Challenge instead of answering it ([`Step::Held`]).
    pub fn hold_at_challenge(mut self) -> Self {
        self.hold = true;
        self
    }

    /// Starts the authentication of the peer `config` with `method`; returns
    /// the first Access-Request (EAP-Response/Identity with the permanent NAI).
    /// `calling_station` is the Calling-Station-Id (see [`calling_station_id`]),
    /// `authenticator` the fresh Request Authenticator, `buf` a buffer to reuse.
    pub fn start(
        config: &PeerConfig,
        calling_station: Vec<u8>,
        method: Method,
        nas: &Nas,
        identifier: u8,
        authenticator: [u8; 16],
        buf: Vec<u8>,
    ) -> (Self, Step) {
        let mut peer = Peer::new(config.clone());
        // The NAS's EAP-Request/Identity (RFC 3748 §5.1), played locally.
        let first = peer.handle(&[1, 0, 0, 5, 1]);
        let mut a = Self {
            peer,
            method,
            sim: config.methods == crate::peer::Methods::SIM,
            identifier,
            request_authenticator: authenticator,
            state: None,
            calling_station,
            rounds: 0,
            resyncs: 0,
            hold: false,
            fresh_identifiers: false,
        };
        let step = match first {
            Action::Send(eap) => a.request(nas, &eap, buf),
            other => Step::Failed(Failure::PeerDiscarded(format!("{other:?}"))),
        };
        (a, step)
    }

    /// Give each new request the next Identifier (RFC 2865 §5, RFC 5080
    /// §2.2.1), as a NAS with one port does. Without it every request of the
    /// authentication keeps the first Identifier, which the load generator
    /// routes answers by; its Request Authenticators still differ.
    pub fn with_fresh_identifiers(mut self) -> Self {
        self.fresh_identifiers = true;
        self
    }

    /// The Request Authenticator of the request in flight.
    pub fn request_authenticator(&self) -> &[u8; 16] {
        &self.request_authenticator
    }

    /// The RADIUS identifier this authentication uses.
    pub fn identifier(&self) -> u8 {
        self.identifier
    }

    /// Access-Requests sent so far.
    pub fn rounds(&self) -> u32 {
        self.rounds
    }

    /// AUTS resynchronisations so far.
    pub fn resyncs(&self) -> u32 {
        self.resyncs
    }

    fn request(&mut self, nas: &Nas, eap: &[u8], buf: Vec<u8>) -> Step {
        if self.rounds >= MAX_ROUNDS {
            return Step::Failed(Failure::TooManyRounds);
        }
        self.rounds += 1;
        let mut b = RequestBuilder::new(buf, self.identifier, &self.request_authenticator);
        b.attr(radius::USER_NAME, self.peer.identity().as_bytes())
            .attr(radius::NAS_IDENTIFIER, &nas.identifier)
            .attr(radius::NAS_PORT_TYPE, &19u32.to_be_bytes()) // Wireless - IEEE 802.11
            .attr(radius::CALLING_STATION_ID, &self.calling_station)
            .attr(radius::FRAMED_MTU, &1400u32.to_be_bytes())
            .eap_message(eap);
        if let Some(s) = &self.state {
            b.attr(radius::STATE, s);
        }
        match b.finish(&nas.secret) {
            Some(p) => Step::Send(p),
            None => Step::Failed(Failure::Encode),
        }
    }

    /// Handles a datagram that arrived for this authentication. `next_authenticator`
    /// is the Request Authenticator for the next request, if one follows.
    /// `Ok(None)` = not ours (a stale answer to an earlier request): ignore it.
    pub fn on_datagram<T: CardTransport>(
        &mut self,
        usim: &mut Usim<T>,
        nas: &Nas,
        datagram: &[u8],
        next_authenticator: [u8; 16],
        buf: Vec<u8>,
    ) -> Option<Step> {
        let resp = match radius::check_response(
            datagram,
            &nas.secret,
            &self.request_authenticator,
            nas.require_ma_first,
        ) {
            Ok(r) => r,
            // A stale reply to an earlier (retransmitted) request of this slot
            // cannot be told apart from a forged one; neither is ours.
            Err(radius::ResponseError::BadResponseAuthenticator) => return None,
            Err(e) => return Some(Step::Failed(Failure::BadResponse(e))),
        };
        Some(self.on_response(usim, nas, &resp, next_authenticator, buf))
    }

    fn on_response<T: CardTransport>(
        &mut self,
        usim: &mut Usim<T>,
        nas: &Nas,
        resp: &Response<'_>,
        next_authenticator: [u8; 16],
        buf: Vec<u8>,
    ) -> Step {
        let Some(eap) = resp.eap_message() else {
            return match resp.code {
                radius::ACCESS_REJECT => {
                    Step::Failed(Failure::AccessReject("no EAP-Message".into()))
                }
                _ => Step::Failed(Failure::NoEapMessage),
            };
        };
        match resp.code {
            radius::ACCESS_CHALLENGE => {
                self.state = resp.attr(radius::STATE).map(<[u8]>::to_vec);
                let mut action = self.peer.handle(&eap);
                if self.hold
                    && matches!(
                        action,
                        Action::Authenticate { .. } | Action::GsmAuthenticate { .. }
                    )
                {
                    return Step::Held;
                }
                // EAP-SIM: the card's GSM context (or RUN GSM ALGORITHM) per RAND.
                if let Action::GsmAuthenticate { rands } = &action {
                    let mut triplets = Vec::with_capacity(rands.len());
                    for rand in rands {
                        match usim.gsm_triplet(rand) {
                            Ok(t) => triplets.push(t),
                            Err(e) => return Step::Failed(Failure::Usim(e.to_string())),
                        }
                    }
                    action = self.peer.gsm_result(&triplets);
                }
                if let Action::Authenticate { rand, autn } = &action {
                    let r = match usim.authenticate(rand, autn) {
                        Ok(r) => r,
                        Err(e) => return Step::Failed(Failure::Usim(e.to_string())),
                    };
                    if matches!(r, AuthResult::SyncFailure(_)) {
                        self.resyncs += 1;
                    }
                    action = self.peer.usim_result(r);
                }
                match action {
                    Action::Send(eap) => {
                        self.request_authenticator = next_authenticator;
                        if self.fresh_identifiers {
                            self.identifier = self.identifier.wrapping_add(1);
                        }
                        self.request(nas, &eap, buf)
                    }
                    Action::Authenticate { .. } => {
                        Step::Failed(Failure::PeerDiscarded("second USIM request".into()))
                    }
                    Action::GsmAuthenticate { .. } => {
                        Step::Failed(Failure::PeerDiscarded("second EAP-SIM card request".into()))
                    }
                    Action::Discard(r) => Step::Failed(Failure::PeerDiscarded(r)),
                    Action::Done(Outcome::Failure { reason, .. }) => {
                        Step::Failed(Failure::PeerFailure(reason))
                    }
                    Action::Done(Outcome::Success(_)) => Step::Failed(Failure::PeerFailure(
                        "EAP-Success inside an Access-Challenge".into(),
                    )),
                }
            }
            radius::ACCESS_ACCEPT => match self.peer.handle(&eap) {
                Action::Done(Outcome::Success(s)) => {
                    if s.method != self.method || self.sim != (s.method_name == "EAP-SIM") {
                        return Step::Failed(Failure::WrongMethod(s.method));
                    }
                    let (recv, send) =
                        match resp.mppe_keys(&nas.secret, &self.request_authenticator) {
                            Ok(k) => k,
                            Err(e) => return Step::Failed(Failure::BadResponse(e)),
                        };
                    let (Some(recv), Some(send)) = (recv, send) else {
                        return Step::Failed(Failure::MppeMissing);
                    };
                    let msk = s.keys.msk.expose();
                    // RFC 2548 / RFC 3748 §7.10 use: Recv-Key = MSK[0..32], Send-Key = MSK[32..64].
                    if recv.as_slice() == &msk[..32] && send.as_slice() == &msk[32..64] {
                        Step::Success
                    } else {
                        Step::Failed(Failure::MppeMismatch)
                    }
                }
                Action::Done(Outcome::Failure { reason, .. }) => {
                    Step::Failed(Failure::PeerFailure(reason))
                }
                Action::Discard(r) => Step::Failed(Failure::PeerDiscarded(r)),
                other => Step::Failed(Failure::PeerFailure(format!(
                    "Access-Accept carried {other:?}"
                ))),
            },
            radius::ACCESS_REJECT => {
                let why = match self.peer.handle(&eap) {
                    Action::Done(Outcome::Failure { reason, .. }) => reason,
                    other => format!("{other:?}"),
                };
                Step::Failed(Failure::AccessReject(why))
            }
            c => Step::Failed(Failure::UnexpectedCode(c)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nas::card::SimulatedCard;
    use crate::peer::Methods;
    use eap::identity::MncLen;
    use eap::secret::{K, Opc};
    use eap::umts::SubscriberKeys;
    use hmac::{Hmac, KeyInit, Mac};
    use md5::{Digest, Md5};

    fn nas() -> Nas {
        Nas {
            identifier: b"t".to_vec(),
            secret: b"s3cret".to_vec(),
            require_ma_first: true,
        }
    }

    /// A server response to `req_auth`, Message-Authenticator first.
    fn reply(code: u8, id: u8, req_auth: &[u8; 16], attrs: &[(u8, &[u8])]) -> Vec<u8> {
        let mut p = vec![code, id, 0, 0];
        p.extend_from_slice(req_auth);
        p.extend_from_slice(&[radius::MESSAGE_AUTHENTICATOR, 18]);
        p.extend_from_slice(&[0; 16]);
        for (t, v) in attrs {
            p.push(*t);
            p.push((v.len() + 2) as u8);
            p.extend_from_slice(v);
        }
        let len = p.len() as u16;
        p[2..4].copy_from_slice(&len.to_be_bytes());
        let mut mac = <Hmac<Md5> as KeyInit>::new_from_slice(b"s3cret").unwrap();
        mac.update(&p);
        let tag = mac.finalize().into_bytes();
        p[22..38].copy_from_slice(&tag);
        let mut md = Md5::new();
        md.update(&p);
        md.update(b"s3cret");
        let ra = md.finalize();
        p[4..20].copy_from_slice(&ra);
        p
    }

    fn start(method: Method) -> (SimulatedCard, Authentication, Vec<u8>) {
        let keys = SubscriberKeys::new(K::new([3; 16]), Opc::new([4; 16]));
        let card = SimulatedCard::new(
            "001019000000004",
            MncLen::Two,
            keys,
            eap::umts::Sqn::from_seq_ind(0, 0),
            Methods::only(method),
            None,
        )
        .unwrap();
        let cs = calling_station_id([2, 0, 0, 0, 0, 4]);
        let (a, step) =
            Authentication::start(&card.peer, cs, method, &nas(), 17, [0xa5; 16], Vec::new());
        let Step::Send(p) = step else {
            panic!("{step:?}")
        };
        (card, a, p)
    }

    #[test]
    fn first_request_carries_the_permanent_identity() {
        let (_, a, p) = start(Method::AkaPrime);
        assert_eq!((p[0], p[1]), (radius::ACCESS_REQUEST, 17));
        assert_eq!(&p[4..20], &[0xa5; 16]);
        assert_eq!(p[20], radius::MESSAGE_AUTHENTICATOR);
        let id = b"6001019000000004@wlan.mnc001.mcc001.3gppnetwork.org";
        assert!(p.windows(id.len()).any(|w| w == id));
        // EAP-Response/Identity with that identity.
        let mut eap = vec![2, 0, 0, (5 + id.len()) as u8, 1];
        eap.extend_from_slice(id);
        assert!(p.windows(eap.len()).any(|w| w == eap.as_slice()));
        assert_eq!(a.rounds(), 1);
        let (_, _, p) = start(Method::Aka);
        assert!(p.windows(5).any(|w| w == b"00010"));
    }

    #[test]
    fn reject_is_a_counted_failure_and_foreign_answers_are_ignored() {
        let (mut card, mut a, _) = start(Method::AkaPrime);
        // Signed for another request: not ours, ignored.
        let other = reply(
            radius::ACCESS_REJECT,
            17,
            &[1; 16],
            &[(radius::EAP_MESSAGE, &[4, 0, 0, 4])],
        );
        assert!(
            a.on_datagram(&mut card.usim, &nas(), &other, [2; 16], Vec::new())
                .is_none()
        );
        let rej = reply(
            radius::ACCESS_REJECT,
            17,
            &[0xa5; 16],
            &[(radius::EAP_MESSAGE, &[4, 0, 0, 4])],
        );
        let step = a
            .on_datagram(&mut card.usim, &nas(), &rej, [2; 16], Vec::new())
            .unwrap();
        let Step::Failed(f) = step else {
            panic!("{step:?}")
        };
        assert_eq!(f.key(), "access-reject");
    }

    #[test]
    fn accept_without_a_challenge_and_garbage_challenges_fail_with_reasons() {
        let (mut card, mut a, _) = start(Method::AkaPrime);
        let acc = reply(
            radius::ACCESS_ACCEPT,
            17,
            &[0xa5; 16],
            &[(radius::EAP_MESSAGE, &[3, 0, 0, 4])],
        );
        let Some(Step::Failed(f)) =
            a.on_datagram(&mut card.usim, &nas(), &acc, [2; 16], Vec::new())
        else {
            panic!()
        };
        assert_eq!(f.key(), "peer-discarded");

        let (mut card, mut a, _) = start(Method::AkaPrime);
        let none = reply(
            radius::ACCESS_CHALLENGE,
            17,
            &[0xa5; 16],
            &[(radius::STATE, b"x")],
        );
        let Some(Step::Failed(f)) =
            a.on_datagram(&mut card.usim, &nas(), &none, [2; 16], Vec::new())
        else {
            panic!()
        };
        assert_eq!(f, Failure::NoEapMessage);

        let (mut card, mut a, _) = start(Method::AkaPrime);
        let mut bad = reply(
            radius::ACCESS_CHALLENGE,
            17,
            &[0xa5; 16],
            &[(radius::EAP_MESSAGE, &[1, 2, 0, 4])],
        );
        bad[30] ^= 1; // inside the Message-Authenticator
        let mut md = Md5::new();
        md.update(&bad[..4]);
        md.update([0xa5; 16]);
        md.update(&bad[20..]);
        md.update(b"s3cret");
        let ra = md.finalize();
        bad[4..20].copy_from_slice(&ra);
        let Some(Step::Failed(f)) =
            a.on_datagram(&mut card.usim, &nas(), &bad, [2; 16], Vec::new())
        else {
            panic!()
        };
        assert_eq!(f.key(), "bad-message-authenticator");
    }

    #[test]
    fn fresh_identifiers_change_per_request_and_plain_ones_stay() {
        // EAP-Request/AKA'-Identity with AT_PERMANENT_ID_REQ (RFC 4187 §10.2).
        let eap = [1, 9, 0, 12, 50, 5, 0, 0, 10, 1, 0, 0];
        for (fresh, want) in [(false, 17), (true, 18)] {
            let (mut card, a, _) = start(Method::AkaPrime);
            let mut a = if fresh { a.with_fresh_identifiers() } else { a };
            let ch = reply(
                radius::ACCESS_CHALLENGE,
                17,
                &[0xa5; 16],
                &[(radius::EAP_MESSAGE, &eap)],
            );
            let step = a.on_datagram(&mut card.usim, &nas(), &ch, [2; 16], Vec::new());
            let Some(Step::Send(p)) = step else {
                panic!("{step:?}")
            };
            assert_eq!((p[1], a.identifier()), (want, want));
            assert_eq!(&p[4..20], &[2; 16]);
        }
    }
}
