//! The SQLite subscriber store (rusqlite, bundled SQLite).
//!
//! The file is created `0600` (only by `subscriber add`/`import`, through
//! [`SqliteStore::create`]) and refused when group or others can read it,
//! see [`super::store_file`].
//!
//! SQN durability without one fsync per vector: the stored `sqn` column is a
//! high-water mark. A subscriber's SQNs are reserved [`RESERVATION_SEQS`] at a
//! time in an immediate transaction that commits (WAL, `synchronous=FULL`)
//! before any of them is used, and then handed out from memory (see
//! [`super::reserve`]). The first range of a subscriber is reserved at its
//! first vector, never at open. Reservations of all subscribers that need one
//! are committed together (group commit) by whoever holds the connection: a
//! background thread refills ranges running low, a request whose range is
//! used up waits for the next commit. A crash never hands out an SQN twice;
//! it skips at most one unused reservation per subscriber.
//!
//! Subscriber changes reach a running server at once: every `add`, `set`,
//! `remove` and `import` gives the IMSIs it touches a new *version* in
//! `subscriber_change` (one number per transaction, growing). Every
//! [`POLL`] (background thread, off the vector path) and at each
//! [`Hss::current`] (right before Access-Accept) the store asks a second,
//! read-only connection for `PRAGMA data_version` (it changes when another
//! connection commits); when it moved, the versions above the last one seen
//! name the IMSIs whose cached keys and SQN range are dropped. A reservation
//! that read a row older than a change it races with is not cached. Changes
//! made through this store object apply at once.

pub mod triplets;

use super::reserve::{REFILL_BELOW, RESERVATION_SEQS, Range, advance, later};
use super::store_file::{self, OpenError, ReadOnlyStore, at};
use super::{AccountingLog, AccountingRecord, Hss, HssError, Imsi, VectorKind, vector_amf};
use crate::authz::Authorization;
use eap::secret::{K, Opc};
use eap::umts::{Amf, AuthVector, Auts, Sqn, SubscriberKeys};
use rusqlite::OpenFlags;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use zeroize::Zeroizing;

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
    /// A store with this many subscribers (a missing file is an error:
    /// only `subscriber add` and `import` create one).
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

/// What `subscriber set` changes; `None` keeps the stored value.
#[derive(Debug, Default)]
pub struct SubscriberUpdate {
    /// New K.
    pub k: Option<K>,
    /// New OPc.
    pub opc: Option<Opc>,
    /// New AMF.
    pub amf: Option<Amf>,
    /// New stored SQN (the last used one; a running server drops its range).
    pub sqn: Option<Sqn>,
}

/// What an import did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// New IMSIs.
    pub added: usize,
    /// Existing IMSIs whose K, OPc, AMF or SQN changed.
    pub updated: usize,
    /// Existing IMSIs left as they were.
    pub unchanged: usize,
}

/// How often the background thread looks for other processes' subscriber
/// changes (a look costs a read transaction, a few µs: kept off the vector
/// path; [`Hss::current`] looks every time).
pub const POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// Cache shards (by IMSI) so worker threads rarely meet on a lock.
const SHARDS: usize = 16;

/// At most this many read-only connections (cores + 1) for the `try_*` calls.
const READERS_MAX: usize = 64;

/// The `subscriber_change` key (not an IMSI) of a change to groups or to
/// a subscriber's group or own reply attributes: every process that sees it
/// drops every cached authorization ([`SqliteStore::group_set`] and the
/// like are rare; barring and removal are per-IMSI changes).
pub(crate) const AUTHZ_CHANGE: &str = "*authz";

/// One subscriber as the vector hot path needs it.
struct Cached {
    keys: SubscriberKeys,
    amf: Amf,
    range: Range,
    /// The subscriber's version the keys and range were read at.
    version: u64,
    /// A background refill is queued.
    refill_queued: bool,
}

#[derive(Default)]
struct Shard {
    cache: HashMap<String, Cached>,
    /// The newest change version seen (since open) per IMSI changed.
    changed: HashMap<String, u64>,
    /// Authorizations (barring, reply attributes) with the store's highest
    /// change version when they were read: answered from memory before
    /// Access-Accept while no change since has been seen.
    authz: HashMap<String, (u64, Authorization)>,
}

impl Shard {
    /// A change to `imsi` at `version`: drops what is cached from before it.
    fn note_change(&mut self, imsi: &str, version: u64) {
        let v = self.changed.entry(imsi.to_string()).or_insert(0);
        *v = (*v).max(version);
        if self.cache.get(imsi).is_some_and(|c| c.version < version) {
            self.cache.remove(imsi);
        }
        if self.authz.get(imsi).is_some_and(|(at, _)| *at < version) {
            self.authz.remove(imsi);
        }
    }

    /// A row read at `version` is older than a change already seen.
    fn stale(&self, imsi: &str, version: u64) -> bool {
        self.changed.get(imsi).is_some_and(|v| *v > version)
    }
}

#[derive(Default)]
struct Pending {
    imsis: Vec<String>,
    stop: bool,
}

/// Watching the file for other processes' changes.
struct Watch {
    /// A read-only connection to the same file (`None`: in-memory store,
    /// changed only through this process).
    conn: Option<Connection>,
    /// `PRAGMA data_version` when last looked at.
    data_version: i64,
    /// When it was last looked at.
    at: std::time::Instant,
}

/// A read-only connection for the exact look of the `try_*` calls on the
/// calling thread ([`Inner::look_now`]), with its own baseline.
struct Reader {
    conn: Connection,
    /// `PRAGMA data_version` at its last look; `None` before the first
    /// (which reads every change above the one last applied).
    data_version: Option<i64>,
}

