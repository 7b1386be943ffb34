//! The SQLite subscriber store (rusqlite, bundled SQLite).
//!
//! The file is created `0600` and refused when group or others can read it.
//!
//! SQN durability without one fsync per vector: the stored `sqn` column is a
//! high-water mark. A subscriber's SQNs are reserved [`RESERVATION_SEQS`] at a
//! time in an immediate transaction that commits (WAL, `synchronous=FULL`)
//! before any of them is used, and then handed out from memory (see
//! [`super::reserve`]). Reservations of all subscribers that need one are
//! committed together (group commit) by whoever holds the connection: a
//! background thread refills ranges running low, a request whose range is
//! used up waits for the next commit. A crash never hands out an SQN twice;
//! it skips at most one unused reservation per subscriber.

use super::reserve::{REFILL_BELOW, RESERVATION_SEQS, Range, advance, later};
use super::{AccountingLog, AccountingRecord, Hss, HssError, Imsi, VectorKind, vector_amf};
use eap::secret::{K, Opc};
use eap::umts::{Amf, AuthVector, Auts, Sqn, SubscriberKeys};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::HashMap;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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
    /// Stored SQN, hex (12 digits): the high-water mark — no SQN above it
    /// has been issued; a running server may have issued up to it.
    pub sqn: String,
    /// SEQ part of the SQN.
    pub seq: u64,
    /// IND part of the SQN.
    pub ind: u8,
}

/// What [`SqliteStore::check_file`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreCheck {
    /// No file yet: `serve` creates it (mode 0600).
    Absent,
    /// A store with this many subscribers.
    Present {
        /// Number of subscribers.
        subscribers: u64,
    },
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

/// Cache shards (by IMSI) so worker threads rarely meet on a lock.
const SHARDS: usize = 16;

/// One subscriber as the vector hot path needs it.
struct Cached {
    keys: SubscriberKeys,
    amf: Amf,
    range: Range,
    /// A background refill is queued.
    refill_queued: bool,
}

#[derive(Default)]
struct Pending {
    imsis: Vec<String>,
    stop: bool,
}

