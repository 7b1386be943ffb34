//! RadSec (RFC 6614) against real peers: radsecproxy (Debian) carries
//! eapol_test's RADIUS/UDP to `aaa-server serve` over TLS; a rustls client
//! written here presents wrong certificates, garbage and silence. The test
//! PKI is made at test time (the openssl crate) in a temp dir: a CA for
//! partners and the server, another CA, an expired leaf, a leaf whose SAN
//! matches no `[[radsec.client]]`.

mod common;

use common::{SECRET, Server, tool, usim_answer, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509NameBuilder};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- the PKI

struct Issued {
    cert: X509,
    key: PKey<Private>,
}

fn ec_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

fn serial() -> Asn1Integer {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).unwrap();
    b[0] &= 0x7f;
    b[0] |= 0x01;
    BigNum::from_slice(&b).unwrap().to_asn1_integer().unwrap()
}

/// A self-signed CA valid for ten years.
fn ca(cn: &str) -> Issued {
    let key = ec_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(3650).unwrap())
        .unwrap();
    b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()
            .unwrap(),
    )
    .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(None, None))
        .unwrap();
    b.append_extension(ski).unwrap();
    b.sign(&key, MessageDigest::sha256()).unwrap();
    Issued {
        cert: b.build(),
        key,
    }
}

/// A leaf for TLS clients and servers, issued by `ca`, with `sans`
/// ("DNS:…" or "IP:…"), valid from `not_before` to `not_after`.
fn leaf(
    ca: &Issued,
    cn: &str,
    sans: &[&str],
    not_before: &Asn1Time,
    not_after: &Asn1Time,
) -> Issued {
    let key = ec_key();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_nid(Nid::COMMONNAME, cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&serial()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(ca.cert.subject_name()).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(not_before).unwrap();
    b.set_not_after(not_after).unwrap();
    b.append_extension(BasicConstraints::new().build().unwrap())
        .unwrap();
    b.append_extension(
        KeyUsage::new()
            .critical()
            .digital_signature()
            .build()
            .unwrap(),
    )
    .unwrap();
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
    let san = san.build(&b.x509v3_context(Some(&ca.cert), None)).unwrap();
    b.append_extension(san).unwrap();
    b.sign(&ca.key, MessageDigest::sha256()).unwrap();
    Issued {
        cert: b.build(),
        key,
    }
}

fn valid_leaf(ca: &Issued, cn: &str, sans: &[&str]) -> Issued {
    leaf(
        ca,
        cn,
        sans,
        &Asn1Time::days_from_now(0).unwrap(),
        &Asn1Time::days_from_now(365).unwrap(),
    )
}

/// Writes `who.pem` (leaf then `chain`) and `who.key` (0600) in `dir`.
fn write(dir: &Path, who: &str, i: &Issued, chain: &[&X509]) -> (PathBuf, PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let cert = dir.join(format!("{who}.pem"));
    let mut pem = i.cert.to_pem().unwrap();
    for c in chain {
        pem.extend(c.to_pem().unwrap());
    }
    std::fs::write(&cert, pem).unwrap();
    let key = dir.join(format!("{who}.key"));
    std::fs::write(&key, i.key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    (cert, key)
}

/// The files every test uses.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    ca_issued: Issued,
    server: (PathBuf, PathBuf),
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca_issued = ca("passpoint-aka test RadSec CA");
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, ca_issued.cert.to_pem().unwrap()).unwrap();
        let s = valid_leaf(
            &ca_issued,
            "aaa.home.example",
            &["DNS:aaa.home.example", "IP:127.0.0.1"],
        );
        let server = write(dir.path(), "server", &s, &[]);
        Pki {
            dir,
            ca,
            ca_issued,
            server,
        }
    }

    /// A client certificate from the test CA with `sans`.
    fn client(&self, who: &str, sans: &[&str]) -> (PathBuf, PathBuf) {
        let i = valid_leaf(&self.ca_issued, who, sans);
        write(self.dir.path(), who, &i, &[])
    }

    /// `[radsec]` for `serve`: one client whose SAN must match `*.partner-a.example`.
    fn config(&self, extra: &str) -> String {
        format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n{extra}\n[[radsec.client]]\nname = \"partner-a\"\n\
             subject_alt_name = \"*.partner-a.example\"\n",
            self.server.0.display(),
            self.server.1.display(),
            self.ca.display()
        )
    }
}

