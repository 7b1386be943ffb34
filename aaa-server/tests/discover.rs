//! RFC 7585 dynamic discovery with a real DNS server: dnsmasq (NAPTR, SRV,
//! A records) → `aaa-server serve` as proxy (`action = "discover"`) finds
//! another `aaa-server serve` with `[radsec]`, and eapol_test EAP-AKA'
//! succeeds end to end ("MPPE keys OK"). Also: a 3GPP realm looked up under
//! pub.3gppnetwork.org, and NXDOMAIN answered Access-Reject.

mod common;

use common::{SECRET, Server, Usim, tool, vector_subscriber};
use eap::umts::Sqn;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn eapol_test(port: u16, identity: &str, usim: &mut Usim) -> (bool, String) {
    let bin = tool("eapol_test").expect("checked by caller");
    let (ok, out, wall) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        port,
        "AKA'",
        &format!("  identity=\"{identity}\"\n"),
        0,
        |r, a| usim.answer(r, a),
    );
    eprintln!("eapol_test EAP-AKA' to port {port}: {wall:?} (ok={ok})");
    (ok, out)
}

mod pki {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::extension::{
        BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    };
    use openssl::x509::{X509, X509NameBuilder};
    use std::path::{Path, PathBuf};

    pub struct Issued {
        pub cert: X509,
        key: PKey<Private>,
    }

    fn serial() -> Asn1Integer {
        let mut b = [0u8; 16];
        getrandom::fill(&mut b).unwrap();
        b[0] = (b[0] & 0x7f) | 1;
        BigNum::from_slice(&b).unwrap().to_asn1_integer().unwrap()
    }

    /// A certificate for `cn` with `sans`, signed by `ca` (self-signed CA when `None`).
    pub fn issue(ca: Option<&Issued>, cn: &str, sans: &[&str]) -> Issued {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&serial()).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(ca.map_or(&name, |c| c.cert.subject_name()))
            .unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        if ca.is_none() {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
                .unwrap();
        } else {
            b.append_extension(
                ExtendedKeyUsage::new()
                    .server_auth()
                    .client_auth()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            let mut san = SubjectAlternativeName::new();
            for s in sans {
                match s.split_once(':') {
                    Some(("DNS", d)) => san.dns(d),
                    Some(("IP", ip)) => san.ip(ip),
                    _ => panic!("SAN {s}"),
                };
            }
            let san = san
                .build(&b.x509v3_context(ca.map(|c| &*c.cert), None))
                .unwrap();
            b.append_extension(san).unwrap();
        }
        b.sign(ca.map_or(&key, |c| &c.key), MessageDigest::sha256())
            .unwrap();
        Issued {
            cert: b.build(),
            key,
        }
    }

    /// Writes `who.pem` and `who.key` (0600) in `dir`.
    pub fn write(dir: &Path, who: &str, i: &Issued) -> (PathBuf, PathBuf) {
        use std::os::unix::fs::PermissionsExt;
        let cert = dir.join(format!("{who}.pem"));
        std::fs::write(&cert, i.cert.to_pem().unwrap()).unwrap();
        let key = dir.join(format!("{who}.key"));
        std::fs::write(&key, i.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        (cert, key)
    }
}

/// dnsmasq on 127.0.0.1 (a free port), answering only `records`.
struct Dnsmasq {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Dnsmasq {
    fn start(bin: &Path, records: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--keep-in-foreground",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--bind-interfaces",
            "--listen-address=127.0.0.1",
            "--log-queries",
            // Records live 60 s: the proxy's cache keeps them that long.
            "--local-ttl=60",
            // Names under these are answered from our records only: NXDOMAIN otherwise.
            "--local=/example/",
            "--local=/3gppnetwork.org/",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--pid-file={}", dir.path().join("pid").display()))
        .arg(format!(
            "--log-facility={}",
            dir.path().join("log").display()
        ))
        .args(records)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        if nix_is_root() {
            cmd.arg("--user=root");
        }
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let d = Dnsmasq {
            child: cmd.spawn().expect("dnsmasq starts"),
            addr,
            _dir: dir,
        };
        // Wait until it answers (any answer to a query).
        let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
        probe
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let query = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
            0, 0, 1, 0, 1,
        ];
        let mut buf = [0u8; 512];
        for _ in 0..50 {
            let _ = probe.send_to(&query, addr);
            if probe.recv_from(&mut buf).is_ok() {
                return d;
            }
        }
        panic!("dnsmasq did not answer on {addr}");
    }

