//! Subscriber changes take effect in a running `serve` within 1 s (no
//! restart, no signal), and at once for an authentication in flight: `subscriber add`, `set` and `remove` are run as separate
//! processes while hostap's `eapol_test` (external SIM answered here by
//! `eap::umts`) authenticates against the server. With `[privacy]`, a fast
//! re-authentication of a subscriber removed or re-keyed since the full
//! authentication that issued its re-auth identity ends in Access-Reject,
//! and so does a pseudonym of a removed subscriber.

mod common;

use aaa_server::privacy::{KeySet, PrivacyKey, make_pseudonym};
use common::{SECRET, Server, tool, usim_answer, vector_subscriber};
use eap::aka::keys::Method;
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

const METHODS: &str = "\"aka-prime\", \"aka\"";
const CHANGED: &str = "subscriber removed or changed during authentication";

/// `aaa-server subscriber ARGS --db DB`, which must succeed.
fn subscriber(db: &Path, args: &[&str]) {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .arg("subscriber")
        .arg(args[0])
        .arg("--db")
        .arg(db)
        .args(&args[1..])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "subscriber {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// One EAP-AKA' authentication of `imsi`; `before_answer` runs when the
/// server's challenge reached the USIM (the authentication is in flight).
fn authenticate(
    server: &Server,
    imsi: &str,
    k: [u8; 16],
    opc: [u8; 16],
    mut before_answer: impl FnMut(),
) -> (bool, String) {
    let bin = tool("eapol_test")
        .expect("eapol_test (Debian package eapoltest) is required for this test");
    let (ok, stdout, _) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        server.auth.port(),
        "AKA'",
        &format!("  identity=\"6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org\"\n"),
        0,
        |rand, autn| {
            before_answer();
            usim_answer(&SubscriberKeys::new(K::new(k), Opc::new(opc)), rand, autn)
        },
    );
    (ok, stdout)
}

fn finished_lines(server: &Server) -> Vec<String> {
    server
        .logs()
        .into_iter()
        .filter(|l| l.contains("authentication finished"))
        .collect()
}