struct Inner {
    conn: Mutex<Connection>,
    cache: [Mutex<HashMap<String, Cached>>; SHARDS],
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// The SQLite store; shareable between threads.
pub struct SqliteStore {
    inner: Arc<Inner>,
    committer: Option<std::thread::JoinHandle<()>>,
}

fn shard_of(imsi: &str) -> usize {
    // The last digits of an IMSI (the MSIN) spread well.
    imsi.bytes().rev().take(4).fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    }) % SHARDS
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update below is complete before its guard drops; a poisoned
    // lock only means another request panicked.
    m.lock().unwrap_or_else(|e| e.into_inner())
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

    /// Checks the store at `path` without changing it (`serve --check`, and
    /// `serve` before it opens the store): a regular file that group and
    /// others cannot read, an SQLite database with this schema (or none yet).
    pub fn check_file(path: &Path) -> Result<StoreCheck, HssError> {
        let bad = |what: String| HssError::Store(format!("{}: {what}", path.display()));
        let meta = match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(StoreCheck::Absent),
            Err(e) => return Err(bad(e.to_string())),
            Ok(m) => m,
        };
        if !meta.is_file() {
            return Err(bad("is not a regular file (a directory?)".into()));
        }
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(bad(format!(
                "holds subscriber keys but is readable by group/others (mode {mode:o}); run chmod 600"
            )));
        }
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| bad(e.to_string()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(|e| bad(e.to_string()))?;
        let tables: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(|e| bad(format!("not an SQLite database ({e})")))?;
        if tables == 0 {
            return Ok(StoreCheck::Present { subscribers: 0 });
        }
        conn.prepare("SELECT imsi, k, opc, amf, sqn FROM subscriber LIMIT 0")
            .map_err(|e| bad(format!("not a subscriber store ({e})")))?;
        let n: i64 = conn
            .query_row("SELECT count(*) FROM subscriber", [], |r| r.get(0))
            .map_err(|e| bad(e.to_string()))?;
        Ok(StoreCheck::Present {
            subscribers: n.max(0) as u64,
        })
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
        let inner = Arc::new(Inner {
            conn: Mutex::new(conn),
            cache: std::array::from_fn(|_| Mutex::new(HashMap::new())),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
        });
        let bg = inner.clone();
        let committer = std::thread::Builder::new()
            .name("sqn-commit".into())
            .spawn(move || bg.commit_loop())
            .map_err(|e| HssError::Store(format!("SQN commit thread: {e}")))?;
        Ok(Self {
            inner,
            committer: Some(committer),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, HssError> {
        // SQLite keeps its own consistency (transactions roll back).
        Ok(relock(&self.inner.conn))
    }

    /// Forgets the in-memory reservation of `imsi` (its unused SQNs are
    /// skipped; the next vector reserves above the stored mark).
    fn forget(&self, imsi: &str) {
        relock(&self.inner.cache[shard_of(imsi)]).remove(imsi);
    }

    /// Reserves SQNs for every subscriber in one committed transaction and
    /// caches their keys, so the first vector of each needs no commit
    /// (`serve` calls it at start). Returns the number of subscribers.
    pub fn reserve_all(&self) -> Result<usize, HssError> {
        let conn = self.lock()?;
        let imsis: Vec<String> = {
            let mut st = conn.prepare("SELECT imsi FROM subscriber")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<Result<_, _>>()?
        };
        self.inner.commit_batch(&conn, imsis.clone())?;
        Ok(imsis.len())
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
        self.forget(s.imsi.as_str());
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
        for s in subs {
            self.forget(s.imsi.as_str());
        }
        Ok(())
    }

    /// Removes a subscriber.
    pub fn remove(&self, imsi: &Imsi) -> Result<(), HssError> {
        let conn = self.lock()?;
        let n = conn.execute("DELETE FROM subscriber WHERE imsi = ?1", [imsi.as_str()])?;
        self.forget(imsi.as_str());
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

    /// The last SQN this store issued to `imsi`, or, when it holds no
    /// reservation for it, the stored high-water mark.
    pub fn sqn(&self, imsi: &Imsi) -> Result<Sqn, HssError> {
        if let Some(c) = relock(&self.inner.cache[shard_of(imsi.as_str())]).get(imsi.as_str()) {
            return Ok(c.range.last);
        }
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

/// K, OPc, AMF and SQN of one subscriber row, keys in zeroizing buffers.
type SubscriberRow = (Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>, i64, i64);

fn select_subscriber(conn: &Connection, imsi: &str) -> Result<Option<SubscriberRow>, HssError> {
    let mut st = conn.prepare_cached("SELECT k, opc, amf, sqn FROM subscriber WHERE imsi = ?1")?;
    Ok(st
        .query_row([imsi], |r| {
            Ok((
                Zeroizing::new(r.get::<_, Vec<u8>>(0)?),
                Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                r.get(2)?,
                r.get(3)?,
            ))
        })
        .optional()?)
}

fn stored_sqn(v: i64) -> Result<Sqn, HssError> {
    u64::try_from(v)
        .ok()
        .and_then(Sqn::new)
        .ok_or_else(|| HssError::Store("stored SQN out of range".into()))
}

fn set_stored_sqn(conn: &Connection, imsi: &str, sqn: Sqn) -> Result<(), HssError> {
    let mut st = conn.prepare_cached("UPDATE subscriber SET sqn = ?2 WHERE imsi = ?1")?;
    st.execute(params![imsi, sqn.value() as i64])?;
    Ok(())
}

/// What a committed reservation changes in the cache.
struct Reserved {
    imsi: String,
    keys: SubscriberKeys,
    amf: Amf,
    stored: Sqn,
    committed: Sqn,
}

impl Inner {
    /// Takes the next SQN of `imsi` from memory (asking for a background
    /// refill when the range runs low); `None` when there is no range left.
    fn take(&self, imsi: &str) -> Option<(Sqn, SubscriberKeys, Amf)> {
        let mut shard = relock(&self.cache[shard_of(imsi)]);
        let c = shard.get_mut(imsi)?;
        let sqn = c.range.take()?;
        let out = (sqn, c.keys.clone(), c.amf);
        if c.range.remaining() < REFILL_BELOW && !c.refill_queued {
            c.refill_queued = true;
            drop(shard);
            relock(&self.pending).imsis.push(imsi.to_string());
            self.wake.notify_one();
        }
        Some(out)
    }

    /// Reserves for `imsi` now, together with every queued refill (group
    /// commit). Returns after the commit; `UnknownSubscriber` when it has no row.
    fn reserve_now(&self, imsi: &str) -> Result<(), HssError> {
        let conn = relock(&self.conn);
        // Whoever held the connection before us may have refilled it.
        if relock(&self.cache[shard_of(imsi)])
            .get(imsi)
            .is_some_and(|c| c.range.remaining() > 0)
        {
            return Ok(());
        }
        let mut batch = std::mem::take(&mut relock(&self.pending).imsis);
        batch.push(imsi.to_string());
        self.commit_batch(&conn, batch)?;
        if relock(&self.cache[shard_of(imsi)]).contains_key(imsi) {
            Ok(())
        } else {
            Err(HssError::UnknownSubscriber)
        }
    }

    /// One immediate transaction moving the stored SQN of every IMSI in
    /// `batch` up by [`RESERVATION_SEQS`]; the cache learns the new ranges
    /// only after the commit. IMSIs without a row leave the cache.
    fn commit_batch(&self, conn: &Connection, mut batch: Vec<String>) -> Result<(), HssError> {
        batch.sort_unstable();
        batch.dedup();
        let result = (|| {
            let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let mut done = Vec::with_capacity(batch.len());
            for imsi in &batch {
                let Some((k, opc, amf, sqn)) = select_subscriber(&tx, imsi)? else {
                    continue;
                };
                let stored = stored_sqn(sqn)?;
                let committed = advance(stored, RESERVATION_SEQS);
                set_stored_sqn(&tx, imsi, committed)?;
                done.push(Reserved {
                    imsi: imsi.clone(),
                    keys: keys_from_row(&k, &opc)?,
                    amf: Amf((amf as u16).to_be_bytes()),
                    stored,
                    committed,
                });
            }
            tx.commit()?;
            Ok::<_, HssError>(done)
        })();
        let done = match result {
            Ok(d) => d,
            Err(e) => {
                for imsi in &batch {
                    if let Some(c) = relock(&self.cache[shard_of(imsi)]).get_mut(imsi) {
                        c.refill_queued = false;
                    }
                }
                return Err(e);
            }
        };
        let mut found = done.iter().map(|r| r.imsi.as_str()).peekable();
        for imsi in &batch {
            if found.peek() == Some(&imsi.as_str()) {
                found.next();
            } else {
                relock(&self.cache[shard_of(imsi)]).remove(imsi.as_str());
            }
        }
        for r in done {
            let mut shard = relock(&self.cache[shard_of(&r.imsi)]);
            match shard.get_mut(&r.imsi) {
                Some(c) => {
                    c.range.extend(r.stored, r.committed);
                    c.keys = r.keys;
                    c.amf = r.amf;
                    c.refill_queued = false;
                }
                None => {
                    shard.insert(
                        r.imsi,
                        Cached {
                            keys: r.keys,
                            amf: r.amf,
                            range: Range::reserved(r.stored, r.committed),
                            refill_queued: false,
                        },
                    );
                }
            }
        }
        Ok(())
    }

    /// The background committer: waits for refill requests and commits
    /// them in batches until the store is dropped.
    fn commit_loop(&self) {
        loop {
            {
                let mut p = relock(&self.pending);
                while p.imsis.is_empty() && !p.stop {
                    p = self.wake.wait(p).unwrap_or_else(|e| e.into_inner());
                }
                if p.stop {
                    return;
                }
            }
            let conn = relock(&self.conn);
            // Everything queued while we waited for the connection goes in
            // the same transaction.
            let batch = std::mem::take(&mut relock(&self.pending).imsis);
            if batch.is_empty() {
                continue;
            }
            if let Err(e) = self.commit_batch(&conn, batch) {
                tracing::warn!(error = %e, "SQN reservation not committed; retried on demand");
            }
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        relock(&self.inner.pending).stop = true;
        self.inner.wake.notify_all();
        if let Some(t) = self.committer.take() {
            let _ = t.join();
        }
    }
}

impl Hss for SqliteStore {
    fn try_vector(&self, imsi: &Imsi, kind: VectorKind) -> Option<Result<AuthVector, HssError>> {
        let mut rand = [0u8; 16];
        if let Err(e) = super::rng::fill(&mut rand) {
            return Some(Err(HssError::Rng(e.to_string())));
        }
        // Only from the reserved range in memory; a commit is left to `vector`.
        let (sqn, keys, amf) = self.inner.take(imsi.as_str())?;
        Some(Ok(keys.generate_vector(sqn, vector_amf(amf, kind), rand)))
    }

    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        let mut rand = [0u8; 16];
        super::rng::fill(&mut rand).map_err(|e| HssError::Rng(e.to_string()))?;
        // At most two rounds: a commit always leaves a non-empty range.
        for _ in 0..2 {
            if let Some((sqn, keys, amf)) = self.inner.take(imsi.as_str()) {
                return Ok(keys.generate_vector(sqn, vector_amf(amf, kind), rand));
            }
            self.inner.reserve_now(imsi.as_str())?;
        }
        Err(HssError::Store("SQN reservation used up at once".into()))
    }

    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let (k, opc, amf, sqn) =
            select_subscriber(&tx, imsi.as_str())?.ok_or(HssError::UnknownSubscriber)?;
        let stored = stored_sqn(sqn)?;
        let keys = keys_from_row(&k, &opc)?;
        let sqn_ms = keys
            .resync(rand, auts)
            .map_err(|_| HssError::ResyncMacFailure)?;
        let shard = &self.inner.cache[shard_of(imsi.as_str())];
        // SQN_MS inside our committed range: continue after it; the stored
        // mark is already above it (TS 33.102 §6.3.5: the next vector is fresh).
        if relock(shard)
            .get_mut(imsi.as_str())
            .is_some_and(|c| c.range.resync_within(sqn_ms))
        {
            return Ok(sqn_ms);
        }
        // Otherwise SQN_HE := SQN_MS (never below the stored mark: values up
        // to it may have been issued) and a fresh range above it, committed
        // before it is used.
        let base = later(sqn_ms, stored);
        let committed = advance(base, RESERVATION_SEQS);
        set_stored_sqn(&tx, imsi.as_str(), committed)?;
        tx.commit()?;
        relock(shard).insert(
            imsi.as_str().to_string(),
            Cached {
                keys,
                amf: Amf((amf as u16).to_be_bytes()),
                range: Range::reserved(base, committed),
                refill_queued: false,
            },
        );
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
    #[test]
    fn check_file_refuses_what_open_refuses_and_changes_nothing() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        assert_eq!(SqliteStore::check_file(&p).unwrap(), StoreCheck::Absent);
        let e = SqliteStore::check_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        {
            let s = SqliteStore::open(&p).unwrap();
            s.add(&NewSubscriber {
                imsi: Imsi::parse("001010000000001").unwrap(),
                keys: SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16])),
                amf: Amf([0x80, 0]),
                sqn: Sqn::from_seq_ind(7, 0),
            })
            .unwrap();
        }
        let before = std::fs::read(&p).unwrap();
        assert_eq!(
            SqliteStore::check_file(&p).unwrap(),
            StoreCheck::Present { subscribers: 1 }
        );
        assert_eq!(std::fs::read(&p).unwrap(), before);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        let e = SqliteStore::check_file(&p).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![b'x'; 4096]).unwrap();
        std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = SqliteStore::check_file(&junk).unwrap_err().to_string();
        assert!(e.contains("not an SQLite database"), "{e}");
    }

    use super::super::next_sqn;
    use super::*;
    use crate::hss::reserve::advance;

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

    fn stored_mark(s: &SqliteStore, imsi: &str) -> Sqn {
        let l = s.list().unwrap();
        let i = l.iter().find(|i| i.imsi == imsi).unwrap();
        Sqn::from_seq_ind(i.seq, i.ind)
    }

    #[test]
    fn sqns_come_from_committed_reservations_and_a_reopened_store_starts_above_them() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let imsi = Imsi::parse("001010000000001").unwrap();
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let start = Sqn::from_seq_ind(40, 9);
        let mut last = start;
        {
            let s = SqliteStore::open(&p).unwrap();
            s.add(&sub(imsi.as_str(), start)).unwrap();
            // Well past one reservation: background refills and, if they
            // lag, a waiting request's own commit keep it going.
            for _ in 0..(3 * RESERVATION_SEQS) {
                let v = s.vector(&imsi, VectorKind::AkaPrime).unwrap();
                let sqn = keys.authenticate(&v.rand, &v.autn).unwrap().sqn;
                assert_eq!(sqn, next_sqn(last), "SEQ and IND advance by one");
                assert!(
                    sqn.seq() <= stored_mark(&s, imsi.as_str()).seq(),
                    "issued above the committed mark"
                );
                last = sqn;
            }
            assert_eq!(s.sqn(&imsi).unwrap(), last);
            // Dropped without any shutdown step, like a crash after commit.
        }
        let s = SqliteStore::open(&p).unwrap();
        let mark = stored_mark(&s, imsi.as_str());
        assert!(mark.seq() >= last.seq());
        assert!(
            mark.seq() - last.seq() <= 2 * RESERVATION_SEQS,
            "the gap is bounded by the reservations held"
        );
        let v = s.vector(&imsi, VectorKind::Aka).unwrap();
        let sqn = keys.authenticate(&v.rand, &v.autn).unwrap().sqn;
        assert_eq!(
            sqn.seq(),
            mark.seq() + 1,
            "restart continues above the mark"
        );
        assert_eq!(s.reserve_all().unwrap(), 1);
        assert!(stored_mark(&s, imsi.as_str()).seq() > mark.seq() + RESERVATION_SEQS);
    }

    #[test]
    fn resync_above_the_reservation_commits_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        s.add(&sub("001010000000001", Sqn::default())).unwrap();
        let imsi = Imsi::parse("001010000000001").unwrap();
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let v = s.vector(&imsi, VectorKind::Aka).unwrap();
        let ms = Sqn::from_seq_ind(10 * RESERVATION_SEQS, 17);
        assert_eq!(
            s.resync(&imsi, &v.rand, &keys.auts(&v.rand, ms)).unwrap(),
            ms
        );
        assert_eq!(
            stored_mark(&s, "001010000000001"),
            advance(ms, RESERVATION_SEQS),
            "committed before use"
        );
        let v = s.vector(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(
            keys.authenticate(&v.rand, &v.autn).unwrap().sqn,
            next_sqn(ms)
        );
        // SQN_MS below what was issued: never go back.
        let v2 = s.vector(&imsi, VectorKind::Aka).unwrap();
        let low = Sqn::from_seq_ind(3, 0);
        s.resync(&imsi, &v2.rand, &keys.auts(&v2.rand, low))
            .unwrap();
        let v3 = s.vector(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(
            keys.authenticate(&v3.rand, &v3.autn).unwrap().sqn.seq(),
            ms.seq() + 3
        );
    }

    #[test]
    fn removed_subscribers_stop_getting_vectors() {
        let s = SqliteStore::open_in_memory().unwrap();
        s.add(&sub("001010000000001", Sqn::default())).unwrap();
        let imsi = Imsi::parse("001010000000001").unwrap();
        s.vector(&imsi, VectorKind::Aka).unwrap();
        s.remove(&imsi).unwrap();
        assert!(matches!(
            s.vector(&imsi, VectorKind::Aka),
            Err(HssError::UnknownSubscriber)
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