    /// How many queries of `kind` ("NAPTR", "SRV", "A") it logged.
    fn queries(&self, kind: &str) -> usize {
        let log = std::fs::read_to_string(self._dir.path().join("log")).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains(&format!("query[{kind}]")))
            .count()
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
            .unwrap_or(false)
    })
}

/// A RadSec home server with a certificate carrying `sans`; its RadSec address.
fn home_server(
    dir: &Path,
    ca: &pki::Issued,
    ca_pem: &Path,
    sans: &[&str],
    subscriber: &(String, [u8; 16], [u8; 16]),
) -> (Server, SocketAddr) {
    let (cert, key) = pki::write(dir, "home", &pki::issue(Some(ca), "home", sans));
    let home = Server::start_with(
        "\"aka-prime\"",
        &[(
            subscriber.0.clone(),
            subscriber.1,
            subscriber.2,
            Sqn::default(),
        )],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n[[radsec.client]]\nname = \"visited\"\n\
             subject_alt_name = \"proxy.visited.example\"\n",
            cert.display(),
            key.display(),
            ca_pem.display()
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

/// The visiting proxy: `realm` discovered through `dns`.
fn visited(dir: &Path, ca: &pki::Issued, ca_pem: &Path, realm: &str, dns: SocketAddr) -> Server {
    visited_with(dir, ca, ca_pem, realm, dns, "")
}

/// [`visited`] with `extra` TOML appended.
fn visited_with(
    dir: &Path,
    ca: &pki::Issued,
    ca_pem: &Path,
    realm: &str,
    dns: SocketAddr,
    extra: &str,
) -> Server {
    visited_dns(dir, ca, ca_pem, realm, (dns, ""), extra)
}

/// [`visited_with`] with `dns_extra` in the `[dns]` table.
fn visited_dns(
    dir: &Path,
    ca: &pki::Issued,
    ca_pem: &Path,
    realm: &str,
    (dns, dns_extra): (SocketAddr, &str),
    extra: &str,
) -> Server {
    let (cert, key) = pki::write(
        dir,
        "visited",
        &pki::issue(
            Some(ca),
            "proxy.visited.example",
            &["DNS:proxy.visited.example"],
        ),
    );
    Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"{realm}\"\naction = \"discover\"\n\
             [proxy]\ntimeout = 2\nretries = 0\n\
             [dns]\nservers = [\"{dns}\"]\n{dns_extra}\
             [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n{extra}",
            cert.display(),
            key.display(),
            ca_pem.display()
        ),
    )
}

fn scrape(visited: &Server) -> String {
    use std::io::{Read, Write};
    let line = visited
        .wait_log("metrics endpoint listening")
        .unwrap_or_else(|| panic!("no metrics line: {:#?}", visited.logs()));
    let start = line.find("addr=").expect("addr field") + 5;
    let addr: SocketAddr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn sample(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{body}"))
}

fn tools() -> Option<std::path::PathBuf> {
    let eapol = tool("eapol_test");
    let dnsmasq = tool("dnsmasq");
    eapol.and(dnsmasq)
}

fn setup() -> (tempfile::TempDir, pki::Issued, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::issue(None, "discover test CA", &[]);
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert.to_pem().unwrap()).unwrap();
    (dir, ca, ca_pem)
}

