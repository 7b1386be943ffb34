//! Why an authentication ends without EAP-Success ([`Reject`]), why a
//! packet gets no answer at all ([`Discard`]) and which kind of success
//! ([`Success`]). Counters, logs and tests match on the variants; `Display`
//! gives the log text.

use crate::hss::HssError;
use crate::privacy::ReauthFailure;
use std::fmt;

/// Which outstanding request an unexpected AKA subtype answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Round {
    /// An AKA-Identity request (RFC 4187 §9.1).
    Identity,
    /// An AKA-Challenge (RFC 4187 §9.3).
    Challenge,
    /// A protected result notification (RFC 4187 §9.10).
    Notification,
}

impl fmt::Display for Round {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Round::Identity => "the identity round",
            Round::Challenge => "the challenge round",
            Round::Notification => "a result notification",
        })
    }
}

/// Why an authentication ends with EAP-Failure (Access-Reject).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Reject {
    /// The EAP packet does not parse (RFC 3748 §4).
    #[error("EAP packet does not parse")]
    EapMalformed,
    /// No session has this State (expired, evicted or never issued).
    #[error("unknown State")]
    UnknownState,
    /// A new authentication must start with EAP-Response/Identity (RFC 3748 §5.1).
    #[error("no EAP-Response/Identity")]
    NotIdentityResponse,
    /// Legacy-Nak once the AKA method is under way (RFC 3748 §5.3.1).
    #[error("Legacy-Nak after the method started")]
    NakAfterMethodStarted,
    /// A second Legacy-Nak.
    #[error("second Legacy-Nak")]
    SecondNak,
    /// The Legacy-Nak names no method this server has enabled.
    #[error("peer refused the method (Legacy-Nak)")]
    MethodRefused,
    /// The response is of another EAP type.
    #[error("peer answered with another EAP type")]
    OtherEapType,
    /// The response is of the other AKA method (AKA vs AKA').
    #[error("peer answered with the other AKA method")]
    OtherAkaMethod,
    /// AKA-Client-Error (RFC 4187 §9.9).
    #[error("peer sent Client-Error")]
    ClientError,
    /// AKA-Authentication-Reject: AUTN did not verify (RFC 4187 §9.5).
    #[error("peer sent Authentication-Reject")]
    AuthenticationReject,
    /// A subtype that does not answer the outstanding request.
    #[error("unexpected AKA subtype in {0}")]
    UnexpectedSubtype(Round),
    /// AKA-Identity response without AT_IDENTITY (RFC 4187 §9.2).
    #[error("AKA-Identity response without AT_IDENTITY")]
    NoIdentityAttribute,
    /// AT_PERMANENT_ID_REQ was answered with something else.
    #[error("peer gave no permanent identity")]
    NoPermanentIdentity,
    /// Nothing left to ask for after an identity that does not resolve.
    #[error("peer gave no usable identity")]
    NoUsableIdentity,
    /// A pseudonym or re-auth identity names a user with no IMSI.
    #[error("temporary identity names no IMSI")]
    NoImsi,
    /// The identity is not UTF-8.
    #[error("identity is not UTF-8")]
    IdentityNotUtf8,
    /// An IMSI-privacy identity that decrypts to something other than a permanent NAI.
    #[error("decrypted identity is not a permanent NAI")]
    DecryptedNotPermanent,
    /// An IMSI-privacy identity that does not decrypt (or no key configured).
    #[error("encrypted identity does not decrypt")]
    Undecryptable,
    /// AT_MAC of the Challenge response does not verify (RFC 4187 §9.4).
    #[error("AT_MAC does not verify")]
    BadMac,
    /// Challenge response without AT_RES.
    #[error("AKA-Challenge response without AT_RES")]
    NoRes,
    /// RES ≠ XRES (TS 33.102 §6.3.3).
    #[error("RES does not match XRES")]
    ResMismatch,
    /// AT_CHECKCODE differs from ours (RFC 4187 §10.13).
    #[error("AT_CHECKCODE does not match")]
    CheckcodeMismatch,
    /// A second Synchronization-Failure in one authentication.
    #[error("second Synchronization-Failure")]
    SecondSyncFailure,
    /// Synchronization-Failure without AT_AUTS (RFC 4187 §9.6).
    #[error("Synchronization-Failure without AT_AUTS")]
    NoAuts,
    /// The fast re-authentication response was not accepted (RFC 4187 §5).
    #[error("re-authentication: {0}")]
    Reauth(ReauthFailure),
    /// The protected result notification's answer does not verify (RFC 4187 §6.2).
    #[error("notification response does not verify")]
    BadNotificationResponse,
    /// The subscriber was removed, or its K/OPc/AMF/SQN set, while its
    /// authentication was in flight (checked right before Access-Accept).
    #[error("subscriber removed or changed during authentication")]
    SubscriberChanged,
    /// The subscriber is barred (`subscriber bar`): no vector was issued,
    /// or the bar came in while it authenticated.
    #[error("subscriber barred")]
    Barred,
    /// The subscriber store refused or failed (its cause kept).
    #[error("{0}")]
    Hss(#[from] HssError),
    /// The network name does not fit AT_KDF_INPUT.
    #[error("network name too long")]
    NetworkNameTooLong,
    /// A request could not be encoded.
    #[error("encoding failed")]
    Encoding,
    /// The random number generator failed.
    #[error("random number generator failed")]
    Rng,
    /// EAP-SIM/Start response without a version we offered in AT_SELECTED_VERSION (RFC 4186 §9.2).
    #[error("EAP-SIM: no supported AT_SELECTED_VERSION")]
    UnsupportedVersion,
    /// EAP-SIM/Start response without AT_NONCE_MT (RFC 4186 §9.2).
    #[error("EAP-SIM: Start response without AT_NONCE_MT")]
    NoNonceMt,
    /// The store gave not 2 or 3 triplets with distinct RANDs (RFC 4186 §9.3).
    #[error("EAP-SIM: the store gave no 2 or 3 distinct triplets")]
    BadTriplets,
}

/// Why an EAP packet gets no answer (RFC 3748 §4.1: silently discarded).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Discard {
    /// The EAP header is malformed (shorter than its Length, or than 4 bytes).
    #[error("EAP header malformed")]
    HeaderMalformed,
    /// An EAP-Request, -Success or -Failure sent to the server.
    #[error("not an EAP-Response")]
    NotAResponse,
    /// The Identifier is not that of the outstanding request.
    #[error("EAP Identifier does not match the request")]
    IdentifierMismatch,
    /// The session's previous request is still being answered (the store is working on it).
    #[error("session busy")]
    SessionBusy,
    /// The session expired or was evicted while the store worked on it.
    #[error("session gone")]
    SessionGone,
    /// No State could be drawn.
    #[error("random number generator failed")]
    Rng,
}

/// How an authentication succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Success {
    /// A full authentication (AKA-Challenge).
    Full,
    /// A fast re-authentication (RFC 4187 §5).
    FastReauth,
}

impl fmt::Display for Success {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Success::Full => "success",
            Success::FastReauth => "success (fast re-authentication)",
        })
    }
}

/// The result of an authentication, for the log and the counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AuthResult {
    /// EAP-Success.
    Success(Success),
    /// EAP-Failure.
    Reject(Reject),
}

impl fmt::Display for AuthResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthResult::Success(s) => s.fmt(f),
            AuthResult::Reject(r) => r.fmt(f),
        }
    }
}
