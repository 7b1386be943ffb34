//! EAP-SIM (RFC 4186), beside [`super::aka`]: one type per outstanding
//! request — [`Start`] (EAP-SIM/Start, version negotiation and the identity
//! rounds), [`Challenge`] (EAP-SIM/Challenge), [`Notify`] (protected result
//! Notification). Each consumes itself with the peer's response and returns
//! the [`Next`] step or a [`Reject`]. Triplets come from the store
//! ([`Work::Triplets`], [`crate::hss::Hss::triplets`]).
//!
//! Pseudonyms are the same stateless sealed identities as EAP-AKA's
//! ([`crate::privacy`]), and so are re-auth identities for fast
//! re-authentication ([`Reauth`], RFC 4186 §5), sealed as EAP-SIM ones: an
//! EAP-AKA re-auth identity gets AT_FULLAUTH_ID_REQ here, and an EAP-SIM one
//! in EAP-AKA.

mod challenge;
mod notify;
mod reauth;
mod start;

pub(crate) use challenge::Challenge;
pub(crate) use notify::Notify;
pub(crate) use reauth::Reauth;
pub(crate) use start::Start;

use super::aka::{Next, Phase as AkaPhase};
use super::sessions::Common;
use super::store::{Accept, Done};
use super::{Cx, Reject};
use crate::hss::Imsi;
use crate::privacy::Resolution;
use eap::aka::message::IdReq;
use eap::identity::Nai;
use eap::packet::{Packet, TypeData};
use eap::sim::message::{EAP_TYPE_SIM, Message, Subtype};

/// The EAP-SIM versions this server supports, in order of preference (RFC 4186 §10.2).
pub(crate) const VERSIONS: [u16; 1] = [eap::sim::attr::VERSION_1];

/// GSM triplets per Challenge (2 or 3, RFC 4186 §9.3): three, as hostapd.
pub(crate) const TRIPLETS: usize = 3;

/// The outstanding request of an EAP-SIM session.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    /// EAP-SIM/Start.
    Start(Start),
    /// EAP-SIM/Challenge.
    Challenge(Box<Challenge>),
    /// A protected result Notification.
    Notify(Box<Notify>),
    /// EAP-SIM/Re-authentication.
    Reauth(Box<Reauth>),
}

/// Whom a Challenge is for.
#[derive(Clone, Debug)]
pub(crate) struct SimTarget {
    /// The identity the keys are bound to (RFC 4186 §7: the last one the peer sent).
    pub identity: Vec<u8>,
    pub imsi: Imsi,
    /// The permanent user name (NAI user part) pseudonyms seal.
    pub permanent_user: String,
    /// AT_NONCE_MT of the last Start response.
    pub nonce_mt: [u8; 16],
}

/// A response to the outstanding request of `phase` (its Identifier matched).
pub(crate) fn receive(
    cx: &mut Cx<'_>,
    c: &mut Common,
    phase: Phase,
    pkt: &Packet,
    raw: &[u8],
) -> Result<Next, Reject> {
    match pkt.data() {
        Some(TypeData::Nak(wanted)) => {
            if !matches!(phase, Phase::Start(_)) {
                return Err(Reject::NakAfterMethodStarted);
            }
            nak(cx, c, wanted)
        }
        Some(TypeData::Unknown(EAP_TYPE_SIM, body)) => {
            let msg = Message::decode(body).map_err(|_| Reject::EapMalformed)?;
            match msg.subtype {
                Subtype::ClientError => Err(Reject::ClientError),
                _ => match phase {
                    Phase::Start(p) => p.receive(cx, c, &msg),
                    Phase::Challenge(p) => (*p).receive(cx, c, &msg, raw),
                    Phase::Notify(p) => (*p).receive(c, &msg, raw),
                    Phase::Reauth(p) => (*p).receive(c, raw),
                },
            }
        }
        _ => Err(Reject::OtherEapType),
    }
}