// ------------------------------------------------------------- the server

/// `serve` with one subscriber and `[radsec]`; the RadSec address from its log.
fn start(pki: &Pki, limits: &str) -> (Server, SocketAddr, (String, [u8; 16], [u8; 16])) {
    let sub = vector_subscriber(0);
    let server = Server::start_with(
        "\"aka-prime\", \"aka\"",
        &[(sub.0.clone(), sub.1, sub.2, Sqn::default())],
        &pki.config(limits),
    );
    let line = server
        .wait_log("radsec listening")
        .unwrap_or_else(|| panic!("no radsec listener: {:#?}", server.logs()));
    let start = line.find("address=").unwrap() + "address=".len();
    let addr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (server, addr, sub)
}

/// Waits up to `secs` for a log line containing `needle`.
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

// ------------------------------------------------- a RadSec client (rustls)

type Tls = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn client_config(pki: &Pki, cert: &Path, key: &Path) -> Arc<rustls::ClientConfig> {
    client_config_versions(pki, cert, key, rustls::DEFAULT_VERSIONS)
}

fn client_config_versions(
    pki: &Pki,
    cert: &Path,
    key: &Path,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&pki.ca).unwrap())
        .unwrap();
    let chain: Vec<_> = CertificateDer::pem_file_iter(cert)
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap(),
    )
}

/// Connects and completes the TLS handshake (as far as the client sees it).
fn connect(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) -> std::io::Result<Tls> {
    let name = rustls::pki_types::ServerName::IpAddress(addr.ip().into());
    let conn = rustls::ClientConnection::new(cfg, name).unwrap();
    let tcp = TcpStream::connect(addr)?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(tls)
}

/// Status-Server (RFC 5997 §3) with Message-Authenticator, secret `radsec`.
fn status_server(id: u8) -> Vec<u8> {
    let mut p = vec![12, id, 0, 38];
    let mut auth = [0u8; 16];
    getrandom::fill(&mut auth).unwrap();
    p.extend_from_slice(&auth);
    p.extend_from_slice(&[80, 18]);
    p.extend_from_slice(&[0; 16]);
    common::sign_ma_last(p, b"radsec")
}

/// An Accounting-Request (Start) with its Request Authenticator (RFC 2866 §3).
fn accounting_start(id: u8) -> Vec<u8> {
    use md5::{Digest, Md5};
    let mut attrs = vec![40, 6, 0, 0, 0, 1]; // Acct-Status-Type = Start
    for (t, v) in [(44u8, &b"radsec-session-1"[..]), (1, b"user@realm")] {
        attrs.push(t);
        attrs.push(2 + v.len() as u8);
        attrs.extend_from_slice(v);
    }
    let len = (20 + attrs.len()) as u16;
    let mut p = vec![4, id];
    p.extend_from_slice(&len.to_be_bytes());
    p.extend_from_slice(&[0; 16]);
    p.extend_from_slice(&attrs);
    let mut h = Md5::new();
    h.update(&p);
    h.update(b"radsec");
    let a = h.finalize();
    p[4..20].copy_from_slice(&a);
    p
}

/// Reads one RADIUS packet (framed by Length).
fn read_packet(tls: &mut Tls) -> std::io::Result<Vec<u8>> {
    let mut head = [0u8; 4];
    tls.read_exact(&mut head)?;
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let mut p = vec![0u8; len];
    p[..4].copy_from_slice(&head);
    tls.read_exact(&mut p[4..])?;
    Ok(p)
}

/// A connection the server refuses: the handshake fails at the client, or
/// the first request gets no answer but the end of the stream or an error.
fn assert_refused(addr: SocketAddr, cfg: Arc<rustls::ClientConfig>) {
    let Ok(mut tls) = connect(addr, cfg) else {
        return;
    };
    let answered = tls
        .write_all(&status_server(1))
        .and_then(|()| tls.flush())
        .and_then(|()| read_packet(&mut tls));
    assert!(answered.is_err(), "a refused connection was answered");
}

// ------------------------------------------------------------------ tests

