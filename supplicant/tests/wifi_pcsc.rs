//! `supplicant wifi --sim pcsc:…`: the external SIM is a card behind pcscd
//! (our simulator exposed through vsmartcard's vpcd reader driver), so the
//! answers to wpa_supplicant's `CTRL-REQ-SIM` travel the real PC/SC stack.

#[path = "common/mod.rs"]
mod common;
use common::*;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use supplicant::usim::spec::SimSource;
use supplicant::wifi::profile::NetworkTarget;
use supplicant::wifi::report::Report;
use supplicant::wifi::session::Outcome;
use supplicant::wifi::{WifiOptions, run_with};

#[test]
fn wifi_external_sim_through_pcscd_and_vpcd() {
    if !prerequisites(&[
        "hostapd",
        "wpa_supplicant",
        "ip",
        "pcscd",
        "unshare",
        "dpkg",
    ]) {
        return;
    }
    if !vpcd_driver().exists() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "vsmartcard-vpcd (libifdvpcd.so) is not installed"
        );
        eprintln!("NOT RUN: libifdvpcd.so missing");
        return;
    }
    let lab = Lab::start();
    let sim = lab.sim_file("usim.toml");
    let pcsc = Pcsc::start(&lab.peer_ns, lab.dir.path(), &sim);
    let (code, text) = pcsc.info(&lab.peer_ns, "pcsc:Virtual PCD 00 00");
    assert_eq!(code, 0, "card not seen by pcscd:\n{text}");
    let (k, v) = pcsc.env();
    // SAFETY: set before this test (the only one in this binary) starts any
    // thread of its own that reads the environment; libpcsclite reads it when
    // the first PC/SC context is made.
    unsafe { std::env::set_var(k, v) };

    let d = lab.dir.path();
    let ctrl = d.join("ctrl-pcsc");
    let conf = d.join("wpa-pcsc.conf");
    std::fs::write(
        &conf,
        format!(
            "ctrl_interface={}\nap_scan=0\nexternal_sim=1\n",
            ctrl.display()
        ),
    )
    .unwrap();
    let mut wpa = {
        let mut c = lab.peer_ns.cmd("wpa_supplicant");
        c.args(["-Dwired", "-i", &lab.peer_if, "-dd", "-c"])
            .arg(&conf);
        Proc::spawn(c, d.join("wpa-pcsc.log"), "wpa_supplicant")
    };
    wpa.wait_for("Added interface", Duration::from_secs(5));
    let sock = ctrl.join(&lab.peer_if);
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }

    let mut o = WifiOptions::new(
        sock.display().to_string(),
        SimSource::Pcsc(Some("Virtual PCD 00 00".into())),
    );
    o.client_dir = d.to_path_buf();
    o.network = Some(NetworkTarget::Any);
    let profile = d.join("pcsc-profile.toml");
    std::fs::write(&profile, "eap_method = \"aka-prime\"\n").unwrap();
    o.profile = Some(profile);
    o.once = true;
    o.timeout = Some(Duration::from_secs(20));
    let stop = AtomicBool::new(false);
    let mut reports = Vec::new();
    let outcome = run_with(&o, &stop, &mut |r| {
        eprintln!("wifi: {r}");
        reports.push(r);
    });
    assert_eq!(
        outcome.unwrap(),
        Outcome::Success,
        "{reports:#?}\n{}\n{}",
        lab.logs(),
        pcsc.pcscd.log_text()
    );
    assert!(
        reports
            .iter()
            .any(|r| matches!(r, Report::EapMethod { method: 50, .. }))
    );
    assert!(reports.iter().any(|r| matches!(
        r,
        Report::SimAuth {
            answer: "UMTS-AUTH",
            ..
        }
    )));
    // The card's SQN state advanced on disk: the answer came from the card.
    let content = std::fs::read_to_string(&sim).unwrap();
    assert!(content.contains("seq_ms"), "{content}");
}
