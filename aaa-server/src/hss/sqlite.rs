//! The SQLite subscriber store (rusqlite, bundled SQLite).
//!
//! The file is created `0600` and refused when group or others can read it.
//! SQN is advanced with one `UPDATE … RETURNING` inside an immediate
//! transaction that commits before the vector is computed, so a crash never
//! hands out an SQN twice.

use super::{AccountingLog, AccountingRecord, Hss, HssError, Imsi, VectorKind, vector_amf};
use eap::secret::{K, Opc};
use eap::umts::{Amf, AuthVector, Auts, Sqn, SubscriberKeys};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use zeroize::Zeroizing;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscriber (
    imsi TEXT PRIMARY KEY NOT NULL,
    k    BLOB NOT NULL CHECK (length(k) = 16),
    opc  BLOB NOT NULL CHECK (length(opc) = 16),
    amf  INTEGER NOT NULL CHECK (amf BETWEEN 0 AND 65535),
    sqn  INTEGER NOT NULL CHECK (sqn BETWEEN 0 AND 281474976710655)
);
CREATE TABLE IF NOT EXISTS accounting (
    id            INTEGER PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    client        TEXT NOT NULL,
    session_id    TEXT NOT NULL,
    status_type   INTEGER NOT NULL,
    user_name     TEXT NOT NULL,
    nas           TEXT NOT NULL,
    input_octets  INTEGER NOT NULL,
    output_octets INTEGER NOT NULL,
    session_time  INTEGER NOT NULL
);
";

/// What `subscriber list` shows: never K or OPc.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SubscriberInfo {
    /// IMSI.
    pub imsi: String,
    /// Stored AMF, hex.
    pub amf: String,
    /// Last used SQN, hex (12 digits).
    pub sqn: String,
    /// SEQ part of the SQN.
    pub seq: u64,
    /// IND part of the SQN.
    pub ind: u8,
}

/// A subscriber to store (`Debug` shows keys redacted).
#[derive(Debug)]
pub struct NewSubscriber {
    /// IMSI.
    pub imsi: Imsi,
    /// K and OPc.
    pub keys: SubscriberKeys,
    /// AMF.
    pub amf: Amf,
    /// The last used SQN (the next vector uses the one after it).
    pub sqn: Sqn,
}

