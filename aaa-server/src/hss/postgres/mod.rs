//! The PostgreSQL subscriber store: many `aaa-server serve` nodes on one
//! database (docs/postgresql.md).
//!
//! Client: the synchronous `postgres` crate (a blocking wrapper over
//! tokio-postgres). The EAP server already calls the store from a bounded
//! pool of blocking store workers, so a blocking client fits without a
//! second async runtime hop. The pool is a `Mutex<Vec<Client>>` of idle
//! connections, not r2d2: callers are already bounded (store workers, the
//! CLI), so the pool needs no limit or waiting, only "take an idle one or
//! connect, put it back unless it broke" — r2d2 would add a scheduler
//! thread and a health-check round trip per checkout for nothing here. The
//! lock is held only to pop or push, never across a query.
//!
//! SQN: each vector (or each lease of [`PgStore::lease`] SEQ values) is one
//! autocommitted `UPDATE subscriber SET sqn = … RETURNING` — no read, then
//! write: the row lock orders nodes, and the statement returns after the
//! commit is durable (`synchronous_commit`), before the vector leaves. A
//! lease is the range `(old, new]` that one such UPDATE moved past; no other
//! node can get any of it, and a node that dies abandons what it did not
//! use (the next UPDATE starts above it). Resync (AUTS) sets the stored SQN
//! in a transaction holding the row lock and records a subscriber change:
//! every node drops its lease for that subscriber at its next poll
//! ([`POLL`]), and [`Hss::current`] turns down any Access-Accept made from
//! before it.
//!
//! Subscriber changes: every add, set, remove, import, resync and bar gives the
//! IMSI a new version from the one-row `change_counter` (its row lock makes
//! versions commit in order) in `subscriber.version` and `subscriber_change`;
//! [`Hss::current`] compares it with one query, and a poller drops leases of
//! changed subscribers. The poller is woken by LISTEN/NOTIFY
//! ([`CHANGE_CHANNEL`], one `pg_notify` per changing transaction, delivered
//! at commit) and looks every [`POLL`] anyway (changes made by hand in SQL,
//! a listening connection being reopened).

mod authz;
pub mod conninfo;
mod das_claim;
pub mod migrate;
pub mod reach;
mod triplets;

use super::reserve::{Range, advance, later};
use super::sqlite::{ImportReport, NewSubscriber, SubscriberInfo, SubscriberUpdate};
use super::{AccountingLog, AccountingRecord, Hss, HssError, Imsi, VectorKind, vector_amf};
use eap::secret::{K, Opc};
use eap::umts::{Amf, AuthVector, Auts, Sqn, SubscriberKeys};
use postgres::{Client, NoTls};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use zeroize::Zeroizing;

/// How often a node looks for other nodes' subscriber changes when no
/// notification woke it (the fallback for changes made without one).
pub const POLL: std::time::Duration = std::time::Duration::from_millis(250);

/// The LISTEN/NOTIFY channel of subscriber changes: every change commits a
/// `pg_notify` with its version in the same transaction, so each node's
/// poller wakes at the commit instead of at its next [`POLL`].
pub const CHANGE_CHANNEL: &str = "aaa_subscriber_change";

/// The largest `sqn_lease` accepted (SEQ values per lease): see docs/postgresql.md.
pub const MAX_LEASE: u64 = 1 << 10;

/// Why the store cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum PgOpenError {
    /// The target is refused.
    #[error(transparent)]
    ConnInfo(#[from] conninfo::ConnInfoError),
    /// The schema is newer, or migrating failed.
    #[error(transparent)]
    Migrate(#[from] migrate::MigrateError),
    /// `sqn_lease` out of range.
    #[error("sqn_lease must be 1 to {MAX_LEASE}, not {0}")]
    Lease(u64),
    /// Cannot connect.
    #[error("cannot connect to PostgreSQL: {0}")]
    Connect(String),
}

impl From<PgOpenError> for HssError {
    fn from(e: PgOpenError) -> Self {
        HssError::Store(e.to_string())
    }
}

/// A PostgreSQL error without the query text (it may carry nothing secret,
/// but the message is enough).
pub(crate) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.severity(), db.message()),
        None => e.to_string(),
    }
}

fn db(e: postgres::Error) -> HssError {
    HssError::Store(format!("PostgreSQL: {}", describe(&e)))
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A leased range with what the vector needs.
struct Leased {
    keys: SubscriberKeys,
    amf: Amf,
    range: Range,
    version: u64,
}

/// Statements prepared on one connection, by their SQL text: the hot-path
/// statements ([`Conn::cached`]), parsed and planned once per connection.
type Prepared = HashMap<&'static str, postgres::Statement>;

struct Inner {
    config: postgres::Config,
    idle: Mutex<Vec<(Client, Prepared)>>,
    lease: u64,
    leases: Mutex<HashMap<String, Leased>>,
    /// Highest change version the poller applied.
    seen: Mutex<i64>,
    stop: AtomicBool,
    /// SQN commits (leases) made since open, resynchronisations included.
    sqn_reservations: std::sync::atomic::AtomicU64,
    /// Whether PostgreSQL answers (the `aaa_hss_store_up` gauge).
    reach: reach::Reach,
    /// Change notifications received on the LISTEN connection.
    notified: std::sync::atomic::AtomicU64,
}

/// A pooled connection, back to the pool on drop unless it broke.
struct Conn<'a> {
    inner: &'a Inner,
    client: Option<Client>,
    prepared: Prepared,
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until drop")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until drop")
    }
}

