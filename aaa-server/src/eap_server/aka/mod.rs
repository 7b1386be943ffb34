//! EAP-AKA (RFC 4187) and EAP-AKA' (RFC 9048): one type per outstanding
//! request — [`Identity`] (AKA-Identity), [`Challenge`] (AKA-Challenge),
//! [`Reauth`] (AKA-Reauthentication), [`Notify`] (protected result
//! Notification). Each consumes itself with the peer's response and returns
//! the [`Next`] step or a [`Reject`].
//!
//! Nothing here blocks: a step that needs the subscriber store (a vector, a
//! resynchronisation, the subscriber check before Access-Accept, an
//! IMSI-privacy decryption) returns
//! [`Next::Store`] with the [`Work`]; [`resume`] continues with its result.

mod challenge;
mod identity;
mod notify;
mod reauth;

pub(crate) use challenge::Challenge;
pub(crate) use identity::Identity;
pub(crate) use notify::Notify;
pub(crate) use reauth::Reauth;

use super::sessions::Common;
use super::store::{Accept, Done, Target, Work};
use super::{Cx, Reject, Success};
use crate::hss::{Imsi, VectorKind};
use crate::privacy::{
    DecryptedIdentity, ReauthContext, ReauthExchange, ReauthRandom, ReauthStart, Resolution,
    is_encrypted_identity, start_reauth,
};
use eap::aka::attr::{AtAnyIdReq, AtFullauthIdReq, AtPermanentIdReq};
use eap::aka::keys::Method;
use eap::aka::message::{IdReq, Message, Subtype};
use eap::identity::{IdentityKind, Nai};
use eap::packet::{Packet, TypeData};
use eap::secret::Msk;

/// The outstanding request of an AKA/AKA' session.
#[derive(Clone, Debug)]
pub(crate) enum Phase {
    /// AKA-Identity.
    Identity(Identity),
    /// AKA-Challenge.
    Challenge(Box<Challenge>),
    /// AKA-Reauthentication.
    Reauth(Reauth),
    /// A protected result Notification.
    Notify(Box<Notify>),
    /// An EAP-SIM request ([`super::sim`]).
    Sim(Box<super::sim::Phase>),
}

/// What a step leads to.
pub(crate) enum Next {
    /// Send this EAP-Request and wait in this phase.
    Request(Vec<u8>, Phase),
    /// Ask the subscriber store first (off the fast path), then [`resume`].
    Store(Work),
    /// EAP-Success: the MSK, the User-Name (the identity the keys were
    /// derived from), which success, and the subscriber (handed on
    /// directly, not boxed into the session that ends here).
    Success(Msk, Vec<u8>, Success, Option<Imsi>),
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
            if !matches!(phase, Phase::Identity(_) | Phase::Challenge(_)) {
                return Err(Reject::NakAfterMethodStarted);
            }
            nak(cx, c, wanted)
        }
        Some(data) => {
            let Some((method, msg)) = data.aka() else {
                return Err(Reject::OtherEapType);
            };
            if method != c.method {
                return Err(Reject::OtherAkaMethod);
            }
            match msg.subtype {
                Subtype::ClientError => Err(Reject::ClientError),
                Subtype::AuthenticationReject => Err(Reject::AuthenticationReject),
                _ => match phase {
                    Phase::Identity(p) => p.receive(cx, c, msg, raw),
                    Phase::Challenge(p) => (*p).receive(cx, c, msg, raw),
                    Phase::Reauth(p) => p.receive(c, raw),
                    Phase::Notify(p) => (*p).receive(c, msg, raw),
                    Phase::Sim(_) => Err(Reject::OtherEapType),
                },
            }
        }
        // A Response always has type data; an empty one is no AKA packet.
        None => Err(Reject::OtherEapType),
    }
}

/// Continues a step with what the store answered.
pub(crate) fn resume(cx: &mut Cx<'_>, c: &mut Common, done: Done) -> Result<Next, Reject> {
    match done {
        Done::Vector(target, v) => {
            let (v, version) = v.map_err(barred)?;
            challenge::build(cx, c, target, v, version)
        }
        Done::Resync(target, sqn) => {
            sqn?;
            Ok(vector(
                c,
                Target {
                    resynced: true,
                    ..target
                },
            ))
        }
        Done::Decrypt(Ok(d)) => decrypted(c, d),
        Done::Decrypt(Err(_)) => Err(Reject::Undecryptable),
        Done::Triplets(..) => Err(Reject::OtherEapType),
        Done::Confirm(accept, current, authz) => {
            // A bar is a change too: named as such when both apply.
            let authz = authz?;
            if authz.barred {
                return Err(Reject::Barred);
            }
            if !current? {
                return Err(Reject::SubscriberChanged);
            }
            c.reply = (!authz.reply.is_empty()).then(|| Box::new(authz.reply));
            let Accept {
                msk,
                identity,
                how,
                notify,
                imsi,
            } = *accept;
            match notify {
                Some((k_aut, reauth)) => {
                    // Kept in the session for the Notification round.
                    c.imsi = imsi.map(Box::new);
                    notify::send(cx, c, k_aut, reauth, Ok((msk, identity, how)))
                }
                None => Ok(Next::Success(msk, identity, how, imsi)),
            }
        }
    }
}

