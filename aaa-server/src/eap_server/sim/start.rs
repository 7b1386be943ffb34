//! An EAP-SIM/Start is outstanding (RFC 4186 §9.2–9.3): version
//! negotiation, AT_NONCE_MT, and the identity rounds (§4.2).

use super::{Next, SimTarget, VERSIONS, escalate, imsi_of_user, permanent_imsi, phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::Work;
use crate::eap_server::{Cx, Reject, Round};
use crate::privacy::Resolution;
use eap::aka::message::IdReq;
use eap::identity::Nai;
use eap::sim::attr::{AtAnyIdReq, AtFullauthIdReq, AtPermanentIdReq, AtVersionList};
use eap::sim::message::{Message, SimPacket, Subtype};

/// Waiting for the EAP-SIM/Start response.
#[derive(Clone, Debug)]
pub(crate) struct Start {
    /// The identity request sent (None: the Start asked for no identity).
    level: Option<IdReq>,
    /// Without an identity request: whom the EAP-Response/Identity named
    /// (identity, IMSI, permanent user).
    known: Option<Box<(Vec<u8>, crate::hss::Imsi, String)>>,
}

/// What an identity resolves to.
enum Who {
    /// A subscriber: (identity, IMSI, permanent user).
    Known(Vec<u8>, crate::hss::Imsi, String),
    /// Ask for an identity at this level (or one more specific).
    Ask(IdReq),
    /// An EAP-SIM re-auth identity (as received) and its context: fast
    /// re-authentication (RFC 4186 §5).
    Reauth(Vec<u8>, Box<crate::privacy::ReauthContext>),
}

fn who(cx: &Cx<'_>, identity: &[u8]) -> Who {
    let nai = Nai::parse(identity).ok();
    if let Some(p) = cx.privacy {
        match p.resolve(identity, cx.unix(cx.now)) {
            Resolution::Pseudonym(r) => {
                return match imsi_of_user(&r.permanent_user) {
                    // RFC 4186 §7: the MK identity is the pseudonym as received.
                    Some(imsi) => Who::Known(identity.to_vec(), imsi, r.permanent_user),
                    None => Who::Ask(IdReq::Permanent),
                };
            }
            // An EAP-AKA re-auth identity is not usable in EAP-SIM.
            Resolution::Reauth(ctx) if ctx.is_sim() => {
                return Who::Reauth(identity.to_vec(), Box::new(ctx));
            }
            Resolution::Reauth(_) => return Who::Ask(IdReq::Fullauth),
            Resolution::AskAgain { id_req, .. } => return Who::Ask(id_req),
            _ => {}
        }
    }
    if let (Some(imsi), Some(n)) = (permanent_imsi(identity), nai) {
        return Who::Known(identity.to_vec(), imsi, n.user().to_owned());
    }
    Who::Ask(match nai.map(|n| n.user().bytes().next()) {
        // A decorated or otherwise unusable permanent-looking identity.
        Some(Some(b'1')) => IdReq::Permanent,
        _ => IdReq::Any,
    })
}

/// The first Start for the EAP-Response/Identity `identity`: a decorated
/// NAI (RFC 7542 §3.3.1) gets AT_PERMANENT_ID_REQ, as in EAP-AKA.
pub(super) fn first(cx: &mut Cx<'_>, c: &mut Common, identity: Vec<u8>) -> Result<Next, Reject> {
    if Nai::parse(&identity).is_ok_and(|n| n.is_decorated()) {
        return request(c, Some(IdReq::Permanent), None);
    }
    match who(cx, &identity) {
        Who::Known(id, imsi, user) => {
            c.set_log_identity(user.as_bytes());
            request(c, None, Some(Box::new((id, imsi, user))))
        }
        Who::Ask(level) => request(c, Some(level), None),
        Who::Reauth(id, ctx) => reauth_or(cx, c, &id, *ctx, None),
    }
}

/// Fast re-authentication with `ctx`, or (not allowed now) the next identity
/// request after `level`: AT_FULLAUTH_ID_REQ (RFC 4186 §4.2.1.4).
fn reauth_or(
    cx: &mut Cx<'_>,
    c: &mut Common,
    identity: &[u8],
    ctx: crate::privacy::ReauthContext,
    level: Option<IdReq>,
) -> Result<Next, Reject> {
    c.set_log_identity(ctx.permanent_user().as_bytes());
    if let Some(next) = super::reauth::start(cx, c, ctx, identity)? {
        return Ok(next);
    }
    let next = match level {
        Some(l) if rank(l) >= rank(IdReq::Fullauth) => escalate(Some(l)),
        _ => Some(IdReq::Fullauth),
    };
    match next {
        Some(l) => request(c, Some(l), None),
        None => Err(Reject::NoPermanentIdentity),
    }
}

/// A Start without an identity request for a peer whose identity is known
/// (after AT_COUNTER_TOO_SMALL, RFC 4186 §5.5): `identity` is the MK identity.
pub(super) fn known_start(
    c: &mut Common,
    identity: Vec<u8>,
    imsi: crate::hss::Imsi,
    permanent_user: String,
) -> Result<Next, Reject> {
    request(c, None, Some(Box::new((identity, imsi, permanent_user))))
}

/// An EAP-SIM/Start with AT_VERSION_LIST and the identity request `level`.
fn request(
    c: &mut Common,
    level: Option<IdReq>,
    known: Option<Box<(Vec<u8>, crate::hss::Imsi, String)>>,
) -> Result<Next, Reject> {
    let mut msg = Message::new(Subtype::Start);
    match level {
        Some(IdReq::Any) => msg.push(AtAnyIdReq { reserved: 0 }),
        Some(IdReq::Fullauth) => msg.push(AtFullauthIdReq { reserved: 0 }),
        Some(IdReq::Permanent) => msg.push(AtPermanentIdReq { reserved: 0 }),
        None => {}
    }
    msg.push(AtVersionList {
        versions: VERSIONS.to_vec(),
    });
    let bytes = SimPacket::request(c.next_id(), msg)
        .encode()
        .map_err(|_| Reject::Encoding)?;
    Ok(Next::Request(
        bytes,
        phase(super::Phase::Start(Start { level, known })),
    ))
}

impl Start {
    /// The peer's EAP-SIM/Start response (RFC 4186 §9.2).
    pub(super) fn receive(
        self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        msg: &Message,
    ) -> Result<Next, Reject> {
        if msg.subtype != Subtype::Start {
            return Err(Reject::UnexpectedSubtype(Round::Identity));
        }
        let (identity, imsi, permanent_user) = match (msg.identity(), self.level) {
            (Some(id), _) => {
                let id = id.to_vec();
                c.set_log_identity(&id);
                match who(cx, &id) {
                    Who::Known(id, imsi, user) => (id, imsi, user),
                    Who::Reauth(id, ctx) => return reauth_or(cx, c, &id, *ctx, self.level),
                    Who::Ask(want) => {
                        let next = match self.level {
                            Some(l) if rank(want) <= rank(l) => escalate(Some(l)),
                            _ => Some(want),
                        };
                        return match next {
                            Some(l) => request(c, Some(l), None),
                            None => Err(Reject::NoPermanentIdentity),
                        };
                    }
                }
            }
            (None, Some(_)) => return Err(Reject::NoIdentityAttribute),
            (None, None) => {
                let known = self.known.ok_or(Reject::NoIdentityAttribute)?;
                *known
            }
        };
        // RFC 4186 §9.2: AT_SELECTED_VERSION and AT_NONCE_MT for full authentication.
        match msg.selected_version() {
            Some(v) if VERSIONS.contains(&v) => {}
            _ => return Err(Reject::UnsupportedVersion),
        }
        let nonce_mt = *msg.nonce_mt().ok_or(Reject::NoNonceMt)?;
        c.set_log_identity(permanent_user.as_bytes());
        Ok(Next::Store(Work::Triplets {
            target: SimTarget {
                identity,
                imsi,
                permanent_user,
                nonce_mt,
            },
        }))
    }
}

/// How specific an identity request is (Any < Fullauth < Permanent).
fn rank(l: IdReq) -> u8 {
    match l {
        IdReq::Any => 0,
        IdReq::Fullauth => 1,
        IdReq::Permanent => 2,
    }
}