#[test]
fn eap_aka_prime_to_a_home_server_found_by_naptr_and_srv() {
    let Some(dnsmasq) = tools() else { return };
    let (dir, ca, ca_pem) = setup();
    let (imsi, k, opc) = vector_subscriber(3);
    // The certificate names the SRV target only.
    let (home, addr) = home_server(
        dir.path(),
        &ca,
        &ca_pem,
        &["DNS:aaa.home.example"],
        &(imsi.clone(), k, opc),
    );
    let dns = Dnsmasq::start(
        &dnsmasq,
        &[
            // A NAPTR of another service, preferred, must be skipped.
            "--naptr-record=wlan.partner.example,5,5,s,aaa+auth:radius.dtls.udp,,_radiusdtls._udp.partner.example".into(),
            "--naptr-record=wlan.partner.example,10,10,s,aaa+auth:radius.tls.tcp,,_radiustls._tcp.partner.example".into(),
            format!("--srv-host=_radiustls._tcp.partner.example,aaa.home.example,{},0,10", addr.port()),
            "--host-record=aaa.home.example,127.0.0.1".into(),
        ],
    );
    let visited = visited(dir.path(), &ca, &ca_pem, "*.partner.example", dns.addr);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    assert!(
        ok,
        "eapol_test failed:\n{out}\n{:#?}\n{:#?}",
        visited.logs(),
        home.logs()
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    let line = visited.wait_log("proxied").expect("proxied");
    assert!(line.contains("aaa.home.example"), "{line}");
    // A second authentication: the records were cached (TTL 60 s).
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    assert!(
        ok,
        "second eapol_test failed:\n{out}\n{:#?}",
        visited.logs()
    );
    assert_eq!(
        dns.queries("NAPTR"),
        1,
        "one NAPTR query for two authentications"
    );
    assert_eq!(dns.queries("SRV"), 1);
}

#[test]
fn three_gpp_realm_is_looked_up_under_pub_3gppnetwork_org() {
    let Some(dnsmasq) = tools() else { return };
    let (dir, ca, ca_pem) = setup();
    let (imsi, k, opc) = vector_subscriber(4);
    let realm = "wlan.mnc002.mcc001.3gppnetwork.org";
    // The certificate names the realm only (not the SRV target).
    let (home, addr) = home_server(
        dir.path(),
        &ca,
        &ca_pem,
        &[&format!("DNS:{realm}")],
        &(imsi.clone(), k, opc),
    );
    let dns = Dnsmasq::start(
        &dnsmasq,
        &[
            "--naptr-record=wlan.mnc002.mcc001.pub.3gppnetwork.org,10,10,s,aaa+auth:radius.tls.tcp,,_radiustls._tcp.aaa.mnc002.mcc001.pub.3gppnetwork.org".into(),
            format!("--srv-host=_radiustls._tcp.aaa.mnc002.mcc001.pub.3gppnetwork.org,aaa.mnc002.mcc001.pub.3gppnetwork.org,{},0,10", addr.port()),
            "--host-record=aaa.mnc002.mcc001.pub.3gppnetwork.org,127.0.0.1".into(),
        ],
    );
    let visited = visited(dir.path(), &ca, &ca_pem, "*.3gppnetwork.org", dns.addr);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(visited.auth.port(), &format!("6{imsi}@{realm}"), &mut usim);
    assert!(
        ok,
        "eapol_test failed:\n{out}\n{:#?}\n{:#?}",
        visited.logs(),
        home.logs()
    );
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
}

#[test]
fn nxdomain_is_access_reject_and_counted() {
    let Some(dnsmasq) = tools() else { return };
    let (dir, ca, ca_pem) = setup();
    let dns = Dnsmasq::start(&dnsmasq, &["--host-record=other.example,127.0.0.1".into()]);
    let visited = visited_with(
        dir.path(),
        &ca,
        &ca_pem,
        "*.nowhere.example",
        dns.addr,
        "[metrics]\nlisten = \"127.0.0.1:0\"\n",
    );
    let (imsi, k, opc) = vector_subscriber(5);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.nowhere.example"),
        &mut usim,
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("Access-Reject"),
        "Access-Reject, not a silent drop:\n{out}"
    );
    let line = visited
        .wait_log("RFC 7585 discovery failed")
        .unwrap_or_else(|| panic!("{:#?}", visited.logs()));
    assert!(line.contains("NXDOMAIN"), "{line}");
    assert!(visited.wait_log("proxy: Access-Reject").is_some());
    // Again within [dns] negative_ttl (60 s): from the negative cache, one NAPTR query in all.
    assert_eq!(
        ask_code(visited.auth, 9, &format!("6{imsi}@wlan.nowhere.example")),
        3
    );
    assert_eq!(dns.queries("NAPTR"), 1, "one NAPTR query for both");
    let body = scrape(&visited);
    assert_eq!(
        sample(&body, "aaa_proxy_discovery_failed_total"),
        2.0,
        "{body}"
    );
    assert_eq!(
        sample(&body, "aaa_proxy_discovery_negative_cached_total"),
        1.0,
        "{body}"
    );
    assert_eq!(sample(&body, "aaa_proxy_forwarded_total"), 0.0, "{body}");
}

