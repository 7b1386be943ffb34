//! The realm table and the UDP proxy with real peers: eapol_test (the NAS
//! and the peer, external SIM answered with `eap::umts`) → `aaa-server
//! serve` as proxy (realm `*.partner.example`) → a home server: another
//! `aaa-server serve`, or hostapd's RADIUS server with `aaa-server hlr-gw`.
//! "MPPE keys OK" at eapol_test proves the per-hop MS-MPPE re-encryption.

mod common;

use common::{SECRET, Server, Usim, tool, vector_subscriber};
use eap::umts::Sqn;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs eapol_test (EAP-AKA') as `identity` against `port`; (success, output).
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

/// A proxy whose `*.partner.example` goes to `servers` (secret [`SECRET`]).
fn proxy(servers: &[String], local: &[(String, [u8; 16], [u8; 16], Sqn)]) -> Server {
    let list: Vec<String> = servers.iter().map(|s| format!("\"{s}\"")).collect();
    Server::start_with(
        "\"aka-prime\"",
        local,
        &format!(
            "[[realm]]\nname = \"wlan.mnc001.mcc001.3gppnetwork.org\"\naction = \"local\"\n\
             [[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [{}]\nsecret = \"{SECRET}\"\n\
             [proxy]\ntimeout = 1\nretries = 0\noperator_name = \"1visited.example\"\n",
            list.join(", ")
        ),
    )
}

/// A UDP port that is bound but never answers (a dead home server).
fn silent_port() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").unwrap()
}

fn must_succeed(ok: bool, out: &str, servers: &[&Server]) {
    let logs: Vec<Vec<String>> = servers.iter().map(|s| s.logs()).collect();
    assert!(ok, "eapol_test failed:\n{out}\n{logs:#?}");
    assert!(out.contains("MPPE keys OK: 1  mismatch: 0"), "{out}");
}

#[test]
fn eap_aka_prime_through_the_proxy_to_our_home_server() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(0);
    let home = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let visited = proxy(&[format!("udp://{}", home.auth)], &[]);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited, &home]);
    assert!(
        visited.wait_log("proxied").is_some(),
        "{:#?}",
        visited.logs()
    );
    assert!(
        home.wait_log("authentication finished").is_some(),
        "{:#?}",
        home.logs()
    );
    assert!(
        visited
            .logs()
            .iter()
            .all(|l| !l.contains("authentication finished")),
        "the proxy ran no EAP"
    );
    // The same authentication straight to the home server, for comparison
    // (the wall times are printed; nothing is asserted about them).
    let (ok, out) = eapol_test(
        home.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&home]);
}

#[test]
fn local_realm_is_still_served_locally() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(1);
    let dead = silent_port();
    let visited = proxy(
        &[format!("udp://{}", dead.local_addr().unwrap())],
        &[(imsi.clone(), k, opc, Sqn::default())],
    );
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited]);
    assert!(visited.wait_log("authentication finished").is_some());
}

#[test]
fn failover_first_server_dead_second_answers() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(2);
    let home = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let dead = silent_port();
    let visited = proxy(
        &[
            format!("udp://{}", dead.local_addr().unwrap()),
            format!("udp://{}", home.auth),
        ],
        &[],
    );
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited, &home]);
    assert!(
        visited.wait_log("marked dead").is_some(),
        "{:#?}",
        visited.logs()
    );
}

