//! EAP-SIM end to end against our own server: wpa_supplicant (`-Dwired`,
//! external SIM = `supplicant wifi` with the USIM simulator answering
//! GSM-AUTH) → hostapd `driver=wired` → `aaa-server serve` with
//! `methods = ["aka-prime", "aka", "sim"]` (GSM-Milenage triplets from the
//! subscriber's K/OPc). The lab's hostapd RADIUS server is replaced by
//! `aaa-server serve` on the same address, port and secret.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use supplicant::usim::spec::SimSource;
use supplicant::wifi::profile::NetworkTarget;
use supplicant::wifi::report::Report;
use supplicant::wifi::session::Outcome;
use supplicant::wifi::{WifiOptions, run_with};

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
fn wpa_supplicant_wired_eap_sim_against_serve() {
    if !prerequisites(&["hostapd", "wpa_supplicant", "ip"]) {
        return;
    }
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
    let db = d.join("subscribers.db");
    let out = Command::new(&aaa)
        .args(["subscriber", "add", "--db"])
        .arg(&db)
        .args(["--imsi", IMSI, "--k", K_HEX, "--opc", OPC_HEX])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "subscriber add: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conf = d.join("aaa.toml");
    std::fs::write(
        &conf,
        format!(
            "listen = \"127.0.0.1:1812\"\naccounting_listen = \"127.0.0.1:1813\"\n\
             [[client]]\nnetwork = \"127.0.0.1/32\"\nsecret = \"{SECRET}\"\n\
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
    let ctrl = d.join("wpa-ctrl");
    let wconf = d.join("wpa.conf");
    std::fs::write(
        &wconf,
        format!(
            "ctrl_interface={}\nap_scan=0\nexternal_sim=1\n",
            ctrl.display()
        ),
    )
    .unwrap();
    let mut cmd = lab.peer_ns.cmd("wpa_supplicant");
    cmd.args(["-Dwired", "-i", &lab.peer_if, "-dd", "-c"])
        .arg(&wconf);
    let mut wpa = Proc::spawn(cmd, d.join("wpa.log"), "wpa_supplicant");
    wpa.wait_for("Added interface", Duration::from_secs(5));
    let sock = ctrl.join(&lab.peer_if);
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut o = WifiOptions::new(sock.display().to_string(), SimSource::Soft(sim));
    o.client_dir = d.clone();
    o.network = Some(NetworkTarget::Any);
    let profile = d.join("sim.toml");
    std::fs::write(&profile, "eap_method = \"sim\"\n").unwrap();
    o.profile = Some(profile);
    o.once = true;
    o.timeout = Some(Duration::from_secs(20));
    let stop = AtomicBool::new(false);
    let mut reports = Vec::new();
    let outcome = run_with(&o, &stop, &mut |r| {
        eprintln!("wifi: {r}");
        reports.push(r);
    })
    .unwrap();
    assert_eq!(
        outcome,
        Outcome::Success,
        "{reports:#?}\n{}\n{}",
        lab.logs(),
        serve.log_text()
    );
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 18, .. })),
        "{reports:#?}"
    );
    serve.wait_for("authentication finished", Duration::from_secs(2));
    let log = serve.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("method=\"sim\"") && l.contains("result=success")),
        "{log}"
    );
    let _ = serve.child.kill();
}
