//! Identity privacy and fast re-authentication (RFC 4187 §4.1, §5; RFC 9048
//! §3.5), stateless across AAA nodes, plus IMSI privacy (the encrypted
//! permanent identity of wpa_supplicant's `imsi_privacy_cert` / hostapd's
//! `imsi_privacy_key`).
//!
//! Building blocks for the EAP server ([`crate::eap_server`] calls them);
//! none of them does I/O except [`keys::SqliteKeyStore`] (a table in the HSS
//! database), [`imsi::ImsiPrivacyKey::load_pem`] (a key file) and
//! [`startup`] (both, when `serve` starts):
//!
//! * [`keys`]: the key set (current + older accepted keys, rotation).
//! * [`sealed`]: the encrypt-then-MAC format of stateless identities.
//! * [`identity`]: pseudonyms and [`identity::ReauthContext`] re-auth identities.
//! * [`exchange`]: Challenge identities and the fast re-authentication round.
//! * [`imsi`]: RSA-OAEP-SHA-256 decryption of an encrypted permanent identity.
//! * [`resolve`]: one call classifying a received identity for the EAP server.
//! * [`startup`]: building the [`PrivacyServer`] from `[privacy]` when `serve` starts.

pub mod exchange;
pub mod identity;
pub mod imsi;
pub mod keys;
pub mod resolve;
pub mod sealed;
pub mod startup;

pub use exchange::{
    IssueFor, NextIdentities, PendingReauth, Policy, ReauthExchange, ReauthFailure, ReauthOutcome,
    ReauthRandom, ReauthStart, challenge_attributes, check_notification_response,
    check_reauth_response, check_sim_reauth_response, issue_after_full_auth, issue_sim_reauth_id,
    result_notification, start_reauth, start_sim_reauth,
};
pub use identity::{ReauthContext, ResolvedPseudonym, make_pseudonym, resolve_pseudonym};
pub use imsi::{DecryptedIdentity, ImsiPrivacyError, ImsiPrivacyKey, is_encrypted_identity};
pub use keys::{KeySet, PrivacyKey, PrivacyKeyStore, SqliteKeyStore};
pub use resolve::{PrivacyServer, Resolution};
pub use sealed::{TemporaryKind, Unresolved};

/// Fresh random bytes from the OS RNG (IVs, NONCE_S).
///
/// # Errors
/// The RNG error as text.
pub fn random<const N: usize>() -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| e.to_string())?;
    Ok(b)
}
