//! EAP-SIM fast re-authentication (RFC 4186 §5, §9.7–9.8) with the same
//! sealed re-auth identities as EAP-AKA ([`ReauthContext::for_sim`]): the
//! re-auth identity of an EAP-SIM Challenge, the
//! EAP-Request/SIM/Re-authentication and the check of its response. The
//! keys are EAP-AKA's (RFC 4186 §7 is RFC 4187 §7); only the packets differ.

use super::{
    ExchangeError, IssueFor, PendingReauth, Policy, ReauthFailure, ReauthOutcome, ReauthRandom,
    ReauthStart, enc_err, encr_pair, finish_reauth_response,
};
use crate::privacy::identity::{IssueError, ReauthContext};
use crate::privacy::keys::KeySet;
use eap::aka::attr::{AtCounter, AtNextReauthId, AtNonceS, Attribute};
use eap::aka::keys::{Keys, derive_reauth};
use eap::sim::attr::{AtMac, AtResultInd};
use eap::sim::message::{Message, SimPacket, Subtype, sign_packet, verify_packet};

/// The EAP-SIM re-auth identity to send in the Challenge's AT_NEXT_REAUTH_ID
/// after a full authentication with `keys` (None: the policy offers none, or
/// it would not fit).
///
/// # Errors
/// [`ExchangeError::Issue`] when the permanent user name cannot be sealed.
pub fn issue_sim_reauth_id(
    key_set: &KeySet,
    policy: &Policy,
    who: IssueFor<'_>,
    keys: &Keys,
    realm: &str,
    now: u64,
    iv: [u8; 16],
) -> Result<Option<String>, ExchangeError> {
    if !policy.fast_reauth || policy.reauth_limit < 1 {
        return Ok(None);
    }
    match ReauthContext::after_full_auth(
        who.permanent_user,
        keys,
        who.version,
        now,
        policy.reauth_lifetime,
    )
    .and_then(|ctx| ctx.for_sim().seal(key_set, realm, iv))
    {
        Ok(id) => Ok(Some(id)),
        Err(IssueError::TooLong(_) | IssueError::Version(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Builds the EAP-Request/SIM/Re-authentication for the EAP-SIM `ctx`
/// resolved from `identity` (as received): AT_IV, AT_ENCR_DATA {AT_COUNTER,
/// AT_NONCE_S, AT_NEXT_REAUTH_ID while the next counter is within the
/// limit}, AT_RESULT_IND when the policy offers it, AT_MAC over the packet
/// alone (RFC 4186 §9.7). An EAP-AKA context, a disabled policy or an exhausted counter
/// give [`ReauthStart::FullAuth`].
///
/// # Errors
/// [`ExchangeError`] when something does not encode.
pub fn start_sim_reauth(
    key_set: &KeySet,
    policy: &Policy,
    ctx: ReauthContext,
    identity: &[u8],
    identifier: u8,
    realm: &str,
    random: ReauthRandom,
) -> Result<ReauthStart, ExchangeError> {
    if !ctx.is_sim() || !policy.fast_reauth || ctx.counter() > policy.reauth_limit {
        return Ok(ReauthStart::FullAuth {
            permanent_user: ctx.permanent_user().to_owned(),
        });
    }
    let next_reauth_id = match ctx.next() {
        Some(n) if n.counter() <= policy.reauth_limit => {
            match n.seal(key_set, realm, random.next_id_iv) {
                Ok(id) => Some(id),
                Err(IssueError::TooLong(_)) => None,
                Err(e) => return Err(e.into()),
            }
        }
        _ => None,
    };
    let mut encrypted = vec![
        Attribute::Counter(AtCounter {
            counter: ctx.counter(),
        }),
        Attribute::NonceS(AtNonceS::new(random.nonce_s)),
    ];
    if let Some(id) = &next_reauth_id {
        encrypted.push(Attribute::NextReauthId(AtNextReauthId {
            reauth_id: id.as_bytes().to_vec(),
        }));
    }
    let (iv, data) = encr_pair(ctx.k_encr(), random.iv, &encrypted)?;
    let mut m = Message::new(Subtype::Reauthentication).with(iv).with(data);
    if policy.result_indication {
        m.push(AtResultInd::default());
    }
    m.push(AtMac::ZEROED);
    let mut packet = SimPacket::request(identifier, m)
        .encode()
        .map_err(enc_err)?;
    sign_packet(ctx.k_aut(), &mut packet, &[]).map_err(enc_err)?;
    let keys = derive_reauth(ctx.secret(), identity, ctx.counter(), &random.nonce_s);
    Ok(ReauthStart::Request {
        packet,
        pending: Box::new(PendingReauth {
            ctx,
            identity: identity.to_vec(),
            identifier,
            checkcode: None,
            nonce_s: random.nonce_s,
            next_reauth_id,
            keys,
            result_ind_offered: policy.result_indication,
        }),
    })
}

/// Checks the EAP-Response/SIM/Re-authentication (RFC 4186 §9.8): AT_MAC
/// over packet ‖ NONCE_S, AT_ENCR_DATA{AT_COUNTER echo [,
/// AT_COUNTER_TOO_SMALL]}.
pub fn check_sim_reauth_response(pending: Box<PendingReauth>, response: &[u8]) -> ReauthOutcome {
    use ReauthFailure as F;
    let msg = match SimPacket::decode(response) {
        Ok(SimPacket {
            code: eap::packet::Code::Response,
            identifier,
            message,
        }) if identifier == pending.identifier => message,
        _ => return ReauthOutcome::Failure(F::Malformed),
    };
    match msg.subtype {
        Subtype::Reauthentication => {}
        Subtype::ClientError => return ReauthOutcome::Failure(F::ClientError),
        _ => return ReauthOutcome::Failure(F::Malformed),
    }
    if !verify_packet(pending.ctx.k_aut(), response, &pending.nonce_s) {
        return ReauthOutcome::Failure(F::BadMac);
    }
    finish_reauth_response(pending, msg.iv(), msg.encr_data(), msg.result_ind())
}
