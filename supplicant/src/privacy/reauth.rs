//! The peer's side of the privacy exchanges as pure functions: learning
//! AT_NEXT_PSEUDONYM / AT_NEXT_REAUTH_ID from a Challenge (RFC 4187 §9.3)
//! and answering EAP-Request/AKA-Reauthentication (RFC 4187 §5, §9.7–9.8;
//! RFC 9048 §3.5).

use super::state::PeerReauth;
use eap::aka::attr::{
    AtCheckcode, AtClientErrorCode, AtCounter, AtCounterTooSmall, AtEncrData, AtIv, AtMac,
    AtResultInd, Attribute,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{Method, derive_reauth};
use eap::aka::message::{
    Message, Subtype, decode_encrypted_attributes, encode_encrypted_attributes,
};
use eap::aka::{encr, mac};
use eap::packet::Packet;
use eap::secret::{Emsk, KEncr, Msk};
use zeroize::Zeroizing;

/// Identities a Challenge (or Re-authentication) brought in AT_ENCR_DATA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LearnedIdentities {
    /// AT_NEXT_PSEUDONYM (user part only).
    pub pseudonym: Option<String>,
    /// AT_NEXT_REAUTH_ID (whole NAI).
    pub reauth_id: Option<String>,
}

/// AT_ENCR_DATA that cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LearnError {
    /// AT_ENCR_DATA without AT_IV.
    #[error("AT_ENCR_DATA without AT_IV")]
    MissingIv,
    /// Decryption or decoding of the encrypted attributes failed.
    #[error("encrypted attributes do not decode")]
    Malformed,
    /// An identity that is empty or not UTF-8.
    #[error("AT_NEXT_PSEUDONYM/AT_NEXT_REAUTH_ID is empty or not UTF-8")]
    BadIdentity,
}

fn identity_text(b: &[u8]) -> Result<String, LearnError> {
    let s = std::str::from_utf8(b).map_err(|_| LearnError::BadIdentity)?;
    if s.is_empty() || s.bytes().any(|c| c.is_ascii_control()) {
        return Err(LearnError::BadIdentity);
    }
    Ok(s.to_owned())
}

fn learn_from(attrs: &[Attribute]) -> Result<LearnedIdentities, LearnError> {
    let mut out = LearnedIdentities::default();
    for a in attrs {
        match a {
            Attribute::NextPseudonym(p) => out.pseudonym = Some(identity_text(&p.pseudonym)?),
            Attribute::NextReauthId(r) => out.reauth_id = Some(identity_text(&r.reauth_id)?),
            _ => {}
        }
    }
    Ok(out)
}

fn decrypt_attrs(k_encr: &KEncr, m: &Message) -> Result<Option<Vec<Attribute>>, LearnError> {
    let Some(data) = m.encr_data() else {
        return Ok(None);
    };
    let iv = m.iv().ok_or(LearnError::MissingIv)?;
    let plain = encr::decrypt(k_encr, iv, data).map_err(|_| LearnError::Malformed)?;
    decode_encrypted_attributes(&plain)
        .map(Some)
        .map_err(|_| LearnError::Malformed)
}

/// The identities in an EAP-Request/AKA-Challenge's AT_ENCR_DATA. Call it
/// only after AT_MAC verified (CBC has no integrity); no AT_ENCR_DATA gives
/// an empty result.
///
/// # Errors
/// [`LearnError`]: answer with AKA-Client-Error (RFC 4187 §6.3.1).
pub fn learn_from_challenge(
    k_encr: &KEncr,
    challenge: &Message,
) -> Result<LearnedIdentities, LearnError> {
    match decrypt_attrs(k_encr, challenge)? {
        Some(attrs) => learn_from(&attrs),
        None => Ok(LearnedIdentities::default()),
    }
}

