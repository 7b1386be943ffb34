//! A subscriber store named by a `--db` argument: an SQLite file path or a
//! `postgresql://` URL (password from `PGPASSFILE`), with the same
//! commands on both (`subscriber …`, `hlr-gw`).

use super::postgres::{PgStore, conninfo::is_postgres_url};
use super::sqlite::{ImportReport, NewSubscriber, SubscriberInfo, SubscriberUpdate};
use super::{Hss, HssError, Imsi, SqliteStore, VectorKind};
use crate::authz::sessions::ActiveSession;
use crate::authz::sqlite::{AuthzUpdate, GroupInfo};
use crate::authz::{AttributeUpdate, Authorization, ReplyAttributes};
use eap::umts::{AuthVector, Auts, Sqn};
use std::path::Path;

/// Either store.
pub enum AnyStore {
    /// An SQLite file.
    Sqlite(SqliteStore),
    /// A PostgreSQL database.
    Postgres(PgStore),
}

/// Whether `db` names PostgreSQL.
pub fn is_postgres(db: &Path) -> bool {
    db.to_str().is_some_and(is_postgres_url)
}

impl AnyStore {
    /// Opens `db`; an SQLite file is created (0600) when `create`, a
    /// PostgreSQL database is migrated. `lease`: SEQ values per PostgreSQL lease.
    pub fn open(db: &Path, create: bool, lease: u64) -> Result<Self, HssError> {
        match db.to_str().filter(|s| is_postgres_url(s)) {
            Some(url) => Ok(AnyStore::Postgres(PgStore::open(url, None, lease)?)),
            None if create => SqliteStore::create(db).map(AnyStore::Sqlite),
            None => SqliteStore::open(db).map(AnyStore::Sqlite),
        }
    }

    /// Subscribers without keys; an SQLite file is opened read-only.
    pub fn list_of(db: &Path) -> Result<Vec<SubscriberInfo>, HssError> {
        match db.to_str().filter(|s| is_postgres_url(s)) {
            Some(url) => PgStore::open(url, None, 1)?.list(),
            None => SqliteStore::open_read_only(db)?.list(),
        }
    }

