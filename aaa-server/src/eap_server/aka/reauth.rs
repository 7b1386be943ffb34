//! An AKA-Reauthentication is outstanding (RFC 4187 §5, §9.7–9.8; RFC 9048 §3.5).

use super::{Next, imsi_of_user, vector};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::{Accept, Target};
use crate::eap_server::{Reject, Success};
use crate::privacy::{PendingReauth, ReauthOutcome, check_reauth_response};

/// Waiting for the AKA-Reauthentication response.
#[derive(Clone, Debug)]
pub(crate) struct Reauth {
    pending: Box<PendingReauth>,
}

impl Reauth {
    pub(super) fn new(pending: Box<PendingReauth>) -> Self {
        Self { pending }
    }

    /// The peer's AKA-Reauthentication response.
    pub(super) fn receive(self, c: &mut Common, raw: &[u8]) -> Result<Next, Reject> {
        let mk_identity = self.pending.identity().to_vec();
        match check_reauth_response(self.pending, raw) {
            ReauthOutcome::Success {
                msk,
                use_result_ind,
                context,
                ..
            } => {
                // Removed, or K/OPc/AMF/SQN set, since the full
                // authentication that issued the re-auth identity (its
                // version is sealed in it): Access-Reject.
                let notify = use_result_ind.then(|| {
                    (
                        context.k_aut().clone(),
                        Some((context.k_encr().clone(), context.counter())),
                    )
                });
                let accept = Accept {
                    msk,
                    identity: mk_identity,
                    how: Success::FastReauth,
                    notify,
                    imsi: None,
                };
                super::confirm(context.permanent_user(), context.version(), accept)
            }
            // AT_COUNTER_TOO_SMALL (RFC 4187 §5.4): full authentication,
            // no new identity round.
            ReauthOutcome::FullAuth {
                permanent_user,
                mk_identity,
            } => {
                let imsi = imsi_of_user(&permanent_user)?;
                Ok(vector(
                    c,
                    Target {
                        identity: mk_identity.into(),
                        imsi,
                        permanent_user: Some(permanent_user),
                        resynced: false,
                    },
                ))
            }
            ReauthOutcome::Failure(f) => Err(Reject::Reauth(f)),
        }
    }
}
