//! A protected success or failure Notification, or the unprotected
//! "General failure" one, is outstanding (RFC 4186 §6.2, §6.3.1, §9.8–9.9).

use super::{Next, phase};
use crate::eap_server::sessions::Common;
use crate::eap_server::{Cx, Reject, Round, Success};
use eap::aka::attr::{AtCounter, AtEncrData, AtIv, AtNotification, Attribute};
use eap::secret::{KAut, KEncr, Msk};
use eap::sim::attr::AtMac;
use eap::sim::message::{
    Message, SimPacket, Subtype, decode_encrypted_attributes, encode_encrypted_attributes,
    verify_packet,
};

/// How the authentication ends once the peer answered.
type Verdict = Result<(Msk, Vec<u8>, Success), Reject>;

/// Waiting for the answer to the success or failure Notification.
#[derive(Clone, Debug)]
pub(crate) struct Notify {
    /// `None` for the unprotected "General failure" Notification (P bit 1).
    k_aut: Option<KAut>,
    /// After a fast re-authentication: K_encr and the counter to echo.
    reauth: Option<(KEncr, u16)>,
    verdict: Verdict,
}

/// Sends the success Notification (AT_NOTIFICATION 32768) or, for an
/// `Err` verdict, the failure one (0, "General failure after
/// authentication"), both with AT_MAC over the packet alone (P bit 0) —
/// after a fast re-authentication also AT_IV, AT_ENCR_DATA{AT_COUNTER}
/// (§9.8) — and waits for its answer before EAP-Success / EAP-Failure.
pub(super) fn send(
    cx: &mut Cx<'_>,
    c: &mut Common,
    k_aut: KAut,
    reauth: Option<(KEncr, u16)>,
    verdict: Verdict,
) -> Result<Next, Reject> {
    let code = if verdict.is_ok() {
        AtNotification::SUCCESS
    } else {
        AtNotification::GENERAL_FAILURE_AFTER_AUTHENTICATION
    };
    let mut msg = Message::new(Subtype::Notification);
    if let Some((k_encr, counter)) = &reauth {
        let iv = cx.rng.bytes16()?;
        let plain = zeroize::Zeroizing::new(
            encode_encrypted_attributes(&[Attribute::Counter(AtCounter { counter: *counter })])
                .map_err(|_| Reject::Encoding)?,
        );
        let ct = eap::aka::encr::encrypt(k_encr, &iv, &plain).map_err(|_| Reject::Encoding)?;
        msg.push(AtIv::new(iv));
        msg.push(AtEncrData::new(ct));
    }
    msg.push(code);
    msg.push(AtMac::ZEROED);
    let (mut bytes, off) = SimPacket::request(c.next_id(), msg)
        .encode_with_mac_offset()
        .map_err(|_| Reject::Encoding)?;
    let off = off.ok_or(Reject::Encoding)?;
    eap::aka::mac::sign(&k_aut, &mut bytes, off, &[]).map_err(|_| Reject::Encoding)?;
    Ok(Next::Request(
        bytes,
        phase(super::Phase::Notify(Box::new(Notify {
            k_aut: Some(k_aut),
            reauth,
            verdict,
        }))),
    ))
}

/// The Challenge response did not verify: the unprotected "General failure"
/// Notification (AT_NOTIFICATION 16384, P bit 1, no AT_MAC — RFC 4186
/// §6.3.1), whose answer is followed by EAP-Failure for `why`.
pub(super) fn send_general_failure(c: &mut Common, why: Reject) -> Result<Next, Reject> {
    let msg = Message::new(Subtype::Notification).with(AtNotification::GENERAL_FAILURE);
    let bytes = SimPacket::request(c.next_id(), msg)
        .encode()
        .map_err(|_| Reject::Encoding)?;
    Ok(Next::Request(
        bytes,
        phase(super::Phase::Notify(Box::new(Notify {
            k_aut: None,
            reauth: None,
            verdict: Err(why),
        }))),
    ))
}

impl Notify {
    /// The peer's EAP-SIM/Notification answer: AT_MAC over the packet
    /// (§9.9), after a fast re-authentication AT_ENCR_DATA{AT_COUNTER} echoed.
    pub(super) fn receive(self, c: &mut Common, msg: &Message, raw: &[u8]) -> Result<Next, Reject> {
        if msg.subtype != Subtype::Notification {
            return Err(Reject::UnexpectedSubtype(Round::Notification));
        }
        // After the unprotected Notification: any Notification response
        // (RFC 4186 §9.9: no attributes) ends in EAP-Failure for the reason kept.
        let Some(k_aut) = &self.k_aut else {
            return match self.verdict {
                Err(why) => Err(why),
                Ok(_) => Err(Reject::BadNotificationResponse),
            };
        };
        if !verify_packet(k_aut, raw, &[]) {
            return Err(Reject::BadNotificationResponse);
        }
        if let Some((k_encr, counter)) = &self.reauth {
            let echoed = match (msg.iv(), msg.encr_data()) {
                (Some(iv), Some(data)) => eap::aka::encr::decrypt(k_encr, iv, data)
                    .ok()
                    .and_then(|p| decode_encrypted_attributes(&p).ok())
                    .is_some_and(|attrs| {
                        attrs
                            .iter()
                            .any(|a| matches!(a, Attribute::Counter(c) if c.counter == *counter))
                    }),
                _ => false,
            };
            if !echoed {
                return Err(Reject::BadNotificationResponse);
            }
        }
        let (msk, identity, how) = self.verdict?;
        Ok(Next::Success(msk, identity, how, c.imsi.take().map(|i| *i)))
    }
}
