//! `supplicant probe` against a RADIUS server nobody here wrote: hostapd
//! as RADIUS server with its own EAP-AKA/AKA' server (eap_user `"0"* AKA`,
//! `"6"* AKA'`), vectors from the test HSS over the hlr_auc_gw protocol.
//! Each test runs in its own network namespace, on its loopback.

mod common;
use common::*;
use std::process::Output;
use std::time::Duration;

/// hostapd as a RADIUS/EAP server in its own namespace.
struct Server {
    ns: Netns,
    _dir: tempfile::TempDir,
    _hostapd: Proc,
    hss: Hss,
}

impl Server {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ns = Netns::new("pr");
        let hss = Hss::start(d);
        std::fs::write(d.join("clients"), format!("127.0.0.1/32 {SECRET}\n")).unwrap();
        std::fs::write(d.join("eap_users"), "\"0\"*\tAKA\n\"6\"*\tAKA'\n").unwrap();
        std::fs::write(
            d.join("radius.conf"),
            format!(
                "driver=none\ninterface=radsrv\nradius_server_clients={}\n\
                 radius_server_auth_port=1812\neap_server=1\neap_user_file={}\n\
                 eap_sim_db=unix:{}\n",
                d.join("clients").display(),
                d.join("eap_users").display(),
                hss.path.display(),
            ),
        )
        .unwrap();
        let mut hostapd = Proc::spawn(
            {
                let mut c = ns.cmd("hostapd");
                c.arg("-d").arg(d.join("radius.conf"));
                c
            },
            d.join("radius.log"),
            "hostapd (RADIUS server)",
        );
        hostapd.wait_for("ENABLED", Duration::from_secs(5));
        Self {
            ns,
            _dir: dir,
            _hostapd: hostapd,
            hss,
        }
    }

    /// Runs `supplicant probe` in the namespace with the subscriber's
    /// arguments and `extra`.
    fn probe(&self, extra: &[&str]) -> Output {
        let mut c = self.ns.cmd(env!("CARGO_BIN_EXE_supplicant"));
        c.args([
            "probe",
            "--server",
            "127.0.0.1:1812",
            "--imsi",
            IMSI,
            "--opc",
            OPC_HEX,
        ]);
        if !extra.contains(&"--secret") {
            c.args(["--secret", SECRET]);
        }
        if !extra.contains(&"--k") {
            c.args(["--k", K_HEX]);
        }
        c.args(extra);
        c.output().unwrap()
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn probe_authenticates_with_aka_prime_and_aka_against_hostapd() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let s = Server::start();
    let o = s.probe(&[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    for line in [
        "EAP-Response/Identity \"6001010123456789@wlan.mnc001.mcc001.3gppnetwork.org\"",
        "← Access-Challenge",
        "EAP-Request/AKA'-Challenge",
        "EAP-Response/AKA'-Challenge",
        "← Access-Accept",
        "EAP-Success",
        "OK: authenticated with EAP-AKA' in 3 round trips",
        "MS-MPPE-Recv-Key and MS-MPPE-Send-Key match the MSK",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let o = s.probe(&["--method", "aka"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("EAP-Request/AKA-Challenge"), "{out}");
    assert!(out.contains("OK: authenticated with EAP-AKA in"), "{out}");
    assert_eq!(s.hss.state.lock().unwrap().vectors, 2);
}

#[test]
fn probe_resynchronises_a_card_ahead_of_the_hss() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let s = Server::start();
    // SEQ_MS 8 (IND 0): the HSS's first SEQ (1) is too old for the card.
    let o = s.probe(&["--sqn", "000000000100"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        out.contains("EAP-Response/AKA'-Synchronization-Failure"),
        "{out}"
    );
    assert!(out.contains("AUTS sent, resynchronising"), "{out}");
    assert!(out.contains("OK: authenticated"), "{out}");
    assert_eq!(s.hss.state.lock().unwrap().auts_seen, 1);
}

#[test]
fn probe_explains_a_wrong_key_and_a_wrong_secret() {
    if !prerequisites(&["hostapd", "ip"]) {
        return;
    }
    let s = Server::start();
    let o = s.probe(&["--k", "000102030405060708090a0b0c0d0e0f"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("EAP-Response/AKA'-Authentication-Reject"),
        "{out}"
    );
    assert!(out.contains("← Access-Reject"), "{out}");
    assert!(out.contains("FAILED: "), "{out}");
    assert!(out.contains("--k/--opc differ"), "{out}");

    // A wrong secret: hostapd drops the request (bad Message-Authenticator).
    let o = s.probe(&[
        "--secret",
        "not-the-secret",
        "--timeout",
        "1",
        "--tries",
        "2",
    ]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("no answer after 2 tries of 1 s"), "{out}");
    assert!(out.contains("FAILED: "), "{out}");
    assert!(
        out.contains("hint: ") && out.contains("[[client]]"),
        "{out}"
    );

    // A usage error names the option and exits 2.
    let o = s.probe(&["--sqn", "xyz"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--sqn"), "{}", text(&o));
}
