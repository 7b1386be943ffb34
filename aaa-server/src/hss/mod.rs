//! The HSS stub: subscribers, UMTS authentication vectors (3GPP TS 33.102
//! §6.3) and SQN resynchronisation, behind the [`Hss`] trait so the EAP server
//! and the hlr_auc_gw front end do not depend on SQLite.

pub mod any;
pub mod copy;
pub mod milenage_db;
pub mod postgres;
pub mod reserve;
pub mod rng;
pub mod sqlite;
pub mod store_file;

use eap::umts::{Amf, AuthVector, Auts, Sqn};

pub use sqlite::SqliteStore;

/// An IMSI: 6 to 15 decimal digits (3GPP TS 23.003 §2.2). The one type the
/// codec, the supplicant and the server share; its `Debug` masks the MSIN.
pub use eap::identity::{Imsi, MncLen};

impl From<eap::identity::IdentityError> for HssError {
    fn from(_: eap::identity::IdentityError) -> Self {
        HssError::BadImsi
    }
}

/// Masks everything after the first 5 digits (MCC + 2-digit MNC) of an IMSI-like string.
pub fn mask_digits(s: &str) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < 5 { c } else { '*' })
        .collect()
}

/// Which EAP method a vector is for: EAP-AKA' vectors carry the AMF
/// separation bit (RFC 9048 §3, 3GPP TS 33.402 §6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VectorKind {
    /// Plain UMTS AKA vector (stored AMF as is).
    Aka,
    /// EAP-AKA' vector (AMF separation bit set).
    AkaPrime,
}