/// [`HssError::Barred`] as its own [`Reject`].
pub(crate) fn barred(e: crate::hss::HssError) -> Reject {
    match e {
        crate::hss::HssError::Barred => Reject::Barred,
        e => Reject::Hss(e),
    }
}

/// Checks the subscriber with the store ([`Work::Confirm`]) before `accept`:
/// removed, or K/OPc/AMF/SQN set, since `version` ends in
/// [`Reject::SubscriberChanged`].
fn confirm(user: &str, version: u64, accept: Accept) -> Result<Next, Reject> {
    confirm_imsi(imsi_of_user(user)?, version, accept)
}

/// [`confirm`] for the subscriber's IMSI.
fn confirm_imsi(imsi: Imsi, version: u64, accept: Accept) -> Result<Next, Reject> {
    Ok(Next::Store(Work::Confirm {
        imsi,
        version,
        accept: Box::new(accept),
    }))
}

/// Full authentication of a decrypted IMSI-privacy identity, which is also
/// the MK identity (as hostapd does).
fn decrypted(c: &mut Common, d: DecryptedIdentity) -> Result<Next, Reject> {
    let id = d.identity.as_bytes();
    c.set_log_identity(id);
    match (permanent_imsi(id), user_part(id)) {
        (Some((_, imsi)), Some(user)) => Ok(vector(
            c,
            Target {
                identity: id.into(),
                imsi,
                permanent_user: Some(user),
                resynced: false,
            },
        )),
        _ => Err(Reject::DecryptedNotPermanent),
    }
}

/// The first request of `c.method` for the EAP-Response/Identity identity:
/// a Challenge for a permanent NAI, else an AKA-Identity round.
pub(crate) fn begin_method(cx: &mut Cx<'_>, c: &mut Common) -> Result<Next, Reject> {
    c.checkcode = None;
    // Shared, not copied; parsed once here for everything below.
    let identity = c.eap_identity.clone();
    let nai = Nai::parse(&identity).ok();
    let decorated = nai.is_some_and(|n| n.is_decorated());
    if !decorated && let Some(r) = privacy_step(cx, c, &identity, None) {
        return r;
    }
    // A permanent identity (what `permanent_imsi` accepts): its user part
    // is the permanent user name.
    let imsi = match nai.map(|n| (n.kind(), n.imsi())) {
        Some((IdentityKind::Permanent(_), Ok(Some(imsi)))) => Some(imsi),
        _ => None,
    };
    if !decorated && let Some(imsi) = imsi {
        return Ok(vector(
            c,
            Target {
                identity,
                imsi,
                permanent_user: None,
                resynced: false,
            },
        ));
    }
    // RFC 4187 §4.1.6: an unknown re-authentication identity gets
    // AT_FULLAUTH_ID_REQ, an unknown pseudonym or a decorated permanent
    // NAI AT_PERMANENT_ID_REQ, anything else AT_ANY_ID_REQ.
    let level = match nai.map(|n| n.kind()) {
        Some(IdentityKind::FastReauth(_)) => IdReq::Fullauth,
        Some(IdentityKind::Pseudonym(_)) | Some(IdentityKind::Permanent(_)) => IdReq::Permanent,
        _ => IdReq::Any,
    };
    identity_request(c, level)
}

/// Asks the store for a vector, then builds the Challenge for `target`.
fn vector(c: &Common, target: Target) -> Next {
    let kind = match c.method {
        Method::Aka => VectorKind::Aka,
        Method::AkaPrime => VectorKind::AkaPrime,
    };
    Next::Store(Work::Vector { kind, target })
}

/// What the privacy features make of a received identity (RFC 4187 §4.1,
/// §5; `current`: the identity request it answers). `None`: handle it as
/// without privacy (a permanent identity, or something else).
fn privacy_step(
    cx: &mut Cx<'_>,
    c: &mut Common,
    identity: &[u8],
    current: Option<IdReq>,
) -> Option<Result<Next, Reject>> {
    let p = cx.privacy?;
    if is_encrypted_identity(identity) {
        // RSA-OAEP: run by the store workers, never on the fast path.
        return Some(Ok(Next::Store(Work::Decrypt {
            identity: identity.to_vec(),
        })));
    }
    let ask = |c: &mut Common, want: IdReq| match escalate(current, want) {
        Some(l) => identity_request(c, l),
        None => Err(Reject::NoUsableIdentity),
    };
    Some(match p.resolve(identity, cx.unix(cx.now)) {
        Resolution::Permanent | Resolution::Other => return None,
        Resolution::Pseudonym(r) => {
            c.set_log_identity(r.permanent_user.as_bytes());
            // RFC 4187 §7: the MK identity is the pseudonym as received.
            imsi_of_user(&r.permanent_user).map(|imsi| {
                vector(
                    c,
                    Target {
                        identity: identity.into(),
                        imsi,
                        permanent_user: Some(r.permanent_user),
                        resynced: false,
                    },
                )
            })
        }
        // Encrypted identities normally go to the store workers (above).
        Resolution::Decrypted(d) => decrypted(c, d),
        Resolution::Undecryptable(_) => Err(Reject::Undecryptable),
        Resolution::Reauth(ctx) => {
            c.set_log_identity(ctx.permanent_user().as_bytes());
            // An EAP-SIM re-auth identity is not usable in EAP-AKA.
            if ctx.method() != c.method || ctx.is_sim() {
                return Some(ask(c, IdReq::Fullauth));
            }
            start_fast_reauth(cx, c, ctx, identity, current)
        }
        Resolution::AskAgain { id_req, .. } => ask(c, id_req),
    })
}

