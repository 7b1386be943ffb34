//! EAP-SIM with wpa_supplicant's own PC/SC code against OUR server:
//! eapol_test `eap=SIM`, `pcsc=""` reads the virtual USIM (GSM context of
//! AUTHENTICATE) through pcscd + vsmartcard's vpcd + `supplicant sim
//! serve-vpcd`, and talks RADIUS to `aaa-server serve` with
//! `methods = ["aka-prime", "aka", "sim"]` (GSM-Milenage triplets from the
//! subscriber's K/OPc). eapol_test checks that the MSK it derived matches the
//! MS-MPPE keys in our Access-Accept.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

/// The aaa-server binary: `AAA_SERVER_BIN`, else beside ours in the target directory.
fn aaa_server_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AAA_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_BIN_EXE_supplicant"))
        .parent()?
        .join("aaa-server");
    p.is_file().then_some(p)
}

#[test]
fn eapol_test_pcsc_eap_sim_against_serve() {
    if !prerequisites(&["hostapd", "ip", "pcscd", "eapol_test", "unshare", "dpkg"]) {
        return;
    }
    assert!(
        vpcd_driver().exists(),
        "vsmartcard-vpcd (libifdvpcd.so) is not installed"
    );
    let Some(aaa) = aaa_server_bin() else {
        let msg =
            "aaa-server binary not built (cargo build --workspace --bins, or set AAA_SERVER_BIN)";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{msg}");
        }
        eprintln!("NOT RUN: {msg}");
        return;
    };
    let mut lab = Lab::start();
    let d = lab.dir.path().to_path_buf();
    let out = Command::new(&aaa)
        .args(["subscriber", "add", "--db"])
        .arg(d.join("subscribers.db"))
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "subscriber add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // eapol_test runs in the peer namespace and sends RADIUS to the
    // authenticator namespace's address, where `serve` replaces hostapd's
    // RADIUS server.
    let conf = d.join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"0.0.0.0:1812\"\naccounting_listen = \"0.0.0.0:1813\"\n\
             [[client]]\nnetwork = \"0.0.0.0/0\"\nsecret = \"{SECRET}\"\n\
             [hss]\ndatabase = \"subscribers.db\"\n\
             [eap]\nmethods = [\"aka-prime\", \"aka\", \"sim\"]\n"
        ),
    )
    .unwrap();
    let _ = lab.radius.child.kill();
    let _ = lab.radius.child.wait();
    let mut serve = {
        let mut c = lab.auth_ns.cmd(aaa.to_str().unwrap());
        c.args(["serve", "--config"])
            .arg(&conf)
            .env("RUST_LOG", "info");
        Proc::spawn(c, d.join("serve.log"), "aaa-server serve")
    };
    serve.wait_for("aaa-server listening", Duration::from_secs(10));

    let sim = lab.sim_file("usim.toml");
    let pcsc = Pcsc::start(&lab.peer_ns, &d, &sim);
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc");
    assert_eq!(code, 0, "{text}\n{}", pcsc.pcscd.log_text());

    let et = d.join("eapol_test-SIM.conf");
    std::fs::write(
        &et,
        "pcsc_reader=Virtual PCD 00 00\nnetwork={\n\tkey_mgmt=IEEE8021X\n\teap=SIM\n\tpcsc=\"\"\n\teapol_flags=0\n}\n",
    )
    .unwrap();
    let (k, v) = pcsc.env();
    let t = std::time::Instant::now();
    let out = lab
        .peer_ns
        .cmd("eapol_test")
        .arg("-c")
        .arg(&et)
        .args(["-a", &lab.server_ip, "-s", SECRET, "-t", "10"])
        .env(k, v)
        .output()
        .unwrap();
    eprintln!(
        "eapol_test SIM via pcsc against aaa-server serve (process start to exit): {:?}",
        t.elapsed()
    );
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let tail: Vec<&str> = text.lines().rev().take(80).collect();
    assert!(
        out.status.success() && text.lines().any(|l| l.trim() == "SUCCESS"),
        "eapol_test SIM via pcsc against serve:\n{}\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
        serve.log_text()
    );
    assert!(
        text.contains("MPPE keys OK: 1"),
        "SIM: MSK mismatch\n{text}"
    );
    // It really used the card over PC/SC and the permanent identity built
    // from the card's IMSI.
    assert!(text.contains("SCARD: IMSI"), "SIM: no IMSI read over PC/SC");
    assert!(
        text.contains(&format!("1{IMSI}@wlan.mnc001.mcc001.3gppnetwork.org")),
        "SIM: identity"
    );
    serve.wait_for("authentication finished", Duration::from_secs(2));
    let log = serve.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("method=\"sim\"") && l.contains("result=success")),
        "{log}"
    );
    drop(pcsc);
    let _ = serve.child.kill();
}
