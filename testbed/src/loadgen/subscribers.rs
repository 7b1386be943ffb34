//! The load generator's subscribers: a reproducible set (IMSI, K, OPc derived
//! from the index and a seed) so the server's store and the load generator's
//! simulated USIMs agree without exchanging keys, plus provisioning through
//! `aaa-server subscriber import` (hostapd's milenage_db format).

use eap::identity::MncLen;
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;
use supplicant::nas::card::SimulatedCard;
use supplicant::nas::exchange::calling_station_id;
use supplicant::peer::{Methods, PeerConfig};
use supplicant::usim::Usim;
use supplicant::usim::sim::{MemoryStore, Simulator};

/// MCC‖MNC of every load-generator subscriber (the test PLMN 001/01).
pub const PLMN: &str = "00101";
/// The first MSIN digit of every load-generator subscriber: the README's
/// example IMSIs (`001010…`) are never among them.
pub const MSIN_LEAD: char = '9';
/// Subscribers the IMSI range holds (`001019` + 9 digits).
pub const MAX_SUBSCRIBERS: u32 = 1_000_000_000;
/// The stored AMF: the separation bit set, so hostapd's AKA' (through
/// hlr-gw, which does not know the method) gets acceptable vectors.
pub const AMF_HEX: &str = "8000";

/// The IMSI of subscriber `index` (below [`MAX_SUBSCRIBERS`]): `001019`
/// followed by the index in 9 digits.
pub fn imsi(index: u32) -> String {
    format!("{PLMN}{MSIN_LEAD}{index:09}")
}

/// `n` subscribers fit the IMSI range.
pub fn check_count(n: u32) -> Result<(), String> {
    if n > MAX_SUBSCRIBERS {
        return Err(format!(
            "--subscribers {n}: at most {MAX_SUBSCRIBERS} (IMSIs {PLMN}{MSIN_LEAD} + 9 digits)"
        ));
    }
    Ok(())
}

fn derive(seed: u64, label: &str, index: u32) -> [u8; 16] {
    let mut h = Sha256::new();
    h.update(b"passpoint-aka loadgen ");
    h.update(label.as_bytes());
    h.update(seed.to_be_bytes());
    h.update(index.to_be_bytes());
    let d = h.finalize();
    let mut out = [0u8; 16];
    out.copy_from_slice(&d[..16]);
    out
}

/// K and OPc of subscriber `index` under `seed` (test keys, derived, not secret).
pub fn keys(seed: u64, index: u32) -> SubscriberKeys {
    SubscriberKeys::new(
        K::new(derive(seed, "K", index)),
        Opc::new(derive(seed, "OPc", index)),
    )
}

/// The milenage_db text (`IMSI Ki OPc AMF SQN`) for subscribers `0..n`.
pub fn milenage_db(seed: u64, n: u32) -> String {
    let mut s = String::with_capacity(n as usize * 90);
    s.push_str("# passpoint-aka loadgen subscribers (derived test keys)\n");
    for i in 0..n {
        s.push_str(&format!(
            "{} {} {} {AMF_HEX} 000000000000\n",
            imsi(i),
            hex::encode(derive(seed, "K", i)),
            hex::encode(derive(seed, "OPc", i))
        ));
    }
    s
}

