//! Groups, reply attributes and barring against hostap's `eapol_test` (the
//! NAS and peer; external SIM answered here by `eap::umts`): the reply
//! attributes eapol_test dumps from Access-Accept are the group's with the
//! subscriber's own overriding them; a barred subscriber is rejected
//! (logged and counted as "subscriber barred") with no SQN issued, and
//! `unbar` lets it in again — all through the CLI against a running `serve`.

mod common;

use common::{SECRET, Server, tool, usim_answer, vector_subscriber};
use eap::secret::{K, Opc};
use eap::umts::{Sqn, SubscriberKeys};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `aaa-server subscriber ARGS… --db DB`, which must succeed; its stdout.
fn cli(db: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_aaa-server"))
        .arg("subscriber")
        .args(args)
        .arg("--db")
        .arg(db)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "subscriber {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn authenticate(server: &Server, imsi: &str, k: [u8; 16], opc: [u8; 16]) -> (bool, String) {
    let bin = tool("eapol_test")
        .expect("eapol_test (Debian package eapoltest) is required for this test");
    let (ok, stdout, _) = common::eapol_test_external_sim(
        &bin,
        SECRET,
        server.auth.port(),
        "AKA'",
        &format!("  identity=\"6{imsi}@wlan.mnc001.mcc001.3gppnetwork.org\"\n"),
        0,
        |rand, autn| usim_answer(&SubscriberKeys::new(K::new(k), Opc::new(opc)), rand, autn),
    );
    (ok, stdout)
}

/// The Access-Accept part of eapol_test's output (its RADIUS message dump).
fn accept_dump(out: &str) -> &str {
    let start = out
        .find("(Access-Accept)")
        .unwrap_or_else(|| panic!("no Access-Accept dumped:\n{out}"));
    &out[start..]
}

#[test]
fn group_attributes_with_subscriber_override_then_bar_and_unbar() {
    let (imsi, k, opc) = vector_subscriber(0);
    let server = Server::start("\"aka-prime\"", &[(imsi.clone(), k, opc, Sqn::default())]);
    let db = server.dir.path().join("subscribers.db");

    cli(
        &db,
        &[
            "group",
            "add",
            "gold",
            "--session-timeout",
            "3600",
            "--termination-action",
            "radius-request",
            "--vlan",
            "10",
            "--class",
            "plan-gold",
            "--bandwidth-max-down",
            "1000000",
        ],
    );
    cli(
        &db,
        &["set", "--imsi", &imsi, "--group", "gold", "--vlan", "20"],
    );
    let list = cli(&db, &["group", "list"]);
    assert!(list.contains("gold") && list.contains("      1 "), "{list}");

    let (ok, out) = authenticate(&server, &imsi, k, opc);
    assert!(ok, "{out}\n{:#?}", server.logs());
    let accept = accept_dump(&out);
    // hostap's dump: "Attribute <type> (<name>) length=<n>" then the value.
    for needle in [
        "Attribute 27 (Session-Timeout) length=6",
        "Value: 3600",
        "Attribute 29 (Termination-Action) length=6",
        "Attribute 25 (Class) length=11",
        "Attribute 64 (Tunnel-Type) length=6",
        "Attribute 65 (Tunnel-Medium-Type) length=6",
        "Attribute 81 (Tunnel-Private-Group-Id) length=5",
        "Attribute 26 (Vendor-Specific) length=12",
    ] {
        assert!(accept.contains(needle), "missing {needle:?}:\n{accept}");
    }
    // The subscriber's VLAN (20) beats the group's (10): tag 0x01, "20".
    assert!(
        accept.contains("Attribute 81 (Tunnel-Private-Group-Id) length=5\n      Value: 013230"),
        "VLAN 20 tagged:\n{accept}"
    );
    // Tunnel-Type: tag 0x01, VLAN (13); WISPr-Bandwidth-Max-Down 1000000.
    assert!(accept.contains("Value: 0100000d"), "{accept}");
    assert!(accept.contains("Value: 0000372a0806000f4240"), "{accept}");

    cli(&db, &["bar", "--imsi", &imsi]);
    let sqn_before = cli(&db, &["list"]);
    // The running server sees the change within its 250 ms poll.
    std::thread::sleep(Duration::from_secs(1));
    let (ok, out) = authenticate(&server, &imsi, k, opc);
    assert!(!ok, "a barred subscriber got in:\n{out}");
    assert!(
        server.wait_log("subscriber barred").is_some(),
        "{:#?}",
        server.logs()
    );
    assert_eq!(
        cli(&db, &["list"]),
        sqn_before,
        "no SQN issued while barred"
    );

    cli(&db, &["unbar", "--imsi", &imsi]);
    std::thread::sleep(Duration::from_secs(1));
    let (ok, out) = authenticate(&server, &imsi, k, opc);
    assert!(ok, "unbarred: {out}\n{:#?}", server.logs());
    assert!(server.stop().success());
}