/// One statement, sent again on a fresh connection when the pooled one
/// turned out dead (PostgreSQL restarted or failed over while it sat idle:
/// the blocking client notices only when it is used). A statement the
/// server itself refused is not retried. An SQN commit whose answer was lost
/// runs twice at worst: an SQN is skipped, never issued twice.
macro_rules! retried {
    ($name:ident, $out:ty) => {
        fn $name<T: ?Sized + postgres::ToStatement>(
            &mut self,
            query: &T,
            params: &[&(dyn postgres::types::ToSql + Sync)],
        ) -> Result<$out, postgres::Error> {
            match self
                .client
                .as_mut()
                .expect("present until drop")
                .$name(query, params)
            {
                Err(e) if e.as_db_error().is_none() => {
                    // Every pooled connection is suspect now.
                    relock(&self.inner.idle).clear();
                    match self.inner.connect() {
                        Ok(fresh) => {
                            self.client = Some(fresh);
                            self.prepared.clear();
                            self.client.as_mut().expect("just set").$name(query, params)
                        }
                        Err(_) => Err(e),
                    }
                }
                r => {
                    self.inner.reach.answered();
                    r
                }
            }
        }
    };
}

impl Conn<'_> {
    retried!(query, Vec<postgres::Row>);
    retried!(query_opt, Option<postgres::Row>);
    retried!(query_one, postgres::Row);
    retried!(execute, u64);

    /// `sql` as a statement prepared once per connection: after the first
    /// call, one round trip (Bind/Execute) and no parsing or planning. A
    /// plain `query(&str)` prepares, executes and closes an unnamed-ish
    /// statement every time. Sent again on a fresh connection, as
    /// [`retried!`] does, when the pooled one turned out dead.
    fn cached(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        match self.cached_once(sql, params) {
            Err(e) if e.as_db_error().is_none() => {
                relock(&self.inner.idle).clear();
                match self.inner.connect() {
                    Ok(fresh) => {
                        self.client = Some(fresh);
                        self.prepared.clear();
                        self.cached_once(sql, params)
                    }
                    Err(_) => Err(e),
                }
            }
            r => {
                self.inner.reach.answered();
                r
            }
        }
    }

    fn cached_once(
        &mut self,
        sql: &'static str,
        params: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, postgres::Error> {
        let client = self.client.as_mut().expect("present until drop");
        let st = match self.prepared.get(sql) {
            Some(st) => st.clone(),
            None => {
                let st = client.prepare(sql)?;
                self.prepared.insert(sql, st.clone());
                st
            }
        };
        client.query(&st, params)
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take()
            && !c.is_closed()
        {
            relock(&self.inner.idle).push((c, std::mem::take(&mut self.prepared)));
        }
    }
}

impl Inner {
    /// A new connection; [`Inner::reach`] follows the outcome.
    fn connect(&self) -> Result<Client, postgres::Error> {
        match self.config.connect(NoTls) {
            Ok(c) => {
                self.reach.answered();
                Ok(c)
            }
            Err(e) => {
                // "error connecting to server" alone does not say why.
                let why = match std::error::Error::source(&e) {
                    Some(cause) if e.as_db_error().is_none() => format!("{e}: {cause}"),
                    _ => describe(&e),
                };
                self.reach.failed(&why);
                Err(e)
            }
        }
    }

    fn conn(&self) -> Result<Conn<'_>, HssError> {
        let idle = relock(&self.idle).pop();
        let (client, prepared) = match idle {
            Some((c, p)) if !c.is_closed() => (c, p),
            _ => self.connect().map(|c| (c, Prepared::new())).map_err(|e| {
                HssError::Store(format!("cannot connect to PostgreSQL: {}", describe(&e)))
            })?,
        };
        Ok(Conn {
            inner: self,
            client: Some(client),
            prepared,
        })
    }

    /// Drops leases of subscribers changed since the last look.
    fn refresh(&self) -> Result<(), HssError> {
        let mut seen = relock(&self.seen);
        let rows = self
            .conn()?
            .query(
                "SELECT imsi, version FROM subscriber_change WHERE version > $1 ORDER BY version",
                &[&*seen],
            )
            .map_err(db)?;
        let mut leases = relock(&self.leases);
        for r in rows {
            let imsi: String = r.get(0);
            let v: i64 = r.get(1);
            if leases.get(&imsi).is_some_and(|l| (l.version as i64) < v) {
                leases.remove(&imsi);
            }
            *seen = (*seen).max(v);
        }
        Ok(())
    }

    /// A connection that LISTENs on [`CHANGE_CHANNEL`].
    fn listener(&self) -> Option<Client> {
        let mut c = self.connect().ok()?;
        c.batch_execute(&format!("LISTEN {CHANGE_CHANNEL}")).ok()?;
        Some(c)
    }

    /// Waits up to [`POLL`] for a change notification on `listener`
    /// (reconnected when it broke; a plain sleep while there is none).
    fn wait_for_change(&self, listener: &mut Option<Client>) {
        use postgres::fallible_iterator::FallibleIterator;
        if listener.as_ref().is_none_or(Client::is_closed) {
            *listener = self.listener();
        }
        let Some(c) = listener.as_mut() else {
            std::thread::sleep(POLL);
            return;
        };
        let t0 = std::time::Instant::now();
        let got = c.notifications().timeout_iter(POLL).next();
        match got {
            Ok(Some(_)) => {
                self.notified.fetch_add(1, Ordering::Relaxed);
            }
            Ok(None) if !c.is_closed() => {}
            // Disconnected: no busy loop until the next connection.
            _ => {
                *listener = None;
                std::thread::sleep(POLL.saturating_sub(t0.elapsed()));
            }
        }
    }

    fn poll_loop(&self) {
        let mut listener = None;
        while !self.stop.load(Ordering::Relaxed) {
            self.wait_for_change(&mut listener);
            // While PostgreSQL is unreachable, `reach` has said so once.
            if let Err(e) = self.refresh()
                && self.reach.up()
            {
                tracing::warn!(error = %e, "subscriber changes not read; retried");
            }
        }
    }
}

