//! The store file: what is checked before SQLite touches it (exists, a
//! regular file, mode 0600-style), the schema version, and the read-only
//! view (`serve --check`, `subscriber list`) that never creates, migrates or
//! reserves anything.

use super::HssError;
use super::sqlite::SubscriberInfo;
use rusqlite::{Connection, OpenFlags};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The schema this build reads and writes, kept in `PRAGMA user_version`.
/// 0: a store written before the version was recorded (tables `subscriber`
/// and `accounting`); 1 adds `subscriber_change` (what changed when);
/// 2 adds `gsm_triplet` (EAP-SIM stored triplets, [`super::sqlite::triplets::SCHEMA`]);
/// 3 adds the authorization tables ([`crate::authz::sqlite::SCHEMA`]).
pub const SCHEMA_VERSION: i64 = 3;

/// The tables and indexes of [`SCHEMA_VERSION`]; applied to older stores too
/// (every statement is `IF NOT EXISTS`).
pub(crate) const SCHEMA: &str = "
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
CREATE TABLE IF NOT EXISTS subscriber_change (
    imsi    TEXT PRIMARY KEY NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriber_change_version ON subscriber_change (version);
";

/// Why a store file cannot be opened. Shown after the file name. Causes
/// from the file system and SQLite are kept as their messages, so the
/// error can be cloned and compared like every [`HssError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The file does not exist (only `subscriber add` / `import` create one).
    #[error("no such store (`aaa-server subscriber add` or `subscriber import` creates one)")]
    NotFound,
    /// The path names a directory.
    #[error("is a directory, not a regular file")]
    Directory,
    /// A device, socket, FIFO…
    #[error("is not a regular file")]
    NotRegular,
    /// Group or others may read or write it.
    #[error("holds subscriber keys but is readable by group/others (mode {0:o}); run chmod 600")]
    Mode(u32),
    /// SQLite does not recognise the file.
    #[error("file is not a database (not an SQLite database)")]
    NotADatabase,
    /// An SQLite database without the subscriber table (some other program's).
    #[error("is an SQLite database but not a subscriber store (no subscriber table)")]
    NotAStore,
    /// Written by a newer aaa-server.
    #[error("schema version {found} is newer than this aaa-server understands ({supported})")]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// [`SCHEMA_VERSION`].
        supported: i64,
    },
    /// The file system.
    #[error("{0}")]
    Io(String),
    /// SQLite, any other failure.
    #[error("{0}")]
    Sqlite(String),
}

impl From<std::io::Error> for OpenError {
    fn from(e: std::io::Error) -> Self {
        OpenError::Io(e.to_string())
    }
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> Self {
        match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => OpenError::NotADatabase,
            _ => OpenError::Sqlite(e.to_string()),
        }
    }
}

/// Attaches the file name.
pub(crate) fn at(path: &Path) -> impl Fn(OpenError) -> HssError + '_ {
    move |err| HssError::Open {
        path: path.to_path_buf(),
        err,
    }
}

/// An existing store file: a regular file (symlinks followed) that group
/// and others cannot access.
pub(crate) fn check_existing(path: &Path) -> Result<(), OpenError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(OpenError::NotFound),
        Err(e) => return Err(e.into()),
    };
    if meta.is_dir() {
        return Err(OpenError::Directory);
    }
    if !meta.is_file() {
        return Err(OpenError::NotRegular);
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(OpenError::Mode(mode & 0o777));
    }
    Ok(())
}

/// Creates the file `0600` when it does not exist; otherwise checks it as
/// [`check_existing`] does.
pub(crate) fn create_or_check(path: &Path) -> Result<(), OpenError> {
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => check_existing(path),
        Err(e) => Err(e.into()),
    }
}

/// The schema version of an open store, refusing files that are not
/// databases, not subscriber stores, or newer than this build.
/// `Ok(None)`: an empty database (no tables yet).
pub(crate) fn schema_version(conn: &Connection) -> Result<Option<i64>, OpenError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let (tables, subscriber): (i64, i64) = conn.query_row(
        "SELECT count(*), count(*) FILTER (WHERE name = 'subscriber')
         FROM sqlite_master WHERE type = 'table'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    if version > SCHEMA_VERSION {
        return Err(OpenError::SchemaTooNew {
            found: version,
            supported: SCHEMA_VERSION,
        });
    }
    match (tables, subscriber) {
        (0, _) => Ok(None),
        (_, 0) => Err(OpenError::NotAStore),
        _ => Ok(Some(version)),
    }
}

/// Brings a read-write connection to [`SCHEMA_VERSION`] (creating the
/// tables of a new store) in one transaction.
pub(crate) fn migrate(conn: &Connection) -> Result<(), OpenError> {
    let found = schema_version(conn)?;
    if found == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    conn.execute_batch(&format!(
        "BEGIN IMMEDIATE; {SCHEMA} {} {} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;",
        super::sqlite::triplets::SCHEMA,
        crate::authz::sqlite::SCHEMA
    ))?;
    Ok(())
}

