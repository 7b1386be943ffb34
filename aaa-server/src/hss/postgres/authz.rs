//! Groups, reply attributes, barring and the active session table in the
//! PostgreSQL store (schema version 2): the same model and JSON attribute
//! encoding as the SQLite store ([`crate::authz::sqlite`]). Barring gives
//! the subscriber a new change version, so every node's [`Hss::current`]
//! turns down an authentication in flight and drops its lease at once.

use super::{PgStore, db, next_version, note_change, relock};
use crate::authz::sessions::{ActiveSession, imsi_of_user_name};
use crate::authz::sqlite::{AuthzUpdate, GroupInfo};
use crate::authz::watch::SubscriberState;
use crate::authz::{AttributeUpdate, Authorization, ReplyAttributes};
use crate::hss::{AccountingRecord, Hss, HssError, Imsi};
use zeroize::Zeroizing;

/// Acct-Status-Type values (RFC 2866 §5.1).
const START: u32 = 1;
const STOP: u32 = 2;
const INTERIM_UPDATE: u32 = 3;
const ACCOUNTING_ON: u32 = 7;
const ACCOUNTING_OFF: u32 = 8;

fn attrs(json: &str) -> Result<ReplyAttributes, HssError> {
    serde_json::from_str(json).map_err(|e| HssError::Store(format!("stored attributes: {e}")))
}

fn json(a: &ReplyAttributes) -> String {
    // Serializing plain fields cannot fail.
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

fn group_attrs(
    c: &mut impl postgres::GenericClient,
    name: &str,
) -> Result<Option<ReplyAttributes>, HssError> {
    c.query_opt(
        "SELECT attributes FROM subscriber_group WHERE name = $1",
        &[&name],
    )
    .map_err(db)?
    .map(|r| attrs(&r.get::<_, String>(0)))
    .transpose()
}

/// Locks the subscriber's row (inside a transaction); false when it does not exist.
fn lock_subscriber(tx: &mut postgres::Transaction<'_>, imsi: &Imsi) -> Result<bool, HssError> {
    Ok(tx
        .query_opt(
            "SELECT 1 FROM subscriber WHERE imsi = $1 FOR UPDATE",
            &[&imsi.as_str()],
        )
        .map_err(db)?
        .is_some())
}

/// Applies `rec` (received at unix time `now`) to the session table, as
/// [`crate::authz::sessions`] does in SQLite.
pub(super) fn apply_session(
    tx: &mut postgres::Transaction<'_>,
    rec: &AccountingRecord,
    now: i64,
) -> Result<(), HssError> {
    match rec.status_type {
        START | INTERIM_UPDATE if !rec.session_id.is_empty() => {
            tx.execute(
                "INSERT INTO acct_session (client, session_id, nas, user_name, imsi,
                     calling_station_id, started, updated)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
                 ON CONFLICT (client, session_id) DO UPDATE SET updated = excluded.updated,
                     user_name = excluded.user_name, imsi = excluded.imsi,
                     calling_station_id = excluded.calling_station_id",
                &[
                    &rec.client,
                    &rec.session_id,
                    &rec.nas,
                    &rec.user,
                    &imsi_of_user_name(&rec.user),
                    &rec.calling_station_id,
                    &now,
                ],
            )
            .map_err(db)?;
        }
        STOP => {
            tx.execute(
                "DELETE FROM acct_session WHERE client = $1 AND session_id = $2",
                &[&rec.client, &rec.session_id],
            )
            .map_err(db)?;
        }
        ACCOUNTING_ON | ACCOUNTING_OFF => {
            tx.execute("DELETE FROM acct_session WHERE client = $1", &[&rec.client])
                .map_err(db)?;
        }
        _ => {}
    }
    Ok(())
}

/// The authorization in `row` from column `at`: barred, own attributes,
/// group attributes, each NULL when the subscriber has no authorization row
/// (not barred, no attributes).
pub(super) fn authorization_of_row(
    r: &postgres::Row,
    at: usize,
) -> Result<Authorization, HssError> {
    let Some(barred) = r.get::<_, Option<bool>>(at) else {
        return Ok(Authorization::default());
    };
    let group = match r.get::<_, Option<String>>(at + 2) {
        Some(g) => attrs(&g)?,
        None => ReplyAttributes::default(),
    };
    Ok(Authorization {
        barred,
        reply: attrs(
            &r.get::<_, Option<String>>(at + 1)
                .unwrap_or_else(|| "{}".into()),
        )?
        .over(&group),
    })
}

impl PgStore {
    /// Adds a group.
    pub fn group_add(&self, name: &str, a: &ReplyAttributes) -> Result<(), HssError> {
        a.check()?;
        let n = self
            .inner
            .conn()?
            .execute(
                "INSERT INTO subscriber_group (name, attributes) VALUES ($1, $2)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &json(a)],
            )
            .map_err(db)?;
        if n == 0 {
            return Err(HssError::Exists);
        }
        Ok(())
    }

