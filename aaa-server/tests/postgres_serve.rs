//! Two `aaa-server serve` nodes on one PostgreSQL database (started here,
//! tests/common/postgres.rs), with hostap's `eapol_test` 2.10 as the peer
//! (EAP-AKA', external SIM answered by a strict USIM simulator that rejects
//! any SEQ not above the last one it accepted):
//! - full authentications alternately through node A and node B: all
//!   succeed, no resynchronisation (no SQN issued twice or out of order);
//! - full authentication on A, fast re-authentication on B (a relay sends
//!   eapol_test's re-authentication to the other node), then a pseudonym
//!   issued under the shared key resolved on B;
//! - node A killed with SIGKILL and restarted: it authenticates at once,
//!   without a resynchronisation;
//! - PostgreSQL stopped: no Access-Accept, the node logs why; started again:
//!   both nodes authenticate without a restart;
//! - a group's reply attributes with a subscriber override set with
//!   `--db postgresql://…` in Access-Accept (hostap's dump);
//! - `subscriber bar --db postgresql://…`: both nodes reject the subscriber
//!   ("subscriber barred") with no vector issued and no SQN used; `unbar`
//!   lets it in again;
//! - EAP-SIM with a 2G-only SIM whose triplets were imported with
//!   `subscriber import --triplets --db postgresql://…`: through both nodes.

mod common;
#[path = "common/postgres.rs"]
mod pgsrv;

use aaa_server::hss::Imsi;
use aaa_server::hss::postgres::PgStore;
use aaa_server::hss::sqlite::NewSubscriber;
use aaa_server::privacy::{KeySet, make_pseudonym};
use common::{SECRET, tool};
use eap::aka::keys::Method;
use eap::secret::{K, Opc};
use eap::umts::{Amf, Autn, Sqn, SubscriberKeys};
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

const IMSI: &str = "001010000000042";
const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";
const KEY1: &str = "0101010101010101010101010101010101010101010101010101010101010101";

fn sub() -> SubscriberKeys {
    SubscriberKeys::new(K::new([0x46; 16]), Opc::new([0xcd; 16]))
}

/// A USIM that accepts only a SEQ above the last accepted one (stricter
/// than TS 33.102 Annex C's IND array) and counts what it did.
#[derive(Default)]
struct Usim {
    sqn_ms: u64,
    auths: u32,
    resyncs: u32,
}

impl Usim {
    fn answer(&mut self, rand_hex: &str, autn_hex: &str) -> String {
        let mut rand = [0u8; 16];
        let mut autn = [0u8; 16];
        if hex::decode_to_slice(rand_hex, &mut rand).is_err()
            || hex::decode_to_slice(autn_hex, &mut autn).is_err()
        {
            return "UMTS-FAIL".into();
        }
        let Ok(u) = sub().authenticate(&rand, &Autn(autn)) else {
            return "UMTS-FAIL".into();
        };
        if u.sqn.seq() <= self.sqn_ms {
            self.resyncs += 1;
            let ms = Sqn::from_seq_ind(self.sqn_ms, 0);
            return format!("UMTS-AUTS:{}", hex::encode(sub().auts(&rand, ms).0));
        }
        self.sqn_ms = u.sqn.seq();
        self.auths += 1;
        format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        )
    }
}

/// `aaa-server serve` on `[hss] backend = "postgres"`.
struct Node {
    child: Child,
    auth: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Node {
    fn start(url: &str) -> Self {
        Node::start_with(url, "\"aka-prime\"")
    }

    /// `methods`: the TOML array's items.
    fn start_with(url: &str, methods: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("aaa.toml");
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
                 [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
                 [hss]\nbackend = \"postgres\"\nurl = \"{url}\"\n\
                 [eap]\nmethods = [{methods}]\n\
                 [privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{KEY1}\"\n"
            ),
        )
        .unwrap();
        let check = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--check", "--config"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "serve --check: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let logs = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let l = logs.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if line.contains("aaa-server listening") {
                    let _ = tx.send(line.clone());
                }
                l.lock().unwrap().push(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("node did not start: {:#?}", logs.lock().unwrap()));
        let start = line.find("auth=").unwrap() + 5;
        let auth = line[start..]
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        Node {
            child,
            auth,
            logs,
            _dir: dir,
        }
    }