/// The PostgreSQL store; shareable between threads.
pub struct PgStore {
    inner: Arc<Inner>,
    poller: Option<std::thread::JoinHandle<()>>,
}

fn keys_of(k: &[u8], opc: &[u8]) -> Result<SubscriberKeys, HssError> {
    match (K::from_slice(k), Opc::from_slice(opc)) {
        (Some(k), Some(opc)) => Ok(SubscriberKeys::new(k, opc)),
        _ => Err(HssError::Store("stored key has the wrong length".into())),
    }
}

fn sqn_of(v: i64) -> Result<Sqn, HssError> {
    u64::try_from(v)
        .ok()
        .and_then(Sqn::new)
        .ok_or_else(|| HssError::Store("stored SQN out of range".into()))
}

fn amf_of(v: i32) -> Amf {
    Amf((v as u16).to_be_bytes())
}

/// `n` steps back from `sqn` (the start of a lease ending at `sqn`).
fn back(sqn: Sqn, n: u64) -> Sqn {
    Sqn::from_seq_ind(
        sqn.seq().saturating_sub(n),
        (u64::from(sqn.ind()) + 32 - n % 32) as u8,
    )
}

/// Takes the next change version (holds the counter's row lock until commit).
fn next_version(tx: &mut postgres::Transaction<'_>) -> Result<i64, HssError> {
    let v: i64 = tx
        .query_one(
            "UPDATE change_counter SET version = version + 1 WHERE id = 1 RETURNING version",
            &[],
        )
        .map_err(db)?
        .get(0);
    // One notification per changing transaction, delivered to every
    // listening node when (and only if) it commits.
    tx.execute(
        "SELECT pg_notify($1, $2)",
        &[&CHANGE_CHANNEL, &v.to_string()],
    )
    .map_err(db)?;
    Ok(v)
}

fn note_change(tx: &mut postgres::Transaction<'_>, imsi: &str, v: i64) -> Result<(), HssError> {
    tx.execute(
        "INSERT INTO subscriber_change (imsi, version) VALUES ($1, $2)
         ON CONFLICT (imsi) DO UPDATE SET version = excluded.version",
        &[&imsi, &v],
    )
    .map_err(db)?;
    Ok(())
}

/// The accounting dedup key: Event-Timestamp, else Acct-Delay-Time, else the counters.
fn event_key(r: &AccountingRecord) -> String {
    match (r.event_timestamp, r.delay_time) {
        (Some(t), _) => format!("t:{t}"),
        (None, Some(d)) => format!(
            "d:{d}:{}:{}:{}",
            r.session_time, r.input_octets, r.output_octets
        ),
        (None, None) => format!(
            "c:{}:{}:{}",
            r.session_time, r.input_octets, r.output_octets
        ),
    }
}

impl PgStore {
    /// Connects (`url`, password from `password_file` or `PGPASSFILE`),
    /// brings the schema up to date (refusing a newer one), and leases
    /// `lease` SEQ values per subscriber at a time (1: every vector commits).
    pub fn open(
        url: &str,
        password_file: Option<&std::path::Path>,
        lease: u64,
    ) -> Result<Self, PgOpenError> {
        if !(1..=MAX_LEASE).contains(&lease) {
            return Err(PgOpenError::Lease(lease));
        }
        let config = conninfo::config(url, password_file)?;
        let mut c = config
            .connect(NoTls)
            .map_err(|e| PgOpenError::Connect(describe(&e)))?;
        migrate::migrate(&mut c)?;
        let seen: i64 = c
            .query_one("SELECT version FROM change_counter WHERE id = 1", &[])
            .map_err(|e| PgOpenError::Connect(describe(&e)))?
            .get(0);
        let inner = Arc::new(Inner {
            config,
            idle: Mutex::new(vec![(c, Prepared::new())]),
            lease,
            leases: Mutex::new(HashMap::new()),
            seen: Mutex::new(seen),
            stop: AtomicBool::new(false),
            sqn_reservations: std::sync::atomic::AtomicU64::new(0),
            reach: reach::Reach::new(),
            notified: std::sync::atomic::AtomicU64::new(0),
        });
        let bg = inner.clone();
        let poller = std::thread::Builder::new()
            .name("pg-changes".into())
            .spawn(move || bg.poll_loop())
            .map_err(|e| PgOpenError::Connect(e.to_string()))?;
        Ok(Self {
            inner,
            poller: Some(poller),
        })
    }

