//! Stored GSM triplets for 2G-only SIMs in the PostgreSQL store (schema
//! version 3), as [`crate::hss::sqlite::triplets`] keeps them in SQLite:
//! handed out least used first (they repeat once all were used, like
//! hlr_auc_gw); an import gives the IMSIs a new change version, so an
//! authentication in flight with the old triplets is turned down on every
//! node.

use super::{PgStore, db, next_version, note_change};
use crate::hss::sqlite::triplets::{StoredTriplet, TripletImport};
use crate::hss::{HssError, Imsi, Triplet};
use eap::gsm::Sres;
use eap::secret::Kc;
use zeroize::Zeroizing;

impl PgStore {
    /// Stores `triplets` in one transaction (a RAND already stored for the
    /// IMSI gets the new SRES/Kc).
    pub fn import_triplets(&self, triplets: &[StoredTriplet]) -> Result<TripletImport, HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let st = tx
            .prepare(
                "INSERT INTO gsm_triplet (imsi, rand, sres, kc) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (imsi, rand) DO UPDATE SET sres = excluded.sres, kc = excluded.kc
                 RETURNING (xmax = 0)",
            )
            .map_err(db)?;
        let mut r = TripletImport::default();
        for t in triplets {
            let kc = Zeroizing::new(t.triplet.kc.expose().to_vec());
            let row = tx
                .query_one(
                    &st,
                    &[
                        &t.imsi.as_str(),
                        &&t.triplet.rand[..],
                        &&t.triplet.sres.as_bytes()[..],
                        &&kc[..],
                    ],
                )
                .map_err(db)?;
            if row.get::<_, bool>(0) {
                r.added += 1;
            } else {
                r.replaced += 1;
            }
        }
        let mut imsis: Vec<&str> = triplets.iter().map(|t| t.imsi.as_str()).collect();
        imsis.sort_unstable();
        imsis.dedup();
        if !imsis.is_empty() {
            let v = next_version(&mut tx)?;
            for imsi in &imsis {
                tx.execute(
                    "UPDATE subscriber SET version = $2 WHERE imsi = $1",
                    &[imsi, &v],
                )
                .map_err(db)?;
                note_change(&mut tx, imsi, v)?;
            }
        }
        tx.commit().map_err(db)?;
        let mut leases = super::relock(&self.inner.leases);
        for imsi in imsis {
            leases.remove(imsi);
        }
        Ok(r)
    }

    /// Up to `n` stored triplets of `imsi`, least used first (each one's use
    /// counted), and the IMSI's version. [`HssError::UnknownSubscriber`]
    /// when it has fewer than 2.
    pub(super) fn stored_triplets(
        &self,
        imsi: &Imsi,
        n: usize,
    ) -> Result<(Vec<Triplet>, u64), HssError> {
        let mut c = self.inner.conn()?;
        let mut tx = c.transaction().map_err(db)?;
        let rows = tx
            .query(
                "SELECT rand, sres, kc FROM gsm_triplet WHERE imsi = $1
                 ORDER BY used, seq LIMIT $2 FOR UPDATE",
                &[&imsi.as_str(), &(n as i64)],
            )
            .map_err(db)?;
        if rows.len() < 2 {
            return Err(HssError::UnknownSubscriber);
        }
        let bad = || HssError::Store("gsm_triplet row of the wrong size".into());
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let rand: [u8; 16] = row.get::<_, &[u8]>(0).try_into().map_err(|_| bad())?;
            let sres: [u8; 4] = row.get::<_, &[u8]>(1).try_into().map_err(|_| bad())?;
            let kc = Zeroizing::new(row.get::<_, Vec<u8>>(2));
            let kc: [u8; 8] = kc[..].try_into().map_err(|_| bad())?;
            tx.execute(
                "UPDATE gsm_triplet SET used = used + 1 WHERE imsi = $1 AND rand = $2",
                &[&imsi.as_str(), &&rand[..]],
            )
            .map_err(db)?;
            out.push(Triplet {
                rand,
                sres: Sres(sres),
                kc: Kc::new(kc),
            });
        }
        let version: i64 = tx
            .query_one(
                "SELECT coalesce(max(version), 0) FROM subscriber_change WHERE imsi = $1",
                &[&imsi.as_str()],
            )
            .map_err(db)?
            .get(0);
        tx.commit().map_err(db)?;
        Ok((out, version as u64))
    }
}
