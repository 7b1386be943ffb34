//! Groups, reply attributes and barring in the SQLite store: two tables,
//! attributes kept as JSON ([`super::ReplyAttributes`]). Barring bumps the
//! subscriber's change version, so a running server drops its cached range
//! and turns down an authentication in flight ([`crate::hss::Hss::current`]).

use super::{AttributeUpdate, Authorization, ReplyAttributes};
use crate::hss::sqlite::{AUTHZ_CHANGE, bump_versions};
use crate::hss::{HssError, Imsi, SqliteStore};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

/// The authorization tables (every statement `IF NOT EXISTS`).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscriber_group (
    name       TEXT PRIMARY KEY NOT NULL,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS subscriber_authz (
    imsi       TEXT PRIMARY KEY NOT NULL,
    group_name TEXT,
    barred     INTEGER NOT NULL DEFAULT 0,
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS acct_session (
    client             TEXT NOT NULL,
    session_id         TEXT NOT NULL,
    nas                TEXT NOT NULL,
    user_name          TEXT NOT NULL,
    imsi               TEXT,
    calling_station_id TEXT NOT NULL,
    started            INTEGER NOT NULL,
    updated            INTEGER NOT NULL,
    PRIMARY KEY (client, session_id)
);
CREATE INDEX IF NOT EXISTS acct_session_imsi ON acct_session (imsi);
";

/// A group as `subscriber group list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct GroupInfo {
    /// Name.
    pub name: String,
    /// Its reply attributes.
    pub attributes: ReplyAttributes,
    /// Number of subscribers in it.
    pub members: u64,
}

/// What `subscriber set` changes besides keys: `group: Some(None)` leaves
/// any group.
#[derive(Clone, Debug, Default)]
pub struct AuthzUpdate {
    /// New group (`Some(None)`: none).
    pub group: Option<Option<String>>,
    /// The subscriber's own attributes.
    pub attributes: AttributeUpdate,
}

/// K, OPc and the bar, as [`SqliteStore::subscriber_state`] reads them.
type KeyRow = (
    zeroize::Zeroizing<Vec<u8>>,
    zeroize::Zeroizing<Vec<u8>>,
    bool,
);

fn attrs(json: &str) -> Result<ReplyAttributes, HssError> {
    serde_json::from_str(json).map_err(|e| HssError::Store(format!("stored attributes: {e}")))
}

fn json(a: &ReplyAttributes) -> String {
    // Serializing plain fields cannot fail.
    serde_json::to_string(a).unwrap_or_else(|_| "{}".into())
}

fn immediate(conn: &Connection) -> Result<Transaction<'_>, HssError> {
    Ok(Transaction::new_unchecked(
        conn,
        TransactionBehavior::Immediate,
    )?)
}

fn group_attrs(conn: &Connection, name: &str) -> Result<Option<ReplyAttributes>, HssError> {
    conn.query_row(
        "SELECT attributes FROM subscriber_group WHERE name = ?1",
        [name],
        |r| r.get::<_, String>(0),
    )
    .optional()?
    .map(|j| attrs(&j))
    .transpose()
}

fn subscriber_exists(conn: &Connection, imsi: &Imsi) -> Result<bool, HssError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM subscriber WHERE imsi = ?1",
            [imsi.as_str()],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// Drops a removed subscriber's authorization row (inside its transaction).
pub(crate) fn forget(tx: &Connection, imsi: &Imsi) -> Result<(), HssError> {
    tx.execute(
        "DELETE FROM subscriber_authz WHERE imsi = ?1",
        [imsi.as_str()],
    )?;
    Ok(())
}