    /// Applies the migrations only (`aaa-server db migrate`); returns the versions applied.
    pub fn migrate_only(
        url: &str,
        password_file: Option<&std::path::Path>,
    ) -> Result<Vec<i32>, PgOpenError> {
        let config = conninfo::config(url, password_file)?;
        let mut c = config
            .connect(NoTls)
            .map_err(|e| PgOpenError::Connect(describe(&e)))?;
        Ok(migrate::migrate(&mut c)?)
    }

    /// What `serve --check` sees, changing nothing: the schema is not newer
    /// than this build's; the number of subscribers (0 before the first migration).
    pub fn check(url: &str, password_file: Option<&std::path::Path>) -> Result<u64, PgOpenError> {
        let config = conninfo::config(url, password_file)?;
        let mut c = config
            .connect(NoTls)
            .map_err(|e| PgOpenError::Connect(describe(&e)))?;
        let found = migrate::current(&mut c)?;
        if found > migrate::known() {
            return Err(migrate::MigrateError::Newer {
                found,
                known: migrate::known(),
            }
            .into());
        }
        if found == 0 {
            return Ok(0);
        }
        let n: i64 = c
            .query_one("SELECT count(*) FROM subscriber", &[])
            .map_err(|e| PgOpenError::Connect(describe(&e)))?
            .get(0);
        Ok(n as u64)
    }

    /// SEQ values per lease.
    pub fn lease(&self) -> u64 {
        self.inner.lease
    }

    /// SQN commits (one per vector, or per `sqn_lease` range) made by this
    /// node since open.
    pub fn sqn_reservations(&self) -> u64 {
        self.inner.sqn_reservations.load(Ordering::Relaxed)
    }

    /// Whether PostgreSQL answered the last attempt (a connection opened or
    /// a statement came back): the `aaa_hss_store_up` gauge.
    pub fn reachable(&self) -> bool {
        self.inner.reach.up()
    }

    /// Times PostgreSQL became unreachable since open
    /// (`aaa_hss_store_unreachable_total`).
    pub fn unreachable_count(&self) -> u64 {
        self.inner.reach.lost()
    }

    /// Subscriber-change notifications (LISTEN/NOTIFY) this node received.
    pub fn change_notifications(&self) -> u64 {
        self.inner.notified.load(Ordering::Relaxed)
    }

    /// Number of subscribers.
    pub fn subscriber_count(&self) -> Result<u64, HssError> {
        let n: i64 = self
            .inner
            .conn()?
            .query_one("SELECT count(*) FROM subscriber", &[])
            .map_err(db)?
            .get(0);
        Ok(n as u64)
    }