#[test]
fn certificate_naming_neither_realm_nor_srv_target_is_refused() {
    let Some(dnsmasq) = tools() else { return };
    let (dir, ca, ca_pem) = setup();
    let (imsi, k, opc) = vector_subscriber(3);
    let (home, addr) = home_server(
        dir.path(),
        &ca,
        &ca_pem,
        &["DNS:somebody.else.example"],
        &(imsi.clone(), k, opc),
    );
    let dns = Dnsmasq::start(
        &dnsmasq,
        &[
            "--naptr-record=wlan.partner.example,10,10,s,aaa+auth:radius.tls.tcp,,_radiustls._tcp.partner.example".into(),
            format!("--srv-host=_radiustls._tcp.partner.example,aaa.home.example,{},0,10", addr.port()),
            "--host-record=aaa.home.example,127.0.0.1".into(),
        ],
    );
    let visited = visited(dir.path(), &ca, &ca_pem, "*.partner.example", dns.addr);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    assert!(!ok, "{out}");
    assert!(out.contains("Access-Reject"), "{out}");
    assert!(
        visited.wait_log("no home server answered").is_some(),
        "{:#?}\n{:#?}",
        visited.logs(),
        home.logs()
    );
}

#[test]
fn silent_dns_server_is_access_reject_after_the_timeout() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (dir, ca, ca_pem) = setup();
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let visited = visited(
        dir.path(),
        &ca,
        &ca_pem,
        "*.partner.example",
        silent.local_addr().unwrap(),
    );
    let (imsi, k, opc) = vector_subscriber(5);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    assert!(!ok, "{out}");
    assert!(out.contains("Access-Reject"), "{out}");
    let line = visited
        .wait_log("RFC 7585 discovery failed")
        .unwrap_or_else(|| panic!("{:#?}", visited.logs()));
    assert!(line.contains("timeout"), "{line}");
}