#[test]
fn status_server_and_accounting_answered_on_one_connection() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-a.example"]);
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    tls.write_all(&status_server(7)).unwrap();
    let r = read_packet(&mut tls).unwrap();
    assert_eq!((r[0], r[1]), (2, 7), "Access-Accept to Status-Server");
    tls.write_all(&accounting_start(8)).unwrap();
    let r = read_packet(&mut tls).unwrap();
    assert_eq!((r[0], r[1]), (5, 8), "Accounting-Response");
    // Two requests back to back in one write: framing by Length.
    let mut two = status_server(9);
    two.extend(status_server(10));
    tls.write_all(&two).unwrap();
    let ids = [
        read_packet(&mut tls).unwrap()[1],
        read_packet(&mut tls).unwrap()[1],
    ];
    assert_eq!(ids, [9, 10]);
    wait_log(&server, "client=partner-a", 5);
    assert!(server.stop().success());
}

#[test]
fn tls12_and_tls13_both_served() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-a.example"]);
    for (v, want) in [
        (&rustls::version::TLS12, rustls::ProtocolVersion::TLSv1_2),
        (&rustls::version::TLS13, rustls::ProtocolVersion::TLSv1_3),
    ] {
        let mut tls = connect(addr, client_config_versions(&pki, &cert, &key, &[v])).unwrap();
        assert_eq!(tls.conn.protocol_version(), Some(want));
        tls.write_all(&status_server(3)).unwrap();
        let r = read_packet(&mut tls).unwrap();
        assert_eq!(
            (r[0], r[1]),
            (2, 3),
            "{want:?}: Access-Accept to Status-Server"
        );
    }
    assert!(server.stop().success());
}

#[test]
fn idle_connection_closed() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "idle_timeout = 1");
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-a.example"]);
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    let n = tls.read(&mut [0u8; 16]);
    assert!(matches!(n, Ok(0) | Err(_)), "closed: {n:?}");
    wait_log(&server, "radsec connection closed: idle", 5);
}

#[test]
fn private_key_readable_by_others_refused() {
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    std::fs::set_permissions(&pki.server.1, std::fs::Permissions::from_mode(0o644)).unwrap();
    let dir = pki.dir.path();
    aaa_server::hss::SqliteStore::create(&dir.join("s.db")).unwrap();
    let conf = dir.join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "[[client]]\nnetwork = \"127.0.0.1\"\nsecret = \"{SECRET}\"\n[hss]\ndatabase = \"s.db\"\n{}",
            pki.config("")
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["serve", "--check", "--config"])
        .arg(&conf)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("radsec.private_key") && err.contains("mode 644"),
        "{err}"
    );
}

#[test]
fn certificate_from_another_ca_refused() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let other = ca("some other CA");
    let i = valid_leaf(&other, "nas1", &["DNS:nas1.partner-a.example"]);
    let (cert, key) = write(pki.dir.path(), "other", &i, &[]);
    assert_refused(addr, client_config(&pki, &cert, &key));
    let line = wait_log(&server, "client certificate refused", 5);
    assert!(line.contains("WARN"), "{line}");
    assert!(line.contains("UnknownIssuer"), "{line}");
}

#[test]
fn expired_certificate_refused() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let i = leaf(
        &pki.ca_issued,
        "nas1",
        &["DNS:nas1.partner-a.example"],
        &Asn1Time::from_str("20200101000000Z").unwrap(),
        &Asn1Time::from_str("20210101000000Z").unwrap(),
    );
    let (cert, key) = write(pki.dir.path(), "expired", &i, &[]);
    assert_refused(addr, client_config(&pki, &cert, &key));
    let line = wait_log(&server, "client certificate refused", 5);
    assert!(line.contains("expired"), "{line}");
}

#[test]
fn subject_alt_name_mismatch_refused() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-b.example"]);
    assert_refused(addr, client_config(&pki, &cert, &key));
    let line = wait_log(&server, "matches no radsec.client", 5);
    assert!(line.contains("nas1.partner-b.example"), "{line}");
}

