//! Identity privacy and fast re-authentication on the peer (RFC 4187 §4.1,
//! §5; RFC 9048 §3.5) and IMSI privacy (wpa_supplicant's `imsi_privacy_cert`
//! scheme). Building blocks for the peer state machine:
//!
//! * [`state`]: the per-profile `0600` state file, identity selection and forgetting.
//! * [`reauth`]: learning identities from a Challenge, answering a Re-authentication.
//! * [`imsi`]: encrypting the permanent identity under the operator certificate.

pub mod imsi;
pub mod reauth;
pub mod state;

pub use imsi::{CertError, OperatorCert};
pub use reauth::{
    LearnError, LearnedIdentities, NotificationAnswer, PeerReauthResult, ReauthReject,
    learn_from_challenge, process_notification, process_reauth_request,
};
pub use state::{
    FailureKind, IdentityChoice, IdentityToSend, PeerReauth, PrivacyState, StateError,
};