/// Why a re-authentication request is refused with AKA-Client-Error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReauthReject {
    /// Not an EAP-AKA/AKA' Re-authentication request of our method.
    #[error("not a Re-authentication request of the stored method")]
    Malformed,
    /// AT_MAC missing or wrong.
    #[error("AT_MAC does not verify")]
    BadMac,
    /// AT_IV/AT_ENCR_DATA missing or undecodable, or AT_COUNTER/AT_NONCE_S missing.
    #[error("encrypted data missing or malformed")]
    BadEncryptedData,
    /// AT_CHECKCODE is not the hash of the identity round (RFC 4187 §10.13).
    #[error("AT_CHECKCODE does not match the identity round")]
    BadCheckcode,
}

/// The peer's answer to an EAP-Request/AKA-Reauthentication.
#[derive(Debug)]
pub enum PeerReauthResult {
    /// Fresh counter: send `response`; on EAP-Success export `msk`. Store
    /// `counter` as the new `last_counter` and replace the re-auth identity
    /// with `learned.reauth_id` (none: full authentication next time) —
    /// save the state **before** sending the response.
    Success {
        /// The encoded EAP-Response.
        response: Vec<u8>,
        /// The new MSK.
        msk: Msk,
        /// The new EMSK.
        emsk: Emsk,
        /// The accepted AT_COUNTER.
        counter: u16,
        /// AT_NEXT_REAUTH_ID (and, unusually, AT_NEXT_PSEUDONYM) from the request.
        learned: LearnedIdentities,
        /// Both sides asked for protected result indication.
        use_result_ind: bool,
    },
    /// AT_COUNTER not larger than the stored one (a replay): send `response`
    /// (AT_COUNTER_TOO_SMALL, RFC 4187 §5.4), forget the re-auth identity,
    /// and expect a full authentication whose MK identity is the re-auth
    /// identity just used (RFC 4187 §5.4 / §7).
    CounterTooSmall {
        /// The encoded EAP-Response.
        response: Vec<u8>,
        /// The stale counter received.
        received: u16,
    },
    /// Send `response` (AKA-Client-Error, "unable to process packet").
    ClientError {
        /// The encoded EAP-Response.
        response: Vec<u8>,
        /// Why.
        reason: ReauthReject,
    },
}

fn client_error(identifier: u8, method: Method, reason: ReauthReject) -> PeerReauthResult {
    let m = Message::new(Subtype::ClientError).with(AtClientErrorCode::UNABLE_TO_PROCESS_PACKET);
    let response = Packet::aka_response(identifier, method, m)
        .encode()
        .unwrap_or_default();
    PeerReauthResult::ClientError { response, reason }
}

/// What a Re-authentication response says besides the counter.
#[derive(Clone, Copy)]
struct Answer {
    counter: u16,
    too_small: bool,
    result_ind: bool,
    /// Our AT_CHECKCODE, sent when the request carried one.
    checkcode: Option<eap::aka::attr::Checkcode>,
}

/// Builds the EAP-Response/AKA-Reauthentication: AT_IV, AT_ENCR_DATA
/// {AT_COUNTER [, AT_COUNTER_TOO_SMALL]}, AT_RESULT_IND when used,
/// AT_CHECKCODE when asked, AT_MAC over packet ‖ NONCE_S (RFC 4187 §9.8).
fn response(
    st: &PeerReauth,
    identifier: u8,
    answer: Answer,
    nonce_s: &[u8; 16],
    iv: [u8; 16],
) -> Option<Vec<u8>> {
    let Answer {
        counter,
        too_small,
        result_ind,
        checkcode,
    } = answer;
    let mut enc = vec![Attribute::Counter(AtCounter { counter })];
    if too_small {
        enc.push(Attribute::CounterTooSmall(AtCounterTooSmall::default()));
    }
    let plain = Zeroizing::new(encode_encrypted_attributes(&enc).ok()?);
    let ct = encr::encrypt(&st.k_encr, &iv, &plain).ok()?;
    let mut m = Message::new(Subtype::Reauthentication)
        .with(AtIv::new(iv))
        .with(AtEncrData::new(ct));
    if result_ind {
        m.push(AtResultInd::default());
    }
    if let Some(cc) = checkcode {
        m.push(AtCheckcode::new(cc));
    }
    m.push(AtMac::ZEROED);
    let (mut p, at) = Packet::aka_response(identifier, st.method(), m)
        .encode_with_mac_offset()
        .ok()?;
    mac::sign(&st.k_aut, &mut p, at?, nonce_s).ok()?;
    Some(p)
}

