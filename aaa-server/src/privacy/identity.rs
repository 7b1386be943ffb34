//! Pseudonyms and fast re-authentication identities built on [`super::sealed`].
//!
//! * Pseudonym user part (`2…` EAP-AKA, `7…` EAP-AKA'): the sealed permanent
//!   user name (e.g. `0234150999999999`). Sent in AT_NEXT_PSEUDONYM without a
//!   realm (RFC 4187 §10.10); the peer appends its realm.
//! * Re-authentication identity (`4…` EAP-AKA, `8…` EAP-AKA'): a whole NAI
//!   `user@home-realm` (RFC 4187 §10.11) whose user part seals a
//!   [`ReauthContext`]: permanent user name, method, MK (EAP-AKA) or
//!   K_encr ‖ K_aut ‖ K_re (EAP-AKA'), the counter to use next and an expiry.
//!   For EAP-AKA, K_encr and K_aut are not stored: they are derived again from
//!   MK (RFC 4187 §7), which keeps the identity short.

use super::keys::KeySet;
use super::sealed::{self, IV_LEN, Unresolved};
use eap::aka::keys::{Keys, Method, ReauthSecret, derive_aka_from_mk};
use eap::identity::{IdentityKind, Nai};
use eap::secret::{KAut, KAutAkaPrime, KEncr, KRe, Mk};
use zeroize::Zeroizing;

/// The longest identity we issue: it travels in RADIUS User-Name (253
/// octets, RFC 2865 §5.1) when the peer answers EAP-Request/Identity with it.
pub const MAX_IDENTITY_LEN: usize = 253;

/// Longest permanent user name sealed (IMSI is at most 15 digits plus the prefix;
/// some room for decorated or non-IMSI user names).
pub const MAX_PERMANENT_LEN: usize = 64;

const VERSION: u8 = 1;

/// The format of a sealed [`ReauthContext`]. 2 added the subscriber's store
/// version; a version-1 identity no longer resolves (a full authentication
/// runs instead, never a failure).
const REAUTH_VERSION: u8 = 2;

/// An identity could not be issued.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    /// The permanent user name is empty or longer than [`MAX_PERMANENT_LEN`].
    #[error("permanent user name of {0} bytes cannot be sealed")]
    PermanentLength(usize),
    /// The NAI would exceed [`MAX_IDENTITY_LEN`] (realm too long): do not issue one.
    #[error("identity of {0} bytes would exceed 253")]
    TooLong(usize),
    /// The subscriber's store version does not fit the 32 bits sealed: do not issue one.
    #[error("subscriber version {0} does not fit a re-auth identity")]
    Version(u64),
}

fn pseudonym_prefix(m: Method) -> u8 {
    match m {
        Method::Aka => b'2',
        Method::AkaPrime => b'7',
    }
}

fn reauth_prefix(m: Method) -> u8 {
    match m {
        Method::Aka => b'4',
        Method::AkaPrime => b'8',
    }
}

fn check_permanent(p: &str) -> Result<(), IssueError> {
    if p.is_empty() || p.len() > MAX_PERMANENT_LEN || p.contains('@') {
        return Err(IssueError::PermanentLength(p.len()));
    }
    Ok(())
}

/// A pseudonym user part for `permanent_user` (the user part of the
/// permanent NAI, no realm), to send in AT_NEXT_PSEUDONYM.
///
/// # Errors
/// [`IssueError`] when the permanent user name is empty, contains `@` or is too long.
pub fn make_pseudonym(
    keys: &KeySet,
    method: Method,
    permanent_user: &str,
    iv: [u8; IV_LEN],
) -> Result<String, IssueError> {
    check_permanent(permanent_user)?;
    let mut payload = Zeroizing::new(Vec::with_capacity(1 + permanent_user.len()));
    payload.push(VERSION);
    payload.extend_from_slice(permanent_user.as_bytes());
    Ok(sealed::seal(keys, pseudonym_prefix(method), &payload, iv))
}

/// A resolved pseudonym.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedPseudonym {
    /// The method its prefix names.
    pub method: Method,
    /// The permanent user name it carries (e.g. `0234150999999999`).
    pub permanent_user: String,
}

