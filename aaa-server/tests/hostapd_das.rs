//! Disconnect-Requests (RFC 5176) against hostapd's Dynamic Authorization
//! Server (`radius_das_port`, `radius_das_client`, Event-Timestamp and
//! Message-Authenticator required). hostapd runs with `driver=none` (no
//! stations), so it answers every well-formed, authenticated request with a
//! Disconnect-NAK, Error-Cause 503 (Session-Context-Not-Found); a request
//! it could not authenticate it would drop silently. Covered: the session
//! table built from an Accounting-Start, `session list`, `session
//! disconnect --imsi`, and the watcher of a running `serve` sending a
//! Disconnect-Request when the subscriber is barred; with an SQLite store
//! and with a real PostgreSQL (`[hss] backend = "postgres"`).

mod common;
#[path = "common/postgres.rs"]
mod pgsrv;

use common::{KillOnDrop, SECRET, tool, vector_subscriber};
use std::io::{BufRead, Read, Write};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Lines of a child's stderr/stdout, collected by a thread.
fn collect(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(r).lines().map_while(Result::ok) {
            l.lock().unwrap().push(line);
        }
    });
    lines
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

fn aaa(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &std::process::Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// GET /metrics: the body.
fn scrape(addr: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    body.to_string()
}

/// `promtool check metrics` on `text`: passed, and what it said.
fn promtool_check(bin: &std::path::Path, text: &str) -> (bool, String) {
    let mut child = Command::new(bin)
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
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn disconnects_reach_hostapd_das_by_hand_and_when_a_subscriber_is_barred() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir
        .path()
        .join("subscribers.db")
        .to_str()
        .unwrap()
        .to_owned();
    disconnects(dir, &db, "[hss]\ndatabase = \"subscribers.db\"\n");
}

#[test]
fn disconnects_reach_hostapd_das_with_a_postgresql_store() {
    if tool("hostapd").is_none() {
        return;
    }
    let Some(pg) = pgsrv::Postgres::start() else {
        return;
    };
    let url = pg.url("postgres");
    disconnects(
        tempfile::tempdir().unwrap(),
        &url,
        &format!(
            "[privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{}\"\n\
             [hss]\nbackend = \"postgres\"\nurl = \"{url}\"\n",
            "01".repeat(32)
        ),
    );
}

/// `db`: the `--db` of the CLI; `hss`: the server's `[hss]` section.
fn disconnects(dir: tempfile::TempDir, db: &str, hss: &str) {
    let (Some(hostapd), Some(promtool)) = (tool("hostapd"), tool("promtool")) else {
        return;
    };
    let das_port = free_udp_port();
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
    let hlog = collect(h.stdout.take().unwrap());
    assert!(
        wait_for(&hlog, "AP-ENABLED", 10).is_some(),
        "hostapd did not start:\n{:#?}",
        hlog.lock().unwrap()
    );

    // The store and a server whose client names hostapd's DAS.
    let (imsi, k, opc) = vector_subscriber(0);
    ok(&aaa(&[
        "subscriber",
        "add",
        "--db",
        db,
        "--imsi",
        &imsi,
        "--k",
        &hex::encode(k),
        "--opc",
        &hex::encode(opc),
    ]));
    let conf = dir.path().join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:0\"\naccounting_listen = \"127.0.0.1:0\"\n\
             [[client]]\nname = \"ap1\"\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
             das = \"127.0.0.1:{das_port}\"\n\
             {hss}[eap]\nmethods = [\"aka-prime\"]\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\n"
        ),
    )
    .unwrap();
    let mut srv = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["serve", "--config"])
        .arg(&conf)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _s_guard = KillOnDrop(srv.id());
    let slog = collect(srv.stderr.take().unwrap());
    let line = wait_for(&slog, "aaa-server listening", 20)
        .unwrap_or_else(|| panic!("server did not start: {:#?}", slog.lock().unwrap()));
    let metrics_line = wait_for(&slog, "metrics endpoint listening", 1).expect("metrics line");
    let metrics_addr = metrics_line[metrics_line.find("addr=").unwrap() + 5..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let watcher = wait_for(&slog, "disconnect watcher started", 1).expect("watcher line");
    let watcher_port: u16 = watcher[watcher.find("local=").unwrap() + 6..]
        .split_whitespace()
        .next()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let before = scrape(&metrics_addr);
    assert!(
        before.contains("aaa_das_requests_total{kind=\"disconnect\"} 0"),
        "{before}"
    );
    let acct: SocketAddr = line[line.find("accounting=").unwrap() + 11..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();

    // Accounting-Start of a session of this subscriber.
    let user = format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let req = accounting_request(
        1,
        &[
            (40, 1u32.to_be_bytes().to_vec()),
            (44, b"SESSION-0001".to_vec()),
            (1, user.clone().into_bytes()),
            (31, b"02-00-00-00-00-01".to_vec()),
            (32, b"ap1".to_vec()),
        ],
    );
    sock.send_to(&req, acct).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).expect("Accounting-Response");
    assert_eq!(buf[0], 5, "Accounting-Response: {:?}", &buf[..n]);

    let list = ok(&aaa(&["session", "list", "--db", db, "--imsi", &imsi]));
    assert!(
        list.contains("SESSION-0001") && list.contains("02-00-00-00-00-01"),
        "{list}"
    );

    // By hand: hostapd authenticates the request and finds no such station.
    let o = aaa(&[
        "session",
        "disconnect",
        "--config",
        conf.to_str().unwrap(),
        "--imsi",
        &imsi,
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "a NAK is not success: {out}");
    assert!(
        out.contains(&format!(
            "SESSION-0001: NAK from 127.0.0.1:{das_port} (Error-Cause 503)"
        )),
        "{out}\n{}\nhostapd:\n{:#?}",
        String::from_utf8_lossy(&o.stderr),
        hlog.lock().unwrap()
    );
    // hostapd took the request apart (authenticator, Event-Timestamp and
    // Message-Authenticator verified) and looked for the station.
    assert!(
        wait_for(&hlog, "RADIUS DAS: No Calling-Station-Id match", 2).is_some(),
        "hostapd log: {:#?}",
        hlog.lock().unwrap()
    );

    // Barring the subscriber: the running server sends the Disconnect-Request itself.
    ok(&aaa(&["subscriber", "bar", "--db", db, "--imsi", &imsi]));
    assert!(
        wait_for(&slog, "Disconnect-Request sent", 3)
            .is_some_and(|l| l.contains("subscriber barred")),
        "{:#?}",
        slog.lock().unwrap()
    );
    assert!(
        wait_for(&slog, "Disconnect-Request refused (NAK)", 3).is_some_and(|l| l.contains("503")),
        "{:#?}",
        slog.lock().unwrap()
    );
    // A datagram on the watcher's socket that answers nothing: dropped, counted.
    sock.send_to(b"not a CoA-ACK", ("127.0.0.1", watcher_port))
        .unwrap();
    assert!(
        wait_for(&slog, "DAS response dropped", 3).is_some_and(|l| l.contains("malformed")),
        "{:#?}",
        slog.lock().unwrap()
    );
    // The exchange at /metrics: one request, hostapd's NAK by its
    // Error-Cause, nothing given up; the stray datagram dropped.
    let body = scrape(&metrics_addr);
    for sample in [
        "aaa_das_requests_total{kind=\"disconnect\"} 1",
        "aaa_das_requests_total{kind=\"coa\"} 0",
        "aaa_das_naks_total{kind=\"disconnect\",error_cause=\"503\"} 1",
        "aaa_das_acks_total{kind=\"disconnect\"} 0",
        "aaa_das_timeouts_total{kind=\"disconnect\"} 0",
        "aaa_das_responses_dropped_total{reason=\"unsolicited\"} 0",
        "aaa_das_responses_dropped_total{reason=\"malformed\"} 1",
        "aaa_das_coa_fallbacks_total 0",
    ] {
        assert!(body.lines().any(|l| l == sample), "{sample} not in\n{body}");
    }
    let (passed, report) = promtool_check(&promtool, &body);
    assert!(passed, "promtool check metrics:\n{report}\n{body}");
    println!(
        "aaa_das_* after the barring:\n{}",
        body.lines()
            .filter(|l| l.starts_with("aaa_das_"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // SAFETY: signals our own child process, not reaped yet.
    unsafe { libc::kill(srv.id() as i32, libc::SIGTERM) };
    assert!(srv.wait().unwrap().success());
    let _ = h.kill();
    let _ = h.wait();
}