/// A store opened read-only: no file is created, no schema changed, no SQN
/// reserved. See [`super::SqliteStore::open_read_only`].
pub struct ReadOnlyStore {
    conn: Connection,
    path: PathBuf,
    version: i64,
}

impl ReadOnlyStore {
    pub(crate) fn open(path: &Path) -> Result<Self, HssError> {
        check_existing(path).map_err(at(path))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(OpenError::from)
        .map_err(at(path))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(OpenError::from)
            .map_err(at(path))?;
        let version = schema_version(&conn).map_err(at(path))?.unwrap_or(0);
        Ok(Self {
            conn,
            path: path.to_path_buf(),
            version,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its schema version (`PRAGMA user_version`; 0 for a store from before
    /// versions were recorded or an empty one).
    pub fn schema_version(&self) -> i64 {
        self.version
    }

    /// Number of subscribers.
    pub fn subscriber_count(&self) -> Result<u64, HssError> {
        if !self.has_subscriber_table()? {
            return Ok(0);
        }
        let n: i64 = self
            .conn
            .query_row("SELECT count(*) FROM subscriber", [], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// All subscribers without their keys.
    pub fn list(&self) -> Result<Vec<SubscriberInfo>, HssError> {
        if !self.has_subscriber_table()? {
            return Ok(Vec::new());
        }
        super::sqlite::list_rows(&self.conn)
    }

    fn has_subscriber_table(&self) -> Result<bool, HssError> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'subscriber'",
            [],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::SqliteStore;
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn message(r: Result<impl Sized, HssError>) -> String {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn read_only_open_refuses_what_is_not_a_store_and_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("typo.db");
        let m = message(SqliteStore::open_read_only(&missing));
        assert!(m.contains("typo.db") && m.contains("no such store"), "{m}");
        assert!(!missing.exists(), "nothing created");

        let m = message(SqliteStore::open_read_only(dir.path()));
        assert!(m.contains("is a directory"), "{m}");
        assert!(!m.contains("group/others"), "{m}");

        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![0x5a; 4096]).unwrap();
        std::fs::set_permissions(&junk, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = message(SqliteStore::open_read_only(&junk));
        assert!(
            m.contains("junk.db") && m.contains("file is not a database"),
            "{m}"
        );
        // The read-write open says the same.
        let m = message(SqliteStore::open(&junk));
        assert!(
            m.contains("junk.db") && m.contains("file is not a database"),
            "{m}"
        );

        let open = dir.path().join("open.db");
        drop(SqliteStore::create(&open).unwrap());
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o640)).unwrap();
        let m = message(SqliteStore::open_read_only(&open));
        assert!(m.contains("group/others") && m.contains("640"), "{m}");

        let other = dir.path().join("other.db");
        {
            let c = Connection::open(&other).unwrap();
            c.execute_batch("CREATE TABLE t (x)").unwrap();
        }
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o600)).unwrap();
        let m = message(SqliteStore::open_read_only(&other));
        assert!(m.contains("not a subscriber store"), "{m}");
        let m = message(SqliteStore::open(&other));
        assert!(m.contains("not a subscriber store"), "{m}");
    }

    #[test]
    fn read_only_open_changes_nothing_and_refuses_newer_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.db");
        drop(SqliteStore::create(&p).unwrap());
        let before = std::fs::read(&p).unwrap();
        let ro = SqliteStore::open_read_only(&p).unwrap();
        assert_eq!(ro.schema_version(), SCHEMA_VERSION);
        assert_eq!(ro.subscriber_count().unwrap(), 0);
        assert!(ro.list().unwrap().is_empty());
        drop(ro);
        assert_eq!(std::fs::read(&p).unwrap(), before, "file unchanged");

        Connection::open(&p)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let m = message(SqliteStore::open_read_only(&p));
        assert!(m.contains("schema version 99"), "{m}");
        let m = message(SqliteStore::open(&p));
        assert!(m.contains("schema version 99"), "{m}");
    }

    #[test]
    fn a_store_from_before_schema_versions_is_read_as_is_and_migrated_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(
                "CREATE TABLE subscriber (imsi TEXT PRIMARY KEY NOT NULL, k BLOB NOT NULL,
                 opc BLOB NOT NULL, amf INTEGER NOT NULL, sqn INTEGER NOT NULL);
                 INSERT INTO subscriber VALUES ('001010000000001', zeroblob(16), zeroblob(16), 32768, 5);",
            )
            .unwrap();
        }
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ro = SqliteStore::open_read_only(&p).unwrap();
        assert_eq!(ro.schema_version(), 0);
        assert_eq!(ro.subscriber_count().unwrap(), 1);
        drop(ro);
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(s.list().unwrap()[0].seq, 0);
        drop(s);
        assert_eq!(
            SqliteStore::open_read_only(&p).unwrap().schema_version(),
            SCHEMA_VERSION
        );
    }
}
