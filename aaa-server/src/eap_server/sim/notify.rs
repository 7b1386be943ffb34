//! A protected success or failure Notification is outstanding (RFC 4186
//! §6.2, §6.3.1, §9.8–9.9).

use super::{Next, phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::{Reject, Round, Success};
use eap::aka::attr::AtNotification;
use eap::secret::{KAut, Msk};
use eap::sim::attr::AtMac;
use eap::sim::message::{Message, SimPacket, Subtype, verify_packet};

/// How the authentication ends once the peer answered.
type Verdict = Result<(Msk, Vec<u8>, Success), Reject>;

/// Waiting for the answer to the success or failure Notification.
#[derive(Clone, Debug)]
pub(crate) struct Notify {
    k_aut: KAut,
    verdict: Verdict,
}

/// Sends the success Notification (AT_NOTIFICATION 32768) or, for an
/// `Err` verdict, the failure one (0, "General failure after
/// authentication"), both with AT_MAC over the packet alone (P bit 0), and
/// waits for its answer before EAP-Success / EAP-Failure.
pub(super) fn send(c: &mut Common, k_aut: KAut, verdict: Verdict) -> Result<Next, Reject> {
    let code = if verdict.is_ok() {
        AtNotification::SUCCESS
    } else {
        AtNotification::GENERAL_FAILURE_AFTER_AUTHENTICATION
    };
    let msg = Message::new(Subtype::Notification)
        .with(code)
        .with(AtMac::ZEROED);
    let (mut bytes, off) = SimPacket::request(c.next_id(), msg)
        .encode_with_mac_offset()
        .map_err(|_| Reject::Encoding)?;
    let off = off.ok_or(Reject::Encoding)?;
    eap::aka::mac::sign(&k_aut, &mut bytes, off, &[]).map_err(|_| Reject::Encoding)?;
    Ok(Next::Request(
        bytes,
        phase(super::Phase::Notify(Box::new(Notify { k_aut, verdict }))),
    ))
}

impl Notify {
    /// The peer's EAP-SIM/Notification answer: AT_MAC over the packet (§9.9).
    pub(super) fn receive(
        self,
        _c: &mut Common,
        msg: &Message,
        raw: &[u8],
    ) -> Result<Next, Reject> {
        if msg.subtype != Subtype::Notification {
            return Err(Reject::UnexpectedSubtype(Round::Notification));
        }
        if !verify_packet(&self.k_aut, raw, &[]) {
            return Err(Reject::BadNotificationResponse);
        }
        let (msk, identity, how) = self.verdict?;
        Ok(Next::Success(msk, identity, how))
    }
}
