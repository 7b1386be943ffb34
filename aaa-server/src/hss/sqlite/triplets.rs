//! Stored GSM triplets for 2G-only SIMs (no K/OPc here): the `gsm_triplet`
//! table (an additive migration, [`SCHEMA`]), hostapd's hlr_auc_gw triplet
//! file (`IMSI:Kc:SRES:RAND`, `#` comments; `subscriber import --triplets`)
//! and how [`SqliteStore::triplets`](crate::hss::Hss::triplets) hands them out.
//!
//! Like hostapd's hlr_auc_gw, stored triplets are handed out round-robin
//! (least used first), so they repeat once all were used: a 2G SIM cannot
//! tell a replayed RAND (RFC 4186 §12). Subscribers with K/OPc get fresh
//! GSM-Milenage triplets instead.

use super::{SqliteStore, bump_versions};
use crate::hss::{HssError, Imsi, Triplet};
use eap::gsm::Sres;
use eap::secret::Kc;
use rusqlite::{Transaction, TransactionBehavior, params};
use zeroize::Zeroizing;

/// The `gsm_triplet` table (schema version 2; every statement `IF NOT EXISTS`).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gsm_triplet (
    imsi TEXT NOT NULL,
    rand BLOB NOT NULL CHECK (length(rand) = 16),
    sres BLOB NOT NULL CHECK (length(sres) = 4),
    kc   BLOB NOT NULL CHECK (length(kc) = 8),
    used INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (imsi, rand)
);
";

/// One line of a triplet file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredTriplet {
    /// The subscriber.
    pub imsi: Imsi,
    /// RAND, SRES and Kc.
    pub triplet: Triplet,
}

/// A line of the file that does not parse (never echoes Kc or SRES).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{line}: {message}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn hex_n<const N: usize>(s: &str, what: &str) -> Result<Zeroizing<[u8; N]>, String> {
    let mut out = Zeroizing::new([0u8; N]);
    hex::decode_to_slice(s, &mut out[..])
        .map_err(|_| format!("{what} must be {} hex digits", 2 * N))?;
    Ok(out)
}

/// Parses hostapd's hlr_auc_gw triplet file: `IMSI:Kc:SRES:RAND` per line.
pub fn parse(text: &str) -> Result<Vec<StoredTriplet>, ParseError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let err = |message: String| ParseError {
            line: i + 1,
            message,
        };
        let f: Vec<&str> = line.split(':').map(str::trim).collect();
        if f.len() != 4 {
            return Err(err(format!(
                "expected `IMSI:Kc:SRES:RAND`, found {} fields",
                f.len()
            )));
        }
        let imsi = Imsi::parse(f[0]).map_err(|e| err(e.to_string()))?;
        let kc = hex_n::<8>(f[1], "Kc").map_err(err)?;
        let sres = hex_n::<4>(f[2], "SRES").map_err(err)?;
        let rand = hex_n::<16>(f[3], "RAND").map_err(err)?;
        out.push(StoredTriplet {
            imsi,
            triplet: Triplet {
                rand: *rand,
                sres: Sres(*sres),
                kc: Kc::new(*kc),
            },
        });
    }
    Ok(out)
}

/// What [`SqliteStore::import_triplets`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TripletImport {
    /// New triplets.
    pub added: usize,
    /// Already stored (same IMSI and RAND): SRES and Kc overwritten.
    pub replaced: usize,
}