/// Access-Request with EAP-Response/Identity for `nai` and two Proxy-State
/// attributes, Message-Authenticator last, signed with [`SECRET`].
fn request_with_proxy_state(id: u8, nai: &str) -> (Vec<u8>, [u8; 16]) {
    let mut p = vec![1, id, 0, 0];
    let auth = [0x5a; 16];
    p.extend_from_slice(&auth);
    let mut add = |t: u8, v: &[u8]| {
        p.push(t);
        p.push(v.len() as u8 + 2);
        p.extend_from_slice(v);
    };
    let mut eap = vec![2, 1, 0, 0, 1];
    eap.extend_from_slice(nai.as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    add(1, nai.as_bytes());
    add(33, b"nas-hop-1");
    add(79, &eap);
    add(33, b"nas-hop-2");
    add(80, &[0; 16]);
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    (common::sign_ma_last(p, SECRET.as_bytes()), auth)
}

/// Sends `req` to `to` and returns the answer (5 s at most).
fn ask(to: std::net::SocketAddr, req: &[u8]) -> Vec<u8> {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = s.recv_from(&mut buf).expect("an answer");
    buf[..n].to_vec()
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

#[test]
fn proxy_state_of_the_nas_comes_back_in_order() {
    let (imsi, k, opc) = vector_subscriber(3);
    let home = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let visited = proxy(&[format!("udp://{}", home.auth)], &[]);
    let (req, auth) = request_with_proxy_state(77, &format!("6{imsi}@wlan.partner.example"));
    let resp = ask(visited.auth, &req);
    assert_eq!(
        (resp[0], resp[1]),
        (11, 77),
        "Access-Challenge for our Identifier"
    );
    assert!(
        aaa_server::radius::crypto::check_response(&resp, &auth, SECRET.as_bytes()),
        "signed for the NAS"
    );
    assert_eq!(
        proxy_states(&resp),
        [b"nas-hop-1".to_vec(), b"nas-hop-2".to_vec()]
    );
}

#[test]
fn all_home_servers_dead_is_access_reject() {
    let dead1 = silent_port();
    let dead2 = silent_port();
    let visited = proxy(
        &[
            format!("udp://{}", dead1.local_addr().unwrap()),
            format!("udp://{}", dead2.local_addr().unwrap()),
        ],
        &[],
    );
    let (req, auth) = request_with_proxy_state(9, "6001010000000001@wlan.partner.example");
    let resp = ask(visited.auth, &req);
    assert_eq!(
        (resp[0], resp[1]),
        (3, 9),
        "Access-Reject, not a silent drop"
    );
    assert!(aaa_server::radius::crypto::check_response(
        &resp,
        &auth,
        SECRET.as_bytes()
    ));
    assert_eq!(
        proxy_states(&resp),
        [b"nas-hop-1".to_vec(), b"nas-hop-2".to_vec()]
    );
    assert!(
        visited.wait_log("no home server answered").is_some(),
        "{:#?}",
        visited.logs()
    );
    // Both now dead: the next request is refused at once.
    let (req, _) = request_with_proxy_state(10, "6001010000000001@wlan.partner.example");
    let t = Instant::now();
    let resp = ask(visited.auth, &req);
    assert_eq!(resp[0], 3);
    eprintln!("reject with every home server dead took {:?}", t.elapsed());
}

struct Reap(Option<Child>);
impl Drop for Reap {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn eap_aka_prime_through_the_proxy_to_hostapd_as_home_server() {
    let (Some(hostapd), Some(_)) = (tool("hostapd"), tool("eapol_test")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db: PathBuf = dir.path().join("s.db");
    let (imsi, k, opc) = vector_subscriber(4);
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .args(["subscriber", "add", "--db", db.to_str().unwrap()])
        .args(["--imsi", &imsi, "--k", &hex::encode(k)])
        .args(["--opc", &hex::encode(opc)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
    let sock = dir.path().join("hlr.sock");
    let _gw = Reap(Some(
        Command::new(env!("CARGO_BIN_EXE_aaa-server"))
            .args(["hlr-gw", "--db", db.to_str().unwrap()])
            .args(["--socket", sock.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_for("hlr-gw socket", || sock.exists());
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let clients = dir.path().join("clients");
    std::fs::write(&clients, format!("127.0.0.1/32 {SECRET}\n")).unwrap();
    let users = dir.path().join("eap_users");
    std::fs::write(&users, "\"6\"*\tAKA'\n").unwrap();
    let conf = dir.path().join("hostapd.conf");
    std::fs::write(
        &conf,
        format!(
            "driver=none\ninterface=aaaprx{port}\nradius_server_clients={}\nradius_server_auth_port={port}\n\
             eap_server=1\neap_user_file={}\neap_sim_db=unix:{}\n",
            clients.display(),
            users.display(),
            sock.display()
        ),
    )
    .unwrap();
    let _hostapd = Reap(Some(
        Command::new(hostapd)
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    let needle = format!(":{port:04X} ");
    wait_for("hostapd RADIUS port", || {
        std::fs::read_to_string("/proc/net/udp").is_ok_and(|t| t.contains(&needle))
    });
    let visited = proxy(&[format!("udp://127.0.0.1:{port}")], &[]);
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited]);
    assert!(visited.wait_log("proxied").is_some());
}

// ------------------------------------------------- RadSec to the home server

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

#[test]
fn eap_aka_prime_through_the_proxy_over_radsec_to_our_home_server() {
    if tool("eapol_test").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::issue(None, "proxy test CA", &[]);
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert.to_pem().unwrap()).unwrap();
    let (home_cert, home_key) = pki::write(
        dir.path(),
        "home",
        &pki::issue(
            Some(&ca),
            "aaa.home.example",
            &["DNS:aaa.home.example", "IP:127.0.0.1"],
        ),
    );
    let (our_cert, our_key) = pki::write(
        dir.path(),
        "visited",
        &pki::issue(
            Some(&ca),
            "proxy.visited.example",
            &["DNS:proxy.visited.example"],
        ),
    );
    let (imsi, k, opc) = vector_subscriber(5);
    let home = Server::start_with(
        "\"aka-prime\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\nidle_timeout = 1\n[[radsec.client]]\nname = \"visited\"\n\
             subject_alt_name = \"proxy.visited.example\"\n",
            home_cert.display(),
            home_key.display(),
            ca_pem.display()
        ),
    );
    let line = home
        .wait_log("radsec listening")
        .unwrap_or_else(|| panic!("no radsec listener: {:#?}", home.logs()));
    let start = line.find("address=").unwrap() + "address=".len();
    let radsec_addr: std::net::SocketAddr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"radsec://127.0.0.1:{}\"]\n\
             [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n",
            radsec_addr.port(),
            our_cert.display(),
            our_key.display(),
            ca_pem.display()
        ),
    );
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited, &home]);
    assert!(visited.wait_log("proxied").is_some());
    assert!(
        home.wait_log("authentication finished").is_some(),
        "{:#?}",
        home.logs()
    );
    let connections = || {
        home.logs()
            .iter()
            .filter(|l| l.contains("radsec connection established"))
            .count()
    };
    assert_eq!(connections(), 1, "one TLS connection for every round");
    // The home server closes the idle connection (idle_timeout = 1 s): the
    // next authentication replaces it.
    std::thread::sleep(Duration::from_millis(1500));
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited, &home]);
    assert_eq!(connections(), 2, "{:#?}", home.logs());
}

/// `[tls_client]` for the proxy, trusting `ca_pem`.
fn tls_client_toml(cert: &std::path::Path, key: &std::path::Path, ca: &std::path::Path) -> String {
    format!(
        "[tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n",
        cert.display(),
        key.display(),
        ca.display()
    )
}

#[test]
fn radsec_home_server_with_a_certificate_from_another_ca_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::issue(None, "home CA", &[]);
    let other = pki::issue(None, "some other CA", &[]);
    let other_pem = dir.path().join("other.pem");
    std::fs::write(&other_pem, other.cert.to_pem().unwrap()).unwrap();
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert.to_pem().unwrap()).unwrap();
    let (home_cert, home_key) = pki::write(
        dir.path(),
        "home",
        &pki::issue(Some(&ca), "home", &["IP:127.0.0.1"]),
    );
    let (our_cert, our_key) = pki::write(
        dir.path(),
        "visited",
        &pki::issue(Some(&ca), "visited", &["DNS:proxy.visited.example"]),
    );
    let home = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n[[radsec.client]]\nname = \"visited\"\n",
            home_cert.display(),
            home_key.display(),
            ca_pem.display()
        ),
    );
    let line = home.wait_log("radsec listening").unwrap();
    let start = line.find("address=").unwrap() + "address=".len();
    let port = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse::<std::net::SocketAddr>()
        .unwrap()
        .port();
    // The proxy trusts only the other CA: the home server's certificate is refused.
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"radsec://127.0.0.1:{port}\"]\n[proxy]\ntimeout = 1\nretries = 0\n{}",
            tls_client_toml(&our_cert, &our_key, &other_pem)
        ),
    );
    let (req, auth) = request_with_proxy_state(5, "6001010000000001@wlan.partner.example");
    let resp = ask(visited.auth, &req);
    assert_eq!((resp[0], resp[1]), (3, 5), "Access-Reject");
    assert!(aaa_server::radius::crypto::check_response(
        &resp,
        &auth,
        SECRET.as_bytes()
    ));
    assert!(
        visited.wait_log("did not answer over TLS").is_some(),
        "{:#?}",
        visited.logs()
    );
    assert!(
        home.logs()
            .iter()
            .all(|l| !l.contains("authentication finished")),
        "nothing reached the home server's EAP"
    );
}

