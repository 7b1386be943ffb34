//! The part of a step that may wait: subscriber-store calls (a vector, a
//! resynchronisation, the subscriber check before Access-Accept) and the RSA-OAEP decryption of an IMSI-privacy
//! identity. A step that needs one returns it as [`Work`]; the shell runs
//! [`perform`] on a store worker — no lock held — and the step continues,
//! again pure, with the [`Done`] result.

use super::Success;
use crate::authz::Authorization;
use crate::hss::{Hss, HssError, Imsi, VectorKind};
use crate::privacy::{DecryptedIdentity, ImsiPrivacyError, PrivacyServer};
use eap::secret::{KAut, KEncr, Msk};
use eap::umts::{AuthVector, Auts, Sqn};
use std::time::Instant;

/// An authentication that verified, waiting for [`Work::Confirm`] before
/// Access-Accept.
#[derive(Debug)]
pub(crate) struct Accept {
    pub msk: Msk,
    /// The User-Name (the identity the keys were derived from).
    pub identity: Vec<u8>,
    pub how: Success,
    /// Protected result indication (RFC 4187 §6.2): K_aut, and after a fast
    /// re-authentication K_encr and the counter, for the success Notification.
    pub notify: Option<(KAut, Option<(KEncr, u16)>)>,
    /// The subscriber, set by [`Work::Confirm`] (Chargeable-User-Identity, RFC 4372).
    pub imsi: Option<Imsi>,
}

/// Whom a Challenge is for.
#[derive(Debug)]
pub(crate) struct Target {
    /// The identity the keys are bound to (the MK identity, RFC 4187 §7);
    /// shared with the session when it is the EAP-Response/Identity one.
    pub identity: std::sync::Arc<[u8]>,
    pub imsi: Imsi,
    /// The permanent user name (NAI user part) for issued identities;
    /// `None`: the user part of `identity` (a permanent identity).
    pub permanent_user: Option<String>,
    /// A Synchronization-Failure was already served.
    pub resynced: bool,
}

/// A call that may wait.
#[derive(Debug)]
pub(crate) enum Work {
    /// A fresh vector (TS 33.102 §6.3.2), then the Challenge.
    Vector { kind: VectorKind, target: Target },
    /// AUTS for `rand` (TS 33.102 §6.3.5), then a vector.
    Resync {
        rand: [u8; 16],
        auts: Auts,
        target: Target,
    },
    /// RSA-OAEP decryption of an IMSI-privacy identity.
    Decrypt { identity: Vec<u8> },
    /// EAP-SIM: GSM triplets ([`Hss::triplets`]), then the Challenge.
    Triplets { target: super::sim::SimTarget },
    /// Whether the subscriber is still as at `version` ([`Hss::current`]:
    /// not removed, K/OPc/AMF/SQN not set since), right before `accept`.
    Confirm {
        imsi: Imsi,
        version: u64,
        accept: Box<Accept>,
    },
}

/// What [`Work`] gave.
#[derive(Debug)]
pub(crate) enum Done {
    /// The vector and the subscriber's version it was made from.
    Vector(Target, Result<(AuthVector, u64), HssError>),
    Resync(Target, Result<Sqn, HssError>),
    Decrypt(Result<DecryptedIdentity, ImsiPrivacyError>),
    /// EAP-SIM triplets and the subscriber's version they were made from.
    Triplets(
        super::sim::SimTarget,
        Result<(Vec<crate::hss::Triplet>, u64), HssError>,
    ),
    /// The check before Access-Accept, with the subscriber's authorization.
    Confirm(
        Box<Accept>,
        Result<bool, HssError>,
        Result<Authorization, HssError>,
    ),
}

/// A store without groups and barring ([`HssError::Unsupported`]) serves
/// every subscriber, with no reply attributes.
fn supported(a: Result<Authorization, HssError>) -> Result<Authorization, HssError> {
    match a {
        Err(HssError::Unsupported(_)) => Ok(Authorization::default()),
        a => a,
    }
}

/// Does `work` at once when the store can answer from memory (a vector
/// from a reserved range, an exact [`Hss::try_confirm`]); gives it back otherwise.
pub(crate) fn try_now(work: Work, hss: &dyn Hss, now: Instant) -> Result<Done, Work> {
    match work {
        Work::Vector { kind, target } => match hss.try_vector(&target.imsi, kind) {
            Some(v) => Ok(Done::Vector(target, v)),
            None => Err(Work::Vector { kind, target }),
        },
        Work::Confirm {
            imsi,
            version,
            accept,
        } => match hss.try_confirm(&imsi, version, now) {
            Some((a, r)) => {
                let mut accept = accept;
                accept.imsi = Some(imsi);
                Ok(Done::Confirm(accept, r, supported(a)))
            }
            None => Err(Work::Confirm {
                imsi,
                version,
                accept,
            }),
        },
        w => Err(w),
    }
}

/// Runs `work` (blocking: the store may be slow or remote).
pub(crate) fn perform(work: Work, hss: &dyn Hss, privacy: Option<&PrivacyServer>) -> Done {
    match work {
        Work::Vector { kind, target } => {
            // Barring is checked before a vector (an SQN) is issued.
            let v = hss.authorized_vector(&target.imsi, kind);
            Done::Vector(target, v)
        }
        Work::Triplets { target } => {
            // Barring is checked before triplets are issued, as for vectors.
            let r = match supported(hss.authorization(&target.imsi)) {
                Ok(a) if a.barred => Err(HssError::Barred),
                Err(e) if e != HssError::UnknownSubscriber => Err(e),
                _ => hss.triplets(&target.imsi, super::sim::TRIPLETS),
            };
            Done::Triplets(target, r)
        }
        Work::Resync { rand, auts, target } => {
            let r = hss.resync(&target.imsi, &rand, &auts);
            Done::Resync(target, r)
        }
        Work::Decrypt { identity } => {
            Done::Decrypt(match privacy.and_then(|p| p.imsi_key.as_ref()) {
                Some(k) => k.decrypt_identity(&identity),
                None => Err(ImsiPrivacyError::Decrypt),
            })
        }
        Work::Confirm {
            imsi,
            version,
            accept,
        } => {
            let (a, current) = hss.confirm(&imsi, version);
            let mut accept = accept;
            accept.imsi = Some(imsi);
            Done::Confirm(accept, current, supported(a))
        }
    }
}