/// Continues a step with what the store answered.
pub(crate) fn resume(cx: &mut Cx<'_>, c: &mut Common, done: Done) -> Result<Next, Reject> {
    match done {
        Done::Triplets(target, r) => {
            let (triplets, version) = r.map_err(super::aka::barred)?;
            challenge::build(cx, c, target, &triplets, version)
        }
        Done::Confirm(accept, current, authz) => {
            let authz = authz?;
            // A bar is a change too: named as such when both apply.
            let refused = if authz.barred {
                Some(Reject::Barred)
            } else if !current? {
                Some(Reject::SubscriberChanged)
            } else {
                None
            };
            if refused.is_none() {
                c.reply = (!authz.reply.is_empty()).then(|| Box::new(authz.reply));
            }
            let Accept {
                msk,
                identity,
                how,
                notify,
                imsi,
            } = *accept;
            if notify.is_some() {
                // Kept in the session for the Notification round.
                c.imsi = imsi.clone().map(Box::new);
            }
            match (refused, notify) {
                (None, Some((k_aut, reauth))) => {
                    notify::send(cx, c, k_aut, reauth, Ok((msk, identity, how)))
                }
                (None, None) => Ok(Next::Success(msk, identity, how, imsi)),
                // Authenticated, but access is refused: with result indication
                // agreed, a protected failure Notification first (RFC 4186 §6.3.1).
                (Some(r), Some((k_aut, reauth))) => notify::send(cx, c, k_aut, reauth, Err(r)),
                (Some(r), None) => Err(r),
            }
        }
        // Only EAP-AKA asks for the other kinds of work.
        _ => Err(Reject::OtherEapType),
    }
}

/// The first EAP-SIM request for the EAP-Response/Identity identity.
pub(crate) fn begin(cx: &mut Cx<'_>, c: &mut Common) -> Result<Next, Reject> {
    c.sim = true;
    c.checkcode = None;
    let identity = c.eap_identity.to_vec();
    start::first(cx, c, identity)
}

/// Legacy-Nak to EAP-SIM/Start (RFC 3748 §5.3.1): the first EAP-AKA method
/// of the configured order the peer names.
fn nak(cx: &mut Cx<'_>, c: &mut Common, wanted: &[u8]) -> Result<Next, Reject> {
    if c.nak_used {
        return Err(Reject::SecondNak);
    }
    c.nak_used = true;
    let m = cx
        .nak_pick(c, wanted)
        .flatten()
        .ok_or(Reject::MethodRefused)?;
    c.sim = false;
    c.method = m;
    super::aka::begin_method(cx, c)
}

/// The IMSI of an EAP-SIM permanent identity ("1" IMSI, RFC 4186 §4.2.1.6).
pub(crate) fn permanent_imsi(identity: &[u8]) -> Option<Imsi> {
    imsi_of_user(Nai::parse(identity).ok()?.user())
}

/// The IMSI of a permanent EAP-SIM user name ("1" IMSI).
pub(crate) fn imsi_of_user(user: &str) -> Option<Imsi> {
    let user = user.split('@').next()?;
    let digits = user.strip_prefix('1')?;
    Imsi::parse(digits).ok()
}

/// Whether `identity` is (or, through a sealed pseudonym, stands for) an
/// EAP-SIM subscriber: what picks EAP-SIM for a new authentication.
pub(crate) fn is_sim_identity(cx: &Cx<'_>, identity: &[u8]) -> bool {
    let leading = Nai::parse(identity)
        .ok()
        .and_then(|n| n.user().bytes().next());
    if leading == Some(b'1') {
        return true;
    }
    match cx.privacy {
        Some(p) => {
            matches!(
                p.resolve(identity, cx.unix(cx.now)),
                Resolution::Pseudonym(r) if r.permanent_user.starts_with('1')
            ) || matches!(
                p.resolve(identity, cx.unix(cx.now)),
                Resolution::Reauth(ctx) if ctx.is_sim()
            )
        }
        None => false,
    }
}

/// Wraps a phase for the session table.
pub(crate) fn phase(p: Phase) -> AkaPhase {
    AkaPhase::Sim(Box::new(p))
}

/// The identity request to send after `current` (None: nothing left).
pub(crate) fn escalate(current: Option<IdReq>) -> Option<IdReq> {
    match current {
        None => Some(IdReq::Any),
        Some(IdReq::Any) => Some(IdReq::Fullauth),
        Some(IdReq::Fullauth) => Some(IdReq::Permanent),
        Some(IdReq::Permanent) => None,
    }
}

#[cfg(test)]
mod tests;
