//! An AKA-Identity round is outstanding (RFC 4187 §4.1.6, §9.1–9.2).

use super::{Next, identity_request, permanent_imsi, privacy_step, vector};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::Target;
use crate::eap_server::{Cx, Reject, Round};
use eap::aka::message::{IdReq, Message, Subtype};
use eap::identity::IdentityKind;

/// Waiting for the AKA-Identity response to a request at `level`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Identity {
    /// The identity request level sent last.
    level: IdReq,
}

impl Identity {
    pub(super) fn new(level: IdReq) -> Self {
        Self { level }
    }

    /// The peer's AKA-Identity response.
    pub(super) fn receive(
        self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        msg: &Message,
        raw: &[u8],
    ) -> Result<Next, Reject> {
        if msg.subtype != Subtype::Identity {
            return Err(Reject::UnexpectedSubtype(Round::Identity));
        }
        c.checkcode_update(raw);
        let identity = msg.identity().ok_or(Reject::NoIdentityAttribute)?.to_vec();
        c.set_log_identity(&identity);
        if let Some(r) = privacy_step(cx, c, &identity, Some(self.level)) {
            return r;
        }
        if let Some((_, imsi)) = permanent_imsi(&identity) {
            return Ok(vector(
                c,
                Target {
                    identity: identity.into(),
                    imsi,
                    // The identity's own user part.
                    permanent_user: None,
                    resynced: false,
                },
            ));
        }
        // Ask again, one level more specific (Any → Fullauth → Permanent).
        let kind = IdentityKind::from_leading(identity.first().copied().unwrap_or(0));
        let next = match (self.level, kind) {
            (IdReq::Any, IdentityKind::Pseudonym(_)) => IdReq::Permanent,
            (IdReq::Any, _) => IdReq::Fullauth,
            (IdReq::Fullauth, _) => IdReq::Permanent,
            (IdReq::Permanent, _) => return Err(Reject::NoPermanentIdentity),
        };
        identity_request(c, next)
    }
}