    /// Adds a subscriber; [`HssError::Exists`] when the IMSI is taken.
    pub fn add(&self, s: &NewSubscriber) -> Result<(), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let v = next_version(&mut tx)?;
        let n = tx
            .execute(
                "INSERT INTO subscriber (imsi, k, opc, amf, sqn, version) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (imsi) DO NOTHING",
                &[
                    &s.imsi.as_str(),
                    &&s.keys.k.expose()[..],
                    &&s.keys.opc.expose()[..],
                    &i32::from(s.amf.value()),
                    &(s.sqn.value() as i64),
                    &v,
                ],
            )
            .map_err(db)?;
        if n == 0 {
            return Err(HssError::Exists);
        }
        note_change(&mut tx, s.imsi.as_str(), v)?;
        tx.commit().map_err(db)
    }

    /// Imports many subscribers in one transaction, as [`super::SqliteStore::import`].
    pub fn import(&self, subs: &[NewSubscriber], update: bool) -> Result<ImportReport, HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let v = next_version(&mut tx)?;
        let mut report = ImportReport::default();
        for s in subs {
            let imsi = s.imsi.as_str();
            let k = &s.keys.k.expose()[..];
            let opc = &s.keys.opc.expose()[..];
            let amf = i32::from(s.amf.value());
            let row = tx
                .query_opt(
                    "SELECT k, opc, amf, sqn FROM subscriber WHERE imsi = $1 FOR UPDATE",
                    &[&imsi],
                )
                .map_err(db)?;
            match row {
                None => {
                    tx.execute(
                        "INSERT INTO subscriber (imsi, k, opc, amf, sqn, version) VALUES ($1, $2, $3, $4, $5, $6)",
                        &[&imsi, &k, &opc, &amf, &(s.sqn.value() as i64), &v],
                    )
                    .map_err(db)?;
                    report.added += 1;
                }
                Some(r) => {
                    let rk: Zeroizing<Vec<u8>> = Zeroizing::new(r.get(0));
                    let ropc: Zeroizing<Vec<u8>> = Zeroizing::new(r.get(1));
                    let same =
                        rk.as_slice() == k && ropc.as_slice() == opc && r.get::<_, i32>(2) == amf;
                    if !same && !update {
                        return Err(HssError::Clash(imsi.to_string()));
                    }
                    let sqn = r.get::<_, i64>(3).max(s.sqn.value() as i64);
                    if same && sqn == r.get::<_, i64>(3) {
                        report.unchanged += 1;
                        continue;
                    }
                    tx.execute(
                        "UPDATE subscriber SET k = $2, opc = $3, amf = $4, sqn = $5, version = $6 WHERE imsi = $1",
                        &[&imsi, &k, &opc, &amf, &sqn, &v],
                    )
                    .map_err(db)?;
                    report.updated += 1;
                }
            }
            note_change(&mut tx, imsi, v)?;
        }
        tx.commit().map_err(db)?;
        Ok(report)
    }

    /// Changes what `u` names of an existing subscriber.
    pub fn set(&self, imsi: &Imsi, u: &SubscriberUpdate) -> Result<(), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let v = next_version(&mut tx)?;
        let k = u.k.as_ref().map(|k| k.expose().to_vec());
        let opc = u.opc.as_ref().map(|o| o.expose().to_vec());
        let amf = u.amf.map(|a| i32::from(a.value()));
        let sqn = u.sqn.map(|s| s.value() as i64);
        let n = tx
            .execute(
                "UPDATE subscriber SET k = coalesce($2, k), opc = coalesce($3, opc),
                 amf = coalesce($4, amf), sqn = coalesce($5, sqn), version = $6 WHERE imsi = $1",
                &[&imsi.as_str(), &k, &opc, &amf, &sqn, &v],
            )
            .map_err(db)?;
        drop((Zeroizing::new(k), Zeroizing::new(opc)));
        if n == 0 {
            return Err(HssError::UnknownSubscriber);
        }
        note_change(&mut tx, imsi.as_str(), v)?;
        tx.commit().map_err(db)?;
        relock(&self.inner.leases).remove(imsi.as_str());
        Ok(())
    }

    /// Removes a subscriber.
    pub fn remove(&self, imsi: &Imsi) -> Result<(), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let v = next_version(&mut tx)?;
        let n = tx
            .execute("DELETE FROM subscriber WHERE imsi = $1", &[&imsi.as_str()])
            .map_err(db)?;
        if n == 0 {
            return Err(HssError::UnknownSubscriber);
        }
        note_change(&mut tx, imsi.as_str(), v)?;
        tx.commit().map_err(db)?;
        relock(&self.inner.leases).remove(imsi.as_str());
        Ok(())
    }

    /// All subscribers without their keys.
    pub fn list(&self) -> Result<Vec<SubscriberInfo>, HssError> {
        let rows = self
            .inner
            .conn()?
            .query("SELECT imsi, amf, sqn FROM subscriber ORDER BY imsi", &[])
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                let sqn = sqn_of(r.get(2))?;
                Ok(SubscriberInfo {
                    imsi: r.get(0),
                    amf: format!("{:04x}", r.get::<_, i32>(1)),
                    sqn: hex::encode(sqn.to_bytes()),
                    seq: sqn.seq(),
                    ind: sqn.ind(),
                })
            })
            .collect()
    }

    /// The stored (committed) SQN of `imsi`.
    pub fn stored_sqn(&self, imsi: &Imsi) -> Result<Sqn, HssError> {
        let r = self
            .inner
            .conn()?
            .query_opt(
                "SELECT sqn FROM subscriber WHERE imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .ok_or(HssError::UnknownSubscriber)?;
        sqn_of(r.get(0))
    }

    /// Number of stored accounting records.
    pub fn accounting_count(&self) -> Result<u64, HssError> {
        let n: i64 = self
            .inner
            .conn()?
            .query_one("SELECT count(*) FROM accounting", &[])
            .map_err(db)?
            .get(0);
        Ok(n as u64)
    }

    /// Every subscriber with keys and stored SQN (`db copy`).
    #[allow(clippy::type_complexity)]
    pub(crate) fn export_subscribers(
        &self,
    ) -> Result<Vec<(String, Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>, i64, i64)>, HssError> {
        let rows = self
            .inner
            .conn()?
            .query(
                "SELECT imsi, k, opc, amf, sqn FROM subscriber ORDER BY imsi",
                &[],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    Zeroizing::new(r.get(1)),
                    Zeroizing::new(r.get(2)),
                    i64::from(r.get::<_, i32>(3)),
                    r.get(4),
                )
            })
            .collect())
    }

    /// Every accounting record (`db copy`).
    pub(crate) fn export_accounting(&self) -> Result<Vec<AccountingRecord>, HssError> {
        let rows = self
            .inner
            .conn()?
            .query(
                "SELECT client, session_id, status_type, user_name, nas, input_octets,
                 output_octets, session_time, event_timestamp, delay_time FROM accounting ORDER BY id",
                &[],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| AccountingRecord {
                client: r.get(0),
                session_id: r.get(1),
                status_type: r.get::<_, i32>(2) as u32,
                user: r.get(3),
                nas: r.get(4),
                input_octets: r.get::<_, i64>(5) as u64,
                output_octets: r.get::<_, i64>(6) as u64,
                session_time: r.get::<_, i64>(7) as u32,
                event_timestamp: r.get::<_, Option<i64>>(8).map(|t| t as u64),
                delay_time: r.get::<_, Option<i64>>(9).map(|d| d as u32),
                calling_station_id: String::new(),
            })
            .collect())
    }

    /// The vector from a committed SQN UPDATE's row (`k, opc, amf, sqn,
    /// version` from column `at`): the first SQN of the lease it moved
    /// past, the rest kept for [`Hss::try_vector`].
    fn leased_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
        row: &postgres::Row,
        at: usize,
    ) -> Result<(AuthVector, u64), HssError> {
        let n = self.inner.lease;
        self.inner.sqn_reservations.fetch_add(1, Ordering::Relaxed);
        let k: Zeroizing<Vec<u8>> = Zeroizing::new(row.get(at));
        let opc: Zeroizing<Vec<u8>> = Zeroizing::new(row.get(at + 1));
        let keys = keys_of(&k, &opc)?;
        let amf = amf_of(row.get(at + 2));
        let committed = sqn_of(row.get(at + 3))?;
        let version = row.get::<_, i64>(at + 4) as u64;
        let mut range = Range::reserved(back(committed, n), committed);
        let sqn = range
            .take()
            .ok_or_else(|| HssError::Store("empty lease".into()))?;
        if range.remaining() > 0 {
            relock(&self.inner.leases).insert(
                imsi.as_str().to_string(),
                Leased {
                    keys: keys.clone(),
                    amf,
                    range,
                    version,
                },
            );
        }
        let mut rand = [0u8; 16];
        super::rng::fill(&mut rand).map_err(|e| HssError::Rng(e.to_string()))?;
        Ok((
            keys.generate_vector(sqn, vector_amf(amf, kind), rand),
            version,
        ))
    }

    /// Whether the stored version `now` (None: removed) is `version`;
    /// drops the lease and logs when not.
    fn verdict(&self, imsi: &Imsi, version: u64, now: Option<i64>) -> bool {
        let now = now.map(|v| v as u64);
        if now != Some(version) {
            relock(&self.inner.leases).remove(imsi.as_str());
            tracing::info!(
                imsi = %crate::logging::imsi(imsi),
                "subscriber removed or changed during its authentication: rejected"
            );
        }
        now == Some(version)
    }

    /// Takes the next SQN from this node's lease, if any is left.
    fn take(&self, imsi: &str) -> Option<(Sqn, SubscriberKeys, Amf, u64)> {
        let mut leases = relock(&self.inner.leases);
        let l = leases.get_mut(imsi)?;
        let sqn = l.range.take()?;
        Some((sqn, l.keys.clone(), l.amf, l.version))
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.poller.take() {
            let _ = t.join();
        }
    }
}

