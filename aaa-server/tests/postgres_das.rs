//! Disconnect/CoA (RFC 5176) with several `serve` nodes on one PostgreSQL
//! (started here, tests/common/postgres.rs): every node's watcher sees the
//! same subscriber change, and the `das_claim` row (schema version 4) lets
//! exactly one of them send it.
//! - The store: of three stores claiming one session's Disconnect, one wins,
//!   also when 3 threads race for 40 sessions; a CoA is claimed once per new
//!   set of attributes (a change back is claimed again); ended sessions'
//!   claims are deleted, live ones kept.
//! - Three `serve` nodes whose `[[client]] das` is a UDP socket in this test
//!   acting as the NAS (it answers ACK with a correct Response
//!   Authenticator): a group change reaches the NAS as one CoA-Request, a
//!   `subscriber bar` as one Disconnect-Request, not one per node; each
//!   node's `aaa_das_requests_total` + `aaa_das_claimed_elsewhere_total`
//!   shows that all three saw the change and one sent it. A node restarted
//!   afterwards does not send that Disconnect again.
//! - Two nodes and hostapd 2.10's DAS as the NAS: one bar, one request
//!   taken apart by hostapd, one NAK (503) counted in all.

mod common;
#[path = "common/postgres.rs"]
mod pgsrv;

use aaa_server::authz::das::DasKind;
use aaa_server::hss::postgres::PgStore;
use aaa_server::hss::{AccountingLog, AccountingRecord};
use common::{KillOnDrop, SECRET, tool, vector_subscriber};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[test]
fn one_claim_per_session_and_change_across_stores() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let stores: Vec<Arc<PgStore>> = (0..3)
        .map(|_| Arc::new(PgStore::open(&pg.conninfo("postgres"), None, 1).unwrap()))
        .collect();
    assert_eq!(
        pg.psql("postgres", "SELECT max(version) FROM schema_version")
            .trim(),
        "4"
    );
    let d = DasKind::Disconnect;
    assert!(stores[0].claim_das("ap1", "s1", d, &[]).unwrap());
    assert!(!stores[1].claim_das("ap1", "s1", d, &[]).unwrap());
    assert!(!stores[2].claim_das("ap1", "s1", d, &[]).unwrap());
    assert!(
        !stores[0].claim_das("ap1", "s1", d, &[]).unwrap(),
        "once per session"
    );
    // Another client's session of the same Acct-Session-Id is its own.
    assert!(stores[1].claim_das("ap2", "s1", d, &[]).unwrap());

    // Three nodes racing for 40 sessions: one winner each.
    let threads: Vec<_> = stores
        .iter()
        .cloned()
        .map(|s| {
            std::thread::spawn(move || {
                (0..40)
                    .filter(|i| {
                        s.claim_das("race", &format!("r{i}"), DasKind::Disconnect, &[])
                            .unwrap()
                    })
                    .count()
            })
        })
        .collect();
    let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(won, 40);

    // CoA: once per new set of attributes, and again after a change back.
    let c = DasKind::Coa;
    assert!(stores[0].claim_das("ap1", "s1", c, b"A").unwrap());
    assert!(!stores[1].claim_das("ap1", "s1", c, b"A").unwrap());
    assert!(stores[1].claim_das("ap1", "s1", c, b"B").unwrap());
    assert!(!stores[2].claim_das("ap1", "s1", c, b"B").unwrap());
    assert!(stores[2].claim_das("ap1", "s1", c, b"A").unwrap());
    // The Disconnect claim of that session is unaffected.
    assert!(!stores[2].claim_das("ap1", "s1", d, &[]).unwrap());

    // Ended sessions' claims go; a live session's stays.
    stores[0]
        .record(&AccountingRecord {
            client: "ap1".into(),
            session_id: "live".into(),
            status_type: 1,
            user: "0001010000000001@x".into(),
            nas: "ap1".into(),
            delay_time: Some(0),
            ..Default::default()
        })
        .unwrap();
    assert!(stores[0].claim_das("ap1", "live", d, &[]).unwrap());
    assert_eq!(
        stores[1]
            .expire_das_claims(Duration::from_secs(3600))
            .unwrap(),
        0,
        "too young"
    );
    assert_eq!(stores[1].expire_das_claims(Duration::ZERO).unwrap(), 43);
    assert!(!stores[2].claim_das("ap1", "live", d, &[]).unwrap());
    let node = pg.psql("postgres", "SELECT node FROM das_claim");
    assert!(
        node.trim().ends_with(&format!(":{}", std::process::id())),
        "{node}"
    );
}

/// What the NAS received: (Code, the whole packet), first transmissions
/// only (a retransmission repeats Identifier and Request Authenticator).
type Received = Arc<Mutex<Vec<(u8, Vec<u8>)>>>;

