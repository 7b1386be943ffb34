//! The server's side of the privacy exchanges as pure functions: the
//! encrypted identities of a Challenge (RFC 4187 §9.3, AT_NEXT_PSEUDONYM /
//! AT_NEXT_REAUTH_ID in AT_ENCR_DATA) and fast re-authentication (RFC 4187
//! §5, §9.7–9.8; RFC 9048 §3.5). Randomness (IV, NONCE_S) comes in as
//! arguments so that the EAP server stays sans-IO and tests are exact.

use super::identity::{IssueError, ReauthContext, make_pseudonym};
use super::keys::KeySet;
use eap::aka::attr::{
    AtCheckcode, AtCounter, AtEncrData, AtIv, AtMac, AtNextPseudonym, AtNextReauthId, AtNonceS,
    AtResultInd, Attribute,
};
use eap::aka::checkcode::CheckcodeHash;
use eap::aka::keys::{Keys, Method, ReauthKeys, derive_reauth};
use eap::aka::message::{
    Message, Subtype, decode_encrypted_attributes, encode_encrypted_attributes,
};
use eap::aka::{encr, mac};
use eap::packet::Packet;
use eap::secret::{Emsk, KEncr, Msk};

mod sim;
pub use sim::{check_sim_reauth_response, issue_sim_reauth_id, start_sim_reauth};

/// Server privacy policy (`[privacy]` in the configuration).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Issue AT_NEXT_PSEUDONYM after a full authentication.
    pub pseudonyms: bool,
    /// Issue AT_NEXT_REAUTH_ID and accept fast re-authentication.
    pub fast_reauth: bool,
    /// Highest AT_COUNTER value allowed; beyond it a full authentication runs.
    pub reauth_limit: u16,
    /// Lifetime of a re-auth identity from the full authentication, seconds.
    pub reauth_lifetime: u64,
    /// Offer AT_RESULT_IND (protected success/failure notifications).
    pub result_indication: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            pseudonyms: true,
            fast_reauth: true,
            reauth_limit: 16,
            reauth_lifetime: 86_400,
            result_indication: false,
        }
    }
}

/// Something the exchange could not encode (an internal error, not the peer's fault).
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// An attribute or packet did not encode.
    #[error("encoding: {0}")]
    Encode(String),
    /// An identity could not be issued.
    #[error(transparent)]
    Issue(#[from] IssueError),
}

fn enc_err(e: impl core::fmt::Display) -> ExchangeError {
    ExchangeError::Encode(e.to_string())
}

/// The temporary identities issued after a full authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NextIdentities {
    /// Pseudonym user part for AT_NEXT_PSEUDONYM.
    pub pseudonym: Option<String>,
    /// Re-auth NAI for AT_NEXT_REAUTH_ID.
    pub reauth_id: Option<String>,
}

/// Whose full authentication issues identities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssueFor<'a> {
    /// The permanent user name (NAI user part) the identities seal.
    pub permanent_user: &'a str,
    /// The subscriber's store version the vector was made from, sealed in
    /// the re-auth identity ([`ReauthContext::version`]); 0 for stores
    /// without versions.
    pub version: u64,
}