#[test]
fn eap_aka_prime_through_the_proxy_over_radsec_to_radsecproxy() {
    let (Some(_), Some(radsecproxy)) = (tool("eapol_test"), tool("radsecproxy")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::issue(None, "proxy test CA", &[]);
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert.to_pem().unwrap()).unwrap();
    let (hub_cert, hub_key) = pki::write(
        dir.path(),
        "hub",
        &pki::issue(
            Some(&ca),
            "hub.example",
            &["DNS:hub.example", "IP:127.0.0.1"],
        ),
    );
    let (our_cert, our_key) = pki::write(
        dir.path(),
        "visited",
        &pki::issue(
            Some(&ca),
            "visited",
            &["DNS:visited.example", "IP:127.0.0.1"],
        ),
    );
    // The home server behind radsecproxy, over UDP.
    let (imsi, k, opc) = vector_subscriber(0);
    let home = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("radsecproxy.conf");
    std::fs::write(
        &conf,
        format!(
            "ListenTLS 127.0.0.1:{tls_port}\nListenUDP 127.0.0.1:0\nLogLevel 4\n\
             tls default {{\n  CACertificateFile {}\n  CertificateFile {}\n  CertificateKeyFile {}\n}}\n\
             client visited {{\n  host 127.0.0.1\n  type tls\n  secret radsec\n}}\n\
             server home {{\n  host 127.0.0.1\n  port {}\n  type udp\n  secret {SECRET}\n}}\n\
             realm * {{\n  server home\n}}\n",
            ca_pem.display(),
            hub_cert.display(),
            hub_key.display(),
            home.auth.port()
        ),
    )
    .unwrap();
    let log = dir.path().join("radsecproxy.log");
    let _hub = Reap(Some(
        Command::new(radsecproxy)
            .args(["-f", "-d", "4", "-c"])
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    ));
    let needle = format!(":{tls_port:04X} ");
    wait_for("radsecproxy TLS port", || {
        std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| t.contains(&needle))
    });
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"radsec://127.0.0.1:{tls_port}\"]\n{}",
            tls_client_toml(&our_cert, &our_key, &ca_pem)
        ),
    );
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.partner.example"),
        &mut usim,
    );
    if !ok || !out.contains("MPPE keys OK: 1  mismatch: 0") {
        panic!(
            "eapol_test → proxy → RadSec → radsecproxy → home failed:\n{out}\nradsecproxy:\n{}\nproxy: {:#?}\nhome: {:#?}",
            std::fs::read_to_string(&log).unwrap_or_default(),
            visited.logs(),
            home.logs()
        );
    }
    assert!(visited.wait_log("proxied").is_some());
    assert!(home.wait_log("authentication finished").is_some());
}