/// A NAS's Dynamic Authorization Server: ACKs every Disconnect-Request
/// (40 → 41) and CoA-Request (43 → 44) with a Message-Authenticator and the
/// Response Authenticator of RFC 5176 §3.5, MD5(Code‖Identifier‖Length‖
/// Request Authenticator‖Attributes‖Secret).
fn nas() -> (SocketAddr, Received) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let got: Received = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        let mut seen = std::collections::HashSet::new();
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = sock.recv_from(&mut buf) {
            let p = buf[..n].to_vec();
            let code = match p.first() {
                Some(40) => 41,
                Some(43) => 44,
                _ => continue,
            };
            if seen.insert(p[1..20].to_vec()) {
                g.lock().unwrap().push((p[0], p.clone()));
            }
            use hmac::{Hmac, KeyInit, Mac};
            use md5::{Digest, Md5};
            // Message-Authenticator (RFC 5176 §3.3, RFC 3579 §3.2): HMAC-MD5
            // over the response with the Request Authenticator in place.
            let mut ack = vec![code, p[1], 0, 38];
            ack.extend_from_slice(&p[4..20]);
            ack.extend_from_slice(&[80, 18]);
            ack.extend_from_slice(&[0; 16]);
            let mut mac = Hmac::<Md5>::new_from_slice(SECRET.as_bytes()).unwrap();
            mac.update(&ack);
            ack[22..38].copy_from_slice(&mac.finalize().into_bytes());
            let mut h = Md5::new();
            h.update(&ack);
            h.update(SECRET.as_bytes());
            ack[4..20].copy_from_slice(&h.finalize());
            let _ = sock.send_to(&ack, from);
        }
    });
    (addr, got)
}

fn count(got: &Received, code: u8) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(c, _)| *c == code)
        .count()
}

/// The value of attribute `t` in a RADIUS packet.
fn attr(p: &[u8], t: u8) -> Option<Vec<u8>> {
    let mut rest = p.get(20..)?;
    while rest.len() >= 2 {
        let l = usize::from(rest[1]);
        if l < 2 || l > rest.len() {
            return None;
        }
        if rest[0] == t {
            return Some(rest[2..l].to_vec());
        }
        rest = &rest[l..];
    }
    None
}