    /// Adds a subscriber.
    pub fn add(&self, s: &NewSubscriber) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.add(s),
            AnyStore::Postgres(x) => x.add(s),
        }
    }

    /// Imports subscribers (all or nothing).
    pub fn import(&self, subs: &[NewSubscriber], update: bool) -> Result<ImportReport, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.import(subs, update),
            AnyStore::Postgres(x) => x.import(subs, update),
        }
    }

    /// Stores GSM triplets for 2G-only SIMs (`subscriber import --triplets`).
    pub fn import_triplets(
        &self,
        t: &[super::sqlite::triplets::StoredTriplet],
    ) -> Result<super::sqlite::triplets::TripletImport, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.import_triplets(t),
            AnyStore::Postgres(x) => x.import_triplets(t),
        }
    }

    /// Changes a subscriber.
    pub fn set(&self, imsi: &Imsi, u: &SubscriberUpdate) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.set(imsi, u),
            AnyStore::Postgres(x) => x.set(imsi, u),
        }
    }

    /// Removes a subscriber.
    pub fn remove(&self, imsi: &Imsi) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.remove(imsi),
            AnyStore::Postgres(x) => x.remove(imsi),
        }
    }

    /// Adds a group.
    pub fn group_add(&self, name: &str, a: &ReplyAttributes) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.group_add(name, a),
            AnyStore::Postgres(x) => x.group_add(name, a),
        }
    }

    /// Changes a group's attributes.
    pub fn group_set(&self, name: &str, u: &AttributeUpdate) -> Result<ReplyAttributes, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.group_set(name, u),
            AnyStore::Postgres(x) => x.group_set(name, u),
        }
    }

    /// All groups with their member counts.
    pub fn group_list(&self) -> Result<Vec<GroupInfo>, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.group_list(),
            AnyStore::Postgres(x) => x.group_list(),
        }
    }

    /// The IMSIs in a group.
    pub fn group_members(&self, name: &str) -> Result<Vec<String>, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.group_members(name),
            AnyStore::Postgres(x) => x.group_members(name),
        }
    }

    /// Removes a group without members.
    pub fn group_remove(&self, name: &str) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.group_remove(name),
            AnyStore::Postgres(x) => x.group_remove(name),
        }
    }

    /// Sets a subscriber's group and own attributes.
    pub fn set_authz(&self, imsi: &Imsi, u: &AuthzUpdate) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.set_authz(imsi, u),
            AnyStore::Postgres(x) => x.set_authz(imsi, u),
        }
    }

    /// Bars or unbars a subscriber (a subscriber change).
    pub fn set_barred(&self, imsi: &Imsi, barred: bool) -> Result<(), HssError> {
        match self {
            AnyStore::Sqlite(x) => x.set_barred(imsi, barred),
            AnyStore::Postgres(x) => x.set_barred(imsi, barred),
        }
    }

    /// The subscriber's authorization (`subscriber show`).
    pub fn authorization_of(&self, imsi: &Imsi) -> Result<Authorization, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.authorization_of(imsi),
            AnyStore::Postgres(x) => x.authorization_of(imsi),
        }
    }

    /// Active sessions, of `imsi` only when given.
    pub fn sessions(&self, imsi: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError> {
        match self {
            AnyStore::Sqlite(x) => x.sessions(imsi),
            AnyStore::Postgres(x) => x.sessions(imsi),
        }
    }

    fn hss(&self) -> &dyn Hss {
        match self {
            AnyStore::Sqlite(x) => x,
            AnyStore::Postgres(x) => x,
        }
    }
}

impl Hss for AnyStore {
    fn vector(&self, imsi: &Imsi, kind: VectorKind) -> Result<AuthVector, HssError> {
        self.hss().vector(imsi, kind)
    }
    fn vector_versioned(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        self.hss().vector_versioned(imsi, kind)
    }
    fn current(&self, imsi: &Imsi, version: u64) -> Result<bool, HssError> {
        self.hss().current(imsi, version)
    }
    fn try_current(&self, imsi: &Imsi, version: u64) -> Option<Result<bool, HssError>> {
        self.hss().try_current(imsi, version)
    }
    fn try_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Option<Result<(AuthVector, u64), HssError>> {
        self.hss().try_vector(imsi, kind)
    }
    fn authorized_vector(
        &self,
        imsi: &Imsi,
        kind: VectorKind,
    ) -> Result<(AuthVector, u64), HssError> {
        self.hss().authorized_vector(imsi, kind)
    }
    fn confirm(
        &self,
        imsi: &Imsi,
        version: u64,
    ) -> (
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    ) {
        self.hss().confirm(imsi, version)
    }
    fn resync(&self, imsi: &Imsi, rand: &[u8; 16], auts: &Auts) -> Result<Sqn, HssError> {
        self.hss().resync(imsi, rand, auts)
    }
    fn triplets(&self, imsi: &Imsi, n: usize) -> Result<(Vec<super::Triplet>, u64), HssError> {
        self.hss().triplets(imsi, n)
    }
    fn authorization(&self, imsi: &Imsi) -> Result<crate::authz::Authorization, HssError> {
        self.hss().authorization(imsi)
    }
    fn try_authorization(
        &self,
        imsi: &Imsi,
    ) -> Option<Result<crate::authz::Authorization, HssError>> {
        self.hss().try_authorization(imsi)
    }
    fn try_confirm(
        &self,
        imsi: &Imsi,
        version: u64,
        now: std::time::Instant,
    ) -> Option<(
        Result<crate::authz::Authorization, HssError>,
        Result<bool, HssError>,
    )> {
        self.hss().try_confirm(imsi, version, now)
    }
}