/// SIGSTOP / SIGCONT of our own child process.
fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) of a child process this test started and still holds.
    assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
}

#[test]
fn dead_home_server_is_revived_by_status_server() {
    let (imsi, k, opc) = vector_subscriber(3);
    let home = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"udp://{}\"]\nsecret = \"{SECRET}\"\n\
             [proxy]\ntimeout = 1\nretries = 0\ndead_time = 1\n",
            home.auth
        ),
    );
    let nai = format!("6{imsi}@wlan.partner.example");
    // The home server stops answering: Access-Reject, marked dead.
    signal(home.pid(), libc::SIGSTOP);
    let resp = ask(visited.auth, &request_with_proxy_state(1, &nai).0);
    assert_eq!(resp[0], 3, "Access-Reject");
    assert!(visited.wait_log("marked dead").is_some());
    // Still stopped after dead_time: the probe goes unanswered, Access-Reject.
    std::thread::sleep(Duration::from_millis(1100));
    let resp = ask(visited.auth, &request_with_proxy_state(2, &nai).0);
    assert_eq!(resp[0], 3);
    assert!(
        visited.wait_log("probe unanswered").is_some(),
        "{:#?}",
        visited.logs()
    );
    // Back: after dead_time the probe is answered and the request served.
    signal(home.pid(), libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(1100));
    let resp = ask(visited.auth, &request_with_proxy_state(3, &nai).0);
    assert_eq!((resp[0], resp[1]), (11, 3), "Access-Challenge from home");
    assert!(
        visited.wait_log("revived").is_some(),
        "{:#?}",
        visited.logs()
    );
}