struct Inner {
    /// First field: closed before `conn` (which, closing last, checkpoints
    /// the WAL and removes it). Empty for an in-memory store.
    readers: Box<[Mutex<Reader>]>,
    conn: Mutex<Connection>,
    cache: [Mutex<Shard>; SHARDS],
    pending: Mutex<Pending>,
    wake: Condvar,
    watch: Mutex<Watch>,
    /// The highest change version applied to the cache.
    seen: Mutex<u64>,
    /// The newest [`AUTHZ_CHANGE`] version seen.
    authz_changed: AtomicU64,
    /// Authentications [`Hss::current`] turned down.
    changed_during_auth: AtomicU64,
    /// SQN ranges committed (one per subscriber per reservation, resync included).
    sqn_reservations: AtomicU64,
    /// The origin of [`Inner::looked`].
    epoch: std::time::Instant,
    /// When the latest exact look that completed had begun, in nanoseconds
    /// after `epoch`, plus one (0: none yet). A look begun at or after a
    /// step's `now` saw every change committed before it.
    looked: AtomicU64,
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

/// The highest change version in the store (0: none recorded).
fn max_version(conn: &Connection) -> Result<u64, rusqlite::Error> {
    let v: i64 = conn.query_row(
        "SELECT coalesce(max(version), 0) FROM subscriber_change",
        [],
        |r| r.get(0),
    )?;
    Ok(v as u64)
}

/// Gives `imsis` the next change version (inside the caller's transaction).
pub(crate) fn bump_versions<'a>(
    tx: &Connection,
    imsis: impl IntoIterator<Item = &'a str>,
) -> Result<u64, HssError> {
    let v = max_version(tx)? + 1;
    let mut st = tx.prepare_cached(
        "INSERT INTO subscriber_change (imsi, version) VALUES (?1, ?2)
         ON CONFLICT(imsi) DO UPDATE SET version = excluded.version",
    )?;
    for imsi in imsis {
        st.execute(params![imsi, v as i64])?;
    }
    Ok(v)
}

impl SqliteStore {
    /// Opens the existing store at `path` for reading and writing (the
    /// schema is brought up to date). A missing file is an error: see
    /// [`Self::create`].
    pub fn open(path: &Path) -> Result<Self, HssError> {
        store_file::check_existing(path).map_err(at(path))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(OpenError::from)
        .map_err(at(path))?;
        Self::init(conn, Some(path)).map_err(at(path))
    }

    /// Opens the store at `path`, creating it (`0600`) when missing
    /// (`subscriber add` and `import`).
    pub fn create(path: &Path) -> Result<Self, HssError> {
        store_file::create_or_check(path).map_err(at(path))?;
        let conn = Connection::open(path)
            .map_err(OpenError::from)
            .map_err(at(path))?;
        Self::init(conn, Some(path)).map_err(at(path))
    }

    /// Opens the existing store at `path` read-only: checks that it is a
    /// regular `0600`-style file, an SQLite database and a subscriber store
    /// of a schema version this build understands. Creates nothing, changes
    /// no schema, reserves no SQN (`serve --check`, `subscriber list`).
    pub fn open_read_only(path: &Path) -> Result<ReadOnlyStore, HssError> {
        ReadOnlyStore::open(path)
    }

    /// Checks the store at `path` without changing it (`serve --check`, and
    /// `serve` before it binds): [`Self::open_read_only`] — an existing
    /// regular file that group and others cannot read, an SQLite database,
    /// a subscriber store of a schema version this build understands.
    pub fn check_file(path: &Path) -> Result<StoreCheck, HssError> {
        let ro = Self::open_read_only(path)?;
        Ok(StoreCheck::Present {
            subscribers: ro.subscriber_count()?,
        })
    }

    /// An in-memory store (tests, fuzzing).
    pub fn open_in_memory() -> Result<Self, HssError> {
        Self::init(Connection::open_in_memory()?, None).map_err(|e| HssError::Store(e.to_string()))
    }