/// HSS failures. None of them carries key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HssError {
    /// The IMSI is not 6–15 digits.
    #[error("IMSI must be 6 to 15 decimal digits")]
    BadImsi,
    /// No such subscriber.
    #[error("unknown subscriber")]
    UnknownSubscriber,
    /// The subscriber already exists.
    #[error("subscriber already exists")]
    Exists,
    /// An import would change this existing subscriber's K, OPc or AMF.
    #[error("subscriber {0} already exists with another K, OPc or AMF")]
    Clash(String),
    /// AUTS did not verify (MAC-S), TS 33.102 §6.3.5.
    #[error("AUTS MAC-S does not verify")]
    ResyncMacFailure,
    /// The RNG failed.
    #[error("random number generator failed: {0}")]
    Rng(String),
    /// The store file cannot be opened (named, with why).
    #[error("subscriber store {}: {err}", path.display())]
    Open {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        err: store_file::OpenError,
    },
    /// The store failed.
    #[error("subscriber store: {0}")]
    Store(String),
    /// This store does not implement the operation (e.g. GSM triplets).
    #[error("{0} unsupported by this store")]
    Unsupported(&'static str),
    /// The subscriber is barred (`subscriber bar`).
    #[error("subscriber is barred")]
    Barred,
    /// No such subscriber group.
    #[error("unknown group")]
    UnknownGroup,
    /// The group still has members.
    #[error("group still has {0} member(s)")]
    GroupInUse(u64),
    /// A reply attribute does not fit.
    #[error("{0}")]
    Attribute(#[from] crate::authz::AttrError),
}

impl From<rusqlite::Error> for HssError {
    fn from(e: rusqlite::Error) -> Self {
        HssError::Store(e.to_string())
    }
}

/// The subscriber store as the EAP server and hlr-gw see it.
pub trait Hss: Send + Sync {
    /// Advances the subscriber's SQN, commits it, and returns a vector made
    /// with the new SQN and a fresh RAND (TS 33.102 §6.3.2).
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError>;

    /// As [`Hss::vector`], with the subscriber's version the vector was
    /// made from: hand it to [`Hss::current`] before accepting.
    fn vector_versioned(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        Ok((self.vector(imsi, kind)?, 0))
    }

    /// Whether the subscriber is still as it was at `version` (from
    /// [`Hss::vector_versioned`]): false once it was removed, or its K, OPc,
    /// AMF or SQN set, since. The EAP server asks right before it answers
    /// Access-Accept (full authentication and fast re-authentication, whose
    /// re-auth identity carries the version), on a store worker unless
    /// [`Hss::try_current`] answers, and rejects on false. Stores whose
    /// subscribers never change keep the default.
    fn current(&self, _imsi: &Imsi, _version: u64) -> Result<bool, HssError> {
        Ok(true)
    }

    /// [`current`](Hss::current) if it can be answered at once from memory
    /// that is exact — no I/O, no waiting — else `None` (the default): the
    /// check then goes to the store workers, so a slow or remote store
    /// never blocks a RADIUS socket worker.
    fn try_current(&self, imsi: &Imsi, version: u64) -> Option<Result<bool, HssError>> {
        let _ = (imsi, version);
        None
    }

    /// [`vector`](Hss::vector) if it can be answered at once from memory —
    /// no I/O, no commit, no waiting — else `None` (the default): the call
    /// then goes to the store workers. Lets the socket workers serve the
    /// common case without a thread hop.
    /// With the subscriber's version, as [`Hss::vector_versioned`].
    fn try_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Option<Result<(AuthVector, u64), HssError>> {
        let _ = (imsi, kind);
        None
    }

    /// The subscriber's barring and reply attributes (group's, overridden by
    /// its own). The EAP server asks on a store worker before the vector
    /// and before Access-Accept unless [`Hss::try_authorization`] answers.
    /// Default: [`HssError::Unsupported`] (served as not barred, no attributes).
    fn authorization(&self, _imsi: &Imsi) -> Result<crate::authz::Authorization, HssError> {
        Err(HssError::Unsupported("groups and barring"))
    }

    /// [`authorization`](Hss::authorization) if it can be answered at once
    /// from memory, else `None`. Default: [`HssError::Unsupported`] at once.
    fn try_authorization(
        &self,
        _imsi: &Imsi,
    ) -> Option<Result<crate::authz::Authorization, HssError>> {
        Some(Err(HssError::Unsupported("groups and barring")))
    }

    /// Both checks before Access-Accept at once, if both can be answered
    /// from memory: [`try_authorization`](Hss::try_authorization) and
    /// [`try_current`](Hss::try_current) (a store may look at its file once
    /// for both). Exact as of `now` (the step's clock, never later than the
    /// call): a change committed before it is seen. Default: the two calls,
    /// authorization first.
    fn try_confirm(
        &self,
        imsi: &Imsi,
        version: u64,
        _now: std::time::Instant,
    ) -> Option<(
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    )> {
        // Authorization first: `try_current` counts what it turns down.
        let a = self.try_authorization(imsi)?;
        Some((a, self.try_current(imsi, version)?))
    }

    /// A vector ([`Hss::vector_versioned`]) for a subscriber found not
    /// barred first: [`HssError::Barred`] without using an SQN otherwise.
    /// The EAP server calls this on a store worker when
    /// [`Hss::try_vector`] did not answer. Default: [`Hss::authorization`],
    /// then the vector (a store without groups and barring serves everyone);
    /// a remote store may do both in one round trip.
    fn authorized_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        match self.authorization(imsi) {
            Ok(a) if a.barred => Err(HssError::Barred),
            Err(e) if !matches!(e, HssError::UnknownSubscriber | HssError::Unsupported(_)) => {
                Err(e)
            }
            _ => self.vector_versioned(imsi, kind),
        }
    }

    /// Both checks before Access-Accept, on a store worker when
    /// [`Hss::try_confirm`] did not answer: the subscriber's authorization
    /// and whether it is still as at `version` ([`Hss::current`]). Default:
    /// the two calls, [`Hss::current`] first; a remote store may answer both
    /// from one statement (one snapshot, one round trip).
    fn confirm(
        &self,
        imsi: &Imsi,
        version: u64,
    ) -> (
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    ) {
        let current = self.current(imsi, version);
        (self.authorization(imsi), current)
    }

    /// Verifies AUTS for `rand` and sets SQN_HE so the next vector is fresh
    /// for the USIM (TS 33.102 §6.3.5). Returns the USIM's SQN_MS.
    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError>;

    /// `n` GSM triplets (RAND, SRES, Kc) with pairwise distinct RANDs for
    /// EAP-SIM (RFC 4186 §9.3) and the subscriber's version (as
    /// [`Hss::vector_versioned`]): GSM-Milenage (TS 55.205) from K/OPc.
    /// Stores without GSM support keep the default, which refuses.
    fn triplets(&self, imsi: &Imsi, n: usize) -> Result<(Vec<Triplet>, u64), HssError> {
        let _ = (imsi, n);
        Err(HssError::Unsupported("GSM triplets"))
    }
}

/// A GSM authentication triplet (RAND, SRES, Kc), TS 43.020 §3.
pub use eap::gsm::Triplet;

/// `n` GSM-Milenage triplets from `keys` with fresh, pairwise distinct RANDs.
pub fn gsm_milenage_triplets(
    keys: &eap::umts::SubscriberKeys,
    n: usize,
) -> Result<Vec<Triplet>, HssError> {
    let mut out: Vec<Triplet> = Vec::with_capacity(n);
    while out.len() < n {
        let mut rand = [0u8; 16];
        rng::fill(&mut rand).map_err(|e| HssError::Rng(e.to_string()))?;
        if out.iter().any(|t| t.rand == rand) {
            continue;
        }
        out.push(keys.gsm_triplet(rand));
    }
    Ok(out)
}

