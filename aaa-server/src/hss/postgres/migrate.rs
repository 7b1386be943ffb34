//! Versioned schema migrations of the PostgreSQL store: `schema_version`
//! holds the versions applied; [`MIGRATIONS`] are applied in order, each in
//! its own transaction, under an advisory lock so nodes starting together
//! migrate once. A database at a version newer than this build knows is
//! refused before anything is changed. To change the schema, append an
//! entry to [`MIGRATIONS`] (never edit an applied one).

/// (version, SQL) in order. Append only.
pub const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE subscriber (
        imsi text PRIMARY KEY CHECK (imsi ~ '^[0-9]{6,15}$'),
        k bytea NOT NULL CHECK (length(k) = 16),
        opc bytea NOT NULL CHECK (length(opc) = 16),
        amf integer NOT NULL CHECK (amf BETWEEN 0 AND 65535),
        -- SQN = SEQ << 5 | IND (TS 33.102 Annex C.1.2); the committed high-water mark.
        sqn bigint NOT NULL CHECK (sqn >= 0 AND sqn < 281474976710656),
        -- the subscriber's change version (Hss::current)
        version bigint NOT NULL
    );
    -- one row per IMSI changed (removals included), for other nodes' caches
    CREATE TABLE subscriber_change (imsi text PRIMARY KEY, version bigint NOT NULL);
    CREATE INDEX subscriber_change_version ON subscriber_change (version);
    -- one row; its row lock makes change versions commit in order
    CREATE TABLE change_counter (id integer PRIMARY KEY CHECK (id = 1), version bigint NOT NULL);
    INSERT INTO change_counter VALUES (1, 0);
    CREATE TABLE accounting (
        id bigserial PRIMARY KEY,
        received_at timestamptz NOT NULL DEFAULT now(),
        client text NOT NULL,
        session_id text NOT NULL,
        status_type integer NOT NULL,
        user_name text NOT NULL,
        nas text NOT NULL,
        input_octets bigint NOT NULL,
        output_octets bigint NOT NULL,
        session_time bigint NOT NULL,
        event_timestamp bigint,
        delay_time bigint,
        -- Event-Timestamp, else Acct-Delay-Time, else the counters: a
        -- retransmitted Accounting-Request is stored once
        event_key text NOT NULL,
        UNIQUE (nas, session_id, status_type, event_key)
    );",
    ),
    (
        2,
        // Authorization (docs/authorization.md): attributes as the JSON of
        // authz::ReplyAttributes; the active session table from accounting.
        "CREATE TABLE subscriber_group (
        name text PRIMARY KEY,
        attributes text NOT NULL DEFAULT '{}'
    );
    CREATE TABLE subscriber_authz (
        imsi text PRIMARY KEY REFERENCES subscriber (imsi) ON DELETE CASCADE,
        group_name text REFERENCES subscriber_group (name),
        barred boolean NOT NULL DEFAULT false,
        attributes text NOT NULL DEFAULT '{}'
    );
    CREATE INDEX subscriber_authz_group ON subscriber_authz (group_name);
    CREATE TABLE acct_session (
        client text NOT NULL,
        session_id text NOT NULL,
        nas text NOT NULL,
        user_name text NOT NULL,
        imsi text,
        calling_station_id text NOT NULL,
        -- unix seconds
        started bigint NOT NULL,
        updated bigint NOT NULL,
        PRIMARY KEY (client, session_id)
    );
    CREATE INDEX acct_session_imsi ON acct_session (imsi);",
    ),
    (
        3,
        // Stored GSM triplets for 2G-only SIMs (hlr_auc_gw triplet files),
        // handed out least used first; `seq` keeps the file's order.
        "CREATE TABLE gsm_triplet (
        imsi text NOT NULL CHECK (imsi ~ '^[0-9]{6,15}$'),
        rand bytea NOT NULL CHECK (length(rand) = 16),
        sres bytea NOT NULL CHECK (length(sres) = 4),
        kc bytea NOT NULL CHECK (length(kc) = 8),
        used bigint NOT NULL DEFAULT 0,
        seq bigserial NOT NULL,
        PRIMARY KEY (imsi, rand)
    );",
    ),
    (
        4,
        // Disconnect/CoA claims (hss::postgres::das_claim): with several
        // nodes on one database, the node whose claim of a (session, kind,
        // digest) wins sends the request; the others do not.
        "CREATE TABLE das_claim (
        client text NOT NULL,
        session_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('disconnect', 'coa')),
        -- 'coa': MD5 of the attributes sent; 'disconnect': empty
        digest bytea NOT NULL,
        -- which node claimed it (host:pid), for the operator
        node text NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (client, session_id, kind)
    );",
    ),
];

/// The newest schema version this build knows.
pub fn known() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.0)
}

/// Why migrating failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MigrateError {
    /// The database was migrated by a newer build.
    #[error(
        "database schema version {found} is newer than this build knows ({known}): upgrade aaa-server"
    )]
    Newer {
        /// In the database.
        found: i32,
        /// This build's newest.
        known: i32,
    },
    /// PostgreSQL failed.
    #[error("migration: {0}")]
    Db(String),
}

impl From<postgres::Error> for MigrateError {
    fn from(e: postgres::Error) -> Self {
        MigrateError::Db(super::describe(&e))
    }
}

/// Advisory lock key serialising migrations ("aka-sqn" in ASCII).
const LOCK: i64 = 0x0061_6b61_2d73_716e;

/// The schema version of the database (0: none yet).
pub fn current(c: &mut postgres::Client) -> Result<i32, MigrateError> {
    let exists: bool = c
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(0);
    }
    Ok(
        c.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?
            .get(0),
    )
}

/// Brings the schema up to [`known`]; returns the versions applied.
pub fn migrate(c: &mut postgres::Client) -> Result<Vec<i32>, MigrateError> {
    let mut applied = Vec::new();
    let mut tx = c.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
            version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
    )?;
    let found: i32 = tx
        .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?
        .get(0);
    if found > known() {
        return Err(MigrateError::Newer {
            found,
            known: known(),
        });
    }
    for (v, sql) in MIGRATIONS.iter().filter(|m| m.0 > found) {
        tx.batch_execute(sql)?;
        tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[v])?;
        applied.push(*v);
    }
    tx.commit()?;
    Ok(applied)
}

#[cfg(test)]
mod tests {
    #[test]
    fn versions_grow_by_one() {
        for (i, m) in super::MIGRATIONS.iter().enumerate() {
            assert_eq!(m.0, i as i32 + 1);
        }
    }
}