impl Hss for PgStore {
    fn try_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Option<Result<(AuthVector, u64), HssError>> {
        let (sqn, keys, amf, version) = self.take(imsi.as_str())?;
        let mut rand = [0u8; 16];
        if let Err(e) = super::rng::fill(&mut rand) {
            return Some(Err(HssError::Rng(e.to_string())));
        }
        Some(Ok((
            keys.generate_vector(sqn, vector_amf(amf, kind), rand),
            version,
        )))
    }

    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.vector_versioned(imsi, kind).map(|(v, _)| v)
    }

    fn vector_versioned(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        if let Some(r) = self.try_vector(imsi, kind) {
            return r;
        }
        let n = self.inner.lease;
        // One statement: the row lock orders nodes, the commit is durable
        // before it returns; SEQ + n, IND + n (mod 2^5) as reserve::advance.
        let row = self
            .inner
            .conn()?
            .cached(
                "UPDATE subscriber SET sqn = (((sqn >> 5) + $2) << 5) | (((sqn & 31) + $2) % 32)
                 WHERE imsi = $1 RETURNING k, opc, amf, sqn, version",
                &[&imsi.as_str(), &(n as i64)],
            )
            .map_err(db)?
            .into_iter()
            .next()
            .ok_or(HssError::UnknownSubscriber)?;
        self.leased_vector(imsi, kind, &row, 0)
    }

    /// The barring check and the SQN commit in one statement (one round
    /// trip): a barred subscriber's SQN is left alone and
    /// [`HssError::Barred`] returned; otherwise as [`Hss::vector_versioned`].
    /// A bar committed while the statement waits for the row lock is not
    /// seen here (the barring read uses the statement's snapshot) but the
    /// returned version is the barred one's, and [`Hss::confirm`] reads
    /// barring again before Access-Accept.
    fn authorized_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        if let Some(r) = self.try_vector(imsi, kind) {
            return r;
        }
        let n = self.inner.lease;
        let row = self
            .inner
            .conn()?
            .cached(
                "WITH b AS (SELECT coalesce((SELECT barred FROM subscriber_authz WHERE imsi = $1),
                                            false) AS barred),
                 u AS (UPDATE subscriber
                       SET sqn = (((sqn >> 5) + $2) << 5) | (((sqn & 31) + $2) % 32)
                       WHERE imsi = $1 AND NOT (SELECT barred FROM b)
                       RETURNING k, opc, amf, sqn, version)
                 SELECT u.k, u.opc, u.amf, u.sqn, u.version, b.barred FROM b LEFT JOIN u ON true",
                &[&imsi.as_str(), &(n as i64)],
            )
            .map_err(db)?
            .into_iter()
            .next()
            .ok_or_else(|| HssError::Store("vector statement returned no row".into()))?;
        if row.get::<_, bool>(5) {
            return Err(HssError::Barred);
        }
        if row.get::<_, Option<i64>>(3).is_none() {
            return Err(HssError::UnknownSubscriber);
        }
        self.leased_vector(imsi, kind, &row, 0)
    }

    fn current(&self, imsi: &Imsi, version: u64) -> Result<bool, HssError> {
        let r = self
            .inner
            .conn()?
            .cached(
                // A 2G-only IMSI (stored triplets, no subscriber row) has
                // its version in subscriber_change only.
                "SELECT coalesce((SELECT version FROM subscriber WHERE imsi = $1),
                    (SELECT c.version FROM subscriber_change c WHERE c.imsi = $1
                     AND EXISTS (SELECT 1 FROM gsm_triplet t WHERE t.imsi = $1)))",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .into_iter()
            .next()
            .ok_or_else(|| HssError::Store("version check returned no row".into()))?;
        Ok(self.verdict(imsi, version, r.get::<_, Option<i64>>(0)))
    }

    /// Both checks before Access-Accept in one statement: the version (as
    /// [`Hss::current`]) and barring with reply attributes (as
    /// [`Hss::authorization`]) from one snapshot, in one round trip.
    fn confirm(
        &self,
        imsi: &Imsi,
        version: u64,
    ) -> (
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    ) {
        let row = self.inner.conn().and_then(|mut c| {
            c.cached(
                "SELECT coalesce((SELECT version FROM subscriber WHERE imsi = $1),
                    (SELECT c.version FROM subscriber_change c WHERE c.imsi = $1
                     AND EXISTS (SELECT 1 FROM gsm_triplet t WHERE t.imsi = $1))),
                    a.barred, a.attributes, g.attributes
                 FROM (SELECT 1) one
                 LEFT JOIN subscriber_authz a ON a.imsi = $1
                 LEFT JOIN subscriber_group g ON g.name = a.group_name",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .into_iter()
            .next()
            .ok_or_else(|| HssError::Store("confirm statement returned no row".into()))
        });
        match row {
            Ok(r) => (
                authz::authorization_of_row(&r, 1),
                Ok(self.verdict(imsi, version, r.get::<_, Option<i64>>(0))),
            ),
            Err(e) => (Err(e.clone()), Err(e)),
        }
    }

    /// GSM-Milenage triplets (TS 55.205) from K/OPc: GSM uses no SQN, so
    /// nothing is committed. An IMSI without K/OPc gets its stored
    /// triplets (2G-only SIMs, `subscriber import --triplets`).
    fn triplets(&self, imsi: &Imsi, n: usize) -> Result<(Vec<super::Triplet>, u64), HssError> {
        let row = self
            .inner
            .conn()?
            .query_opt(
                "SELECT k, opc, version FROM subscriber WHERE imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?;
        let Some(row) = row else {
            return self.stored_triplets(imsi, n);
        };
        let k: Zeroizing<Vec<u8>> = Zeroizing::new(row.get(0));
        let opc: Zeroizing<Vec<u8>> = Zeroizing::new(row.get(1));
        let keys = keys_of(&k, &opc)?;
        let version = row.get::<_, i64>(2) as u64;
        Ok((super::gsm_milenage_triplets(&keys, n)?, version))
    }

    fn authorization(&self, imsi: &Imsi) -> Result<crate::authz::Authorization, HssError> {
        self.read_authorization(imsi)
    }

    /// Groups and barring are read from the database: always on a store worker.
    fn try_authorization(
        &self,
        _imsi: &Imsi,
    ) -> Option<Result<crate::authz::Authorization, HssError>> {
        None
    }

    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        let n = self.inner.lease;
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let v = next_version(&mut tx)?;
        let row = tx
            .query_opt(
                "SELECT k, opc, amf, sqn FROM subscriber WHERE imsi = $1 FOR UPDATE",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .ok_or(HssError::UnknownSubscriber)?;
        let k: Zeroizing<Vec<u8>> = Zeroizing::new(row.get(0));
        let opc: Zeroizing<Vec<u8>> = Zeroizing::new(row.get(1));
        let keys = keys_of(&k, &opc)?;
        let stored = sqn_of(row.get(3))?;
        let sqn_ms = keys
            .resync(rand, auts)
            .map_err(|_| HssError::ResyncMacFailure)?;
        // SQN_HE := SQN_MS, never below the stored mark (every value up to it
        // may have been issued by some node), with a fresh lease above it.
        let base = later(sqn_ms, stored);
        let committed = advance(base, n);
        tx.execute(
            "UPDATE subscriber SET sqn = $2, version = $3 WHERE imsi = $1",
            &[&imsi.as_str(), &(committed.value() as i64), &v],
        )
        .map_err(db)?;
        note_change(&mut tx, imsi.as_str(), v)?;
        tx.commit().map_err(db)?;
        relock(&self.inner.leases).insert(
            imsi.as_str().to_string(),
            Leased {
                keys,
                amf: amf_of(row.get(2)),
                range: Range::reserved(base, committed),
                version: v as u64,
            },
        );
        Ok(sqn_ms)
    }
}

