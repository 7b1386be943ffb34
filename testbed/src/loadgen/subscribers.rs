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

use super::audit::{AuditedSim, Challenge};

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

/// A `--db` argument as `aaa-server subscriber import --db` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreArg {
    /// The SQLite path or the `postgresql://` URL.
    pub arg: std::path::PathBuf,
    /// PostgreSQL (a URL), not an SQLite file.
    pub is_postgres: bool,
}

/// Reads `--db`: a `postgresql://` (or `postgres://`) URL, a libpq
/// `key=value` connection string (turned into the URL `aaa-server` takes),
/// or else an SQLite path.
pub fn store_arg(db: &Path) -> Result<StoreArg, String> {
    let Some(s) = db.to_str() else {
        return Ok(StoreArg {
            arg: db.to_path_buf(),
            is_postgres: false,
        });
    };
    if s.starts_with("postgresql://") || s.starts_with("postgres://") {
        return Ok(StoreArg {
            arg: db.to_path_buf(),
            is_postgres: true,
        });
    }
    if !looks_like_conninfo(s) {
        return Ok(StoreArg {
            arg: db.to_path_buf(),
            is_postgres: false,
        });
    }
    Ok(StoreArg {
        arg: conninfo_to_url(s)?.into(),
        is_postgres: true,
    })
}

/// `key=value …` with a libpq keyword first (an SQLite file name rarely is).
fn looks_like_conninfo(s: &str) -> bool {
    let s = s.trim_start();
    let key: String = s
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
        .collect();
    !key.is_empty() && s[key.len()..].trim_start().starts_with('=')
}

