//! `aaa-server db copy --from A --to B`: subscribers (keys, AMF and the
//! stored SQN, the committed high-water mark) and accounting records from
//! one store to another, SQLite or PostgreSQL either way. Run it with the
//! nodes of the source stopped, or accept that SQNs issued after the copy
//! are not in it (the USIM then resyncs once). Groups, reply attributes
//! and bars come along (after the subscribers, not in their transaction).

use super::any::{AnyStore, is_postgres};
use super::postgres::PgStore;
use super::sqlite::NewSubscriber;
use super::{AccountingLog, AccountingRecord, HssError, Imsi, SqliteStore};
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use std::path::Path;
use zeroize::Zeroizing;

/// What a copy did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CopyReport {
    /// Subscribers read from the source.
    pub subscribers: usize,
    /// Of them, new in the target.
    pub added: usize,
    /// Accounting records read from the source.
    pub accounting: usize,
}

type Row = (String, Zeroizing<Vec<u8>>, Zeroizing<Vec<u8>>, i64, i64);

/// Groups (name, attributes JSON) and subscribers' authorization rows
/// (IMSI, group, barred, own attributes JSON).
pub(crate) type Authz = (
    Vec<(String, String)>,
    Vec<(String, Option<String>, bool, String)>,
);

/// Reads the authorization tables of an SQLite store (none before they existed).
fn read_sqlite_authz(c: &rusqlite::Connection) -> Result<Authz, HssError> {
    let present: i64 = c.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table'
         AND name IN ('subscriber_group', 'subscriber_authz')",
        [],
        |r| r.get(0),
    )?;
    if present < 2 {
        return Ok(Default::default());
    }
    let groups = c
        .prepare("SELECT name, attributes FROM subscriber_group ORDER BY name")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let rows = c
        .prepare("SELECT imsi, group_name, barred, attributes FROM subscriber_authz ORDER BY imsi")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<Result<_, _>>()?;
    Ok((groups, rows))
}

/// Writes groups, attributes and bars into `target` (after its subscribers):
/// an existing group or subscriber entry gets the source's fields over its own.
fn write_authz(target: &AnyStore, (groups, rows): Authz) -> Result<(), HssError> {
    use crate::authz::sqlite::AuthzUpdate;
    use crate::authz::{AttributeUpdate, ReplyAttributes};
    let attrs = |j: &str| -> Result<ReplyAttributes, HssError> {
        serde_json::from_str(j).map_err(|e| HssError::Store(format!("stored attributes: {e}")))
    };
    for (name, j) in groups {
        let a = attrs(&j)?;
        match target.group_add(&name, &a) {
            Err(HssError::Exists) => {
                target.group_set(
                    &name,
                    &AttributeUpdate {
                        set: a,
                        unset: Vec::new(),
                    },
                )?;
            }
            r => r?,
        }
    }
    for (imsi, group, barred, j) in rows {
        let imsi = Imsi::parse(&imsi)?;
        let u = AuthzUpdate {
            group: Some(group),
            attributes: AttributeUpdate {
                set: attrs(&j)?,
                unset: Vec::new(),
            },
        };
        match target.set_authz(&imsi, &u) {
            // A row left without its subscriber: nothing to carry.
            Err(HssError::UnknownSubscriber) => continue,
            r => r?,
        }
        if barred {
            target.set_barred(&imsi, true)?;
        }
    }
    Ok(())
}

fn to_new(rows: Vec<Row>) -> Result<Vec<NewSubscriber>, HssError> {
    rows.into_iter()
        .map(|(imsi, k, opc, amf, sqn)| {
            let (Some(k), Some(opc)) = (K::from_slice(&k), Opc::from_slice(&opc)) else {
                return Err(HssError::Store(format!(
                    "{imsi}: stored key has the wrong length"
                )));
            };
            Ok(NewSubscriber {
                imsi: Imsi::parse(&imsi)?,
                keys: SubscriberKeys::new(k, opc),
                amf: Amf((amf as u16).to_be_bytes()),
                sqn: u64::try_from(sqn)
                    .ok()
                    .and_then(Sqn::new)
                    .ok_or_else(|| HssError::Store(format!("{imsi}: stored SQN out of range")))?,
            })
        })
        .collect()
}

/// Reads an SQLite store read-only.
fn read_sqlite(path: &Path) -> Result<(Vec<Row>, Vec<AccountingRecord>, Authz), HssError> {
    let ro = SqliteStore::open_read_only(path)?;
    if ro.subscriber_count()? == 0 && ro.schema_version() == 0 {
        return Ok(Default::default());
    }
    drop(ro);
    let c = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let _ = c.busy_timeout(std::time::Duration::from_secs(5));
    let mut st = c.prepare("SELECT imsi, k, opc, amf, sqn FROM subscriber ORDER BY imsi")?;
    let subs = st
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                Zeroizing::new(r.get::<_, Vec<u8>>(1)?),
                Zeroizing::new(r.get::<_, Vec<u8>>(2)?),
                r.get(3)?,
                r.get(4)?,
            ))
        })?
        .collect::<Result<Vec<Row>, _>>()?;
    let mut st = c.prepare(
        "SELECT client, session_id, status_type, user_name, nas, input_octets, output_octets,
         session_time FROM accounting ORDER BY id",
    )?;
    let acct = st
        .query_map([], |r| {
            Ok(AccountingRecord {
                client: r.get(0)?,
                session_id: r.get(1)?,
                status_type: r.get(2)?,
                user: r.get(3)?,
                nas: r.get(4)?,
                input_octets: r.get::<_, i64>(5)? as u64,
                output_octets: r.get::<_, i64>(6)? as u64,
                session_time: r.get(7)?,
                event_timestamp: None,
                delay_time: None,
                calling_station_id: String::new(),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let authz = read_sqlite_authz(&c)?;
    Ok((subs, acct, authz))
}

/// Copies `from` into `to` (an SQLite file is created 0600 when missing, a
/// PostgreSQL database is migrated). Subscribers go in one transaction, as
/// `subscriber import`: an existing one keeps the higher SQN; one with
/// other keys is a clash and nothing is copied.
pub fn copy(from: &Path, to: &Path) -> Result<CopyReport, HssError> {
    let (subs, acct, authz) = if is_postgres(from) {
        let s = PgStore::open(from.to_str().unwrap_or_default(), None, 1)?;
        (
            s.export_subscribers()?,
            s.export_accounting()?,
            s.export_authz()?,
        )
    } else {
        read_sqlite(from)?
    };
    let subs = to_new(subs)?;
    let target = AnyStore::open(to, true, 1)?;
    let r = target.import(&subs, false)?;
    write_authz(&target, authz)?;
    let log: &dyn AccountingLog = match &target {
        AnyStore::Sqlite(s) => s,
        AnyStore::Postgres(s) => s,
    };
    for a in &acct {
        log.record(a)?;
    }
    Ok(CopyReport {
        subscribers: subs.len(),
        added: r.added,
        accounting: acct.len(),
    })
}
