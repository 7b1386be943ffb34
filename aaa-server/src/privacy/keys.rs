//! The identity-protection key set: a current key that seals new pseudonyms
//! and re-authentication identities, plus older keys still accepted when
//! opening them. Each key has a one-byte index carried in the clear in every
//! sealed identity, so any node with the same key set can open it.
//!
//! Keys come from the configuration (`[privacy] current_key`, `[[privacy.key]]`)
//! or, with none configured, from the store ([`PrivacyKeyStore`]): generated
//! on first start and kept, so a single node needs no key management.
//! A key removed from the set is retired: identities sealed under it no longer
//! open and the peer falls back to a full authentication.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of a key as configured or stored (256 bits).
pub const KEY_LEN: usize = 32;

/// A key set, key or store problem.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// A configured key is neither 64 hex digits nor base64 of 32 bytes.
    #[error("privacy key {index}: not 64 hex digits or base64 of 32 bytes")]
    BadKeyEncoding {
        /// The key index.
        index: u8,
    },
    /// Two keys with the same index.
    #[error("privacy key index {0} appears twice")]
    DuplicateIndex(u8),
    /// `current_key` names an index that is not in the key list.
    #[error("privacy current_key = {0} but no key has that index")]
    NoCurrentKey(u8),
    /// Keys are configured but `current_key` is missing.
    #[error("privacy keys configured without current_key")]
    CurrentKeyMissing,
    /// The OS random number generator failed.
    #[error("random number generator: {0}")]
    Rng(String),
    /// The SQLite store failed.
    #[error("privacy key store: {0}")]
    Store(#[from] rusqlite::Error),
    /// A stored key has the wrong length (the table was edited by hand).
    #[error("privacy key store: key {0} is not {KEY_LEN} bytes")]
    StoredKeyLength(i64),
}

/// One identity-protection key: the configured 32-byte secret and the
/// encryption and MAC subkeys derived from it (HMAC-SHA-256 with distinct
/// labels), so the same bytes are never used for both. Zeroized on drop,
/// redacted in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivacyKey {
    index: u8,
    secret: [u8; KEY_LEN],
    enc: [u8; 16],
    mac: [u8; 32],
}

impl core::fmt::Debug for PrivacyKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "PrivacyKey {{ index: {}, <redacted> }}", self.index)
    }
}

fn hmac_label(secret: &[u8], label: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length.
    let mut m = match <Hmac<Sha256> as KeyInit>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    };
    m.update(label);
    m.finalize().into_bytes().into()
}

impl PrivacyKey {
    /// A key from its index and 32-byte secret.
    pub fn new(index: u8, secret: [u8; KEY_LEN]) -> Self {
        let mut full_enc = hmac_label(&secret, b"passpoint-aka identity encryption v1");
        let mac = hmac_label(&secret, b"passpoint-aka identity authentication v1");
        let mut enc = [0u8; 16];
        enc.copy_from_slice(&full_enc[..16]);
        full_enc.zeroize();
        Self {
            index,
            secret,
            enc,
            mac,
        }
    }

    /// A fresh random key with `index`.
    ///
    /// # Errors
    /// [`KeyError::Rng`] when the OS RNG fails.
    pub fn generate(index: u8) -> Result<Self, KeyError> {
        let mut secret = [0u8; KEY_LEN];
        getrandom::fill(&mut secret).map_err(|e| KeyError::Rng(e.to_string()))?;
        let k = Self::new(index, secret);
        secret.zeroize();
        Ok(k)
    }