#[test]
fn tls_client_files_are_checked_when_the_configuration_is_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ca = pki::issue(None, "CA", &[]);
    let ca_pem = dir.path().join("ca.pem");
    std::fs::write(&ca_pem, ca.cert.to_pem().unwrap()).unwrap();
    let (cert, key) = pki::write(
        dir.path(),
        "visited",
        &pki::issue(Some(&ca), "visited", &["DNS:visited.example"]),
    );
    let parse = |tls: &str| {
        aaa_server::config::Config::parse(
            &format!(
                "[[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"s\"\n[hss]\ndatabase = \"s.db\"\n\
                 [[realm]]\nname = \"*\"\naction = \"proxy\"\nservers = [\"radsec://127.0.0.1:2083\"]\n{tls}"
            ),
            &dir.path().join("aaa.toml"),
        )
    };
    let good = parse(&tls_client_toml(&cert, &key, &ca_pem)).unwrap();
    assert!(good.proxy.tls_client.is_some());
    let e = parse("").unwrap_err();
    assert_eq!(e.key, "realm[0].servers", "{e:?}");
    assert!(e.message.contains("[tls_client]"), "{e:?}");
    // Relative paths are resolved against the configuration's directory.
    assert!(
        parse(&tls_client_toml(
            Path::new("visited.pem"),
            Path::new("visited.key"),
            Path::new("ca.pem")
        ))
        .is_ok()
    );
    let e = parse(&tls_client_toml(
        &cert,
        &key,
        &dir.path().join("missing.pem"),
    ))
    .unwrap_err();
    assert_eq!(e.key, "tls_client.ca", "{e:?}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = parse(&tls_client_toml(&cert, &key, &ca_pem)).unwrap_err();
    assert_eq!(e.key, "tls_client.private_key", "{e:?}");
    assert!(e.message.contains("chmod 600"), "{e:?}");
}

/// GET /metrics from `addr`: the body.
fn scrape(addr: std::net::SocketAddr) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /metrics HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    body.to_string()
}

fn sample(body: &str, name: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no sample {name} in\n{body}"))
}

