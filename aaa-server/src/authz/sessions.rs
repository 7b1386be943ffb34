//! The active session table, kept from accounting (RFC 2866): Start and
//! Interim-Update open or refresh a session, Stop closes it,
//! Accounting-On/Off close every session of that RADIUS client (the NAS
//! restarted). Updated in the same SQLite transaction as the accounting
//! record. Sessions not heard of for `[radius] session_idle_timeout` are
//! closed by the watcher's timer ([`SqliteStore::close_idle_sessions`]).

use crate::hss::{AccountingRecord, HssError, Imsi, SqliteStore};
use rusqlite::{Connection, params};

/// Acct-Status-Type values (RFC 2866 §5.1).
const START: u32 = 1;
const STOP: u32 = 2;
const INTERIM_UPDATE: u32 = 3;
const ACCOUNTING_ON: u32 = 7;
const ACCOUNTING_OFF: u32 = 8;

/// One active session.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ActiveSession {
    /// The RADIUS client's name (`[[client]] name`).
    pub client: String,
    /// NAS-Identifier or NAS-IP-Address.
    pub nas: String,
    /// Acct-Session-Id.
    pub session_id: String,
    /// User-Name.
    pub user_name: String,
    /// The IMSI, when User-Name is a permanent identity.
    pub imsi: Option<String>,
    /// Calling-Station-Id.
    pub calling_station_id: String,
    /// Unix time of the Start (or first record seen).
    pub started: i64,
    /// Unix time of the last record.
    pub updated: i64,
}

/// The IMSI of a permanent EAP-AKA/AKA'/SIM identity (`0`, `1` or `6`,
/// then the IMSI, RFC 4187 §4.1.1.6, RFC 9048 §3.2), else `None`.
pub fn imsi_of_user_name(user: &str) -> Option<String> {
    let user = user.split('@').next()?;
    let mut chars = user.chars();
    matches!(chars.next(), Some('0' | '1' | '6'))
        .then(|| chars.as_str())
        .and_then(|rest| Imsi::parse(rest).ok())
        .map(|i| i.as_str().to_string())
}

/// Applies `rec` (received at unix time `now`) to the session table.
pub(crate) fn apply(conn: &Connection, rec: &AccountingRecord, now: i64) -> Result<(), HssError> {
    match rec.status_type {
        START | INTERIM_UPDATE if !rec.session_id.is_empty() => {
            conn.execute(
                "INSERT INTO acct_session (client, session_id, nas, user_name, imsi,
                     calling_station_id, started, updated)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                 ON CONFLICT(client, session_id) DO UPDATE SET updated = excluded.updated,
                     user_name = excluded.user_name, imsi = excluded.imsi,
                     calling_station_id = excluded.calling_station_id",
                params![
                    rec.client,
                    rec.session_id,
                    rec.nas,
                    rec.user,
                    imsi_of_user_name(&rec.user),
                    rec.calling_station_id,
                    now
                ],
            )?;
        }
        STOP => {
            conn.execute(
                "DELETE FROM acct_session WHERE client = ?1 AND session_id = ?2",
                params![rec.client, rec.session_id],
            )?;
        }
        ACCOUNTING_ON | ACCOUNTING_OFF => {
            conn.execute(
                "DELETE FROM acct_session WHERE client = ?1",
                params![rec.client],
            )?;
        }
        _ => {}
    }
    Ok(())
}

/// Closes the sessions last updated before unix time `before`; returns how many.
pub(crate) fn close_idle(conn: &Connection, before: i64) -> Result<usize, HssError> {
    Ok(conn.execute("DELETE FROM acct_session WHERE updated < ?1", [before])?)
}