/// The SQLite store; shareable between threads.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Opens (creating `0600` if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self, HssError> {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = std::fs::metadata(path)
                    .map_err(|e| HssError::Store(format!("{}: {e}", path.display())))?;
                if meta.permissions().mode() & 0o077 != 0 {
                    return Err(HssError::Store(format!(
                        "{}: holds subscriber keys but is readable by group/others (mode {:o}); run chmod 600",
                        path.display(),
                        meta.permissions().mode() & 0o777
                    )));
                }
            }
            Err(e) => return Err(HssError::Store(format!("{}: {e}", path.display()))),
        }
        let conn = Connection::open(path)
            .map_err(|e| HssError::Store(format!("{}: {e}", path.display())))?;
        Self::init(conn)
    }

    /// An in-memory store (tests, fuzzing).
    pub fn open_in_memory() -> Result<Self, HssError> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(conn: Connection) -> Result<Self, HssError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // WAL lets `serve` and `hlr-gw` share the file; FULL sync makes a
        // committed SQN survive power loss.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, HssError> {
        // SQLite keeps its own consistency (transactions roll back); a
        // poisoned lock only means another request panicked.
        Ok(self.conn.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds a subscriber; [`HssError::Exists`] when the IMSI is taken.
    pub fn add(&self, s: &NewSubscriber) -> Result<(), HssError> {
        let conn = self.lock()?;
        let r = conn.execute(
            "INSERT INTO subscriber (imsi, k, opc, amf, sqn) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                s.imsi.as_str(),
                &s.keys.k.expose()[..],
                &s.keys.opc.expose()[..],
                s.amf.value(),
                s.sqn.value() as i64
            ],
        );
        match r {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(HssError::Exists)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Adds many subscribers in one transaction (all or nothing).
    pub fn add_all(&self, subs: &[NewSubscriber]) -> Result<(), HssError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        for s in subs {
            tx.execute(
                "INSERT INTO subscriber (imsi, k, opc, amf, sqn) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(imsi) DO UPDATE SET k = excluded.k, opc = excluded.opc,
                 amf = excluded.amf, sqn = max(sqn, excluded.sqn)",
                params![
                    s.imsi.as_str(),
                    &s.keys.k.expose()[..],
                    &s.keys.opc.expose()[..],
                    s.amf.value(),
                    s.sqn.value() as i64
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Removes a subscriber.
    pub fn remove(&self, imsi: &Imsi) -> Result<(), HssError> {
        let n = self
            .lock()?
            .execute("DELETE FROM subscriber WHERE imsi = ?1", [imsi.as_str()])?;
        if n == 0 {
            Err(HssError::UnknownSubscriber)
        } else {
            Ok(())
        }
    }

    /// All subscribers without their keys.
    pub fn list(&self) -> Result<Vec<SubscriberInfo>, HssError> {
        let conn = self.lock()?;
        let mut st = conn.prepare("SELECT imsi, amf, sqn FROM subscriber ORDER BY imsi")?;
        let rows = st.query_map([], |r| {
            let imsi: String = r.get(0)?;
            let amf: u16 = r.get(1)?;
            let sqn: i64 = r.get(2)?;
            Ok((imsi, amf, sqn))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (imsi, amf, sqn) = row?;
            let sqn = Sqn::new(sqn as u64).unwrap_or_default();
            out.push(SubscriberInfo {
                imsi,
                amf: format!("{amf:04x}"),
                sqn: hex::encode(sqn.to_bytes()),
                seq: sqn.seq(),
                ind: sqn.ind(),
            });
        }
        Ok(out)
    }

    /// The stored (last used) SQN of a subscriber.
    pub fn sqn(&self, imsi: &Imsi) -> Result<Sqn, HssError> {
        let v: Option<i64> = self
            .lock()?
            .query_row(
                "SELECT sqn FROM subscriber WHERE imsi = ?1",
                [imsi.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        let v = v.ok_or(HssError::UnknownSubscriber)?;
        Sqn::new(v as u64).ok_or_else(|| HssError::Store("stored SQN out of range".into()))
    }

    /// Number of stored accounting records.
    pub fn accounting_count(&self) -> Result<u64, HssError> {
        let n: i64 = self
            .lock()?
            .query_row("SELECT count(*) FROM accounting", [], |r| r.get(0))?;
        Ok(n as u64)
    }
}

fn keys_from_row(k: &[u8], opc: &[u8]) -> Result<SubscriberKeys, HssError> {
    match (K::from_slice(k), Opc::from_slice(opc)) {
        (Some(k), Some(opc)) => Ok(SubscriberKeys::new(k, opc)),
        _ => Err(HssError::Store("stored key has the wrong length".into())),
    }
}

/// Reads K, OPc and one more column from a row into zeroizing buffers.
type KeyRow = (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>, i64);
/// K, OPc, AMF and the new SQN from the advancing UPDATE.
type VectorRow = (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>, i64, i64);

impl Hss for SqliteStore {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        let mut rand = [0u8; 16];
        getrandom::fill(&mut rand).map_err(|e| HssError::Rng(e.to_string()))?;
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // next_sqn in SQL: SEQ + 1, IND + 1 mod 32, within 48 bits.
        let row: Option<VectorRow> = tx
            .query_row(
                "UPDATE subscriber
                 SET sqn = ((((sqn >> 5) + 1) << 5) | ((sqn + 1) & 31)) & 281474976710655
                 WHERE imsi = ?1 RETURNING k, opc, amf, sqn",
                [imsi.as_str()],
                |r| {
                    Ok((
                        Zeroizing::new(r.get::<_, Vec<u8>>(0)?),
                        Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                        r.get(2)?,
                        r.get(3)?,
                    ))
                },
            )
            .optional()?;
        let (k, opc, amf, sqn) = row.ok_or(HssError::UnknownSubscriber)?;
        tx.commit()?;
        drop(conn);
        let keys = keys_from_row(&k, &opc)?;
        let sqn = Sqn::new(sqn as u64).ok_or_else(|| HssError::Store("SQN out of range".into()))?;
        let amf = Amf((amf as u16).to_be_bytes());
        Ok(keys.generate_vector(sqn, vector_amf(amf, kind), rand))
    }

    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        let mut conn = self.lock()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let row: Option<KeyRow> = tx
            .query_row(
                "SELECT k, opc, sqn FROM subscriber WHERE imsi = ?1",
                [imsi.as_str()],
                |r| {
                    Ok((
                        Zeroizing::new(r.get::<_, Vec<u8>>(0)?),
                        Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                        r.get(2)?,
                    ))
                },
            )
            .optional()?;
        let (k, opc, _sqn_he) = row.ok_or(HssError::UnknownSubscriber)?;
        let keys = keys_from_row(&k, &opc)?;
        let sqn_ms = keys
            .resync(rand, auts)
            .map_err(|_| HssError::ResyncMacFailure)?;
        // SQN_HE := SQN_MS; the next vector (SEQ_MS + 1) is then fresh (TS 33.102 §6.3.5).
        tx.execute(
            "UPDATE subscriber SET sqn = ?2 WHERE imsi = ?1",
            params![imsi.as_str(), sqn_ms.value() as i64],
        )?;
        tx.commit()?;
        Ok(sqn_ms)
    }
}

impl AccountingLog for SqliteStore {
    fn record(&self, rec: &AccountingRecord) -> Result<(), HssError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        self.lock()?.execute(
            "INSERT INTO accounting (received_at, client, session_id, status_type, user_name, nas,
             input_octets, output_octets, session_time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                now,
                rec.client,
                rec.session_id,
                rec.status_type,
                rec.user,
                rec.nas,
                rec.input_octets as i64,
                rec.output_octets as i64,
                rec.session_time
            ],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::next_sqn;
    use super::*;

    fn sub(imsi: &str, sqn: Sqn) -> NewSubscriber {
        NewSubscriber {
            imsi: Imsi::parse(imsi).unwrap(),
            keys: SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16])),
            amf: Amf([0, 0]),
            sqn,
        }
    }

    #[test]
    fn vectors_advance_sqn_and_verify_on_the_usim() {
        let s = SqliteStore::open_in_memory().unwrap();
        s.add(&sub("001010000000001", Sqn::from_seq_ind(5, 31)))
            .unwrap();
        assert!(matches!(
            s.add(&sub("001010000000001", Sqn::default())),
            Err(HssError::Exists)
        ));
        let imsi = Imsi::parse("001010000000001").unwrap();
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let v1 = s.vector(&imsi, VectorKind::Aka).unwrap();
        let u1 = keys.authenticate(&v1.rand, &v1.autn).unwrap();
        assert_eq!(u1.sqn, Sqn::from_seq_ind(6, 0));
        assert!(!u1.amf.separation_bit());
        assert_eq!(s.sqn(&imsi).unwrap(), u1.sqn);
        let v2 = s.vector(&imsi, VectorKind::AkaPrime).unwrap();
        let u2 = keys.authenticate(&v2.rand, &v2.autn).unwrap();
        assert_eq!(u2.sqn, next_sqn(u1.sqn));
        assert!(u2.amf.separation_bit());
        assert_ne!(v1.rand, v2.rand);
        assert!(matches!(
            s.vector(&Imsi::parse("001010000000002").unwrap(), VectorKind::Aka),
            Err(HssError::UnknownSubscriber)
        ));
    }

    #[test]
    fn resync_sets_sqn_from_auts() {
        let s = SqliteStore::open_in_memory().unwrap();
        s.add(&sub("001010000000001", Sqn::default())).unwrap();
        let imsi = Imsi::parse("001010000000001").unwrap();
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let v = s.vector(&imsi, VectorKind::Aka).unwrap();
        let ms = Sqn::from_seq_ind(1000, 3);
        let auts = keys.auts(&v.rand, ms);
        assert_eq!(s.resync(&imsi, &v.rand, &auts).unwrap(), ms);
        let v2 = s.vector(&imsi, VectorKind::Aka).unwrap();
        let u = keys.authenticate(&v2.rand, &v2.autn).unwrap();
        assert!(u.sqn.seq() > ms.seq());
        let mut bad = auts;
        bad.0[10] ^= 1;
        assert!(matches!(
            s.resync(&imsi, &v.rand, &bad),
            Err(HssError::ResyncMacFailure)
        ));
    }

    #[test]
    fn file_is_0600_and_list_hides_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        s.add(&sub("001010000000001", Sqn::from_seq_ind(1, 2)))
            .unwrap();
        let l = s.list().unwrap();
        assert_eq!(l.len(), 1);
        let json = serde_json::to_string(&l).unwrap();
        assert!(!json.contains("0101010101"), "{json}");
        assert_eq!(l[0].seq, 1);
        s.record(&AccountingRecord {
            session_id: "x".into(),
            status_type: 1,
            ..Default::default()
        })
        .unwrap();
        assert_eq!(s.accounting_count().unwrap(), 1);
        s.remove(&Imsi::parse("001010000000001").unwrap()).unwrap();
        assert!(s.list().unwrap().is_empty());
        drop(s);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(SqliteStore::open(&p).is_err());
    }
}