    fn results(&self) -> Vec<String> {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains("authentication finished"))
            .map(|l| {
                let s = l.find("result=").map_or(0, |i| i + 7);
                let r = &l[s..];
                let end = r.find(" round_trips=").unwrap_or(r.len());
                r[..end].trim_matches('"').to_owned()
            })
            .collect()
    }

    fn wait_results(&self, n: usize) -> Vec<String> {
        for _ in 0..200 {
            let r = self.results();
            if r.len() >= n {
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.results()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends eapol_test's requests to `a` until the first Access-Accept, then to `b`.
struct Relay {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(a: SocketAddr, b: SocketAddr) -> Self {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        }
        let port = front.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepts = Arc::new(AtomicU32::new(0));
        let st = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peer = None;
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::SeqCst) {
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    peer = Some(from);
                    let to = if accepts.load(Ordering::SeqCst) == 0 {
                        a
                    } else {
                        b
                    };
                    let _ = back.send_to(&buf[..n], to);
                }
                if let (Ok((n, _)), Some(p)) = (back.recv_from(&mut buf), peer) {
                    if n > 0 && buf[0] == 2 {
                        accepts.fetch_add(1, Ordering::SeqCst);
                    }
                    let _ = front.send_to(&buf[..n], p);
                }
            }
        });
        Relay {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn eapol_test(port: u16, network: &str, reauths: u32, usim: &mut Usim) -> (bool, String) {
    let bin = tool("eapol_test").expect("checked by caller");
    let (ok, out, _) =
        common::eapol_test_external_sim(&bin, SECRET, port, "AKA'", network, reauths, |r, a| {
            usim.answer(r, a)
        });
    (ok, out)
}

fn mppe_ok(stdout: &str, n: u32) -> bool {
    stdout.contains(&format!("MPPE keys OK: {n}  mismatch: 0"))
        || stdout.contains(&format!("MPPE keys OK: {n} mismatch: 0"))
}

#[test]
fn two_nodes_one_database_eapol_test() {
    if tool("eapol_test").is_none() {
        return;
    }
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let url = pg.url("aaa");
    PgStore::open(&url, None, 1)
        .unwrap()
        .add(&NewSubscriber {
            imsi: Imsi::parse(IMSI).unwrap(),
            keys: sub(),
            amf: Amf([0x80, 0]),
            sqn: Sqn::from_seq_ind(0, 0),
        })
        .unwrap();
    let mut a = Node::start(&url);
    let b = Node::start(&pg.conninfo("aaa"));
    let permanent = format!("6{IMSI}@{REALM}");
    let identity = format!("  identity=\"{permanent}\"\n");
    let mut usim = Usim::default();

    // Full authentications alternately through A and B.
    for i in 0..4 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (ok, out) = eapol_test(node.auth.port(), &identity, 0, &mut usim);
        assert!(ok && mppe_ok(&out, 1), "run {i}:\n{out}");
    }
    assert_eq!((usim.auths, usim.resyncs), (4, 0));

    // Full on A, fast re-authentication on B.
    let relay = Relay::start(a.auth, b.auth);
    let (ok, out) = eapol_test(relay.port, &identity, 1, &mut usim);
    assert!(ok && mppe_ok(&out, 2), "A then B:\n{out}");
    drop(relay);
    assert_eq!(
        a.wait_results(3).last().map(String::as_str),
        Some("success")
    );
    assert_eq!(
        b.wait_results(3).last().map(String::as_str),
        Some("success (fast re-authentication)"),
        "fast re-authentication on B"
    );
    assert_eq!(
        (usim.auths, usim.resyncs),
        (5, 0),
        "the re-authentication used no vector"
    );

    // A pseudonym under the shared key resolves on B.
    let keys = KeySet::from_config(1, &[(1, KEY1)]).unwrap();
    let pseudonym = make_pseudonym(&keys, Method::AkaPrime, &format!("6{IMSI}"), [9; 16]).unwrap();
    let (ok, out) = eapol_test(
        b.auth.port(),
        &format!("{identity}  anonymous_identity=\"{pseudonym}@{REALM}\"\n"),
        0,
        &mut usim,
    );
    assert!(ok && mppe_ok(&out, 1), "pseudonym on B:\n{out}");

    // SIGKILL A and restart it: no SQN reissued, no resync.
    unsafe { libc::kill(a.child.id() as i32, libc::SIGKILL) };
    let _ = a.child.wait();
    a = Node::start(&url);
    for i in 0..2 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (ok, out) = eapol_test(node.auth.port(), &identity, 0, &mut usim);
        assert!(ok && mppe_ok(&out, 1), "after the restart, run {i}:\n{out}");
    }
    assert_eq!((usim.auths, usim.resyncs), (8, 0));

    // PostgreSQL down: no Access-Accept without a durable SQN; back up: the
    // nodes recover without a restart.
    pg.stop_server();
    let (ok, out) = eapol_test(b.auth.port(), &identity, 0, &mut usim);
    assert!(
        !ok && !mppe_ok(&out, 1),
        "accepted with the database down:\n{out}"
    );
    assert_eq!(
        usim.auths, 8,
        "no vector reached the USIM while the database was down"
    );
    assert!(
        b.logs
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("PostgreSQL")),
        "the node says why: {:#?}",
        b.logs.lock().unwrap()
    );
    pg.start_server();
    for i in 0..2 {
        let node = if i % 2 == 0 { &a } else { &b };
        let (ok, out) = eapol_test(node.auth.port(), &identity, 0, &mut usim);
        assert!(
            ok && mppe_ok(&out, 1),
            "after the database came back, run {i}:\n{out}\nnode log: {:#?}",
            node.logs.lock().unwrap()
        );
    }
    assert_eq!((usim.auths, usim.resyncs), (10, 0));
}