/// Writes the milenage_db for `n` subscribers to a temporary file in `dir`
/// (0600: it holds keys; removed afterwards) and imports it into `db` with
/// `aaa-server subscriber import`. An existing subscriber with the same
/// keys keeps its (higher) SQN; one with other K/OPc/AMF is never changed:
/// the import is refused, naming the IMSI, unless `overwrite` (`--force`,
/// passed on as `--update`).
pub fn provision(
    aaa_server: &Path,
    db: &Path,
    dir: &Path,
    seed: u64,
    n: u32,
    overwrite: bool,
) -> Result<(), String> {
    check_count(n)?;
    let mut f = tempfile::Builder::new()
        .prefix(".loadgen-")
        .suffix(".milenage_db")
        .tempfile_in(dir)
        .map_err(|e| format!("{}: temporary milenage_db: {e}", dir.display()))?;
    f.write_all(milenage_db(seed, n).as_bytes())
        .and_then(|()| f.flush())
        .map_err(|e| format!("{}: {e}", f.path().display()))?;
    let mut cmd = std::process::Command::new(aaa_server);
    cmd.arg("subscriber")
        .arg("import")
        .arg("--db")
        .arg(db)
        .arg("--milenage-db")
        .arg(f.path());
    if overwrite {
        cmd.arg("--update");
    }
    let out = cmd
        .output()
        .map_err(|e| format!("{}: {e}", aaa_server.display()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let hint = if why.contains("--update") {
            "; the load generator never changes an existing subscriber's K/OPc/AMF (--force overwrites them)"
        } else {
            ""
        };
        return Err(format!("aaa-server subscriber import failed: {why}{hint}"));
    }
    Ok(())
}

/// One simulated subscriber: the supplicant's USIM simulator behind its USIM
/// client (the same APDUs a real card gets), and the peer configuration.
pub struct Card {
    /// Subscriber index.
    pub index: u32,
    /// The USIM, ADF selected.
    pub usim: Usim<Simulator<MemoryStore>>,
    /// The peer configuration (IMSI, 3GPP realm, methods).
    pub peer: PeerConfig,
}

impl std::fmt::Debug for Card {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Card").field("index", &self.index).finish()
    }
}

impl Card {
    /// Subscriber `index` with its SEQ_MS starting at `seq_ms` (0 for a
    /// fresh card; above the HSS to force a resynchronisation).
    pub fn new(seed: u64, index: u32, seq_ms: u64, methods: Methods) -> Result<Self, String> {
        let c = SimulatedCard::new(
            &imsi(index),
            MncLen::Two,
            keys(seed, index),
            Sqn::from_seq_ind(seq_ms, 0),
            methods,
            None,
        )
        .map_err(|e| e.to_string())?;
        Ok(Self {
            index,
            usim: c.usim,
            peer: c.peer,
        })
    }

    /// Calling-Station-Id `02-00-` followed by the index.
    pub fn calling_station_id(&self) -> Vec<u8> {
        let i = self.index.to_be_bytes();
        calling_station_id([2, 0, i[0], i[1], i[2], i[3]])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eap::aka::keys::Method;
    use eap::umts::Amf;
    use supplicant::usim::AuthResult;

    #[test]
    fn reproducible_and_distinct() {
        assert_eq!(imsi(7), "001019000000007");
        assert_eq!(imsi(MAX_SUBSCRIBERS - 1), "001019999999999");
        assert!(check_count(MAX_SUBSCRIBERS).is_ok());
        assert!(check_count(MAX_SUBSCRIBERS + 1).is_err());
        let a = keys(1, 5);
        let b = keys(1, 5);
        assert_eq!(a.k.expose(), b.k.expose());
        assert_ne!(keys(1, 6).k.expose(), a.k.expose());
        assert_ne!(keys(2, 5).k.expose(), a.k.expose());
        let db = milenage_db(1, 3);
        let line = db.lines().nth(1).unwrap();
        let f: Vec<&str> = line.split(' ').collect();
        assert_eq!(f[0], imsi(0));
        assert_eq!(f[1], hex::encode(keys(1, 0).k.expose()));
        assert_eq!(f[2], hex::encode(keys(1, 0).opc.expose()));
        assert_eq!(db.lines().count(), 4);
    }

    #[test]
    fn card_answers_a_vector_from_the_same_keys() {
        let mut c = Card::new(9, 3, 0, Methods::only(Method::Aka)).unwrap();
        let hss = keys(9, 3);
        let av = hss.generate_vector(Sqn::from_seq_ind(1, 1), Amf([0x80, 0]), [5; 16]);
        match c.usim.authenticate(&[5; 16], &av.autn).unwrap() {
            AuthResult::Success { res, .. } => assert!(res.ct_eq(&av.xres)),
            other => panic!("{other:?}"),
        }
        assert!(
            c.peer
                .permanent_identity(Method::Aka)
                .starts_with("0001019000000003@")
        );
    }
}