/// The user part of `identity` (a NAI, possibly with realm), or the whole
/// identity when it has no `@`.
fn user_part(identity: &[u8]) -> Result<&str, Unresolved> {
    let nai = Nai::parse(identity).map_err(|_| Unresolved::NotNai)?;
    Ok(nai.user())
}

/// Resolves a received pseudonym (a whole identity, with or without realm).
///
/// # Errors
/// [`Unresolved`]: send AT_PERMANENT_ID_REQ and run a full authentication.
pub fn resolve_pseudonym(keys: &KeySet, identity: &[u8]) -> Result<ResolvedPseudonym, Unresolved> {
    let user = user_part(identity)?;
    let method = match user.bytes().next().map(IdentityKind::from_leading) {
        Some(IdentityKind::Pseudonym(m)) => m,
        _ => return Err(Unresolved::WrongPrefix),
    };
    let pt = sealed::open(keys, pseudonym_prefix(method), user)?;
    if pt.first() != Some(&VERSION) {
        return Err(Unresolved::Malformed);
    }
    let permanent_user = std::str::from_utf8(&pt[1..])
        .map_err(|_| Unresolved::Malformed)?
        .to_owned();
    if check_permanent(&permanent_user).is_err() {
        return Err(Unresolved::Malformed);
    }
    Ok(ResolvedPseudonym {
        method,
        permanent_user,
    })
}

/// What fast re-authentication needs, carried inside a re-auth identity
/// (RFC 4187 §5, RFC 9048 §3.5). `Debug` shows no key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReauthContext {
    permanent_user: String,
    secret: ReauthSecret,
    k_encr: KEncr,
    k_aut: KAut,
    counter: u16,
    /// Unix seconds (32 bits sealed: until 2106).
    expiry: u32,
    /// The subscriber's store version the full authentication's vector was
    /// made from ([`crate::hss::Hss::vector_versioned`]): a fast
    /// re-authentication is accepted only while [`crate::hss::Hss::current`]
    /// holds for it (not removed, K/OPc/AMF/SQN not set since).
    version: u32,
    /// Issued by an EAP-SIM full authentication (RFC 4186 §5): usable only
    /// in EAP-SIM, and an EAP-AKA one only in EAP-AKA. Sealed as the EAP
    /// type byte (18 instead of 23); the key hierarchy is EAP-AKA's (MK).
    sim: bool,
}

/// The EAP type of EAP-SIM (RFC 4186 §8.1), sealed for an EAP-SIM context.
const EAP_TYPE_SIM: u8 = 18;

impl ReauthContext {
    /// The context after a successful full authentication with `keys` of a
    /// vector made at the subscriber's store `version`: counter 1 (RFC 4187
    /// §5.1: the first re-authentication uses 1), valid until `now + ttl`
    /// (unix seconds).
    ///
    /// # Errors
    /// [`IssueError::PermanentLength`] for an unusable permanent user name,
    /// [`IssueError::Version`] for a version above 2^32 − 1.
    pub fn after_full_auth(
        permanent_user: &str,
        keys: &Keys,
        version: u64,
        now: u64,
        ttl: u64,
    ) -> Result<Self, IssueError> {
        check_permanent(permanent_user)?;
        Ok(Self {
            permanent_user: permanent_user.to_owned(),
            secret: keys.reauth.clone(),
            k_encr: keys.k_encr.clone(),
            k_aut: keys.k_aut.clone(),
            counter: 1,
            expiry: u32::try_from(now.saturating_add(ttl)).unwrap_or(u32::MAX),
            version: u32::try_from(version).map_err(|_| IssueError::Version(version))?,
            sim: false,
        })
    }

    /// This context as issued by an EAP-SIM full authentication (`keys`
    /// from [`eap::sim::keys::derive_keys`]): EAP-SIM fast
    /// re-authentication only (RFC 4186 §5).
    pub fn for_sim(mut self) -> Self {
        self.sim = matches!(self.secret, ReauthSecret::Mk(_));
        self
    }

    /// Whether the context is for EAP-SIM (else EAP-AKA / EAP-AKA').
    pub fn is_sim(&self) -> bool {
        self.sim
    }