    /// Parses a configured key: 64 hex digits, or standard base64 of 32 bytes.
    ///
    /// # Errors
    /// [`KeyError::BadKeyEncoding`].
    pub fn parse(index: u8, text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        if text.len() == 2 * KEY_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            *bytes = hex::decode(text).map_err(|_| KeyError::BadKeyEncoding { index })?;
        } else {
            *bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| KeyError::BadKeyEncoding { index })?;
        }
        let secret: [u8; KEY_LEN] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::BadKeyEncoding { index })?;
        Ok(Self::new(index, secret))
    }

    /// The key index carried in sealed identities.
    pub fn index(&self) -> u8 {
        self.index
    }

    pub(crate) fn enc_key(&self) -> &[u8; 16] {
        &self.enc
    }

    pub(crate) fn mac_key(&self) -> &[u8; 32] {
        &self.mac
    }

    /// The configured secret (for the store). Never log it.
    fn secret(&self) -> &[u8; KEY_LEN] {
        &self.secret
    }
}

/// The current key plus older keys still accepted.
#[derive(Clone, Debug)]
pub struct KeySet {
    current: PrivacyKey,
    accepted: Vec<PrivacyKey>,
}

impl KeySet {
    /// A key set; `older` are still accepted when opening identities.
    ///
    /// # Errors
    /// [`KeyError::DuplicateIndex`] when two keys share an index.
    pub fn new(current: PrivacyKey, older: Vec<PrivacyKey>) -> Result<Self, KeyError> {
        let mut seen = [false; 256];
        seen[usize::from(current.index)] = true;
        for k in &older {
            if std::mem::replace(&mut seen[usize::from(k.index)], true) {
                return Err(KeyError::DuplicateIndex(k.index));
            }
        }
        Ok(Self {
            current,
            accepted: older,
        })
    }

    /// From configuration: `current` names one of `keys` (index, secret text).
    ///
    /// # Errors
    /// [`KeyError`] for a bad encoding, a duplicate index or a missing current key.
    pub fn from_config(current: u8, keys: &[(u8, &str)]) -> Result<Self, KeyError> {
        let mut cur = None;
        let mut older = Vec::new();
        for (index, text) in keys {
            let k = PrivacyKey::parse(*index, text)?;
            if *index == current {
                if cur.is_some() {
                    return Err(KeyError::DuplicateIndex(*index));
                }
                cur = Some(k);
            } else {
                older.push(k);
            }
        }
        let cur = cur.ok_or(KeyError::NoCurrentKey(current))?;
        Self::new(cur, older)
    }

    /// The key new identities are sealed under.
    pub fn current(&self) -> &PrivacyKey {
        &self.current
    }

    /// The key with `index` if it is still accepted.
    pub fn get(&self, index: u8) -> Option<&PrivacyKey> {
        std::iter::once(&self.current)
            .chain(self.accepted.iter())
            .find(|k| k.index == index)
    }

    /// Indexes of every accepted key, current first.
    pub fn indexes(&self) -> Vec<u8> {
        std::iter::once(&self.current)
            .chain(self.accepted.iter())
            .map(|k| k.index)
            .collect()
    }
}

/// Where the generated key set lives when the configuration has none.
pub trait PrivacyKeyStore {
    /// The stored key set; on first use a key (index 1) is generated and
    /// committed before it is returned, so every later start gets the same one.
    ///
    /// # Errors
    /// [`KeyError`] when the store or the RNG fails.
    fn load_or_create(&self) -> Result<KeySet, KeyError>;
}

/// [`PrivacyKeyStore`] over an open SQLite connection (the HSS database),
/// in its own table `privacy_keys`. The HSS store owner calls it with its
/// connection; the file's `0600` mode protects the keys like K and OPc.
pub struct SqliteKeyStore<'c> {
    conn: &'c Connection,
}

