//! Subscriber changes take effect in a running `serve` within 1 s (no
//! restart, no signal), and at once for an authentication in flight: `subscriber add`, `set` and `remove` are run as separate
//! processes while hostap's `eapol_test` (external SIM answered here by
//! `eap::umts`) authenticates against the server.

mod common;

use common::{SECRET, Server, tool, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Autn, Sqn, SubscriberKeys};
use std::path::Path;
use std::process::Command;

const METHODS: &str = "\"aka-prime\", \"aka\"";
const CHANGED: &str = "subscriber removed or changed during authentication";

/// The USIM's answer to `UMTS-AUTH:<RAND>:<AUTN>` (TS 33.102 §6.3.3); no SQN
/// freshness check (every test here starts from a fresh server SQN).
fn usim_answer(k: [u8; 16], opc: [u8; 16], rand_hex: &str, autn_hex: &str) -> String {
    let keys = SubscriberKeys::new(K::new(k), Opc::new(opc));
    let mut rand = [0u8; 16];
    let mut autn = [0u8; 16];
    if hex::decode_to_slice(rand_hex, &mut rand).is_err()
        || hex::decode_to_slice(autn_hex, &mut autn).is_err()
    {
        return "UMTS-FAIL".into();
    }
    match keys.authenticate(&rand, &Autn(autn)) {
        Ok(u) => format!(
            "UMTS-AUTH:{}:{}:{}",
            hex::encode(u.ik.expose()),
            hex::encode(u.ck.expose()),
            hex::encode(u.res.as_bytes())
        ),
        Err(_) => "UMTS-FAIL".into(),
    }
}

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
            usim_answer(k, opc, rand, autn)
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
    std::thread::sleep(std::time::Duration::from_secs(1));
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