fn bar_cli(url: &str, cmd: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["subscriber", cmd, "--db", url, "--imsi", IMSI])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "subscriber {cmd}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn barred_subscriber_is_rejected_by_every_node_without_an_sqn() {
    if tool("eapol_test").is_none() {
        return;
    }
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let url = pg.url("aaa");
    let store = PgStore::open(&url, None, 1).unwrap();
    let imsi = Imsi::parse(IMSI).unwrap();
    store
        .add(&NewSubscriber {
            imsi: imsi.clone(),
            keys: sub(),
            amf: Amf([0x80, 0]),
            sqn: Sqn::from_seq_ind(0, 0),
        })
        .unwrap();
    let a = Node::start(&url);
    let b = Node::start(&url);
    let identity = format!("  identity=\"6{IMSI}@{REALM}\"\n");
    let mut usim = Usim::default();
    // Group attributes with the subscriber's own VLAN over the group's.
    let cli = |args: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["subscriber"])
            .args(args)
            .args(["--db", &url])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    cli(&[
        "group",
        "add",
        "gold",
        "--vlan",
        "10",
        "--session-timeout",
        "3600",
    ]);
    cli(&["set", "--imsi", IMSI, "--group", "gold", "--vlan", "20"]);
    let (ok, out) = eapol_test(a.auth.port(), &identity, 0, &mut usim);
    assert!(ok && mppe_ok(&out, 1), "before the bar:\n{out}");
    // hostap's dump of the Access-Accept: the group's Session-Timeout, and
    // Tunnel-Private-Group-ID tag 0x01 "20" (the subscriber's VLAN).
    assert!(
        out.contains("Attribute 27 (Session-Timeout) length=6")
            && out.contains("Attribute 81 (Tunnel-Private-Group-Id) length=5\n      Value: 013230"),
        "reply attributes:\n{out}"
    );

    bar_cli(&url, "bar");
    let stored = store.stored_sqn(&imsi).unwrap();
    // A logged one success before; B nothing yet.
    for (node, n) in [(&a, 2), (&b, 1)] {
        let (ok, out) = eapol_test(node.auth.port(), &identity, 0, &mut usim);
        assert!(
            !ok && !mppe_ok(&out, 1),
            "a barred subscriber got in:\n{out}"
        );
        assert_eq!(
            node.wait_results(n).last().map(String::as_str),
            Some("subscriber barred"),
            "{:#?}",
            node.logs.lock().unwrap()
        );
    }
    assert_eq!(usim.auths, 1, "no vector reached the USIM while barred");
    assert_eq!(
        store.stored_sqn(&imsi).unwrap(),
        stored,
        "no SQN used while barred"
    );

    bar_cli(&url, "unbar");
    let (ok, out) = eapol_test(b.auth.port(), &identity, 0, &mut usim);
    assert!(ok && mppe_ok(&out, 1), "after unbar:\n{out}");
    assert_eq!((usim.auths, usim.resyncs), (2, 0));
}

#[test]
fn eap_sim_with_imported_triplets_through_both_nodes() {
    if tool("eapol_test").is_none() {
        return;
    }
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    pg.create_db("aaa");
    let url = pg.url("aaa");
    let imsi = "001010000000077";
    let dir = tempfile::tempdir().unwrap();
    let mut file = String::from("# IMSI:Kc:SRES:RAND\n");
    let mut sim = std::collections::HashMap::new();
    for i in 1..=6u8 {
        let (kc, sres, rand) = ([i; 8], [0x50 + i; 4], [0xa0 + i; 16]);
        file.push_str(&format!(
            "{imsi}:{}:{}:{}\n",
            hex::encode(kc),
            hex::encode(sres),
            hex::encode(rand)
        ));
        sim.insert(
            hex::encode(rand),
            format!("{}:{}", hex::encode(kc), hex::encode(sres)),
        );
    }
    let path = dir.path().join("triplets.txt");
    std::fs::write(&path, file).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["subscriber", "import", "--db", &url, "--triplets"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = Node::start_with(&url, "\"sim\"");
    let b = Node::start_with(&url, "\"sim\"");
    let bin = tool("eapol_test").unwrap();
    let identity = format!("  identity=\"1{imsi}@{REALM}\"\n");
    for node in [&a, &b] {
        let (ok, out, _) = common::eapol_test_external_sim(
            &bin,
            SECRET,
            node.auth.port(),
            "SIM",
            &identity,
            0,
            |kind, rands| {
                assert_eq!(kind, "GSM-AUTH");
                let mut a = String::from("GSM-AUTH");
                for r in rands.split(':') {
                    a.push(':');
                    a.push_str(sim.get(r).map_or("00:00", String::as_str));
                }
                a
            },
        );
        assert!(
            ok && mppe_ok(&out, 1),
            "EAP-SIM:\n{out}\n{:#?}",
            node.logs.lock().unwrap()
        );
    }
}
