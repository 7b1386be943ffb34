//! Accounting proxying (RFC 2866 through the realm table): an
//! Accounting-Start sent to `aaa-server serve` as proxy for
//! `*.partner.example` is recorded at the home server — another `serve`
//! over UDP (its accounting port is the authentication port + 1) or over
//! RadSec, or radsecproxy over RadSec relaying to our home server, which
//! checks our hop's Request Authenticator itself — and the NAS gets an
//! Accounting-Response signed with its own secret, its Proxy-State back.
//! A home server that never answers: no Accounting-Response (the NAS
//! retries), counted and logged.

mod common;
#[path = "common/pki.rs"]
mod pki;

use common::{SECRET, Server, tool};
use std::io::BufRead;
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `aaa-server serve` with its authentication port P and accounting port
/// P + 1 (what a proxy's `udp://HOST:P` means for accounting).
/// A child process killed and reaped when dropped.
struct Reap(Child);
impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Home {
    _child: Reap,
    dir: tempfile::TempDir,
    auth: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

/// Two consecutive free UDP ports on 127.0.0.1; the first one.
fn free_pair() -> u16 {
    loop {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let p = a.local_addr().unwrap().port();
        if p < 65535 && UdpSocket::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
}

impl Home {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        aaa_server::hss::SqliteStore::create(&dir.path().join("home.db")).unwrap();
        let p = free_pair();
        let conf = dir.path().join("aaa.toml");
        std::fs::write(
            &conf,
            format!(
                "listen = \"127.0.0.1:{p}\"\naccounting_listen = \"127.0.0.1:{}\"\n\
                 [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
                 [hss]\ndatabase = \"home.db\"\n[eap]\nmethods = [\"aka-prime\"]\nnetwork_name = \"WLAN\"\n",
                p + 1
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
        let home = Home {
            _child: Reap(child),
            dir,
            auth: ([127, 0, 0, 1], p).into(),
            logs,
        };
        assert!(
            wait_log(&home.logs, "aaa-server listening").is_some(),
            "home did not start: {:#?}",
            home.logs.lock().unwrap()
        );
        home
    }

    fn db(&self) -> String {
        self.dir.path().join("home.db").display().to_string()
    }
}

fn wait_log(logs: &Mutex<Vec<String>>, needle: &str) -> Option<String> {
    for _ in 0..200 {
        if let Some(l) = logs.lock().unwrap().iter().find(|l| l.contains(needle)) {
            return Some(l.clone());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// An Accounting-Start for `user`, session `session`, with two Proxy-States
/// (RFC 2866 §3: Request Authenticator = MD5(Code‖Identifier‖Length‖16 zero
/// octets‖Attributes‖Secret)).
fn accounting_start(id: u8, user: &str, session: &str) -> Vec<u8> {
    use md5::{Digest, Md5};
    let mut p = vec![4, id, 0, 0];
    p.extend_from_slice(&[0; 16]);
    let mut add = |t: u8, v: &[u8]| {
        p.push(t);
        p.push(v.len() as u8 + 2);
        p.extend_from_slice(v);
    };
    add(40, &1u32.to_be_bytes());
    add(44, session.as_bytes());
    add(1, user.as_bytes());
    add(31, b"02-00-00-00-00-01");
    add(32, b"ap1");
    add(33, b"nas-hop-1");
    add(33, b"nas-hop-2");
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    let mut h = Md5::new();
    h.update(&p);
    h.update(SECRET.as_bytes());
    let a = h.finalize();
    p[4..20].copy_from_slice(&a);
    p
}

/// Sends `req` to `to`; the answer, or `None` after `wait`.
fn ask(to: SocketAddr, req: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    s.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}

fn proxy_states(p: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut i = 20;
    while i + 2 <= p.len() {
        let l = usize::from(p[i + 1]);
        if p[i] == 33 {
            out.push(p[i + 2..i + l].to_vec());
        }
        i += l.max(2);
    }
    out
}

/// Sends an Accounting-Start for a `*.partner.example` user to the proxy's
/// accounting port and checks the Accounting-Response it gets.
fn start_through(visited: &Server, id: u8, session: &str) -> Vec<u8> {
    let req = accounting_start(id, "6001010000000001@wlan.partner.example", session);
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&req[4..20]);
    let resp = ask(visited.acct, &req, Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no Accounting-Response; proxy: {:#?}", visited.logs()));
    assert_eq!(
        (resp[0], resp[1]),
        (5, id),
        "Accounting-Response, our Identifier"
    );
    assert!(
        aaa_server::proxy::acct::check_accounting_response(&resp, &auth, SECRET.as_bytes()),
        "signed for the NAS"
    );
    assert_eq!(
        proxy_states(&resp),
        [b"nas-hop-1".to_vec(), b"nas-hop-2".to_vec()]
    );
    // A retransmission gets the same answer (RFC 5080 §2.2.2).
    assert_eq!(
        ask(visited.acct, &req, Duration::from_secs(5)),
        Some(resp.clone())
    );
    resp
}

fn session_list(db: &str) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["session", "list", "--db", db])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn visited_toml(servers: &str, extra: &str) -> String {
    format!(
        "[[realm]]\nname = \"wlan.mnc001.mcc001.3gppnetwork.org\"\naction = \"local\"\n\
         [[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
         servers = [{servers}]\nsecret = \"{SECRET}\"\n\
         [proxy]\ntimeout = 1\nretries = 0\noperator_name = \"1visited.example\"\n{extra}"
    )
}

#[test]
fn accounting_start_through_the_udp_proxy_is_recorded_at_home() {
    let home = Home::start();
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &visited_toml(&format!("\"udp://{}\"", home.auth), ""),
    );
    start_through(&visited, 7, "SESSION-UDP-1");
    let list = session_list(&home.db());
    assert!(
        list.contains("SESSION-UDP-1") && list.contains("02-00-00-00-00-01"),
        "{list}\nhome: {:#?}",
        home.logs.lock().unwrap()
    );
    let visited_db = visited.dir.path().join("subscribers.db");
    assert!(
        !session_list(visited_db.to_str().unwrap()).contains("SESSION-UDP-1"),
        "forwarded, not recorded at the proxy"
    );
    assert!(visited.wait_log("proxied").is_some());

    // A local realm is still recorded here.
    let req = accounting_start(
        8,
        "6001010000000002@wlan.mnc001.mcc001.3gppnetwork.org",
        "SESSION-LOCAL-1",
    );
    let resp = ask(visited.acct, &req, Duration::from_secs(5)).expect("Accounting-Response");
    assert_eq!(resp[0], 5);
    assert!(session_list(visited_db.to_str().unwrap()).contains("SESSION-LOCAL-1"));
    assert!(!session_list(&home.db()).contains("SESSION-LOCAL-1"));
}

#[test]
fn unanswered_accounting_gets_no_response_and_is_counted() {
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &visited_toml(
            &format!("\"udp://{}\"", dead.local_addr().unwrap()),
            &format!("[metrics]\nlisten = \"{metrics}\"\n"),
        ),
    );
    let req = accounting_start(9, "6001010000000001@wlan.partner.example", "SESSION-DEAD");
    // timeout = 1 s, retries = 0: the proxy has given up well within 4 s.
    assert_eq!(ask(visited.acct, &req, Duration::from_secs(4)), None);
    assert!(
        visited.wait_log("Accounting-Request unanswered").is_some(),
        "{:#?}",
        visited.logs()
    );
    let body = scrape(metrics);
    let line = body
        .lines()
        .find(|l| l.starts_with("aaa_proxy_accounting_unanswered_total "))
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(line, "aaa_proxy_accounting_unanswered_total 1", "{body}");
}

fn scrape(addr: SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// Our home server with a RadSec listener (clients' certificates from the
/// test PKI); its RadSec address.
fn radsec_home(pki: &pki::Pki) -> (Server, SocketAddr) {
    let id = pki.leaf(
        "home",
        "aaa.home.example",
        &["DNS:aaa.home.example", "IP:127.0.0.1"],
    );
    let home = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n[[radsec.client]]\nname = \"visited\"\n",
            id.chain.display(),
            id.key.display(),
            pki.root_pem.display()
        ),
    );
    let line = home
        .wait_log("radsec listening")
        .unwrap_or_else(|| panic!("no radsec listener: {:#?}", home.logs()));
    let start = line.find("address=").unwrap() + "address=".len();
    let addr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (home, addr)
}

fn tls_client(pki: &pki::Pki) -> String {
    let id = pki.leaf(
        "visited",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    format!(
        "[tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n",
        id.chain.display(),
        id.key.display(),
        pki.root_pem.display()
    )
}

#[test]
fn accounting_start_through_the_radsec_proxy_is_recorded_at_home() {
    let pki = pki::Pki::wba_like();
    let (home, radsec) = radsec_home(&pki);
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &visited_toml(&format!("\"radsec://{radsec}\""), &tls_client(&pki)),
    );
    start_through(&visited, 11, "SESSION-TLS-1");
    let db = home.dir.path().join("subscribers.db");
    let list = session_list(db.to_str().unwrap());
    assert!(
        list.contains("SESSION-TLS-1"),
        "{list}\nhome: {:#?}\nproxy: {:#?}",
        home.logs(),
        visited.logs()
    );
}

#[test]
fn accounting_through_radsecproxy_reaches_our_home_server() {
    let Some(radsecproxy) = tool("radsecproxy") else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let hub = pki.leaf("hub", "hub.example", &["DNS:hub.example", "IP:127.0.0.1"]);
    let home = Server::start("\"aka-prime\"", &[]);
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("radsecproxy.conf");
    // radsecproxy checks our hop's Request Authenticator (secret `radsec`)
    // and makes its own for the UDP hop to the home server's accounting port.
    std::fs::write(
        &conf,
        format!(
            "ListenTLS 127.0.0.1:{tls_port}\nListenUDP 127.0.0.1:0\nLogLevel 4\n\
             tls default {{\n  CACertificateFile {}\n  CertificateFile {}\n  CertificateKeyFile {}\n}}\n\
             client visited {{\n  host 127.0.0.1\n  type tls\n  secret radsec\n\
             \x20 CertificateNameCheck off\n\
             \x20 MatchCertificateAttribute SubjectAltName:DNS:/^proxy\\.visited\\.example$/\n}}\n\
             server homeacct {{\n  host 127.0.0.1\n  port {}\n  type udp\n  secret {SECRET}\n}}\n\
             realm * {{\n  accountingServer homeacct\n}}\n",
            pki.root_pem.display(),
            hub.chain.display(),
            hub.key.display(),
            home.acct.port()
        ),
    )
    .unwrap();
    let log = dir.path().join("radsecproxy.log");
    let _hub = Reap(
        Command::new(radsecproxy)
            .args(["-f", "-d", "4", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let needle = format!(":{tls_port:04X} ");
    for _ in 0..200 {
        if std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &visited_toml(
            &format!("\"radsec://127.0.0.1:{tls_port}\""),
            &tls_client(&pki),
        ),
    );
    let req = accounting_start(12, "6001010000000001@wlan.partner.example", "SESSION-HUB-1");
    let resp = ask(visited.acct, &req, Duration::from_secs(5));
    let db = home.dir.path().join("subscribers.db");
    let list = session_list(db.to_str().unwrap());
    assert!(
        resp.as_ref().is_some_and(|r| r[0] == 5) && list.contains("SESSION-HUB-1"),
        "{resp:?}\n{list}\nradsecproxy:\n{}\nproxy: {:#?}\nhome: {:#?}",
        std::fs::read_to_string(&log).unwrap_or_default(),
        visited.logs(),
        home.logs()
    );
    let mut auth = [0u8; 16];
    auth.copy_from_slice(&req[4..20]);
    assert!(aaa_server::proxy::acct::check_accounting_response(
        &resp.unwrap(),
        &auth,
        SECRET.as_bytes()
    ));
}

/// radclient (FreeRADIUS) as the NAS: it makes its own Accounting-Request
/// and checks the Accounting-Response's authenticator with its secret.
#[test]
fn radclient_accounting_through_the_proxy_is_recorded_at_home() {
    let Some(radclient) = tool("radclient") else {
        return;
    };
    let home = Home::start();
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &visited_toml(&format!("\"udp://{}\"", home.auth), ""),
    );
    let mut child = Command::new(radclient)
        .args(["-x", "-r", "1", "-t", "5"])
        .arg(visited.acct.to_string())
        .args(["acct", SECRET])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(
                b"User-Name = \"6001010000000001@wlan.partner.example\"\n\
                  Acct-Status-Type = Start\n\
                  Acct-Session-Id = \"SESSION-RADCLIENT-1\"\n\
                  Calling-Station-Id = \"02-00-00-00-00-09\"\n\
                  NAS-Identifier = \"radclient\"\n",
            )
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("Received Accounting-Response"),
        "{text}\nproxy: {:#?}\nhome: {:#?}",
        visited.logs(),
        home.logs.lock().unwrap()
    );
    let list = session_list(&home.db());
    assert!(list.contains("SESSION-RADCLIENT-1"), "{list}");
}

#[test]
fn accounting_fails_over_to_the_next_home_server() {
    let dead = UdpSocket::bind("127.0.0.1:0").unwrap();
    let home = Home::start();
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"udp://{}\", \"udp://{}\"]\nsecret = \"{SECRET}\"\n\
             balance = \"failover\"\n[proxy]\ntimeout = 1\nretries = 0\n",
            dead.local_addr().unwrap(),
            home.auth
        ),
    );
    start_through(&visited, 13, "SESSION-FAILOVER-1");
    assert!(session_list(&home.db()).contains("SESSION-FAILOVER-1"));
    assert!(
        visited
            .wait_log("home server did not answer; marked dead")
            .is_some(),
        "{:#?}",
        visited.logs()
    );
}