#[test]
fn a_discovered_server_that_does_not_answer_is_skipped_for_dead_time() {
    let Some(dnsmasq) = tools() else { return };
    let (dir, ca, ca_pem) = setup();
    let (imsi, k, opc) = vector_subscriber(2);
    let (home, addr) = home_server(
        dir.path(),
        &ca,
        &ca_pem,
        &["DNS:aaa.home.example"],
        &(imsi.clone(), k, opc),
    );
    // A port nobody listens on: connections are refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dns = Dnsmasq::start(
        &dnsmasq,
        &[
            "--naptr-record=wlan.partner.example,10,10,s,aaa+auth:radius.tls.tcp,,_radiustls._tcp.partner.example".into(),
            // The preferred target is down; the second one answers.
            format!("--srv-host=_radiustls._tcp.partner.example,down.home.example,{closed},10,10"),
            format!("--srv-host=_radiustls._tcp.partner.example,aaa.home.example,{},20,10", addr.port()),
            "--host-record=down.home.example,127.0.0.1".into(),
            "--host-record=aaa.home.example,127.0.0.1".into(),
        ],
    );
    let visited = visited_with(
        dir.path(),
        &ca,
        &ca_pem,
        "*.partner.example",
        dns.addr,
        "[metrics]\nlisten = \"127.0.0.1:0\"\n",
    );
    let mut usim = Usim::new(k, opc);
    for round in 0..2 {
        let (ok, out) = eapol_test(
            visited.auth.port(),
            &format!("6{imsi}@wlan.partner.example"),
            &mut usim,
        );
        assert!(
            ok,
            "eapol_test {round} failed:\n{out}\n{:#?}\n{:#?}",
            visited.logs(),
            home.logs()
        );
        assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
    }
    // Only the first request tried the dead target: every later one (the
    // rest of the first authentication and the second) skipped it.
    let tried_dead = visited
        .logs()
        .iter()
        .filter(|l| l.contains("discovered home server did not answer"))
        .count();
    assert_eq!(tried_dead, 1, "{:#?}", visited.logs());
    let body = scrape(&visited);
    assert_eq!(sample(&body, "aaa_proxy_marked_dead_total"), 1.0, "{body}");
}