/// Issues the identities the policy allows for a full authentication of
/// `who` with `keys` (the method follows from them; `ivs`: one
/// fresh random IV per identity).
/// A realm too long for a 253-byte re-auth identity just means no re-auth id.
///
/// # Errors
/// [`ExchangeError::Issue`] when the permanent user name cannot be sealed.
pub fn issue_after_full_auth(
    key_set: &KeySet,
    policy: &Policy,
    who: IssueFor<'_>,
    keys: &Keys,
    realm: &str,
    now: u64,
    ivs: [[u8; 16]; 2],
) -> Result<NextIdentities, ExchangeError> {
    let IssueFor {
        permanent_user,
        version,
    } = who;
    let pseudonym = if policy.pseudonyms {
        Some(make_pseudonym(
            key_set,
            keys.method(),
            permanent_user,
            ivs[0],
        )?)
    } else {
        None
    };
    let reauth_id = if policy.fast_reauth && policy.reauth_limit >= 1 {
        match ReauthContext::after_full_auth(
            permanent_user,
            keys,
            version,
            now,
            policy.reauth_lifetime,
        )
        .and_then(|ctx| ctx.seal(key_set, realm, ivs[1]))
        {
            Ok(id) => Some(id),
            Err(IssueError::TooLong(_) | IssueError::Version(_)) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    Ok(NextIdentities {
        pseudonym,
        reauth_id,
    })
}

/// AT_IV and AT_ENCR_DATA carrying `encrypted` (already-chosen encrypted
/// attributes), under K_encr with `iv`.
fn encr_pair(
    k_encr: &KEncr,
    iv: [u8; 16],
    encrypted: &[Attribute],
) -> Result<(AtIv, AtEncrData), ExchangeError> {
    let plain = zeroize::Zeroizing::new(encode_encrypted_attributes(encrypted).map_err(enc_err)?);
    let ct = encr::encrypt(k_encr, &iv, &plain).map_err(enc_err)?;
    Ok((AtIv::new(iv), AtEncrData::new(ct)))
}

/// The (AT_IV, AT_ENCR_DATA) pair to add to the EAP-Request/AKA-Challenge
/// before AT_MAC (RFC 4187 §9.3), or `None` when nothing is issued.
///
/// # Errors
/// [`ExchangeError::Encode`] (an identity too long for an attribute).
pub fn challenge_attributes(
    k_encr: &KEncr,
    iv: [u8; 16],
    next: &NextIdentities,
) -> Result<Option<(AtIv, AtEncrData)>, ExchangeError> {
    let mut attrs = Vec::new();
    if let Some(p) = &next.pseudonym {
        attrs.push(Attribute::NextPseudonym(AtNextPseudonym {
            pseudonym: p.as_bytes().to_vec(),
        }));
    }
    if let Some(r) = &next.reauth_id {
        attrs.push(Attribute::NextReauthId(AtNextReauthId {
            reauth_id: r.as_bytes().to_vec(),
        }));
    }
    if attrs.is_empty() {
        return Ok(None);
    }
    encr_pair(k_encr, iv, &attrs).map(Some)
}

/// Randomness for one re-authentication round, from the OS RNG in production.
#[derive(Clone, Copy, Debug)]
pub struct ReauthRandom {
    /// NONCE_S (RFC 4187 §10.18).
    pub nonce_s: [u8; 16],
    /// AT_IV of the request.
    pub iv: [u8; 16],
    /// IV inside the next re-auth identity.
    pub next_id_iv: [u8; 16],
}

/// What the exchange so far brings to the re-authentication request.
#[derive(Clone, Copy, Debug)]
pub struct ReauthExchange<'a> {
    /// The re-authentication identity as the peer sent it (the Identity of
    /// the re-authentication key derivation, RFC 4187 §7).
    pub identity: &'a [u8],
    /// The EAP Identifier of the request.
    pub identifier: u8,
    /// AT_CHECKCODE over the AKA-Identity round that brought the identity,
    /// if there was one (RFC 4187 §10.13); sent in the request and checked
    /// in the response.
    pub checkcode: Option<&'a CheckcodeHash>,
}

/// What to do with a resolved re-auth identity.
#[derive(Debug)]
pub enum ReauthStart {
    /// Run a full authentication of this permanent user (counter beyond
    /// `reauth_limit`, or fast re-auth disabled). Ask with AT_FULLAUTH_ID_REQ
    /// or go straight to the Challenge with the permanent identity.
    FullAuth {
        /// The permanent user name from the context.
        permanent_user: String,
    },
    /// Send `packet` (EAP-Request/AKA-Reauthentication) and keep `pending`
    /// in the session until the response.
    Request {
        /// The encoded EAP packet.
        packet: Vec<u8>,
        /// Per-session state for [`check_reauth_response`].
        pending: Box<PendingReauth>,
    },
}

/// Session state between the Re-authentication request and its response.
#[derive(Clone, Debug)]
pub struct PendingReauth {
    ctx: ReauthContext,
    identity: Vec<u8>,
    identifier: u8,
    /// AT_CHECKCODE sent in the request (None: no identity round).
    checkcode: Option<Box<CheckcodeHash>>,
    nonce_s: [u8; 16],
    next_reauth_id: Option<String>,
    keys: ReauthKeys,
    result_ind_offered: bool,
}

impl PendingReauth {
    /// The permanent user being re-authenticated (for logs: mask it).
    pub fn permanent_user(&self) -> &str {
        self.ctx.permanent_user()
    }

    /// The EAP method of the exchange.
    pub fn method(&self) -> Method {
        self.ctx.method()
    }

    /// The re-auth identity the peer presented (also the MK identity of a
    /// full authentication that follows AT_COUNTER_TOO_SMALL, RFC 4187 §7).
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    /// The context of this re-authentication (K_aut for result notifications).
    pub fn context(&self) -> &ReauthContext {
        &self.ctx
    }
}

/// Builds the EAP-Request/AKA-Reauthentication for `ctx` resolved from
/// `identity` (the re-auth NAI exactly as received in EAP-Response/Identity
/// or AT_IDENTITY, used in the key derivation): AT_IV, AT_ENCR_DATA
/// {AT_COUNTER, AT_NONCE_S, AT_NEXT_REAUTH_ID when the next counter is still
/// within the limit}, AT_RESULT_IND when offered, AT_MAC (RFC 4187 §9.7).
///
/// # Errors
/// [`ExchangeError`] when something does not encode.
pub fn start_reauth(
    key_set: &KeySet,
    policy: &Policy,
    ctx: ReauthContext,
    exchange: ReauthExchange<'_>,
    realm: &str,
    random: ReauthRandom,
) -> Result<ReauthStart, ExchangeError> {
    let ReauthExchange {
        identity,
        identifier,
        checkcode,
    } = exchange;
    let checkcode = checkcode.filter(|c| c.packets() > 0);
    if !policy.fast_reauth || ctx.counter() > policy.reauth_limit {
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
    if let Some(cc) = checkcode {
        m.push(AtCheckcode::new(cc.to_attr()));
    }
    m.push(AtMac::ZEROED);
    let method = ctx.method();
    let (mut packet, mac_at) = Packet::aka_request(identifier, method, m)
        .encode_with_mac_offset()
        .map_err(enc_err)?;
    let mac_at = mac_at.ok_or_else(|| ExchangeError::Encode("no AT_MAC".into()))?;
    mac::sign(ctx.k_aut(), &mut packet, mac_at, mac::NO_EXTRA).map_err(enc_err)?;
    let keys = derive_reauth(ctx.secret(), identity, ctx.counter(), &random.nonce_s);
    Ok(ReauthStart::Request {
        packet,
        pending: Box::new(PendingReauth {
            ctx,
            identity: identity.to_vec(),
            identifier,
            checkcode: checkcode.map(|c| Box::new(c.clone())),
            nonce_s: random.nonce_s,
            next_reauth_id,
            keys,
            result_ind_offered: policy.result_indication,
        }),
    })
}

/// Why a re-authentication response was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReauthFailure {
    /// Not an EAP-Response of the right method and identifier, or it does not decode.
    #[error("response does not decode or does not match the request")]
    Malformed,
    /// The peer sent AKA-Client-Error (RFC 4187 §6.3.1).
    #[error("peer sent Client-Error")]
    ClientError,
    /// AT_MAC missing or wrong (over the packet ‖ NONCE_S).
    #[error("AT_MAC does not verify")]
    BadMac,
    /// AT_IV/AT_ENCR_DATA missing or the encrypted attributes do not decode.
    #[error("encrypted data missing or malformed")]
    BadEncryptedData,
    /// AT_COUNTER missing or not the value the server sent.
    #[error("AT_COUNTER does not echo the server's counter")]
    CounterMismatch,
    /// AT_CHECKCODE present and not the hash of the identity round (RFC 4187 §10.13).
    #[error("AT_CHECKCODE does not match the identity round")]
    BadCheckcode,
}

/// The outcome of a re-authentication response.
#[derive(Debug)]
pub enum ReauthOutcome {
    /// Success: send EAP-Success (after a success Notification when
    /// `use_result_ind`), export `msk`.
    Success {
        /// The new MSK.
        msk: Msk,
        /// The new EMSK.
        emsk: Emsk,
        /// The permanent user (for logs and accounting).
        permanent_user: String,
        /// Both sides asked for protected result indication (RFC 4187 §6.2).
        use_result_ind: bool,
        /// The re-auth id that went to the peer (it now holds it).
        next_reauth_id: Option<String>,
        /// The context used (K_aut, K_encr and the counter for a
        /// [`result_notification`] when `use_result_ind`).
        context: Box<ReauthContext>,
    },
    /// AT_COUNTER_TOO_SMALL (RFC 4187 §5.4): run a full authentication of
    /// this permanent user (the peer already sent its identity: no new
    /// identity round is needed, RFC 4187 §5.5).
    FullAuth {
        /// The permanent user name.
        permanent_user: String,
        /// The identity for the MK of that full authentication: the re-auth
        /// identity the peer sent (no new identity round, RFC 4187 §5.4, §7).
        mk_identity: Vec<u8>,
    },
    /// Send EAP-Failure (after a failure Notification when result
    /// indication is in use).
    Failure(ReauthFailure),
}

/// Checks the EAP-Response/AKA-Reauthentication (RFC 4187 §9.8): AT_MAC over
/// packet ‖ NONCE_S, AT_ENCR_DATA{AT_COUNTER echo [, AT_COUNTER_TOO_SMALL]}.
pub fn check_reauth_response(pending: Box<PendingReauth>, response: &[u8]) -> ReauthOutcome {
    use ReauthFailure as F;
    let method = pending.ctx.method();
    let packet = match Packet::decode(response) {
        Ok(p) => p,
        Err(_) => return ReauthOutcome::Failure(F::Malformed),
    };
    let (m_method, msg) = match (&packet, packet.aka()) {
        (Packet::Response { identifier, .. }, Some(x)) if *identifier == pending.identifier => x,
        _ => return ReauthOutcome::Failure(F::Malformed),
    };
    if m_method != method {
        return ReauthOutcome::Failure(F::Malformed);
    }
    match msg.subtype {
        Subtype::Reauthentication => {}
        Subtype::ClientError => return ReauthOutcome::Failure(F::ClientError),
        _ => return ReauthOutcome::Failure(F::Malformed),
    }
    let mac_ok = match eap::aka::message::mac_value_offset(response) {
        Ok(Some(off)) => mac::verify(pending.ctx.k_aut(), response, off, &pending.nonce_s),
        _ => false,
    };
    if !mac_ok {
        return ReauthOutcome::Failure(F::BadMac);
    }
    // Optional in the response; when present it must match (RFC 4187 §10.13).
    if let Some(cc) = msg.checkcode() {
        let ok = match pending.checkcode.as_deref() {
            Some(ours) => ours.verify_attr(cc),
            None => CheckcodeHash::new(method).verify_attr(cc),
        };
        if !ok {
            return ReauthOutcome::Failure(F::BadCheckcode);
        }
    }
    finish_reauth_response(pending, msg.iv(), msg.encr_data(), msg.result_ind())
}

/// The end of a re-authentication response check, the same for EAP-AKA
/// (RFC 4187 §9.8) and EAP-SIM (RFC 4186 §9.8) once AT_MAC is verified:
/// AT_ENCR_DATA decrypted, AT_COUNTER equal to ours, AT_COUNTER_TOO_SMALL
/// → a full authentication (§5.5), else success with the re-auth keys.
pub(super) fn finish_reauth_response(
    pending: Box<PendingReauth>,
    iv: Option<&[u8; 16]>,
    encr_data: Option<&[u8]>,
    result_ind: bool,
) -> ReauthOutcome {
    use ReauthFailure as F;
    let (Some(iv), Some(data)) = (iv, encr_data) else {
        return ReauthOutcome::Failure(F::BadEncryptedData);
    };
    let Ok(plain) = encr::decrypt(pending.ctx.k_encr(), iv, data) else {
        return ReauthOutcome::Failure(F::BadEncryptedData);
    };
    let Ok(attrs) = decode_encrypted_attributes(&plain) else {
        return ReauthOutcome::Failure(F::BadEncryptedData);
    };
    let counter = attrs.iter().find_map(|a| match a {
        Attribute::Counter(c) => Some(c.counter),
        _ => None,
    });
    if counter != Some(pending.ctx.counter()) {
        return ReauthOutcome::Failure(F::CounterMismatch);
    }
    if attrs
        .iter()
        .any(|a| matches!(a, Attribute::CounterTooSmall(_)))
    {
        return ReauthOutcome::FullAuth {
            permanent_user: pending.ctx.permanent_user().to_owned(),
            mk_identity: pending.identity.clone(),
        };
    }
    let use_result_ind = pending.result_ind_offered && result_ind;
    let PendingReauth {
        ctx,
        keys,
        next_reauth_id,
        ..
    } = *pending;
    ReauthOutcome::Success {
        msk: keys.msk.clone(),
        emsk: keys.emsk.clone(),
        permanent_user: ctx.permanent_user().to_owned(),
        use_result_ind,
        next_reauth_id,
        context: Box::new(ctx),
    }
}

/// Protected result indication (RFC 4187 §6.2, §9.10): the
/// EAP-Request/AKA-Notification that precedes EAP-Success (`success`,
/// code 32768) or EAP-Failure (code 0, "General Failure after
/// Authentication") when both sides asked for AT_RESULT_IND. It carries
/// AT_MAC (P bit 0); after a fast re-authentication also AT_IV/AT_ENCR_DATA
/// {AT_COUNTER} (`reauth`: K_encr, the counter used, a fresh IV).
///
/// # Errors
/// [`ExchangeError::Encode`].
pub fn result_notification(
    method: Method,
    identifier: u8,
    k_aut: &eap::secret::KAut,
    success: bool,
    reauth: Option<(&KEncr, u16, [u8; 16])>,
) -> Result<Vec<u8>, ExchangeError> {
    use eap::aka::attr::AtNotification;
    let code = if success {
        AtNotification::SUCCESS
    } else {
        AtNotification::GENERAL_FAILURE_AFTER_AUTHENTICATION
    };
    let mut m = Message::new(Subtype::Notification);
    if let Some((k_encr, counter, iv)) = reauth {
        let (iv, data) = encr_pair(k_encr, iv, &[Attribute::Counter(AtCounter { counter })])?;
        m.push(iv);
        m.push(data);
    }
    m.push(code);
    m.push(AtMac::ZEROED);
    let (mut p, at) = Packet::aka_request(identifier, method, m)
        .encode_with_mac_offset()
        .map_err(enc_err)?;
    let at = at.ok_or_else(|| ExchangeError::Encode("no AT_MAC".into()))?;
    mac::sign(k_aut, &mut p, at, mac::NO_EXTRA).map_err(enc_err)?;
    Ok(p)
}

/// Checks the peer's EAP-Response/AKA-Notification to a
/// [`result_notification`]: right identifier, AT_MAC valid, and after a fast
/// re-authentication AT_ENCR_DATA{AT_COUNTER} echoing `reauth` (K_encr, counter).
pub fn check_notification_response(
    method: Method,
    identifier: u8,
    k_aut: &eap::secret::KAut,
    reauth: Option<(&KEncr, u16)>,
    response: &[u8],
) -> bool {
    let Ok(p) = Packet::decode(response) else {
        return false;
    };
    let ok_shape = matches!(&p, Packet::Response { identifier: i, .. } if *i == identifier)
        && matches!(p.aka(), Some((m, msg)) if m == method && msg.subtype == Subtype::Notification);
    if !ok_shape {
        return false;
    }
    let mac_ok = match eap::aka::message::mac_value_offset(response) {
        Ok(Some(off)) => mac::verify(k_aut, response, off, mac::NO_EXTRA),
        _ => false,
    };
    if !mac_ok {
        return false;
    }
    let Some((k_encr, counter)) = reauth else {
        return true;
    };
    let Some((_, msg)) = p.aka() else {
        return false;
    };
    let (Some(iv), Some(data)) = (msg.iv(), msg.encr_data()) else {
        return false;
    };
    encr::decrypt(k_encr, iv, data)
        .ok()
        .and_then(|plain| decode_encrypted_attributes(&plain).ok())
        .is_some_and(|attrs| {
            attrs
                .iter()
                .any(|a| matches!(a, Attribute::Counter(c) if c.counter == counter))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::keys::PrivacyKey;
    use eap::aka::keys::derive_aka;
    use eap::secret::{Ck, Ik};

    const REALM: &str = "wlan.mnc015.mcc234.3gppnetwork.org";

    fn set() -> KeySet {
        KeySet::new(PrivacyKey::new(1, [1; 32]), vec![]).unwrap()
    }

    #[test]
    fn challenge_attributes_decrypt_to_the_identities() {
        let keys = derive_aka(b"0234150999999999@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        let next = issue_after_full_auth(
            &set(),
            &Policy::default(),
            IssueFor {
                permanent_user: "0234150999999999",
                version: 0,
            },
            &keys,
            REALM,
            10,
            [[1; 16], [2; 16]],
        )
        .unwrap();
        let (iv, data) = challenge_attributes(&keys.k_encr, [3; 16], &next)
            .unwrap()
            .unwrap();
        let plain = encr::decrypt(&keys.k_encr, &iv.iv, &data.data).unwrap();
        let attrs = decode_encrypted_attributes(&plain).unwrap();
        assert!(attrs.iter().any(|a| matches!(a, Attribute::NextPseudonym(p) if p.pseudonym == next.pseudonym.as_ref().unwrap().as_bytes())));
        assert!(attrs.iter().any(|a| matches!(a, Attribute::NextReauthId(r) if r.reauth_id == next.reauth_id.as_ref().unwrap().as_bytes())));
        let none = Policy {
            pseudonyms: false,
            fast_reauth: false,
            ..Policy::default()
        };
        let n = issue_after_full_auth(
            &set(),
            &none,
            IssueFor {
                permanent_user: "0234150999999999",
                version: 0,
            },
            &keys,
            REALM,
            10,
            [[1; 16], [2; 16]],
        )
        .unwrap();
        assert_eq!(n, NextIdentities::default());
        assert!(
            challenge_attributes(&keys.k_encr, [3; 16], &n)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn result_notifications_are_signed_and_checked() {
        let keys = derive_aka(b"0234150999999999@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        for reauth in [None, Some((&keys.k_encr, 3u16, [7u8; 16]))] {
            let req = result_notification(Method::Aka, 5, &keys.k_aut, true, reauth).unwrap();
            let off = eap::aka::message::mac_value_offset(&req).unwrap().unwrap();
            assert!(mac::verify(&keys.k_aut, &req, off, mac::NO_EXTRA));
            let p = Packet::decode(&req).unwrap();
            let (_, m) = p.aka().unwrap();
            assert_eq!(
                m.notification(),
                Some(eap::aka::attr::AtNotification::SUCCESS)
            );
            assert_eq!(m.iv().is_some(), reauth.is_some());
            // The peer's answer: same attributes, as a response.
            let mut resp = Message::new(Subtype::Notification);
            if let Some((k, c, iv)) = reauth {
                let (iv, d) =
                    encr_pair(k, iv, &[Attribute::Counter(AtCounter { counter: c })]).unwrap();
                resp.push(iv);
                resp.push(d);
            }
            resp.push(AtMac::ZEROED);
            let (mut r, at) = Packet::aka_response(5, Method::Aka, resp)
                .encode_with_mac_offset()
                .unwrap();
            mac::sign(&keys.k_aut, &mut r, at.unwrap(), mac::NO_EXTRA).unwrap();
            let check = reauth.map(|(k, c, _)| (k, c));
            assert!(check_notification_response(
                Method::Aka,
                5,
                &keys.k_aut,
                check,
                &r
            ));
            assert!(!check_notification_response(
                Method::Aka,
                6,
                &keys.k_aut,
                check,
                &r
            ));
            let mut bad = r.clone();
            let n = bad.len();
            bad[n - 1] ^= 1;
            assert!(!check_notification_response(
                Method::Aka,
                5,
                &keys.k_aut,
                check,
                &bad
            ));
            if reauth.is_some() {
                assert!(!check_notification_response(
                    Method::Aka,
                    5,
                    &keys.k_aut,
                    Some((&keys.k_encr, 4)),
                    &r
                ));
            }
        }
        let f = result_notification(Method::AkaPrime, 1, &keys.k_aut, false, None).unwrap();
        let p = Packet::decode(&f).unwrap();
        assert_eq!(p.aka().unwrap().1.notification().unwrap().value(), 0);
    }

    fn exchange(identity: &[u8]) -> ReauthExchange<'_> {
        ReauthExchange {
            identity,
            identifier: 1,
            checkcode: None,
        }
    }

    #[test]
    fn limit_forces_full_auth() {
        let keys = derive_aka(b"0234150999999999@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        let mut ctx = ReauthContext::after_full_auth("0234150999999999", &keys, 0, 0, 100).unwrap();
        let policy = Policy {
            reauth_limit: 2,
            ..Policy::default()
        };
        let r = ReauthRandom {
            nonce_s: [1; 16],
            iv: [2; 16],
            next_id_iv: [3; 16],
        };
        for _ in 0..2 {
            let id = ctx.seal(&set(), REALM, [0; 16]).unwrap();
            assert!(matches!(
                start_reauth(
                    &set(),
                    &policy,
                    ctx.clone(),
                    exchange(id.as_bytes()),
                    REALM,
                    r
                )
                .unwrap(),
                ReauthStart::Request { .. }
            ));
            ctx = ctx.next().unwrap();
        }
        let id = ctx.seal(&set(), REALM, [0; 16]).unwrap();
        match start_reauth(&set(), &policy, ctx, exchange(id.as_bytes()), REALM, r).unwrap() {
            ReauthStart::FullAuth { permanent_user } => {
                assert_eq!(permanent_user, "0234150999999999")
            }
            other => panic!("{other:?}"),
        }
    }
}