/// The finished lines once there are `n` (waits up to 2 s).
fn wait_finished(server: &Server, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let lines = finished_lines(server);
        if lines.len() >= n {
            return lines;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    finished_lines(server)
}

#[test]
fn add_set_and_remove_reach_a_running_server_and_in_flight_authentications() {
    let (imsi, k, opc) = vector_subscriber(0);
    let (_, k2, opc2) = vector_subscriber(1);
    let (imsi3, k3, opc3) = vector_subscriber(2);
    let server = Server::start(METHODS, &[(imsi.clone(), k, opc, Sqn::default())]);
    let db = server.dir.path().join("subscribers.db");

    let (ok, out) = authenticate(&server, &imsi, k, opc, || {});
    assert!(ok, "baseline: {out}\n{:#?}", server.logs());

    // A new K (and OPc): the next authentication uses it, the old card fails.
    subscriber(
        &db,
        &[
            "set",
            "--imsi",
            &imsi,
            "--k",
            &hex::encode(k2),
            "--opc",
            &hex::encode(opc2),
        ],
    );
    // The server looks for other processes' changes every 250 ms: within
    // 1 s (the requirement), whatever it had cached is gone.
    std::thread::sleep(Duration::from_secs(1));
    let (ok, out) = authenticate(&server, &imsi, k, opc, || {});
    assert!(!ok, "the old K still works:\n{out}");
    let (ok, out) = authenticate(&server, &imsi, k2, opc2, || {});
    assert!(ok, "the new K is not used:\n{out}\n{:#?}", server.logs());

    // Added while running: authenticates at once.
    subscriber(
        &db,
        &[
            "add",
            "--imsi",
            &imsi3,
            "--k",
            &hex::encode(k3),
            "--opc",
            &hex::encode(opc3),
        ],
    );
    let (ok, out) = authenticate(&server, &imsi3, k3, opc3, || {});
    assert!(ok, "added subscriber: {out}\n{:#?}", server.logs());

    // Changed (AMF) while its authentication is in flight: Access-Reject,
    // even though the card answers correctly.
    let (ok, out) = authenticate(&server, &imsi3, k3, opc3, || {
        subscriber(&db, &["set", "--imsi", &imsi3, "--amf", "8001"])
    });
    assert!(!ok, "changed in flight but accepted:\n{out}");
    assert!(
        finished_lines(&server)
            .last()
            .is_some_and(|l| l.contains(CHANGED)),
        "{:#?}",
        finished_lines(&server)
    );

    // Removed while its authentication is in flight: Access-Reject.
    let (ok, out) = authenticate(&server, &imsi, k2, opc2, || {
        subscriber(&db, &["remove", "--imsi", &imsi])
    });
    assert!(!ok, "removed in flight but accepted:\n{out}");
    let lines = finished_lines(&server);
    assert!(
        lines.last().is_some_and(|l| l.contains(CHANGED)),
        "{lines:#?}"
    );
    assert_eq!(lines.iter().filter(|l| l.contains(CHANGED)).count(), 2);
    // And no new authentication afterwards.
    let (ok, out) = authenticate(&server, &imsi, k2, opc2, || {});
    assert!(!ok, "removed subscriber authenticated:\n{out}");
    assert!(
        server
            .wait_log("subscriber removed or changed during its authentication")
            .is_some()
    );
    assert!(server.stop().success());
}

const REALM: &str = "wlan.mnc001.mcc001.3gppnetwork.org";
const PRIVACY_KEY: [u8; 32] = [0x5a; 32];

/// Relays eapol_test's RADIUS datagrams to the server; the server's first
/// Access-Accept (the full authentication's) is held until `before_first_accept`
/// has run, so a subscriber change lands between the full authentication and
/// the fast re-authentication eapol_test starts right after it.
struct HoldFirstAccept {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    accepts: Arc<AtomicU32>,
}

impl HoldFirstAccept {
    fn start(server: SocketAddr, mut before_first_accept: impl FnMut() + Send + 'static) -> Self {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        for s in [&front, &back] {
            s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        }
        let port = front.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let accepts = Arc::new(AtomicU32::new(0));
        let (st, acc) = (stop.clone(), accepts.clone());
        let thread = std::thread::spawn(move || {
            let mut peer = None;
            let mut buf = [0u8; 4096];
            while !st.load(Ordering::SeqCst) {
                if let Ok((n, from)) = front.recv_from(&mut buf) {
                    peer = Some(from);
                    let _ = back.send_to(&buf[..n], server);
                }
                if let (Ok((n, _)), Some(p)) = (back.recv_from(&mut buf), peer) {
                    // RFC 2865 §4.2: code 2 is Access-Accept.
                    if n > 0 && buf[0] == 2 && acc.fetch_add(1, Ordering::SeqCst) == 0 {
                        before_first_accept();
                    }
                    let _ = front.send_to(&buf[..n], p);
                }
            }
        });
        HoldFirstAccept {
            port,
            stop,
            thread: Some(thread),
            accepts,
        }
    }
}

