//! The WBA-like test PKI (tests/common/pki.rs: root → policy CA → issuing
//! CA → leaf; peers send leaf + intermediates, the root is the only anchor)
//! against peers nobody here wrote:
//!
//! - radsecproxy (Debian) carries eapol_test's EAP-AKA' to `serve` over RadSec,
//!   both sides with 4-level chains; and, as a hub, takes RadSec from `serve`
//!   as proxy and passes it on over UDP to another `serve`;
//! - `openssl s_client` presents good and bad client certificates to our
//!   RadSec server: the expired leaf, the leaf from a look-alike hierarchy
//!   (a wrong CA with the same names) and a SAN that matches no client are refused;
//! - `openssl s_server` shows the same three bad certificates to our RadSec
//!   client (the proxy): each is refused with the TLS alert for it, and the NAS
//!   gets Access-Reject.

mod common;
#[path = "common/pki.rs"]
mod pki;

use common::{SECRET, Server, tool, usim_answer, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use std::io::Write;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps the child on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The `openssl` command-line tool, or `None` with a note (fails under CI=true).
fn openssl_cli() -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("openssl"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("openssl is required in CI (Debian package openssl)");
        }
        eprintln!("NOTE: openssl not installed; this test did not run");
    }
    found
}

/// A free TCP port on 127.0.0.1.
fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something listens on TCP 127.0.0.1:`port` (/proc/net/tcp).
fn wait_listening(port: u16) {
    let needle = format!("0100007F:{port:04X} 00000000:0000 0A");
    let until = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle)) {
        assert!(Instant::now() < until, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits up to `secs` for a log line of `server` containing `needle`.
fn wait_log(server: &Server, needle: &str, secs: u64) -> String {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if let Some(l) = server.logs().into_iter().find(|l| l.contains(needle)) {
            return l;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no log line with {needle:?}: {:#?}", server.logs());
}

/// `serve` with one subscriber and `[radsec]` on the 4-level chain of
/// `aaa.home.example`, trusting only the root; client `partner-a` must have
/// a DNS SAN under `partner-a.example`. Returns the server and its RadSec address.
fn home_server(
    pki: &pki::Pki,
    subscriber: &(String, [u8; 16], [u8; 16]),
    extra: &str,
) -> (Server, SocketAddr) {
    let id = pki.leaf(
        "home",
        "aaa.home.example",
        &["DNS:aaa.home.example", "IP:127.0.0.1"],
    );
    let (imsi, k, opc) = subscriber;
    let server = Server::start_with(
        "\"aka-prime\"",
        &[(imsi.clone(), *k, *opc, Sqn::default())],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n{extra}\n[[radsec.client]]\nname = \"partner-a\"\n\
             subject_alt_name = \"*.partner-a.example\"\n",
            id.chain.display(),
            id.key.display(),
            pki.root_pem.display()
        ),
    );
    let line = wait_log(&server, "radsec listening", 10);
    let start = line.find("address=").unwrap() + "address=".len();
    let addr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (server, addr)
}

#[test]
fn radsecproxy_with_four_level_chains_to_our_home_server_eap_aka_prime() {
    let (Some(eapol), Some(radsecproxy)) = (tool("eapol_test"), tool("radsecproxy")) else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let sub = vector_subscriber(4);
    let (server, addr) = home_server(&pki, &sub, "");
    let visited = pki.leaf(
        "radsecproxy",
        "radsecproxy.partner-a.example",
        &["DNS:radsecproxy.partner-a.example"],
    );
    let udp_port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = pki.path();
    let conf = dir.join("radsecproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "ListenUDP 127.0.0.1:{udp_port}\nLogLevel 4\n\
             client nas {{\n  host 127.0.0.1\n  type udp\n  secret {SECRET}\n}}\n\
             tls default {{\n  CACertificateFile {}\n  CertificateFile {}\n  CertificateKeyFile {}\n}}\n\
             server home {{\n  host 127.0.0.1\n  port {}\n  type tls\n  secret radsec\n  StatusServer on\n}}\n\
             realm * {{\n  server home\n}}\n",
            pki.root_pem.display(),
            visited.chain.display(),
            visited.key.display(),
            addr.port()
        ),
    )
    .unwrap();
    let log = dir.join("radsecproxy.log");
    let _proxy = Reaped(
        Command::new(&radsecproxy)
            .args(["-f", "-d", "4", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let proxy_log = || std::fs::read_to_string(&log).unwrap_or_default();
    // radsecproxy connects (Status-Server on) once it is up; its leaf
    // reached our server with both intermediates.
    let line = wait_log(&server, "radsec connection established", 15);
    assert!(line.contains("client=partner-a"), "{line}\n{}", proxy_log());
    let keys = SubscriberKeys::new(K::new(sub.1), Opc::new(sub.2));
    let (ok, stdout, wall) = common::eapol_test_external_sim(
        &eapol,
        SECRET,
        udp_port,
        "AKA'",
        &format!(
            "  identity=\"6{}@wlan.mnc001.mcc001.3gppnetwork.org\"\n",
            sub.0
        ),
        0,
        |rand, autn| usim_answer(&keys, rand, autn),
    );
    assert!(
        ok && stdout.contains("MPPE keys OK: 1  mismatch: 0"),
        "eapol_test → radsecproxy → RadSec → serve failed:\n{stdout}\nradsecproxy:\n{}\nserver: {:#?}",
        proxy_log(),
        server.logs()
    );
    let line = wait_log(&server, "authentication finished", 5);
    assert!(line.contains("success"), "{line}");
    eprintln!("eapol_test → radsecproxy → RadSec (4-level chains) → serve: EAP-AKA' in {wall:?}");
}

/// Status-Server (RFC 5997) with Message-Authenticator, secret `radsec`.
fn status_server(id: u8) -> Vec<u8> {
    let mut p = vec![12, id, 0, 38];
    p.extend_from_slice(&[0x5a; 16]);
    p.extend_from_slice(&[80, 18]);
    p.extend_from_slice(&[0; 16]);
    common::sign_ma_last(p, b"radsec")
}

/// `openssl s_client` to `addr` with `id` (leaf, then its intermediates),
/// trusting `root`, sending a Status-Server and waiting for the server to
/// close; its output (stdout and stderr).
fn s_client(openssl: &Path, addr: SocketAddr, id: &pki::Identity, root: &Path) -> String {
    let mut child = Command::new(openssl)
        .args(["s_client", "-connect", &addr.to_string(), "-verify_ip"])
        .arg(addr.ip().to_string())
        .arg("-cert")
        .arg(&id.leaf)
        .arg("-cert_chain")
        .arg(&id.intermediates)
        .arg("-key")
        .arg(&id.key)
        .arg("-CAfile")
        .arg(root)
        .args(["-verify_return_error", "-ign_eof"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(&status_server(7));
    drop(stdin);
    let pid = child.id();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(20));
        // SAFETY: kill(2) of our own child (harmless ESRCH once reaped).
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    });
    let out = child.wait_with_output().unwrap();
    drop(killer);
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn our_radsec_server_refuses_expired_wrong_ca_and_san_mismatch() {
    let Some(openssl) = openssl_cli() else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let (server, addr) = home_server(&pki, &vector_subscriber(0), "idle_timeout = 1");
    let count = |needle: &str| server.logs().iter().filter(|l| l.contains(needle)).count();
    // The good chain: OpenSSL verified ours (4 levels, IP SAN), ours verified
    // its, and the Status-Server was answered before the idle timeout.
    let good = pki.leaf(
        "nas-good",
        "nas1.partner-a.example",
        &["DNS:nas1.partner-a.example"],
    );
    let out = s_client(&openssl, addr, &good, &pki.root_pem);
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("depth=3"), "a 4-level chain: {out}");
    // TLS 1.3 without session tickets (FreeRADIUS 3.2.1 as a client loses
    // requests that cross them, see tests/freeradius.rs).
    assert!(out.contains("TLSv1.3"), "{out}");
    assert!(!out.contains("New Session Ticket"), "{out}");
    let line = wait_log(&server, "radsec connection established", 5);
    assert!(line.contains("client=partner-a"), "{line}");
    // Expired.
    let expired = pki.expired_leaf(
        "nas-expired",
        "nas1.partner-a.example",
        &["DNS:nas1.partner-a.example"],
    );
    s_client(&openssl, addr, &expired, &pki.root_pem);
    let line = wait_log(&server, "client certificate refused", 5);
    assert!(line.contains("xpired"), "{line}");
    // Same names, other keys: a wrong CA.
    let impostor = pki::Pki::look_alike();
    let wrong = impostor.leaf(
        "nas-wrong-ca",
        "nas1.partner-a.example",
        &["DNS:nas1.partner-a.example"],
    );
    s_client(&openssl, addr, &wrong, &pki.root_pem);
    let until = Instant::now() + Duration::from_secs(5);
    while count("client certificate refused") < 2 {
        assert!(Instant::now() < until, "{:#?}", server.logs());
        std::thread::sleep(Duration::from_millis(20));
    }
    let line = server
        .logs()
        .into_iter()
        .filter(|l| l.contains("client certificate refused"))
        .nth(1)
        .unwrap();
    // The names chain up to the root, the signatures do not.
    assert!(
        line.contains("BadSignature") || line.contains("UnknownIssuer"),
        "{line}"
    );
    // A good chain whose SAN names another partner.
    let other = pki.leaf(
        "nas-other",
        "nas1.partner-b.example",
        &["DNS:nas1.partner-b.example"],
    );
    s_client(&openssl, addr, &other, &pki.root_pem);
    let line = wait_log(&server, "matches no radsec.client", 5);
    assert!(line.contains("nas1.partner-b.example"), "{line}");
    assert_eq!(
        count("radsec connection established"),
        1,
        "only the good chain got through: {:#?}",
        server.logs()
    );
    assert!(server.stop().success());
}

/// Sends `req` to `to` and returns the answer (10 s at most).
fn ask(to: SocketAddr, req: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).expect("an answer from the proxy");
    buf[..n].to_vec()
}

#[test]
fn our_proxy_refuses_home_servers_with_expired_wrong_ca_and_san_mismatch() {
    let Some(openssl) = openssl_cli() else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let impostor = pki::Pki::look_alike();
    let ours = pki.leaf(
        "visited",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    let sans = ["DNS:aaa.partner.example", "IP:127.0.0.1"];
    let cases = [
        (
            "expired",
            pki.expired_leaf("home-expired", "aaa.partner.example", &sans),
            "certificate expired",
        ),
        (
            "wrong CA",
            impostor.leaf("home-wrong-ca", "aaa.partner.example", &sans),
            // The names chain up to our root, the signatures do not
            // (webpki: BadSignature, alert decrypt_error).
            "decrypt error",
        ),
        (
            // The proxy dials 127.0.0.1; the certificate names 127.0.0.2.
            "SAN mismatch",
            pki.leaf(
                "home-other-name",
                "aaa.partner.example",
                &["DNS:aaa.partner.example", "IP:127.0.0.2"],
            ),
            "bad certificate",
        ),
    ];
    for (i, (what, id, alert)) in cases.iter().enumerate() {
        let port = free_tcp_port();
        let out_path = pki.path().join(format!("s_server-{i}.out"));
        let _home = Reaped(
            Command::new(&openssl)
                .args(["s_server", "-accept", &format!("127.0.0.1:{port}")])
                .arg("-cert")
                .arg(&id.leaf)
                .arg("-cert_chain")
                .arg(&id.intermediates)
                .arg("-key")
                .arg(&id.key)
                // s_server quits at the end of its stdin: keep it open.
                .stdin(Stdio::piped())
                .stdout(std::fs::File::create(&out_path).unwrap())
                .stderr(Stdio::from(
                    std::fs::OpenOptions::new()
                        .append(true)
                        .open(&out_path)
                        .unwrap(),
                ))
                .spawn()
                .unwrap(),
        );
        wait_listening(port);
        let proxy = Server::start_with(
            "\"aka-prime\"",
            &[],
            &format!(
                "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
                 servers = [\"radsec://127.0.0.1:{port}\"]\n\
                 [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n\
                 [proxy]\ntimeout = 1\nretries = 0\n",
                ours.chain.display(),
                ours.key.display(),
                pki.root_pem.display()
            ),
        );
        let req = common::identity_access_request(9, "6001010000000001@wlan.partner.example");
        let resp = ask(proxy.auth, &req);
        assert_eq!((resp[0], resp[1]), (3, 9), "{what}: Access-Reject");
        let line = wait_log(&proxy, "did not answer over TLS", 5);
        assert!(line.contains("WARN"), "{what}: {line}");
        // The proxy's log says why.
        let why = wait_log(&proxy, "RadSec TLS with home server failed", 5);
        eprintln!("{what}: proxy: {why}");
        let reason = match *what {
            "expired" => "expired",
            "wrong CA" => "BadSignature",
            _ => "not valid for name",
        };
        assert!(why.contains(reason), "{what}: {reason:?} expected: {why}");
        // s_server saw our alert for this certificate.
        let until = Instant::now() + Duration::from_secs(5);
        let out = loop {
            let out = std::fs::read_to_string(&out_path).unwrap_or_default();
            if out.contains("alert") || Instant::now() > until {
                break out;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        eprintln!("{what}: s_server: {}", out.trim());
        assert!(
            out.contains(alert),
            "{what}: {alert:?} alert expected:\n{out}"
        );
    }
}

#[test]
fn our_proxy_with_four_level_chains_through_radsecproxy_as_hub() {
    let (Some(eapol), Some(radsecproxy)) = (tool("eapol_test"), tool("radsecproxy")) else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let hub = pki.leaf("hub", "hub.example", &["DNS:hub.example", "IP:127.0.0.1"]);
    let visited = pki.leaf(
        "visited",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    // radsecproxy knows us by our DNS SAN (not by our address), as a hub
    // knows its members. The home server behind it, over UDP.
    let (imsi, k, opc) = vector_subscriber(3);
    let home = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let tls_port = free_tcp_port();
    let dir = pki.path();
    let conf = dir.join("radsecproxy-hub.conf");
    std::fs::write(
        &conf,
        format!(
            "ListenTLS 127.0.0.1:{tls_port}\nListenUDP 127.0.0.1:0\nLogLevel 4\n\
             tls default {{\n  CACertificateFile {}\n  CertificateFile {}\n  CertificateKeyFile {}\n}}\n\
             client visited {{\n  host 127.0.0.1\n  type tls\n  secret radsec\n\
             \x20 CertificateNameCheck off\n\
             \x20 MatchCertificateAttribute SubjectAltName:DNS:/\\.visited\\.example$/\n}}\n\
             server home {{\n  host 127.0.0.1\n  port {}\n  type udp\n  secret {SECRET}\n}}\n\
             realm * {{\n  server home\n}}\n",
            pki.root_pem.display(),
            hub.chain.display(),
            hub.key.display(),
            home.auth.port()
        ),
    )
    .unwrap();
    let log = dir.join("radsecproxy-hub.log");
    let _hub = Reaped(
        Command::new(&radsecproxy)
            .args(["-f", "-d", "4", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_listening(tls_port);
    let proxy = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"radsec://127.0.0.1:{tls_port}\"]\n\
             [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n",
            visited.chain.display(),
            visited.key.display(),
            pki.root_pem.display()
        ),
    );
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let (ok, out, wall) = common::eapol_test_external_sim(
        &eapol,
        SECRET,
        proxy.auth.port(),
        "AKA'",
        &format!("  identity=\"6{imsi}@wlan.partner.example\"\n"),
        0,
        |rand, autn| usim_answer(&keys, rand, autn),
    );
    assert!(
        ok && out.contains("MPPE keys OK: 1  mismatch: 0"),
        "eapol_test → serve (proxy) → RadSec → radsecproxy → serve failed:\n{out}\nradsecproxy:\n{}\nproxy: {:#?}\nhome: {:#?}",
        std::fs::read_to_string(&log).unwrap_or_default(),
        proxy.logs(),
        home.logs()
    );
    assert!(proxy.wait_log("proxied").is_some());
    let line = wait_log(&home, "authentication finished", 5);
    assert!(line.contains("success"), "{line}");
    eprintln!(
        "eapol_test → serve → RadSec (4-level chains) → radsecproxy → serve: EAP-AKA' in {wall:?}"
    );
}