/// A UDP "DNS server" that never answers and counts the queries it gets.
struct SilentDns {
    addr: SocketAddr,
    seen: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl SilentDns {
    fn start() -> Self {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = sock.local_addr().unwrap();
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let s = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while sock.recv_from(&mut buf).is_ok() {
                s.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        SilentDns { addr, seen }
    }

    fn queries(&self) -> usize {
        self.seen.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// Sends an Access-Request for `nai` to `to`; the answer's Code.
fn ask_code(to: SocketAddr, id: u8, nai: &str) -> u8 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send_to(&common::identity_access_request(id, nai), to)
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("an answer, not a silent drop");
    assert!(n >= 20);
    buf[0]
}

#[test]
fn a_failed_discovery_is_cached_for_negative_ttl() {
    let (dir, ca, ca_pem) = setup();
    let dns = SilentDns::start();
    let visited = visited_dns(
        dir.path(),
        &ca,
        &ca_pem,
        "*.partner.example",
        (dns.addr, "negative_ttl = 2\n"),
        "[metrics]\nlisten = \"127.0.0.1:0\"\n",
    );
    let nai = "6001010000000001@wlan.partner.example";
    assert_eq!(ask_code(visited.auth, 1, nai), 3, "Access-Reject");
    let asked = dns.queries();
    assert!(asked >= 1, "the DNS was asked");
    // Within negative_ttl: rejected again without asking the DNS.
    assert_eq!(ask_code(visited.auth, 2, nai), 3);
    assert_eq!(ask_code(visited.auth, 3, nai), 3);
    assert_eq!(dns.queries(), asked, "no DNS query from the negative cache");
    assert!(
        visited.wait_log("(negative cache)").is_some(),
        "{:#?}",
        visited.logs()
    );
    let body = scrape(&visited);
    assert_eq!(
        sample(&body, "aaa_proxy_discovery_failed_total"),
        3.0,
        "{body}"
    );
    assert_eq!(
        sample(&body, "aaa_proxy_discovery_negative_cached_total"),
        2.0,
        "{body}"
    );
    // After negative_ttl the DNS is asked again.
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(ask_code(visited.auth, 4, nai), 3);
    assert!(dns.queries() > asked, "asked again after negative_ttl");
}

/// Sends `req` to `to`; the answer (10 s at most).
fn ask(to: SocketAddr, req: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("an answer, not a silent drop");
    buf[..n].to_vec()
}

/// An Access-Request continuing a conversation (`state`), signed.
fn request_with_state(id: u8, nai: &str, state: &[u8]) -> Vec<u8> {
    let mut p = vec![1, id, 0, 0];
    p.extend_from_slice(&[0x44; 16]);
    let mut eap = vec![2, 2, 0, 0, 1];
    eap.extend_from_slice(nai.as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    for (t, v) in [
        (1u8, nai.as_bytes()),
        (79, &eap[..]),
        (24, state),
        (80, &[0u8; 16][..]),
    ] {
        p.push(t);
        p.push(2 + v.len() as u8);
        p.extend_from_slice(v);
    }
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    common::sign_ma_last(p, SECRET.as_bytes())
}

fn state_of(p: &[u8]) -> Option<Vec<u8>> {
    let mut i = 20;
    while i + 2 <= p.len() {
        let l = usize::from(p[i + 1]).max(2);
        if p[i] == 24 {
            return p.get(i + 2..i + l).map(<[u8]>::to_vec);
        }
        i += l;
    }
    None
}

#[test]
fn a_discovered_conversation_stays_with_its_server() {
    let Some(dnsmasq) = tools() else { return };
    let (dir, ca, ca_pem) = setup();
    let sub = vector_subscriber(1);
    let da = tempfile::tempdir().unwrap();
    let db = tempfile::tempdir().unwrap();
    let (home_a, addr_a) = home_server(da.path(), &ca, &ca_pem, &["DNS:a.home.example"], &sub);
    let (home_b, addr_b) = home_server(db.path(), &ca, &ca_pem, &["DNS:b.home.example"], &sub);
    let dns = Dnsmasq::start(
        &dnsmasq,
        &[
            "--naptr-record=wlan.partner.example,10,10,s,aaa+auth:radius.tls.tcp,,_radiustls._tcp.partner.example".into(),
            format!("--srv-host=_radiustls._tcp.partner.example,a.home.example,{},10,10", addr_a.port()),
            format!("--srv-host=_radiustls._tcp.partner.example,b.home.example,{},20,10", addr_b.port()),
            "--host-record=a.home.example,127.0.0.1".into(),
            "--host-record=b.home.example,127.0.0.1".into(),
        ],
    );
    let visited = visited(dir.path(), &ca, &ca_pem, "*.partner.example", dns.addr);
    let nai = format!("6{}@wlan.partner.example", sub.0);
    let resp = ask(visited.auth, &common::identity_access_request(1, &nai));
    assert_eq!(resp[0], 11, "Access-Challenge from A");
    let state = state_of(&resp).expect("State");
    assert!(visited.wait_log("a.home.example").is_some());
    // A stops answering: the conversation is not moved to B.
    // SAFETY: SIGSTOP/SIGCONT of our own child process.
    unsafe { libc::kill(home_a.pid() as i32, libc::SIGSTOP) };
    let resp = ask(visited.auth, &request_with_state(2, &nai, &state));
    unsafe { libc::kill(home_a.pid() as i32, libc::SIGCONT) };
    assert_eq!(resp[0], 3, "Access-Reject");
    let resp = ask(visited.auth, &request_with_state(3, &nai, &state));
    assert_eq!(resp[0], 3);
    assert!(
        visited
            .wait_log("the home server of this EAP conversation is dead")
            .is_some(),
        "{:#?}",
        visited.logs()
    );
    assert!(
        visited.logs().iter().all(|l| !l.contains("b.home.example")),
        "nothing of A's conversation went to B: {:#?}",
        visited.logs()
    );
    // A new conversation goes to B (A is marked dead).
    let resp = ask(visited.auth, &common::identity_access_request(4, &nai));
    assert_eq!(resp[0], 11, "{:#?}", visited.logs());
    assert!(visited.wait_log("b.home.example").is_some());
    drop(home_b);
}
