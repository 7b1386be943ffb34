//! The part of a step that may wait: subscriber-store calls (a vector, a
//! resynchronisation) and the RSA-OAEP decryption of an IMSI-privacy
//! identity. A step that needs one returns it as [`Work`]; the shell runs
//! [`perform`] on a store worker — no lock held — and the step continues,
//! again pure, with the [`Done`] result.

use crate::hss::{Hss, HssError, Imsi, VectorKind};
use crate::privacy::{DecryptedIdentity, ImsiPrivacyError, PrivacyServer};
use eap::umts::{AuthVector, Auts, Sqn};

/// Whom a Challenge is for.
#[derive(Debug)]
pub(crate) struct Target {
    /// The identity the keys are bound to (the MK identity, RFC 4187 §7).
    pub identity: Vec<u8>,
    pub imsi: Imsi,
    /// The permanent user name (NAI user part) for issued identities.
    pub permanent_user: String,
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
}

/// What [`Work`] gave.
#[derive(Debug)]
pub(crate) enum Done {
    /// The vector and the subscriber's version it was made from.
    Vector(Target, Result<(AuthVector, u64), HssError>),
    Resync(Target, Result<Sqn, HssError>),
    Decrypt(Result<DecryptedIdentity, ImsiPrivacyError>),
}

/// Does `work` at once when the store can answer from memory (a vector
/// from a reserved range); gives it back otherwise.
pub(crate) fn try_now(work: Work, hss: &dyn Hss) -> Result<Done, Work> {
    match work {
        Work::Vector { kind, target } => match hss.try_vector(&target.imsi, kind) {
            Some(v) => Ok(Done::Vector(target, v)),
            None => Err(Work::Vector { kind, target }),
        },
        w => Err(w),
    }
}

/// Runs `work` (blocking: the store may be slow or remote).
pub(crate) fn perform(work: Work, hss: &dyn Hss, privacy: Option<&PrivacyServer>) -> Done {
    match work {
        Work::Vector { kind, target } => {
            let v = hss.vector_versioned(&target.imsi, kind);
            Done::Vector(target, v)
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
    }
}