    /// The subscriber's store version sealed at the full authentication.
    pub fn version(&self) -> u64 {
        u64::from(self.version)
    }

    /// The context for the re-authentication after this one: counter + 1,
    /// same keys and expiry (the keys of the full authentication are reused
    /// until the next full one, RFC 4187 §5.1). `None` when the counter is exhausted.
    pub fn next(&self) -> Option<Self> {
        let mut n = self.clone();
        n.counter = self.counter.checked_add(1)?;
        Some(n)
    }

    /// The method (from the secret: MK is EAP-AKA, K_re is EAP-AKA').
    pub fn method(&self) -> Method {
        self.secret.method()
    }

    /// The permanent user name (e.g. `0234150999999999`).
    pub fn permanent_user(&self) -> &str {
        &self.permanent_user
    }

    /// MK or K_re.
    pub fn secret(&self) -> &ReauthSecret {
        &self.secret
    }

    /// K_encr of the full authentication.
    pub fn k_encr(&self) -> &KEncr {
        &self.k_encr
    }

    /// K_aut of the full authentication.
    pub fn k_aut(&self) -> &KAut {
        &self.k_aut
    }

    /// The AT_COUNTER value of the next re-authentication.
    pub fn counter(&self) -> u16 {
        self.counter
    }

    /// Unix seconds after which the identity no longer resolves.
    pub fn expiry(&self) -> u64 {
        u64::from(self.expiry)
    }

    fn payload(&self) -> Zeroizing<Vec<u8>> {
        let mut p = Zeroizing::new(Vec::with_capacity(160));
        p.push(REAUTH_VERSION);
        p.push(if self.sim {
            EAP_TYPE_SIM
        } else {
            self.method().eap_type()
        });
        p.extend_from_slice(&self.counter.to_be_bytes());
        p.extend_from_slice(&self.expiry.to_be_bytes());
        p.extend_from_slice(&self.version.to_be_bytes());
        p.push(u8::try_from(self.permanent_user.len()).unwrap_or(u8::MAX));
        p.extend_from_slice(self.permanent_user.as_bytes());
        match &self.secret {
            ReauthSecret::Mk(mk) => p.extend_from_slice(mk.expose()),
            ReauthSecret::KRe(k_re) => {
                p.extend_from_slice(k_re.expose());
                p.extend_from_slice(self.k_encr.expose());
                p.extend_from_slice(self.k_aut.expose());
            }
        }
        p
    }

    /// Seals the context into a re-auth identity `prefix…@realm` for
    /// AT_NEXT_REAUTH_ID.
    ///
    /// # Errors
    /// [`IssueError::TooLong`] when the NAI would exceed 253 bytes (use a
    /// shorter realm or do not offer fast re-authentication).
    pub fn seal(&self, keys: &KeySet, realm: &str, iv: [u8; IV_LEN]) -> Result<String, IssueError> {
        let payload = self.payload();
        let len = sealed::sealed_text_len(payload.len()) + 1 + realm.len();
        if len > MAX_IDENTITY_LEN {
            return Err(IssueError::TooLong(len));
        }
        let user = sealed::seal(keys, reauth_prefix(self.method()), &payload, iv);
        Ok(format!("{user}@{realm}"))
    }

    /// Opens a received re-auth identity (whole NAI as received). Expired
    /// (`now ≥ expiry`), forged, unknown-key and retired-key identities are
    /// all [`Unresolved`]: send AT_FULLAUTH_ID_REQ and run a full authentication.
    ///
    /// # Errors
    /// [`Unresolved`].
    pub fn open(keys: &KeySet, identity: &[u8], now: u64) -> Result<Self, Unresolved> {
        let user = user_part(identity)?;
        let method = match user.bytes().next().map(IdentityKind::from_leading) {
            Some(IdentityKind::FastReauth(m)) => m,
            _ => return Err(Unresolved::WrongPrefix),
        };
        let pt = sealed::open(keys, reauth_prefix(method), user)?;
        let ctx = Self::parse(&pt, method).ok_or(Unresolved::Malformed)?;
        if now >= ctx.expiry() {
            return Err(Unresolved::Expired);
        }
        Ok(ctx)
    }