#[test]
fn proxy_counters_and_dead_home_servers_at_metrics_accepted_by_promtool() {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let dead = silent_port();
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"udp://{}\"]\nsecret = \"{SECRET}\"\n\
             [[realm]]\nname = \"*.refused.example\"\naction = \"reject\"\n\
             [proxy]\ntimeout = 1\nretries = 0\n\
             [metrics]\nlisten = \"127.0.0.1:0\"\n",
            dead.local_addr().unwrap()
        ),
    );
    let line = visited
        .wait_log("metrics endpoint listening")
        .unwrap_or_else(|| panic!("no metrics line: {:#?}", visited.logs()));
    let start = line.find("addr=").expect("addr field") + 5;
    let addr: std::net::SocketAddr = line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (req, _) = request_with_proxy_state(1, "6001010000000001@wlan.partner.example");
    assert_eq!(ask(visited.auth, &req)[0], 3);
    let (req, _) = request_with_proxy_state(2, "6001010000000001@x.refused.example");
    assert_eq!(ask(visited.auth, &req)[0], 3);
    let body = scrape(addr);
    assert_eq!(sample(&body, "aaa_proxy_forwarded_total"), 1.0);
    assert_eq!(sample(&body, "aaa_proxy_no_live_server_total"), 1.0);
    assert_eq!(sample(&body, "aaa_proxy_rejected_by_realm_total"), 1.0);
    assert_eq!(sample(&body, "aaa_proxy_marked_dead_total"), 1.0);
    assert_eq!(sample(&body, "aaa_proxy_home_servers_dead"), 1.0);
    assert_eq!(
        sample(
            &body,
            &format!(
                "aaa_proxy_home_server_up{{realm=\"*.partner.example\",server=\"udp://{}\"}}",
                dead.local_addr().unwrap()
            )
        ),
        0.0
    );
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics:\n{}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

// ------------------------------------------ load balancing, State stickiness

/// The `server=` of the proxy's `proxied` log lines from `from` on.
fn proxied_servers(visited: &Server, from: usize) -> Vec<String> {
    visited
        .logs()
        .iter()
        .filter(|l| l.contains("proxied"))
        .skip(from)
        .filter_map(|l| {
            let s = l.find("server=")? + "server=".len();
            l[s..].split_whitespace().next().map(str::to_string)
        })
        .collect()
}

