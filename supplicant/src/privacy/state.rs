//! Per-profile privacy state: the pseudonym and the fast re-authentication
//! identity with its keys and last counter, kept in a `0600` TOML file
//! written atomically (temporary file, fsync, rename, fsync of the directory).
//!
//! Identity choice and forgetting follow RFC 4187 §4.1.1.7–4.1.1.9, §4.1.6
//! and §5 (as wpa_supplicant's eap_aka.c does):
//! * AT_ANY_ID_REQ (or EAP-Request/Identity): re-auth id, else pseudonym,
//!   else the permanent identity.
//! * AT_FULLAUTH_ID_REQ: the server did not accept the re-auth id — forget it;
//!   pseudonym, else permanent.
//! * AT_PERMANENT_ID_REQ: forget both; permanent.
//! * After a full authentication: the old re-auth id is gone; keep what the
//!   Challenge's AT_ENCR_DATA brought ([`PrivacyState::after_full_auth`]).
//! * After a fast re-authentication: the counter is stored, the next re-auth
//!   id replaces the old one, none means full authentication next time.
//! * On EAP-Failure after a fast re-authentication: forget the re-auth state
//!   ([`PrivacyState::on_failure`]).

use eap::aka::keys::{Keys, Method, ReauthSecret};
use eap::aka::message::IdReq;
use eap::secret::{KAut, KAutAka, KAutAkaPrime, KEncr, KRe, Mk};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// A state file problem.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("{path}:0: {err}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        err: std::io::Error,
    },
    /// The file is readable by group or others (it holds keys).
    #[error("{path}:0: mode {mode:04o} exposes re-authentication keys; expected 0600")]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is too large or not text.
    #[error(transparent)]
    Input(#[from] crate::input::InputError),
    /// The file does not parse.
    #[error("{path}:{line}: {msg}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line, 0 when not known.
        line: usize,
        /// What is wrong.
        msg: String,
    },
}

/// What fast re-authentication needs on the peer side (RFC 4187 §5).
/// `Debug` shows no key material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerReauth {
    /// The re-auth identity (a whole NAI, from AT_NEXT_REAUTH_ID).
    pub identity: String,
    /// MK (EAP-AKA) or K_re (EAP-AKA').
    pub secret: ReauthSecret,
    /// K_encr of the full authentication.
    pub k_encr: KEncr,
    /// K_aut of the full authentication.
    pub k_aut: KAut,
    /// The highest AT_COUNTER accepted so far (0 right after a full authentication).
    pub last_counter: u16,
}

impl PeerReauth {
    /// The method of the keys.
    pub fn method(&self) -> Method {
        self.secret.method()
    }
}

/// The state kept per profile.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrivacyState {
    /// The pseudonym NAI (AT_NEXT_PSEUDONYM user part + the permanent realm).
    pub pseudonym: Option<String>,
    /// Fast re-authentication state.
    pub reauth: Option<PeerReauth>,
}

/// Which identity the peer sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdentityChoice {
    /// The fast re-auth identity: expect AKA-Reauthentication.
    Reauth,
    /// The pseudonym.
    Pseudonym,
    /// The permanent identity (possibly encrypted with IMSI privacy).
    Permanent,
}

/// An identity ready to send, see [`PrivacyState::identity_to_send`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityToSend {
    /// Which kind was chosen.
    pub choice: IdentityChoice,
    /// The bytes for EAP-Response/Identity or AT_IDENTITY.
    pub wire: Vec<u8>,
    /// The identity for MK derivation if this is the last one sent.
    pub mk_identity: Vec<u8>,
}

/// Why an authentication ended in failure, for [`PrivacyState::on_failure`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The failure followed a fast re-authentication attempt.
    Reauth,
    /// The failure followed a full authentication.
    FullAuth,
}

#[derive(Serialize, Deserialize, Default, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct FileV1 {
    version: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pseudonym: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reauth: Option<ReauthFile>,
}