impl<'c> SqliteKeyStore<'c> {
    /// The table this store uses.
    pub const TABLE_SQL: &'static str = "CREATE TABLE IF NOT EXISTS privacy_keys (
        key_index INTEGER PRIMARY KEY CHECK (key_index BETWEEN 0 AND 255),
        secret BLOB NOT NULL,
        is_current INTEGER NOT NULL DEFAULT 0,
        created_unix INTEGER NOT NULL)";

    /// A store over `conn` (the table is created on first use).
    pub fn new(conn: &'c Connection) -> Self {
        Self { conn }
    }

    /// Rotation: generates a new current key with the next free index; the
    /// old keys stay accepted. Returns the new set.
    ///
    /// # Errors
    /// [`KeyError`] when the store or the RNG fails.
    pub fn rotate(&self, now_unix: i64) -> Result<KeySet, KeyError> {
        self.conn.execute_batch(Self::TABLE_SQL)?;
        let tx = rusqlite::Transaction::new_unchecked(self.conn, TransactionBehavior::Immediate)?;
        let max: Option<i64> =
            tx.query_row("SELECT MAX(key_index) FROM privacy_keys", [], |r| r.get(0))?;
        let next = u8::try_from(max.map_or(1, |m| (m + 1) % 256)).unwrap_or(1);
        let k = PrivacyKey::generate(next)?;
        tx.execute(
            "DELETE FROM privacy_keys WHERE key_index = ?1",
            params![i64::from(next)],
        )?;
        tx.execute("UPDATE privacy_keys SET is_current = 0", [])?;
        tx.execute(
            "INSERT INTO privacy_keys (key_index, secret, is_current, created_unix) VALUES (?1, ?2, 1, ?3)",
            params![i64::from(next), &k.secret()[..], now_unix],
        )?;
        tx.commit()?;
        self.load_or_create()
    }

    /// The stored key set without creating or changing anything (a read-only
    /// connection will do): `None` when no key has been generated yet.
    ///
    /// # Errors
    /// [`KeyError`] when the store fails or holds a malformed key.
    pub fn load_existing(&self) -> Result<Option<KeySet>, KeyError> {
        let exists: i64 = self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'privacy_keys'",
            [],
            |r| r.get(0),
        )?;
        if exists == 0 {
            return Ok(None);
        }
        let current: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row(
                "SELECT key_index, secret FROM privacy_keys WHERE is_current = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((i, s)) = current else {
            return Ok(None);
        };
        let current = row_key(i, s)?;
        Ok(Some(KeySet::new(current, older_keys(self.conn)?)?))
    }

    /// Retires a key: identities sealed under it fall back to full authentication.
    /// The current key cannot be retired (rotate first); returns whether a key was removed.
    ///
    /// # Errors
    /// [`KeyError::Store`].
    pub fn retire(&self, index: u8) -> Result<bool, KeyError> {
        self.conn.execute_batch(Self::TABLE_SQL)?;
        let n = self.conn.execute(
            "DELETE FROM privacy_keys WHERE key_index = ?1 AND is_current = 0",
            params![i64::from(index)],
        )?;
        Ok(n > 0)
    }
}

fn row_key(index: i64, secret: Vec<u8>) -> Result<PrivacyKey, KeyError> {
    let mut secret = zeroize::Zeroizing::new(secret);
    let arr: [u8; KEY_LEN] = secret
        .as_slice()
        .try_into()
        .map_err(|_| KeyError::StoredKeyLength(index))?;
    secret.zeroize();
    let idx = u8::try_from(index).map_err(|_| KeyError::StoredKeyLength(index))?;
    Ok(PrivacyKey::new(idx, arr))
}

/// The stored keys that are not current, by index.
fn older_keys(conn: &Connection) -> Result<Vec<PrivacyKey>, KeyError> {
    let mut older = Vec::new();
    let mut stmt = conn.prepare(
        "SELECT key_index, secret FROM privacy_keys WHERE is_current = 0 ORDER BY key_index",
    )?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?)))?;
    for row in rows {
        let (i, s) = row?;
        older.push(row_key(i, s)?);
    }
    Ok(older)
}

