//! A protected success Notification is outstanding (RFC 4186 §6.2, §9.8–9.9).

use super::{Next, phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::{Reject, Round, Success};
use eap::aka::attr::AtNotification;
use eap::secret::{KAut, Msk};
use eap::sim::attr::AtMac;
use eap::sim::message::{Message, SimPacket, Subtype, verify_packet};

/// How the authentication ends once the peer answered.
type Verdict = Result<(Msk, Vec<u8>, Success), Reject>;

/// Waiting for the answer to the success Notification.
#[derive(Clone, Debug)]
pub(crate) struct Notify {
    k_aut: KAut,
    verdict: Verdict,
}

/// Sends the success Notification (AT_NOTIFICATION 32768, AT_MAC over the
/// packet alone) and waits for its answer before EAP-Success.
pub(super) fn send(c: &mut Common, k_aut: KAut, verdict: Verdict) -> Result<Next, Reject> {
    let msg = Message::new(Subtype::Notification)
        .with(AtNotification::SUCCESS)
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