/// An accounting record (RFC 2866) to be stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccountingRecord {
    /// The RADIUS client's name.
    pub client: String,
    /// Acct-Session-Id.
    pub session_id: String,
    /// Acct-Status-Type (1 Start, 2 Stop, 3 Interim-Update, 7 Accounting-On, 8 Accounting-Off).
    pub status_type: u32,
    /// User-Name.
    pub user: String,
    /// NAS-Identifier or NAS-IP-Address.
    pub nas: String,
    /// Acct-Input-Octets (with Acct-Input-Gigawords).
    pub input_octets: u64,
    /// Acct-Output-Octets (with Acct-Output-Gigawords).
    pub output_octets: u64,
    /// Acct-Session-Time in seconds.
    pub session_time: u32,
    /// Event-Timestamp (RFC 2869 §5.3), seconds since 1970.
    pub event_timestamp: Option<u64>,
    /// Acct-Delay-Time (RFC 2866 §5.2), seconds.
    pub delay_time: Option<u32>,
    /// Calling-Station-Id (the station's MAC), for the session table.
    pub calling_station_id: String,
}

/// Where accounting records go.
pub trait AccountingLog: Send + Sync {
    /// Stores a record durably; the Accounting-Response is sent only after this returns Ok (RFC 2866 §4.1).
    fn record(&self, rec: &AccountingRecord) -> Result<(), HssError>;
}

/// The next SQN after `sqn`: SEQ + 1 and IND + 1 (mod 2^5), as hostapd's
/// hlr_auc_gw does (TS 33.102 Annex C.1.1–C.1.2, non-time-based SEQ).
pub fn next_sqn(sqn: Sqn) -> Sqn {
    Sqn::from_seq_ind(sqn.seq() + 1, sqn.ind().wrapping_add(1))
}

/// The AMF a vector of `kind` carries.
pub fn vector_amf(stored: Amf, kind: VectorKind) -> Amf {
    match kind {
        VectorKind::Aka => stored,
        VectorKind::AkaPrime => stored.with_separation_bit(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imsi_and_masking() {
        assert!(Imsi::parse("12345").is_err());
        assert!(Imsi::parse("1234567890123456").is_err());
        assert!(Imsi::parse("24491000000001a").is_err());
        let i = Imsi::parse("244910000000001").unwrap();
        assert_eq!(i.masked(MncLen::Two), "24491**********");
        assert_eq!(next_sqn(Sqn::from_seq_ind(7, 31)), Sqn::from_seq_ind(8, 0));
        assert!(vector_amf(Amf([0, 0]), VectorKind::AkaPrime).separation_bit());
        assert!(!vector_amf(Amf([0, 0]), VectorKind::Aka).separation_bit());
    }
}

#[cfg(test)]
mod default_tests {
    use super::*;
    use crate::authz::Authorization;
    use eap::secret::{K, Opc};
    use eap::umts::SubscriberKeys;

    /// A store whose authorization answer is fixed; counts vectors.
    struct Fixed(
        Result<Authorization, HssError>,
        std::sync::atomic::AtomicU32,
    );

    impl Hss for Fixed {
        fn vector(&self, _: &Imsi, _: VectorKind) -> Result<AuthVector, HssError> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
            Ok(keys.generate_vector(Sqn::from_seq_ind(1, 1), Amf([0x80, 0]), [3; 16]))
        }
        fn authorization(&self, _: &Imsi) -> Result<Authorization, HssError> {
            self.0.clone()
        }
        fn current(&self, _: &Imsi, version: u64) -> Result<bool, HssError> {
            Ok(version == 7)
        }
        fn resync(&self, _: &Imsi, _: &[u8; 16], _: &Auts) -> Result<Sqn, HssError> {
            Err(HssError::Unsupported("resync"))
        }
    }

    fn vectors(authz: Result<Authorization, HssError>) -> (Result<u64, HssError>, u32) {
        let s = Fixed(authz, Default::default());
        let imsi = Imsi::parse("001010000000001").unwrap();
        let r = s
            .authorized_vector(&imsi, VectorKind::AkaPrime)
            .map(|(_, v)| v);
        (r, s.1.load(std::sync::atomic::Ordering::Relaxed))
    }

    #[test]
    fn authorized_vector_checks_barring_first() {
        let barred = Authorization {
            barred: true,
            ..Default::default()
        };
        assert_eq!(vectors(Ok(barred)), (Err(HssError::Barred), 0));
        assert_eq!(vectors(Ok(Authorization::default())), (Ok(0), 1));
        // No groups and barring, or no authorization row: served.
        assert_eq!(vectors(Err(HssError::Unsupported("x"))), (Ok(0), 1));
        assert_eq!(vectors(Err(HssError::UnknownSubscriber)), (Ok(0), 1));
        // A failing store issues no vector.
        let e = HssError::Store("down".into());
        assert_eq!(vectors(Err(e.clone())), (Err(e), 0));
    }

    #[test]
    fn confirm_is_both_checks() {
        let s = Fixed(Ok(Authorization::default()), Default::default());
        let imsi = Imsi::parse("001010000000001").unwrap();
        let (a, current) = s.confirm(&imsi, 7);
        assert_eq!((a.unwrap().barred, current), (false, Ok(true)));
        assert_eq!(s.confirm(&imsi, 8).1, Ok(false));
    }
}