/// Starts a fast re-authentication (RFC 4187 §5.1, §9.7).
fn start_fast_reauth(
    cx: &mut Cx<'_>,
    c: &mut Common,
    ctx: ReauthContext,
    identity: &[u8],
    current: Option<IdReq>,
) -> Result<Next, Reject> {
    let Some(p) = cx.privacy else {
        return Err(Reject::NoUsableIdentity);
    };
    let random = ReauthRandom {
        nonce_s: cx.rng.bytes16()?,
        iv: cx.rng.bytes16()?,
        next_id_iv: cx.rng.bytes16()?,
    };
    let realm = realm_of(identity).unwrap_or_else(|| p.realm.clone());
    let id = c.last_id.wrapping_add(1);
    let exchange = ReauthExchange {
        identity,
        identifier: id,
        checkcode: c.checkcode.as_deref(),
    };
    match start_reauth(&p.keys, &p.policy, ctx, exchange, &realm, random)
        .map_err(|_| Reject::Encoding)?
    {
        ReauthStart::Request { packet, pending } => {
            c.last_id = id;
            Ok(Next::Request(packet, Phase::Reauth(Reauth::new(pending))))
        }
        ReauthStart::FullAuth { .. } => match escalate(current, IdReq::Fullauth) {
            Some(l) => identity_request(c, l),
            None => Err(Reject::NoUsableIdentity),
        },
    }
}

/// An AKA-Identity request at `level` (RFC 4187 §9.1).
fn identity_request(c: &mut Common, level: IdReq) -> Result<Next, Reject> {
    let msg = match level {
        IdReq::Any => Message::new(Subtype::Identity).with(AtAnyIdReq { reserved: 0 }),
        IdReq::Fullauth => Message::new(Subtype::Identity).with(AtFullauthIdReq { reserved: 0 }),
        IdReq::Permanent => Message::new(Subtype::Identity).with(AtPermanentIdReq { reserved: 0 }),
    };
    let pkt = Packet::Request {
        identifier: c.next_id(),
        data: TypeData::from_aka(c.method, msg),
    };
    let bytes = pkt.encode().map_err(|_| Reject::Encoding)?;
    c.checkcode_update(&bytes);
    Ok(Next::Request(bytes, Phase::Identity(Identity::new(level))))
}

/// Legacy-Nak (RFC 3748 §5.3.1): switch to the other AKA method once.
fn nak(cx: &mut Cx<'_>, c: &mut Common, wanted: &[u8]) -> Result<Next, Reject> {
    if c.nak_used {
        return Err(Reject::SecondNak);
    }
    c.nak_used = true;
    // The first method of `[eap] methods` the peer names, EAP-SIM included.
    match cx.nak_pick(c, wanted).ok_or(Reject::MethodRefused)? {
        Some(other) => {
            c.method = other;
            begin_method(cx, c)
        }
        None => super::sim::begin(cx, c),
    }
}

/// The user part of `identity` (up to its last `@`).
fn local_part(identity: &[u8]) -> &[u8] {
    match identity.iter().rposition(|&b| b == b'@') {
        Some(i) => &identity[..i],
        None => identity,
    }
}

/// The IMSI of a permanent identity (leading 0/6, decorated or not).
fn permanent_imsi(identity: &[u8]) -> Option<(Method, Imsi)> {
    let nai = Nai::parse(identity).ok()?;
    let IdentityKind::Permanent(m) = nai.kind() else {
        return None;
    };
    // `Nai::imsi` checks the digits (one allocation: the IMSI's own).
    Some((m, nai.imsi().ok()??))
}

/// The NAI user part of a permanent identity (what issued identities seal).
fn user_part(identity: &[u8]) -> Option<String> {
    Nai::parse(identity).ok().map(|n| n.user().to_owned())
}

/// The realm of `identity`, if it has one.
pub(super) fn realm_of(identity: &[u8]) -> Option<String> {
    realm_in(Nai::parse(identity).ok()).map(str::to_owned)
}

/// The realm of a parsed identity, if it has one (borrowed).
fn realm_in(nai: Option<Nai<'_>>) -> Option<&str> {
    nai.and_then(|n| n.home_realm()).filter(|r| !r.is_empty())
}

/// The IMSI of a permanent user name.
fn imsi_of_user(user: &str) -> Result<Imsi, Reject> {
    permanent_imsi(user.as_bytes())
        .map(|(_, i)| i)
        .ok_or(Reject::NoImsi)
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