    fn parse(p: &[u8], method: Method) -> Option<Self> {
        let (&ver, p) = p.split_first()?;
        let (&typ, p) = p.split_first()?;
        let sim = typ == EAP_TYPE_SIM && method == Method::Aka;
        if ver != REAUTH_VERSION || (!sim && Method::from_eap_type(typ)? != method) {
            return None;
        }
        let (c, p) = p.split_at_checked(2)?;
        let counter = u16::from_be_bytes(c.try_into().ok()?);
        let (e, p) = p.split_at_checked(4)?;
        let expiry = u32::from_be_bytes(e.try_into().ok()?);
        let (v, p) = p.split_at_checked(4)?;
        let version = u32::from_be_bytes(v.try_into().ok()?);
        let (&plen, p) = p.split_first()?;
        let (perm, p) = p.split_at_checked(usize::from(plen))?;
        let permanent_user = std::str::from_utf8(perm).ok()?.to_owned();
        check_permanent(&permanent_user).ok()?;
        let (secret, k_encr, k_aut) = match method {
            Method::Aka => {
                let mk = Mk::from_slice(p)?;
                let k = derive_aka_from_mk(&mk);
                (ReauthSecret::Mk(mk), k.k_encr, k.k_aut)
            }
            Method::AkaPrime => {
                if p.len() != 32 + 16 + 32 {
                    return None;
                }
                (
                    ReauthSecret::KRe(KRe::from_slice(&p[..32])?),
                    KEncr::from_slice(&p[32..48])?,
                    KAut::AkaPrime(KAutAkaPrime::from_slice(&p[48..80])?),
                )
            }
        };
        Some(Self {
            permanent_user,
            secret,
            k_encr,
            k_aut,
            counter,
            expiry,
            version,
            sim,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::keys::PrivacyKey;
    use eap::aka::keys::{derive_aka, derive_aka_prime};
    use eap::secret::{Ck, CkPrime, Ik, IkPrime};

    fn set(i: u8) -> KeySet {
        KeySet::new(PrivacyKey::new(i, [i; 32]), vec![]).unwrap()
    }
    const REALM: &str = "wlan.mnc015.mcc234.3gppnetwork.org";

    pub(crate) fn aka_prime_keys() -> Keys {
        derive_aka_prime(
            b"6234150999999999@wlan.mnc015.mcc234.3gppnetwork.org",
            &CkPrime::new([2; 16]),
            &IkPrime::new([1; 16]),
        )
    }

    #[test]
    fn pseudonym_round_trip_both_methods() {
        let k = set(1);
        for (m, lead) in [(Method::Aka, '2'), (Method::AkaPrime, '7')] {
            let p = make_pseudonym(&k, m, "0234150999999999", [5; 16]).unwrap();
            assert!(p.starts_with(lead));
            let with_realm = format!("{p}@{REALM}");
            for id in [p.as_bytes(), with_realm.as_bytes()] {
                let r = resolve_pseudonym(&k, id).unwrap();
                assert_eq!(r.method, m);
                assert_eq!(r.permanent_user, "0234150999999999");
            }
        }
        assert_eq!(
            resolve_pseudonym(&k, b"0234150999999999@x"),
            Err(Unresolved::WrongPrefix)
        );
        assert!(make_pseudonym(&k, Method::Aka, "", [0; 16]).is_err());
        assert!(make_pseudonym(&k, Method::Aka, "a@b", [0; 16]).is_err());
    }

    #[test]
    fn reauth_context_round_trip_aka_and_prime() {
        let k = set(4);
        let aka = derive_aka(b"0234150999999999@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        for keys in [aka, aka_prime_keys()] {
            let ctx =
                ReauthContext::after_full_auth("0234150999999999", &keys, 7, 1000, 3600).unwrap();
            assert_eq!(ctx.counter(), 1);
            let id = ctx.seal(&k, REALM, [8; 16]).unwrap();
            assert!(id.len() <= MAX_IDENTITY_LEN, "{} bytes", id.len());
            assert!(id.ends_with(REALM));
            let back = ReauthContext::open(&k, id.as_bytes(), 1001).unwrap();
            assert_eq!(back, ctx);
            assert_eq!(back.version(), 7, "the subscriber's version is sealed");
            assert_eq!(back.k_encr(), &keys.k_encr);
            assert_eq!(back.k_aut(), &keys.k_aut);
            assert_eq!(
                ReauthContext::open(&k, id.as_bytes(), 4600),
                Err(Unresolved::Expired)
            );
            let n = ctx.next().unwrap();
            assert_eq!(n.counter(), 2);
            let s = format!("{ctx:?}");
            assert!(!s.contains("expose"));
            assert!(s.contains("redacted"));
        }
    }

    /// The re-auth identity carries the subscriber's store version; one of
    /// the format before it (no version) no longer resolves, and a version
    /// that does not fit is not sealed.
    #[test]
    fn reauth_context_seals_the_subscriber_version() {
        let k = set(3);
        let keys = aka_prime_keys();
        let ctx = ReauthContext::after_full_auth("6234150999999999", &keys, 41, 0, 100).unwrap();
        let id = ctx.seal(&k, REALM, [1; 16]).unwrap();
        let back = ReauthContext::open(&k, id.as_bytes(), 1).unwrap();
        assert_eq!(back.version(), 41);
        assert_eq!(back.next().unwrap().version(), 41, "kept across re-auths");
        let mut old = ctx.payload();
        old[0] = 1;
        let old_id = format!("{}@{REALM}", sealed::seal(&k, b'8', &old, [2; 16]));
        assert_eq!(
            ReauthContext::open(&k, old_id.as_bytes(), 1),
            Err(Unresolved::Malformed)
        );
        assert_eq!(
            ReauthContext::after_full_auth("6234150999999999", &keys, 1 << 32, 0, 100),
            Err(IssueError::Version(1 << 32))
        );
        // No longer than before the version was added.
        assert_eq!(id.len(), 195 + 1 + REALM.len());
    }

    /// An EAP-SIM context (RFC 4186 §5) seals its method: it opens as
    /// EAP-SIM, an EAP-AKA one does not, and EAP-AKA' keys never become SIM.
    #[test]
    fn sim_reauth_context_records_eap_sim() {
        let k = set(5);
        let keys = derive_aka(b"1234150999999999@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        let aka = ReauthContext::after_full_auth("1234150999999999", &keys, 3, 0, 100).unwrap();
        let sim = aka.clone().for_sim();
        assert!(sim.is_sim() && !aka.is_sim());
        let back =
            ReauthContext::open(&k, sim.seal(&k, REALM, [1; 16]).unwrap().as_bytes(), 1).unwrap();
        assert!(back.is_sim());
        assert_eq!(back, sim);
        assert!(back.next().unwrap().is_sim(), "kept across re-auths");
        let back =
            ReauthContext::open(&k, aka.seal(&k, REALM, [1; 16]).unwrap().as_bytes(), 1).unwrap();
        assert!(!back.is_sim());
        assert_ne!(sim.payload()[1], aka.payload()[1]);
        let prime = ReauthContext::after_full_auth("6234150999999999", &aka_prime_keys(), 0, 0, 9)
            .unwrap()
            .for_sim();
        assert!(!prime.is_sim());
    }

    #[test]
    fn reauth_id_length_limit() {
        let k = set(1);
        let ctx = ReauthContext::after_full_auth("6234150999999999", &aka_prime_keys(), 0, 0, 10)
            .unwrap();
        let long_realm = "r".repeat(100);
        assert!(matches!(
            ctx.seal(&k, &long_realm, [0; 16]),
            Err(IssueError::TooLong(_))
        ));
    }

    #[test]
    fn pseudonym_is_not_a_reauth_id() {
        let k = set(1);
        let p = make_pseudonym(&k, Method::AkaPrime, "6234150999999999", [5; 16]).unwrap();
        assert_eq!(
            ReauthContext::open(&k, p.as_bytes(), 0),
            Err(Unresolved::WrongPrefix)
        );
        let forged = format!("8{}", &p[1..]);
        assert_eq!(
            ReauthContext::open(&k, forged.as_bytes(), 0),
            Err(Unresolved::BadTag)
        );
    }
}
