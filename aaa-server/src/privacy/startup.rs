//! Building the [`PrivacyServer`] when `serve` starts (and checking it for
//! `serve --check`): configured keys or the key generated in the HSS
//! database, and the IMSI-privacy private key.

use super::imsi::ImsiPrivacyKey;
use super::keys::{KeySet, PrivacyKeyStore, SqliteKeyStore};
use super::resolve::PrivacyServer;
use crate::config::PrivacyConfig;
use std::path::Path;

/// Realm for issued re-auth identities when neither the peer's identity
/// nor `[privacy] realm` gives one.
pub const DEFAULT_REALM: &str = "localdomain";

/// Why the privacy features could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The IMSI-privacy key file.
    #[error("privacy.imsi_privacy_key: {0}")]
    ImsiKey(#[from] super::imsi::ImsiPrivacyError),
    /// The generated key set in the HSS database.
    #[error("{0}")]
    Keys(#[from] super::keys::KeyError),
    /// Opening the HSS database for the key table.
    #[error("privacy key store {path}: {err}")]
    Open {
        /// The database.
        path: String,
        /// The error.
        err: rusqlite::Error,
    },
}

/// Loads the IMSI-privacy key, if configured (also what `--check` runs).
///
/// # Errors
/// [`StartupError::ImsiKey`] (unreadable, readable by others, not RSA).
pub fn imsi_key(cfg: &PrivacyConfig) -> Result<Option<ImsiPrivacyKey>, StartupError> {
    Ok(cfg
        .imsi_privacy_key
        .as_deref()
        .map(ImsiPrivacyKey::load_pem)
        .transpose()?)
}

/// The key set: the configured one, else the one kept in `database`
/// (generated and committed on first start, table `privacy_keys`).
///
/// # Errors
/// [`StartupError`] when the database cannot be opened or the RNG fails.
pub fn key_set(cfg: &PrivacyConfig, database: &Path) -> Result<KeySet, StartupError> {
    if let Some(k) = &cfg.keys {
        return Ok(k.clone());
    }
    let conn = rusqlite::Connection::open(database).map_err(|err| StartupError::Open {
        path: database.display().to_string(),
        err,
    })?;
    // Another process may hold the database for a moment (SQN reservation).
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    Ok(SqliteKeyStore::new(&conn).load_or_create()?)
}

/// Where the identity-protection keys come from, as `serve --check` sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySource {
    /// `[privacy]` configures them (these indexes).
    Configured(Vec<u8>),
    /// Stored in the HSS database (these indexes).
    Stored(Vec<u8>),
    /// None yet: the first `serve` generates one.
    FirstStart,
}

/// What [`build`] would do, without generating or writing anything: loads
/// the IMSI-privacy key and reads (read-only) the stored key set.
///
/// # Errors
/// [`StartupError`] as [`build`] would fail.
pub fn check(cfg: &PrivacyConfig, database: &Path) -> Result<KeySource, StartupError> {
    imsi_key(cfg)?;
    if let Some(k) = &cfg.keys {
        return Ok(KeySource::Configured(k.indexes()));
    }
    if !database.exists() {
        return Ok(KeySource::FirstStart);
    }
    let open_err = |err| StartupError::Open {
        path: database.display().to_string(),
        err,
    };
    let conn = rusqlite::Connection::open_with_flags(
        database,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(open_err)?;
    let _ = conn.busy_timeout(std::time::Duration::from_secs(5));
    Ok(match SqliteKeyStore::new(&conn).load_existing()? {
        Some(set) => KeySource::Stored(set.indexes()),
        None => KeySource::FirstStart,
    })
}

/// Everything the EAP server needs for `[privacy]`.
///
/// # Errors
/// [`StartupError`].
pub fn build(cfg: &PrivacyConfig, database: &Path) -> Result<PrivacyServer, StartupError> {
    let p = PrivacyServer {
        keys: key_set(cfg, database)?,
        policy: cfg.policy,
        imsi_key: imsi_key(cfg)?,
        realm: cfg
            .realm
            .clone()
            .unwrap_or_else(|| DEFAULT_REALM.to_string()),
    };
    tracing::info!(
        pseudonyms = p.policy.pseudonyms,
        fast_reauth = p.policy.fast_reauth,
        reauth_limit = p.policy.reauth_limit,
        result_indication = p.policy.result_indication,
        imsi_privacy = p.imsi_key.is_some(),
        keys = ?p.keys.indexes(),
        current_key = p.keys.current().index(),
        key_source = if cfg.keys.is_some() { "config" } else { "database" },
        "privacy"
    );
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::{PrivacyKey, identity::make_pseudonym, resolve_pseudonym};
    use eap::aka::keys::Method;

    #[test]
    fn generated_keys_persist_and_configured_keys_win() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("subscribers.db");
        let cfg = PrivacyConfig::default();
        let a = build(&cfg, &db).unwrap();
        let b = build(&cfg, &db).unwrap();
        assert_eq!(a.keys.indexes(), vec![1]);
        assert_eq!(a.realm, DEFAULT_REALM);
        // A second start (or node on the same database) opens the first's pseudonyms.
        let p = make_pseudonym(&a.keys, Method::AkaPrime, "6001010000000001", [0; 16]).unwrap();
        assert_eq!(
            resolve_pseudonym(&b.keys, p.as_bytes())
                .unwrap()
                .permanent_user,
            "6001010000000001"
        );
        let configured = PrivacyConfig {
            keys: Some(KeySet::new(PrivacyKey::new(7, [7; 32]), vec![]).unwrap()),
            realm: Some("example.org".into()),
            ..PrivacyConfig::default()
        };
        let c = build(&configured, &dir.path().join("absent/never.db")).unwrap();
        assert_eq!(c.keys.indexes(), vec![7]);
        assert_eq!(c.realm, "example.org");
        assert!(resolve_pseudonym(&c.keys, p.as_bytes()).is_err());
    }

    #[test]
    fn check_reads_without_generating() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("subscribers.db");
        let cfg = PrivacyConfig::default();
        assert_eq!(check(&cfg, &db).unwrap(), KeySource::FirstStart);
        assert!(!db.exists(), "check creates nothing");
        drop(crate::hss::SqliteStore::create(&db).unwrap());
        assert_eq!(check(&cfg, &db).unwrap(), KeySource::FirstStart);
        build(&cfg, &db).unwrap();
        assert_eq!(check(&cfg, &db).unwrap(), KeySource::Stored(vec![1]));
        let configured = PrivacyConfig {
            keys: Some(KeySet::new(PrivacyKey::new(7, [7; 32]), vec![]).unwrap()),
            ..PrivacyConfig::default()
        };
        assert_eq!(
            check(&configured, &db).unwrap(),
            KeySource::Configured(vec![7])
        );
    }

    #[test]
    fn imsi_key_errors_name_the_setting() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = PrivacyConfig {
            imsi_privacy_key: Some(dir.path().join("missing.pem")),
            ..PrivacyConfig::default()
        };
        let e = imsi_key(&cfg).unwrap_err().to_string();
        assert!(e.starts_with("privacy.imsi_privacy_key: "), "{e}");
        assert!(imsi_key(&PrivacyConfig::default()).unwrap().is_none());
    }
}