#[derive(Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
#[serde(deny_unknown_fields)]
struct ReauthFile {
    identity: String,
    method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    mk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    k_re: Option<String>,
    k_encr: String,
    k_aut: String,
    last_counter: u16,
}

fn unhex(s: &str) -> Option<Zeroizing<Vec<u8>>> {
    hex::decode(s).ok().map(Zeroizing::new)
}

impl ReauthFile {
    fn from_state(r: &PeerReauth) -> Self {
        let (method, mk, k_re) = match &r.secret {
            ReauthSecret::Mk(mk) => ("aka", Some(hex::encode(mk.expose())), None),
            ReauthSecret::KRe(k) => ("aka-prime", None, Some(hex::encode(k.expose()))),
        };
        Self {
            identity: r.identity.clone(),
            method: method.into(),
            mk,
            k_re,
            k_encr: hex::encode(r.k_encr.expose()),
            k_aut: hex::encode(r.k_aut.expose()),
            last_counter: r.last_counter,
        }
    }

    fn to_state(&self) -> Result<PeerReauth, String> {
        let bad = |what: &str| format!("reauth.{what}: expected a hex key of the right length");
        let k_encr = unhex(&self.k_encr)
            .and_then(|b| KEncr::from_slice(&b))
            .ok_or_else(|| bad("k_encr"))?;
        let aut = unhex(&self.k_aut).ok_or_else(|| bad("k_aut"))?;
        let (secret, k_aut) = match (self.method.as_str(), &self.mk, &self.k_re) {
            ("aka", Some(mk), None) => (
                ReauthSecret::Mk(
                    unhex(mk)
                        .and_then(|b| Mk::from_slice(&b))
                        .ok_or_else(|| bad("mk"))?,
                ),
                KAut::Aka(KAutAka::from_slice(&aut).ok_or_else(|| bad("k_aut"))?),
            ),
            ("aka-prime", None, Some(k)) => (
                ReauthSecret::KRe(
                    unhex(k)
                        .and_then(|b| KRe::from_slice(&b))
                        .ok_or_else(|| bad("k_re"))?,
                ),
                KAut::AkaPrime(KAutAkaPrime::from_slice(&aut).ok_or_else(|| bad("k_aut"))?),
            ),
            _ => {
                return Err(
                    "reauth: method must be \"aka\" with mk or \"aka-prime\" with k_re".into(),
                );
            }
        };
        if self.identity.is_empty() {
            return Err("reauth.identity is empty".into());
        }
        Ok(PeerReauth {
            identity: self.identity.clone(),
            secret,
            k_encr,
            k_aut,
            last_counter: self.last_counter,
        })
    }
}

