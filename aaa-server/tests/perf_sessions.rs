//! Memory per in-flight session: opens many EAP-AKA' Challenges on a running
//! `aaa-server serve` without answering them and reports the server's RSS
//! growth per session. The figure is printed, never asserted (the test
//! checks that every Challenge arrived with its own State).
//!
//! `PERF_SESSIONS` (default 3000) sets the number of sessions and
//! `AAA_SERVER_BIN` another server binary, e.g. the release build:
//! `PERF_SESSIONS=100000 AAA_SERVER_BIN=target/release/aaa-server cargo test
//! -p aaa-server --test perf_sessions -- --nocapture`.

mod common;
use aaa_server::hss::Imsi;
use aaa_server::hss::SqliteStore;
use aaa_server::hss::sqlite::NewSubscriber;
use common::identity_access_request;
use eap::secret::{K, Opc};
use eap::umts::{Amf, Sqn, SubscriberKeys};
use radius::core::code::Code;
use radius::core::packet::Packet;
use radius::core::rfc2865;
use std::collections::HashSet;
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const SECRET: &[u8] = b"testing123";
const SUBSCRIBERS: u32 = 64;
const SOCKETS: usize = 4;

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rss_kib(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = s.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Opens `n` sessions through one socket, 32 requests in flight at a time;
/// returns the States of the Challenges.
fn open_sessions(server: SocketAddr, first: usize, n: usize) -> Vec<Vec<u8>> {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut states = Vec::with_capacity(n);
    let mut buf = [0u8; 4096];
    let mut done = 0;
    while done < n {
        let window = (n - done).min(32);
        for i in 0..window {
            let sub = (first + done + i) as u32 % SUBSCRIBERS;
            let nai = format!("600101{sub:010}@wlan.mnc001.mcc001.3gppnetwork.org");
            sock.send_to(&identity_access_request(i as u8, &nai), server)
                .unwrap();
        }
        for _ in 0..window {
            let (len, _) = sock
                .recv_from(&mut buf)
                .expect("a Challenge for every request");
            let p = Packet::decode(&buf[..len], SECRET).unwrap();
            assert_eq!(p.get_code(), Code::AccessChallenge);
            states.push(rfc2865::lookup_state(&p).unwrap());
        }
        done += window;
    }
    states
}

#[test]
fn rss_growth_per_in_flight_session() {
    let sessions: usize = std::env::var("PERF_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let bin = std::env::var("AAA_SERVER_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_aaa-server").to_string());
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::create(&dir.path().join("subscribers.db")).unwrap();
    for i in 0..SUBSCRIBERS {
        let mut k = [7u8; 16];
        k[0] = i as u8;
        store
            .add(&NewSubscriber {
                imsi: Imsi::parse(&format!("00101{i:010}")).unwrap(),
                keys: SubscriberKeys::new(K::new(k), Opc::new([9; 16])),
                amf: Amf([0x80, 0]),
                sqn: Sqn::default(),
            })
            .unwrap();
    }
    drop(store);
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
             [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"testing123\"\n\
             [hss]\ndatabase = \"subscribers.db\"\n\
             [eap]\nmethods = [\"aka-prime\"]\nsession_timeout = 600\nmax_sessions = {}\n",
            sessions + 1
        ),
    )
    .unwrap();
    let mut child = Command::new(&bin)
        .args(["serve", "--config"])
        .arg(&conf)
        .env("RUST_LOG", "warn,aaa_server::server=info")
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
    let line = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    let start = line.find("auth=").unwrap() + 5;
    let addr: SocketAddr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // Warm up (allocator arenas, lazily built tables), then measure.
    let warm = open_sessions(addr, 0, 256);
    assert_eq!(warm.len(), 256);
    let before = rss_kib(serve.0.id());
    let per = sessions / SOCKETS;
    let threads: Vec<_> = (0..SOCKETS)
        .map(|t| std::thread::spawn(move || open_sessions(addr, t * per, per)))
        .collect();
    let mut states = HashSet::new();
    for t in threads {
        states.extend(t.join().unwrap());
    }
    let after = rss_kib(serve.0.id());
    assert_eq!(
        states.len(),
        per * SOCKETS,
        "every session has its own State"
    );
    let growth = after.saturating_sub(before);
    eprintln!(
        "{} sessions in flight: RSS {before} KiB -> {after} KiB, {:.3} KiB/session \
         (includes the RFC 5080 duplicate cache entry of each Challenge)",
        states.len(),
        growth as f64 / states.len() as f64
    );
}