/// [`proxied_servers`] once there are `n` of them (2 s at most).
fn proxied_servers_n(visited: &Server, from: usize, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let v = proxied_servers(visited, from);
        if v.len() >= n {
            return v;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    proxied_servers(visited, from)
}

#[test]
fn conversations_are_spread_over_two_home_servers_and_each_stays_on_one() {
    if tool("eapol_test").is_none() {
        return;
    }
    // Four subscribers with the same keys (each has its own SQN), in both
    // home servers' stores.
    let (_, k, opc) = vector_subscriber(0);
    let imsis: Vec<String> = (0..4).map(|i| format!("00101{:010}", 500 + i)).collect();
    let subs: Vec<_> = imsis
        .iter()
        .map(|i| (i.clone(), k, opc, Sqn::default()))
        .collect();
    let home_a = Server::start("\"aka-prime\"", &subs);
    let home_b = Server::start("\"aka-prime\"", &subs);
    let (a, b) = (
        format!("udp://{}", home_a.auth),
        format!("udp://{}", home_b.auth),
    );
    let visited = proxy(&[a.clone(), b.clone()], &[]);
    let mut firsts = Vec::new();
    for imsi in &imsis {
        let before = proxied_servers(&visited, 0).len();
        let mut usim = Usim::new(k, opc);
        let (ok, out) = eapol_test(
            visited.auth.port(),
            &format!("6{imsi}@wlan.partner.example"),
            &mut usim,
        );
        must_succeed(ok, &out, &[&visited, &home_a, &home_b]);
        // Every round of this conversation went to one home server.
        let rounds = proxied_servers_n(&visited, before, 2);
        // Identity → AKA'-Challenge, Challenge response → Accept.
        assert!(rounds.len() >= 2, "two rounds at least: {rounds:?}");
        assert!(
            rounds.iter().all(|s| *s == rounds[0]),
            "one conversation, one server: {rounds:?}"
        );
        firsts.push(rounds[0].clone());
    }
    // Round robin: the conversations alternate between the two servers.
    assert_eq!(firsts, [a.clone(), b.clone(), a.clone(), b.clone()]);
    let finished = |s: &Server| {
        s.logs()
            .iter()
            .filter(|l| l.contains("authentication finished"))
            .count()
    };
    assert!(home_b.wait_log("authentication finished").is_some());
    assert_eq!(
        (finished(&home_a), finished(&home_b)),
        (2, 2),
        "{:#?}\n{:#?}",
        home_a.logs(),
        home_b.logs()
    );
}

/// An Access-Request continuing a conversation: EAP-Response/Identity for
/// `nai` (its content does not matter here) with `state`, signed.
fn request_with_state(id: u8, nai: &str, state: &[u8]) -> Vec<u8> {
    let mut p = vec![1, id, 0, 0];
    p.extend_from_slice(&[0x33; 16]);
    let mut add = |t: u8, v: &[u8]| {
        p.push(t);
        p.push(v.len() as u8 + 2);
        p.extend_from_slice(v);
    };
    let mut eap = vec![2, 2, 0, 0, 1];
    eap.extend_from_slice(nai.as_bytes());
    let l = eap.len() as u16;
    eap[2..4].copy_from_slice(&l.to_be_bytes());
    add(1, nai.as_bytes());
    add(79, &eap);
    add(24, state);
    add(80, &[0; 16]);
    let l = p.len() as u16;
    p[2..4].copy_from_slice(&l.to_be_bytes());
    common::sign_ma_last(p, SECRET.as_bytes())
}

fn first_attr(p: &[u8], typ: u8) -> Option<Vec<u8>> {
    let mut i = 20;
    while i + 2 <= p.len() {
        let l = usize::from(p[i + 1]).max(2);
        if p[i] == typ {
            return Some(p[i + 2..(i + l).min(p.len())].to_vec());
        }
        i += l;
    }
    None
}

#[test]
fn a_conversation_whose_home_server_died_is_rejected_and_a_new_one_goes_elsewhere() {
    let (imsi, k, opc) = vector_subscriber(1);
    let subs = [(imsi.clone(), k, opc, Sqn::default())];
    let home_a = Server::start("\"aka-prime\"", &subs);
    let home_b = Server::start("\"aka-prime\"", &subs);
    let visited = proxy(
        &[
            format!("udp://{}", home_a.auth),
            format!("udp://{}", home_b.auth),
        ],
        &[],
    );
    let nai = format!("6{imsi}@wlan.partner.example");
    // Round 1 of a conversation: a new one, to home A (the first turn).
    let (req, _) = request_with_proxy_state(1, &nai);
    let resp = ask(visited.auth, &req);
    assert_eq!(resp[0], 11, "Access-Challenge");
    let state = first_attr(&resp, 24).expect("State from the home server");
    assert_eq!(
        proxied_servers_n(&visited, 0, 1),
        [format!("udp://{}", home_a.auth)]
    );
    // Home A stops answering; the conversation's next request waits for A
    // only, then gets Access-Reject (B does not know the State).
    signal(home_a.pid(), libc::SIGSTOP);
    let resp = ask(visited.auth, &request_with_state(2, &nai, &state));
    signal(home_a.pid(), libc::SIGCONT);
    assert_eq!(resp[0], 3, "Access-Reject");
    assert!(
        visited.wait_log("marked dead").is_some(),
        "{:#?}",
        visited.logs()
    );
    assert!(
        home_b
            .logs()
            .iter()
            .all(|l| !l.contains("Access-Request") && !l.contains("authentication")),
        "nothing of the conversation reached B: {:#?}",
        home_b.logs()
    );
    // Again while A is marked dead: Access-Reject at once, with its reason.
    let resp = ask(visited.auth, &request_with_state(3, &nai, &state));
    assert_eq!(resp[0], 3);
    assert!(
        visited
            .wait_log("the home server of this EAP conversation is dead")
            .is_some(),
        "{:#?}",
        visited.logs()
    );
    // The supplicant starts over (no State): the new conversation goes to B.
    let (req, _) = request_with_proxy_state(4, &nai);
    let resp = ask(visited.auth, &req);
    assert_eq!(resp[0], 11, "Access-Challenge from B");
    assert_eq!(
        proxied_servers_n(&visited, 1, 1),
        [format!("udp://{}", home_b.auth)]
    );
}

#[test]
fn a_silent_home_server_holds_no_store_worker() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (imsi, k, opc) = vector_subscriber(2);
    let dead = silent_port();
    // 64 requests wait 5 s each for the silent server; the store workers
    // (32 by default) would all be held by them, the local authentication
    // queued behind two rounds of 5 s.
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
        &format!(
            "[[realm]]\nname = \"wlan.mnc001.mcc001.3gppnetwork.org\"\naction = \"local\"\n\
             [[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"udp://{}\"]\nsecret = \"{SECRET}\"\n\
             [proxy]\ntimeout = 5\nretries = 0\n",
            dead.local_addr().unwrap()
        ),
    );
    let nas = UdpSocket::bind("127.0.0.1:0").unwrap();
    for id in 0..64u8 {
        let req = common::identity_access_request(
            id,
            &format!("6001010000{:06}@wlan.partner.example", id),
        );
        nas.send_to(&req, visited.auth).unwrap();
    }
    let mut buf = [0u8; 4096];
    let seen = || {
        visited
            .logs()
            .iter()
            .filter(|l| l.contains("home server did not answer"))
            .count()
    };
    let mut usim = Usim::new(k, opc);
    let (ok, out) = eapol_test(
        visited.auth.port(),
        &format!("6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org"),
        &mut usim,
    );
    must_succeed(ok, &out, &[&visited]);
    // The proxied requests were still waiting while the local one was served.
    nas.set_nonblocking(true).unwrap();
    assert!(
        nas.recv_from(&mut buf).is_err() && seen() == 0,
        "the proxied requests were answered before the local authentication finished"
    );
    // Then each gets its Access-Reject (none dropped).
    nas.set_nonblocking(false).unwrap();
    nas.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut ids = std::collections::BTreeSet::new();
    while ids.len() < 64 {
        let (n, _) = nas.recv_from(&mut buf).expect("an Access-Reject for each");
        assert!(n >= 20 && buf[0] == 3, "Access-Reject");
        ids.insert(buf[1]);
    }
}