/// Processes an EAP-Request/AKA-Reauthentication (the whole EAP packet) with
/// the stored state: verifies AT_MAC, decrypts, checks AT_COUNTER freshness
/// (never accepts a counter ≤ `last_counter`), derives the new MSK with the
/// stored re-auth identity, and builds the response (`iv`: fresh random
/// AT_IV; `want_result_ind`: the profile enables result indication;
/// `identity_round`: the AT_CHECKCODE hash of the AKA-Identity round before
/// this request, if there was one — a request's AT_CHECKCODE must match it,
/// and the response then carries ours, RFC 4187 §10.13).
pub fn process_reauth_request(
    st: &PeerReauth,
    request: &[u8],
    iv: [u8; 16],
    want_result_ind: bool,
    identity_round: Option<&CheckcodeHash>,
) -> PeerReauthResult {
    let method = st.method();
    let packet = match Packet::decode(request) {
        Ok(p) => p,
        Err(_) => {
            let id = request.get(1).copied().unwrap_or(0);
            return client_error(id, method, ReauthReject::Malformed);
        }
    };
    let identifier = packet.identifier();
    let msg = match (&packet, packet.aka()) {
        (Packet::Request { .. }, Some((m, msg)))
            if m == method && msg.subtype == Subtype::Reauthentication =>
        {
            msg
        }
        _ => return client_error(identifier, method, ReauthReject::Malformed),
    };
    let mac_ok = match eap::aka::message::mac_value_offset(request) {
        Ok(Some(off)) => mac::verify(&st.k_aut, request, off, mac::NO_EXTRA),
        _ => false,
    };
    if !mac_ok {
        return client_error(identifier, method, ReauthReject::BadMac);
    }
    // AT_CHECKCODE is trusted only now that AT_MAC verified.
    let checkcode = match msg.checkcode() {
        None => None,
        Some(received) => {
            let ours = identity_round
                .filter(|c| c.method() == method)
                .cloned()
                .unwrap_or_else(|| CheckcodeHash::new(method));
            if !ours.verify_attr(received) {
                return client_error(identifier, method, ReauthReject::BadCheckcode);
            }
            Some(ours.to_attr())
        }
    };
    let attrs = match decrypt_attrs(&st.k_encr, msg) {
        Ok(Some(a)) => a,
        _ => return client_error(identifier, method, ReauthReject::BadEncryptedData),
    };
    let counter = attrs.iter().find_map(|a| match a {
        Attribute::Counter(c) => Some(c.counter),
        _ => None,
    });
    let nonce_s = attrs.iter().find_map(|a| match a {
        Attribute::NonceS(n) => Some(n.nonce_s),
        _ => None,
    });
    let (Some(counter), Some(nonce_s)) = (counter, nonce_s) else {
        return client_error(identifier, method, ReauthReject::BadEncryptedData);
    };
    if counter <= st.last_counter {
        let answer = Answer {
            counter,
            too_small: true,
            result_ind: false,
            checkcode,
        };
        return match response(st, identifier, answer, &nonce_s, iv) {
            Some(response) => PeerReauthResult::CounterTooSmall {
                response,
                received: counter,
            },
            None => client_error(identifier, method, ReauthReject::BadEncryptedData),
        };
    }
    let learned = match learn_from(&attrs) {
        Ok(l) => l,
        Err(_) => return client_error(identifier, method, ReauthReject::BadEncryptedData),
    };
    let use_result_ind = want_result_ind && msg.result_ind();
    let answer = Answer {
        counter,
        too_small: false,
        result_ind: use_result_ind,
        checkcode,
    };
    let Some(resp) = response(st, identifier, answer, &nonce_s, iv) else {
        return client_error(identifier, method, ReauthReject::BadEncryptedData);
    };
    let keys = derive_reauth(&st.secret, st.identity.as_bytes(), counter, &nonce_s);
    PeerReauthResult::Success {
        response: resp,
        msk: keys.msk.clone(),
        emsk: keys.emsk.clone(),
        counter,
        learned,
        use_result_ind,
    }
}