impl AccountingLog for PgStore {
    fn record(&self, rec: &AccountingRecord) -> Result<(), HssError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO accounting (client, session_id, status_type, user_name, nas,
                 input_octets, output_octets, session_time, event_timestamp, delay_time, event_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (nas, session_id, status_type, event_key) DO NOTHING",
            &[
                &rec.client,
                &rec.session_id,
                &(rec.status_type as i32),
                &rec.user,
                &rec.nas,
                &(rec.input_octets as i64),
                &(rec.output_octets as i64),
                &i64::from(rec.session_time),
                &rec.event_timestamp.map(|t| t as i64),
                &rec.delay_time.map(i64::from),
                &event_key(rec),
            ],
        )
        .map_err(db)?;
        authz::apply_session(&mut tx, rec, now)?;
        tx.commit().map_err(db)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_undoes_advance() {
        for n in [1, 5, 31, 32, 33, 1024] {
            for s in [Sqn::from_seq_ind(5000, 0), Sqn::from_seq_ind(7000, 31)] {
                assert_eq!(back(advance(s, n), n), s);
            }
        }
    }

    #[test]
    fn accounting_key_prefers_event_timestamp() {
        let mut r = AccountingRecord {
            session_time: 5,
            ..Default::default()
        };
        assert_eq!(event_key(&r), "c:5:0:0");
        r.delay_time = Some(2);
        assert!(event_key(&r).starts_with("d:2:"));
        r.event_timestamp = Some(1_700_000_000);
        assert_eq!(event_key(&r), "t:1700000000");
    }
}