impl SqliteStore {
    /// Stores `triplets` in one transaction (a RAND already stored for the
    /// IMSI gets the new SRES/Kc). The IMSIs get a new version, so an
    /// authentication in flight with their old triplets is rejected.
    pub fn import_triplets(&self, triplets: &[StoredTriplet]) -> Result<TripletImport, HssError> {
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let mut r = TripletImport::default();
        for t in triplets {
            let n = tx
                .prepare_cached(
                    "UPDATE gsm_triplet SET sres = ?3, kc = ?4 WHERE imsi = ?1 AND rand = ?2",
                )?
                .execute(params![
                    t.imsi.as_str(),
                    &t.triplet.rand[..],
                    &t.triplet.sres.as_bytes()[..],
                    &t.triplet.kc.expose()[..]
                ])?;
            if n == 0 {
                tx.prepare_cached(
                    "INSERT INTO gsm_triplet (imsi, rand, sres, kc) VALUES (?1, ?2, ?3, ?4)",
                )?
                .execute(params![
                    t.imsi.as_str(),
                    &t.triplet.rand[..],
                    &t.triplet.sres.as_bytes()[..],
                    &t.triplet.kc.expose()[..]
                ])?;
                r.added += 1;
            } else {
                r.replaced += 1;
            }
        }
        let mut imsis: Vec<&str> = triplets.iter().map(|t| t.imsi.as_str()).collect();
        imsis.sort_unstable();
        imsis.dedup();
        let v = bump_versions(&tx, imsis.iter().copied())?;
        tx.commit()?;
        drop(conn);
        self.changed(imsis, v);
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
        let conn = self.lock()?;
        let tx = Transaction::new_unchecked(&conn, TransactionBehavior::Immediate)?;
        let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = tx
            .prepare_cached(
                "SELECT rand, sres, kc FROM gsm_triplet WHERE imsi = ?1
                 ORDER BY used, rowid LIMIT ?2",
            )?
            .query_map(params![imsi.as_str(), n as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        if rows.len() < 2 {
            return Err(HssError::UnknownSubscriber);
        }
        let mut out = Vec::with_capacity(rows.len());
        for (rand, sres, kc) in rows {
            let bad = |_| HssError::Store("gsm_triplet row of the wrong size".into());
            let rand: [u8; 16] = rand.try_into().map_err(bad)?;
            let sres: [u8; 4] = sres.try_into().map_err(bad)?;
            let kc = Zeroizing::new(kc);
            let kc: [u8; 8] = kc[..].try_into().map_err(|_| bad(Vec::new()))?;
            tx.prepare_cached(
                "UPDATE gsm_triplet SET used = used + 1 WHERE imsi = ?1 AND rand = ?2",
            )?
            .execute(params![imsi.as_str(), &rand[..]])?;
            out.push(Triplet {
                rand,
                sres: Sres(sres),
                kc: Kc::new(kc),
            });
        }
        let version: i64 = tx.query_row(
            "SELECT coalesce(max(version), 0) FROM subscriber_change WHERE imsi = ?1",
            params![imsi.as_str()],
            |r| r.get(0),
        )?;
        tx.commit()?;
        Ok((out, version as u64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hss::Hss;

    const FILE: &str = "# IMSI:Kc:SRES:RAND\n\
        232010000000000:a0a1a2a3a4a5a6a7:d1d2d3d4:a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\n\
        232010000000000:b0b1b2b3b4b5b6b7:e1e2e3e4:b0b1b2b3b4b5b6b7b8b9babbbcbdbebf\n\
        \n232010000000000:c0c1c2c3c4c5c6c7:f1f2f3f4:c0c1c2c3c4c5c6c7c8c9cacbcccdcecf # third\n\
        232010000000001:d0d1d2d3d4d5d6d7:a1a2a3a4:d0d1d2d3d4d5d6d7d8d9dadbdcdddedf\n";

    #[test]
    fn parses_the_hostapd_format_and_names_the_line() {
        let t = parse(FILE).unwrap();
        assert_eq!(t.len(), 4);
        assert_eq!(t[2].triplet.sres, Sres([0xf1, 0xf2, 0xf3, 0xf4]));
        assert_eq!(t[3].imsi.as_str(), "232010000000001");
        let e = parse("\n232010000000000:a0a1:d1d2d3d4:00\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("Kc"), "{e}");
        assert!(!e.to_string().contains("a0a1"), "{e}");
        assert_eq!(parse("1:2:3\n").unwrap_err().line, 1);
    }

    #[test]
    fn stored_triplets_round_robin_and_one_is_not_enough() {
        let s = SqliteStore::open_in_memory().unwrap();
        let r = s.import_triplets(&parse(FILE).unwrap()).unwrap();
        assert_eq!(
            r,
            TripletImport {
                added: 4,
                replaced: 0
            }
        );
        let imsi = Imsi::parse("232010000000000").unwrap();
        let (a, v) = s.triplets(&imsi, 2).unwrap();
        assert_eq!(a.len(), 2);
        assert!(s.current(&imsi, v).unwrap());
        // Least used first: the third, then the first again.
        let (b, _) = s.triplets(&imsi, 2).unwrap();
        assert_eq!(b[0].rand[0], 0xc0);
        assert_eq!(b[1].rand[0], 0xa0);
        // A single stored triplet is not enough for EAP-SIM.
        let one = Imsi::parse("232010000000001").unwrap();
        assert_eq!(s.triplets(&one, 3), Err(HssError::UnknownSubscriber));
        // A re-import bumps the version: an authentication in flight is refused.
        let r = s.import_triplets(&parse(FILE).unwrap()[..1]).unwrap();
        assert_eq!(
            r,
            TripletImport {
                added: 0,
                replaced: 1
            }
        );
        assert!(!s.current(&imsi, v).unwrap());
    }
}