/// A processed EAP-Request/AKA-Notification, see [`process_notification`].
#[derive(Debug)]
pub struct NotificationAnswer {
    /// The notification code (S bit set: success; else failure).
    pub notification: eap::aka::attr::AtNotification,
    /// The encoded EAP-Response/AKA-Notification.
    pub response: Vec<u8>,
}

/// Protected result indication on the peer (RFC 4187 §6.2, §9.10–9.11): a
/// Notification with the P bit clear must carry a valid AT_MAC, and after a
/// fast re-authentication (`reauth_counter`) AT_ENCR_DATA with the same
/// AT_COUNTER; the response carries AT_MAC (and AT_ENCR_DATA{AT_COUNTER}
/// after a re-authentication, `iv` fresh). A pre-challenge notification (P
/// bit set) gets a plain response. The success code is only to be trusted
/// when this returns `Ok`.
///
/// # Errors
/// [`ReauthReject`]: answer with AKA-Client-Error.
pub fn process_notification(
    method: Method,
    k_aut: &eap::secret::KAut,
    k_encr: &KEncr,
    reauth_counter: Option<u16>,
    request: &[u8],
    iv: [u8; 16],
) -> Result<NotificationAnswer, ReauthReject> {
    let packet = Packet::decode(request).map_err(|_| ReauthReject::Malformed)?;
    let identifier = packet.identifier();
    let (m_method, msg) = match (&packet, packet.aka()) {
        (Packet::Request { .. }, Some(x)) => x,
        _ => return Err(ReauthReject::Malformed),
    };
    if m_method != method || msg.subtype != Subtype::Notification {
        return Err(ReauthReject::Malformed);
    }
    let notification = msg.notification().ok_or(ReauthReject::Malformed)?;
    let mut resp = Message::new(Subtype::Notification);
    if notification.pre_challenge {
        let response = Packet::aka_response(identifier, method, resp)
            .encode()
            .map_err(|_| ReauthReject::Malformed)?;
        return Ok(NotificationAnswer {
            notification,
            response,
        });
    }
    let mac_ok = match eap::aka::message::mac_value_offset(request) {
        Ok(Some(off)) => mac::verify(k_aut, request, off, mac::NO_EXTRA),
        _ => false,
    };
    if !mac_ok {
        return Err(ReauthReject::BadMac);
    }
    if let Some(counter) = reauth_counter {
        let attrs = decrypt_attrs(k_encr, msg)
            .ok()
            .flatten()
            .ok_or(ReauthReject::BadEncryptedData)?;
        let echoed = attrs
            .iter()
            .any(|a| matches!(a, Attribute::Counter(c) if c.counter == counter));
        if !echoed {
            return Err(ReauthReject::BadEncryptedData);
        }
        let plain = Zeroizing::new(
            encode_encrypted_attributes(&[Attribute::Counter(AtCounter { counter })])
                .map_err(|_| ReauthReject::BadEncryptedData)?,
        );
        let ct = encr::encrypt(k_encr, &iv, &plain).map_err(|_| ReauthReject::BadEncryptedData)?;
        resp.push(AtIv::new(iv));
        resp.push(AtEncrData::new(ct));
    }
    resp.push(AtMac::ZEROED);
    let (mut response, at) = Packet::aka_response(identifier, method, resp)
        .encode_with_mac_offset()
        .map_err(|_| ReauthReject::Malformed)?;
    let at = at.ok_or(ReauthReject::Malformed)?;
    mac::sign(k_aut, &mut response, at, mac::NO_EXTRA).map_err(|_| ReauthReject::Malformed)?;
    Ok(NotificationAnswer {
        notification,
        response,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::state::PrivacyState;
    use eap::aka::attr::{AtNextPseudonym, AtNextReauthId, AtNonceS};
    use eap::aka::keys::derive_aka_prime;
    use eap::secret::{CkPrime, IkPrime};

    fn state() -> PeerReauth {
        let keys = derive_aka_prime(b"6x@r", &CkPrime::new([1; 16]), &IkPrime::new([2; 16]));
        let mut s = PrivacyState::default();
        s.after_full_auth(
            LearnedIdentities {
                pseudonym: None,
                reauth_id: Some("8id@r".into()),
            },
            &keys,
            None,
        );
        s.reauth.unwrap()
    }

    /// A server-side request built from eap primitives only.
    fn request(st: &PeerReauth, counter: u16, extra: Vec<Attribute>, sign: bool) -> Vec<u8> {
        request_with(st, counter, extra, sign, None)
    }

    /// The same, with AT_CHECKCODE in the request when `checkcode` is given.
    fn request_with(
        st: &PeerReauth,
        counter: u16,
        extra: Vec<Attribute>,
        sign: bool,
        checkcode: Option<eap::aka::attr::Checkcode>,
    ) -> Vec<u8> {
        let mut enc = vec![
            Attribute::Counter(AtCounter { counter }),
            Attribute::NonceS(AtNonceS::new([9; 16])),
        ];
        enc.extend(extra);
        let ct = encr::encrypt(
            &st.k_encr,
            &[4; 16],
            &encode_encrypted_attributes(&enc).unwrap(),
        )
        .unwrap();
        let mut m = Message::new(Subtype::Reauthentication)
            .with(AtIv::new([4; 16]))
            .with(AtEncrData::new(ct));
        if let Some(cc) = checkcode {
            m.push(AtCheckcode::new(cc));
        }
        m.push(AtMac::ZEROED);
        let (mut p, at) = Packet::aka_request(7, Method::AkaPrime, m)
            .encode_with_mac_offset()
            .unwrap();
        if sign {
            mac::sign(&st.k_aut, &mut p, at.unwrap(), mac::NO_EXTRA).unwrap();
        }
        p
    }

    #[test]
    fn fresh_counter_succeeds_and_response_mac_covers_nonce_s() {
        let st = state();
        let next = Attribute::NextReauthId(AtNextReauthId {
            reauth_id: b"8next@r".to_vec(),
        });
        match process_reauth_request(
            &st,
            &request(&st, 1, vec![next], true),
            [5; 16],
            false,
            None,
        ) {
            PeerReauthResult::Success {
                response,
                msk,
                counter,
                learned,
                use_result_ind,
                ..
            } => {
                assert_eq!(counter, 1);
                assert_eq!(learned.reauth_id.as_deref(), Some("8next@r"));
                assert!(!use_result_ind);
                assert_eq!(msk, derive_reauth(&st.secret, b"8id@r", 1, &[9; 16]).msk);
                let off = eap::aka::message::mac_value_offset(&response)
                    .unwrap()
                    .unwrap();
                assert!(mac::verify(&st.k_aut, &response, off, &[9; 16]));
                assert!(!mac::verify(&st.k_aut, &response, off, mac::NO_EXTRA));
            }
            other => panic!("{other:?}"),
        }
    }

    /// RFC 4187 §10.13: AT_CHECKCODE in the request is checked against the
    /// identity round (or none), and the response carries ours.
    #[test]
    fn checkcode_is_checked_and_echoed() {
        let st = state();
        let mut round = CheckcodeHash::new(Method::AkaPrime);
        round.update(&[1, 3, 0, 12, 50, 5, 0, 0, 13, 1, 0, 0]);
        round.update(&[2, 3, 0, 8, 50, 5, 0, 0]);
        let cases = [
            // (identity round the peer saw, AT_CHECKCODE the server sent, accepted)
            (None, eap::aka::attr::Checkcode::Empty, true),
            (Some(&round), round.to_attr(), true),
            (None, round.to_attr(), false),
            (Some(&round), eap::aka::attr::Checkcode::Empty, false),
            (
                Some(&round),
                eap::aka::attr::Checkcode::Sha256([7; 32]),
                false,
            ),
        ];
        for (seen, sent, accepted) in cases {
            let req = request_with(&st, 1, vec![], true, Some(sent));
            match process_reauth_request(&st, &req, [5; 16], false, seen) {
                PeerReauthResult::Success { response, .. } if accepted => {
                    let p = Packet::decode(&response).unwrap();
                    assert_eq!(p.aka().unwrap().1.checkcode(), Some(&sent));
                }
                PeerReauthResult::ClientError {
                    reason: ReauthReject::BadCheckcode,
                    ..
                } if !accepted => {}
                other => panic!("{seen:?} {sent:?}: {other:?}"),
            }
        }
        // No AT_CHECKCODE in the request: none in the response.
        let req = request(&st, 1, vec![], true);
        match process_reauth_request(&st, &req, [5; 16], false, Some(&round)) {
            PeerReauthResult::Success { response, .. } => {
                let p = Packet::decode(&response).unwrap();
                assert_eq!(p.aka().unwrap().1.checkcode(), None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn stale_counter_answers_counter_too_small() {
        let mut st = state();
        st.last_counter = 3;
        for c in [0, 1, 3] {
            match process_reauth_request(&st, &request(&st, c, vec![], true), [5; 16], false, None)
            {
                PeerReauthResult::CounterTooSmall { response, received } => {
                    assert_eq!(received, c);
                    let p = Packet::decode(&response).unwrap();
                    let (_, m) = p.aka().unwrap();
                    let plain =
                        encr::decrypt(&st.k_encr, m.iv().unwrap(), m.encr_data().unwrap()).unwrap();
                    let a = decode_encrypted_attributes(&plain).unwrap();
                    assert!(a.iter().any(|x| matches!(x, Attribute::CounterTooSmall(_))));
                    assert!(
                        a.iter()
                            .any(|x| matches!(x, Attribute::Counter(k) if k.counter == c))
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bad_mac_and_garbage_give_client_error() {
        let st = state();
        let unsigned = request(&st, 1, vec![], false);
        assert!(matches!(
            process_reauth_request(&st, &unsigned, [0; 16], false, None),
            PeerReauthResult::ClientError {
                reason: ReauthReject::BadMac,
                ..
            }
        ));
        let mut flipped = request(&st, 1, vec![], true);
        let n = flipped.len();
        flipped[n - 30] ^= 1;
        assert!(matches!(
            process_reauth_request(&st, &flipped, [0; 16], false, None),
            PeerReauthResult::ClientError { .. }
        ));
        for junk in [&[][..], &[1, 2, 3][..], &[1, 7, 0, 5, 50][..]] {
            assert!(matches!(
                process_reauth_request(&st, junk, [0; 16], false, None),
                PeerReauthResult::ClientError {
                    reason: ReauthReject::Malformed,
                    ..
                }
            ));
        }
    }

    #[test]
    fn notifications_after_reauth_check_mac_and_counter() {
        use eap::aka::attr::AtNotification;
        let st = state();
        let note = |counter: Option<u16>, sign: bool| {
            let mut m = Message::new(Subtype::Notification);
            if let Some(c) = counter {
                let ct = encr::encrypt(
                    &st.k_encr,
                    &[6; 16],
                    &encode_encrypted_attributes(&[Attribute::Counter(AtCounter { counter: c })])
                        .unwrap(),
                )
                .unwrap();
                m.push(AtIv::new([6; 16]));
                m.push(AtEncrData::new(ct));
            }
            m.push(AtNotification::SUCCESS);
            m.push(AtMac::ZEROED);
            let (mut p, at) = Packet::aka_request(9, Method::AkaPrime, m)
                .encode_with_mac_offset()
                .unwrap();
            if sign {
                mac::sign(&st.k_aut, &mut p, at.unwrap(), mac::NO_EXTRA).unwrap();
            }
            p
        };
        let a = process_notification(
            Method::AkaPrime,
            &st.k_aut,
            &st.k_encr,
            Some(2),
            &note(Some(2), true),
            [1; 16],
        )
        .unwrap();
        assert_eq!(a.notification, AtNotification::SUCCESS);
        let off = eap::aka::message::mac_value_offset(&a.response)
            .unwrap()
            .unwrap();
        assert!(mac::verify(&st.k_aut, &a.response, off, mac::NO_EXTRA));
        let p = Packet::decode(&a.response).unwrap();
        assert!(p.aka().unwrap().1.encr_data().is_some());
        assert_eq!(
            process_notification(
                Method::AkaPrime,
                &st.k_aut,
                &st.k_encr,
                Some(3),
                &note(Some(2), true),
                [1; 16]
            )
            .unwrap_err(),
            ReauthReject::BadEncryptedData
        );
        assert_eq!(
            process_notification(
                Method::AkaPrime,
                &st.k_aut,
                &st.k_encr,
                None,
                &note(None, false),
                [1; 16]
            )
            .unwrap_err(),
            ReauthReject::BadMac
        );
        let plain = process_notification(
            Method::AkaPrime,
            &st.k_aut,
            &st.k_encr,
            None,
            &note(None, true),
            [1; 16],
        )
        .unwrap();
        assert!(
            Packet::decode(&plain.response)
                .unwrap()
                .aka()
                .unwrap()
                .1
                .encr_data()
                .is_none()
        );
        assert!(
            process_notification(
                Method::Aka,
                &st.k_aut,
                &st.k_encr,
                None,
                &note(None, true),
                [1; 16]
            )
            .is_err()
        );
    }

    #[test]
    fn learn_from_challenge_attributes() {
        let k = KEncr::new([3; 16]);
        let enc = vec![
            Attribute::NextPseudonym(AtNextPseudonym {
                pseudonym: b"7pseudo".to_vec(),
            }),
            Attribute::NextReauthId(AtNextReauthId {
                reauth_id: b"8re@r".to_vec(),
            }),
        ];
        let ct = encr::encrypt(&k, &[1; 16], &encode_encrypted_attributes(&enc).unwrap()).unwrap();
        let m = Message::new(Subtype::Challenge)
            .with(AtIv::new([1; 16]))
            .with(AtEncrData::new(ct.clone()));
        let l = learn_from_challenge(&k, &m).unwrap();
        assert_eq!(l.pseudonym.as_deref(), Some("7pseudo"));
        assert_eq!(l.reauth_id.as_deref(), Some("8re@r"));
        assert_eq!(
            learn_from_challenge(&k, &Message::new(Subtype::Challenge)).unwrap(),
            LearnedIdentities::default()
        );
        let no_iv = Message::new(Subtype::Challenge).with(AtEncrData::new(ct.clone()));
        assert_eq!(learn_from_challenge(&k, &no_iv), Err(LearnError::MissingIv));
        let wrong_key = learn_from_challenge(&KEncr::new([4; 16]), &m);
        assert!(wrong_key.is_err());
    }
}