impl PrivacyKeyStore for SqliteKeyStore<'_> {
    fn load_or_create(&self) -> Result<KeySet, KeyError> {
        self.conn.execute_batch(Self::TABLE_SQL)?;
        // IMMEDIATE: two processes starting on one database generate one key.
        let tx = rusqlite::Transaction::new_unchecked(self.conn, TransactionBehavior::Immediate)?;
        let current: Option<(i64, Vec<u8>)> = tx
            .query_row(
                "SELECT key_index, secret FROM privacy_keys WHERE is_current = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let current = match current {
            Some((i, s)) => row_key(i, s)?,
            None => {
                let k = PrivacyKey::generate(1)?;
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
                tx.execute("DELETE FROM privacy_keys WHERE key_index = 1", [])?;
                tx.execute(
                    "INSERT INTO privacy_keys (key_index, secret, is_current, created_unix) VALUES (1, ?1, 1, ?2)",
                    params![&k.secret()[..], now],
                )?;
                k
            }
        };
        let older = older_keys(&tx)?;
        tx.commit()?;
        KeySet::new(current, older)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_hex_and_base64() {
        let hex = "00".repeat(31) + "ff";
        let a = PrivacyKey::parse(3, &hex).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(a.secret());
        let b = PrivacyKey::parse(3, &b64).unwrap();
        assert_eq!(a.enc_key(), b.enc_key());
        assert_eq!(a.mac_key(), b.mac_key());
        assert_ne!(&a.enc_key()[..], &a.mac_key()[..16]);
        assert!(matches!(
            PrivacyKey::parse(3, "abcd"),
            Err(KeyError::BadKeyEncoding { index: 3 })
        ));
        assert!(PrivacyKey::parse(3, &"zz".repeat(32)).is_err());
    }

    #[test]
    fn debug_redacted() {
        let k = PrivacyKey::new(7, [0xab; 32]);
        let s = format!("{k:?}");
        assert_eq!(s, "PrivacyKey { index: 7, <redacted> }");
        let set = KeySet::new(k, vec![]).unwrap();
        assert!(!format!("{set:?}").contains("ab, ab"));
    }

    #[test]
    fn set_rules() {
        let k = |i| PrivacyKey::new(i, [i; 32]);
        assert!(matches!(
            KeySet::new(k(1), vec![k(2), k(1)]),
            Err(KeyError::DuplicateIndex(1))
        ));
        let s = KeySet::new(k(3), vec![k(1), k(2)]).unwrap();
        assert_eq!(s.current().index(), 3);
        assert_eq!(s.indexes(), vec![3, 1, 2]);
        assert!(s.get(2).is_some());
        assert!(s.get(4).is_none());
        let hex1 = "11".repeat(32);
        let hex2 = "22".repeat(32);
        let c = KeySet::from_config(2, &[(1, &hex1), (2, &hex2)]).unwrap();
        assert_eq!(c.current().index(), 2);
        assert!(matches!(
            KeySet::from_config(9, &[(1, &hex1)]),
            Err(KeyError::NoCurrentKey(9))
        ));
    }

    #[test]
    fn sqlite_store_creates_once_rotates_retires() {
        let conn = Connection::open_in_memory().unwrap();
        let store = SqliteKeyStore::new(&conn);
        let a = store.load_or_create().unwrap();
        let b = store.load_or_create().unwrap();
        assert_eq!(a.current().index(), 1);
        assert_eq!(a.current().mac_key(), b.current().mac_key());
        let r = store.rotate(0).unwrap();
        assert_eq!(r.current().index(), 2);
        assert_eq!(r.indexes(), vec![2, 1]);
        assert_eq!(r.get(1).unwrap().mac_key(), a.current().mac_key());
        assert!(!store.retire(2).unwrap(), "current key is not retired");
        assert!(store.retire(1).unwrap());
        assert_eq!(store.load_or_create().unwrap().indexes(), vec![2]);
    }

    #[test]
    fn sqlite_store_persists_across_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hss.db");
        let first = {
            let conn = Connection::open(&path).unwrap();
            SqliteKeyStore::new(&conn).load_or_create().unwrap()
        };
        let conn = Connection::open(&path).unwrap();
        let second = SqliteKeyStore::new(&conn).load_or_create().unwrap();
        assert_eq!(first.current().mac_key(), second.current().mac_key());
    }
}