    /// Changes a group's attributes; returns them as they now are.
    pub fn group_set(&self, name: &str, u: &AttributeUpdate) -> Result<ReplyAttributes, HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let row = tx
            .query_opt(
                "SELECT attributes FROM subscriber_group WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .map_err(db)?
            .ok_or(HssError::UnknownGroup)?;
        let mut a = attrs(&row.get::<_, String>(0))?;
        a.apply(u)?;
        tx.execute(
            "UPDATE subscriber_group SET attributes = $2 WHERE name = $1",
            &[&name, &json(&a)],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(a)
    }

    /// All groups with their member counts.
    pub fn group_list(&self) -> Result<Vec<GroupInfo>, HssError> {
        let rows = self
            .inner
            .conn()?
            .query(
                "SELECT g.name, g.attributes,
                        (SELECT count(*) FROM subscriber_authz a WHERE a.group_name = g.name)
                 FROM subscriber_group g ORDER BY g.name",
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok(GroupInfo {
                    name: r.get(0),
                    attributes: attrs(&r.get::<_, String>(1))?,
                    members: r.get::<_, i64>(2) as u64,
                })
            })
            .collect()
    }

    /// The IMSIs in a group.
    pub fn group_members(&self, name: &str) -> Result<Vec<String>, HssError> {
        let rows = self
            .inner
            .conn()?
            .query(
                "SELECT imsi FROM subscriber_authz WHERE group_name = $1 ORDER BY imsi",
                &[&name],
            )
            .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Removes a group without members.
    pub fn group_remove(&self, name: &str) -> Result<(), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        if tx
            .query_opt(
                "SELECT 1 FROM subscriber_group WHERE name = $1 FOR UPDATE",
                &[&name],
            )
            .map_err(db)?
            .is_none()
        {
            return Err(HssError::UnknownGroup);
        }
        let members: i64 = tx
            .query_one(
                "SELECT count(*) FROM subscriber_authz WHERE group_name = $1",
                &[&name],
            )
            .map_err(db)?
            .get(0);
        if members > 0 {
            return Err(HssError::GroupInUse(members as u64));
        }
        tx.execute("DELETE FROM subscriber_group WHERE name = $1", &[&name])
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(())
    }

    /// Sets a subscriber's group and own attributes.
    pub fn set_authz(&self, imsi: &Imsi, u: &AuthzUpdate) -> Result<(), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        if !lock_subscriber(&mut tx, imsi)? {
            return Err(HssError::UnknownSubscriber);
        }
        if let Some(Some(g)) = &u.group
            && group_attrs(&mut tx, g)?.is_none()
        {
            return Err(HssError::UnknownGroup);
        }
        let row = tx
            .query_opt(
                "SELECT group_name, attributes FROM subscriber_authz WHERE imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?;
        let (group, own): (Option<String>, String) = row
            .map(|r| (r.get(0), r.get(1)))
            .unwrap_or((None, "{}".into()));
        let group = u.group.clone().unwrap_or(group);
        let mut a = attrs(&own)?;
        a.apply(&u.attributes)?;
        tx.execute(
            "INSERT INTO subscriber_authz (imsi, group_name, attributes) VALUES ($1, $2, $3)
             ON CONFLICT (imsi) DO UPDATE SET group_name = excluded.group_name,
                                              attributes = excluded.attributes",
            &[&imsi.as_str(), &group, &json(&a)],
        )
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(())
    }