#[cfg(test)]
mod config_tests {
    use crate::config::Config;
    use std::path::Path;

    const BASE: &str = "[[client]]\nnetwork = \"127.0.0.1\"\nsecret = \"s3cret-s3cret\"\n";
    const KEYS: &str = "[privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"0101010101010101010101010101010101010101010101010101010101010101\"\n";

    fn parse(hss: &str, privacy: &str) -> Result<Config, String> {
        Config::parse(
            &format!("{BASE}[hss]\n{hss}\n{privacy}"),
            Path::new("/etc/aaa/aaa.toml"),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn backend_keys() {
        let c = parse(
            "backend = \"postgres\"\nurl = \"host=/run/postgresql dbname=aaa user=aaa\"\npassword_file = \"pg.pw\"\nsqn_lease = 16",
            KEYS,
        )
        .unwrap();
        let pg = c.postgres.unwrap();
        assert_eq!(pg.sqn_lease, 16);
        assert_eq!(
            pg.password_file.as_deref(),
            Some(Path::new("/etc/aaa/pg.pw"))
        );
        let c = parse(
            "backend = \"postgres\"\nurl = \"postgresql://aaa@db/aaa\"",
            KEYS,
        )
        .unwrap();
        assert_eq!(c.postgres.unwrap().sqn_lease, 1);
        assert!(
            parse("database = \"/tmp/x.db\"", "")
                .unwrap()
                .postgres
                .is_none()
        );
        let e = parse(
            "backend = \"postgres\"\nurl = \"postgresql://aaa:pw@db/aaa\"",
            KEYS,
        )
        .unwrap_err();
        assert!(
            e.contains("hss.url") && e.contains("carries a password") && !e.contains("pw@"),
            "{e}"
        );
        let e = parse("backend = \"postgres\"", KEYS).unwrap_err();
        assert!(e.contains("hss.url: required"), "{e}");
        let e = parse("backend = \"postgres\"\nurl = \"host=/tmp\"", "").unwrap_err();
        assert!(e.contains("privacy.key"), "{e}");
        let e = parse("backend = \"mysql\"\nurl = \"x\"", KEYS).unwrap_err();
        assert!(e.contains("hss.backend"), "{e}");
        let e = parse(
            "backend = \"postgres\"\nurl = \"host=/tmp\"\nsqn_lease = 5000",
            KEYS,
        )
        .unwrap_err();
        assert!(e.contains("hss.sqn_lease: must be 1..=1024"), "{e}");
        let e = parse("database = \"/tmp/x.db\"\nurl = \"host=/tmp\"", "").unwrap_err();
        assert!(e.contains("hss.url: only with backend"), "{e}");
        let e = parse("workers = 2", "").unwrap_err();
        assert!(e.contains("hss.database: required"), "{e}");
    }
}
