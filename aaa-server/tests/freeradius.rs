//! FreeRADIUS 3.2 (Debian package `freeradius`) as a roaming partner, both
//! ways, over RadSec with the WBA-like test PKI (tests/common/pki.rs: each
//! side sends leaf + issuing CA + policy CA, the root is the only anchor):
//!
//! - eapol_test (EAP-PEAP/MSCHAPv2) → `aaa-server serve` as proxy → RadSec →
//!   FreeRADIUS as home server (a TLS listener, PEAP with a users file);
//! - eapol_test (EAP-AKA', external SIM answered here) → FreeRADIUS as proxy
//!   (a `home_server` with `proto = tcp` and `tls`) → RadSec → `serve` as
//!   home server.
//!
//! "MPPE keys OK" at eapol_test proves that each hop re-encrypted
//! MS-MPPE-Send/Recv-Key with its own secret. Then the bad certificates of
//! the test PKI (expired, from a look-alike CA, naming something else), shown
//! by FreeRADIUS as home server to our proxy and as proxy to our home
//! server: refused both ways. FreeRADIUS runs only from a configuration
//! generated in a temp dir (`-d DIR`), on ports picked here.

mod common;
#[path = "common/freeradius.rs"]
mod freeradius;
#[path = "common/pki.rs"]
mod pki;