/// Active sessions (of `imsi` only, when given), oldest first.
pub(crate) fn list(conn: &Connection, imsi: Option<&str>) -> Result<Vec<ActiveSession>, HssError> {
    let mut st = conn.prepare(
        "SELECT client, nas, session_id, user_name, imsi, calling_station_id, started, updated
         FROM acct_session WHERE ?1 IS NULL OR imsi = ?1 ORDER BY started, session_id",
    )?;
    let rows = st.query_map([imsi], |r| {
        Ok(ActiveSession {
            client: r.get(0)?,
            nas: r.get(1)?,
            session_id: r.get(2)?,
            user_name: r.get(3)?,
            imsi: r.get(4)?,
            calling_station_id: r.get(5)?,
            started: r.get(6)?,
            updated: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl SqliteStore {
    /// Active sessions, of `imsi` only when given.
    pub fn sessions(&self, imsi: Option<&Imsi>) -> Result<Vec<ActiveSession>, HssError> {
        list(&*self.lock()?, imsi.map(Imsi::as_str))
    }

    /// Closes the sessions with no accounting for `idle` before unix time
    /// `now`; returns how many.
    pub fn close_idle_sessions(
        &self,
        idle: std::time::Duration,
        now: i64,
    ) -> Result<usize, HssError> {
        let idle = i64::try_from(idle.as_secs()).unwrap_or(i64::MAX);
        close_idle(&*self.lock()?, now.saturating_sub(idle))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::AccountingLog;

    fn rec(status: u32, client: &str, id: &str, user: &str) -> AccountingRecord {
        AccountingRecord {
            client: client.into(),
            session_id: id.into(),
            status_type: status,
            user: user.into(),
            nas: "ap1".into(),
            calling_station_id: "02-00-00-00-00-01".into(),
            ..Default::default()
        }
    }

    #[test]
    fn start_interim_stop_and_accounting_off() {
        let s = SqliteStore::open_in_memory().unwrap();
        let user = "6001010000000001@wlan.mnc001.mcc001.3gppnetwork.org";
        s.record(&rec(START, "nas-a", "s1", user)).unwrap();
        s.record(&rec(INTERIM_UPDATE, "nas-a", "s2", "pseudonym@x"))
            .unwrap();
        s.record(&rec(START, "nas-b", "s3", user)).unwrap();
        let all = s.sessions(None).unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].imsi.as_deref(), Some("001010000000001"));
        assert_eq!(all[0].calling_station_id, "02-00-00-00-00-01");
        let imsi = Imsi::parse("001010000000001").unwrap();
        assert_eq!(s.sessions(Some(&imsi)).unwrap().len(), 2);
        s.record(&rec(STOP, "nas-a", "s1", user)).unwrap();
        assert_eq!(s.sessions(None).unwrap().len(), 2);
        s.record(&rec(ACCOUNTING_OFF, "nas-a", "", "")).unwrap();
        let left = s.sessions(None).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].client, "nas-b");
    }

    #[test]
    fn idle_sessions_are_closed_after_the_configured_timeout() {
        let s = SqliteStore::open_in_memory().unwrap();
        let idle = std::time::Duration::from_secs(600);
        {
            let conn = s.lock().unwrap();
            apply(&conn, &rec(START, "n", "old", "u"), 1000).unwrap();
            apply(&conn, &rec(START, "n", "new", "u"), 1000).unwrap();
            // New accounting no longer closes anything by itself.
            apply(&conn, &rec(INTERIM_UPDATE, "n", "new", "u"), 1500).unwrap();
            apply(&conn, &rec(START, "n", "late", "u"), 100_000).unwrap();
            assert_eq!(list(&conn, None).unwrap().len(), 3);
        }
        // Exactly `idle` since the last record: still open.
        assert_eq!(s.close_idle_sessions(idle, 1600).unwrap(), 0);
        assert_eq!(s.close_idle_sessions(idle, 1601).unwrap(), 1);
        let l = s.sessions(None).unwrap();
        assert_eq!(
            l.iter().map(|x| x.session_id.as_str()).collect::<Vec<_>>(),
            ["new", "late"]
        );
        assert_eq!(s.close_idle_sessions(idle, 2101).unwrap(), 1);
        assert_eq!(s.sessions(None).unwrap()[0].session_id, "late");
    }

    #[test]
    fn imsi_only_from_permanent_identities() {
        assert_eq!(
            imsi_of_user_name("1001010000000001@x").as_deref(),
            Some("001010000000001")
        );
        assert_eq!(imsi_of_user_name("2001010000000001@x"), None);
        assert_eq!(imsi_of_user_name("6abc@x"), None);
    }
}
