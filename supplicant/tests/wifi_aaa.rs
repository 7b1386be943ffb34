//! `supplicant wifi` with the project's own HSS behind hostapd's EAP server:
//! wpa_supplicant (`-Dwired`, external SIM = our USIM simulator) → hostapd
//! `driver=wired` → hostapd RADIUS + EAP-AKA/AKA'/SIM server → `aaa-server
//! hlr-gw` (SQLite subscriber store, Milenage, resynchronisation, GSM-Milenage
//! triplets).

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

/// The aaa-server binary: `AAA_SERVER_BIN`, else beside ours in the target
/// directory (`cargo build --workspace --bins` puts it there).
fn aaa_server_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("AAA_SERVER_BIN") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_BIN_EXE_supplicant"))
        .parent()?
        .join("aaa-server");
    p.is_file().then_some(p)
}

fn run_once(
    lab: &Lab,
    wpa_ctrl: &std::path::Path,
    sim: &std::path::Path,
    method: &str,
) -> (Outcome, Vec<Report>) {
    let mut o = WifiOptions::new(
        wpa_ctrl.display().to_string(),
        SimSource::Soft(sim.to_path_buf()),
    );
    o.client_dir = lab.dir.path().to_path_buf();
    o.network = Some(NetworkTarget::Any);
    let profile = lab.dir.path().join(format!("aaa-{method}.toml"));
    std::fs::write(&profile, format!("eap_method = \"{method}\"\n")).unwrap();
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
    (outcome, reports)
}

fn start_wpa(lab: &Lab, n: u32) -> (Proc, PathBuf) {
    let mac = format!(
        "02:00:5e:aa:{:02x}:{:02x}",
        std::process::id() % 256,
        n % 256
    );
    sh(&[
        "ip",
        "-n",
        &lab.peer_ns.name,
        "link",
        "set",
        "dev",
        &lab.peer_if,
        "address",
        &mac,
    ]);
    let d = lab.dir.path();
    let ctrl = d.join(format!("aaa-ctrl{n}"));
    let conf = d.join(format!("aaa-wpa{n}.conf"));
    std::fs::write(
        &conf,
        format!(
            "ctrl_interface={}\nap_scan=0\nexternal_sim=1\n",
            ctrl.display()
        ),
    )
    .unwrap();
    let mut cmd = lab.peer_ns.cmd("wpa_supplicant");
    cmd.args(["-Dwired", "-i", &lab.peer_if, "-dd", "-c"])
        .arg(&conf);
    let mut p = Proc::spawn(cmd, d.join(format!("aaa-wpa{n}.log")), "wpa_supplicant");
    p.wait_for("Added interface", Duration::from_secs(5));
    let sock = ctrl.join(&lab.peer_if);
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    (p, sock)
}

#[test]
fn wifi_through_aaa_server_hlr_gw_with_resync() {
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
    let db = d.join("hss.sqlite");
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
    let hlr_sock = d.join("aaa-hlr.sock");
    let mut hlr = {
        let mut c = Command::new(&aaa);
        c.args(["hlr-gw", "--db"])
            .arg(&db)
            .arg("--socket")
            .arg(&hlr_sock);
        Proc::spawn(c, d.join("hlr-gw.log"), "aaa-server hlr-gw")
    };
    let start = Instant::now();
    while !hlr_sock.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "hlr-gw socket:\n{}",
            hlr.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // The lab's RADIUS server again, its eap_sim_db now aaa-server hlr-gw.
    let _ = lab.radius.child.kill();
    let _ = lab.radius.child.wait();
    let conf = std::fs::read_to_string(d.join("radius.conf"))
        .unwrap()
        .replace(
            &lab.hss.path.display().to_string(),
            &hlr_sock.display().to_string(),
        );
    std::fs::write(d.join("radius-aaa.conf"), conf).unwrap();
    lab.radius = {
        let mut c = lab.auth_ns.cmd("hostapd");
        c.arg("-d").arg(d.join("radius-aaa.conf"));
        Proc::spawn(
            c,
            d.join("radius-aaa.log"),
            "hostapd (RADIUS server, hlr-gw)",
        )
    };
    lab.radius.wait_for("ENABLED", Duration::from_secs(5));

    // A card that has seen SQNs up to SEQ 8 while the HSS starts at 0: the
    // first challenge is stale, the card answers AUTS, hlr-gw resynchronises.
    let sim = d.join("usim-ahead.toml");
    let st = Command::new(env!("CARGO_BIN_EXE_supplicant"))
        .args(["sim", "create", "--out"])
        .arg(&sim)
        .args([
            "--imsi",
            IMSI,
            "--k",
            K_HEX,
            "--opc",
            OPC_HEX,
            "--sqn",
            "000000000100",
        ])
        .status()
        .unwrap();
    assert!(st.success());

    let (_wpa, sock) = start_wpa(&lab, 1);
    let (outcome, reports) = run_once(&lab, &sock, &sim, "aka");
    assert_eq!(
        outcome,
        Outcome::Success,
        "{reports:#?}\n{}\n{}",
        lab.logs(),
        hlr.log_text()
    );
    assert!(
        reports.iter().any(|r| matches!(
            r,
            Report::SimAuth {
                answer: "UMTS-AUTS",
                ..
            }
        )),
        "{reports:#?}"
    );
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 23, .. }))
    );
    drop(_wpa);

    let (_wpa, sock) = start_wpa(&lab, 2);
    let (outcome, reports) = run_once(&lab, &sock, &sim, "aka-prime");
    assert_eq!(outcome, Outcome::Success, "{reports:#?}\n{}", lab.logs());
    assert!(
        !reports.iter().any(|r| matches!(
            r,
            Report::SimAuth {
                answer: "UMTS-AUTS",
                ..
            }
        )),
        "in sync now"
    );
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 50, .. }))
    );
    drop(_wpa);

    // EAP-SIM: wpa_supplicant asks our simulator GSM-AUTH (USIM in the GSM
    // context), hostapd's EAP-SIM server gets its triplets from hlr-gw
    // (SIM-REQ-AUTH, GSM-Milenage from the store's K/OPc).
    let (_wpa, sock) = start_wpa(&lab, 3);
    let (outcome, reports) = run_once(&lab, &sock, &sim, "sim");
    assert_eq!(
        outcome,
        Outcome::Success,
        "{reports:#?}\n{}\n{}",
        lab.logs(),
        hlr.log_text()
    );
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 18, .. })),
        "{reports:#?}"
    );
    let _ = hlr.child.kill();
}