fn aaa(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A `serve` node on the PostgreSQL store whose client `ap1` has `das`.
struct Node {
    child: Child,
    _guard: KillOnDrop,
    acct: SocketAddr,
    metrics: String,
    logs: Arc<Mutex<Vec<String>>>,
}

fn wait_for(lines: &Mutex<Vec<String>>, needle: &str, secs: u64) -> Option<String> {
    for _ in 0..secs * 20 {
        if let Some(l) = lines.lock().unwrap().iter().find(|l| l.contains(needle)) {
            return Some(l.clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn field(line: &str, key: &str) -> String {
    line[line.find(key).unwrap() + key.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

impl Node {
    fn start(dir: &std::path::Path, url: &str, das: SocketAddr) -> Node {
        let conf = dir.join("aaa.toml");
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
                 [[client]]\nname = \"ap1\"\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
                 das = \"{das}\"\n\
                 [hss]\nbackend = \"postgres\"\nurl = \"{url}\"\n\
                 [eap]\nmethods = [\"aka-prime\"]\n\
                 [metrics]\nlisten = \"127.0.0.1:0\"\n\
                 [privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{}\"\n",
                "01".repeat(32)
            ),
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let guard = KillOnDrop(child.id());
        let logs = Arc::new(Mutex::new(Vec::new()));
        let l = logs.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                l.lock().unwrap().push(line);
            }
        });
        let line = wait_for(&logs, "aaa-server listening", 30)
            .unwrap_or_else(|| panic!("node did not start: {:#?}", logs.lock().unwrap()));
        let m = wait_for(&logs, "metrics endpoint listening", 2).expect("metrics line");
        assert!(wait_for(&logs, "disconnect watcher started", 2).is_some());
        Node {
            child,
            _guard: guard,
            acct: field(&line, "accounting=").parse().unwrap(),
            metrics: field(&m, "addr="),
            logs,
        }
    }

    fn scrape(&self) -> String {
        let mut s = std::net::TcpStream::connect(&self.metrics).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split_once("\r\n\r\n").expect("HTTP").1.to_string()
    }

    /// The value of the sample `name` (with its labels) at /metrics.
    fn sample(&self, name: &str) -> u64 {
        let body = self.scrape();
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in\n{body}"))
    }
}

/// (sent, claimed elsewhere) of `kind` summed over `nodes`.
fn totals(nodes: &[Node], kind: &str) -> (u64, u64) {
    nodes.iter().fold((0, 0), |(s, e), n| {
        (
            s + n.sample(&format!("aaa_das_requests_total{{kind=\"{kind}\"}}")),
            e + n.sample(&format!(
                "aaa_das_claimed_elsewhere_total{{kind=\"{kind}\"}}"
            )),
        )
    })
}

/// Waits (up to 20 s) until every one of `nodes` has either sent or left
/// to another node one `kind` request; returns (sent, claimed elsewhere).
fn settle(nodes: &[Node], kind: &str) -> (u64, u64) {
    for _ in 0..200 {
        let t = totals(nodes, kind);
        if t.0 + t.1 >= nodes.len() as u64 {
            return t;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    totals(nodes, kind)
}

#[test]
fn three_nodes_send_one_coa_and_one_disconnect_per_change() {
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let promtool = tool("promtool");
    let url = pg.url("postgres");
    let (imsi, k, opc) = vector_subscriber(0);
    aaa(&[
        "subscriber",
        "add",
        "--db",
        &url,
        "--imsi",
        &imsi,
        "--k",
        &hex::encode(k),
        "--opc",
        &hex::encode(opc),
    ]);
    aaa(&[
        "subscriber",
        "group",
        "add",
        "plan",
        "--session-timeout",
        "600",
        "--db",
        &url,
    ]);
    aaa(&[
        "subscriber",
        "set",
        "--imsi",
        &imsi,
        "--group",
        "plan",
        "--db",
        &url,
    ]);
    let (das, got) = nas();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Node> = dirs
        .iter()
        .map(|d| Node::start(d.path(), &url, das))
        .collect();

    // Accounting-Start of the subscriber's session, through node 0.
    start_session(&nodes[0], &imsi, "SESSION-0042");
    // Each watcher (a scan every 250 ms) first takes note of the session
    // and its attributes: a CoA goes out on a change from what it noted.
    std::thread::sleep(Duration::from_secs(2));

    // The group's Session-Timeout changes: one CoA-Request at the NAS.
    aaa(&[
        "subscriber",
        "group",
        "set",
        "plan",
        "--session-timeout",
        "900",
        "--db",
        &url,
    ]);
    let coa = settle(&nodes, "coa");
    assert_eq!(coa, (1, 2), "(sent, claimed elsewhere) of CoA: {:#?}", got);
    assert_eq!(count(&got, 43), 1);
    let p = got.lock().unwrap()[0].1.clone();
    assert_eq!(attr(&p, 27), Some(900u32.to_be_bytes().to_vec()));
    assert_eq!(attr(&p, 44).as_deref(), Some(&b"SESSION-0042"[..]));

    // Barred: one Disconnect-Request at the NAS, not one per node.
    aaa(&["subscriber", "bar", "--db", &url, "--imsi", &imsi]);
    let disc = settle(&nodes, "disconnect");
    assert_eq!(disc, (1, 2), "(sent, claimed elsewhere) of Disconnect");
    // A second of quiet (four scans of each node): nothing more.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(count(&got, 40), 1, "{:#?}", got.lock().unwrap());
    assert_eq!(count(&got, 43), 1);
    let acks: u64 = nodes
        .iter()
        .map(|n| {
            n.sample("aaa_das_acks_total{kind=\"disconnect\"}")
                + n.sample("aaa_das_acks_total{kind=\"coa\"}")
        })
        .sum();
    assert_eq!(acks, 2, "one ACK of each, at the node that sent it");
    let sender = nodes
        .iter()
        .position(|n| n.sample("aaa_das_requests_total{kind=\"disconnect\"}") == 1)
        .unwrap();
    assert!(
        wait_for(&nodes[sender].logs, "Disconnect-Request sent", 1)
            .is_some_and(|l| l.contains("subscriber barred"))
    );
    let claims = pg.psql(
        "postgres",
        "SELECT kind, session_id FROM das_claim ORDER BY kind",
    );
    assert_eq!(claims.trim(), "coa|SESSION-0042\ndisconnect|SESSION-0042");

    // A node restarted while the subscriber is still barred and the session
    // still listed: it finds the claim and does not send again.
    let other = (sender + 1) % 3;
    let _ = nodes[other].child.kill();
    let _ = nodes[other].child.wait();
    nodes[other] = Node::start(dirs[other].path(), &url, das);
    let mut seen = 0;
    for _ in 0..100 {
        seen = nodes[other].sample("aaa_das_claimed_elsewhere_total{kind=\"disconnect\"}");
        if seen == 1 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen, 1, "the restarted node saw the claim");
    assert_eq!(count(&got, 40), 1, "{:#?}", got.lock().unwrap());

    let body = nodes[sender].scrape();
    if let Some(promtool) = promtool {
        let mut child = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (i, n) in nodes.iter().enumerate() {
        println!(
            "node {i}:\n{}",
            n.scrape()
                .lines()
                .filter(|l| l.starts_with("aaa_das_requests")
                    || l.starts_with("aaa_das_claimed")
                    || l.starts_with("aaa_das_acks"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Accounting-Start of `imsi`'s session `id` through `node`.
fn start_session(node: &Node, imsi: &str, id: &str) {
    let user = format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    sock.send_to(
        &accounting_request(
            1,
            &[
                (40, 1u32.to_be_bytes().to_vec()),
                (44, id.as_bytes().to_vec()),
                (1, user.into_bytes()),
                (31, b"02-00-00-00-00-01".to_vec()),
                (32, b"ap1".to_vec()),
            ],
        ),
        node.acct,
    )
    .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).expect("Accounting-Response");
    assert_eq!(buf[0], 5, "{:?}", &buf[..n]);
}

/// hostapd 2.10's DAS as the NAS (`driver=none`: no stations, so it NAKs
/// each authenticated Disconnect-Request with Error-Cause 503, as a NAS does
/// the duplicate of a Disconnect it already acted on). Two nodes, one bar:
/// hostapd takes one request apart, one NAK is counted in all.
#[test]
fn hostapd_gets_one_disconnect_request_from_two_nodes() {
    let Some(hostapd) = tool("hostapd") else {
        return;
    };
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let url = pg.url("postgres");
    let dir = tempfile::tempdir().unwrap();
    let das_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hconf = dir.path().join("hostapd.conf");
    std::fs::write(
        &hconf,
        format!(
            "driver=none\ninterface=das{das_port}\nlogger_stdout=-1\nlogger_stdout_level=0\n\
             radius_das_port={das_port}\nradius_das_client=127.0.0.1 {SECRET}\n\
             radius_das_require_event_timestamp=1\nradius_das_require_message_authenticator=1\n"
        ),
    )
    .unwrap();
    let mut h = Command::new(hostapd)
        .arg("-dd")
        .arg(&hconf)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _h_guard = KillOnDrop(h.id());
    let hlog = Arc::new(Mutex::new(Vec::new()));
    let l = hlog.clone();
    let out = h.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    assert!(
        wait_for(&hlog, "AP-ENABLED", 10).is_some(),
        "hostapd did not start: {:#?}",
        hlog.lock().unwrap()
    );
    let (imsi, k, opc) = vector_subscriber(1);
    aaa(&[
        "subscriber",
        "add",
        "--db",
        &url,
        "--imsi",
        &imsi,
        "--k",
        &hex::encode(k),
        "--opc",
        &hex::encode(opc),
    ]);
    let das: SocketAddr = format!("127.0.0.1:{das_port}").parse().unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let nodes: Vec<Node> = dirs
        .iter()
        .map(|d| Node::start(d.path(), &url, das))
        .collect();
    start_session(&nodes[1], &imsi, "SESSION-HOSTAPD");
    aaa(&["subscriber", "bar", "--db", &url, "--imsi", &imsi]);
    assert_eq!(settle(&nodes, "disconnect"), (1, 1));
    let naks = |nodes: &[Node]| -> u64 {
        nodes
            .iter()
            .map(|n| {
                let body = n.scrape();
                body.lines()
                    .find_map(|l| {
                        l.strip_prefix(
                            "aaa_das_naks_total{kind=\"disconnect\",error_cause=\"503\"} ",
                        )?
                        .parse::<u64>()
                        .ok()
                    })
                    .unwrap_or(0)
            })
            .sum()
    };
    let mut n = 0;
    for _ in 0..100 {
        n = naks(&nodes);
        if n > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // A second of quiet (four scans of each node): nothing more.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!((n, naks(&nodes)), (1, 1), "one NAK (503) in all");
    let matched = hlog
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.contains("RADIUS DAS: No Calling-Station-Id match"))
        .count();
    assert_eq!(matched, 1, "hostapd: {:#?}", hlog.lock().unwrap());
    let _ = h.kill();
    let _ = h.wait();
}

/// An Accounting-Request (RFC 2866 §3: Request Authenticator =
/// MD5(Code‖Identifier‖Length‖16 zero octets‖Attributes‖Secret)).
fn accounting_request(id: u8, attrs: &[(u8, Vec<u8>)]) -> Vec<u8> {
    use md5::{Digest, Md5};
    let mut p = vec![4, id, 0, 0];
    p.extend_from_slice(&[0; 16]);
    for (t, v) in attrs {
        p.push(*t);
        p.push(v.len() as u8 + 2);
        p.extend_from_slice(v);
    }
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    let mut h = Md5::new();
    h.update(&p);
    h.update(SECRET.as_bytes());
    let a = h.finalize();
    p[4..20].copy_from_slice(&a);
    p
}
