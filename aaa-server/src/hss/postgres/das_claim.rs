//! Disconnect/CoA claims (schema version 4): with several `serve` nodes on
//! one database, every node's disconnect watcher ([`crate::authz::watch`])
//! sees the same subscriber change; the one whose claim wins sends the
//! Disconnect-Request or CoA-Request (RFC 5176), the others count it as
//! claimed elsewhere. A claim is one autocommitted upsert on the watcher's
//! own pooled connection, never under a lock the RADIUS sessions share.
//!
//! `das_claim` holds, per session (client, Acct-Session-Id) and kind, what
//! was last claimed: a Disconnect (empty digest) is claimed once per
//! session, as the single-node watcher sends it once; a CoA's digest is
//! the MD5 of the attributes sent, so each new set of attributes is claimed
//! once, and a change back to an earlier set is claimed again. A claim's
//! winner that dies before its request leaves is not replaced (at most
//! once, docs/authorization.md). Rows of ended sessions are deleted after
//! [`crate::authz::watch::CLAIM_KEEP`].

use super::{PgStore, db};
use crate::authz::das::DasKind;
use crate::hss::HssError;
use std::time::Duration;

fn kind_name(k: DasKind) -> &'static str {
    match k {
        DasKind::Disconnect => "disconnect",
        DasKind::Coa => "coa",
    }
}

/// This node's name in `das_claim.node`: host name and process id.
fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    format!("{}:{}", host.trim(), std::process::id())
}

impl PgStore {
    /// Claims `kind` for the session (`client`, `session_id`) at `digest`:
    /// true when this node won and is to send; false when some node
    /// already claimed that session with the same digest.
    pub fn claim_das(
        &self,
        client: &str,
        session_id: &str,
        kind: DasKind,
        digest: &[u8],
    ) -> Result<bool, HssError> {
        // ON CONFLICT DO UPDATE locks the row and re-checks the WHERE on
        // its newest version: of nodes racing with one digest, one wins.
        let row = self
            .inner
            .conn()?
            .query_opt(
                "INSERT INTO das_claim (client, session_id, kind, digest, node)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (client, session_id, kind) DO UPDATE
                     SET digest = excluded.digest, node = excluded.node, claimed_at = now()
                     WHERE das_claim.digest <> excluded.digest
                 RETURNING 1",
                &[
                    &client,
                    &session_id,
                    &kind_name(kind),
                    &digest,
                    &node_name(),
                ],
            )
            .map_err(db)?;
        Ok(row.is_some())
    }

    /// Deletes the claims older than `keep` whose session has ended; how many.
    pub fn expire_das_claims(&self, keep: Duration) -> Result<usize, HssError> {
        let keep = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
        let n = self
            .inner
            .conn()?
            .execute(
                "DELETE FROM das_claim c
                 WHERE c.claimed_at < now() - $1::bigint * interval '1 second'
                   AND NOT EXISTS (SELECT 1 FROM acct_session s
                                   WHERE s.client = c.client AND s.session_id = c.session_id)",
                &[&keep],
            )
            .map_err(db)?;
        Ok(n as usize)
    }
}
