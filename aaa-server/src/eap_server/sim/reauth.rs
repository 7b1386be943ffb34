//! An EAP-SIM/Re-authentication is outstanding (RFC 4186 §5, §9.7–9.8):
//! fast re-authentication with a sealed EAP-SIM re-auth identity
//! ([`crate::privacy::ReauthContext::for_sim`]), no new triplets.

use super::{Next, imsi_of_user, phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::{Accept, Work};
use crate::eap_server::{Cx, Reject, Success};
use crate::privacy::{
    PendingReauth, ReauthContext, ReauthOutcome, ReauthRandom, ReauthStart,
    check_sim_reauth_response, start_sim_reauth,
};

/// Waiting for the EAP-SIM/Re-authentication response.
#[derive(Clone, Debug)]
pub(crate) struct Reauth {
    pending: Box<PendingReauth>,
}

/// Sends the EAP-SIM/Re-authentication for `ctx` resolved from `identity`
/// (as received; the Identity of the key derivation, RFC 4186 §7). `None`
/// when a full authentication must run instead (counter beyond the limit,
/// fast re-authentication off, or not an EAP-SIM context).
pub(super) fn start(
    cx: &mut Cx<'_>,
    c: &mut Common,
    ctx: ReauthContext,
    identity: &[u8],
) -> Result<Option<Next>, Reject> {
    let Some(p) = cx.privacy else {
        return Ok(None);
    };
    let random = ReauthRandom {
        nonce_s: cx.rng.bytes16()?,
        iv: cx.rng.bytes16()?,
        next_id_iv: cx.rng.bytes16()?,
    };
    let realm = crate::eap_server::aka::realm_of(identity).unwrap_or_else(|| p.realm.clone());
    let id = c.last_id.wrapping_add(1);
    match start_sim_reauth(&p.keys, &p.policy, ctx, identity, id, &realm, random)
        .map_err(|_| Reject::Encoding)?
    {
        ReauthStart::Request { packet, pending } => {
            c.last_id = id;
            Ok(Some(Next::Request(
                packet,
                phase(super::Phase::Reauth(Box::new(Reauth { pending }))),
            )))
        }
        ReauthStart::FullAuth { .. } => Ok(None),
    }
}

impl Reauth {
    /// The peer's EAP-SIM/Re-authentication response (RFC 4186 §9.8).
    pub(super) fn receive(self, c: &mut Common, raw: &[u8]) -> Result<Next, Reject> {
        let mk_identity = self.pending.identity().to_vec();
        match check_sim_reauth_response(self.pending, raw) {
            ReauthOutcome::Success {
                msk,
                context,
                use_result_ind,
                ..
            } => {
                // RFC 4186 §6.2: the Notification after a fast
                // re-authentication also carries AT_ENCR_DATA{AT_COUNTER}.
                let notify = use_result_ind.then(|| {
                    (
                        context.k_aut().clone(),
                        Some((context.k_encr().clone(), context.counter())),
                    )
                });
                let imsi = imsi_of_user(context.permanent_user()).ok_or(Reject::NoImsi)?;
                // Accepted only while the subscriber is as it was at the full
                // authentication (its store version is sealed in the identity).
                Ok(Next::Store(Work::Confirm {
                    imsi,
                    version: context.version(),
                    accept: Box::new(Accept {
                        msk,
                        identity: mk_identity,
                        how: Success::FastReauth,
                        notify,
                        imsi: None,
                    }),
                }))
            }
            // AT_COUNTER_TOO_SMALL (RFC 4186 §5.5): a full authentication;
            // the peer's identity is known, so a Start without an identity
            // request, the re-auth identity being the MK identity (§7).
            ReauthOutcome::FullAuth {
                permanent_user,
                mk_identity,
            } => {
                let imsi = imsi_of_user(&permanent_user).ok_or(Reject::NoImsi)?;
                super::start::known_start(c, mk_identity, imsi, permanent_user)
            }
            ReauthOutcome::Failure(f) => Err(Reject::Reauth(f)),
        }
    }
}
