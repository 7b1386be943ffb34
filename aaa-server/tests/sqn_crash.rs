//! SQN durability under `kill -9`: clients keep asking `aaa-server serve`
//! for AKA' Challenges (EAP-Response/Identity with a permanent NAI, never
//! answered) while the server is killed with SIGKILL at arbitrary moments
//! and restarted on the same store. Every SQN a client sees is recovered
//! from AUTN with the subscriber's K/OPc (the USIM's computation). No SQN
//! may ever be seen twice, and each incarnation must issue only SQNs above
//! everything the previous ones issued.

mod common;
use aaa_server::hss::Imsi;
use aaa_server::hss::SqliteStore;
use aaa_server::hss::sqlite::NewSubscriber;
use common::identity_access_request;
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::rfc2869;
use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

const SECRET: &[u8] = b"testing123";
const SUBSCRIBERS: u32 = 3;
const INCARNATIONS: usize = 4;

fn keys(i: u32) -> SubscriberKeys {
    let mut k = [0x11u8; 16];
    let mut opc = [0x22u8; 16];
    k[15] = i as u8;
    opc[15] = i as u8;
    SubscriberKeys::new(K::new(k), Opc::new(opc))
}

fn imsi(i: u32) -> String {
    format!("00101{:010}", i + 1)
}

/// The server process; killed (SIGKILL) on drop.
struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(conf: &Path) -> (Serve, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["serve", "--config"])
        .arg(conf)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let serve = Serve(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains("aaa-server listening") {
                let _ = tx.send(line);
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("server did not start");
    let start = line.find("auth=").unwrap() + 5;
    let addr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (serve, addr)
}

/// The SQN of the AKA'-Challenge in an Access-Challenge, as the USIM sees it.
fn sqn_of(resp: &[u8], sub: u32) -> Sqn {
    let p = Packet::decode(resp, SECRET).unwrap();
    assert_eq!(p.get_code(), Code::AccessChallenge);
    let eap = rfc2869::lookup_eap_message(&p).unwrap();
    let pkt = eap::packet::Packet::decode(&eap).unwrap();
    let (_, msg) = pkt.aka().unwrap();
    let u = keys(sub)
        .authenticate(msg.rand().unwrap(), msg.autn().unwrap())
        .expect("AUTN made with this subscriber's K/OPc");
    u.sqn
}

/// One client thread: asks for Challenges for subscriber `sub` until
/// `stop`, recording (SQN) per answer; unanswered requests (the server is
/// down) are simply not recorded.
fn client(server: SocketAddr, sub: u32, stop: Arc<AtomicBool>, seen: Arc<Mutex<Vec<(u32, Sqn)>>>) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let nai = format!("6{}@wlan.mnc001.mcc001.3gppnetwork.org", imsi(sub));
    let mut buf = [0u8; 4096];
    let mut id = 0u8;
    while !stop.load(Ordering::Relaxed) {
        id = id.wrapping_add(1);
        let req = identity_access_request(id, &nai);
        if sock.send_to(&req, server).is_err() {
            continue;
        }
        if let Ok((n, _)) = sock.recv_from(&mut buf)
            && buf[1] == id
        {
            let sqn = sqn_of(&buf[..n], sub);
            seen.lock().unwrap().push((sub, sqn));
        }
    }
}

#[test]
fn kill_9_mid_load_never_reissues_an_sqn() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("subscribers.db");
    {
        let store = SqliteStore::create(&db).unwrap();
        for i in 0..SUBSCRIBERS {
            store
                .add(&NewSubscriber {
                    imsi: Imsi::parse(&imsi(i)).unwrap(),
                    keys: keys(i),
                    amf: Amf([0x80, 0]),
                    sqn: Sqn::from_seq_ind(7, 3),
                })
                .unwrap();
        }
    }
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
         [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"testing123\"\n\
         [hss]\ndatabase = \"subscribers.db\"\n\
         [eap]\nmethods = [\"aka-prime\"]\nmax_sessions = 100000\n",
    )
    .unwrap();

    // Per incarnation: every (subscriber, SQN) a client saw.
    let mut per_run: Vec<Vec<(u32, Sqn)>> = Vec::new();
    for run in 0..INCARNATIONS {
        let (mut serve, addr) = start(&conf);
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let clients: Vec<_> = (0..SUBSCRIBERS * 2)
            .map(|c| {
                let (stop, seen) = (stop.clone(), seen.clone());
                std::thread::spawn(move || client(addr, c % SUBSCRIBERS, stop, seen))
            })
            .collect();
        // Let load build up, then SIGKILL at a moment that varies per run
        // (past the first reservation's half for run ≥ 1, so background
        // refills are in flight too).
        let t0 = Instant::now();
        let until = Duration::from_millis(250 + 150 * run as u64);
        while t0.elapsed() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        serve.0.kill().unwrap();
        serve.0.wait().unwrap();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().unwrap();
        }
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        assert!(!seen.is_empty(), "run {run}: no Challenge answered");
        per_run.push(seen);
    }

    let mut all: BTreeMap<u32, BTreeSet<u64>> = BTreeMap::new();
    let mut ceiling: BTreeMap<u32, u64> = BTreeMap::new();
    let mut total = 0;
    for (run, seen) in per_run.iter().enumerate() {
        let mut top: BTreeMap<u32, u64> = BTreeMap::new();
        for &(sub, sqn) in seen {
            total += 1;
            assert!(
                all.entry(sub).or_default().insert(sqn.value()),
                "run {run}: subscriber {sub} got SQN {sqn:?} twice"
            );
            assert!(sqn.seq() > 7, "below the provisioned SQN");
            if let Some(&prev) = ceiling.get(&sub) {
                assert!(
                    sqn.seq() > prev,
                    "run {run}: subscriber {sub} got SEQ {} after an earlier run reached {prev}",
                    sqn.seq()
                );
            }
            let t = top.entry(sub).or_default();
            *t = (*t).max(sqn.seq());
        }
        for (sub, t) in top {
            ceiling.insert(sub, t);
        }
    }
    assert!(total > 50, "only {total} challenges seen");
    eprintln!(
        "{total} challenges over {INCARNATIONS} kill -9 restarts, SEQ reached {ceiling:?}, all unique"
    );
}