use common::{SECRET, Server, tool, usim_answer, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use freeradius::{FreeRadius, freeradius, freeradius_tls, home_body};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A free port on 127.0.0.1 (TCP or UDP), for the peers that cannot take port 0.
fn free_port(udp: bool) -> u16 {
    if udp {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    } else {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }
}

/// FreeRADIUS as a proxy: RADIUS/UDP from the NAS on 127.0.0.1:`udp_port`
/// (secret [`SECRET`]), `realm` sent over RadSec (TLS 1.2 up to
/// `tls_max_version`) to 127.0.0.1:`port` with the client certificate `id`.
fn proxy_body(
    pki: &pki::Pki,
    id: &pki::Identity,
    tls_max_version: &str,
    port: u16,
    udp_port: u16,
    realm: &str,
) -> String {
    format!(
        "proxy_requests = yes\n\
             proxy server {{\n  default_fallback = no\n}}\n\
             home_server ours {{\n  ipaddr = 127.0.0.1\n  port = {port}\n  type = auth\n  secret = radsec\n\
             \x20 proto = tcp\n  status_check = none\n  {tls}}}\n\
             home_server_pool ours {{\n  type = fail-over\n  home_server = ours\n}}\n\
             realm {realm} {{\n  auth_pool = ours\n  nostrip\n}}\n\
             client nas {{\n  ipaddr = 127.0.0.1\n  secret = {SECRET}\n}}\n\
             modules {{\n  realm suffix {{\n    format = suffix\n    delimiter = \"@\"\n  }}\n}}\n\
             listen {{\n  ipaddr = 127.0.0.1\n  port = {udp_port}\n  type = auth\n  virtual_server = default\n}}\n\
             server default {{\n  authorize {{\n    suffix\n  }}\n  authenticate {{\n  }}\n}}\n",
        // Over TLS 1.3, FreeRADIUS 3.2.1 as a RadSec client used to lose one
        // run in three here: it logged "Sent Access-Request" after the
        // handshake but never put it on the wire (a capture showed only our
        // two TLS 1.3 NewSessionTickets after its Finished). `serve` sends no
        // tickets since.
        tls = freeradius_tls(pki, id, tls_max_version, "    connect_timeout = 5\n"),
    )
}

/// The RadSec address `serve` logged.
fn radsec_addr(server: &Server) -> SocketAddr {
    let line = server
        .wait_log("radsec listening")
        .unwrap_or_else(|| panic!("no radsec listener: {:#?}", server.logs()));
    let start = line.find("address=").unwrap() + "address=".len();
    line[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Runs eapol_test with `network` (the body of its network block) against
/// 127.0.0.1:`port`, secret [`SECRET`]; (exit 0 and SUCCESS, its output).
fn eapol_test_plain(bin: &Path, port: u16, network: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("eapol.conf");
    std::fs::write(
        &conf,
        format!("network={{\n  key_mgmt=IEEE8021X\n  eapol_flags=0\n{network}}}\n"),
    )
    .unwrap();
    let out = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-s", SECRET])
        .args(["-r", "0", "-t", "20"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let ok = out.status.success() && stdout.lines().any(|l| l.trim() == "SUCCESS");
    (ok, stdout)
}

#[test]
fn peap_mschapv2_through_our_proxy_over_radsec_to_freeradius() {
    let (Some(eapol), Some(fr_bin)) = (tool("eapol_test"), freeradius()) else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let dir = pki.path();
    // FreeRADIUS's RadSec listener and its EAP server use one leaf, named
    // for the address our proxy dials and for the PEAP domain check.
    let home = pki.leaf(
        "freeradius-home",
        "aaa.partner.example",
        &["DNS:aaa.partner.example", "IP:127.0.0.1"],
    );
    let visited = pki.leaf(
        "visited",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    let fr_dir = dir.join("freeradius");
    std::fs::create_dir_all(&fr_dir).unwrap();
    std::fs::write(
        fr_dir.join("users"),
        "alice Cleartext-Password := \"wonderland\"\n",
    )
    .unwrap();
    let tls_port = free_port(false);
    let fr = FreeRadius::start(&fr_bin, &fr_dir, &home_body(&pki, &home, &home, tls_port));
    let proxy = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"radsec://127.0.0.1:{tls_port}\"]\n\
             [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n\
             [proxy]\ntimeout = 5\nretries = 0\noperator_name = \"1visited.example\"\n",
            visited.chain.display(),
            visited.key.display(),
            pki.root_pem.display()
        ),
    );
    let (ok, out) = eapol_test_plain(
        &eapol,
        proxy.auth.port(),
        &format!(
            "  eap=PEAP\n  identity=\"alice\"\n  anonymous_identity=\"anonymous@wlan.partner.example\"\n\
             \x20 password=\"wonderland\"\n  phase2=\"auth=MSCHAPV2\"\n  ca_cert=\"{}\"\n\
             \x20 domain_suffix_match=\"partner.example\"\n",
            pki.root_pem.display()
        ),
    );
    assert!(
        ok && out.contains("MPPE keys OK: 1  mismatch: 0"),
        "eapol_test → serve (proxy) → RadSec → FreeRADIUS failed:\n{out}\nproxy: {:#?}\nfreeradius:\n{}",
        proxy.logs(),
        fr.output()
    );
    assert!(proxy.wait_log("proxied").is_some(), "{:#?}", proxy.logs());
    let fr_out = fr.output();
    assert!(
        fr_out.contains("Login OK: [alice"),
        "FreeRADIUS authenticated alice (inner identity):\n{fr_out}"
    );
    // RFC 5580: our proxy added Operator-Name, FreeRADIUS decoded it.
    assert!(
        fr_out.contains("Operator-Name = \"1visited.example\""),
        "{fr_out}"
    );
    assert!(
        proxy
            .logs()
            .iter()
            .all(|l| !l.contains("authentication finished")),
        "the proxy ran no EAP"
    );
}

#[test]
fn eap_aka_prime_through_freeradius_proxy_over_radsec_to_our_home_server() {
    let (Some(eapol), Some(fr_bin)) = (tool("eapol_test"), freeradius()) else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let dir = pki.path();
    let ours = pki.leaf(
        "home",
        "aaa.home.example",
        &["DNS:aaa.home.example", "IP:127.0.0.1"],
    );
    let fr_id = pki.leaf(
        "freeradius-visited",
        "radius.visited.example",
        &["DNS:radius.visited.example"],
    );
    let (imsi, k, opc) = vector_subscriber(2);
    let home = Server::start_with(
        "\"aka-prime\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n[[radsec.client]]\nname = \"freeradius-visited\"\n\
             subject_alt_name = \"*.visited.example\"\n",
            ours.chain.display(),
            ours.key.display(),
            pki.root_pem.display()
        ),
    );
    let radsec = radsec_addr(&home);
    let realm = "wlan.mnc001.mcc001.3gppnetwork.org";
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    for (n, version) in ["1.3", "1.2"].into_iter().enumerate() {
        let fr_dir = dir.join(format!("freeradius-tls{version}"));
        std::fs::create_dir_all(&fr_dir).unwrap();
        let udp_port = free_port(true);
        let fr = FreeRadius::start(
            &fr_bin,
            &fr_dir,
            &proxy_body(&pki, &fr_id, version, radsec.port(), udp_port, realm),
        );
        let (ok, out, wall) = common::eapol_test_external_sim(
            &eapol,
            SECRET,
            udp_port,
            "AKA'",
            &format!("  identity=\"6{imsi}@{realm}\"\n"),
            0,
            |rand, autn| usim_answer(&keys, rand, autn),
        );
        let fr_out = fr.output();
        assert!(
            ok && out.contains("MPPE keys OK: 1  mismatch: 0"),
            "eapol_test → FreeRADIUS (proxy, TLS {version}) → RadSec → serve failed:\n{out}\n\
             freeradius:\n{fr_out}\nhome: {:#?}",
            home.logs()
        );
        assert!(
            fr_out.contains(&format!("recv TLS {version} Handshake, ServerHello")),
            "TLS {version} negotiated:\n{fr_out}"
        );
        let count = |needle: &str| {
            home.logs()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect::<Vec<_>>()
        };
        let finished = count("authentication finished");
        assert!(
            finished.len() == n + 1 && finished[n].contains("success"),
            "{finished:#?}"
        );
        let established = count("radsec connection established");
        assert!(
            established.len() == n + 1 && established[n].contains("client=freeradius-visited"),
            "{established:#?}"
        );
        eprintln!("eapol_test → FreeRADIUS → RadSec (TLS {version}) → serve: EAP-AKA' in {wall:?}");
    }
}

/// Sends `req` to `to`; the answer, or `None` after `secs` seconds.
fn ask(to: SocketAddr, req: &[u8], secs: u64) -> Option<Vec<u8>> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
    s.send_to(req, to).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.recv(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

#[test]
fn freeradius_home_servers_with_bad_certificates_are_refused_by_our_proxy() {
    let Some(fr_bin) = freeradius() else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let impostor = pki::Pki::look_alike();
    let visited = pki.leaf(
        "visited",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    let eap = pki.leaf(
        "freeradius-eap",
        "aaa.partner.example",
        &["DNS:aaa.partner.example"],
    );
    let sans = ["DNS:aaa.partner.example", "IP:127.0.0.1"];
    let cases = [
        (
            "expired",
            pki.expired_leaf("home-expired", "aaa.partner.example", &sans),
            "alert certificate expired",
        ),
        (
            "wrong CA",
            impostor.leaf("home-wrong-ca", "aaa.partner.example", &sans),
            // The names chain up to our root, the signatures do not.
            "alert decrypt error",
        ),
        (
            // Our proxy dials 127.0.0.1; this certificate names 127.0.0.2.
            "SAN mismatch",
            pki.leaf(
                "home-other-address",
                "aaa.partner.example",
                &["DNS:aaa.partner.example", "IP:127.0.0.2"],
            ),
            "alert bad certificate",
        ),
    ];
    for (i, (what, listener, alert)) in cases.iter().enumerate() {
        let fr_dir = pki.path().join(format!("freeradius-{i}"));
        std::fs::create_dir_all(&fr_dir).unwrap();
        std::fs::write(fr_dir.join("users"), "").unwrap();
        let tls_port = free_port(false);
        let fr = FreeRadius::start(&fr_bin, &fr_dir, &home_body(&pki, listener, &eap, tls_port));
        let proxy = Server::start_with(
            "\"aka-prime\"",
            &[],
            &format!(
                "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
                 servers = [\"radsec://127.0.0.1:{tls_port}\"]\n\
                 [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n\
                 [proxy]\ntimeout = 2\nretries = 0\n",
                visited.chain.display(),
                visited.key.display(),
                pki.root_pem.display()
            ),
        );
        let req = common::identity_access_request(11, "anonymous@wlan.partner.example");
        let resp = ask(proxy.auth, &req, 10).expect("an answer from our proxy");
        assert_eq!((resp[0], resp[1]), (3, 11), "{what}: Access-Reject");
        assert!(
            proxy.wait_log("did not answer over TLS").is_some(),
            "{what}: {:#?}",
            proxy.logs()
        );
        let why = proxy
            .wait_log("RadSec TLS with home server failed")
            .unwrap_or_else(|| panic!("{what}: {:#?}", proxy.logs()));
        let reason = match *what {
            "expired" => "expired",
            "wrong CA" => "BadSignature",
            _ => "not valid for name",
        };
        assert!(why.contains(reason), "{what}: {reason:?} expected: {why}");
        // FreeRADIUS got our TLS alert for its certificate (it may log it
        // after our proxy has answered the NAS).
        let until = Instant::now() + Duration::from_secs(5);
        let out = loop {
            let out = fr.output();
            if out.contains(alert) || Instant::now() > until {
                break out;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            !out.contains("Received Access-Request"),
            "{what}: nothing reached FreeRADIUS:\n{out}"
        );
        let alerts: Vec<&str> = out.lines().filter(|l| l.contains("alert")).collect();
        eprintln!("{what}: FreeRADIUS: {alerts:?}");
        assert!(
            alerts.iter().any(|l| l.contains(alert)),
            "{what}: {alert:?} expected:\n{out}"
        );
    }
}

#[test]
fn freeradius_proxy_with_bad_client_certificates_is_refused_by_our_home_server() {
    let Some(fr_bin) = freeradius() else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let impostor = pki::Pki::look_alike();
    let ours = pki.leaf(
        "home",
        "aaa.home.example",
        &["DNS:aaa.home.example", "IP:127.0.0.1"],
    );
    let (imsi, k, opc) = vector_subscriber(2);
    let home = Server::start_with(
        "\"aka-prime\"",
        &[(imsi.clone(), k, opc, Sqn::default())],
        &format!(
            "[radsec]\nlisten = \"127.0.0.1:0\"\ncertificate = \"{}\"\nprivate_key = \"{}\"\n\
             ca = \"{}\"\n[[radsec.client]]\nname = \"freeradius-visited\"\n\
             subject_alt_name = \"*.visited.example\"\n",
            ours.chain.display(),
            ours.key.display(),
            pki.root_pem.display()
        ),
    );
    let radsec = radsec_addr(&home);
    let name = "radius.visited.example";
    let cases = [
        (
            "expired",
            pki.expired_leaf("fr-expired", name, &[&format!("DNS:{name}")]),
            "xpired",
        ),
        (
            // Same names up to the root, other keys.
            "wrong CA",
            impostor.leaf("fr-wrong-ca", name, &[&format!("DNS:{name}")]),
            "BadSignature",
        ),
        (
            "SAN mismatch",
            pki.leaf(
                "fr-partner-b",
                "radius.partner-b.example",
                &["DNS:radius.partner-b.example"],
            ),
            "matches no radsec.client",
        ),
    ];
    let realm = "wlan.mnc001.mcc001.3gppnetwork.org";
    let refusals = || {
        home.logs()
            .into_iter()
            .filter(|l| {
                l.contains("client certificate refused") || l.contains("matches no radsec.client")
            })
            .collect::<Vec<_>>()
    };
    for (i, (what, id, needle)) in cases.iter().enumerate() {
        let fr_dir = pki.path().join(format!("freeradius-{i}"));
        std::fs::create_dir_all(&fr_dir).unwrap();
        let udp_port = free_port(true);
        let fr = FreeRadius::start(
            &fr_bin,
            &fr_dir,
            &proxy_body(&pki, id, "1.3", radsec.port(), udp_port, realm),
        );
        // FreeRADIUS opens the TLS connection to proxy this request.
        let req = common::identity_access_request(21, &format!("6{imsi}@{realm}"));
        let nas: SocketAddr = format!("127.0.0.1:{udp_port}").parse().unwrap();
        // FreeRADIUS may try more than once (the request is sent again each
        // second): look at the refusals logged since this case began.
        let base = refusals().len();
        let until = Instant::now() + Duration::from_secs(15);
        let line = loop {
            if let Some(l) = refusals()[base..].iter().find(|l| l.contains(needle)) {
                break l.clone();
            }
            assert!(
                Instant::now() < until,
                "{what}: not refused:\n{:#?}\nFreeRADIUS:\n{}",
                home.logs(),
                fr.output()
            );
            let _ = ask(nas, &req, 1);
        };
        assert!(line.contains("WARN"), "{what}: {line}");
        eprintln!("{what}: {line}");
    }
    assert!(
        home.logs()
            .iter()
            .all(|l| !l.contains("radsec connection established")
                && !l.contains("authentication finished")),
        "no bad certificate got through: {:#?}",
        home.logs()
    );
}

#[test]
fn freeradius_home_server_refuses_our_expired_client_certificate() {
    let Some(fr_bin) = freeradius() else {
        return;
    };
    let pki = pki::Pki::wba_like();
    let home = pki.leaf(
        "freeradius-home",
        "aaa.partner.example",
        &["DNS:aaa.partner.example", "IP:127.0.0.1"],
    );
    let expired = pki.expired_leaf(
        "visited-expired",
        "proxy.visited.example",
        &["DNS:proxy.visited.example"],
    );
    let fr_dir = pki.path().join("freeradius");
    std::fs::create_dir_all(&fr_dir).unwrap();
    std::fs::write(fr_dir.join("users"), "").unwrap();
    let tls_port = free_port(false);
    let fr = FreeRadius::start(&fr_bin, &fr_dir, &home_body(&pki, &home, &home, tls_port));
    let proxy = Server::start_with(
        "\"aka-prime\"",
        &[],
        &format!(
            "[[realm]]\nname = \"*.partner.example\"\naction = \"proxy\"\n\
             servers = [\"radsec://127.0.0.1:{tls_port}\"]\n\
             [tls_client]\ncertificate = \"{}\"\nprivate_key = \"{}\"\nca = \"{}\"\n\
             [proxy]\ntimeout = 2\nretries = 0\n",
            expired.chain.display(),
            expired.key.display(),
            pki.root_pem.display()
        ),
    );
    let req = common::identity_access_request(12, "anonymous@wlan.partner.example");
    let resp = ask(proxy.auth, &req, 10).expect("an answer from our proxy");
    assert_eq!((resp[0], resp[1]), (3, 12), "Access-Reject");
    // FreeRADIUS (OpenSSL) refused our certificate. Its alert may or may not
    // reach our log: it closes the connection with our request unread, and
    // the TCP reset can overtake the alert.
    let until = Instant::now() + Duration::from_secs(5);
    while !fr.output().contains("certificate has expired") {
        assert!(Instant::now() < until, "{}", fr.output());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        proxy.wait_log("did not answer over TLS").is_some(),
        "{:#?}",
        proxy.logs()
    );
    assert!(
        !fr.output().contains("Received Access-Request"),
        "nothing reached FreeRADIUS"
    );
}