#[test]
fn balance_failover_keeps_every_conversation_on_the_first_live_server() {
    if tool("eapol_test").is_none() {
        return;
    }
    let (_, k, opc) = vector_subscriber(0);
    let imsis: Vec<String> = (0..2).map(|i| format!("00101{:010}", 600 + i)).collect();
    let subs: Vec<_> = imsis
        .iter()
        .map(|i| (i.clone(), k, opc, Sqn::default()))
        .collect();
    let home_a = Server::start("\"aka-prime\"", &subs);
    let home_b = Server::start("\"aka-prime\"", &subs);
    let a = format!("udp://{}", home_a.auth);
    let visited = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\nbalance = \"failover\"\n\
             servers = [\"{a}\", \"udp://{}\"]\nsecret = \"{SECRET}\"\n\
             [proxy]\ntimeout = 1\nretries = 0\n",
            home_b.auth
        ),
    );
    for imsi in &imsis {
        let mut usim = Usim::new(k, opc);
        let (ok, out) = eapol_test(
            visited.auth.port(),
            &format!("6{imsi}@wlan.partner.example"),
            &mut usim,
        );
        must_succeed(ok, &out, &[&visited, &home_a, &home_b]);
    }
    let servers = proxied_servers_n(&visited, 0, 4);
    assert!(
        servers.len() >= 4 && servers.iter().all(|s| *s == a),
        "{servers:?}"
    );
}