#[test]
fn garbage_after_handshake_closes() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-a.example"]);
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut buf = [0u8; 64];
    let n = tls.read(&mut buf);
    assert!(matches!(n, Ok(0) | Err(_)), "closed, not answered: {n:?}");
    wait_log(&server, "not RADIUS/TCP", 5);
    // A well-framed packet that is not RADIUS (bad attribute lengths) too.
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    let mut bad = vec![1, 1, 0, 24];
    bad.extend_from_slice(&[0; 16]);
    bad.extend_from_slice(&[79, 200, 0, 0]);
    tls.write_all(&bad).unwrap();
    let n = tls.read(&mut buf);
    assert!(matches!(n, Ok(0) | Err(_)), "closed, not answered: {n:?}");
    wait_log(&server, "malformed RADIUS packet", 5);
    // Longer than max_packet_length (4096).
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    let mut big = vec![1, 2, 0x13, 0x88];
    big.extend_from_slice(&[0; 16]);
    tls.write_all(&big).unwrap();
    let n = tls.read(&mut buf);
    assert!(matches!(n, Ok(0) | Err(_)), "closed, not answered: {n:?}");
    wait_log(&server, "exceeds max_packet_length 4096", 5);
    // Raw bytes beside the TLS records, on the TCP socket itself.
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    let mut record = vec![0x17, 0x03, 0x03, 0x00, 0x20];
    record.extend_from_slice(&[0xde, 0xad, 0xbe, 0xef].repeat(8));
    tls.sock.write_all(&record).unwrap();
    let n = tls.read(&mut buf);
    assert!(matches!(n, Ok(0) | Err(_)), "closed, not answered: {n:?}");
    let line = wait_log(&server, "bad TLS record", 5);
    assert!(line.contains("WARN"), "{line}");
}

#[test]
fn silent_peer_dropped_by_handshake_timeout() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "handshake_timeout = 1");
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    // Half a ClientHello record header, then silence (slowloris).
    tcp.write_all(&[0x16, 0x03]).unwrap();
    let mut buf = [0u8; 16];
    let n = tcp.read(&mut buf);
    assert!(matches!(n, Ok(0) | Err(_)), "closed: {n:?}");
    let line = wait_log(&server, "TLS handshake timeout", 5);
    assert!(line.contains("WARN"), "{line}");
}

#[test]
fn connection_limit_and_memory_after_many_refused_connections() {
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "max_connections = 8");
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-b.example"]);
    let wrong = client_config(&pki, &cert, &key);
    let rss = |pid: u32| -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap()
    };
    // Warm-up, then the figure to compare with.
    let round = |n: usize| {
        for i in 0..n {
            if i % 2 == 0 {
                assert_refused(addr, wrong.clone());
            } else {
                let mut tcp = TcpStream::connect(addr).unwrap();
                tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let _ = tcp.write_all(&[0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]);
                let _ = tcp.read(&mut [0u8; 64]);
            }
        }
    };
    round(100);
    let before = rss(server.pid());
    round(1000);
    let after = rss(server.pid());
    eprintln!(
        "VmRSS after 100 refused connections: {before} kB; after 1000 more: {after} kB ({:+} kB)",
        after as i64 - before as i64
    );
    // Flat: not the tens of MB a per-connection leak would add.
    assert!(after < before + 8 * 1024, "{before} kB -> {after} kB");
    // Over the limit: 8 silent connections hold every slot.
    let hold: Vec<TcpStream> = (0..8).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut extra = TcpStream::connect(addr).unwrap();
    extra
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let n = extra.read(&mut [0u8; 16]);
    assert!(matches!(n, Ok(0) | Err(_)), "closed: {n:?}");
    wait_log(&server, "max_connections open", 5);
    wait_log(&server, "TLS handshake failed", 5);
    drop(hold);
    assert!(server.stop().success());
}

// ------------------------------------- eapol_test → radsecproxy → RadSec

