//! A protected result Notification is outstanding (RFC 4187 §6.2, §9.10–9.11).

use super::{Next, Phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::{Cx, Reject, Round, Success};
use crate::privacy::{check_notification_response, result_notification};
use eap::aka::message::{Message, Subtype};
use eap::secret::{KAut, KEncr, Msk};

/// How the authentication ends once the peer answered the notification:
/// the MSK, the User-Name and which success, or why it failed.
pub(super) type Verdict = Result<(Msk, Vec<u8>, Success), Reject>;

/// Waiting for the answer to a protected success or failure Notification.
#[derive(Clone, Debug)]
pub(crate) struct Notify {
    k_aut: KAut,
    /// After a fast re-authentication: K_encr and the counter to echo.
    reauth: Option<(KEncr, u16)>,
    verdict: Verdict,
}

/// Sends a protected success or failure Notification (RFC 4187 §6.2,
/// §9.10) and waits for its answer before EAP-Success/Failure.
pub(super) fn send(
    cx: &mut Cx<'_>,
    c: &mut Common,
    k_aut: KAut,
    reauth: Option<(KEncr, u16)>,
    verdict: Verdict,
) -> Result<Next, Reject> {
    let iv = cx.rng.bytes16()?;
    let id = c.last_id.wrapping_add(1);
    let pkt = result_notification(
        c.method,
        id,
        &k_aut,
        verdict.is_ok(),
        reauth.as_ref().map(|(k, n)| (k, *n, iv)),
    )
    .map_err(|_| Reject::Encoding)?;
    c.last_id = id;
    let phase = Notify {
        k_aut,
        reauth,
        verdict,
    };
    Ok(Next::Request(pkt, Phase::Notify(Box::new(phase))))
}

impl Notify {
    /// The peer's AKA-Notification answer.
    pub(super) fn receive(self, c: &mut Common, msg: &Message, raw: &[u8]) -> Result<Next, Reject> {
        if msg.subtype != Subtype::Notification {
            return Err(Reject::UnexpectedSubtype(Round::Notification));
        }
        let reauth = self.reauth.as_ref().map(|(k, n)| (k, *n));
        if !check_notification_response(c.method, c.last_id, &self.k_aut, reauth, raw) {
            return Err(Reject::BadNotificationResponse);
        }
        let (msk, identity, how) = self.verdict?;
        Ok(Next::Success(msk, identity, how, c.imsi.take().map(|i| *i)))
    }
}