    fn init(conn: Connection, path: Option<&Path>) -> Result<Self, OpenError> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Refuse junk and newer schemas before changing anything.
        store_file::schema_version(&conn)?;
        // WAL lets `serve` and `hlr-gw` share the file; FULL sync makes a
        // committed SQN survive power loss.
        let _mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
        conn.execute_batch("PRAGMA synchronous=FULL;")?;
        store_file::migrate(&conn)?;
        let mut seen = max_version(&conn)?;
        let mut watch = Watch {
            conn: None,
            data_version: 0,
            at: std::time::Instant::now(),
        };
        let mut readers = Vec::new();
        if let Some(path) = path {
            let r = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            r.busy_timeout(std::time::Duration::from_secs(5))?;
            watch.data_version = r.query_row("PRAGMA data_version", [], |r| r.get(0))?;
            // Anything committed between `seen` and here is found at the first look.
            seen = seen.min(max_version(&r)?);
            watch.conn = Some(r);
            let n = std::thread::available_parallelism().map_or(2, |n| n.get());
            for _ in 0..=n.min(READERS_MAX) {
                let conn = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                // Never waits: a busy file sends the call to a store worker.
                conn.busy_timeout(std::time::Duration::ZERO)?;
                readers.push(Mutex::new(Reader {
                    conn,
                    data_version: None,
                }));
            }
        }
        let inner = Arc::new(Inner {
            readers: readers.into_boxed_slice(),
            conn: Mutex::new(conn),
            cache: std::array::from_fn(|_| Mutex::new(Shard::default())),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            watch: Mutex::new(watch),
            seen: Mutex::new(seen),
            authz_changed: AtomicU64::new(0),
            changed_during_auth: AtomicU64::new(0),
            sqn_reservations: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            looked: AtomicU64::new(0),
        });
        let bg = inner.clone();
        let committer = std::thread::Builder::new()
            .name("sqn-commit".into())
            .spawn(move || bg.commit_loop())?;
        Ok(Self {
            inner,
            committer: Some(committer),
        })
    }

    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Connection>, HssError> {
        // SQLite keeps its own consistency (transactions roll back).
        Ok(relock(&self.inner.conn))
    }

    /// Tells this process's cache about its own committed change.
    pub(crate) fn changed<'a>(&self, imsis: impl IntoIterator<Item = &'a str>, version: u64) {
        for imsi in imsis {
            self.inner.note_change(imsi, version);
        }
    }

    /// Number of subscribers. Opening a store reserves nothing: each
    /// subscriber's first vector commits its first SQN range, so a start
    /// that fails (or `serve --check`) costs no SQN.
    pub fn subscriber_count(&self) -> Result<u64, HssError> {
        let n: i64 = self
            .lock()?
            .query_row("SELECT count(*) FROM subscriber", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// Authentications turned down because the subscriber was removed or
    /// changed after its vector was issued (see [`Hss::current`]).
    pub fn changed_during_auth(&self) -> u64 {
        self.inner.changed_during_auth.load(Ordering::Relaxed)
    }

    /// SQN ranges committed since open (each subscriber's reservation of
    /// [`RESERVATION_SEQS`], a resynchronisation's included).
    pub fn sqn_reservations(&self) -> u64 {
        self.inner.sqn_reservations.load(Ordering::Relaxed)
    }

    /// Adds a subscriber; [`HssError::Exists`] when the IMSI is taken.
    pub fn add(&self, s: &NewSubscriber) -> Result<(), HssError> {
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let r = tx.execute(
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
            Ok(_) => {}
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                return Err(HssError::Exists);
            }
            Err(e) => return Err(e.into()),
        }
        let v = bump_versions(&tx, [s.imsi.as_str()])?;
        tx.commit()?;
        self.changed([s.imsi.as_str()], v);
        Ok(())
    }

    /// Imports many subscribers in one transaction (all or nothing). An
    /// existing IMSI whose K, OPc or AMF would change is a clash:
    /// [`HssError::Clash`] names the first one unless `update` is set. An
    /// existing IMSI keeps the higher of the two SQNs.
    pub fn import(&self, subs: &[NewSubscriber], update: bool) -> Result<ImportReport, HssError> {
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let mut report = ImportReport::default();
        let mut touched: Vec<&str> = Vec::new();
        for s in subs {
            let imsi = s.imsi.as_str();
            match select_subscriber(&tx, imsi)? {
                None => {
                    tx.prepare_cached(
                        "INSERT INTO subscriber (imsi, k, opc, amf, sqn) VALUES (?1, ?2, ?3, ?4, ?5)",
                    )?
                    .execute(params![
                        imsi,
                        &s.keys.k.expose()[..],
                        &s.keys.opc.expose()[..],
                        s.amf.value(),
                        s.sqn.value() as i64
                    ])?;
                    report.added += 1;
                    touched.push(imsi);
                }
                Some(row) => {
                    let same_keys = row.k.as_slice() == s.keys.k.expose().as_slice()
                        && row.opc.as_slice() == s.keys.opc.expose().as_slice()
                        && row.amf == i64::from(s.amf.value());
                    if !same_keys && !update {
                        return Err(HssError::Clash(imsi.to_string()));
                    }
                    let sqn = row.sqn.max(s.sqn.value() as i64);
                    if same_keys && sqn == row.sqn {
                        report.unchanged += 1;
                        continue;
                    }
                    tx.prepare_cached(
                        "UPDATE subscriber SET k = ?2, opc = ?3, amf = ?4, sqn = ?5 WHERE imsi = ?1",
                    )?
                    .execute(params![
                        imsi,
                        &s.keys.k.expose()[..],
                        &s.keys.opc.expose()[..],
                        s.amf.value(),
                        sqn
                    ])?;
                    report.updated += 1;
                    touched.push(imsi);
                }
            }
        }
        let v = bump_versions(&tx, touched.iter().copied())?;
        tx.commit()?;
        self.changed(touched, v);
        Ok(report)
    }

    /// Changes what `u` names of an existing subscriber. A running server
    /// uses the new values from its next vector and turns down
    /// authentications in flight (see [`Hss::current`]).
    pub fn set(&self, imsi: &Imsi, u: &SubscriberUpdate) -> Result<(), HssError> {
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let row = select_subscriber(&tx, imsi.as_str())?.ok_or(HssError::UnknownSubscriber)?;
        let k = u.k.as_ref().map_or(&row.k[..], |k| &k.expose()[..]);
        let opc = u.opc.as_ref().map_or(&row.opc[..], |o| &o.expose()[..]);
        let amf = u.amf.map_or(row.amf, |a| i64::from(a.value()));
        let sqn = u.sqn.map_or(row.sqn, |s| s.value() as i64);
        tx.execute(
            "UPDATE subscriber SET k = ?2, opc = ?3, amf = ?4, sqn = ?5 WHERE imsi = ?1",
            params![imsi.as_str(), k, opc, amf, sqn],
        )?;
        let v = bump_versions(&tx, [imsi.as_str()])?;
        tx.commit()?;
        self.changed([imsi.as_str()], v);
        Ok(())
    }

    /// Removes a subscriber.
    pub fn remove(&self, imsi: &Imsi) -> Result<(), HssError> {
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let n = tx.execute("DELETE FROM subscriber WHERE imsi = ?1", [imsi.as_str()])?;
        if n == 0 {
            return Err(HssError::UnknownSubscriber);
        }
        crate::authz::sqlite::forget(&tx, imsi)?;
        let v = bump_versions(&tx, [imsi.as_str()])?;
        tx.commit()?;
        self.changed([imsi.as_str()], v);
        Ok(())
    }

    /// All subscribers without their keys.
    pub fn list(&self) -> Result<Vec<SubscriberInfo>, HssError> {
        list_rows(&*self.lock()?)
    }

    /// The last SQN this store issued to `imsi`, or, when it holds no
    /// reservation for it, the stored high-water mark.
    pub fn sqn(&self, imsi: &Imsi) -> Result<Sqn, HssError> {
        if let Some(c) = relock(&self.inner.cache[shard_of(imsi.as_str())])
            .cache
            .get(imsi.as_str())
        {
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

/// All subscribers of `conn`, keys left out.
pub(crate) fn list_rows(conn: &Connection) -> Result<Vec<SubscriberInfo>, HssError> {
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

fn keys_from_row(k: &[u8], opc: &[u8]) -> Result<SubscriberKeys, HssError> {
    match (K::from_slice(k), Opc::from_slice(opc)) {
        (Some(k), Some(opc)) => Ok(SubscriberKeys::new(k, opc)),
        _ => Err(HssError::Store("stored key has the wrong length".into())),
    }
}

/// One subscriber row, keys in zeroizing buffers, with its change version.
struct SubscriberRow {
    k: Zeroizing<Vec<u8>>,
    opc: Zeroizing<Vec<u8>>,
    amf: i64,
    sqn: i64,
    version: u64,
}

fn select_subscriber(conn: &Connection, imsi: &str) -> Result<Option<SubscriberRow>, HssError> {
    let mut st = conn.prepare_cached(
        "SELECT s.k, s.opc, s.amf, s.sqn, coalesce(c.version, 0)
         FROM subscriber s LEFT JOIN subscriber_change c ON c.imsi = s.imsi WHERE s.imsi = ?1",
    )?;
    Ok(st
        .query_row([imsi], |r| {
            Ok(SubscriberRow {
                k: Zeroizing::new(r.get::<_, Vec<u8>>(0)?),
                opc: Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                amf: r.get(2)?,
                sqn: r.get(3)?,
                version: r.get::<_, i64>(4)? as u64,
            })
        })
        .optional()?)
}

fn stored_sqn(v: i64) -> Result<Sqn, HssError> {
    u64::try_from(v)
        .ok()
        .and_then(Sqn::new)
        .ok_or_else(|| HssError::Store("stored SQN out of range".into()))
}

fn stored_amf(v: i64) -> Amf {
    Amf((v as u16).to_be_bytes())
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
    version: u64,
    stored: Sqn,
    committed: Sqn,
}

/// An SQN taken from a cached range, with what the vector needs.
struct Taken {
    sqn: Sqn,
    keys: SubscriberKeys,
    amf: Amf,
    version: u64,
}

impl Inner {
    /// Applies other connections' committed subscriber changes to the cache
    /// (cheap when nothing was committed: one `PRAGMA data_version`).
    fn refresh(&self) -> Result<(), HssError> {
        let mut w = relock(&self.watch);
        w.at = std::time::Instant::now();
        let Some(conn) = &w.conn else {
            return Ok(());
        };
        let dv: i64 = conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |r| r.get(0))?;
        if dv == w.data_version {
            return Ok(());
        }
        self.apply_changes(conn, &mut relock(&self.seen))?;
        w.data_version = dv;
        Ok(())
    }

    /// Reads the changes above `seen` through `conn` and applies them.
    fn apply_changes(&self, conn: &Connection, seen: &mut u64) -> Result<(), HssError> {
        let changes: Vec<(String, i64)> = {
            let mut st = conn
                .prepare_cached("SELECT imsi, version FROM subscriber_change WHERE version > ?1")?;
            let rows = st.query_map([*seen as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (imsi, v) in changes {
            let v = v as u64;
            self.note_change(&imsi, v);
            *seen = (*seen).max(v);
        }
        Ok(())
    }

    /// The look of [`Inner::refresh`] without waiting, on a free reader:
    /// true when the cache is now exact (nothing committed by another
    /// connection since the reader's last look, or the changes applied);
    /// false when no reader or lock was free or the file was busy — the
    /// caller then leaves the question to a store worker.
    fn look_now(&self) -> bool {
        self.look_since(None)
    }

    /// [`Inner::look_now`], skipped when a look that began at or after
    /// `since` has completed: the cache is then exact as of `since` already.
    /// The RADIUS workers pass the instant their batch of datagrams was
    /// received, so the requests of one `recvmmsg` batch share one look.
    fn look_since(&self, since: Option<std::time::Instant>) -> bool {
        if let Some(since) = since
            && self.looked.load(Ordering::Acquire) > self.nanos(since)
        {
            return true;
        }
        if self.readers.is_empty() {
            // In memory: changed only through this object, applied at once.
            return true;
        }
        for m in self.readers.iter() {
            if let Ok(mut r) = m.try_lock() {
                return self.look(&mut r).unwrap_or(false);
            }
        }
        false
    }

    /// Nanoseconds from `epoch` to `at` (0 before it).
    fn nanos(&self, at: std::time::Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    fn look(&self, r: &mut Reader) -> Result<bool, HssError> {
        let begun = std::time::Instant::now();
        let exact = self.look_at(r)?;
        if exact {
            self.looked
                .fetch_max(self.nanos(begun).saturating_add(1), Ordering::Release);
        }
        Ok(exact)
    }

    fn look_at(&self, r: &mut Reader) -> Result<bool, HssError> {
        let dv: i64 = r
            .conn
            .prepare_cached("PRAGMA data_version")?
            .query_row([], |row| row.get(0))?;
        if r.data_version == Some(dv) {
            return Ok(true);
        }
        let Ok(mut seen) = self.seen.try_lock() else {
            return Ok(false);
        };
        self.apply_changes(&r.conn, &mut seen)?;
        r.data_version = Some(dv);
        Ok(true)
    }

    /// A committed change to `imsi` (or [`AUTHZ_CHANGE`]) at `version`.
    fn note_change(&self, imsi: &str, version: u64) {
        if imsi != AUTHZ_CHANGE {
            relock(&self.cache[shard_of(imsi)]).note_change(imsi, version);
            return;
        }
        // Published before the shards are cleared: an authorization read
        // before this change and cached after the clearing is refused.
        self.authz_changed.fetch_max(version, Ordering::SeqCst);
        for shard in &self.cache {
            relock(shard).authz.retain(|_, (at, _)| *at >= version);
        }
    }

    /// Caches `imsi`'s authorization read when the store's highest change
    /// version was `at`, unless a change after that was already seen.
    fn remember_authz(&self, imsi: &str, at: u64, a: &Authorization) {
        let mut shard = relock(&self.cache[shard_of(imsi)]);
        if shard.stale(imsi, at) || self.authz_changed.load(Ordering::SeqCst) > at {
            return;
        }
        shard.authz.insert(imsi.to_string(), (at, a.clone()));
    }

    /// `imsi`'s cached authorization, exact after [`Inner::refresh`].
    fn cached_authz(&self, imsi: &str) -> Option<Authorization> {
        relock(&self.cache[shard_of(imsi)])
            .authz
            .get(imsi)
            .map(|(_, a)| a.clone())
    }

    /// Whether `imsi` is still as at `version` by what the cache knows;
    /// counts and logs a turned-down authentication.
    fn verdict(&self, imsi: &Imsi, version: u64) -> bool {
        let stale = relock(&self.cache[shard_of(imsi.as_str())]).stale(imsi.as_str(), version);
        if stale {
            self.changed_during_auth.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                imsi = %crate::logging::imsi(imsi),
                "subscriber removed or changed during its authentication: rejected"
            );
        }
        !stale
    }

    /// Takes the next SQN of `imsi` from memory (asking for a background
    /// refill when the range runs low); `None` when there is no range left.
    fn take(&self, imsi: &str) -> Option<Taken> {
        let mut shard = relock(&self.cache[shard_of(imsi)]);
        let c = shard.cache.get_mut(imsi)?;
        let sqn = c.range.take()?;
        let out = Taken {
            sqn,
            keys: c.keys.clone(),
            amf: c.amf,
            version: c.version,
        };
        if c.range.remaining() < REFILL_BELOW && !c.refill_queued {
            c.refill_queued = true;
            drop(shard);
            relock(&self.pending).imsis.push(imsi.to_string());
            self.wake.notify_one();
        }
        Some(out)
    }

    /// Reserves for `imsi` now, together with every queued refill and
    /// every other reservation waiting (group commit). Returns after the
    /// commit; `UnknownSubscriber` when it has no row.
    fn reserve_now(&self, imsi: &str) -> Result<(), HssError> {
        // Queued before waiting for the connection: whoever commits next
        // takes it along, so the first vectors of many subscribers at once
        // (a fresh server under load) share one commit.
        relock(&self.pending).imsis.push(imsi.to_string());
        let conn = relock(&self.conn);
        // Whoever held the connection before us may have refilled it.
        if relock(&self.cache[shard_of(imsi)])
            .cache
            .get(imsi)
            .is_some_and(|c| c.range.remaining() > 0)
        {
            // Not reserved twice: our entry may still be queued.
            let mut p = relock(&self.pending);
            if let Some(i) = p.imsis.iter().position(|x| x == imsi) {
                p.imsis.swap_remove(i);
            }
            return Ok(());
        }
        let mut batch = std::mem::take(&mut relock(&self.pending).imsis);
        batch.push(imsi.to_string());
        let missing = self.commit_batch(&conn, batch)?;
        if missing.contains(imsi) {
            Err(HssError::UnknownSubscriber)
        } else {
            Ok(())
        }
    }

    /// One immediate transaction moving the stored SQN of every IMSI in
    /// `batch` up by [`RESERVATION_SEQS`]; the cache learns the new ranges
    /// only after the commit. Returns the IMSIs without a row (they leave
    /// the cache).
    fn commit_batch(
        &self,
        conn: &Connection,
        mut batch: Vec<String>,
    ) -> Result<HashSet<String>, HssError> {
        batch.sort_unstable();
        batch.dedup();
        let result = (|| {
            let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
            let mut done = Vec::with_capacity(batch.len());
            for imsi in &batch {
                let Some(row) = select_subscriber(&tx, imsi)? else {
                    continue;
                };
                let stored = stored_sqn(row.sqn)?;
                let committed = advance(stored, RESERVATION_SEQS);
                set_stored_sqn(&tx, imsi, committed)?;
                done.push(Reserved {
                    imsi: imsi.clone(),
                    keys: keys_from_row(&row.k, &row.opc)?,
                    amf: stored_amf(row.amf),
                    version: row.version,
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
                    if let Some(c) = relock(&self.cache[shard_of(imsi)]).cache.get_mut(imsi) {
                        c.refill_queued = false;
                    }
                }
                return Err(e);
            }
        };
        self.sqn_reservations
            .fetch_add(done.len() as u64, Ordering::Relaxed);
        let mut missing: HashSet<String> = batch.into_iter().collect();
        for r in &done {
            missing.remove(&r.imsi);
        }
        for imsi in &missing {
            relock(&self.cache[shard_of(imsi)])
                .cache
                .remove(imsi.as_str());
        }
        for r in done {
            self.install(r.imsi, r.keys, r.amf, r.version, r.stored, r.committed);
        }
        Ok(missing)
    }

    /// Caches a committed range `(stored, committed]` read at `version`:
    /// continues the cached range of the same version, replaces an older
    /// one, and is dropped when a newer change was already seen.
    fn install(
        &self,
        imsi: String,
        keys: SubscriberKeys,
        amf: Amf,
        version: u64,
        stored: Sqn,
        committed: Sqn,
    ) {
        let mut shard = relock(&self.cache[shard_of(&imsi)]);
        if shard.stale(&imsi, version) {
            shard.cache.remove(&imsi);
            return;
        }
        match shard.cache.get_mut(&imsi) {
            Some(c) if c.version > version => {}
            Some(c) if c.version == version => {
                c.range.extend(stored, committed);
                c.keys = keys;
                c.amf = amf;
                c.refill_queued = false;
            }
            _ => {
                shard.cache.insert(
                    imsi,
                    Cached {
                        keys,
                        amf,
                        range: Range::reserved(stored, committed),
                        version,
                        refill_queued: false,
                    },
                );
            }
        }
    }

    /// The background committer: waits for refill requests and commits
    /// them in batches until the store is dropped.
    fn commit_loop(&self) {
        loop {
            let work = {
                let mut p = relock(&self.pending);
                if p.imsis.is_empty() && !p.stop {
                    p = match self.wake.wait_timeout(p, POLL) {
                        Ok((p, _)) => p,
                        Err(e) => e.into_inner().0,
                    };
                }
                if p.stop {
                    return;
                }
                !p.imsis.is_empty()
            };
            // Off the hot path: other processes' changes, every POLL.
            if relock(&self.watch).at.elapsed() >= POLL
                && let Err(e) = self.refresh()
            {
                tracing::warn!(error = %e, "subscriber changes not read; retried");
            }
            if !work {
                continue;
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
        // The read-only watcher closes first: the read-write connection,
        // closing last, checkpoints the WAL into the file and removes it.
        drop(relock(&self.inner.watch).conn.take());
    }
}

impl Hss for SqliteStore {
    fn try_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Option<Result<(AuthVector, u64), HssError>> {
        let mut rand = [0u8; 16];
        if let Err(e) = super::rng::fill(&mut rand) {
            return Some(Err(HssError::Rng(e.to_string())));
        }
        // Only from the reserved range in memory; a commit is left to `vector`.
        let t = self.inner.take(imsi.as_str())?;
        let v = t.keys.generate_vector(t.sqn, vector_amf(t.amf, kind), rand);
        Some(Ok((v, t.version)))
    }

    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.vector_versioned(imsi, kind).map(|(v, _)| v)
    }

    fn vector_versioned(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        let mut rand = [0u8; 16];
        super::rng::fill(&mut rand).map_err(|e| HssError::Rng(e.to_string()))?;
        // A commit leaves a non-empty range unless a change to this
        // subscriber raced with it (then the next commit reads the change).
        for _ in 0..4 {
            if let Some(t) = self.inner.take(imsi.as_str()) {
                let v = t.keys.generate_vector(t.sqn, vector_amf(t.amf, kind), rand);
                return Ok((v, t.version));
            }
            self.inner.reserve_now(imsi.as_str())?;
        }
        Err(HssError::Store(
            "SQN reservation lost to concurrent subscriber changes".into(),
        ))
    }

    /// GSM-Milenage triplets from the subscriber's K/OPc (an SQN of the
    /// reserved range is used up to read them; GSM-Milenage needs none).
    /// Without K/OPc (a 2G-only SIM): the stored triplets ([`triplets`]).
    fn triplets(&self, imsi: &Imsi, n: usize) -> Result<(Vec<super::Triplet>, u64), HssError> {
        for _ in 0..4 {
            if let Some(t) = self.inner.take(imsi.as_str()) {
                return Ok((super::gsm_milenage_triplets(&t.keys, n)?, t.version));
            }
            match self.inner.reserve_now(imsi.as_str()) {
                Err(HssError::UnknownSubscriber) => return self.stored_triplets(imsi, n),
                r => r?,
            }
        }
        Err(HssError::Store(
            "SQN reservation lost to concurrent subscriber changes".into(),
        ))
    }

    fn current(&self, imsi: &Imsi, version: u64) -> Result<bool, HssError> {
        self.inner.refresh()?;
        Ok(self.inner.verdict(imsi, version))
    }

    /// From memory, exactly: a change already seen is false at once;
    /// otherwise one `PRAGMA data_version` on the watch connection (shared
    /// memory of the WAL index, no thread hop) tells whether another
    /// connection committed since the last look, and if so its changes are
    /// read first. `None` only when that look fails (a store worker retries).
    fn try_current(&self, imsi: &Imsi, version: u64) -> Option<Result<bool, HssError>> {
        let known =
            relock(&self.inner.cache[shard_of(imsi.as_str())]).stale(imsi.as_str(), version);
        if !known && !self.inner.look_now() {
            return None;
        }
        Some(Ok(self.inner.verdict(imsi, version)))
    }

    /// Read in one snapshot with the store's highest change version, and
    /// cached for [`Hss::try_authorization`].
    fn authorization(&self, imsi: &Imsi) -> Result<crate::authz::Authorization, HssError> {
        let (at, a) = {
            let conn = self.lock()?;
            let tx = conn.unchecked_transaction()?;
            let at = max_version(&tx)?;
            let a = crate::authz::sqlite::read(&tx, imsi)?;
            tx.commit()?;
            (at, a)
        };
        self.inner.remember_authz(imsi.as_str(), at, &a);
        Ok(a)
    }

    /// From memory after the same exact look as [`Hss::try_current`]; a
    /// subscriber whose authorization was not read since its last change
    /// (or the last group change) goes to a store worker.
    fn try_authorization(
        &self,
        imsi: &Imsi,
    ) -> Option<Result<crate::authz::Authorization, HssError>> {
        if !self.inner.look_now() {
            return None;
        }
        self.inner.cached_authz(imsi.as_str()).map(Ok)
    }

    /// One exact look at the file for both checks (as [`Hss::try_current`]),
    /// shared by the checks whose `now` it began after.
    fn try_confirm(
        &self,
        imsi: &Imsi,
        version: u64,
        now: std::time::Instant,
    ) -> Option<(
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    )> {
        if !self.inner.look_since(Some(now)) {
            return None;
        }
        let a = self.inner.cached_authz(imsi.as_str())?;
        Some((Ok(a), Ok(self.inner.verdict(imsi, version))))
    }

    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        self.inner.refresh()?;
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let row = select_subscriber(&tx, imsi.as_str())?.ok_or(HssError::UnknownSubscriber)?;
        let stored = stored_sqn(row.sqn)?;
        let keys = keys_from_row(&row.k, &row.opc)?;
        let sqn_ms = keys
            .resync(rand, auts)
            .map_err(|_| HssError::ResyncMacFailure)?;
        let shard = &self.inner.cache[shard_of(imsi.as_str())];
        // SQN_MS inside our committed range (of the same subscriber
        // version): continue after it; the stored mark is already above it
        // (TS 33.102 §6.3.5: the next vector is fresh).
        if relock(shard)
            .cache
            .get_mut(imsi.as_str())
            .filter(|c| c.version == row.version)
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
        self.inner.sqn_reservations.fetch_add(1, Ordering::Relaxed);
        {
            let mut s = relock(shard);
            if !s.stale(imsi.as_str(), row.version) {
                s.cache.insert(
                    imsi.as_str().to_string(),
                    Cached {
                        keys,
                        amf: stored_amf(row.amf),
                        range: Range::reserved(base, committed),
                        version: row.version,
                        refill_queued: false,
                    },
                );
            }
        }
        Ok(sqn_ms)
    }
}

impl AccountingLog for SqliteStore {
    fn record(&self, rec: &AccountingRecord) -> Result<(), HssError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        tx.execute(
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
        crate::authz::sessions::apply(&tx, rec, now)?;
        tx.commit()?;
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
        let e = SqliteStore::check_file(&p).unwrap_err().to_string();
        assert!(e.contains("no such store"), "{e}");
        assert!(!p.exists());
        let e = SqliteStore::check_file(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        {
            let s = SqliteStore::create(&p).unwrap();
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
    use std::os::unix::fs::PermissionsExt;

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
            let s = SqliteStore::create(&p).unwrap();
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
        assert_eq!(
            stored_mark(&s, imsi.as_str()).seq(),
            mark.seq() + RESERVATION_SEQS,
            "one range reserved, at the first vector"
        );
    }

    #[test]
    fn a_closed_store_leaves_no_wal_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let s = SqliteStore::create(&p).unwrap();
        s.add(&sub("001010000000001", Sqn::default())).unwrap();
        s.vector(&Imsi::parse("001010000000001").unwrap(), VectorKind::Aka)
            .unwrap();
        drop(s);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["s.db"], "everything checkpointed into the file");
    }

    #[test]
    fn opening_a_store_reserves_nothing_until_the_first_vector() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let start = Sqn::from_seq_ind(40, 9);
        let imsi = Imsi::parse("001010000000001").unwrap();
        {
            let s = SqliteStore::create(&p).unwrap();
            s.add(&sub(imsi.as_str(), start)).unwrap();
            s.add(&sub("001010000000002", start)).unwrap();
        }
        for _ in 0..3 {
            let s = SqliteStore::open(&p).unwrap();
            assert_eq!(s.subscriber_count().unwrap(), 2);
            assert_eq!(stored_mark(&s, imsi.as_str()), start);
        }
        let s = SqliteStore::open(&p).unwrap();
        s.vector(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(
            stored_mark(&s, imsi.as_str()),
            advance(start, RESERVATION_SEQS)
        );
        assert_eq!(
            stored_mark(&s, "001010000000002"),
            start,
            "only the subscriber that got a vector"
        );
    }

    /// First vectors of many subscribers at once (a fresh server under
    /// load) share commits, and none of them is reserved twice.
    #[test]
    fn concurrent_first_vectors_reserve_each_subscriber_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let s = std::sync::Arc::new(SqliteStore::create(&p).unwrap());
        let imsis: Vec<Imsi> = (0..16)
            .map(|i| Imsi::parse(&format!("0010100000001{i:02}")).unwrap())
            .collect();
        for imsi in &imsis {
            s.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        }
        let threads: Vec<_> = imsis
            .iter()
            .cloned()
            .map(|imsi| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
                    let v = s.vector(&imsi, VectorKind::Aka).unwrap();
                    assert_eq!(usim_sqn(&keys, &v), Some(Sqn::from_seq_ind(1, 1)));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.sqn_reservations(), 16, "one range per subscriber");
        for imsi in &imsis {
            assert_eq!(stored_mark(&s, imsi.as_str()).seq(), RESERVATION_SEQS);
        }
    }

    #[test]
    fn resync_above_the_reservation_commits_a_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::create(&dir.path().join("s.db")).unwrap();
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
        let s = SqliteStore::create(&p).unwrap();
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

    fn usim_sqn(keys: &SubscriberKeys, v: &AuthVector) -> Option<Sqn> {
        keys.authenticate(&v.rand, &v.autn).ok().map(|u| u.sqn)
    }

    /// `try_current` answers on the calling thread and exactly: a change
    /// another process committed is seen at the very next call.
    #[test]
    fn try_current_is_exact_and_sees_another_process_change_at_once() {
        let imsi = Imsi::parse("001010000000001").unwrap();
        let mem = SqliteStore::open_in_memory().unwrap();
        mem.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        let (_, version) = mem.vector_versioned(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(mem.try_current(&imsi, version), Some(Ok(true)));
        mem.remove(&imsi).unwrap();
        assert_eq!(mem.try_current(&imsi, version), Some(Ok(false)));
        assert_eq!(mem.changed_during_auth(), 1);

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let server = SqliteStore::create(&p).unwrap();
        server.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        let (_, version) = server.vector_versioned(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(server.try_current(&imsi, version), Some(Ok(true)));
        // SQN reservations (our own commits) are no subscriber change.
        let other = Imsi::parse("001010000000002").unwrap();
        SqliteStore::open(&p)
            .unwrap()
            .add(&sub(other.as_str(), Sqn::default()))
            .unwrap();
        server.vector(&other, VectorKind::Aka).unwrap();
        assert_eq!(server.try_current(&imsi, version), Some(Ok(true)));
        SqliteStore::open(&p).unwrap().remove(&imsi).unwrap();
        // No poll in between: the look at the file is part of the call.
        assert_eq!(server.try_current(&imsi, version), Some(Ok(false)));
        assert!(!server.current(&imsi, version).unwrap());
        assert_eq!(server.changed_during_auth(), 2);
    }

    /// `try_confirm` is exact as of the step's `now`: checks whose `now` a
    /// completed look began after share it (one look per datagram batch);
    /// a later `now` looks at the file again and sees the change.
    #[test]
    fn try_confirm_shares_one_look_per_now() {
        let imsi = Imsi::parse("001010000000001").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let server = SqliteStore::create(&p).unwrap();
        server.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        // Reads (and caches) the authorization too, as before a real challenge.
        let (_, version) = server.authorized_vector(&imsi, VectorKind::Aka).unwrap();
        let batch = std::time::Instant::now();
        let (_, current) = server.try_confirm(&imsi, version, batch).unwrap();
        assert_eq!(current, Ok(true));
        // Committed by another process after the batch was received.
        SqliteStore::open(&p).unwrap().remove(&imsi).unwrap();
        // Same batch: the look already made for it answers (as of `batch`).
        let (_, current) = server.try_confirm(&imsi, version, batch).unwrap();
        assert_eq!(current, Ok(true));
        // A later batch looks again and sees the removal (which also drops
        // the cached authorization: the check goes to a store worker).
        let later = std::time::Instant::now();
        assert!(
            server
                .try_confirm(&imsi, version, later)
                .is_none_or(|(_, current)| current == Ok(false))
        );
        assert_eq!(server.confirm(&imsi, version).1, Ok(false));
    }

    /// Authorizations are answered from memory once read, and every kind
    /// of authorization change by another process is seen at the next call.
    #[test]
    fn try_authorization_is_cached_and_exact_across_processes() {
        use crate::authz::{AttributeUpdate, ReplyAttributes, sqlite::AuthzUpdate};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let imsi = Imsi::parse("001010000000001").unwrap();
        let server = SqliteStore::create(&p).unwrap();
        server.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        assert_eq!(server.try_authorization(&imsi), None, "not read yet");
        let a = server.authorization(&imsi).unwrap();
        assert!(!a.barred);
        assert_eq!(server.try_authorization(&imsi), Some(Ok(a.clone())));

        let cli = SqliteStore::open(&p).unwrap();
        let fresh = |server: &SqliteStore| match server.try_authorization(&imsi) {
            Some(a) => a.unwrap(),
            None => server.authorization(&imsi).unwrap(),
        };
        cli.set_barred(&imsi, true).unwrap();
        assert!(fresh(&server).barred);
        cli.set_barred(&imsi, false).unwrap();
        assert!(!fresh(&server).barred);

        cli.group_add("gold", &ReplyAttributes::default()).unwrap();
        cli.set_authz(
            &imsi,
            &AuthzUpdate {
                group: Some(Some("gold".into())),
                ..Default::default()
            },
        )
        .unwrap();
        let before = fresh(&server);
        assert_eq!(server.try_authorization(&imsi), Some(Ok(before.clone())));
        let u = AttributeUpdate {
            set: ReplyAttributes {
                session_timeout: Some(600),
                ..Default::default()
            },
            unset: Vec::new(),
        };
        cli.group_set("gold", &u).unwrap();
        assert_eq!(
            server.try_authorization(&imsi),
            None,
            "a group change drops what was cached"
        );
        let after = fresh(&server);
        assert_eq!(after.reply.session_timeout, Some(600));
        assert_eq!(after, cli.authorization_of(&imsi).unwrap());
        cli.remove(&imsi).unwrap();
        assert_eq!(server.try_authorization(&imsi), None);
    }

    #[test]
    fn another_process_changes_reach_a_running_store_at_the_next_vector() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let imsi = Imsi::parse("001010000000001").unwrap();
        let old = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let new = SubscriberKeys::new(K::new([3; 16]), Opc::new([2; 16]));
        let server = SqliteStore::create(&p).unwrap();
        server.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        let (v, version) = server.vector_versioned(&imsi, VectorKind::Aka).unwrap();
        assert!(usim_sqn(&old, &v).is_some());
        assert!(server.current(&imsi, version).unwrap());

        // `subscriber set --k` from another process (connection).
        let cli = SqliteStore::open(&p).unwrap();
        cli.set(
            &imsi,
            &SubscriberUpdate {
                k: Some(K::new([3; 16])),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(
            !server.current(&imsi, version).unwrap(),
            "the vector in flight was made with the old K"
        );
        assert_eq!(server.changed_during_auth(), 1);
        let (v, version2) = server.vector_versioned(&imsi, VectorKind::Aka).unwrap();
        assert!(usim_sqn(&old, &v).is_none(), "old K no longer used");
        let sqn = usim_sqn(&new, &v).expect("new K used at once");
        assert!(sqn.seq() > 1, "SQN never goes back without --sqn");
        assert!(server.current(&imsi, version2).unwrap());

        // `set --sqn`: the cached range is dropped, the next vector follows it.
        cli.set(
            &imsi,
            &SubscriberUpdate {
                sqn: Some(Sqn::from_seq_ind(5000, 3)),
                ..Default::default()
            },
        )
        .unwrap();
        server.inner.refresh().unwrap(); // what the background poll does
        let v = server.vector(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(usim_sqn(&new, &v), Some(Sqn::from_seq_ind(5001, 4)));

        // remove: no vector, the authentication in flight is not current.
        let (_, version3) = server.vector_versioned(&imsi, VectorKind::Aka).unwrap();
        cli.remove(&imsi).unwrap();
        assert!(!server.current(&imsi, version3).unwrap());
        assert!(matches!(
            server.vector(&imsi, VectorKind::Aka),
            Err(HssError::UnknownSubscriber)
        ));

        // Re-added with SQN 0: no reserved range of the old one survives.
        cli.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        let v = server.vector(&imsi, VectorKind::Aka).unwrap();
        assert_eq!(usim_sqn(&old, &v), Some(Sqn::from_seq_ind(1, 1)));
        assert!(!server.current(&imsi, version3).unwrap());
    }

    #[test]
    fn the_background_poll_applies_another_process_change_within_a_second() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let imsi = Imsi::parse("001010000000001").unwrap();
        let server = SqliteStore::create(&p).unwrap();
        server.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        server.vector(&imsi, VectorKind::Aka).unwrap();
        SqliteStore::open(&p)
            .unwrap()
            .set(
                &imsi,
                &SubscriberUpdate {
                    k: Some(K::new([3; 16])),
                    ..Default::default()
                },
            )
            .unwrap();
        let new = SubscriberKeys::new(K::new([3; 16]), Opc::new([2; 16]));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
        // Only vectors from here on: no call that looks at the file itself.
        while usim_sqn(&new, &server.vector(&imsi, VectorKind::Aka).unwrap()).is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "K change not applied within 1 s"
            );
            std::thread::sleep(POLL / 10);
        }
    }

    #[test]
    fn a_reservation_that_read_a_row_older_than_a_seen_change_is_not_cached() {
        let s = SqliteStore::open_in_memory().unwrap();
        let imsi = "001010000000001";
        relock(&s.inner.cache[shard_of(imsi)]).note_change(imsi, 7);
        let keys = SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16]));
        let s0 = Sqn::default();
        s.inner.install(
            imsi.into(),
            keys.clone(),
            Amf([0, 0]),
            6,
            s0,
            advance(s0, 10),
        );
        assert!(s.inner.take(imsi).is_none(), "stale row dropped");
        s.inner
            .install(imsi.into(), keys, Amf([0, 0]), 7, s0, advance(s0, 10));
        assert_eq!(s.inner.take(imsi).map(|t| t.version), Some(7));
    }

    #[test]
    fn import_adds_updates_only_with_update_and_never_lowers_sqn() {
        let s = SqliteStore::open_in_memory().unwrap();
        s.add(&sub("001010000000001", Sqn::from_seq_ind(9, 0)))
            .unwrap();
        let mut other = sub("001010000000001", Sqn::default());
        other.keys = SubscriberKeys::new(K::new([9; 16]), Opc::new([2; 16]));
        let batch = [sub("001010000000002", Sqn::default()), other];
        assert!(matches!(
            s.import(&batch, false),
            Err(HssError::Clash(i)) if i == "001010000000001"
        ));
        assert_eq!(s.list().unwrap().len(), 1, "nothing imported");
        assert_eq!(
            s.import(&batch, true).unwrap(),
            ImportReport {
                added: 1,
                updated: 1,
                unchanged: 0
            }
        );
        assert_eq!(stored_mark(&s, "001010000000001").seq(), 9);
        assert_eq!(
            s.import(&batch, false).unwrap(),
            ImportReport {
                added: 0,
                updated: 0,
                unchanged: 2
            }
        );
    }

    #[test]
    fn key_changes_racing_with_vectors_on_other_threads_take_effect_and_no_sqn_repeats() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        let imsi = Imsi::parse("001010000000001").unwrap();
        let server = Arc::new(SqliteStore::create(&p).unwrap());
        server.add(&sub(imsi.as_str(), Sqn::default())).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let workers: Vec<_> = (0..3)
            .map(|_| {
                let (server, stop, imsi) = (server.clone(), stop.clone(), imsi.clone());
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    while !stop.load(Ordering::Relaxed) && got.len() < 400 {
                        got.push(server.vector(&imsi, VectorKind::Aka).unwrap());
                        if got.len() % 20 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    got
                })
            })
            .collect();
        let cli = SqliteStore::open(&p).unwrap();
        let mut all_keys = Vec::new();
        for round in 1..=20u8 {
            cli.set(
                &imsi,
                &SubscriberUpdate {
                    k: Some(K::new([round; 16])),
                    ..Default::default()
                },
            )
            .unwrap();
            let keys = SubscriberKeys::new(K::new([round; 16]), Opc::new([2; 16]));
            server.inner.refresh().unwrap(); // what the background poll does
            let v = server.vector(&imsi, VectorKind::Aka).unwrap();
            assert!(
                usim_sqn(&keys, &v).is_some(),
                "round {round}: the vector after the change uses the new K"
            );
            all_keys.push(keys);
        }
        stop.store(true, Ordering::Relaxed);
        let mut seen = HashSet::new();
        for w in workers {
            for v in w.join().unwrap() {
                let sqn = std::iter::once(SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16])))
                    .chain(all_keys.iter().cloned())
                    .find_map(|k| usim_sqn(&k, &v))
                    .expect("every vector is made with some K the subscriber had");
                assert!(seen.insert(sqn.value()), "SQN {sqn:?} issued twice");
            }
        }
        assert!(seen.len() > 20, "{} vectors", seen.len());
    }
}
