//! One call for the EAP server: what a received identity (from
//! EAP-Response/Identity or AT_IDENTITY) means for privacy.

use super::exchange::Policy;
use super::identity::{ReauthContext, ResolvedPseudonym, resolve_pseudonym};
use super::imsi::{DecryptedIdentity, ImsiPrivacyError, ImsiPrivacyKey, is_encrypted_identity};
use super::keys::KeySet;
use super::sealed::{TemporaryKind, Unresolved};
use eap::aka::message::IdReq;
use eap::identity::{IdentityKind, Nai};

/// Everything the server's privacy features need, built once from `[privacy]`.
#[derive(Debug)]
pub struct PrivacyServer {
    /// The identity-protection keys.
    pub keys: KeySet,
    /// The policy.
    pub policy: Policy,
    /// The IMSI-privacy private key, if configured.
    pub imsi_key: Option<ImsiPrivacyKey>,
    /// The home realm appended to issued re-auth identities.
    pub realm: String,
}

/// What a received identity means.
#[derive(Debug)]
pub enum Resolution {
    /// A permanent NAI in the clear: unchanged behaviour (Challenge, MK
    /// identity = the identity as received).
    Permanent,
    /// A pseudonym of ours: full authentication of `permanent_user`, MK
    /// identity = the pseudonym exactly as received (RFC 4187 §7).
    Pseudonym(ResolvedPseudonym),
    /// A re-auth identity of ours, still valid: call
    /// [`super::start_reauth`] with it and the identity as received.
    Reauth(ReauthContext),
    /// An encrypted permanent identity: full authentication of the
    /// decrypted NAI, which is also the MK identity (as hostapd does).
    Decrypted(DecryptedIdentity),
    /// One of our temporary identities that does not resolve (or fast
    /// re-auth is off): ask again with `id_req` — never a failure.
    AskAgain {
        /// AT_PERMANENT_ID_REQ or AT_FULLAUTH_ID_REQ.
        id_req: IdReq,
        /// Why (for the debug log).
        why: Unresolved,
    },
    /// An encrypted identity that cannot be decrypted (or no key configured):
    /// end the authentication (hostapd sends a failure notification).
    Undecryptable(ImsiPrivacyError),
    /// Anything else (anonymous NAI, another method's prefix): unchanged
    /// behaviour (AKA-Identity with AT_ANY_ID_REQ …).
    Other,
}

impl PrivacyServer {
    /// Classifies `identity` at unix time `now`.
    pub fn resolve(&self, identity: &[u8], now: u64) -> Resolution {
        if is_encrypted_identity(identity) {
            return match &self.imsi_key {
                Some(k) => match k.decrypt_identity(identity) {
                    Ok(d) => Resolution::Decrypted(d),
                    Err(e) => Resolution::Undecryptable(e),
                },
                None => Resolution::Undecryptable(ImsiPrivacyError::Decrypt),
            };
        }
        let Ok(nai) = Nai::parse(identity) else {
            return Resolution::Other;
        };
        match nai.kind() {
            IdentityKind::Permanent(_) => Resolution::Permanent,
            IdentityKind::Pseudonym(_) => match resolve_pseudonym(&self.keys, identity) {
                Ok(p) => Resolution::Pseudonym(p),
                Err(why) => Resolution::AskAgain {
                    id_req: TemporaryKind::Pseudonym.fallback_id_req(),
                    why,
                },
            },
            IdentityKind::FastReauth(_) if !self.policy.fast_reauth => Resolution::AskAgain {
                id_req: TemporaryKind::Reauth.fallback_id_req(),
                why: Unresolved::WrongPrefix,
            },
            IdentityKind::FastReauth(_) => match ReauthContext::open(&self.keys, identity, now) {
                Ok(c) => Resolution::Reauth(c),
                Err(why) => Resolution::AskAgain {
                    id_req: TemporaryKind::Reauth.fallback_id_req(),
                    why,
                },
            },
            IdentityKind::Unknown => Resolution::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::identity::make_pseudonym;
    use crate::privacy::keys::PrivacyKey;
    use eap::aka::keys::{Method, derive_aka};
    use eap::secret::{Ck, Ik};

    fn server(fast_reauth: bool) -> PrivacyServer {
        PrivacyServer {
            keys: KeySet::new(PrivacyKey::new(1, [1; 32]), vec![]).unwrap(),
            policy: Policy {
                fast_reauth,
                ..Policy::default()
            },
            imsi_key: None,
            realm: "r".into(),
        }
    }

    #[test]
    fn every_kind() {
        let s = server(true);
        assert!(matches!(
            s.resolve(b"0001010000000001@r", 0),
            Resolution::Permanent
        ));
        assert!(matches!(s.resolve(b"anonymous@r", 0), Resolution::Other));
        assert!(matches!(s.resolve(b"", 0), Resolution::Other));
        let p = make_pseudonym(&s.keys, Method::Aka, "0001010000000001", [0; 16]).unwrap();
        assert!(
            matches!(s.resolve(p.as_bytes(), 0), Resolution::Pseudonym(ref r) if r.permanent_user == "0001010000000001")
        );
        assert!(matches!(
            s.resolve(b"2unknown@r", 0),
            Resolution::AskAgain {
                id_req: IdReq::Permanent,
                ..
            }
        ));
        let keys = derive_aka(b"x", &Ik::new([1; 16]), &Ck::new([2; 16]));
        let id = ReauthContext::after_full_auth("0001010000000001", &keys, 0, 0, 10)
            .unwrap()
            .seal(&s.keys, "r", [0; 16])
            .unwrap();
        assert!(matches!(s.resolve(id.as_bytes(), 5), Resolution::Reauth(_)));
        assert!(matches!(
            s.resolve(id.as_bytes(), 10),
            Resolution::AskAgain {
                id_req: IdReq::Fullauth,
                why: Unresolved::Expired
            }
        ));
        assert!(matches!(
            server(false).resolve(id.as_bytes(), 5),
            Resolution::AskAgain {
                id_req: IdReq::Fullauth,
                ..
            }
        ));
        assert!(matches!(
            s.resolve(b"\0abc", 0),
            Resolution::Undecryptable(_)
        ));
    }
}