/// Reads a subscriber's authorization (group's attributes under its own).
pub(crate) fn read(conn: &Connection, imsi: &Imsi) -> Result<Authorization, HssError> {
    let row: Option<(Option<String>, bool, String)> = conn
        .query_row(
            "SELECT group_name, barred, attributes FROM subscriber_authz WHERE imsi = ?1",
            [imsi.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((group, barred, own)) = row else {
        return Ok(Authorization::default());
    };
    let group = match group {
        Some(g) => group_attrs(conn, &g)?.unwrap_or_default(),
        None => ReplyAttributes::default(),
    };
    Ok(Authorization {
        barred,
        reply: attrs(&own)?.over(&group),
    })
}

impl SqliteStore {
    /// Adds a group.
    pub fn group_add(&self, name: &str, a: &ReplyAttributes) -> Result<(), HssError> {
        a.check()?;
        let conn = self.lock()?;
        let tx = immediate(&conn)?;
        if group_attrs(&tx, name)?.is_some() {
            return Err(HssError::Exists);
        }
        tx.execute(
            "INSERT INTO subscriber_group (name, attributes) VALUES (?1, ?2)",
            params![name, json(a)],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Changes a group's attributes; returns them as they now are.
    pub fn group_set(&self, name: &str, u: &AttributeUpdate) -> Result<ReplyAttributes, HssError> {
        let conn = self.lock()?;
        let tx = immediate(&conn)?;
        let mut a = group_attrs(&tx, name)?.ok_or(HssError::UnknownGroup)?;
        a.apply(u)?;
        tx.execute(
            "UPDATE subscriber_group SET attributes = ?2 WHERE name = ?1",
            params![name, json(&a)],
        )?;
        // Running servers drop the authorizations they cached.
        let v = bump_versions(&tx, [AUTHZ_CHANGE])?;
        tx.commit()?;
        self.changed([AUTHZ_CHANGE], v);
        Ok(a)
    }

    /// All groups with their member counts.
    pub fn group_list(&self) -> Result<Vec<GroupInfo>, HssError> {
        let conn = self.lock()?;
        let mut st = conn.prepare(
            "SELECT g.name, g.attributes,
                    (SELECT count(*) FROM subscriber_authz a WHERE a.group_name = g.name)
             FROM subscriber_group g ORDER BY g.name",
        )?;
        let rows = st.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (name, a, members): (String, String, i64) = row?;
            out.push(GroupInfo {
                name,
                attributes: attrs(&a)?,
                members: members as u64,
            });
        }
        Ok(out)
    }

    /// The IMSIs in a group.
    pub fn group_members(&self, name: &str) -> Result<Vec<String>, HssError> {
        let conn = self.lock()?;
        let mut st =
            conn.prepare("SELECT imsi FROM subscriber_authz WHERE group_name = ?1 ORDER BY imsi")?;
        let rows = st.query_map([name], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a group without members.
    pub fn group_remove(&self, name: &str) -> Result<(), HssError> {
        let conn = self.lock()?;
        let tx = immediate(&conn)?;
        let members: i64 = tx.query_row(
            "SELECT count(*) FROM subscriber_authz WHERE group_name = ?1",
            [name],
            |r| r.get(0),
        )?;
        if members > 0 {
            return Err(HssError::GroupInUse(members as u64));
        }
        if tx.execute("DELETE FROM subscriber_group WHERE name = ?1", [name])? == 0 {
            return Err(HssError::UnknownGroup);
        }
        tx.commit()?;
        Ok(())
    }

    /// Sets a subscriber's group and own attributes.
    pub fn set_authz(&self, imsi: &Imsi, u: &AuthzUpdate) -> Result<(), HssError> {
        let conn = self.lock()?;
        let tx = immediate(&conn)?;
        if !subscriber_exists(&tx, imsi)? {
            return Err(HssError::UnknownSubscriber);
        }
        if let Some(Some(g)) = &u.group
            && group_attrs(&tx, g)?.is_none()
        {
            return Err(HssError::UnknownGroup);
        }
        let row: Option<(Option<String>, String)> = tx
            .query_row(
                "SELECT group_name, attributes FROM subscriber_authz WHERE imsi = ?1",
                [imsi.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (group, own) = row.unwrap_or((None, "{}".into()));
        let group = u.group.clone().unwrap_or(group);
        let mut a = attrs(&own)?;
        a.apply(&u.attributes)?;
        tx.execute(
            "INSERT INTO subscriber_authz (imsi, group_name, attributes) VALUES (?1, ?2, ?3)
             ON CONFLICT(imsi) DO UPDATE SET group_name = excluded.group_name,
                                             attributes = excluded.attributes",
            params![imsi.as_str(), group, json(&a)],
        )?;
        // Not a subscriber change (no authentication in flight is turned
        // down): running servers drop the authorizations they cached.
        let v = bump_versions(&tx, [AUTHZ_CHANGE])?;
        tx.commit()?;
        self.changed([AUTHZ_CHANGE], v);
        Ok(())
    }

    /// Bars (`true`) or unbars a subscriber. Barring counts as a change:
    /// a running server rejects its authentications in flight.
    pub fn set_barred(&self, imsi: &Imsi, barred: bool) -> Result<(), HssError> {
        let conn = self.lock()?;
        let tx = immediate(&conn)?;
        if !subscriber_exists(&tx, imsi)? {
            return Err(HssError::UnknownSubscriber);
        }
        tx.execute(
            "INSERT INTO subscriber_authz (imsi, barred) VALUES (?1, ?2)
             ON CONFLICT(imsi) DO UPDATE SET barred = excluded.barred",
            params![imsi.as_str(), barred],
        )?;
        let v = bump_versions(&tx, [imsi.as_str()])?;
        tx.commit()?;
        self.changed([imsi.as_str()], v);
        Ok(())
    }

    /// Removed, barred, or a fingerprint of its keys ([`super::watch`]).
    pub fn subscriber_state(&self, imsi: &Imsi) -> Result<super::watch::SubscriberState, HssError> {
        use super::watch::SubscriberState;
        use md5::{Digest, Md5};
        let conn = self.lock()?;
        let row: Option<KeyRow> = conn
            .query_row(
                "SELECT s.k, s.opc, coalesce(a.barred, 0) FROM subscriber s
                 LEFT JOIN subscriber_authz a ON a.imsi = s.imsi WHERE s.imsi = ?1",
                [imsi.as_str()],
                |r| {
                    Ok((
                        r.get::<_, Vec<u8>>(0)?.into(),
                        r.get::<_, Vec<u8>>(1)?.into(),
                        r.get(2)?,
                    ))
                },
            )
            .optional()?;
        Ok(match row {
            None => SubscriberState::Gone,
            Some((_, _, true)) => SubscriberState::Barred,
            Some((k, opc, false)) => {
                let mut h = Md5::new();
                h.update(&*k);
                h.update(&*opc);
                SubscriberState::Keys(h.finalize().into())
            }
        })
    }

    /// The subscriber's authorization as the server sees it.
    pub fn authorization_of(&self, imsi: &Imsi) -> Result<Authorization, HssError> {
        if !subscriber_exists(&*self.lock()?, imsi)? {
            return Err(HssError::UnknownSubscriber);
        }
        read(&*self.lock()?, imsi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::Hss;
    use crate::hss::sqlite::NewSubscriber;
    use eap::secret::{K, Opc};
    use eap::umts::{Amf, Sqn, SubscriberKeys};

    fn store() -> (SqliteStore, Imsi) {
        let s = SqliteStore::open_in_memory().unwrap();
        let imsi = Imsi::parse("001010000000001").unwrap();
        s.add(&NewSubscriber {
            imsi: imsi.clone(),
            keys: SubscriberKeys::new(K::new([1; 16]), Opc::new([2; 16])),
            amf: Amf([0x80, 0]),
            sqn: Sqn::from_seq_ind(1, 0),
        })
        .unwrap();
        (s, imsi)
    }

    #[test]
    fn groups_members_overrides_and_removal() {
        let (s, imsi) = store();
        let gold = ReplyAttributes {
            session_timeout: Some(60),
            vlan: Some(10),
            ..Default::default()
        };
        s.group_add("gold", &gold).unwrap();
        assert_eq!(s.group_add("gold", &gold), Err(HssError::Exists));
        assert_eq!(s.authorization(&imsi).unwrap(), Authorization::default());
        let mut u = AuthzUpdate {
            group: Some(Some("gold".into())),
            ..Default::default()
        };
        u.attributes.set.vlan = Some(20);
        s.set_authz(&imsi, &u).unwrap();
        let a = s.authorization(&imsi).unwrap();
        assert_eq!(
            (a.reply.session_timeout, a.reply.vlan),
            (Some(60), Some(20))
        );
        assert_eq!(s.group_remove("gold"), Err(HssError::GroupInUse(1)));
        assert_eq!(s.group_list().unwrap()[0].members, 1);
        let bad = AuthzUpdate {
            group: Some(Some("none".into())),
            ..Default::default()
        };
        assert_eq!(s.set_authz(&imsi, &bad), Err(HssError::UnknownGroup));
        let mut g = AttributeUpdate::default();
        g.set.session_timeout = Some(120);
        s.group_set("gold", &g).unwrap();
        assert_eq!(
            s.authorization(&imsi).unwrap().reply.session_timeout,
            Some(120)
        );
        s.remove(&imsi).unwrap();
        s.group_remove("gold").unwrap();
        assert_eq!(s.group_remove("gold"), Err(HssError::UnknownGroup));
    }

    #[test]
    fn barring_is_a_change_and_stops_vectors_being_confirmed() {
        let (s, imsi) = store();
        let (_, version) = s
            .vector_versioned(&imsi, crate::hss::VectorKind::AkaPrime)
            .unwrap();
        s.set_barred(&imsi, true).unwrap();
        assert!(s.authorization(&imsi).unwrap().barred);
        assert!(!s.current(&imsi, version).unwrap());
        s.set_barred(&imsi, false).unwrap();
        assert!(!s.authorization(&imsi).unwrap().barred);
        let other = Imsi::parse("001010000000002").unwrap();
        assert_eq!(s.set_barred(&other, true), Err(HssError::UnknownSubscriber));
    }
}
