//! An AKA-Reauthentication is outstanding (RFC 4187 §5, §9.7–9.8; RFC 9048 §3.5).

use super::{Next, imsi_of_user, vector};
use crate::eap_server::sessions::Common;
use crate::eap_server::store::Target;
use crate::eap_server::{Cx, Reject, Success};
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
    pub(super) fn receive(
        self,
        cx: &mut Cx<'_>,
        c: &mut Common,
        raw: &[u8],
    ) -> Result<Next, Reject> {
        let mk_identity = self.pending.identity().to_vec();
        match check_reauth_response(self.pending, raw) {
            ReauthOutcome::Success {
                msk,
                use_result_ind,
                context,
                ..
            } => {
                if use_result_ind {
                    let k = (context.k_encr().clone(), context.counter());
                    return super::notify::send(
                        cx,
                        c,
                        context.k_aut().clone(),
                        Some(k),
                        Ok((msk, mk_identity, Success::FastReauth)),
                    );
                }
                Ok(Next::Success(msk, mk_identity, Success::FastReauth))
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
                        identity: mk_identity,
                        imsi,
                        permanent_user,
                        resynced: false,
                    },
                ))
            }
            ReauthOutcome::Failure(f) => Err(Reject::Reauth(f)),
        }
    }
}