    /// Bars (`true`) or unbars a subscriber. Barring is a subscriber change
    /// (a new version): every node turns down its authentications in flight.
    pub fn set_barred(&self, imsi: &Imsi, barred: bool) -> Result<(), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let v = next_version(&mut tx)?;
        let n = tx
            .execute(
                "UPDATE subscriber SET version = $2 WHERE imsi = $1",
                &[&imsi.as_str(), &v],
            )
            .map_err(db)?;
        if n == 0 {
            return Err(HssError::UnknownSubscriber);
        }
        tx.execute(
            "INSERT INTO subscriber_authz (imsi, barred) VALUES ($1, $2)
             ON CONFLICT (imsi) DO UPDATE SET barred = excluded.barred",
            &[&imsi.as_str(), &barred],
        )
        .map_err(db)?;
        note_change(&mut tx, imsi.as_str(), v)?;
        tx.commit().map_err(db)?;
        relock(&self.inner.leases).remove(imsi.as_str());
        Ok(())
    }

    /// The subscriber's authorization; [`HssError::UnknownSubscriber`] when absent.
    pub fn authorization_of(&self, imsi: &Imsi) -> Result<Authorization, HssError> {
        let exists = self
            .inner
            .conn()?
            .query_opt(
                "SELECT 1 FROM subscriber WHERE imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .is_some();
        if !exists {
            return Err(HssError::UnknownSubscriber);
        }
        self.authorization(imsi)
    }

    /// Removed, barred, or a fingerprint of its keys ([`crate::authz::watch`]).
    pub fn subscriber_state(&self, imsi: &Imsi) -> Result<SubscriberState, HssError> {
        use md5::{Digest, Md5};
        let row = self
            .inner
            .conn()?
            .query_opt(
                "SELECT s.k, s.opc, coalesce(a.barred, false) FROM subscriber s
                 LEFT JOIN subscriber_authz a ON a.imsi = s.imsi WHERE s.imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?;
        Ok(match row {
            None => SubscriberState::Gone,
            Some(r) if r.get::<_, bool>(2) => SubscriberState::Barred,
            Some(r) => {
                let k: Zeroizing<Vec<u8>> = Zeroizing::new(r.get(0));
                let opc: Zeroizing<Vec<u8>> = Zeroizing::new(r.get(1));
                let mut h = Md5::new();
                h.update(&*k);
                h.update(&*opc);
                SubscriberState::Keys(h.finalize().into())
            }
        })
    }

    /// Closes the sessions with no accounting for `idle` before `now` (Unix
    /// seconds), on every node's behalf (`[radius] session_idle_timeout`).
    pub fn close_idle_sessions(
        &self,
        idle: std::time::Duration,
        now: i64,
    ) -> Result<usize, HssError> {
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        let n = self
            .inner
            .conn()?
            .execute(
                "DELETE FROM acct_session WHERE updated < $1",
                &[&now.saturating_sub(idle)],
            )
            .map_err(db)?;
        Ok(n as usize)
    }

    /// Active sessions, of `imsi` only when given, oldest first.
    pub fn sessions(&self, imsi: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError> {
        let imsi = imsi.map(Imsi::as_str);
        let rows = self
            .inner
            .conn()?
            .query(
                "SELECT client, nas, session_id, user_name, imsi, calling_station_id, started, updated
                 FROM acct_session WHERE $1::text IS NULL OR imsi = $1
                 ORDER BY started, session_id",
                &[&imsi],
            )
            .map_err(db)?;
        Ok(rows
            .iter()
            .map(|r| ActiveSession {
                client: r.get(0),
                nas: r.get(1),
                session_id: r.get(2),
                user_name: r.get(3),
                imsi: r.get(4),
                calling_station_id: r.get(5),
                started: r.get(6),
                updated: r.get(7),
            })
            .collect())
    }

    /// Barring and reply attributes (the group's under the subscriber's own).
    pub(super) fn read_authorization(&self, imsi: &Imsi) -> Result<Authorization, HssError> {
        let row = self
            .inner
            .conn()?
            .cached(
                "SELECT a.barred, a.attributes, g.attributes FROM subscriber_authz a
                 LEFT JOIN subscriber_group g ON g.name = a.group_name WHERE a.imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .into_iter()
            .next();
        match row {
            Some(r) => authorization_of_row(&r, 0),
            None => Ok(Authorization::default()),
        }
    }
}

impl crate::authz::store::WatchStore for PgStore {
    fn sessions(&self, imsi: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError> {
        PgStore::sessions(self, imsi)
    }
    fn subscriber_state(&self, imsi: &Imsi) -> Result<SubscriberState, HssError> {
        PgStore::subscriber_state(self, imsi)
    }
    fn close_idle_sessions(&self, idle: std::time::Duration, now: i64) -> Result<usize, HssError> {
        PgStore::close_idle_sessions(self, idle, now)
    }
    fn claim(
        &self,
        client: &str,
        session_id: &str,
        kind: crate::authz::das::DasKind,
        digest: &[u8],
    ) -> Result<bool, HssError> {
        PgStore::claim_das(self, client, session_id, kind, digest)
    }
    fn expire_claims(&self, keep: std::time::Duration) -> Result<usize, HssError> {
        PgStore::expire_das_claims(self, keep)
    }
}

impl PgStore {
    /// Groups (name, attributes JSON) and subscribers' rows (IMSI, group,
    /// barred, own attributes JSON), for `db copy`.
    pub(crate) fn export_authz(&self) -> Result<crate::hss::copy::Authz, HssError> {
        let mut c = self.inner.conn()?;
        let groups = c
            .query(
                "SELECT name, attributes FROM subscriber_group ORDER BY name",
                &[],
            )
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let rows = c
            .query(
                "SELECT imsi, group_name, barred, attributes FROM subscriber_authz ORDER BY imsi",
                &[],
            )
            .map_err(db)?
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
            .collect();
        Ok((groups, rows))
    }
}