impl PrivacyState {
    /// Loads the state; a missing file is an empty state.
    ///
    /// # Errors
    /// [`StateError`] when the file cannot be read, is readable by others, or
    /// does not parse.
    pub fn load(path: &Path) -> Result<Self, StateError> {
        use std::os::unix::fs::PermissionsExt;
        let io = |err| StateError::Io {
            path: path.to_owned(),
            err,
        };
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(io(e)),
        };
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 != 0 {
            return Err(StateError::Permissions {
                path: path.to_owned(),
                mode,
            });
        }
        let text = crate::input::read_text(path, crate::input::STATE_FILE)?;
        let fmt = |line: usize, msg: String| StateError::Format {
            path: path.to_owned(),
            line,
            msg,
        };
        let file: FileV1 = toml::from_str(&text).map_err(|e| {
            let (line, msg) = crate::input::toml_error(&text, &e);
            fmt(line, msg)
        })?;
        if file.version != 1 {
            return Err(fmt(
                crate::input::line_of_key(&text, "version"),
                format!("version: {} is not supported (expected 1)", file.version),
            ));
        }
        let reauth = match &file.reauth {
            Some(r) => Some(r.to_state().map_err(|m| fmt(0, m))?),
            None => None,
        };
        Ok(Self {
            pseudonym: file.pseudonym.clone(),
            reauth,
        })
    }

    /// Writes the state atomically with mode 0600: temporary file in the same
    /// directory, fsync, rename over `path`, fsync of the directory.
    ///
    /// # Errors
    /// [`StateError::Io`].
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |err| StateError::Io {
            path: path.to_owned(),
            err,
        };
        let file = FileV1 {
            version: 1,
            pseudonym: self.pseudonym.clone(),
            reauth: self.reauth.as_ref().map(ReauthFile::from_state),
        };
        let text = Zeroizing::new(
            toml::to_string(&file).map_err(|e| io(std::io::Error::other(e.to_string())))?,
        );
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = path
            .file_name()
            .ok_or_else(|| io(std::io::Error::other("no file name")))?;
        let mut tmp_name = name.to_owned();
        tmp_name.push(format!(".tmp.{}", std::process::id()));
        let tmp = dir.join(tmp_name);
        let result = (|| {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(&dir)?.sync_all()
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result.map_err(io)
    }

    /// Chooses the identity for an identity request (`None`: the
    /// EAP-Request/Identity, treated as AT_ANY_ID_REQ), forgetting what the
    /// request shows the server did not accept. Returns the choice and the
    /// identity to send (`permanent` when nothing better applies). Save the
    /// state afterwards when it changed.
    pub fn select_identity(
        &mut self,
        req: Option<IdReq>,
        permanent: &str,
    ) -> (IdentityChoice, String) {
        let req = req.unwrap_or(IdReq::Any);
        match req {
            IdReq::Any => {}
            IdReq::Fullauth => self.reauth = None,
            IdReq::Permanent => {
                self.reauth = None;
                self.pseudonym = None;
            }
        }
        if let Some(r) = &self.reauth {
            return (IdentityChoice::Reauth, r.identity.clone());
        }
        if let Some(p) = &self.pseudonym {
            return (IdentityChoice::Pseudonym, p.clone());
        }
        (IdentityChoice::Permanent, permanent.to_owned())
    }

    /// [`PrivacyState::select_identity`] plus IMSI privacy: with an operator
    /// certificate, a permanent identity is sent encrypted in AT_IDENTITY,
    /// and `anonymous@realm` in EAP-Response/Identity (`in_eap_identity`),
    /// because the encrypted form (345 octets with RSA-2048) does not fit
    /// RADIUS User-Name. `mk_identity` is what MK derivation must use
    /// (RFC 4187 §7): the identity sent, except that an encrypted identity
    /// counts as the plain permanent NAI (the server decrypts it).
    ///
    /// # Errors
    /// [`super::imsi::CertError::Encrypt`] when the identity does not encrypt.
    pub fn identity_to_send(
        &mut self,
        req: Option<IdReq>,
        permanent: &str,
        cert: Option<(&super::imsi::OperatorCert, Option<&str>)>,
        in_eap_identity: bool,
    ) -> Result<IdentityToSend, super::imsi::CertError> {
        let (choice, id) = self.select_identity(req, permanent);
        let plain = IdentityToSend {
            choice,
            wire: id.clone().into_bytes(),
            mk_identity: id.into_bytes(),
        };
        let (IdentityChoice::Permanent, Some((cert, attr))) = (choice, cert) else {
            return Ok(plain);
        };
        if in_eap_identity {
            let realm = permanent.rsplit_once('@').map_or("", |(_, r)| r);
            let anon = format!("anonymous@{realm}");
            return Ok(IdentityToSend {
                choice,
                wire: anon.clone().into_bytes(),
                mk_identity: anon.into_bytes(),
            });
        }
        Ok(IdentityToSend {
            choice,
            wire: cert.encrypt_identity(permanent, attr)?,
            mk_identity: permanent.as_bytes().to_vec(),
        })
    }

    /// After a successful full authentication with `keys`: the old re-auth
    /// state is dropped; the pseudonym and re-auth id learned from the
    /// Challenge (if any) are kept. `realm` is appended to the pseudonym user
    /// part (RFC 4187 §4.1.1.7: the peer adds its realm).
    pub fn after_full_auth(
        &mut self,
        learned: super::reauth::LearnedIdentities,
        keys: &Keys,
        realm: Option<&str>,
    ) {
        if let Some(p) = learned.pseudonym {
            self.pseudonym = Some(match realm {
                Some(r) => format!("{p}@{r}"),
                None => p,
            });
        }
        self.reauth = learned.reauth_id.map(|identity| PeerReauth {
            identity,
            secret: keys.reauth.clone(),
            k_encr: keys.k_encr.clone(),
            k_aut: keys.k_aut.clone(),
            last_counter: 0,
        });
    }

    /// After EAP-Failure: a failed fast re-authentication forgets the re-auth
    /// state (its keys are suspect, RFC 4187 §5); a failed full authentication
    /// forgets the re-auth state too but keeps the pseudonym (the server asks
    /// for the permanent identity if it does not know it).
    pub fn on_failure(&mut self, kind: FailureKind) {
        match kind {
            FailureKind::Reauth | FailureKind::FullAuth => self.reauth = None,
        }
    }

    /// Forgets everything (e.g. the SIM changed).
    pub fn forget_all(&mut self) {
        self.pseudonym = None;
        self.reauth = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::reauth::LearnedIdentities;
    use eap::aka::keys::{derive_aka, derive_aka_prime};
    use eap::secret::{Ck, CkPrime, Ik, IkPrime};
    use std::os::unix::fs::PermissionsExt;

    fn learned() -> LearnedIdentities {
        LearnedIdentities {
            pseudonym: Some("7abc".into()),
            reauth_id: Some("8def@realm".into()),
        }
    }

    #[test]
    fn save_load_round_trip_0600_both_methods() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("profile.privacy");
        assert_eq!(PrivacyState::load(&path).unwrap(), PrivacyState::default());
        for keys in [
            derive_aka(b"0x@r", &Ik::new([1; 16]), &Ck::new([2; 16])),
            derive_aka_prime(b"6x@r", &CkPrime::new([1; 16]), &IkPrime::new([2; 16])),
        ] {
            let mut s = PrivacyState::default();
            s.after_full_auth(learned(), &keys, Some("realm"));
            assert_eq!(s.pseudonym.as_deref(), Some("7abc@realm"));
            s.reauth.as_mut().unwrap().last_counter = 7;
            s.save(&path).unwrap();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            assert_eq!(PrivacyState::load(&path).unwrap(), s);
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("last_counter = 7"));
            assert!(format!("{s:?}").contains("redacted"));
        }
        // no temporary file left behind
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn load_refuses_world_readable_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p");
        PrivacyState::default().save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            PrivacyState::load(&path),
            Err(StateError::Permissions { .. })
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::write(&path, "version = 2\n").unwrap();
        assert!(matches!(
            PrivacyState::load(&path),
            Err(StateError::Format { .. })
        ));
        std::fs::write(&path, "version = 1\n[reauth]\nidentity = \"8x@r\"\nmethod = \"aka\"\nk_encr = \"00\"\nk_aut = \"00\"\nlast_counter = 1\n").unwrap();
        let e = PrivacyState::load(&path).unwrap_err();
        assert!(e.to_string().contains("k_encr"), "{e}");
        std::fs::write(&path, "version = 1\nbogus = 1\n").unwrap();
        assert!(PrivacyState::load(&path).is_err());
        // file:line: key: what was expected.
        std::fs::write(&path, "version = 1\npseudonym = 7\n").unwrap();
        let e = PrivacyState::load(&path).unwrap_err().to_string();
        assert!(e.contains("p:2: pseudonym: invalid type"), "{e}");
        std::fs::write(&path, "version = 2\n").unwrap();
        let e = PrivacyState::load(&path).unwrap_err().to_string();
        assert!(
            e.ends_with("p:1: version: 2 is not supported (expected 1)"),
            "{e}"
        );
        // Size cap.
        std::fs::write(&path, format!("version = 1\n#{}\n", "x".repeat(70_000))).unwrap();
        let e = PrivacyState::load(&path).unwrap_err().to_string();
        assert!(
            e.contains("p:0: the privacy state file is larger than 65536"),
            "{e}"
        );
    }

    #[test]
    fn imsi_privacy_identity_choice() {
        let pem = {
            use openssl::asn1::Asn1Time;
            use openssl::pkey::PKey;
            use openssl::x509::X509;
            let key = PKey::from_rsa(openssl::rsa::Rsa::generate(2048).unwrap()).unwrap();
            let mut b = X509::builder().unwrap();
            b.set_pubkey(&key).unwrap();
            b.set_not_before(&Asn1Time::from_unix(0).unwrap()).unwrap();
            b.set_not_after(&Asn1Time::from_unix(4_000_000_000).unwrap())
                .unwrap();
            b.sign(&key, openssl::hash::MessageDigest::sha256())
                .unwrap();
            b.build().to_pem().unwrap()
        };
        let cert = crate::privacy::OperatorCert::from_pem(&pem, 1_000).unwrap();
        let perm = "0001010000000001@wlan.mnc001.mcc001.3gppnetwork.org";
        let mut s = PrivacyState::default();
        let e = s
            .identity_to_send(None, perm, Some((&cert, None)), true)
            .unwrap();
        assert_eq!(e.wire, b"anonymous@wlan.mnc001.mcc001.3gppnetwork.org");
        let a = s
            .identity_to_send(Some(IdReq::Any), perm, Some((&cert, None)), false)
            .unwrap();
        assert_eq!(a.choice, IdentityChoice::Permanent);
        assert_eq!(a.wire[0], 0);
        assert_eq!(a.wire.len(), 345);
        assert_eq!(a.mk_identity, perm.as_bytes());
        let plain = s
            .identity_to_send(Some(IdReq::Permanent), perm, None, true)
            .unwrap();
        assert_eq!(plain.wire, perm.as_bytes());
        // A pseudonym is sent as is, with or without a certificate.
        s.pseudonym = Some("7p@r".into());
        let p = s
            .identity_to_send(None, perm, Some((&cert, None)), true)
            .unwrap();
        assert_eq!(
            (p.choice, p.wire.as_slice()),
            (IdentityChoice::Pseudonym, &b"7p@r"[..])
        );
    }

    #[test]
    fn identity_selection_and_forgetting() {
        let keys = derive_aka(b"0x@r", &Ik::new([1; 16]), &Ck::new([2; 16]));
        let mut s = PrivacyState::default();
        s.after_full_auth(learned(), &keys, Some("r"));
        assert_eq!(
            s.select_identity(None, "0perm@r"),
            (IdentityChoice::Reauth, "8def@realm".into())
        );
        assert_eq!(
            s.select_identity(Some(IdReq::Any), "0perm@r").0,
            IdentityChoice::Reauth
        );
        assert_eq!(
            s.select_identity(Some(IdReq::Fullauth), "0perm@r"),
            (IdentityChoice::Pseudonym, "7abc@r".into())
        );
        assert!(s.reauth.is_none());
        assert_eq!(
            s.select_identity(Some(IdReq::Permanent), "0perm@r"),
            (IdentityChoice::Permanent, "0perm@r".into())
        );
        assert_eq!(s, PrivacyState::default());
        s.after_full_auth(learned(), &keys, None);
        s.on_failure(FailureKind::Reauth);
        assert!(s.reauth.is_none());
        assert_eq!(s.pseudonym.as_deref(), Some("7abc"));
        // A full authentication without AT_NEXT_REAUTH_ID drops the old one.
        s.after_full_auth(learned(), &keys, None);
        s.after_full_auth(LearnedIdentities::default(), &keys, None);
        assert!(s.reauth.is_none());
        assert_eq!(s.pseudonym.as_deref(), Some("7abc"));
        s.forget_all();
        assert_eq!(s, PrivacyState::default());
    }
}