/// Percent-encodes all but RFC 3986 unreserved characters (and `keep`).
fn pct(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A libpq `key=value` string (values bare or single-quoted with `\`
/// escapes, PostgreSQL §32.1.1.1) as a `postgresql://` URL: host, port,
/// user and dbname in their places, other keys as query parameters. A
/// password is refused: it comes from PGPASSFILE.
pub fn conninfo_to_url(s: &str) -> Result<String, String> {
    let bad = |why: &str| format!("--db {s:?}: {why}");
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut it = s.chars().peekable();
    loop {
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        if it.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = it.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        if it.next() != Some('=') {
            return Err(bad(&format!("{key:?}: expected key=value")));
        }
        while it.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if it.next_if_eq(&'\'').is_some() {
            loop {
                match it.next() {
                    None => return Err(bad(&format!("{key}: unterminated quoted value"))),
                    Some('\'') => break,
                    Some('\\') => match it.next() {
                        Some(c) => value.push(c),
                        None => return Err(bad(&format!("{key}: unterminated quoted value"))),
                    },
                    Some(c) => value.push(c),
                }
            }
        } else {
            while let Some(c) = it.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    if let Some(e) = it.next() {
                        value.push(e);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        pairs.push((key, value));
    }
    let (mut host, mut port, mut user, mut dbname) = (None, None, None, None);
    let mut query = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "host" => host = Some(v),
            "port" => port = Some(v),
            "user" => user = Some(v),
            "dbname" => dbname = Some(v),
            "password" => return Err(bad("a password in --db is refused; use PGPASSFILE")),
            _ => query.push(format!("{}={}", pct(&k, b""), pct(&v, b""))),
        }
    }
    let mut url = String::from("postgresql://");
    if let Some(u) = user {
        url.push_str(&pct(&u, b""));
        url.push('@');
    }
    // libpq pairs host and port lists; one port applies to every host.
    let hosts: Vec<&str> = host.as_deref().map_or(vec![""], |h| h.split(',').collect());
    let ports: Vec<&str> = port.as_deref().map_or(vec![], |p| p.split(',').collect());
    if ports.len() > 1 && ports.len() != hosts.len() {
        return Err(bad("port: as many ports as hosts, or one"));
    }
    let hostports: Vec<String> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let p = ports.get(i).or(ports.first()).filter(|p| !p.is_empty());
            match p {
                Some(p) => format!("{}:{}", pct(h, b""), pct(p, b"")),
                None => pct(h, b""),
            }
        })
        .collect();
    url.push_str(&hostports.join(","));
    if let Some(d) = dbname {
        url.push('/');
        url.push_str(&pct(&d, b""));
    }
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    Ok(url)
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
    /// The USIM, ADF selected (the simulator, behind the SQN audit's recorder).
    pub usim: Usim<AuditedSim>,
    /// The peer configuration (IMSI, 3GPP realm, methods).
    pub peer: PeerConfig,
    /// Conversations started (picks the server of the next one).
    conversations: u64,
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
        Self::with_audit(seed, index, seq_ms, methods, false)
    }

    /// As [`Card::new`]; with `audit`, the card records every challenge's
    /// SEQ and is strict (module [`super::audit`]).
    pub fn with_audit(
        seed: u64,
        index: u32,
        seq_ms: u64,
        methods: Methods,
        audit: bool,
    ) -> Result<Self, String> {
        let c = SimulatedCard::new(
            &imsi(index),
            MncLen::Two,
            keys(seed, index),
            Sqn::from_seq_ind(seq_ms, 0),
            methods,
            None,
        )
        .map_err(|e| e.to_string())?;
        // Selected already: only the transport gains the audit's recorder.
        let audit_keys = audit.then(|| keys(seed, index));
        let usim = c.usim.map_transport(|sim| AuditedSim::new(sim, audit_keys));
        Ok(Self {
            index,
            usim,
            peer: c.peer,
            conversations: 0,
        })
    }

    /// Of `servers` servers, the one for this card's next conversation: each
    /// card goes round the servers in turn, starting at its index, so every
    /// subscriber reaches every server and the load is even.
    pub fn next_server(&mut self, servers: usize) -> usize {
        let s = (u64::from(self.index) + self.conversations) % servers.max(1) as u64;
        self.conversations += 1;
        s as usize
    }

    /// A conversation starts on server number `server` (for the audit).
    pub fn begin(&mut self, server: usize) {
        self.usim.transport_mut().begin(server);
    }

    /// The conversation ended with `outcome` (`accept` or a failure key).
    pub fn end(&mut self, outcome: &'static str) {
        self.usim.transport_mut().end(outcome);
    }

    /// The challenges recorded (empty without the audit).
    pub fn challenges(&mut self) -> &[Challenge] {
        self.usim.transport_mut().challenges()
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
    fn each_card_goes_round_the_servers_from_its_index() {
        let mut c = Card::new(1, 4, 0, Methods::only(Method::Aka)).unwrap();
        let got: Vec<usize> = (0..6).map(|_| c.next_server(3)).collect();
        assert_eq!(got, [1, 2, 0, 1, 2, 0]);
        assert_eq!(c.next_server(1), 0);
        assert_eq!(c.next_server(0), 0);
    }

    #[test]
    fn store_arguments() {
        let a = store_arg(Path::new("subscribers.db")).unwrap();
        assert!(!a.is_postgres);
        let a = store_arg(Path::new("/tmp/a b=c.db")).unwrap();
        assert!(!a.is_postgres);
        let u = "postgresql://postgres@%2Ftmp%2Fpg:5432/aaa";
        let a = store_arg(Path::new(u)).unwrap();
        assert!(a.is_postgres);
        assert_eq!(a.arg, Path::new(u));
        let a = store_arg(Path::new("host=/tmp/pg port=5432 user=postgres dbname=aaa")).unwrap();
        assert!(a.is_postgres);
        assert_eq!(a.arg, Path::new(u));
        assert_eq!(
            conninfo_to_url(
                "dbname = 'my db' host=h1,h2 application_name=lg\\ x connect_timeout=5"
            )
            .unwrap(),
            "postgresql://h1,h2/my%20db?application_name=lg%20x&connect_timeout=5"
        );
        assert_eq!(
            conninfo_to_url("host=a,b port=1,2").unwrap(),
            "postgresql://a:1,b:2"
        );
        assert!(conninfo_to_url("host=a,b port=1,2,3").is_err());
        assert_eq!(
            conninfo_to_url("dbname='it\\'s'").unwrap(),
            "postgresql:///it%27s"
        );
        assert!(
            conninfo_to_url("host=x password=secret")
                .unwrap_err()
                .contains("PGPASSFILE")
        );
        assert!(conninfo_to_url("host").is_err());
        assert!(conninfo_to_url("dbname='open").is_err());
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
