//! SIGTERM/SIGINT end `supplicant wifi` through its normal exit path: the
//! cred it added is removed and the settings it changed are restored.
//! (Alone in its binary: it signals its own process.)

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::process::Command;
use std::time::{Duration, Instant};
use supplicant::usim::spec::SimSource;
use supplicant::wifi::ctrl::CtrlSocket;
use supplicant::wifi::session::Outcome;
use supplicant::wifi::{WifiOptions, run};

#[test]
fn wifi_sigterm_and_sigint_clean_up() {
    if !prerequisites(&["wpa_supplicant", "ip"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ns = Netns::new("s");
    sh(&[
        "ip", "-n", &ns.name, "link", "add", "ws0", "type", "veth", "peer", "name", "ws1",
    ]);
    sh(&["ip", "-n", &ns.name, "link", "set", "ws0", "up"]);
    let sim = dir.path().join("usim.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(&sim)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .output()
        .unwrap();
    assert!(out.status.success());
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "[HomeSP]\nFriendlyName = \"X\"\nFQDN = \"x.example\"\n[Credential]\nRealm = \"x.example\"\nCreationDate = \"2026-01-01T00:00:00Z\"\n[Credential.SIM]\nIMSI = \"00101*\"\nEAPType = 23\n",
    )
    .unwrap();
    let ctrl = dir.path().join("ctrl");
    let conf = dir.path().join("wpa.conf");
    std::fs::write(
        &conf,
        format!("ctrl_interface={}\nap_scan=0\n", ctrl.display()),
    )
    .unwrap();
    let wpa = {
        let mut c = ns.cmd("wpa_supplicant");
        c.args(["-Dwired", "-i", "ws0", "-c"]).arg(&conf);
        Proc::spawn(c, dir.path().join("wpa.log"), "wpa_supplicant")
    };
    let sock = ctrl.join("ws0");
    let start = Instant::now();
    while !sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{}",
            wpa.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let q = |cmd: &str| {
        let mut c = CtrlSocket::connect(&sock, dir.path()).unwrap();
        c.request(cmd, Duration::from_secs(5)).unwrap()
    };
    let settings = || {
        ["interworking", "hs20", "external_sim"]
            .map(|k| q(&format!("GET {k}")))
            .to_vec()
    };
    let before = settings();
    assert_eq!(before, vec!["0", "0", "0"]);

    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut o = WifiOptions::new(sock.display().to_string(), SimSource::Soft(sim.clone()));
        o.client_dir = dir.path().to_path_buf();
        o.profile = Some(profile.clone());
        o.select = false;
        let t = std::thread::spawn(move || run(&o, true));
        // Wait until the cred is there (the handlers are installed before).
        let start = Instant::now();
        while q("LIST_CREDS").lines().count() < 2 {
            assert!(start.elapsed() < Duration::from_secs(10), "no cred added");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(settings(), vec!["1", "1", "1"]);
        // SAFETY: kill(2) on our own process; the wifi run's handler catches it.
        assert_eq!(unsafe { libc::kill(libc::getpid(), sig) }, 0);
        let outcome = t.join().unwrap();
        assert_eq!(outcome.unwrap(), Outcome::Stopped, "signal {sig}");
        assert_eq!(
            q("LIST_CREDS").lines().count(),
            1,
            "cred removed after signal {sig}"
        );
        assert_eq!(settings(), before, "settings restored after signal {sig}");
    }
}