/// Kills and reaps the child on drop.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn eapol_test_through_radsecproxy_eap_aka_prime() {
    let (Some(eapol), Some(proxy)) = (tool("eapol_test"), tool("radsecproxy")) else {
        return;
    };
    let pki = Pki::new();
    let (server, addr, (imsi, k, opc)) = start(&pki, "");
    let (cert, key) = pki.client("visited", &["DNS:radsecproxy.partner-a.example"]);
    let udp_port = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = pki.dir.path();
    let conf = dir.join("radsecproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "ListenUDP 127.0.0.1:{udp_port}\nLogLevel 4\n\
             client nas {{\n  host 127.0.0.1\n  type udp\n  secret {SECRET}\n}}\n\
             tls default {{\n  CACertificateFile {}\n  CertificateFile {}\n  CertificateKeyFile {}\n}}\n\
             server home {{\n  host 127.0.0.1\n  port {}\n  type tls\n  secret radsec\n  StatusServer on\n}}\n\
             realm * {{\n  server home\n}}\n",
            pki.ca.display(),
            cert.display(),
            key.display(),
            addr.port()
        ),
    )
    .unwrap();
    let log = dir.join("radsecproxy.log");
    let _proxy = Reaped(
        std::process::Command::new(&proxy)
            .args(["-f", "-d", "4", "-c"])
            .arg(&conf)
            .stdin(std::process::Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("radsecproxy.err")).unwrap())
            .spawn()
            .unwrap(),
    );
    let proxy_logs = || {
        format!(
            "{}{}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            std::fs::read_to_string(dir.join("radsecproxy.err")).unwrap_or_default()
        )
    };
    // radsecproxy connects (and sends Status-Server) once it is up.
    let line = wait_log(&server, "radsec connection established", 15);
    assert!(
        line.contains("client=partner-a"),
        "{line}\n{}",
        proxy_logs()
    );
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let (ok, stdout, wall) = common::eapol_test_external_sim(
        &eapol,
        SECRET,
        udp_port,
        "AKA'",
        &format!("  identity=\"6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org\"\n"),
        0,
        |rand, autn| usim_answer(&keys, rand, autn),
    );
    assert!(
        ok,
        "eapol_test failed:\n{stdout}\nradsecproxy:\n{}\nserver:\n{:#?}",
        proxy_logs(),
        server.logs()
    );
    assert!(
        stdout.contains("MPPE keys OK: 1  mismatch: 0"),
        "MPPE keys re-encrypted by radsecproxy match:\n{stdout}"
    );
    let line = wait_log(&server, "authentication finished", 5);
    assert!(line.contains("success"), "{line}");
    eprintln!("eapol_test → radsecproxy → RadSec → serve: EAP-AKA' in {wall:?}");
    assert!(server.stop().success());
}

// ------------------------ tshark decrypts the TLS (key log), RADIUS inside

/// Writes the TLS session secrets in the NSS key log format, for tshark.
#[derive(Debug)]
struct KeyLogTo(std::sync::Mutex<std::fs::File>);

impl rustls::KeyLog for KeyLogTo {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let mut f = self.0.lock().unwrap();
        let _ = writeln!(
            f,
            "{label} {} {}",
            hex::encode(client_random),
            hex::encode(secret)
        );
    }
}