impl Drop for HoldFirstAccept {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// eapol_test (EAP-AKA', `-r 1`: a full authentication, then an EAPOL
/// re-authentication, fast with `[privacy]`) through `relay`; returns
/// (success, output, SIM requests answered).
fn full_then_reauth(
    port: u16,
    imsi: &str,
    k: [u8; 16],
    opc: [u8; 16],
    network: &str,
) -> (bool, String, u32) {
    let bin = tool("eapol_test")
        .expect("eapol_test (Debian package eapoltest) is required for this test");
    let mut sim = 0;
    let identity = format!("  identity=\"6{imsi}@{REALM}\"\n{network}");
    let (ok, stdout, _) =
        common::eapol_test_external_sim(&bin, SECRET, port, "AKA'", &identity, 1, |rand, autn| {
            sim += 1;
            usim_answer(&SubscriberKeys::new(K::new(k), Opc::new(opc)), rand, autn)
        });
    (ok, stdout, sim)
}

#[test]
fn fast_reauth_and_pseudonyms_of_removed_or_rekeyed_subscribers_are_rejected() {
    let (imsi, k, opc) = vector_subscriber(0);
    let (imsi2, k2, opc2) = vector_subscriber(1);
    let server = Server::start_with(
        METHODS,
        &[
            (imsi.clone(), k, opc, Sqn::default()),
            (imsi2.clone(), k2, opc2, Sqn::default()),
        ],
        &format!(
            "[privacy]\ncurrent_key = 1\n[[privacy.key]]\nindex = 1\nsecret = \"{}\"\n",
            hex::encode(PRIVACY_KEY)
        ),
    );
    let db = server.dir.path().join("subscribers.db");

    // Control: nothing changes between the two, the re-authentication is fast.
    let relay = HoldFirstAccept::start(server.auth, || {});
    let (ok, out, sim) = full_then_reauth(relay.port, &imsi2, k2, opc2, "");
    assert!(ok, "control: {out}\n{:#?}", server.logs());
    assert_eq!(sim, 1, "one SIM run: the second authentication is fast");
    assert_eq!(relay.accepts.load(Ordering::SeqCst), 2);
    drop(relay);
    let lines = wait_finished(&server, 2);
    assert!(
        lines
            .last()
            .is_some_and(|l| l.contains("fast re-authentication")),
        "{lines:#?}"
    );

    // K and OPc set after the full authentication: the fast
    // re-authentication with the old keys is rejected.
    let (db1, imsi1) = (db.clone(), imsi.clone());
    let (_, k_new, opc_new) = vector_subscriber(2);
    let relay = HoldFirstAccept::start(server.auth, move || {
        subscriber(
            &db1,
            &[
                "set",
                "--imsi",
                &imsi1,
                "--k",
                &hex::encode(k_new),
                "--opc",
                &hex::encode(opc_new),
            ],
        )
    });
    let (ok, out, sim) = full_then_reauth(relay.port, &imsi, k, opc, "");
    assert!(!ok, "re-keyed subscriber fast-re-authenticated:\n{out}");
    assert_eq!(sim, 1, "the rejected one was the fast re-authentication");
    assert_eq!(relay.accepts.load(Ordering::SeqCst), 1);
    drop(relay);
    let lines = wait_finished(&server, 4);
    assert!(
        lines.len() == 4
            && lines[2].contains("success")
            && !lines[2].contains(CHANGED)
            && lines[3].contains(CHANGED),
        "{lines:#?}"
    );

    // Removed after the full authentication: likewise.
    let (db2, imsi2c) = (db.clone(), imsi2.clone());
    let relay = HoldFirstAccept::start(server.auth, move || {
        subscriber(&db2, &["remove", "--imsi", &imsi2c])
    });
    let (ok, out, sim) = full_then_reauth(relay.port, &imsi2, k2, opc2, "");
    assert!(!ok, "removed subscriber fast-re-authenticated:\n{out}");
    assert_eq!(sim, 1);
    drop(relay);
    let lines = wait_finished(&server, 6);
    assert!(lines.len() == 6 && lines[5].contains(CHANGED), "{lines:#?}");

    // A pseudonym of the removed subscriber: a full authentication, which
    // gets no vector.
    let keys = KeySet::new(PrivacyKey::new(1, PRIVACY_KEY), vec![]).unwrap();
    let pseudonym = make_pseudonym(&keys, Method::AkaPrime, &format!("6{imsi2}"), [7; 16]).unwrap();
    let (ok, out, sim) = full_then_reauth(
        server.auth.port(),
        &imsi2,
        k2,
        opc2,
        &format!("  anonymous_identity=\"{pseudonym}@{REALM}\"\n"),
    );
    assert!(
        !ok,
        "pseudonym of a removed subscriber authenticated:\n{out}"
    );
    assert_eq!(sim, 0, "no Challenge");
    let lines = wait_finished(&server, 7);
    assert!(
        lines.len() == 7 && lines[6].contains("unknown subscriber"),
        "{lines:#?}"
    );
    assert!(server.stop().success());
}