#[test]
fn tshark_decrypts_radius_tcp_inside_the_tls() {
    let Some(tshark) = tool("tshark") else {
        return;
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("tshark_decrypts_radius_tcp_inside_the_tls needs root (capture on lo)");
        }
        eprintln!("NOTE: not root; tshark_decrypts_radius_tcp_inside_the_tls did not run");
        return;
    }
    let pki = Pki::new();
    let (server, addr, _) = start(&pki, "");
    let dir = pki.dir.path();
    let pcap = dir.join("radsec.pcap");
    let keylog = dir.join("keys.log");
    let err_path = dir.join("tshark.err");
    let capture = Reaped(
        std::process::Command::new(&tshark)
            .args(["-i", "lo", "-f", &format!("tcp port {}", addr.port()), "-w"])
            .arg(&pcap)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&err_path).unwrap())
            .spawn()
            .unwrap(),
    );
    let until = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&err_path)
        .unwrap_or_default()
        .contains("Capturing on")
    {
        assert!(
            Instant::now() < until,
            "tshark did not start: {}",
            std::fs::read_to_string(&err_path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // "Capturing on" may come before the filter is live: probe with bare
    // TCP connections until one shows up in the file.
    let size = || std::fs::metadata(&pcap).map_or(0, |m| m.len());
    let empty = size();
    while size() == empty {
        assert!(Instant::now() < until, "tshark captures nothing");
        drop(TcpStream::connect(addr).unwrap());
        std::thread::sleep(Duration::from_millis(100));
    }
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-a.example"]);
    let mut cfg = (*client_config(&pki, &cert, &key)).clone();
    cfg.key_log = Arc::new(KeyLogTo(std::sync::Mutex::new(
        std::fs::File::create(&keylog).unwrap(),
    )));
    let mut tls = connect(addr, Arc::new(cfg)).unwrap();
    tls.write_all(&status_server(21)).unwrap();
    assert_eq!(read_packet(&mut tls).unwrap()[0], 2);
    tls.write_all(&accounting_start(22)).unwrap();
    assert_eq!(read_packet(&mut tls).unwrap()[0], 5);
    tls.conn.send_close_notify();
    let _ = tls.flush();
    drop(tls);
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: signals our own child (tshark), not yet reaped; SIGINT makes it flush the file.
    unsafe { libc::kill(capture.0.id() as i32, libc::SIGINT) };
    let mut capture = capture;
    let _ = capture.0.wait();
    let port = addr.port();
    let out = std::process::Command::new(&tshark)
        .arg("-r")
        .arg(&pcap)
        .arg("-o")
        .arg(format!("tls.keylog_file:{}", keylog.display()))
        .args(["-d", &format!("tcp.port=={port},tls")])
        .args(["-Y", "tls.app_data", "-T", "fields", "-e", "data.data"])
        .output()
        .unwrap();
    // Wireshark 4.0 has no RADIUS/TLS dissector: it decrypts with the key
    // log, and the plaintext records are checked as RADIUS/TCP here.
    let fields = String::from_utf8_lossy(&out.stdout);
    let records: Vec<Vec<u8>> = fields
        .lines()
        .flat_map(|l| l.split(','))
        .filter(|h| !h.trim().is_empty())
        .map(|h| hex::decode(h.trim()).unwrap())
        .collect();
    let (mut seen, mut stream) = (Vec::new(), Vec::new());
    for r in &records {
        stream.extend_from_slice(r);
    }
    let mut rest = &stream[..];
    while rest.len() >= 20 {
        let len = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        assert!(
            (20..=rest.len()).contains(&len),
            "framing: {}",
            hex::encode(rest)
        );
        seen.push((rest[0], rest[1]));
        rest = &rest[len..];
    }
    eprintln!(
        "tshark decrypted {} TLS records; RADIUS (code, id): {seen:?}",
        records.len()
    );
    for want in [(12, 21), (2, 21), (4, 22), (5, 22)] {
        assert!(
            seen.contains(&want),
            "{want:?} not in what tshark decrypted: {fields}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(server.stop().success());
}

/// An Access-Request with EAP-Response/Identity for `nai`, signed with `radsec`.
fn identity_request(id: u8, nai: &str) -> Vec<u8> {
    let mut p = vec![1, id, 0, 0];
    p.extend_from_slice(&[0x21; 16]);
    let mut eap = vec![2, 1, 0, 0, 1];
    eap.extend_from_slice(nai.as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    for (t, v) in [(1u8, nai.as_bytes()), (79, &eap[..]), (80, &[0u8; 16][..])] {
        p.push(t);
        p.push(2 + v.len() as u8);
        p.extend_from_slice(v);
    }
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    common::sign_ma_last(p, b"radsec")
}

#[test]
fn requests_over_radsec_for_a_proxied_realm_reach_the_home_server() {
    let pki = Pki::new();
    let sub = vector_subscriber(1);
    let home = Server::start(
        "\"aka-prime\"",
        &[(sub.0.clone(), sub.1, sub.2, Sqn::default())],
    );
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let hub = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "{}[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"udp://{}\"]\nsecret = \"{}\"\n\
             [[realm]]\nname = \"*.silent.example\"\naction = \"proxy\"\n\
             servers = [\"udp://{}\"]\nsecret = \"x\"\n[proxy]\ntimeout = 2\nretries = 0\n",
            pki.config(""),
            home.auth,
            common::SECRET,
            silent.local_addr().unwrap()
        ),
    );
    let line = wait_log(&hub, "radsec listening", 10);
    let start = line.find("address=").unwrap() + "address=".len();
    let addr: SocketAddr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (cert, key) = pki.client("nas1", &["DNS:nas1.partner-a.example"]);
    let mut tls = connect(addr, client_config(&pki, &cert, &key)).unwrap();
    // A request for the silent realm first, then one for the live realm on
    // the same connection: the second is answered while the first waits.
    tls.write_all(&identity_request(1, "6001010000000009@wlan.silent.example"))
        .unwrap();
    tls.write_all(&identity_request(
        2,
        &format!("6{}@wlan.partner.example", sub.0),
    ))
    .unwrap();
    let first = read_packet(&mut tls).unwrap();
    assert_eq!(
        (first[0], first[1]),
        (11, 2),
        "the live realm's Access-Challenge comes first"
    );
    assert!(aaa_server::radius::crypto::check_response(
        &first,
        &[0x21; 16],
        b"radsec"
    ));
    let second = read_packet(&mut tls).unwrap();
    assert_eq!((second[0], second[1]), (3, 1), "then Access-Reject");
    let line = wait_log(&hub, "proxied", 5);
    assert!(line.contains(&home.auth.to_string()), "{line}");
}
